#!/bin/bash
# device-s19.sh - run on the GPU machine: session 19's encoder inputs in one
# copy (encode.c: a group's lengths, slots and ids in one block, one h2d
# instead of three) against HEAD's build ("head": its t5bench_engine
# carried as lab/t5bench_head).
#   1. QUICK (default 1): the engine fixtures on CUDA fp16, test_engine_props
#      on CUDA fp16, test_inflight on CUDA fp32 (its encodes on the encoder
#      stream, overlapping steps);
#   2. device-s16.sh: batch-1 greedy with MODES alternating (default new /
#      head five times), RROWS (1x4 8x1), CHECK (0) for device-s8.sh's full
#      checks, BENCH (0) for bench/device-bench.sh after.
#   cmake --build build-cuda
#   LABS=t5bench_engine EXTRA="head:/tmp/t5bench_HEAD" bash bench/device-pack.sh
#   run(command="bash bench/device-s19.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
if [ "${QUICK:-1}" = 1 ]; then
  f=/tmp/fx/fixtures-fp16.txt
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp16 T5_TEST_VERBOSE=1 timeout 150 \
    $B/tests/engine/test_engine_fixtures > $f 2>&1
  echo "== fixtures fp16 (rc $?): $(tail -1 $f)"
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp16 timeout 100 $B/tests/engine/test_engine_props \
    > /tmp/fx/props-fp16.txt 2>&1
  echo "== test_engine_props cuda fp16 (rc $?): $(tail -1 /tmp/fx/props-fp16.txt)"
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp32 timeout 200 $B/tests/sched/test_inflight \
    > /tmp/fx/inflight-fp32.txt 2>&1
  echo "== test_inflight cuda fp32 (rc $?): $(tail -1 /tmp/fx/inflight-fp32.txt)"
fi 2>&1 | tee "$OUT/quick.txt"
CHECK=${CHECK:-0} LAB="" BENCH=${BENCH:-0} LARGE=0 RROWS="${RROWS:-1x4 8x1}" TMODES="${TMODES:- }" \
  MODES="${MODES:-new head new head new head new head new head}" bash $D/device-s16.sh
