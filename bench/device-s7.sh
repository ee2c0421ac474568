#!/bin/bash
# device-s7.sh - run on the GPU machine: the absorbed cross-attention of the
# fused decoder step (absorb.cu + fused_step.cu's fused_ll_kernel<ABS>, the
# default for steps of <= 2 rows over inputs of <= 32 tokens) against the
# ordinary one (T5_CUDA_NO_ABSORB=1), and t5_generate's chained greedy steps
# (T5_ENGINE_NO_CHAIN=1 turns them off) in one call:
#   1. smoke: fp16 greedy and 2-beam generates with and without, same ids;
#   2. the engine fixtures on CUDA (DTYPES, default fp32 fp16 bf16) with the
#      default row limits (absorbed for <= 2 rows); test_inflight on CUDA
#      fp32 (slots re-encoded under the in-flight scheduler: entries must be
#      forgotten); memcheck of a greedy and a 2-beam generate;
#   3. t5bench_engine t5-small / t5-base fp16 at batch 1 (greedy), modes
#      alternating: noabs, abs (the default), prev (an earlier build's
#      t5bench_engine: build-cuda/prev/t5bench_engine.xz); batch 2 and 2
#      beams; the per-phase traces.
#   cmake --build build-cuda --target t5serve test_engine_fixtures t5bench_engine test_inflight
#   LABS="t5bench_engine" bash bench/device-pack.sh   (here)
#   run(command="bash bench/device-s7.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib",
#       "build-cuda/prev"])
# Knobs: CHECK=0 (benchmarks only), SHAPES, MODES, ITERS, DTYPES.
set -u
. "$(dirname "$0")/device-setup.sh"
M=tests/fixtures/models/t5_v1_1
[ "${CHECK:-1}" = 1 ] && {
echo "== smoke: fp16 greedy / 2 beams, without and with absorbed cross-attention"
for na in 1 "" 1 ""; do
  for nb in 1 2; do
    env ${na:+T5_CUDA_NO_ABSORB=1} timeout 30 $B/t5serve generate --model $M \
      --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 8 --num-beams $nb --json
    echo "noabs=${na:-0} beams=$nb rc $?"
  done
done
T5_CUDA_FUSED_TRACE=1 timeout 30 $B/t5serve generate --model $M --input-ids 5,6,7,8,9 \
  --device cuda --dtype fp16 --max-new-tokens 8 --json 2>&1 | grep -i "trace" | head -2
} 2>&1 | tee "$OUT/smoke.txt"
[ "${CHECK:-1}" = 1 ] && {
# the same fixtures without (NOABS=0: skip), for the failure counts of this row limit
for dt in ${DTYPES:-fp32 fp16 bf16}; do
  for na in ${NOABS-1} ""; do
    f=/tmp/fx/fixtures-$dt-abs${na:-on}.txt
    SECONDS=0
    env ${na:+T5_CUDA_NO_ABSORB=1} T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
      $B/tests/engine/test_engine_fixtures > $f 2>&1
    echo "== fixtures $dt absorbed ${na:+off (T5_CUDA_NO_ABSORB=1)} (rc $?, ${SECONDS}s): $(tail -1 $f)"
    fixture_summary $f
  done
done
for dt in fp32 fp16; do
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt timeout 100 $B/tests/engine/test_engine_props > /tmp/fx/props-$dt.txt 2>&1
  echo "== test_engine_props ($dt for test_steps_greedy; rc $?): $(tail -1 /tmp/fx/props-$dt.txt)"
  grep -E "CHECK failed|^ok|FAIL" /tmp/fx/props-$dt.txt | head -8
done
inflight_and_memcheck 1 2
} 2>&1 | tee "$OUT/check.txt"
{
for shape in ${SHAPES:-t5-small t5-base}; do
  $B/t5serve random-model --shape $shape --out /tmp/$shape --dtype fp16 > /dev/null
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv
  for mode in ${MODES:-noabs abs chain noabs abs chain noabs abs chain}; do
    unset T5_CUDA_NO_ABSORB T5_ENGINE_NO_CHAIN
    [ $mode = noabs ] && export T5_CUDA_NO_ABSORB=1 T5_ENGINE_NO_CHAIN=1
    [ $mode = abs ] && export T5_ENGINE_NO_CHAIN=1
    bin=$B/lab/t5bench_engine
    if [ $mode = prev ]; then
      [ -x /tmp/prev-bench ] || xz -dc build-cuda/prev/t5bench_engine.xz > /tmp/prev-bench && chmod +x /tmp/prev-bench
      bin=/tmp/prev-bench
    fi
    timeout 120 $bin --model /tmp/$shape --device cuda --dtype fp16 --beams 1 \
      --batch 1 --iters ${ITERS:-30} --breakdown --label "$shape-$mode"
  done
  unset T5_CUDA_NO_ABSORB T5_ENGINE_NO_CHAIN
  [ "${ROWS:-1}" = 1 ] && for mode in ${RMODES:-noabs chain noabs chain}; do
    unset T5_CUDA_NO_ABSORB T5_ENGINE_NO_CHAIN T5_ENGINE_ABS_ROWS T5_CUDA_FUSED_MAX_ROWS
    [ $mode = noabs ] && export T5_CUDA_NO_ABSORB=1 T5_ENGINE_NO_CHAIN=1
    [ $mode = r4 ] && export T5_ENGINE_ABS_ROWS=4 T5_CUDA_FUSED_MAX_ROWS=4
    timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda \
      --dtype fp16 --beams 1 --batch ${RBATCH:-2} --iters ${ITERS:-30} --breakdown --label "$shape-$mode-b"
    timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda \
      --dtype fp16 --beams ${RBEAMS:-2} --batch 1 --iters ${ITERS:-30} --breakdown --label "$shape-$mode-beam"
  done
  unset T5_CUDA_NO_ABSORB T5_ENGINE_NO_CHAIN T5_ENGINE_ABS_ROWS T5_CUDA_FUSED_MAX_ROWS
  echo "== $shape: where an LL step's time goes (T5_CUDA_FUSED_TRACE, block 0's clock)"
  for na in 1 ""; do
    env ${na:+T5_CUDA_NO_ABSORB=1} T5_CUDA_FUSED_TRACE=1 timeout 120 $B/lab/t5bench_engine --model /tmp/$shape \
      --device cuda --dtype fp16 --beams 1 --batch 1 --iters 20 --label "$shape-noabs${na:-0}-trace" 2>&1 | grep -i "trace"
  done
done
} 2>&1 | tee "$OUT/bench.txt"
tar -czf "$OUT/fixtures.tar.gz" -C /tmp/fx .
