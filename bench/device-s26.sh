#!/bin/bash
# device-s26.sh - run on the GPU machine: session 26's phase probe
# (bench/probe/phase_probe.cu) beside the product's per-phase trace
# (T5_CUDA_FUSED_TRACE, block 0's clock) of a t5-small batch-1 greedy
# request, on the same card, then batch-1 p50s with MODES alternating
# (new = this build's t5bench_engine, others as EXTRA builds; NAME@VAR=VAL
# sets an environment variable).
#   LABS=t5bench_engine NOTESTS=1 [EXTRA="head:/tmp/t5bench_head"] bash bench/device-pack.sh
#   run(command="bash bench/device-s26.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
# QUICK=1: the engine fixtures on CUDA fp16 and bf16, test_engine_props on CUDA fp16 (a one-row
# chain against the same steps one launch each, bit for bit), test_inflight on CUDA fp32
if [ "${QUICK:-0}" = 1 ]; then
  for dt in fp16 bf16; do
    T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
      $B/tests/engine/test_engine_fixtures > /tmp/fx/fixtures-$dt.txt 2>&1
    echo "== fixtures $dt (rc $?): $(tail -1 /tmp/fx/fixtures-$dt.txt)"
  done
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp16 timeout 100 $B/tests/engine/test_engine_props \
    > /tmp/fx/props-fp16.txt 2>&1
  echo "== test_engine_props cuda fp16 (rc $?): $(tail -1 /tmp/fx/props-fp16.txt)"
  grep -i "fail" /tmp/fx/props-fp16.txt | head -5
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp32 timeout 200 $B/tests/sched/test_inflight \
    > /tmp/fx/inflight-fp32.txt 2>&1
  echo "== test_inflight cuda fp32 (rc $?): $(tail -1 /tmp/fx/inflight-fp32.txt)"
fi 2>&1 | tee "$OUT/quick.txt"
if [ "${PROBE:-1}" = 1 ]; then
  OUT=/tmp/probe timeout 100 bash $D/device-probe.sh phase 1 > /dev/null 2>&1
  tail -n +2 /tmp/probe/probe.txt | tee "$OUT/probe.txt"
fi
for m in ${SHAPES:-t5-small}; do
  [ -d /tmp/$m ] || $B/t5serve random-model --shape $m --out /tmp/$m --dtype fp16 > /dev/null
done
for m in ${SHAPES:-t5-small}; do
  for mode in ${TMODES:-new}; do
    echo "== $m $mode: trace"
    run_mode $mode@T5_CUDA_FUSED_TRACE=1 --model /tmp/$m --device cuda --dtype fp16 --batch 1 \
      --iters 20 --label $m-$mode 2>&1 | grep -E "trace|per phase"
  done
  for mode in ${MODES:-new new}; do
    run_mode $mode --model /tmp/$m --device cuda --dtype fp16 --batch 1 --iters 40 --breakdown \
      --label $m-$mode | grep "^$m"
  done
done 2>&1 | tee "$OUT/ab.txt"
