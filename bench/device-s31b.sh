#!/bin/bash
# device-s31b.sh - run on the GPU machine (needs bench/results/2026-11-28-s31-attn-prologue-dropped.diff
# applied): why the encoder's attention in the o
# GEMM's prologue (gemv.cu's PRO_ATTN) did not pay in session 31's first call:
# batch-1 p50s and "encoder + fixed" of MODES alternating (lab knobs:
# T5_CUDA_ATTN_NOWRITE=1 drops block 0's store of the attention output;
# T5_CUDA_CARVEOUT=N sets mma_small_kernel's and enc_attn_short's preferred
# shared-memory carveout), then Nsight Compute's per-kernel times (each kernel
# alone) of a t5-base encode with the fusion on and off.
#   LABS=t5bench_engine EXTRA="base:/tmp/base_t5bench_engine" bash bench/device-pack.sh
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
OFF=T5_CUDA_NO_ATTN_FUSE=1
M="base new new@$OFF new@T5_CUDA_ATTN_NOWRITE=1 new@T5_CUDA_CARVEOUT=100 new@$OFF@T5_CUDA_CARVEOUT=100"
ab_modes "${SHAPES:-t5-base t5-small}" "${MODES:-$M $M}" 2>&1 | tee "$OUT/ab.txt"
if [ "${PROFILE:-1}" = 1 ]; then
  for mode in new new@$OFF; do
    e=""; case $mode in *@*) e=${mode#*@};; esac
    echo "== ncu t5-base $mode"
    env $e MODEL=t5-base PBATCHES=1 NEW=1 OUT=/tmp/prof bash "$D/device-profile.sh" 2>&1 | tail -14
  done 2>&1 | tee "$OUT/profile.txt"
fi
