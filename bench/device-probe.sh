#!/bin/bash
# device-probe.sh NAME [RUNS] - run on the GPU machine (sm_90): builds
# bench/probe/NAME_probe.cu and runs it RUNS times (default 1), the card's
# name first; the output in $OUT/probe.txt. The probes:
#   cluster  how fast N blocks stream weights into shared memory with bulk
#            copies, and what an exchange inside a thread-block cluster costs
#            (bench/cuda.md, session 24)
#   reduce   what a chained exchange among all blocks costs as a copy (the
#            LL kernel's gather), inside head groups, and as a sum (partial
#            words, or counted words added with red.add) (session 25)
#   phase    what one decoder layer's six phases cost stripped to exchange,
#            norm and GEMVs, with leaner phases (session 26), and the layer in
#            four exchanges (session 27)
#   run(command="bash bench/device-probe.sh reduce 2")
set -eu
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvcc -arch=sm_90a -O3 -std=c++17 -o /tmp/$1_probe "$(dirname "$0")/probe/$1_probe.cu"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader \
  | tee "$OUT/probe.txt"
for i in $(seq "${2:-1}"); do /tmp/$1_probe | tee -a "$OUT/probe.txt"; done
