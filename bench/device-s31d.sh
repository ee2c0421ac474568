#!/bin/bash
# device-s31d.sh - run on the GPU machine (needs bench/results/2026-11-28-s31-embed-ckv-dropped.diff
# applied; dropped, bench/cuda.md session 31): session 31's checks and A/B of the
# encoder's embedding taken into layer 0's q|k|v GEMM prologue and its cross K/V
# store into the cross K/V GEMM's epilogue (gemv.cu; T5_CUDA_NO_EMBED_FUSE=1 /
# T5_CUDA_NO_CKV_FUSE=1 turn them off in the same binary; T5_CUDA_ABSORB_MMA=0
# the tensor-core absorb of 139a9a5). Against EXTRA builds (base = c0db95f):
#   1. ids and scores of batch-1 greedy requests and 4 beams: new, new with the
#      three off, each EXTRA build;
#   2. the engine fixtures on CUDA fp16 / bf16 with the two on and off, props fp16
#      and bf16, test_inflight fp32 and memcheck of fixture generates (beams 1 2 4)
#      and of the shapes' batch-1 generates;
#   3. batch-1 p50s with MODES alternating, with the "encoder + fixed" part;
#   4. (PROFILE=1) Nsight Compute's per-kernel times of a t5-small and a t5-base
#      request.
#   LABS=t5bench_engine EXTRA="base:/tmp/base_t5bench_engine" bash bench/device-pack.sh
#   run(command="bash bench/device-s31d.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
E=T5_CUDA_NO_EMBED_FUSE=1 C=T5_CUDA_NO_CKV_FUSE=1
[ "${IDS:-1}" = 1 ] && ids_table "${BUILDS:-new new@$E@$C@T5_CUDA_ABSORB_MMA=0 base}" "1 4" \
  ${OUT_SHAPES:-t5-small t5-base flan-t5-small flan-t5-base speller} 2>&1 | tee "$OUT/outputs.txt"
if [ "${CHECK:-1}" = 1 ]; then
  for dt in fp16 bf16; do
    fixtures_on_off $dt $E $C
    props_dtypes $dt
  done
  inflight_and_memcheck 1 2 4
  memcheck_shapes ${MEM_SHAPES:-t5-small t5-base}
fi 2>&1 | tee "$OUT/check.txt"
ab_modes "${SHAPES:-t5-small t5-base}" \
  "${MODES:-new new@$E new@$C new@$E@$C base new new@$E new@$C new@$E@$C base}" 2>&1 |
  tee "$OUT/ab.txt"
if [ "${PROFILE:-1}" = 1 ]; then
  for m in t5-small t5-base; do
    echo "== ncu $m"
    MODEL=$m PBATCHES=1 NEW=1 OUT=/tmp/prof bash "$D/device-profile.sh" 2>&1 | tail -14
  done 2>&1 | tee "$OUT/profile.txt"
fi
