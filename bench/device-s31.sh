#!/bin/bash
# device-s31.sh - run on the GPU machine (needs bench/results/2026-11-28-s31-attn-prologue-dropped.diff
# applied; dropped, bench/cuda.md session 31): session 31's checks and A/B of the
# encoder's attention taken into the o GEMM's prologue (gemv.cu's PRO_ATTN;
# T5_CUDA_NO_ATTN_FUSE=1 turns it off in the same binary). Against EXTRA
# builds (base = the session's start):
#   1. ids and scores of batch-1 greedy requests: new, new with the fusion off,
#      each EXTRA build (scores differ in the last bits where it ran: the
#      probabilities enter the weighted sum rounded to the act dtype);
#   2. the engine fixtures on CUDA fp16 / bf16 with it on and off, props fp16,
#      test_inflight fp32 and memcheck of fixture generates (beams 1 2 4) and of
#      the shapes' batch-1 generates;
#   3. batch-1 p50s with MODES alternating, with the "encoder + fixed" part.
#   LABS=t5bench_engine EXTRA="base:/tmp/base_t5bench_engine" bash bench/device-pack.sh
#   run(command="bash bench/device-s31.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
if [ "${IDS:-1}" = 1 ]; then
for m in ${OUT_SHAPES:-t5-small t5-base flan-t5-small speller}; do
  dir=$(shape_dir $m)
  for dt in fp16 bf16; do
    line="$m $dt:"
    for b in ${BUILDS:-new new@T5_CUDA_NO_ATTN_FUSE=1 base}; do
      r=$(run_mode $b --model $dir --device cuda --dtype $dt --batch 1 --iters 1 --warmup 0 \
        2>/dev/null | grep -o "ids:.*")
      line="$line | $b $r"
    done
    echo "$line"
  done
done 2>&1 | tee "$OUT/outputs.txt"
fi
if [ "${CHECK:-1}" = 1 ]; then
  for dt in fp16 bf16; do
    for off in 0 1; do
      f=/tmp/fx/fixtures-$dt-off$off.txt
      if [ $off = 1 ]; then export T5_CUDA_NO_ATTN_FUSE=1; else unset T5_CUDA_NO_ATTN_FUSE; fi
      T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
        $B/tests/engine/test_engine_fixtures > $f 2>&1
      echo "== fixtures $dt fusion-off=$off (rc $?): $(tail -1 $f)"
      fixture_summary $f
      grep -oE "^  [a-z0-9_]+ case [0-9]+: encoder rel err [^,]+" $f | md5sum
    done
    unset T5_CUDA_NO_ATTN_FUSE
  done
  diff <(grep -oE "^  [a-z0-9_]+ case [0-9]+: encoder rel err [^,]+" /tmp/fx/fixtures-fp16-off0.txt) \
    <(grep -oE "^  [a-z0-9_]+ case [0-9]+: encoder rel err [^,]+" /tmp/fx/fixtures-fp16-off1.txt) | head -20
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp16 timeout 100 $B/tests/engine/test_engine_props \
    > /tmp/fx/props-fp16.txt 2>&1
  echo "== test_engine_props cuda fp16 (rc $?): $(tail -1 /tmp/fx/props-fp16.txt)"
  inflight_and_memcheck 1 2 4
  for m in ${MEM_SHAPES:-t5-small t5-base}; do
    for dt in fp16 bf16; do
      echo "== memcheck: $m $dt generate"
      timeout 120 compute-sanitizer --tool memcheck --leak-check no \
        $B/t5serve generate --model $(shape_dir $m) --input-ids 5,6,7,8,9,10,11,12,13 \
        --device cuda --dtype $dt --max-new-tokens 11 --json 2>&1 | tail -3
    done
  done
fi 2>&1 | tee "$OUT/check.txt"
for m in ${SHAPES:-t5-small t5-base}; do
  dir=$(shape_dir $m)
  for mode in ${MODES:-new new@T5_CUDA_NO_ATTN_FUSE=1 base new new@T5_CUDA_NO_ATTN_FUSE=1 base}; do
    case $mode in *@*) lb=off ;; *) lb=$mode ;; esac
    run_mode $mode --model $dir --device cuda --dtype fp16 --batch 1 --iters 40 --breakdown \
      --label $m-$lb 2>&1 | grep -E "^$m"
  done
done 2>&1 | tee "$OUT/ab.txt"
