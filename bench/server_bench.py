#!/usr/bin/env python3
"""What the HTTP server adds: the same batches through `t5serve serve` +
`t5serve bench` and in-process through `t5serve bench --engine`.

    python3 bench/server_bench.py [--shape t5-small] [--t5serve build/t5serve]

Writes a random-weight checkpoint of the shape (with a SentencePiece
tokenizer from tests/tokenizer/data so the server can take text), picks
queries that tokenize to exactly --in-tokens ids (EOS included) and forces
exactly --new-tokens output tokens (min_new_tokens = max_new_tokens, as the
engine benchmark does). Then, on this machine and this backend:

  in-process   t5_generate on batches of 1 and 8 (bench --engine)
  HTTP         one request of 1 text, one request of 8 texts (the same
               batches), at concurrency 1
  HTTP + DB    8 concurrent clients of 1 text each, the dynamic batcher
               forming the batches (max 8, 500 us queue delay)

and prints a Markdown table (also written to --out).
"""
import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{p.stderr}")
    return p.stdout


def pick_queries(t5, tok, n_ids, count):
    import gzip
    words = sorted({w for line in gzip.open(ROOT / "tests/tokenizer/data/corpus.txt.gz", "rt", errors="ignore")
                    for w in line.split() if w.isascii() and w.isalpha() and 2 <= len(w) <= 9})
    rng = random.Random(0)
    cands = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 4))) for _ in range(200 * count)]
    ids = run([t5, "tokenize", "--tokenizer", tok], input="\n".join(cands) + "\n").splitlines()
    good = [c for c, i in zip(cands, ids) if len(i.split()) == n_ids]
    if len(good) < count:
        sys.exit(f"only {len(good)} queries of {n_ids} tokens found")
    return good[:count]


