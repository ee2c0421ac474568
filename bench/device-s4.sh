#!/bin/bash
# device-s4.sh - run on the GPU machine: one call that checks engine changes
# on CUDA and says where a multi-row decoder step's time goes.
#   0. the kernel lab (LABS: lab_topk, lab_attn, lab_kvcache against the CPU
#      reference) and memcheck of MEMCHECK labs;
#   1. engine fixtures on CUDA (DTYPES, default fp32 fp16), summary per model;
#   2. test_inflight on CUDA fp32 (every in-flight row equals its alone run);
#   3. t5bench_engine, t5-small fp16 at BATCHES (default 1,8,64,300,1024) with
#      --breakdown, t5-base at batch 1;
#   4. Nsight Compute per-kernel times (graphs off) at PBATCHES rows
#      (bench/device-profile.sh).
#   bash bench/device-pack.sh   (here)
#   run(command="bash bench/device-s4.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# Knobs: LABS, MEMCHECK, DTYPES, CHECK=0 (skip 0-2), BATCHES, ITERS, AB, AB_BATCHES,
# PROFILE=0, PBATCHES.
set -u
. "$(dirname "$0")/device-setup.sh"
if [ "${CHECK:-1}" = 1 ]; then
  {
  for p in ${LABS:-topk attn kvcache}; do
    SECONDS=0
    timeout 120 $B/lab/lab_$p > /tmp/fx/lab_$p.txt 2>&1
    echo "== lab_$p (rc $?, ${SECONDS}s): $(grep -cE 'FAIL|failed' /tmp/fx/lab_$p.txt) failure lines; $(tail -1 /tmp/fx/lab_$p.txt)"
    grep -E "FAIL|failed" /tmp/fx/lab_$p.txt | head -5
  done
  if [ -n "${MEMCHECK:-topk}" ]; then
    for p in $MEMCHECK; do
      timeout 200 compute-sanitizer --tool memcheck --leak-check no $B/lab/lab_$p > /tmp/fx/mc_$p.txt 2>&1
      echo "== memcheck lab_$p: rc=$? $(grep -E 'ERROR SUMMARY' /tmp/fx/mc_$p.txt)"
    done
  fi
  for dt in ${DTYPES:-fp32 fp16}; do
    f=/tmp/fx/fixtures-$dt.txt
    SECONDS=0
    T5_TEST_DEVICE=cuda T5_TEST_DTYPE=$dt T5_TEST_VERBOSE=1 timeout ${FX_TIMEOUT:-150} $B/tests/engine/test_engine_fixtures > $f 2>&1
    echo "== fixtures $dt (rc $?, ${SECONDS}s): $(tail -1 $f)"
    fixture_summary $f
  done
  SECONDS=0
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp32 timeout 120 $B/tests/sched/test_inflight > /tmp/fx/inflight.txt 2>&1
  echo "== test_inflight cuda fp32 (rc $?, ${SECONDS}s): $(tail -2 /tmp/fx/inflight.txt | tr '\n' ' ')"
  } 2>&1 | tee "$OUT/check.txt"
  tar -czf "$OUT/logs.tar.gz" -C /tmp/fx .   # every lab and fixture log
fi
{
$B/t5serve random-model --shape t5-small --out /tmp/t5-small --dtype fp16 > /dev/null
$B/t5serve random-model --shape t5-base --out /tmp/t5-base --dtype fp16 > /dev/null
timeout 200 $B/lab/t5bench_engine --model /tmp/t5-small --device cuda --dtype fp16 --beams 1 \
  --batch ${BATCHES:-1,8,64,300,1024} --iters ${ITERS:-30} --breakdown --label t5-small
for v in ${AB:-}; do   # A/B: the same run with one backend switch set, e.g. AB=T5_CUDA_NO_LANE_ATTN=1
  env $v timeout 200 $B/lab/t5bench_engine --model /tmp/t5-small --device cuda --dtype fp16 --beams 1 \
    --batch ${AB_BATCHES:-8,64,300} --iters ${ITERS:-30} --breakdown --label "t5-small-${v%%=*}"
done
timeout 60 $B/lab/t5bench_engine --model /tmp/t5-base --device cuda --dtype fp16 --beams 1 \
  --batch 1 --iters ${ITERS:-30} --breakdown --label t5-base
} 2>&1 | tee "$OUT/bench.txt"
if [ "${PROFILE:-1}" = 1 ]; then
  PBATCHES=${PBATCHES:-1 300 1024} NEW=2 MODEL=t5-small bash "$(dirname "$0")/device-profile.sh" > /dev/null 2>&1
  cat "$OUT/profile.txt"
fi
# NCU_KERNELS: Nsight Compute's speed-of-light, occupancy, launch and
# warp-state sections for one instance of each kernel named (regex), from a
# t5-small fp16 batch-NCU_BATCH generate (graphs off).
if [ -n "${NCU_KERNELS:-}" ]; then
  for k in $NCU_KERNELS; do
    T5_CUDA_NO_GRAPHS=1 timeout 120 ncu --clock-control none -k regex:$k --launch-skip ${NCU_SKIP:-2} -c 1 \
      --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
      --section MemoryWorkloadAnalysis \
      $B/lab/t5bench_engine --model /tmp/t5-small --device cuda --dtype fp16 --batch ${NCU_BATCH:-1024} \
      --beams 1 --new-tokens 2 --iters 1 --warmup 0 2>&1 | grep -vE "^==PROF==|^label|^t5-small" 
  done > "$OUT/ncu-detail.txt"
  grep -E "Duration|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit|Waves Per SM|Memory Throughput|Compute \(SM\)|Warp Cycles Per Issued|Stall|^  [a-z_]+.*\(" "$OUT/ncu-detail.txt" | head -80
fi
