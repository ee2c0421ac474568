"""Lexicon reranking in the server, on the byt5_like fixture (a random T5, so
its beams are arbitrary strings), and lexicon files that do not load.

A model without a lexicon returns its 4 beams; a lexicon holding one word of
a later beam is written; a second server with that lexicon (under the dynamic
batcher and under the in-flight scheduler) must return that beam first, as
the rule says (src/server/lexicon.h, tools/speller/rerank.py). A model whose
lexicon is missing or malformed is UNAVAILABLE with a reason naming the file,
and the others keep serving. (tests/py/test_speller.py checks the shipped
speller against transformers.)
"""
import json
import shutil
import subprocess

import requests

from conftest import BIN, ECHO_CFG, FIXTURE_MODEL, Server, infer_text_output, need  # noqa: E402

CFG = """
name: "{name}"
max_batch_size: 16
parameters {{ key: "scheduler" value: {{ string_value: "{sched}" }} }}
parameters {{ key: "max_new_tokens" value: {{ string_value: "8" }} }}
parameters {{ key: "num_beams" value: {{ string_value: "4" }} }}
parameters {{ key: "n_threads" value: {{ string_value: "1" }} }}
{extra}
"""

INPUTS = ["abc", "a", "b", "hello", "x", "two words", "spell", "t5", "zz", "qwerty", "lexicon",
          "beam", "1 2 3", "ok", "the end", "xyz"]


def lexicon_param(f):
    return 'parameters { key: "lexicon" value: { string_value: "%s" } }' % f


def add_model(repo, name, sched="dynamic", extra="", files=None):
    d = repo / name / "1"
    d.mkdir(parents=True)
    for f in FIXTURE_MODEL.iterdir():
        shutil.copy(f, d / f.name)
    for fname, text in (files or {}).items():
        (d / fname).write_bytes(text)
    (repo / name / "config.pbtxt").write_text(CFG.format(name=name, sched=sched, extra=extra))


def infer(server, model, texts, **params):
    """Each input's returned sequences (num_return_sequences of them)."""
    out = infer_text_output(server, model, texts, params, timeout=60)
    k = out["shape"][1]
    return [out["data"][i * k:(i + 1) * k] for i in range(len(texts))]


def lower(s):
    return s.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def accepts(text, lex):
    """The rule's word check: every word is in lex or has no letter."""
    for w in text.replace("\t", " ").replace("\n", " ").replace("\r", " ").split(" "):
        if w and any(not c.isascii() or c.isalpha() for c in w) and lower(w) not in lex:
            return False
    return True


def lexicon_word(s):
    return 0 < len(s.encode()) <= 255 and all(ord(c) > 32 and c != "\x7f" for c in s)


def pick_case(inputs_and_beams):
    """An input whose later beam j is a single lexicon-able word that no beam
    before it matches: with the lexicon {beam j}, the rule picks j."""
    seen = []
    for x, b in inputs_and_beams:
        seen.append(b)
        for j in range(1, len(b)):
            if lexicon_word(b[j]) and not any(accepts(b[i], {lower(b[j])}) for i in range(j)):
                return x, b, j
    raise AssertionError(f"no usable beams in {seen}")


def test_lexicon_reranks_fixture_beams(tmp_path):
    need(BIN)
    repo = tmp_path / "a" / "models"
    add_model(repo, "beams", extra='parameters { key: "num_return_sequences" value: { string_value: "4" } }')
    s = Server(BIN, repo)
    try:
        beams = infer(s, "beams", INPUTS)
        greedy = dict(zip(INPUTS, infer(s, "beams", INPUTS, num_beams=1, num_return_sequences=1)))
    finally:
        assert s.stop() == 0, s.output()
    x, b, j = pick_case(zip(INPUTS, beams))
    lex = lower(b[j]).encode() + b"\n"

    repo = tmp_path / "b" / "models"
    add_model(repo, "lexd", "dynamic", lexicon_param("lexicon.txt"), {"lexicon.txt": lex})
    add_model(repo, "lexi", "inflight", lexicon_param("lexicon.txt"), {"lexicon.txt": lex})
    s = Server(BIN, repo)
    try:
        for model in ("lexd", "lexi"):
            assert infer(s, model, [x]) == [[b[j]]], (model, b, j)
            # n-best: the pick first, then the other beams in order.
            want = [b[j]] + [t for i, t in enumerate(b) if i != j]
            assert infer(s, model, [x], num_return_sequences=4) == [want]
            # Greedy is not reranked: the same as the model without a lexicon.
            assert infer(s, model, [x], num_beams=1) == [greedy[x]]
    finally:
        assert s.stop() == 0, s.output()


