#!/usr/bin/env python3
"""Single-threaded encode throughput: t5serve vs sentencepiece (and tokenizers).

Runs on the tokenizer test corpus (tests/tokenizer/data/corpus.txt.gz, 10k
lines of mixed scripts, emoji, control characters, runs of spaces), for the
nfkc and bytefb fixture models, and prints a markdown table:

  t5serve C API        t5_tokenizer_encode per line (build/.../tokenizer_bench)
  sentencepiece py     SentencePieceProcessor.encode(line) per line
  sentencepiece batch  SentencePieceProcessor.encode(lines, num_threads=1)
  tokenizers py        Tokenizer.encode(line) per line (RAYON_NUM_THREADS=1)
  spm_encode CLI       Debian's C++ spm_encode --output_format=id, whole process
  t5serve CLI          t5serve tokenize --no-eos, whole process

Usage (after building tokenizer_bench and t5serve in BUILD):
    python3 bench/tokenizer_bench.py [--build build] [--reps 5] [--scale 4]
--scale repeats the corpus so each timed pass is long enough to measure.
"""
import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "tokenizer", "data")
sys.path.insert(0, os.path.join(ROOT, "tools", "tokenizer"))
from corpus_escape import unescape  # noqa: E402


def best_of(reps, fn):
    fn()
    best = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--models", default="nfkc,bytefb")
    a = ap.parse_args()
    import sentencepiece as spm
    from tokenizers import Tokenizer

    bench_bin = None
    for cand in ["tests/tokenizer/tokenizer_bench", "tokenizer_bench"]:
        p = os.path.join(a.build, cand)
        if os.path.exists(p):
            bench_bin = p
    t5serve = os.path.join(a.build, "t5serve")
    work = tempfile.mkdtemp()
    with gzip.open(os.path.join(DATA, "corpus.txt.gz"), "rt", encoding="utf-8", newline="\n") as f:
        lines = [unescape(l) for l in f.read().split("\n")[:-1]] * a.scale
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(l + "\n" for l in lines))
    nbytes = os.path.getsize(corpus)
    rows = []

    def row(name, model, secs):
        rows.append((name, model, len(lines) / secs, nbytes / secs / 1e6, secs))

    for m in a.models.split(","):
        mpath, jpath = os.path.join(work, m + ".model"), os.path.join(work, m + ".json")
        for src, dst in [(m + ".model.gz", mpath), (m + ".json.gz", jpath)]:
            with gzip.open(os.path.join(DATA, src), "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
        if bench_bin:
            for path, label in [(mpath, "t5serve C API (spiece.model)"), (jpath, "t5serve C API (tokenizer.json)")]:
                out = subprocess.run([bench_bin, "--tokenizer", path, "--corpus", corpus, "--reps", str(a.reps)],
                                     check=True, capture_output=True, text=True).stdout
                secs = float(out.split("\t")[4].split()[0])
                row(label, m, secs)
        sp = spm.SentencePieceProcessor(model_file=mpath)
        row("sentencepiece py, encode(line) per line", m,
            best_of(a.reps, lambda: [sp.encode(l) for l in lines]))
        row("sentencepiece py, encode(lines, num_threads=1)", m,
            best_of(a.reps, lambda: sp.encode(lines, num_threads=1)))
        hf = Tokenizer.from_file(jpath)
        row("tokenizers py, encode(line) per line", m,
            best_of(a.reps, lambda: [hf.encode(l) for l in lines]))
        if shutil.which("spm_encode"):
            def cli_spm():
                with open(corpus, "rb") as fi:
                    subprocess.run(["spm_encode", "--model", mpath, "--output_format=id"], stdin=fi,
                                   stdout=subprocess.DEVNULL, check=True)
            row("spm_encode CLI (C++, whole process)", m, best_of(a.reps, cli_spm))
        if os.path.exists(t5serve):
            def cli_t5():
                with open(corpus, "rb") as fi:
                    subprocess.run([t5serve, "tokenize", "--tokenizer", mpath, "--no-eos"], stdin=fi,
                                   stdout=subprocess.DEVNULL, check=True)
            row("t5serve tokenize CLI (whole process)", m, best_of(a.reps, cli_t5))
    shutil.rmtree(work)
    print("corpus: %d lines, %.2f MB (tests/tokenizer/data/corpus.txt.gz x%d); best of %d passes, 1 thread"
          % (len(lines), nbytes / 1e6, a.scale, a.reps))
    print()
    print("| encoder | model | lines/s | MB/s | s/pass |")
    print("|---|---|---:|---:|---:|")
    for name, m, lps, mbs, secs in rows:
        print("| %s | %s | %.0f | %.2f | %.3f |" % (name, m, lps, mbs, secs))


if __name__ == "__main__":
    sys.exit(main())
