#!/bin/bash
# device-fused.sh - run on the GPU machine: the fused decoder step
# (src/backend/cuda/fused_step.cu) against the per-op path, in one call:
# engine fixtures on CUDA fp16/bf16/fp32 with each path, then batch-1/4
# latency of t5-small and t5-base side by side (T5_CUDA_NO_FUSED_STEP=1 is
# the per-op baseline; fused4: T5_CUDA_FUSED_MAX_ROWS=4), and a memcheck of a short fused generate.
#
#   bash bench/device-pack.sh   (here, after building build-cuda with -DT5_CUDA_ARCHS=90a)
#   run(command="bash bench/device-fused.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
. "$(dirname "$0")/device-setup.sh"
{
for dt in ${DTYPES:-fp16 bf16 fp32}; do
  for mode in fused perop; do
    # fused: every step of <= 4 rows through the fused kernel (the default takes 1 row)
    if [ $mode = perop ]; then export T5_CUDA_NO_FUSED_STEP=1; else unset T5_CUDA_NO_FUSED_STEP; export T5_CUDA_FUSED_MAX_ROWS=4; fi
    f=/tmp/fx/fixtures-$dt-$mode.txt
    T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout ${FX_TIMEOUT:-120} $B/tests/engine/test_engine_fixtures > $f 2>&1
    echo "== fixtures $dt $mode (rc $?): $(tail -1 $f)"
    fixture_summary $f
  done
done
unset T5_CUDA_NO_FUSED_STEP T5_CUDA_FUSED_MAX_ROWS
echo "== memcheck: fused generate"
M=tests/fixtures/models/t5_v1_1
timeout 120 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 6 --num-beams 2 --json 2>&1 | tail -3
echo "== fp16 beams on the fixtures' beam-search mismatches (compare with the CPU fp32 search)"
timeout 60 $B/t5serve generate --model tests/fixtures/models/fp16_overflow --input-ids 1 --device cuda --dtype fp16 --num-beams 4 --num-return-sequences 2 --max-new-tokens 12 --early-stopping true --json
timeout 60 $B/t5serve generate --model tests/fixtures/models/mt5_like --input-ids 116,53,54,99,1 --device cuda --dtype fp16 --num-beams 4 --num-return-sequences 2 --max-new-tokens 12 --early-stopping true --json
} 2>&1 | tee "$OUT/check.txt"
tar -czf "$OUT/fixtures.tar.gz" -C /tmp/fx .
if [ "${BENCH:-1}" = 1 ]; then
  {
  for shape in t5-small t5-base; do
    $B/t5serve random-model --shape $shape --out /tmp/$shape --dtype fp16 > /dev/null
    for dt in ${BENCH_DTYPES:-fp16}; do
      for beams in 1 4; do
        for mode in perop fused fused4; do
          unset T5_CUDA_NO_FUSED_STEP T5_CUDA_FUSED_MAX_ROWS
          [ $mode = perop ] && export T5_CUDA_NO_FUSED_STEP=1
          [ $mode = fused4 ] && export T5_CUDA_FUSED_MAX_ROWS=4
          timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda --dtype $dt --beams $beams \
            --batch ${BATCHES:-1,4} --iters ${ITERS:-30} --breakdown --label "$shape-$mode"
        done
      done
    done
  done
  unset T5_CUDA_NO_FUSED_STEP T5_CUDA_FUSED_MAX_ROWS
  echo "== where a fused step's time goes (T5_CUDA_FUSED_TRACE, block 0's clock)"
  for shape in t5-small t5-base; do
    for beams in 1 4; do
      T5_CUDA_FUSED_MAX_ROWS=4 T5_CUDA_FUSED_TRACE=1 timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda --dtype fp16 \
        --beams $beams --batch 1 --iters 10 --label "$shape-trace" 2>&1 | grep -E "trace|t5-"
    done
  done
  } 2>&1 | tee "$OUT/bench.txt"
fi
