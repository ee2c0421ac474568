"""The speller's word map in C (src/server/wordmap.c, through the test
program's --lines filter) and in Python (tools/speller/rerank.py's model_text
and output_text, which the evaluation and the test expectations use) give the
same texts on 3,000 random inputs: mixed case, digits, punctuation, non-ASCII
letters, runs of white space, and generated outputs that keep, change, split
and join the shown words; without and with a keep_words list."""
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, need

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "speller"))
import rerank  # noqa: E402

PROG = Path(BIN).parent / "tests" / "server" / "test_srv_wordmap"

PIECES = ["wireless", "Head", "PHONES", "iPhone", "14", "v11", "usb-c", "3.5mm", "men's",
          "a", "I", "caf\u00e9", "x", "TV", "4k", "&", "pro", "Case", "'", "s23", "1/2", "OK"]


def rand_word(r):
    if r.random() < 0.6:
        return r.choice(PIECES)
    n = r.randrange(1, 8)
    return "".join(r.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-'.") for _ in range(n))


def rand_space(r):
    return r.choice([" ", " ", " ", "  ", "\t", " \n "])


def rand_input(r):
    ws = [rand_word(r) for _ in range(r.randrange(0, 7))]
    lead = rand_space(r) if r.random() < 0.1 else ""
    return lead + "".join(w + rand_space(r) for w in ws[:-1]) + (ws[-1] if ws else "")


def rand_gen(r, shown):
    ws = shown.split()
    x = r.random()
    if x < 0.3 or not ws:
        return shown
    if x < 0.5:  # change words
        return " ".join(w if r.random() < 0.5 else w + "e" for w in ws)
    if x < 0.65 and len(ws) >= 2:  # join two
        i = r.randrange(len(ws) - 1)
        return " ".join(ws[:i] + [ws[i] + ws[i + 1]] + ws[i + 2:])
    if x < 0.8:  # split one
        i = r.randrange(len(ws))
        w = ws[i]
        k = max(1, len(w) // 2)
        return " ".join(ws[:i] + [w[:k], w[k:] or "s"] + ws[i + 1:])
    return " ".join(rand_word(r).lower() for _ in range(r.randrange(0, 6)))


@pytest.mark.parametrize("keep_words", [None, ["wireless", "Pro", "ok", "i"]])
def test_c_and_python_map_words_alike(tmp_path, keep_words):
    need(str(PROG))
    keep, args = None, []
    if keep_words:
        path = tmp_path / "keep.txt"
        path.write_text("".join(w + "\n" for w in keep_words))
        keep, args = rerank.load_lexicon(str(path)), [str(path)]
    r = random.Random(20261126)
    cases = []
    for _ in range(3000):
        x = rand_input(r).replace("\n", " ")
        cases.append((x, rand_gen(r, rerank.model_text(x, keep=keep))))
    stdin = "".join("%s\x01%s\n" % (x, g) for x, g in cases)
    out = subprocess.run([str(PROG), "--lines"] + args, input=stdin.encode(), capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().split("\n")[:-1]
    assert len(lines) == len(cases)
    bad = []
    for (x, g), line in zip(cases, lines):
        want = "%s\x01%s" % (rerank.model_text(x, keep=keep), rerank.output_text(x, g, keep=keep))
        if line != want:
            bad.append((x, g, line, want))
    assert not bad, bad[:5]
    # the cases exercise every branch: kept words, case back, splits and joins
    assert sum(rerank.model_text(x, keep=keep) != x for x, _ in cases) > 1000
    assert sum(len(g.split()) != len(rerank.model_text(x, keep=keep).split()) for x, g in cases) > 300
    if keep:  # listed words were kept
        assert sum(rerank.model_text(x, keep=keep) != rerank.model_text(x) for x, _ in cases) > 300