def model_stats(port, model):
    import json
    j = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/{model}/stats", timeout=30).read())
    st = j["model_stats"][0]["inference_stats"]
    return {k: (st[k]["count"], st[k]["ns"]) for k in ("queue", "compute_input", "compute_infer", "compute_output")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--t5serve", default=os.environ.get("T5SERVE", str(ROOT / "build/t5serve")))
    ap.add_argument("--shape", default="t5-small")
    ap.add_argument("--in-tokens", type=int, default=9)
    ap.add_argument("--new-tokens", type=int, default=11)
    ap.add_argument("--requests", type=int, default=60, help="requests per HTTP level")
    ap.add_argument("--iters", type=int, default=30, help="in-process iterations per batch")
    ap.add_argument("--threads", type=int, default=1,
                    help="OMP_NUM_THREADS for both sides (1 keeps a shared machine's noise down)")
    ap.add_argument("--out", default=str(ROOT / "bench/server_results.md"))
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    t5 = a.t5serve
    work = Path(tempfile.mkdtemp(prefix="t5srvbench-"))
    server = None
    try:
        mdir = work / "models" / "m" / "1"
        run([t5, "random-model", "--shape", a.shape, "--out", mdir])
        import gzip
        (mdir / "spiece.model").write_bytes(gzip.open(ROOT / "tests/tokenizer/data/ident.model.gz").read())
        (work / "models" / "m" / "config.pbtxt").write_text(f"""
name: "m"
max_batch_size: 8
dynamic_batching {{ max_queue_delay_microseconds: 500 }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
parameters {{ key: "max_output_tokens" value: {{ string_value: "{max(32, a.new_tokens)}" }} }}
parameters {{ key: "max_input_tokens" value: {{ string_value: "{max(32, a.in_tokens)}" }} }}
""")
        (work / "models" / "echo" / "1").mkdir(parents=True)
        (work / "models" / "echo" / "config.pbtxt").write_text(
            'backend: "identity"\nmax_batch_size: 8\ndynamic_batching { }\n')
        queries = pick_queries(t5, str(mdir / "spiece.model"), a.in_tokens, 64)
        qfile = work / "queries.txt"
        qfile.write_text("\n".join(queries) + "\n")

        rows, split = [], []
        eng = run([t5, "bench", "--engine", "--model", mdir, "--batch", "1,8", "--in-tokens", str(a.in_tokens),
                   "--new-tokens", str(a.new_tokens), "--iters", str(a.iters), "--warmup", "3",
                   "--label", "inproc"])
        for line in eng.splitlines():
            f = line.split()
            if len(f) >= 9 and f[0] == "inproc" and f[3].isdigit():
                batch, p50, p99, seqs = int(f[3]), float(f[6]), float(f[7]), float(f[8])
                rows.append(("in-process t5_generate", batch, 1, 1000.0 / p50, batch * 1000.0 / p50, p50, p99))

        port = free_port()
        log = open(work / "server.log", "w")
        server = subprocess.Popen([t5, "serve", "--model-repository", work / "models", "--http-port", str(port),
                                   "--metrics-port", "-1"], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        for label, batch, conc, n, model in (
                ("HTTP, same batch", 1, 1, a.requests, "m"),
                ("HTTP, same batch", 8, 1, max(10, a.requests // 4), "m"),
                ("HTTP, dynamic batching", 1, 8, a.requests * 2, "m"),
                ("HTTP, identity backend (server cost only)", 1, 1, 2000, "echo"),
                ("HTTP, identity backend (server cost only)", 8, 1, 2000, "echo"),
                ("HTTP, identity backend (server cost only)", 1, 8, 4000, "echo")):
            csvp = work / "out.csv"
            before = model_stats(port, model)
            run([t5, "bench", "--url", f"127.0.0.1:{port}", "--model", model, "--queries", qfile,
                 "--concurrency", str(conc), "--requests", str(n), "--batch-size", str(batch),
                 "--max-new-tokens", str(a.new_tokens), "--min-new-tokens", str(a.new_tokens),
                 "--warmup", "3", "--csv", csvp])
            import csv
            (r,) = list(csv.DictReader(csvp.open()))
            rows.append((label, batch, conc, float(r["throughput_rps"]), float(r["throughput_seq_s"]),
                         float(r["p50_us"]) / 1000, float(r["p99_us"]) / 1000))
            after = model_stats(port, model)
            split.append((label, batch, conc, {k: (after[k][1] - before[k][1]) / max(1, after[k][0] - before[k][0]) / 1e6
                                               for k in after}))
        stats = urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/m/stats", timeout=30).read().decode()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
        server = None

        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        load = open("/proc/loadavg").read().split()[0]
        out = [f"`{a.shape}` random weights, CPU backend, {os.cpu_count()} cores ({cpu}), "
               f"OMP_NUM_THREADS={a.threads}, load average {load} at the end; "
               f"{a.in_tokens} input tokens, {a.new_tokens} output tokens, greedy.",
               "",
               "| path | texts/request | clients | requests/s | sequences/s | p50 ms | p99 ms |",
               "|---|---:|---:|---:|---:|---:|---:|"]
        for label, batch, conc, rps, sps, p50, p99 in rows:
            out.append(f"| {label} | {batch} | {conc} | {rps:.1f} | {sps:.1f} | {p50:.3f} | {p99:.3f} |")
        out += ["", "Where a request's time went inside the server (means from the statistics "
                "extension, ms): queue includes the dynamic batcher's wait for more requests, "
                "input is tokenization, infer is t5_generate, output is detokenization.", "",
                "| path | texts/request | clients | queue | input | infer | output |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for label, batch, conc, d in split:
            out.append(f"| {label} | {batch} | {conc} | {d['queue']:.3f} | {d['compute_input']:.3f} | "
                       f"{d['compute_infer']:.3f} | {d['compute_output']:.3f} |")
        m = re.search(r'"batch_stats":(\[.*?\]),"memory_usage"', stats)
        out += ["", "Batch sizes the dynamic batcher formed (from v2/models/m/stats):", "",
                "```", ", ".join(f"{b['batch_size']}x{b['compute_infer']['count']}"
                                 for b in __import__("json").loads(m.group(1))) if m else "?", "```"]
        text = "\n".join(out) + "\n"
        print(text)
        Path(a.out).write_text(text)
    finally:
        if server:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
