#!/bin/bash
# device-probe-cluster.sh - run on the GPU machine (sm_90): builds and runs
# bench/probe/cluster_probe.cu, which measures how fast N blocks (one per SM)
# stream weights into shared memory with bulk copies, from L2 and from HBM,
# and what an exchange inside a thread-block cluster of 8 or 16 costs
# (bench/cuda.md, session 24).
#   run(command="bash bench/device-probe-cluster.sh")
set -eu
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvcc -arch=sm_90a -O3 -std=c++17 -o /tmp/cluster_probe "$(dirname "$0")/probe/cluster_probe.cu"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader \
  | tee "$OUT/probe.txt"
/tmp/cluster_probe | tee -a "$OUT/probe.txt"
