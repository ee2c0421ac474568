#!/usr/bin/env python3
"""Batch-1 greedy latency of the speller on CPU: Hugging Face transformers
(eager PyTorch, the reference) and, when it can generate, `t5serve generate`
(one process per query, so its time includes loading the model; printed
separately).

    python3 tools/speller/latency.py [--model models/speller/1] [--n 200] [--threads 1]
    python3 tools/speller/latency.py --write-queries tools/speller/latency_queries.txt

(--write-queries only writes the query list, one a line, for `t5serve bench
--queries` and device_latency.sh, and exits.)
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--t5serve", default=os.environ.get("T5SERVE", "build/t5serve"))
    ap.add_argument("--write-queries", metavar="FILE")
    args = ap.parse_args()
    sets = evaluate.load_sets(args.n // 2, seed=9)
    texts = [x for x, _ in sets["codespell"]] + [x for x, _ in sets["heldout_phrases"]]
    random.Random(3).shuffle(texts)
    if args.write_queries:
        with open(args.write_queries, "w") as f:
            f.write("".join(t + "\n" for t in texts))
        return
    m = evaluate.Model(args.model, args.threads)
    for t in texts[:5]:
        m.generate([t], 1, 1)
    times, ntok_in, ntok_out = [], [], []
    for t in texts:
        x = m.enc([t])
        t0 = time.perf_counter()
        with torch.no_grad():
            g = m.m.generate(input_ids=x, attention_mask=(x != 0).long(), num_beams=1,
                             max_new_tokens=32, do_sample=False)
        times.append((time.perf_counter() - t0) * 1e3)
        ntok_in.append(x.shape[1])
        ntok_out.append(g.shape[1] - 1)
    print("hf-torch %s cpu threads=%d: n=%d mean %.2f ms p50 %.2f p90 %.2f p99 %.2f; "
          "tokens in %.1f out %.1f (mean, with EOS)" % (
              torch.__version__, args.threads, len(times), statistics.mean(times), pct(times, 50),
              pct(times, 90), pct(times, 99), statistics.mean(ntok_in), statistics.mean(ntok_out)))
    exe = args.t5serve
    if shutil.which(exe) or os.path.exists(exe):
        probe = subprocess.run([exe, "generate", "--model", args.model, "--text", "helo", "--json"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            print("t5serve generate: not usable yet:", (probe.stderr or probe.stdout).strip()[:200])
            return
        times = []
        for t in texts:
            t0 = time.perf_counter()
            subprocess.run([exe, "generate", "--model", args.model, "--text", t,
                            "--max-new-tokens", "32", "--json"], capture_output=True, check=True)
            times.append((time.perf_counter() - t0) * 1e3)
        print("t5serve generate (process per query, model load included): n=%d mean %.2f ms "
              "p50 %.2f p90 %.2f" % (len(times), statistics.mean(times), pct(times, 50), pct(times, 90)))


if __name__ == "__main__":
    main()
