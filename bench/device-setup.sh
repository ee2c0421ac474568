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

# ids_table BUILDS BEAMS SHAPE...: one line per (shape, dtype, beam count) with each build's
# ids and score for a batch-1 request (BUILDS: run_mode's MODEs; BEAMS: e.g. "1 4").
ids_table() {
  local builds=$1 beams_list=$2 m dir dt beams line b r
  shift 2
  for m in "$@"; do
    dir=$(shape_dir $m)
    for dt in fp16 bf16; do
      for beams in $beams_list; do
        line="$m $dt beams $beams:"
        for b in $builds; do
          r=$(run_mode $b --model $dir --device cuda --dtype $dt --batch 1 --beams $beams \
            --iters 1 --warmup 0 2>/dev/null | grep -o "ids:.*")
          line="$line | $b $r"
        done
        echo "$line"
      done
    done
  done
}

# fixtures_on_off DTYPE VAR=VAL...: test_engine_fixtures on CUDA in DTYPE as built ("on"), then
# with the variables set ("off"): counts, fixture_summary and the md5 of the encoder errors of
# each (equal md5s: the change left the encoder's output as it was).
fixtures_on_off() {
  local dt=$1 tag f
  shift
  local vars=("$@") set_now
  for tag in on off; do
    f=/tmp/fx/fixtures-$dt-$tag.txt
    set_now=()
    [ $tag = off ] && set_now=("${vars[@]}")
    env "${set_now[@]}" T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
      $B/tests/engine/test_engine_fixtures > $f 2>&1
    echo "== fixtures $dt, change $tag (rc $?): $(tail -1 $f)"
    fixture_summary $f
    grep -oE "^  [a-z0-9_]+ case [0-9]+: encoder rel err [^,]+" $f | md5sum
  done
}

# props_dtypes DTYPE...: test_engine_props on CUDA in each dtype.
props_dtypes() {
  local dt
  for dt in "$@"; do
    T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt timeout 100 $B/tests/engine/test_engine_props \
      > /tmp/fx/props-$dt.txt 2>&1
    echo "== test_engine_props cuda $dt (rc $?): $(tail -1 /tmp/fx/props-$dt.txt)"
    grep -i "fail" /tmp/fx/props-$dt.txt | head -5
  done
}

# memcheck_shapes SHAPE...: compute-sanitizer memcheck of a 9-token batch-1 generate of each
# shape in fp16 and bf16.
memcheck_shapes() {
  local m dt
  for m in "$@"; do
    for dt in fp16 bf16; do
      echo "== memcheck: $m $dt generate"
      timeout 120 compute-sanitizer --tool memcheck --leak-check no \
        $B/t5serve generate --model $(shape_dir $m) --input-ids 5,6,7,8,9,10,11,12,13 \
        --device cuda --dtype $dt --max-new-tokens 11 --json 2>&1 | tail -2
    done
  done
}

# ab_modes SHAPES MODES: batch-1 fp16 p50, p99, step and "encoder + fixed" (ms; ITERS iterations, 40) of each MODE in
# turn (run_mode's; list a mode again to alternate), labelled SHAPE-MODE without "T5_CUDA_".
ab_modes() {
  local m mode lb dir
  for m in $1; do
    dir=$(shape_dir $m)
    for mode in $2; do
      lb=$m-$(echo "$mode" | sed 's/T5_CUDA_//g')
      run_mode $mode --model $dir --device cuda --dtype fp16 --batch 1 --iters ${ITERS:-40} --breakdown \
        --label "$lb" 2>&1 | grep -E "^$m" |
        awk '{print $1, "p50", $7, "p99", $8, "step", $10, "enc+fixed", $11}'
    done
  done
}
