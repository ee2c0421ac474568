#!/bin/bash
# device-s31c.sh - run on the GPU machine: session 31's checks and A/B of
# cross_absorb on the tensor cores (absorb.cu's absorb_mma_kernel;
# T5_CUDA_ABSORB_MMA=0 takes the CUDA-core kernel in the same binary), and of the
# later changes against EXTRA builds (calls 5-7 set BUILDS and MODES):
#   1. ids and scores of batch-1 greedy requests and 4 beams of each of BUILDS
#      (scores may differ in the last bits where the absorb ran: an entry's
#      dkv-term sum is in the tensor core's order);
#   2. the engine fixtures on CUDA fp16 / bf16 with the tensor-core absorb on and
#      off, props fp16 and bf16, test_inflight fp32 and memcheck of fixture
#      generates (beams 1 2 4) and of the shapes' batch-1 generates;
#   3. batch-1 p50s with MODES alternating, with the "encoder + fixed" part;
#   4. (PROFILE=1) Nsight Compute's absorb kernel time for a t5-small and a t5-base
#      request, on the tensor cores and on the CUDA cores.
#   LABS=t5bench_engine EXTRA="base:/tmp/base_t5bench_engine" bash bench/device-pack.sh
#   run(command="bash bench/device-s31c.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
OFF=T5_CUDA_ABSORB_MMA=0
[ "${IDS:-1}" = 1 ] && ids_table "${BUILDS:-new new@$OFF base}" "1 4" \
  ${OUT_SHAPES:-t5-small t5-base flan-t5-small flan-t5-base speller} 2>&1 | tee "$OUT/outputs.txt"
if [ "${CHECK:-1}" = 1 ]; then
  for dt in fp16 bf16; do
    fixtures_on_off $dt $OFF
    props_dtypes $dt
  done
  inflight_and_memcheck 1 2 4
  memcheck_shapes ${MEM_SHAPES:-t5-small t5-base}
fi 2>&1 | tee "$OUT/check.txt"
ab_modes "${SHAPES:-t5-small t5-base}" "${MODES:-new new@$OFF base new new@$OFF base}" 2>&1 |
  tee "$OUT/ab.txt"
if [ "${PROFILE:-1}" = 1 ]; then
  for m in t5-small t5-base; do
    for mma in 1 0; do
      echo "== ncu $m absorb-mma=$mma"
      T5_CUDA_ABSORB_MMA=$mma MODEL=$m PBATCHES=1 NEW=1 OUT=/tmp/prof bash "$D/device-profile.sh" \
        2>&1 | grep -E "absorb|batch"
    done
  done 2>&1 | tee "$OUT/profile.txt"
fi
