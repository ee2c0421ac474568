#!/usr/bin/env python3
"""cpu_engine.py - t5serve's CPU engine side by side with transformers and CTranslate2.

The issue-2 benchmark: t5-small and t5-base shapes with random weights (written by
`t5serve random-model`), 9 input tokens, exactly 11 output tokens
(min_new_tokens = max_new_tokens = 11), greedy, batch 1 and batch 32, on this
machine's CPU. For every (shape, batch) it times, in one run:

  t5serve     the engine through t5_generate (tests/engine -> bench_cpu_engine)
  hf          transformers T5ForConditionalGeneration.generate, torch fp32
  ct2-fp32    CTranslate2 Translator, compute_type float32 (same checkpoint converted
              with ct2-transformers-converter)
  ct2-int8    the same converted model with compute_type int8

and prints p50 / p99 / min latency of one batch and sequences per second as a
Markdown table. Every engine uses --threads threads (default 2) and sees the same
token ids. All four stay loaded and run in rounds (--per-round batches each, in
turn), so load from other users of a shared machine is spread over all of them.

    python3 bench/cpu_engine.py                      # defaults below
    python3 bench/cpu_engine.py --shapes t5-small --batches 1 --iters 10

Needs: build/t5serve and build/tests/engine/bench_cpu_engine (cmake build), torch,
transformers, ctranslate2 (pip install ctranslate2).
"""
import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IN_LEN, OUT_LEN = 9, 11


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def summary(ms, batch):
    """p50, p99, min (ms) and sequences/s over the timed batches."""
    s = sorted(ms)
    p99 = s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]
    return statistics.median(s), p99, s[0], batch * len(s) / (sum(s) / 1e3)


def prepare(shape, work, t5serve):
    ckpt = work / shape
    if not (ckpt / "model.safetensors").exists():
        sh([t5serve, "random-model", "--shape", shape, "--out", str(ckpt), "--seed", "0"])
    ct2 = work / f"{shape}-ct2"
    if not (ct2 / "model.bin").exists():
        sh(["ct2-transformers-converter", "--model", str(ckpt), "--output_dir", str(ct2), "--force"])
    return ckpt, ct2


def make_inputs(ct2, n, seed=1):
    """n requests of IN_LEN ids (last = EOS 1), using only ids whose CTranslate2
    vocabulary string is unique, so both sides see the same ids."""
    vocab = json.loads((ct2 / "shared_vocabulary.json").read_text())
    count = {}
    for t in vocab:
        count[t] = count.get(t, 0) + 1
    ok = [i for i, t in enumerate(vocab) if count[t] == 1 and i > 2 and not t.startswith("<")]
    rng = random.Random(seed)
    ids = [[rng.choice(ok) for _ in range(IN_LEN - 1)] + [1] for _ in range(n)]
    return ids, vocab


