#!/bin/bash
# device-s33.sh - run on the GPU machine: session 33's checks and A/B of a change
# to the absorbed cross-attention (ids and score bits against BASE builds, also
# with the CUDA-core absorb and with longer inputs; fixtures with the absorb on
# and off; props, inflight, memcheck; the fused step's phase trace; batch-1 A/B).
#   LABS=t5bench_engine EXTRA="base:/tmp/t5bench_253" bash bench/device-pack.sh
#   run(command="bash bench/device-s33.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# Variables: BUILDS (ids), SHAPES / MODES / ITERS (A/B), TRACE (modes traced, "" none),
# CHECK=0 skips the checks, FDT (fixtures' and props' dtypes).
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
NOABS=T5_CUDA_NO_ABSORB=1
CORE=T5_CUDA_ABSORB_MMA=0
[ "${IDS:-1}" = 1 ] && {
  ids_table "${BUILDS:-new new@$CORE base}" "1 4" \
    ${OUT_SHAPES:-t5-small t5-base flan-t5-base t5-large speller}
  for m in t5-small flan-t5-small; do
    for b in ${BUILDS:-new new@$CORE base}; do
      echo "$m fp16 20 tokens $b: $(run_mode $b --model $(shape_dir $m) --device cuda --dtype fp16 \
        --batch 1 --in-tokens 20 --iters 1 --warmup 0 2>/dev/null | grep -o 'ids:.*')"
    done
  done
} 2>&1 | tee "$OUT/outputs.txt"
if [ "${CHECK:-1}" = 1 ]; then
  for dt in ${FDT:-fp16 bf16}; do
    fixtures_on_off $dt $NOABS
  done
  props_dtypes ${FDT:-fp16 bf16}
  inflight_and_memcheck 1 4
  for m in t5-small flan-t5-small speller; do
    for e in "" $CORE; do
      echo "== memcheck: t5bench_engine $m fp16 $e"
      env $e timeout 200 compute-sanitizer --tool memcheck --leak-check no \
        $B/lab/t5bench_engine --model $(shape_dir $m) --device cuda --dtype fp16 --batch 1 \
        --iters 2 --warmup 1 2>&1 | grep -E "ERROR SUMMARY|ids:" | cut -c1-160
    done
  done
fi 2>&1 | tee "$OUT/check.txt"
for mode in ${TRACE-new base}; do
  for m in t5-small t5-base; do
    echo "== fused trace $m $mode"
    run_mode $mode@T5_CUDA_FUSED_TRACE=1 --model $(shape_dir $m) --device cuda --dtype fp16 \
      --batch 1 --iters 20 2>&1 | grep -A12 "fused step" | cut -c1-300
  done
done 2>&1 | tee "$OUT/trace.txt"
ab_modes "${SHAPES:-t5-small t5-base}" "${MODES:-new base new base new base}" 2>&1 | tee "$OUT/ab.txt"
