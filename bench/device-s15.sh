#!/bin/bash
# device-s15.sh - run on the GPU machine: session 15's kernels against HEAD's
# build ("head": its t5bench_engine carried as lab/t5bench_head): absorb.cu
# with every load in flight; the many-row RMSNorm as a warp per row
# (rmsnorm.cu); the short encoder attention with two queries a warp for
# L <= 16 and 16-byte staging loads (attn_encoder.cu).
#   1. LAB (default "lab_norm lab_attn lab_gemm"): the kernel labs;
#   2. device-s8.sh's checks (fixtures fp32/fp16/bf16, props, inflight,
#      memcheck) and batch-1 greedy p50 with MODES alternating (default
#      new head x3; NAME@VAR=VALUE runs NAME with VAR set);
#   3. LARGE=1 (default): t5-small greedy at batch 64, 256 and 1024, LMODES
#      (default new head) alternating twice;
#   4. ROWS=1: batch 8, 16, 1 x 5 and 2 x 4 beams (RROWS), RMODES (default new head);
#   5. PROFILE=1: Nsight per-kernel times of one t5-small request at PBATCH
#      (1024) with 2 new tokens, new and head.
#   cmake --build build-cuda
#   LABS="t5bench_engine lab_gemm lab_norm lab_attn" EXTRA="head:/tmp/t5bench_head" \
#       bash bench/device-pack.sh
#   run(command="bash bench/device-s15.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# Knobs: LAB="..." (empty: none), CHECK=0, LARGE=0, ROWS=1, MODES, LMODES, RMODES, RROWS, TMODES (device-s8.sh's traces),
# SHAPES, PROFILE=1, PBATCH.
set -u
D=$(dirname "$0")
B=build-cuda
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
OUT=${OUT:-/tmp/out}
bash $D/device-unpack.sh
mkdir -p "$OUT"
for lab in ${LAB-lab_norm lab_attn lab_gemm}; do
  timeout 120 $B/lab/$lab > "$OUT/$lab.txt" 2>&1
  rc=$?
  echo "== $lab (rc $rc): $(tail -1 "$OUT/$lab.txt")"
  grep -E "FAIL" "$OUT/$lab.txt" | head -20
  [ $rc = 0 ] || exit 1 # a kernel that hangs would hang the fixtures too
done
# device-s14.sh without its lab and rows: device-s8.sh's checks and the batch-1 modes
LAB=0 ROWS=0 PROFILE=0 MODES="${MODES:-new head new head new head}" bash $D/device-s14.sh
if [ "${LARGE:-1}" = 1 ]; then
  [ -d /tmp/t5-small ] || $B/t5serve random-model --shape t5-small --out /tmp/t5-small --dtype fp16 > /dev/null
  for i in 1 2; do for batch in 64 256 1024; do for mode in ${LMODES:-new head}; do
    e=""; m=$mode; case $m in *@*) e=${m#*@}; m=${m%%@*};; esac
    bin=$B/lab/t5bench_engine; [ $m = new ] || bin=$B/lab/t5bench_$m
    env $e timeout 120 $bin --model /tmp/t5-small --device cuda --dtype fp16 --batch $batch \
      --iters 20 --breakdown --label "t5-small-$mode" | grep "^t5"
  done; done; done > "$OUT/bench-large.txt" 2>&1
  awk '{print $1, $4, $7, $8, $9, $10, $11}' "$OUT/bench-large.txt"
fi
# ROWS=1: decoder steps of 5-16 rows (per-op attention), RMODES alternating twice
if [ "${ROWS:-0}" = 1 ]; then
  for shape in ${SHAPES:-t5-small t5-base}; do for i in 1 2; do for mode in ${RMODES:-new head}; do
    e=""; m=$mode; case $m in *@*) e=${m#*@}; e=${e//@/ }; m=${m%%@*};; esac
    bin=$B/lab/t5bench_engine; [ $m = new ] || bin=$B/lab/t5bench_$m
    # RROWS: "BATCHxBEAMS ..." (default 8x1 16x1 1x5 2x4)
    for bb in ${RROWS:-8x1 16x1 1x5 2x4}; do rows="--batch ${bb%x*} --beams ${bb#*x}"
      env $e timeout 120 $bin --model /tmp/$shape --device cuda --dtype fp16 $rows --iters 30 \
        --breakdown --label "$shape-$mode" | grep "^$shape"
    done
  done; done; done > "$OUT/bench-rows.txt" 2>&1
  awk '{print $1, $4, $5, $7, $8, $10, $11}' "$OUT/bench-rows.txt"
fi
# PROFILE=1: Nsight Compute's per-kernel times of one t5-small request at
# PBATCH with 2 new tokens (the encoder and two steps), new and head.
if [ "${PROFILE:-0}" = 1 ]; then
  for mode in new head; do
    P=""; [ $mode = head ] && P=$B/lab/t5bench_head
    env ${P:+BIN=$P} MODEL=t5-small PBATCHES=${PBATCH:-1024} NEW=2 OUT=/tmp/prof \
      bash $D/device-profile.sh > /dev/null 2>&1
    echo "== t5-small $mode"; cat /tmp/prof/profile.txt
  done 2>&1 | tee "$OUT/profile.txt"
fi
