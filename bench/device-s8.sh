#!/bin/bash
# device-s8.sh - run on the GPU machine: checks of the build carried, then
# the LL decoder step of this build ("new") against an earlier build's
# t5bench_engine ("prev", lab/t5bench_prev: device-pack.sh PREV=...),
# alternating, with the per-phase trace of each.
#   1. CHECK (default 1): the engine fixtures on CUDA (DTYPES, default
#      fp32 fp16 bf16); test_engine_props on CUDA fp32 and fp16 (chained
#      greedy steps against single steps), and fp32 again with the fused
#      step off (T5_CUDA_NO_FUSED_STEP=1: the chain's steps per-op) and with
#      absorbing off; test_inflight CUDA fp32 (the warm-up included);
#      compute-sanitizer memcheck of a greedy, a 2-beam and a 4-beam
#      generate;
#   2. t5bench_engine t5-small / t5-base fp16 batch 1 greedy, MODES
#      alternating (default new prev x3); then batch RBATCH (4) greedy and 1
#      x RBEAMS (4) beams, new and prev;
#   3. T5_CUDA_FUSED_TRACE of TMODES (default new prev; a build before
#      3205a0e has no per-phase line, one before this script's second
#      version adds an L2 round trip to block 0 per trace point).
#   cmake --build build-cuda --target t5serve test_engine_fixtures t5bench_engine \
#       test_inflight test_engine_props
#   LABS=t5bench_engine PREV=/path/to/old/t5bench_engine bash bench/device-pack.sh
#   run(command="bash bench/device-s8.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# A mode NAME@VAR=VALUE runs NAME's program with that variable set.
# Knobs: CHECK=0, XFIX, SHAPES, MODES, TMODES, ITERS, DTYPES, ROWS=0 (no batch-4 / beam rows).
set -u
. "$(dirname "$0")/device-setup.sh"
M=tests/fixtures/models/t5_v1_1
[ "${CHECK:-1}" = 1 ] && {
for dt in ${DTYPES:-fp32 fp16 bf16}; do
  f=/tmp/fx/fixtures-$dt.txt
  SECONDS=0
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
    $B/tests/engine/test_engine_fixtures > $f 2>&1
  echo "== fixtures $dt (rc $?, ${SECONDS}s): $(tail -1 $f)"
  fixture_summary $f
done
for v in "fp32" "fp16" "fp32 T5_CUDA_NO_FUSED_STEP=1" "fp32 T5_CUDA_NO_ABSORB=1"; do
  set -- $v
  f=/tmp/fx/props-$1${2:+-${2%%=*}}.txt
  env ${2:-} T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$1 timeout 100 $B/tests/engine/test_engine_props > $f 2>&1
  echo "== test_engine_props $v (rc $?): $(tail -1 $f)"
  grep -E "CHECK failed|FAIL" $f | head -8
done
# XFIX="DTYPE:VAR=VALUE ...": the fixtures again under one setting each
for v in ${XFIX:-}; do
  f=/tmp/fx/fixtures-${v%%:*}-${v#*:}.txt
  env ${v#*:} T5_TEST_DEVICE=cuda T5_TEST_DTYPE=${v%%:*} T5_TEST_VERBOSE=1 timeout 150 \
    $B/tests/engine/test_engine_fixtures > $f 2>&1
  echo "== fixtures ${v%%:*} ${v#*:} (rc $?): $(tail -1 $f)"
  fixture_summary $f
done
inflight_and_memcheck 1 2 4
} 2>&1 | tee "$OUT/check.txt"
{
# a mode's program: new = this build's t5bench_engine, NAME = lab/t5bench_NAME
# (prev, or EXTRA's names: device-pack.sh)
bench_of() { [ $1 = new ] && echo $B/lab/t5bench_engine || echo $B/lab/t5bench_$1; }
# a mode NAME@VAR=VALUE runs NAME's program with VAR=VALUE set
for shape in ${SHAPES:-t5-small t5-base}; do
  $B/t5serve random-model --shape $shape --out /tmp/$shape --dtype fp16 > /dev/null
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv
  for mode in ${MODES:-new prev new prev new prev}; do
    run_mode $mode --model /tmp/$shape --device cuda --dtype fp16 --beams 1 \
      --batch 1 --iters ${ITERS:-30} --breakdown --label "$shape-$mode"
  done
  [ "${ROWS:-1}" = 1 ] && for mode in new prev new prev; do
    bin=$(bench_of $mode)
    timeout 120 $bin --model /tmp/$shape --device cuda --dtype fp16 --beams 1 \
      --batch ${RBATCH:-4} --iters ${ITERS:-30} --breakdown --label "$shape-$mode-b${RBATCH:-4}"
    timeout 120 $bin --model /tmp/$shape --device cuda --dtype fp16 --beams ${RBEAMS:-4} \
      --batch 1 --iters ${ITERS:-30} --breakdown --label "$shape-$mode-beam${RBEAMS:-4}"
  done
  echo "== $shape: where an LL step's time goes (T5_CUDA_FUSED_TRACE, block 0's clock)"
  for mode in ${TMODES:-new prev}; do
    run_mode $mode@T5_CUDA_FUSED_TRACE=1 --model /tmp/$shape --device cuda --dtype fp16 \
      --beams 1 --batch 1 --iters 20 --label "$shape-$mode-trace" 2>&1 | grep -iE "trace|per phase"
  done
done
} 2>&1 | tee "$OUT/bench.txt"
tar -czf "$OUT/fixtures.tar.gz" -C /tmp/fx .
