#!/bin/bash
# device-s30.sh - run on the GPU machine: session 30's checks and A/B of P5
# merged into P4 (M5: fused_step.cu's fs_abs_out5 / fs_ll_ffn_act5, absorb.cu's
# fold of the FFN input, backend.h's abs_p / abs_w). M5 was dropped (bench/cuda.md,
# session 30): build with bench/results/2026-11-28-s30-m5-dropped.diff applied
# (git apply) to rerun it; without it T5_CUDA_FUSED_M5 does nothing and the
# "M5 said" counts stay 0. Against EXTRA builds (base = the session's start):
#   1. ids and scores of batch-1 greedy requests: new (M5), new with
#      T5_CUDA_FUSED_M5=0 (the six phases: base's bits expected), each build, and
#      the per-op step (T5_CUDA_NO_FUSED_STEP=1);
#   2. the engine fixtures on CUDA fp16 / bf16 with M5 on and off (their
#      shapes take the kernel of any shape, which has no M5: base's counts
#      expected); test_engine_props fp16 and bf16 (the chain against single
#      steps, bit for bit); test_inflight fp32; memcheck of fixture generates
#      (beams 1 2 4) and of chains of the shape kernels (M5);
#   3. traces of t5-small and t5-base (new), batch-1 p50s with MODES alternating.
#   LABS=t5bench_engine EXTRA="base:/tmp/t5bench_base" bash bench/device-pack.sh
#   run(command="bash bench/device-s30.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
if [ "${IDS:-1}" = 1 ]; then
for m in ${OUT_SHAPES:-t5-small t5-base flan-t5-small flan-t5-base speller}; do
  dir=$(shape_dir $m)
  for dt in fp16 bf16; do
    for seed in ${OSEEDS:-1}; do
      line="$m $dt seed $seed:"
      for b in ${BUILDS:-new@T5_CUDA_FUSED_M5=2 new@T5_CUDA_FUSED_M5=0 base new@T5_CUDA_NO_FUSED_STEP=1}; do
        r=$(run_mode $b --model $dir --device cuda --dtype $dt --batch 1 --iters 1 --warmup 0 \
          --seed $seed 2> /tmp/fx/said.txt | grep -o "ids:.*")
        said=$(grep -c "M5 step" /tmp/fx/said.txt)
        line="$line | $b [m5 said $said] $r"
      done
      echo "$line"
    done
  done
done 2>&1 | tee "$OUT/outputs.txt"
fi
if [ "${CHECK:-1}" = 1 ]; then
  for dt in fp16 bf16; do
    for m5 in 2 0; do
      T5_CUDA_FUSED_M5=$m5 T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
        $B/tests/engine/test_engine_fixtures > /tmp/fx/fixtures-$dt-$m5.txt 2>&1
      echo "== fixtures $dt M5=$m5 (rc $?): $(tail -1 /tmp/fx/fixtures-$dt-$m5.txt);" \
        "M5 said $(grep -c 'M5 step' /tmp/fx/fixtures-$dt-$m5.txt)"
      fixture_summary /tmp/fx/fixtures-$dt-$m5.txt
    done
    T5_CUDA_FUSED_M5=2 T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt timeout 100 \
      $B/tests/engine/test_engine_props > /tmp/fx/props-$dt.txt 2>&1
    echo "== test_engine_props cuda $dt (rc $?): $(tail -1 /tmp/fx/props-$dt.txt);" \
      "M5 said $(grep -c 'M5 step' /tmp/fx/props-$dt.txt)"
    grep -i "fail" /tmp/fx/props-$dt.txt | head -5
  done
  inflight_and_memcheck 1 2 4
  for m in ${MEM_SHAPES:-t5-small t5-base speller}; do
    for dt in fp16 bf16; do
      echo "== memcheck: $m $dt chain (M5)"
      T5_CUDA_FUSED_M5=2 timeout 120 compute-sanitizer --tool memcheck --leak-check no \
        $B/t5serve generate --model $(shape_dir $m) --input-ids 5,6,7,8,9,10,11,12,13 \
        --device cuda --dtype $dt --max-new-tokens 11 --json 2>&1 | tail -3
    done
  done
fi 2>&1 | tee "$OUT/check.txt"
for m in ${SHAPES:-t5-small t5-base}; do
  dir=$(shape_dir $m)
  for mode in ${TMODES:-new}; do
    echo "== $m $mode: trace"
    run_mode $mode@T5_CUDA_FUSED_TRACE=1 --model $dir --device cuda --dtype fp16 --batch 1 \
      --iters 20 --label $m-$mode 2>&1 | grep -E "trace|per phase"
  done
  for mode in ${MODES:-new base new base}; do
    run_mode $mode --model $dir --device cuda --dtype fp16 --batch 1 --iters 40 --breakdown \
      --label $m-$mode | grep "^$m"
  done
done 2>&1 | tee "$OUT/ab.txt"
