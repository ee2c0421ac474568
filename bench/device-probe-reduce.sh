#!/bin/bash
# device-probe-reduce.sh - run on the GPU machine (sm_90): builds and runs
# bench/probe/reduce_probe.cu, which measures what a chained exchange among
# all blocks costs as a copy (the LL kernel's gather), inside head groups,
# and as a sum (partial words, or counted words added with red.add)
# (bench/cuda.md, session 25).
#   run(command="bash bench/device-probe-reduce.sh")
set -eu
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvcc -arch=sm_90a -O3 -std=c++17 -o /tmp/reduce_probe "$(dirname "$0")/probe/reduce_probe.cu"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader \
  | tee "$OUT/probe.txt"
/tmp/reduce_probe | tee -a "$OUT/probe.txt"
/tmp/reduce_probe | tee -a "$OUT/probe.txt"
