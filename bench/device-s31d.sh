#!/bin/bash
# device-s31d.sh - run on the GPU machine (needs bench/results/2026-11-28-s31-embed-ckv-dropped.diff
# applied; dropped, bench/cuda.md session 31): session 31's checks and A/B of the
# encoder's embedding taken into layer 0's q|k|v GEMM prologue and its cross K/V
# store into the cross K/V GEMM's epilogue (gemv.cu; T5_CUDA_NO_EMBED_FUSE=1 /
# T5_CUDA_NO_CKV_FUSE=1 turn them off in the same binary; T5_CUDA_ABSORB_MMA=0
# the tensor-core absorb of 139a9a5). Against EXTRA builds (base = c0db95f):
#   1. ids and scores of batch-1 greedy requests and 4 beams: new, new with the
#      three off, each EXTRA build;
#   2. the engine fixtures on CUDA fp16 / bf16 with the two on and off, props fp16
#      and bf16, test_inflight fp32 and memcheck of fixture generates (beams 1 2 4)
#      and of the shapes' batch-1 generates;
#   3. batch-1 p50s with MODES alternating, with the "encoder + fixed" part;
#   4. (PROFILE=1) Nsight Compute's per-kernel times of a t5-small and a t5-base
#      request.
#   LABS=t5bench_engine EXTRA="base:/tmp/base_t5bench_engine" bash bench/device-pack.sh
#   run(command="bash bench/device-s31d.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
OFF=T5_CUDA_NO_EMBED_FUSE=1@T5_CUDA_NO_CKV_FUSE=1
ALL=$OFF@T5_CUDA_ABSORB_MMA=0
if [ "${IDS:-1}" = 1 ]; then
for m in ${OUT_SHAPES:-t5-small t5-base flan-t5-small flan-t5-base speller}; do
  dir=$(shape_dir $m)
  for dt in fp16 bf16; do
    for beams in 1 4; do
      line="$m $dt beams $beams:"
      for b in ${BUILDS:-new new@$ALL base}; do
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
    for off in 0 1; do
      f=/tmp/fx/fixtures-$dt-off$off.txt
      if [ $off = 1 ]; then export T5_CUDA_NO_EMBED_FUSE=1 T5_CUDA_NO_CKV_FUSE=1
      else unset T5_CUDA_NO_EMBED_FUSE T5_CUDA_NO_CKV_FUSE; fi
      T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
        $B/tests/engine/test_engine_fixtures > $f 2>&1
      echo "== fixtures $dt fusions-off=$off (rc $?): $(tail -1 $f)"
      fixture_summary $f
      grep -oE "^  [a-z0-9_]+ case [0-9]+: encoder rel err [^,]+" $f | md5sum
    done
    unset T5_CUDA_NO_EMBED_FUSE T5_CUDA_NO_CKV_FUSE
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
  for mode in ${MODES:-new new@T5_CUDA_NO_EMBED_FUSE=1 new@T5_CUDA_NO_CKV_FUSE=1 new@$OFF base new new@T5_CUDA_NO_EMBED_FUSE=1 new@T5_CUDA_NO_CKV_FUSE=1 new@$OFF base}; do
    lb=$(echo "$mode" | sed 's/T5_CUDA_//g; s/NO_EMBED_FUSE=1/noemb/; s/NO_CKV_FUSE=1/nockv/')
    run_mode $mode --model $dir --device cuda --dtype fp16 --batch 1 --iters 40 --breakdown \
      --label $m-$lb 2>&1 | grep -E "^$m" | awk '{print $1, "p50", $7, "p99", $8, "step", $10, "enc+fixed", $11}'
  done
done 2>&1 | tee "$OUT/ab.txt"
if [ "${PROFILE:-1}" = 1 ]; then
  for m in t5-small t5-base; do
    for off in 0; do
      echo "== ncu $m"
      MODEL=$m PBATCHES=1 NEW=1 OUT=/tmp/prof bash "$D/device-profile.sh" \
        2>&1 | tail -14
    done
  done 2>&1 | tee "$OUT/profile.txt"
fi
