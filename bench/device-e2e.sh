#!/bin/bash
# device-e2e.sh - run on the GPU machine: the engine against the Hugging
# Face fixtures on the CUDA backend (fp32, fp16, bf16), compute-sanitizer
# memcheck on short generate runs, then a quick engine benchmark.
#
# Binaries come from the dev machine (build-cuda, -DT5_CUDA_ARCHS=90a):
#   run(command="bash bench/device-e2e.sh",
#       carry=["build-cuda/carry.tar.xz", ".devlibs/lib"]) after bench/device-pack.sh
set -u
bash "$(dirname "$0")/device-unpack.sh"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
# The tests were compiled with the fixture path of the dev machine.
[ -e /work/main ] || { mkdir -p /work && ln -sfn "$PWD" /work/main; }
B=build-cuda
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
{
for p in ${LABS:-topk attn}; do timeout 120 $B/lab/lab_$p | grep -E "FAIL|failed|logits_topk|attn_encoder short +fp16"; done
for dt in fp32 fp16 bf16; do
  echo "== engine fixtures on cuda $dt"
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 300 $B/tests/engine/test_engine_fixtures > "$OUT/fixtures-$dt.txt" 2>&1
  tail -1 "$OUT/fixtures-$dt.txt"
  for mdl in $(python3 -c "import json; print(' '.join(json.load(open('tests/fixtures/index.json'))['models']))"); do
    nf=$(grep "CHECK failed" "$OUT/fixtures-$dt.txt" | grep -c -- "$mdl")
    worst=$(grep -oE "^  $mdl case [0-9]+: encoder rel err [^,]+, logits rel err [0-9.e+-]+" "$OUT/fixtures-$dt.txt" | awk '{print $NF}' | sort -g | tail -1)
    echo "  $mdl: $nf failed checks; worst logits rel err $worst"
  done
  grep "CHECK failed" "$OUT/fixtures-$dt.txt" | grep -v "beam\|batch" | head -${NFAIL:-5}
done
echo "== memcheck: generate greedy and beam on cuda"
M=tests/fixtures/models/t5_v1_1
for dt in fp16 bf16; do
  timeout 200 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype $dt --max-new-tokens 6 --num-beams 3 --num-return-sequences 2 --json 2>&1 | tail -4
  timeout 200 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate --model $M --input-ids 5,6,7,8,9 --device cuda --dtype $dt --max-new-tokens 6 --json 2>&1 | tail -3
done
} 2>&1 | tee "$OUT/e2e.txt"
if [ "${BENCH:-1}" = 1 ]; then
  $B/t5serve random-model --shape t5-small --out /tmp/t5-small --dtype fp16 > /dev/null
  for beams in 1 4; do
    $B/lab/t5bench_engine --model /tmp/t5-small --device cuda --dtype fp16 --beams $beams \
      --batch ${BATCHES:-1,8,64,256,1024} --iters ${ITERS:-30} --breakdown --label t5-small
  done 2>&1 | tee "$OUT/quick-bench.txt"
fi
