#!/bin/bash
# device-s16.sh - run on the GPU machine: this build against an earlier one
# ("head": its t5bench_engine carried as lab/t5bench_head; session 16 used
# 0e45198's, session 17 4fe2cab's, session 18 d811a09's; more builds as EXTRA names, e.g. c2, in
# MODES / TMODES), then the issue-4 benchmark of this build.
#   1. device-s15.sh without its labs (LAB) and checks (CHECK=1 puts device-s8.sh's
#      checks back): batch-1 greedy p50 with MODES alternating (default new
#      head x3), the per-phase traces (TMODES, default new head), t5-small at
#      batch 64 / 256 / 1024 and the 8-row / beam rows (RROWS), new and head;
#   2. BENCH=1 (default): bench/device-bench.sh.
#   git worktree / checkout of 0e45198, cmake --build build-cuda --target t5bench_engine,
#     cp build-cuda/lab/t5bench_engine /tmp/t5bench_0e45198; back to HEAD, cmake --build build-cuda
#   LABS=t5bench_engine EXTRA="head:/tmp/t5bench_0e45198" bash bench/device-pack.sh
#   run(command="bash bench/device-s16.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# (at most 8 files come back from a call: part 1's go into $OUT/ab.tar.gz)
set -u
D=$(dirname "$0")
OUT=${OUT:-/tmp/out}
A=/tmp/ab && mkdir -p $A
OUT=$A CHECK=${CHECK:-0} LAB="${LAB-}" ROWS=${ROWS:-1} RROWS="${RROWS:-8x1 1x4 1x5 2x4}" \
  MODES="${MODES:-new head new head new head}" TMODES="${TMODES:-new head}" bash $D/device-s15.sh
grep -iE "^== t5|fused step|per phase" $A/bench.txt
tar -czf "$OUT/ab.tar.gz" -C $A .
[ "${BENCH:-1}" = 1 ] && bash $D/device-bench.sh > /dev/null 2>&1
[ "${BENCH:-1}" = 1 ] && cat "$OUT/t5serve.txt" "$OUT/t5serve-instances.txt" "$OUT/t5serve-ablation.txt" "$OUT/hf-static.txt"
