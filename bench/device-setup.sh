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
