#!/bin/bash
# device-s28.sh - run on the GPU machine: session 28's checks and A/B of
# the chain's head without its grid barrier (fs_head_chain: the token from
# the blocks' best pairs as LL words, the log-probabilities merged at the
# chain's end) and the chunked RMSNorm (fs_norm_ck, fused into the chain's
# gathers). Against EXTRA builds (e.g. base = the session's start, headonly
# = the head alone):
#   1. ids and score bits of batch-1 greedy requests, each build (the head
#      alone must give the base's bits; the norm changes the sums' order);
#   2. device-s27.sh: the shape kernels against the kernel of any shape
#      (same bits), QUICK checks, traces (TMODES), batch-1 p50s (MODES);
#   3. batch 8 and 4 beams (the single-step kernels), ABMODES alternating.
#   LABS=t5bench_engine EXTRA="base:/tmp/t5bench_base headonly:/tmp/t5bench_headonly" \
#     bash bench/device-pack.sh
#   run(command="bash bench/device-s28.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
BUILDS=${BUILDS:-new base headonly}
for m in ${OUT_SHAPES:-t5-small t5-base speller}; do
  dir=$(shape_dir $m)
  for dt in fp16 bf16; do
    for seed in ${OSEEDS:-1 2 3}; do
      line="$m $dt seed $seed:"
      for b in $BUILDS; do
        bin=$B/lab/t5bench_engine; [ $b = new ] || bin=$B/lab/t5bench_$b
        r=$(timeout 60 $bin --model $dir --device cuda --dtype $dt --batch 1 --iters 1 \
          --warmup 0 --seed $seed | grep -o "ids:.*")
        line="$line | $b $r"
      done
      echo "$line"
    done
  done
done 2>&1 | tee "$OUT/outputs.txt"
CHECK_SHAPES=${CHECK_SHAPES:-t5-small t5-base speller} SEEDS=${SEEDS:-1 2} \
  bash "$D/device-s27.sh"
for m in ${SHAPES:-t5-small}; do
  for mode in ${ABMODES:-new base new base}; do
    bin=$B/lab/t5bench_engine; [ $mode = new ] || bin=$B/lab/t5bench_$mode
    timeout 120 $bin --model /tmp/$m --device cuda --dtype fp16 --batch 8 --iters 30 \
      --label $m-$mode | grep "^$m"
    timeout 120 $bin --model /tmp/$m --device cuda --dtype fp16 --batch 1 --beams 4 --iters 30 \
      --label $m-$mode-b4 | grep "^$m"
  done
done 2>&1 | tee "$OUT/ab-many.txt"
