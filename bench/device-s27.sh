#!/bin/bash
# device-s27.sh - run on the GPU machine: session 27's check of the shape
# kernels (fused_step.cu's fs_shape: a one-row chain built with its sizes as
# constants). For each shape that has one (random weights written here, and
# the speller), dtype and input (--seed), a batch-1 greedy request's ids and
# score with T5_CUDA_FUSED_SHAPES=2 (the shape kernel, which it names on
# stderr) against T5_CUDA_FUSED_SHAPES=0 (the kernel of any shape): the same
# bits expected. Then device-s26.sh with the same environment (QUICK checks,
# PROBE, A/B by MODES).
#   LABS=t5bench_engine [EXTRA="head:/tmp/t5bench_head"] bash bench/device-pack.sh
#   run(command="SHAPES='t5-small t5-base' MODES='new new@T5_CUDA_FUSED_SHAPES=0 head' \
#       QUICK=1 PROBE=0 TMODES= bash bench/device-s27.sh",
#       carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
SEEDS=${SEEDS:-1 2 3}
for m in ${CHECK_SHAPES:-t5-small t5-base flan-t5-small flan-t5-base speller}; do
  dir=$(shape_dir $m)
  for dt in fp16 bf16; do
    for seed in $SEEDS; do
      args="--model $dir --device cuda --dtype $dt --batch 1 --iters 1 --warmup 0 --seed $seed"
      a=$(T5_CUDA_FUSED_SHAPES=0 timeout 60 $B/lab/t5bench_engine $args | grep -o "ids:.*")
      b=$(T5_CUDA_FUSED_SHAPES=2 timeout 60 $B/lab/t5bench_engine $args 2> /tmp/fx/said.txt |
        grep -o "ids:.*")
      said=$(grep -m1 "chain kernel of shape" /tmp/fx/said.txt | sed 's/.*: //')
      if [ -n "$a" ] && [ "$a" = "$b" ]; then r=same; else r="DIFFER ($a)"; fi
      echo "$m $dt seed $seed: $r [${said:-no shape kernel}] $b"
    done
  done
done 2>&1 | tee "$OUT/shapes.txt"
# the speller as a SHAPES entry of device-s26.sh
[ -e /tmp/speller ] || ln -sfn "$PWD/models/speller/1" /tmp/speller
bash "$D/device-s26.sh"
