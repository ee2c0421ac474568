#!/usr/bin/env python3
"""Correct single-word queries: how often the served speller leaves a word of
its own vocabulary unchanged, beside aspell and hunspell (which "leave it" when
their first suggestion is the word itself).

    python3 tools/speller/vocab_eval.py --url 127.0.0.1:PORT [--json F]

Two samples of 3,000 words of the training vocabulary (build_data.py's
words.tsv.gz, seed 20261127): uniform over its 100,000 words, and drawn with
weight 10^zipf, i.e. as often as the words are written (what a query log of
single words would hold). Both are words the model was trained to produce,
unlike the lists' correct words and the rare dictionary words of
evaluate.py's sets, which lie outside the vocabulary.
"""
import argparse
import gzip
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import parity  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="host:port of t5serve serving the speller")
    ap.add_argument("--words", default="tools/out/speller/words.tsv.gz")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--json")
    args = ap.parse_args()
    with gzip.open(args.words, "rt", encoding="utf-8") as f:
        words = [(l.split("\t")[0], float(l.split("\t")[1])) for l in f if l.strip()]
    rng = random.Random(20261127)
    samples = {
        "uniform over the vocabulary": rng.sample([w for w, _ in words], args.n),
        "by real frequency": rng.choices([w for w, _ in words], weights=[10 ** z for _, z in words],
                                         k=args.n),
    }
    res = {}
    for name, xs in samples.items():
        got = []
        for i in range(0, len(xs), 16):
            got += parity.served(args.url, xs[i:i + 16])
        row = {"n": len(xs), "served": sum(g == x for g, x in zip(got, xs)),
               "changed": [(x, g) for x, g in zip(xs, got) if g != x]}
        for tool, cmd in (("aspell", ["aspell", "-a", "--lang=en_US"]),
                          ("hunspell", ["hunspell", "-d", "en_US", "-a"])):
            row[tool] = sum(c[0] == x for c, x in zip(evaluate.ispell(cmd, xs, k=1), xs))
        res[name] = row
        print("%-28s left unchanged: served %d/%d (%.3f), aspell %.3f, hunspell %.3f; changed: %s"
              % (name, row["served"], len(xs), row["served"] / len(xs), row["aspell"] / len(xs),
                 row["hunspell"] / len(xs), row["changed"][:10]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
