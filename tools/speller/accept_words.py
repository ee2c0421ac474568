#!/usr/bin/env python3
"""The speller's accept list: correctly spelled input comes back unchanged
(bench/speller.md, "Accepting dictionary words").

    python3 tools/speller/accept_words.py --write models/speller/1/accept.txt
    python3 tools/speller/accept_words.py --eval --json tools/out/speller/accept_S567.json
    build/t5serve serve --model-repository models &
    python3 tools/speller/accept_words.py --eval --url 127.0.0.1:8000 --json ...

An accept list is a word list from a dictionary checker's own dictionary:
Debian's aspell-en (SCOWL), dumped and expanded with `aspell dump master |
aspell expand`. When every word of a query, as the model sees it, is in the
list, the served pick is the query itself, as a dictionary checker leaves a
word it knows alone; otherwise the served rule (5 beams, lexicon, prior)
chooses as before. The list holds the lower-cased forms made of a-z and "'"
(the server lower-cases queries, so "Paris" is accepted as "paris").

--eval: candidates on S567's cached beams (rerank_eval's sets, the dev set,
LibreOffice's fresh pairs), each = accept(D), else C3 (the served rule):
  K1 aspell en_US, the entries already lower-case;
  K2 en_US + en_GB, entries already lower-case;
  K3 en_US, every entry lower-cased;
  K4 wamerican (SCOWL 50), entries already lower-case;
  K5 en_US + en_GB + en_CA + en_AU, every entry lower-cased.
For each set: right (or left unchanged), paired against C3, aspell and
hunspell (exact sign test); for the correct sets also on the inputs both
checkers accept ("consensus": aspell's and hunspell's first answer is the
input, case aside).
"""
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DATA = "tools/out/speller"
LOCALES = ("en_US", "en_GB", "en_CA", "en_AU")
WORD = re.compile(r"[a-z']+")
CANDIDATES = {
    "K1 en_US": (("en_US",), False),
    "K2 en_US+GB": (("en_US", "en_GB"), False),
    "K3 en_US lowered": (("en_US",), True),
    "K4 wamerican": (None, False),
    "K5 en_* lowered": (LOCALES, True),
}
SHIPPED = "K5 en_* lowered"


def aspell_words(locale):
    dump = subprocess.run(["aspell", "-d", locale, "dump", "master"], capture_output=True,
                          text=True, check=True).stdout
    out = subprocess.run(["aspell", "-l", "en", "expand"], input=dump, capture_output=True,
                         text=True, check=True).stdout
    return set(out.split())


def accept_list(locales, lowered):
    """The lower-case a-z' words of the locales' dictionaries (None: wamerican)."""
    if locales is None:
        with open("/usr/share/dict/american-english", encoding="utf-8") as f:
            words = {w.strip() for w in f}
    else:
        words = set().union(*(aspell_words(loc) for loc in locales))
    if lowered:
        words = {w.lower() for w in words}
    return {w for w in words if WORD.fullmatch(w)}


def aspell_version():
    q = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "aspell-en"], capture_output=True,
                       text=True)
    return q.stdout.strip() or "unknown"


def paired(a, b):
    import rerank_eval
    x = sum(p and not q for p, q in zip(a, b))
    y = sum(q and not p for p, q in zip(a, b))
    return [x, y, round(rerank_eval.sign_test(x, y), 4)]


def served_check(args, xs, ys, cons, ok, accept, c3):
    """The server at --url on one set: right, on the consensus inputs, against
    aspell and hunspell, and how many outputs equal the shipped candidate's
    (C3 counts a beam's tokens by re-encoding it; the server uses the generated
    length and the word map's text: differences are checked against the
    shipped rule in Python with transformers' beams of model_text)."""
    import evaluate
    import parity
    import rerank
    import rerank_eval
    got = []
    for i in range(0, len(xs), 16):
        got += parity.served(args.url, xs[i:i + 16])
    want = [x if rerank.all_in(x, accept) else o for x, o in zip(xs, c3)]
    diff = [(x, w, g) for x, w, g in zip(xs, want, got) if w != g]
    exact = 0
    if diff:
        freq = rerank.load_freqs(os.path.join(args.model, "lexicon.txt"))
        m = evaluate.Model(args.model, 2)
        mt = [rerank.model_text(x) for x, _, _ in diff]
        bs = rerank_eval.beams(m, mt, 5, with_len=True)
        exact = sum(rerank.output_text(x, rerank.served(t, b, freq, accept)) == g
                    for (x, _, g), t, b in zip(diff, mt, bs))
    r = [g == y for g, y in zip(got, ys)]
    out = {"served": sum(r), "served_consensus": sum(o for o, c in zip(r, cons) if c),
           "served_vs_aspell": paired(r, ok["aspell"]), "served_vs_hunspell": paired(r, ok["hunspell"]),
           "served_same_as_candidate": len(xs) - len(diff), "served_diff": diff,
           "served_diff_same_as_exact_rule": exact}
    print("  served: %d right, consensus %d, vs aspell %s, vs hunspell %s; = %s on %d, the other %d "
          "= the exact rule on %d" % (out["served"], out["served_consensus"], out["served_vs_aspell"],
                                      out["served_vs_hunspell"], SHIPPED, len(xs) - len(diff),
                                      len(diff), exact), flush=True)
    return out


