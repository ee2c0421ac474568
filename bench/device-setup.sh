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
