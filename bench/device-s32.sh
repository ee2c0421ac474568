#!/bin/bash
# device-s32.sh - run on the GPU machine: session 32's checks and A/B of
# t5_generate's encode joined to the step stream (encode.c's t5__encode_joined:
# no host wait between the encoder and the steps; T5_ENGINE_NO_JOIN=1 waits as
# before) and of the absorbed entry filled inside the encoder's graph
# (T5_ENGINE_NO_ENC_ABSORB=1: at the first step, as before):
#   1. ids and scores of batch-1 greedy requests and 4 beams of each of BUILDS;
#   2. (CHECK=1) the engine fixtures on CUDA fp16 / bf16 with and without the change,
#      props fp16 and bf16, test_inflight fp32, memcheck of fixture generates
#      (beams 1 2 4), of the shapes' batch-1 generates and of t5bench_engine runs
#      (whose short inputs take the absorb inside the encoder's graph);
#   3. batch-1 p50s with MODES alternating, with the "encoder + fixed" part.
#   LABS=t5bench_engine EXTRA="base:/tmp/t5bench_base" bash bench/device-pack.sh
#   run(command="bash bench/device-s32.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
NJ=T5_ENGINE_NO_JOIN=1
NA=T5_ENGINE_NO_ENC_ABSORB=1
OFFS=${OFFS:-"$NJ $NA"}
[ "${IDS:-1}" = 1 ] && ids_table "${BUILDS:-new new@$NA new@$NJ base}" "1 4" \
  ${OUT_SHAPES:-t5-small t5-base speller} 2>&1 | tee "$OUT/outputs.txt"
if [ "${CHECK:-1}" = 1 ]; then
  for dt in fp16 bf16; do
    fixtures_on_off $dt $OFFS
  done
  props_dtypes fp16 bf16
  inflight_and_memcheck 1 2 4
  memcheck_shapes ${MEM_SHAPES:-t5-small}
  for m in t5-small speller; do
    for dt in fp16 bf16; do
      echo "== memcheck: t5bench_engine $m $dt"
      timeout 200 compute-sanitizer --tool memcheck --leak-check no $B/lab/t5bench_engine \
        --model $(shape_dir $m) --device cuda --dtype $dt --batch 1 --iters 2 --warmup 1 2>&1 |
        grep -E "ERROR SUMMARY|ids:" | cut -c1-160
    done
  done
fi 2>&1 | tee "$OUT/check.txt"
ab_modes "${SHAPES:-t5-small t5-base}" \
  "${MODES:-new new@$NA new@$NJ base new new@$NA new@$NJ base new new@$NA new@$NJ base}" 2>&1 |
  tee "$OUT/ab.txt"
