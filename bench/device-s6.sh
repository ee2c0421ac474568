#!/bin/bash
# device-s6.sh - run on the GPU machine: the flag-in-data ("LL") fused
# decoder step (fused_step.cu's fused_ll_kernel, the default since 962ead9)
# against the barrier kernel (T5_CUDA_FUSED_LL=0) in one call:
#   1. lab_gemm (the kernel checks of the GEMM/GEMV paths, incl. the 48 KB
#      shared-memory opt-in shape 8 x 768 x 3072);
#   2. a smoke test: greedy and 4-beam generates, LL vs barrier kernel, same ids;
#   3. the engine fixtures on CUDA with LL for every step of <= 4 rows
#      (DTYPES, default fp32 fp16 bf16) with the weights staged evict-first
#      (T5_CUDA_FUSED_EVICT_FIRST=1), memcheck of two short LL generates;
#   4. t5bench_engine t5-small / t5-base fp16 at batch 1 (greedy), modes
#      alternating: perop, v1 (barrier kernel), ll (the default), llef0 (LL,
#      weights not evict-first), prev (an earlier build's t5bench_engine:
#      build-cuda/prev/t5bench_engine.xz, for A/B of changes without a switch;
#      prevv1: the same with the barrier kernel); 2-4 rows (batch 2, 4; 1 x 4 beams) LL vs the per-op
#      path; the per-phase traces.
#   cmake --build build-cuda --target t5serve test_engine_fixtures t5bench_engine lab_gemm
#   LABS="t5bench_engine lab_gemm" bash bench/device-pack.sh   (here)
#   run(command="bash bench/device-s6.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"]
#       (+ "build-cuda/prev" for MODES with prev))
# Knobs: CHECK=0 (benchmarks only), ROWS=0 (no 2-4 row runs), SHAPES, MODES, ITERS.
set -u
. "$(dirname "$0")/device-setup.sh"
M=tests/fixtures/models/t5_v1_1
[ "${CHECK:-1}" = 1 ] && {
echo "== lab_gemm"
timeout 120 $B/lab/lab_gemm 2>&1 | grep -E "FAIL|failed|invalid|error" | head -20
} 2>&1 | tee "$OUT/gemm.txt"
[ "${CHECK:-1}" = 1 ] && {
echo "== smoke: fp16 greedy / 4 beams, barrier kernel vs LL (rows <= 4 fused)"
for ll in 0 1 0 1; do
  for nb in 1 4; do
    T5_CUDA_FUSED_LL=$ll T5_CUDA_FUSED_MAX_ROWS=4 timeout 30 $B/t5serve generate --model $M \
      --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 8 --num-beams $nb --json
    echo "LL=$ll beams=$nb rc $?"
  done
done
T5_CUDA_FUSED_LL=1 T5_CUDA_FUSED_TRACE=1 timeout 30 $B/t5serve generate --model $M --input-ids 5,6,7,8,9 \
  --device cuda --dtype fp16 --max-new-tokens 8 --json 2>&1 | grep -i "trace" | head -2
} 2>&1 | tee "$OUT/smoke.txt"
[ "${CHECK:-1}" = 1 ] && {
export T5_CUDA_FUSED_LL=1 T5_CUDA_FUSED_MAX_ROWS=4
for dt in ${DTYPES:-fp32 fp16 bf16}; do
  f=/tmp/fx/fixtures-$dt-ll.txt
  SECONDS=0
  T5_CUDA_FUSED_EVICT_FIRST=1 T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
    $B/tests/engine/test_engine_fixtures > $f 2>&1
  echo "== fixtures $dt LL rows<=4 (rc $?, ${SECONDS}s): $(tail -1 $f)"
  fixture_summary $f
done
echo "== memcheck: LL generates (fp16 greedy; 4 beams = 4 rows)"
timeout 120 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 6 --json 2>&1 | tail -2
timeout 120 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype fp16 --max-new-tokens 6 --num-beams 4 --json 2>&1 | tail -2
unset T5_CUDA_FUSED_LL T5_CUDA_FUSED_MAX_ROWS
} 2>&1 | tee "$OUT/check.txt"
{
for shape in ${SHAPES:-t5-small t5-base}; do
  $B/t5serve random-model --shape $shape --out /tmp/$shape --dtype fp16 > /dev/null
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv
  for mode in ${MODES:-perop v1 ll llef0 perop v1 ll llef0}; do
    unset T5_CUDA_NO_FUSED_STEP T5_CUDA_FUSED_EVICT_FIRST
    export T5_CUDA_FUSED_LL=1
    [ $mode = v1 ] && export T5_CUDA_FUSED_LL=0
    [ $mode = perop ] && export T5_CUDA_NO_FUSED_STEP=1
    [ $mode = llef0 ] && export T5_CUDA_FUSED_EVICT_FIRST=0
    # prev: an earlier build's t5bench_engine, carried as build-cuda/prev/t5bench_engine.xz
    bin=$B/lab/t5bench_engine
    [ $mode = prevv1 ] && export T5_CUDA_FUSED_LL=0
    if [ $mode = prev ] || [ $mode = prevv1 ]; then
      [ -x /tmp/prev-bench ] || xz -dc build-cuda/prev/t5bench_engine.xz > /tmp/prev-bench && chmod +x /tmp/prev-bench
      bin=/tmp/prev-bench
    fi
    timeout 120 $bin --model /tmp/$shape --device cuda --dtype fp16 --beams 1 \
      --batch 1 --iters ${ITERS:-30} --breakdown --label "$shape-$mode"
  done
  unset T5_CUDA_NO_FUSED_STEP T5_CUDA_FUSED_EVICT_FIRST T5_CUDA_FUSED_LL
  # 2-4 rows: the LL kernel vs the per-op path (the default above 1 row)
  [ "${ROWS:-1}" = 1 ] && for mode in perop ll perop ll; do
    unset T5_CUDA_FUSED_LL T5_CUDA_NO_FUSED_STEP
    [ $mode = perop ] && export T5_CUDA_NO_FUSED_STEP=1
    T5_CUDA_FUSED_MAX_ROWS=4 timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda \
      --dtype fp16 --beams 1 --batch 2,3,4 --iters ${ITERS:-30} --breakdown --label "$shape-$mode-rows"
    for nb in 2 4; do
      T5_CUDA_FUSED_MAX_ROWS=4 timeout 120 $B/lab/t5bench_engine --model /tmp/$shape --device cuda \
        --dtype fp16 --beams $nb --batch 1 --iters ${ITERS:-30} --breakdown --label "$shape-$mode-beam$nb"
    done
  done
  unset T5_CUDA_NO_FUSED_STEP
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv,noheader
  echo "== $shape: where an LL step's time goes (T5_CUDA_FUSED_TRACE, block 0's clock)"
  for ef in 0 1; do
    T5_CUDA_FUSED_EVICT_FIRST=$ef T5_CUDA_FUSED_TRACE=1 timeout 120 $B/lab/t5bench_engine --model /tmp/$shape \
      --device cuda --dtype fp16 --beams 1 --batch 1 --iters 20 --label "$shape-ll-ef$ef-trace" 2>&1 | grep -i "trace"
  done
  T5_CUDA_FUSED_LL=0 T5_CUDA_FUSED_TRACE=1 timeout 120 $B/lab/t5bench_engine --model /tmp/$shape \
    --device cuda --dtype fp16 --beams 1 --batch 1 --iters 20 --label "$shape-v1-trace" 2>&1 | grep -i "trace"
done
} 2>&1 | tee "$OUT/bench.txt"
tar -czf "$OUT/fixtures.tar.gz" -C /tmp/fx .
