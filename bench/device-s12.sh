#!/bin/bash
# device-s12.sh - run on the GPU machine: the LL step's block size by model
# (fused_step_384.cu; session 12). One binary, the default choice ("new":
# 384 threads for a one-row step of t5-base's 12 heads, else 512) against
# T5_CUDA_FUSED_THREADS=512 (the choice before), alternating; then all
# checks of device-s8.sh by default and again with every step forced to 384
# threads (the fixture models' head counts never choose it).
#   cmake --build build-cuda --target t5serve test_engine_fixtures t5bench_engine \
#       test_inflight test_engine_props
#   LABS=t5bench_engine bash bench/device-pack.sh
#   run(command="bash bench/device-s12.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# ROWS_ONLY=1: only the batch-4 and 4-beam rows (after a full run on the same machine).
set -u
D=$(dirname "$0")
F=T5_CUDA_FUSED_THREADS
B=build-cuda
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
if [ -z "${ROWS_ONLY:-}" ]; then
CHECK=1 ROWS=0 TMODES=" " MODES="new new@$F=512 new new@$F=512 new new@$F=512 new new@$F=512" \
  bash $D/device-s8.sh > /dev/null 2>&1
mv "$OUT/check.txt" "$OUT/check-default.txt"; mv "$OUT/bench.txt" "$OUT/bench-batch1.txt"
else
  bash $D/device-unpack.sh
  for shape in t5-base t5-small; do
    $B/t5serve random-model --shape $shape --out /tmp/$shape --dtype fp16 > /dev/null
  done
fi
for shape in t5-base t5-small; do for i in 1 2; do for v in "" 512; do
  for rows in "--batch 4 --beams 1" "--batch 1 --beams 4"; do
    env ${v:+$F=$v} timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda --dtype fp16 \
      $rows --iters 30 --label "$shape-${v:-new}" | grep "^$shape"
  done
done; done; done > "$OUT/bench-rows.txt" 2>&1
if [ -z "${ROWS_ONLY:-}" ]; then
  export $F=384
  CHECK=1 SHAPES=" " bash $D/device-s8.sh > /dev/null 2>&1
  mv "$OUT/check.txt" "$OUT/check-384.txt"
  grep -E "^==|rc " "$OUT/check-default.txt" "$OUT/check-384.txt"
  awk '{print $1, $4, $5, $7, $8, $10, $11}' "$OUT/bench-batch1.txt" | grep "^t5"
fi
awk '{print $1, $4, $5, $7, $8, $10, $11}' "$OUT/bench-rows.txt" | grep "^t5"
