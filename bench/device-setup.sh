#!/bin/bash
# device-setup.sh - sourced by the device scripts (on the GPU machine): puts
# the packed binaries in place (device-unpack.sh), sets OUT, the libraries
# and B=build-cuda, and records the card in $OUT/gpu.txt.
bash "$(dirname "${BASH_SOURCE[0]}")/device-unpack.sh"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/fx
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
[ -e /work/main ] || { mkdir -p /work && ln -sfn "$PWD" /work/main; }
B=build-cuda
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
date -u | tee -a "$OUT/gpu.txt"
MODELS=$(python3 -c "import json; print(' '.join(json.load(open('tests/fixtures/index.json'))['models']))")

# fixture_summary FILE: failed checks and the worst logits error per fixture
# model in a T5_TEST_VERBOSE=1 log of test_engine_fixtures, then the first
# NFAIL (6) failed checks.
fixture_summary() {
  local f=$1 mdl nf worst
  for mdl in $MODELS; do
    nf=$(grep "CHECK failed" "$f" | grep -c -- "$mdl")
    worst=$(grep -oE "^  $mdl case [0-9]+: encoder rel err [^,]+, logits rel err [0-9.e+-]+" "$f" | awk '{print $NF}' | sort -g | tail -1)
    echo "  $mdl: $nf failed; worst logits rel err $worst"
  done
  grep "CHECK failed" "$f" | head -${NFAIL:-6}
}

# inflight_and_memcheck BEAMS...: test_inflight on CUDA fp32 (slots re-encoded
# under the in-flight scheduler; the warm-up included), then compute-sanitizer
# memcheck of an fp16 generate with each beam count.
inflight_and_memcheck() {
  local nb
  SECONDS=0
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp32 timeout 200 $B/tests/sched/test_inflight > /tmp/fx/inflight-fp32.txt 2>&1
  echo "== test_inflight cuda fp32 (rc $?, ${SECONDS}s): $(tail -1 /tmp/fx/inflight-fp32.txt)"
  grep -i "fail" /tmp/fx/inflight-fp32.txt | head -5
  echo "== memcheck: fp16 generates, beams $*"
  for nb in "$@"; do
    timeout 120 compute-sanitizer --tool memcheck --leak-check no $B/t5serve generate \
      --model tests/fixtures/models/t5_v1_1 --input-ids 5,6,7,8,9 --device cuda --dtype fp16 \
      --max-new-tokens 6 --num-beams $nb --json 2>&1 | tail -2
  done
}

# shape_dir SHAPE: the model directory of a shape: the speller's, or random
# weights written once by `t5serve random-model` under /tmp/SHAPE.
shape_dir() {
  if [ "$1" = speller ]; then
    echo models/speller/1
  else
    [ -d /tmp/$1 ] || $B/t5serve random-model --shape $1 --out /tmp/$1 --dtype fp16 > /dev/null
    echo /tmp/$1
  fi
}

# run_mode MODE ARGS...: t5bench_engine of MODE with ARGS (timeout 120 s). MODE is new (this
# build's lab/t5bench_engine) or an EXTRA build's NAME (lab/t5bench_NAME, device-pack.sh);
# NAME@VAR=VAL[@VAR2=VAL2] sets environment variables for the run.
run_mode() {
  local e="" m=$1; shift
  case $m in *@*) e=${m#*@}; e=${e//@/ }; m=${m%%@*};; esac
  local bin=$B/lab/t5bench_engine; [ $m = new ] || bin=$B/lab/t5bench_$m
  env $e timeout 120 $bin "$@"
}
