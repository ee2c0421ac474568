#!/bin/bash
# device-s31.sh - run on the GPU machine (needs bench/results/2026-11-28-s31-attn-prologue-dropped.diff
# applied; dropped, bench/cuda.md session 31): session 31's checks and A/B of the
# encoder's attention taken into the o GEMM's prologue (gemv.cu's PRO_ATTN;
# T5_CUDA_NO_ATTN_FUSE=1 turns it off in the same binary). Against EXTRA
# builds (base = the session's start):
#   1. ids and scores of batch-1 greedy requests: new, new with the fusion off,
#      each EXTRA build (scores differ in the last bits where it ran: the
#      probabilities enter the weighted sum rounded to the act dtype);
#   2. the engine fixtures on CUDA fp16 / bf16 with it on and off, props fp16,
#      test_inflight fp32 and memcheck of fixture generates (beams 1 2 4) and of
#      the shapes' batch-1 generates;
#   3. batch-1 p50s with MODES alternating, with the "encoder + fixed" part.
#   LABS=t5bench_engine EXTRA="base:/tmp/base_t5bench_engine" bash bench/device-pack.sh
#   run(command="bash bench/device-s31.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
OFF=T5_CUDA_NO_ATTN_FUSE=1
[ "${IDS:-1}" = 1 ] && ids_table "${BUILDS:-new new@$OFF base}" 1 \
  ${OUT_SHAPES:-t5-small t5-base flan-t5-small speller} 2>&1 | tee "$OUT/outputs.txt"
if [ "${CHECK:-1}" = 1 ]; then
  for dt in fp16 bf16; do
    fixtures_on_off $dt $OFF
  done
  diff <(grep -oE "^  [a-z0-9_]+ case [0-9]+: encoder rel err [^,]+" /tmp/fx/fixtures-fp16-on.txt) \
    <(grep -oE "^  [a-z0-9_]+ case [0-9]+: encoder rel err [^,]+" /tmp/fx/fixtures-fp16-off.txt) | head -20
  props_dtypes fp16
  inflight_and_memcheck 1 2 4
  memcheck_shapes ${MEM_SHAPES:-t5-small t5-base}
fi 2>&1 | tee "$OUT/check.txt"
ab_modes "${SHAPES:-t5-small t5-base}" "${MODES:-new new@$OFF base new new@$OFF base}" 2>&1 |
  tee "$OUT/ab.txt"
