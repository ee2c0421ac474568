#!/bin/bash
# device-s32b.sh - run on the GPU machine: session 32's device timeline of a batch-1
# request (T5_CUDA_EV_TRACE=1: events around every copy and graph launch, their
# intervals averaged per sequence of ops; h/H before/after a host-to-device copy,
# g/G a graph launch, d/D a device-to-host copy), quick checks and the A/B against
# BASE builds. TMODES, MODES, BUILDS: run_mode's modes; OFFS: the fixtures' "off"
# variables; FDT: the fixtures' and props' dtypes.
#   LABS=t5bench_engine EXTRA="base:/tmp/t5bench_base" bash bench/device-pack.sh
#   run(command="bash bench/device-s32b.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
NJ=T5_ENGINE_NO_JOIN=1
NA=T5_ENGINE_NO_ENC_ABSORB=1
for m in ${TSHAPES:-t5-small t5-base}; do
  for mode in ${TMODES:-new new@$NA new@$NJ}; do
    echo "== ev-trace $m $mode"
    run_mode $mode@T5_CUDA_EV_TRACE=1 --model $(shape_dir $m) --device cuda --dtype fp16 \
      --batch 1 --iters 40 --breakdown 2>&1 | grep -E "ev-trace|^$m" | cut -c1-400
  done
done 2>&1 | tee "$OUT/evtrace.txt"
[ "${IDS:-1}" = 1 ] && ids_table "${BUILDS:-new base}" "1 4" \
  ${OUT_SHAPES:-t5-small t5-base speller} 2>&1 | tee "$OUT/outputs.txt"
if [ "${CHECK:-1}" = 1 ]; then
  for dt in ${FDT:-fp16}; do
    fixtures_on_off $dt ${OFFS:-$NJ $NA}
  done
  props_dtypes ${FDT:-fp16}
  inflight_and_memcheck 1 4
  for m in t5-small speller; do
    echo "== memcheck: t5bench_engine $m fp16"
    timeout 200 compute-sanitizer --tool memcheck --leak-check no $B/lab/t5bench_engine \
      --model $(shape_dir $m) --device cuda --dtype fp16 --batch 1 --iters 2 --warmup 1 2>&1 |
      grep -E "ERROR SUMMARY|ids:" | cut -c1-160
  done
fi 2>&1 | tee "$OUT/check.txt"
ab_modes "${SHAPES:-t5-small t5-base}" "${MODES:-new base new base new base}" 2>&1 | tee "$OUT/ab.txt"