class T5serve:
    """The engine timer kept running (--serve): one process, model loaded once."""

    def __init__(self, binary, ckpt, ids, batch, threads, work):
        f = work / "ids.txt"
        f.write_text("\n".join(",".join(map(str, r)) for r in ids) + "\n")
        self.p = subprocess.Popen(
            [binary, "--model", str(ckpt), "--ids-file", str(f), "--batch", str(batch),
             "--new-tokens", str(OUT_LEN), "--iters", "1", "--warmup", "2",
             "--threads", str(threads), "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if '"ready"' not in line:
            raise RuntimeError(f"bench_cpu_engine did not start: {line!r}")

    def run(self, n):
        self.p.stdin.write(f"{n}\n")
        self.p.stdin.flush()
        r = json.loads(self.p.stdout.readline())
        assert len(r["ids0"]) == OUT_LEN, r["ids0"]
        return r["lat_ms"]

    def close(self):
        self.p.stdin.close()
        self.p.wait()


class InProcess:
    """An engine driven from Python: run(n) times n calls of fn."""

    def __init__(self, fn, warmup=1):
        self.fn = fn
        for _ in range(warmup):
            fn()

    def run(self, n):
        ms = []
        for _ in range(n):
            t = time.perf_counter()
            self.fn()
            ms.append((time.perf_counter() - t) * 1e3)
        return ms

    def close(self):
        pass


def make_hf(ckpt, ids, batch, threads):
    import torch
    from transformers import T5ForConditionalGeneration

    torch.set_num_threads(threads)
    model = T5ForConditionalGeneration.from_pretrained(str(ckpt), dtype=torch.float32).eval()
    x = torch.tensor(ids[:batch])
    mask = torch.ones_like(x)

    def run():
        with torch.inference_mode():
            y = model.generate(input_ids=x, attention_mask=mask, max_new_tokens=OUT_LEN,
                               min_new_tokens=OUT_LEN, do_sample=False, num_beams=1)
        assert y.shape[1] == OUT_LEN + 1, y.shape

    return InProcess(run)


def make_ct2(ct2, vocab, ids, batch, threads, compute_type):
    import ctranslate2

    tr = ctranslate2.Translator(str(ct2), device="cpu", compute_type=compute_type,
                                intra_threads=threads, inter_threads=1)
    src = [[vocab[i] for i in r] for r in ids[:batch]]

    def run():
        res = tr.translate_batch(src, beam_size=1, max_decoding_length=OUT_LEN,
                                 min_decoding_length=OUT_LEN, max_batch_size=batch)
        assert len(res[0].hypotheses[0]) == OUT_LEN

    return InProcess(run)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="t5-small,t5-base")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--iters", type=int, default=20, help="timed batches at batch 1")
    ap.add_argument("--iters-large", type=int, default=4, help="timed batches at batch >= 8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-round", type=int, default=2, help="batches per engine per round")
    ap.add_argument("--engines", default="t5serve,hf,ct2-fp32,ct2-int8")
    ap.add_argument("--work", default="/tmp/t5serve-bench")
    ap.add_argument("--t5serve", default=os.environ.get("T5SERVE", str(ROOT / "build" / "t5serve")))
    ap.add_argument("--engine-bench", default=os.environ.get(
        "T5_ENGINE_BENCH", str(ROOT / "build" / "tests" / "engine" / "bench_cpu_engine")))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    engines = a.engines.split(",")

    cpu = next((l.split(":", 1)[1].strip() for l in sh(["lscpu"]).splitlines()
                if l.startswith("Model name")), platform.processor())
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu}, {os.cpu_count()} cpus, "
          f"threads {a.threads}, load average {os.getloadavg()[0]:.2f}")
    print(f"# {IN_LEN} input tokens, {OUT_LEN} output tokens, greedy; latency of one batch")
    print()
    print("| shape | batch | engine | p50 ms | p99 ms | min ms | seq/s | iters |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for shape in a.shapes.split(","):
        ckpt, ct2 = prepare(shape, work, a.t5serve)
        ids, vocab = make_inputs(ct2, max(int(b) for b in a.batches.split(",")))
        for batch in map(int, a.batches.split(",")):
            iters = a.iters if batch < 8 else a.iters_large
            runners = {}
            for eng in engines:
                try:
                    if eng == "t5serve":
                        runners[eng] = T5serve(a.engine_bench, ckpt, ids, batch, a.threads, work)
                    elif eng == "hf":
                        runners[eng] = make_hf(ckpt, ids, batch, a.threads)
                    elif eng == "ct2-fp32":
                        runners[eng] = make_ct2(ct2, vocab, ids, batch, a.threads, "float32")
                    elif eng == "ct2-int8":
                        runners[eng] = make_ct2(ct2, vocab, ids, batch, a.threads, "int8")
                    else:
                        raise ValueError(eng)
                except Exception as ex:  # keep the other rows
                    print(f"| {shape} | {batch} | {eng} | error: {ex} | | | | |", flush=True)
            # Rounds of a few batches per engine, engines in turn, so a change of
            # machine load (the machine is shared) hits every engine alike.
            per_round = max(1, min(a.per_round, iters))
            lat = {e: [] for e in runners}
            done = 0
            while done < iters:
                n = min(per_round, iters - done)
                for eng, r in runners.items():
                    lat[eng] += r.run(n)
                done += n
            for eng, r in runners.items():
                r.close()
                p50, p99, mn, sps = summary(lat[eng], batch)
                print(f"| {shape} | {batch} | {eng} | {p50:.1f} | {p99:.1f} | {mn:.1f} | {sps:.1f} "
                      f"| {len(lat[eng])} |", flush=True)
            del runners
    print()
    print(f"# load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
