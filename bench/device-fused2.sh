#!/bin/bash
# device-fused2.sh - run on the GPU machine: the cluster decoder step
# (src/backend/cuda/fused_step2.cu, opt-in: T5_CUDA_FUSED_V2=1) against
# fused_step.cu's kernel (the default) and the per-op path
# (T5_CUDA_NO_FUSED_STEP=1), in one call: a smoke test, the engine fixtures
# on CUDA (fp16/fp32/bf16, every step of <= 8 rows through the cluster
# kernel), memcheck of short generates, then t5-small / t5-base latency at
# 1-8 rows side by side and the per-phase trace.
#
#   cmake --build build-cuda --target t5serve test_engine_fixtures t5bench_engine
#   bash bench/device-pack.sh   (here; build-cuda configured with -DT5_CUDA_ARCHS=90a)
#   run(command="bash bench/device-fused2.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# Knobs: DTYPES, BENCH=0, SHAPES, BATCHES, ITERS, MODES.
set -u
. "$(dirname "$0")/device-setup.sh"
M=tests/fixtures/models/t5_v1_1
{
echo "== smoke: greedy and 2 beams, fp16, cluster kernel vs per-op"
export T5_CUDA_FUSED_V2=1 T5_CUDA_FUSED_MAX_ROWS=8
for mode in v2 perop; do
  [ $mode = perop ] && export T5_CUDA_NO_FUSED_STEP=1
  timeout 30 $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 8 --json
  echo "rc $?"
  timeout 30 $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 8 --num-beams 2 --json
  echo "rc $?"
  unset T5_CUDA_NO_FUSED_STEP
done
T5_CUDA_FUSED_TRACE=1 timeout 30 $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 8 --json 2>&1 | grep -i "trace" | head -2
} 2>&1 | tee "$OUT/smoke.txt"
if ! grep -q "(clusters)" "$OUT/smoke.txt"; then
  echo "the cluster kernel did not run: stopping" | tee -a "$OUT/smoke.txt"
fi
{
for dt in ${DTYPES:-fp16 fp32 bf16}; do
  f=/tmp/fx/fixtures-$dt-v2.txt
  SECONDS=0
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout ${FX_TIMEOUT:-150} $B/tests/engine/test_engine_fixtures > $f 2>&1
  echo "== fixtures $dt cluster kernel (rc $?, ${SECONDS}s): $(tail -1 $f)"
  fixture_summary $f
done
echo "== memcheck: cluster-kernel generates (fp16 greedy, 4 beams = 4 rows; bf16 batch of 3 x 2 beams)"
timeout 120 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 6 --json 2>&1 | tail -2
timeout 120 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 6 --num-beams 4 --json 2>&1 | tail -2
} 2>&1 | tee "$OUT/check.txt"
tar -czf "$OUT/fixtures.tar.gz" -C /tmp/fx .
if [ "${BENCH:-1}" = 1 ]; then
  {
  for shape in ${SHAPES:-t5-small t5-base}; do
    $B/t5serve random-model --shape $shape --out /tmp/$shape --dtype fp16 > /dev/null
    for mode in ${MODES:-perop v1 v2 perop v2}; do
      unset T5_CUDA_NO_FUSED_STEP T5_CUDA_FUSED_V2 T5_CUDA_FUSED_MAX_ROWS
      [ $mode = perop ] && export T5_CUDA_NO_FUSED_STEP=1
      [ $mode = v2 ] && export T5_CUDA_FUSED_V2=1 T5_CUDA_FUSED_MAX_ROWS=8
      timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda --dtype fp16 --beams 1 \
        --batch ${BATCHES:-1,2,4,8} --iters ${ITERS:-30} --breakdown --label "$shape-$mode"
    done
  done
  unset T5_CUDA_NO_FUSED_STEP T5_CUDA_FUSED_MAX_ROWS
  export T5_CUDA_FUSED_V2=1 T5_CUDA_FUSED_MAX_ROWS=8
  echo "== where a cluster step's time goes (T5_CUDA_FUSED_TRACE, block 0's clock)"
  for shape in ${SHAPES:-t5-small t5-base}; do
    for b in 1 8; do
      T5_CUDA_FUSED_TRACE=1 timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda --dtype fp16 \
        --beams 1 --batch $b --iters 10 --label "$shape-trace-b$b" 2>&1 | grep -E "trace|t5-"
    done
  done
  } 2>&1 | tee "$OUT/bench.txt"
fi
