#!/usr/bin/env python3
"""Paired comparison of two checkpoints from rerank_eval.py's cached beams
(no model is run): top-1 / unchanged rates of the top beam and of the served
rule (K = 5, first beam in the lexicon) on the same entries, entries only one
checkpoint gets right (exact two-sided sign test), and each against aspell /
hunspell. Also the first 1,000 of each set (the samples of evaluate.py --n 1000:
load_sets' shuffles do not depend on n, so they are a prefix).

    python3 tools/speller/compare_ckpt.py --old C5 --new C6 --n 6000 \
        --json tools/out/speller/compare_C5_C6.json
(needs tools/out/speller/beams_C5.json and beams_C6.json with the --n 6000 K = 5 keys,
from rerank_eval.py --n 6000 --ks 5 --tag C5 / --tag C6)
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import rerank  # noqa: E402
from rerank_eval import DATA, EVAL_SETS, sign_test  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="C5")
    ap.add_argument("--new", default="C6")
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--prefix", type=int, default=1000)
    ap.add_argument("--lexicon", default=os.path.join(DATA, "words.tsv.gz"))
    ap.add_argument("--json")
    args = ap.parse_args()
    lex = rerank.load_lexicon(args.lexicon)
    sets = evaluate.load_sets(args.n)
    cache = {t: json.load(open(os.path.join(DATA, "beams_%s.json" % t))) for t in (args.old, args.new)}
    outs = {}
    for name in EVAL_SETS:
        pairs = sets[name]
        key = "%s/k%d/n%d" % (name, args.k, len(pairs))
        for t in (args.old, args.new):
            c = cache[t][key]
            assert c["inputs"] == [x for x, _ in pairs], (t, key)
            outs[t, "top beam", name] = [bb[0][0] for bb in c["beams"]]
            outs[t, "first in lexicon", name] = [rerank.choose(x, bb, lex) for (x, _), bb in
                                                 zip(pairs, c["beams"])]
        for tool, cmd in (("aspell", ["aspell", "-a", "--lang=en_US"]),
                          ("hunspell", ["hunspell", "-d", "en_US", "-a"])):
            outs[tool, "", name] = [s[0] for s in evaluate.ispell(cmd, [x for x, _ in pairs])]

    def ok(key, name, m):
        return [o == y.lower() for o, (_, y) in zip(outs[key + (name,)][:m], sets[name][:m])]

    res = {"n": {s: len(sets[s]) for s in EVAL_SETS}, "rates": {}, "paired": {}}
    systems = [(t, r) for r in ("top beam", "first in lexicon") for t in (args.old, args.new)]
    systems += [("aspell", ""), ("hunspell", "")]
    for m_label, m in (("all", None), ("first%d" % args.prefix, args.prefix)):
        print("== %s entries per set" % m_label)
        for key in systems:
            row = {}
            for name in EVAL_SETS:
                o = ok(key, name, m)
                row[name] = sum(o) / len(o)
            res["rates"]["%s %s %s" % (m_label, key[0], key[1])] = row
            print("%-26s " % (" ".join(key)) + " ".join("%s %.3f" % (n[:9], v) for n, v in row.items()))
        for rule in ("top beam", "first in lexicon"):
            for name in EVAL_SETS:
                a, b = ok((args.new, rule), name, m), ok((args.old, rule), name, m)
                comps = [(args.old, b)]
                if name in ("codespell", "misspell_fixer"):
                    comps += [(tool, ok((tool, ""), name, m)) for tool in ("aspell", "hunspell")]
                for other, o in comps:
                    only_new = sum(p and not q for p, q in zip(a, o))
                    only_other = sum(q and not p for p, q in zip(a, o))
                    p = sign_test(only_new, only_other)
                    res["paired"]["%s %s %s %s vs %s" % (m_label, rule, name, args.new, other)] = {
                        "only_" + args.new: only_new, "only_" + other: only_other, "p": p}
                    print("  %-16s %-15s %s vs %-8s only %s %4d, only %s %4d, sign test p %.3f"
                          % (rule, name, args.new, other, args.new, only_new, other, only_other, p))
                if name in ("codespell", "misspell_fixer") and rule == "first in lexicon":
                    o = ok((args.old, rule), name, m)
                    for tool in ("aspell",):
                        t = ok((tool, ""), name, m)
                        bb = sum(p and not q for p, q in zip(o, t))
                        cc = sum(q and not p for p, q in zip(o, t))
                        print("  %-16s %-15s %s vs %-8s only %s %4d, only %s %4d, sign test p %.3f"
                              % (rule, name, args.old, tool, args.old, bb, tool, cc, sign_test(bb, cc)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
