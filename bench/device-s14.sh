#!/bin/bash
# device-s14.sh - run on the GPU machine: the tensor-core small-m GEMM
# (gemv.cu's mma_small_kernel: fp16/bf16 GEMMs of 5-16 rows, the short
# encoder's and the 5-16-row decoder steps', with the norm / activation
# before them fused) against the path before it (T5_CUDA_MMA_MAX_M=0:
# cuBLASLt, with separate norm and activation kernels), in one binary.
#   1. lab_gemm: every GEMM / fused shape through the GEMV path up to 16
#      rows, then at the default limits (rows marked "mma");
#   2. device-s8.sh's checks (fixtures fp32/fp16/bf16, props, inflight,
#      memcheck) and batch-1 greedy p50 with MODES alternating;
#   3. rows: batch 8 and 16 greedy, 2 x 4 beams, both settings alternating.
#   cmake --build build-cuda --target t5serve test_engine_fixtures t5bench_engine \
#       test_inflight test_engine_props lab_gemm
#   LABS="t5bench_engine lab_gemm" bash bench/device-pack.sh
#   run(command="bash bench/device-s14.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# Knobs: LAB=0, CHECK=0, ROWS=0, MODES, TMODES (device-s8.sh's traces), SHAPES, PROFILE=1,
# NCU=KERNEL (device-ncu-one.sh's sections for one launch of KERNEL, t5-small).
set -u
D=$(dirname "$0")
V=T5_CUDA_MMA_MAX_M
B=build-cuda
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
OUT=${OUT:-/tmp/out}
bash $D/device-unpack.sh
mkdir -p "$OUT"
if [ "${LAB:-1}" = 1 ]; then
  timeout 120 $B/lab/lab_gemm > "$OUT/lab_gemm.txt" 2>&1
  rc=$?
  echo "== lab_gemm (rc $rc): $(tail -1 "$OUT/lab_gemm.txt")"
  grep -E "FAIL" "$OUT/lab_gemm.txt" | head -20
  [ $rc = 0 ] || exit 1 # a kernel that hangs would hang the fixtures too
fi
CHECK=${CHECK:-1} ROWS=0 TMODES="${TMODES:- }" SHAPES="${SHAPES:-t5-small t5-base}" \
  MODES="${MODES:-new new@$V=0 new new@$V=0 new new@$V=0}" \
  bash $D/device-s8.sh > /dev/null 2>&1
[ "${CHECK:-1}" = 1 ] && grep -E "^==|rc |failed" "$OUT/check.txt" | head -40
awk '{print $1, $4, $5, $7, $8, $10, $11}' "$OUT/bench.txt" | grep "^t5"
if [ "${ROWS:-1}" = 1 ]; then
  for shape in ${SHAPES:-t5-small t5-base}; do for i in 1 2; do for v in "" 0; do
    for rows in "--batch 8 --beams 1" "--batch 16 --beams 1" "--batch 2 --beams 4"; do
      env ${v:+$V=$v} timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda \
        --dtype fp16 $rows --iters 30 --breakdown --label "$shape-${v:-mma}" | grep "^$shape"
    done
  done; done; done > "$OUT/bench-rows.txt" 2>&1
  awk '{print $1, $4, $5, $7, $8, $10, $11}' "$OUT/bench-rows.txt" | grep "^t5"
fi
# PROFILE=1: Nsight Compute's per-kernel times of a batch-1 request with one
# new token (the encoder and the first step), each model with and without.
if [ "${PROFILE:-0}" = 1 ]; then
  for shape in ${SHAPES:-t5-small t5-base}; do for v in "" 0; do
    env ${v:+$V=$v} MODEL=$shape PBATCHES=1 NEW=1 OUT=/tmp/prof bash $D/device-profile.sh > /dev/null 2>&1
    echo "== $shape ${v:+$V=$v}"; cat /tmp/prof/profile.txt
  done; done 2>&1 | tee "$OUT/profile.txt"
fi
if [ -n "${NCU:-}" ]; then
  KERNEL=$NCU OUT=/tmp/ncu bash $D/device-ncu-one.sh > /dev/null 2>&1
  cp /tmp/ncu/ncu-one.txt "$OUT/ncu-one.txt"
  grep -E "Duration|Stall|Warp Cycles|Issued|Eligible|Achieved Occ|Registers|Shared Memory Config" "$OUT/ncu-one.txt" | head -40
fi
