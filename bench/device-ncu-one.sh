#!/bin/bash
# device-ncu-one.sh - run on the GPU machine: Nsight Compute's speed of
# light, memory, occupancy, launch and warp-state sections of one kernel
# (KERNEL, a regex; default absorb) in a t5-small (MODEL) fp16 batch-1 generate.
#   LABS=t5bench_engine bash bench/device-pack.sh   (here)
#   run(command="KERNEL=absorb bash bench/device-ncu-one.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
. "$(dirname "$0")/device-setup.sh"
M=${MODEL:-t5-small}
$B/t5serve random-model --shape $M --out /tmp/$M --dtype fp16 > /dev/null
T5_CUDA_NO_GRAPHS=1 timeout 300 ncu --kernel-name regex:${KERNEL:-absorb} --launch-skip ${SKIP:-2} --launch-count 1 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
  --section WarpStateStats --section SchedulerStats \
  $B/lab/t5bench_engine --model /tmp/$M --device cuda --dtype fp16 --batch 1 --beams 1 --iters 3 --warmup 1 \
  > "$OUT/ncu-one.txt" 2>&1
echo "ncu rc $?" | tee -a "$OUT/ncu-one.txt"