def test_bad_lexicon_fails_that_model_only(tmp_path):
    need(BIN)
    repo = tmp_path / "models"
    (repo / "echo" / "1").mkdir(parents=True)
    (repo / "echo" / "config.pbtxt").write_text(ECHO_CFG)
    add_model(repo, "good", extra=lexicon_param("words.txt"), files={"words.txt": b"hello\nworld\n"})
    add_model(repo, "missing", extra=lexicon_param("nope.txt"))
    add_model(repo, "malformed", extra=lexicon_param("words.txt"), files={"words.txt": b"ok\ntwo words\n"})
    add_model(repo, "empty", extra=lexicon_param("words.txt"), files={"words.txt": b"\n"})
    add_model(repo, "noprior", files={"words.txt": b"hello\t5.1\nworld\n"},
              extra=lexicon_param("words.txt") +
              ' parameters { key: "lexicon_prior" value: { string_value: "0.65" } }')
    add_model(repo, "acceptonly", files={"words.txt": b"hello\n"},
              extra=' parameters { key: "accept_words" value: { string_value: "words.txt" } }')
    add_model(repo, "badaccept", files={"words.txt": b"hello\n", "acc.txt": b"two words\n"},
              extra=lexicon_param("words.txt") +
              ' parameters { key: "accept_words" value: { string_value: "acc.txt" } }')
    (repo / "escape").mkdir()
    shutil.copytree(repo / "good" / "1", repo / "escape" / "1")
    (repo / "escape" / "config.pbtxt").write_text(
        CFG.format(name="escape", sched="dynamic", extra=lexicon_param("../../good/1/words.txt")))
    s = Server(BIN, repo)
    try:
        idx = {m["name"]: m for m in requests.post(s.base + "/v2/repository/index", json={},
                                                   timeout=30).json()}
        assert idx["good"]["state"] == "READY"
        assert idx["echo"]["state"] == "READY"
        for name, why in (("missing", "nope.txt"), ("malformed", "line 2"), ("empty", "no words"),
                          ("escape", "not a file name"), ("noprior", "a frequency on every line"),
                          ("acceptonly", "needs parameter lexicon"), ("badaccept", "acc.txt")):
            assert idx[name]["state"] == "UNAVAILABLE", idx[name]
            assert "lexicon" in idx[name]["reason"] and why in idx[name]["reason"], idx[name]
            r = requests.post(f"{s.base}/v2/models/{name}/infer", timeout=30,
                              json={"inputs": [{"name": "text_input", "datatype": "BYTES",
                                                "shape": [1, 1], "data": ["x"]}]})
            assert r.status_code != 200
        assert infer(s, "echo", ["still here"]) == [["still here"]]
        assert len(infer(s, "good", ["hello"])[0]) == 1
    finally:
        assert s.stop() == 0, s.output()


def cli_beams(text, *extra):
    p = subprocess.run([BIN, "generate", "--model", str(FIXTURE_MODEL), "--text", text,
                        "--num-beams", "4", "--num-return-sequences", "4", "--max-new-tokens", "8",
                        "--json", *map(str, extra)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return [json.loads(line)["text"] for line in p.stdout.splitlines()]


def test_cli_generate_reranks_as_the_server(tmp_path):
    """t5serve generate --lexicon puts the rule's pick first, then the other
    beams in order, as the server does; a bad lexicon is an error."""
    need(BIN)
    x, b, j = pick_case((x, cli_beams(x)) for x in INPUTS)
    lex = tmp_path / "lexicon.txt"
    lex.write_bytes(lower(b[j]).encode() + b"\n")
    assert cli_beams(x, "--lexicon", lex) == [b[j]] + [t for i, t in enumerate(b) if i != j]
    # a margin no later beam is within keeps the model's order
    assert cli_beams(x, "--lexicon", lex, "--lexicon-margin", "0") == b
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"two words\n")
    p = subprocess.run([BIN, "generate", "--model", str(FIXTURE_MODEL), "--text", x, "--lexicon",
                        str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "bad.txt" in p.stderr and "line 1" in p.stderr, p.stderr
