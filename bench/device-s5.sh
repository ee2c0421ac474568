#!/bin/bash
# device-s5.sh - run on the GPU machine: the engine checks of session 5.
#   1. engine fixtures on CUDA (DTYPES, default fp32 fp16), incl. one encode
#      of 200 requests (an eager group, GEMMs over padded rows) against the
#      fixture's encoder outputs;
#   2. t5bench_engine, t5-small fp16 at BATCHES (1,64,300,1024) with
#      --breakdown, t5-base at batch 1, with T5_CUDA_PLAN_STATS (GEMM plans
#      built per stream, printed when it is destroyed).
#   bash bench/device-pack.sh   (here; LABS=t5bench_engine keeps it small)
#   run(command="bash bench/device-s5.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# (Session 5's first version swept T5_CUDA_FUSED_BLOCKS, the fused step's
# grid size: fewer blocks were slower at every size; bench/cuda.md.)
set -u
. "$(dirname "$0")/device-setup.sh"
{
for dt in ${DTYPES:-fp32 fp16}; do
  f=/tmp/fx/fixtures-$dt.txt
  SECONDS=0
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout 150 \
    $B/tests/engine/test_engine_fixtures > $f 2>&1
  echo "== fixtures $dt (rc $?, ${SECONDS}s): $(tail -1 $f)"
  grep "requests in one encode" $f
  fixture_summary $f
done
} 2>&1 | tee "$OUT/check.txt"
{
$B/t5serve random-model --shape t5-small --out /tmp/t5-small --dtype fp16 > /dev/null
$B/t5serve random-model --shape t5-base --out /tmp/t5-base --dtype fp16 > /dev/null
T5_CUDA_PLAN_STATS=1 timeout 200 $B/lab/t5bench_engine --model /tmp/t5-small --device cuda \
  --dtype fp16 --beams 1 --batch ${BATCHES:-1,64,300,1024} --iters ${ITERS:-30} --breakdown \
  --label t5-small
timeout 60 $B/lab/t5bench_engine --model /tmp/t5-base --device cuda --dtype fp16 --beams 1 \
  --batch 1 --iters ${ITERS:-30} --breakdown --label t5-base
} 2>&1 | tee "$OUT/bench.txt"
