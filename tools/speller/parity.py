#!/usr/bin/env python3
"""Checks that `t5serve generate` gives the same corrections as Hugging Face
transformers on the shipped speller: greedy on N held-out inputs
(misspellings from codespell and misspell-fixer, held-out phrases), and the
five returned sequences of a 5-beam search on N/4 of them.

    python3 tools/speller/parity.py [--t5serve build/t5serve] [--n 200]
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402


def t5serve(exe, model, text, beams):
    cmd = [exe, "generate", "--model", model, "--text", text, "--max-new-tokens", "32", "--json"]
    if beams > 1:
        cmd += ["--num-beams", str(beams), "--num-return-sequences", str(beams)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(l)["text"] for l in out.splitlines() if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--t5serve", default=os.environ.get("T5SERVE", "build/t5serve"))
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    sets = evaluate.load_sets(args.n, seed=21)
    k = args.n // 3
    texts = ([x for x, _ in sets["codespell"][:k]] + [x for x, _ in sets["misspell_fixer"][:k]]
             + [x for x, _ in sets["heldout_phrases"][:args.n - 2 * k]])
    m = evaluate.Model(args.model, 1)
    for beams, items in ((1, texts), (5, texts[::4])):
        hf = m.generate(items, beams, beams, bs=16)
        same = 0
        for t, h in zip(items, hf):
            ts = t5serve(args.t5serve, args.model, t, beams)
            if ts == h:
                same += 1
            else:
                print("DIFF beams=%d %r: hf %r t5serve %r" % (beams, t, h, ts))
        print("beams=%d: %d/%d identical (all %d returned sequences)" % (beams, same, len(items), beams))


if __name__ == "__main__":
    main()
