#!/bin/bash
# device-serve-pack.sh - run HERE before bench/device-serve.sh: builds the
# CUDA t5serve for sm_90a, strips and packs it (the carried tree must stay
# under 64 MiB), and makes the benchmark queries (.devdata/q, ignored).
set -e
cd "$(dirname "$0")/.."
cmake -S . -B build-gpu-lead -DT5_CUDA=ON -DT5_CUDA_ARCHS=90a >/dev/null
cmake --build build-gpu-lead -j2 --target t5serve test_inflight
mkdir -p build-gpu-lead/pack && strip -o build-gpu-lead/pack/t5serve build-gpu-lead/t5serve
# test_inflight on CUDA (device-serve.sh CHECK=1): every in-flight row == its alone run
strip -o build-gpu-lead/pack/test_inflight build-gpu-lead/tests/sched/test_inflight
tar -cf - -C build-gpu-lead/pack t5serve test_inflight | xz -T2 -2 > build-gpu-lead/serve.tar.xz
[ -f .devdata/q/zipf.txt.gz ] || { python3 bench/inflight_queries.py \
  --spm models/speller/1/spiece.model --out .devdata/q && gzip -f .devdata/q/zipf.txt; }
ls -la build-gpu-lead/serve.tar.xz .devdata/q
