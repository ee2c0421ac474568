#!/usr/bin/env python3
"""inflight_queries.py - query files for the serving benchmarks (issues 5 and 6).

Writes, for `t5serve bench --queries FILE`:
  zipf.txt   lines drawn from a Zipf distribution (s = 1.0) over N distinct
             queries; each distinct query has an input of 3-20 tokens (with </s>,
             exactly, under the given SentencePiece model) and its own output
             length 2-20, sent as {"max_new_tokens": L, "min_new_tokens": L}
             after a TAB, so a random-weight model produces exactly L tokens.
  fixed9.txt distinct queries of exactly 9 input tokens (the seed's workload),
             no per-line parameters (pass --min/--max-new-tokens 11).
Deterministic for a given --seed.

    python3 bench/inflight_queries.py --spm models/speller/1/spiece.model --out /tmp/q
"""
import argparse
import os

import numpy as np
import sentencepiece as spm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--distinct", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--zipf-s", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sp = spm.SentencePieceProcessor(model_file=a.spm)
    words = [sp.id_to_piece(i)[1:] for i in range(sp.get_piece_size())
             if sp.id_to_piece(i).startswith("\u2581") and len(sp.id_to_piece(i)) > 2
             and sp.id_to_piece(i)[1:].isalpha()]
    rng = np.random.default_rng(a.seed)

    def query(n_tokens):
        """Words until the encoding (plus </s>) has exactly n_tokens ids."""
        while True:
            ws = []
            while len(sp.encode(" ".join(ws))) + 1 < n_tokens:
                ws.append(words[rng.integers(len(words))])
            if len(sp.encode(" ".join(ws))) + 1 == n_tokens:
                return " ".join(ws)

    seen, distinct = set(), []
    while len(distinct) < a.distinct:
        q = query(int(rng.integers(3, 21)))
        if q not in seen:
            seen.add(q)
            distinct.append((q, int(rng.integers(2, 21))))
    p = 1.0 / np.arange(1, a.distinct + 1) ** a.zipf_s
    p /= p.sum()
    idx = rng.choice(a.distinct, size=a.lines, p=p)
    with open(os.path.join(a.out, "zipf.txt"), "w") as f:
        for i in idx:
            q, n = distinct[i]
            f.write('%s\t{"max_new_tokens":%d,"min_new_tokens":%d}\n' % (q, n, n))
    with open(os.path.join(a.out, "fixed9.txt"), "w") as f:
        for _ in range(2000):
            f.write(query(9) + "\n")
    top = np.bincount(idx, minlength=a.distinct)
    print("zipf.txt: %d lines over %d distinct queries; the 10 most common are %.1f%% of "
          "lines; %d distinct appear" % (a.lines, a.distinct, 100.0 * np.sort(top)[-10:].sum()
                                         / a.lines, int((top > 0).sum())))


if __name__ == "__main__":
    main()
