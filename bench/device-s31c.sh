#!/bin/bash
# device-s31c.sh - run on the GPU machine: session 31's checks and A/B of
# cross_absorb on the tensor cores (absorb.cu's absorb_mma_kernel;
# T5_CUDA_ABSORB_MMA=0 takes the CUDA-core kernel in the same binary). Against
# EXTRA builds (base = the session's start):
#   1. ids and scores of batch-1 greedy requests and 4 beams: new, new with the
#      CUDA-core absorb, each EXTRA build (scores may differ in the last bits:
#      an entry's dkv-term sum is in the tensor core's order);
#   2. the engine fixtures on CUDA fp16 / bf16 with it on and off, props fp16 and
#      bf16, test_inflight fp32 and memcheck of fixture generates (beams 1 2 4)
#      and of the shapes' batch-1 generates;
#   3. batch-1 p50s with MODES alternating, with the "encoder + fixed" part;
#   4. (PROFILE=1) Nsight Compute's per-kernel times of a t5-small and a t5-base
#      request, the absorb on the tensor cores and on the CUDA cores.
#   LABS=t5bench_engine EXTRA="base:/tmp/base_t5bench_engine" bash bench/device-pack.sh
#   run(command="bash bench/device-s31c.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
OFF=T5_CUDA_ABSORB_MMA=0
if [ "${IDS:-1}" = 1 ]; then
for m in ${OUT_SHAPES:-t5-small t5-base flan-t5-small flan-t5-base speller}; do
  dir=$(shape_dir $m)
  for dt in fp16 bf16; do
    for beams in 1 4; do
      line="$m $dt beams $beams:"
      for b in ${BUILDS:-new new@$OFF base}; do
        r=$(run_mode $b --model $dir --device cuda --dtype $dt --batch 1 --beams $beams \
          --iters 1 --warmup 0 2>/dev/null | grep -o "ids:.*")
        line="$line | $b $r"
      done
      echo "$line"
    done
  done
done 2>&1 | tee "$OUT/outputs.txt"
fi
if [ "${CHECK:-1}" = 1 ]; then
  for dt in fp16 bf16; do
    for mma in 1 0; do
      f=/tmp/fx/fixtures-$dt-mma$mma.txt
      T5_CUDA_ABSORB_MMA=$mma T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
        $B/tests/engine/test_engine_fixtures > $f 2>&1
      echo "== fixtures $dt absorb-mma=$mma (rc $?): $(tail -1 $f)"
      fixture_summary $f
    done
    T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt timeout 100 $B/tests/engine/test_engine_props \
      > /tmp/fx/props-$dt.txt 2>&1
    echo "== test_engine_props cuda $dt (rc $?): $(tail -1 /tmp/fx/props-$dt.txt)"
    grep -i "fail" /tmp/fx/props-$dt.txt | head -5
  done
  inflight_and_memcheck 1 2 4
  for m in ${MEM_SHAPES:-t5-small t5-base}; do
    for dt in fp16 bf16; do
      echo "== memcheck: $m $dt generate"
      timeout 120 compute-sanitizer --tool memcheck --leak-check no \
        $B/t5serve generate --model $(shape_dir $m) --input-ids 5,6,7,8,9,10,11,12,13 \
        --device cuda --dtype $dt --max-new-tokens 11 --json 2>&1 | tail -2
    done
  done
fi 2>&1 | tee "$OUT/check.txt"
for m in ${SHAPES:-t5-small t5-base}; do
  dir=$(shape_dir $m)
  for mode in ${MODES:-new new@$OFF base new new@$OFF base}; do
    case $mode in *@*) lb=off ;; *) lb=$mode ;; esac
    run_mode $mode --model $dir --device cuda --dtype fp16 --batch 1 --iters 40 --breakdown \
      --label $m-$lb 2>&1 | grep -E "^$m" | awk '{print $1, "p50", $7, "p99", $8, "step", $10, "enc+fixed", $11}'
  done
done 2>&1 | tee "$OUT/ab.txt"
if [ "${PROFILE:-1}" = 1 ]; then
  for m in t5-small t5-base; do
    for mma in 1 0; do
      echo "== ncu $m absorb-mma=$mma"
      T5_CUDA_ABSORB_MMA=$mma MODEL=$m PBATCHES=1 NEW=1 OUT=/tmp/prof bash "$D/device-profile.sh" \
        2>&1 | grep -E "absorb|batch"
    done
  done 2>&1 | tee "$OUT/profile.txt"
fi