def evaluate_candidates(args):
    import evaluate
    import prior_eval
    import rerank
    import rerank_eval
    import sentencepiece as spm
    words = os.path.join(DATA, "words.tsv.gz")
    V = rerank.load_lexicon(words)
    zipf = rerank.load_freqs(words)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.model, "spiece.model"))
    ntok = lambda t: len(sp.encode(t)) + 1  # noqa: E731
    lists = {k: accept_list(*v) for k, v in CANDIDATES.items()}
    cache = json.load(open(os.path.join(DATA, "beams_%s.json" % args.tag)))
    sets = evaluate.load_sets(6000)
    sets = {n: sets[n] for n in rerank_eval.EVAL_SETS}
    sets["dev"] = rerank_eval.dev_pairs(2000, 20261127)
    with open(os.path.join(DATA, "eval", "libreoffice.tsv")) as f:
        sets["libreoffice"] = [tuple(line.rstrip("\n").split("\t")) for line in f]
    res = {"aspell_en": aspell_version(), "sizes": {k: len(v) for k, v in lists.items()},
           "sets": {}}
    print(res["aspell_en"], res["sizes"])
    for name, pairs in sets.items():
        xs = [x for x, _ in pairs]
        ys = [rerank.lower(y) for _, y in pairs]
        key = [k for k in cache if k.startswith(name + "/k5/") and cache[k]["inputs"] == xs]
        assert len(key) == 1, name
        beams = [[tuple(b) for b in bs] for bs in cache[key[0]]["beams"]]
        c3 = [prior_eval.choose_prior(x, b, V, zipf, ntok) for x, b in zip(xs, beams)]
        asp = [c[0] for c in evaluate.ispell(["aspell", "-a", "--lang=en_US"], xs, k=1)]
        hun = [c[0] for c in evaluate.ispell(["hunspell", "-d", "en_US", "-a"], xs, k=1)]
        cons = [a == x and h == x for a, h, x in zip(asp, hun, xs)]
        ok = {"C3": [o == y for o, y in zip(c3, ys)],
              "aspell": [o == y for o, y in zip(asp, ys)],
              "hunspell": [o == y for o, y in zip(hun, ys)]}
        for k, d in lists.items():
            ok[k] = [(x if rerank.all_in(x, d) else o) == y for x, o, y in zip(xs, c3, ys)]
        row = {"n": len(xs), "consensus": sum(cons),
               "right": {k: sum(v) for k, v in ok.items()},
               "right_consensus": {k: sum(o for o, c in zip(v, cons) if c) for k, v in ok.items()},
               "vs_C3": {k: paired(ok[k], ok["C3"]) for k in lists},
               "vs_aspell": {k: paired(ok[k], ok["aspell"]) for k in ["C3", *lists]},
               "vs_hunspell": {k: paired(ok[k], ok["hunspell"]) for k in ["C3", *lists]},
               "lost": {k: [(x, o) for x, o, a, b in zip(xs, c3, ok[k], ok["C3"]) if b and not a]
                        for k in lists}}
        if args.url:
            row.update(served_check(args, xs, ys, cons, ok, lists[SHIPPED], c3))
        res["sets"][name] = row
        print("\n%s (%d; both checkers accept %d)" % (name, len(xs), sum(cons)))
        for k in ok:
            print("  %-18s %5d  consensus %5d  vs C3 %-18s vs aspell %-20s vs hunspell %s" % (
                k, row["right"][k], row["right_consensus"][k], row["vs_C3"].get(k, ""),
                row["vs_aspell"].get(k, ""), row["vs_hunspell"].get(k, "")), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", metavar="FILE", help="the shipped list (%s)" % SHIPPED)
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--tag", default="S567")
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--url", help="with --eval: host:port of a t5serve serving the shipped speller, "
                    "checked on every set")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.write:
        words = sorted(accept_list(*CANDIDATES[SHIPPED]))
        with open(args.write, "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(w + "\n" for w in words))
        print("%d words (aspell-en %s, %s) -> %s" % (len(words), aspell_version(), SHIPPED,
                                                     args.write))
    if args.eval:
        evaluate_candidates(args)
    if not args.write and not args.eval:
        ap.error("--write FILE and/or --eval")


if __name__ == "__main__":
    main()
