#!/bin/bash
# device-ncu-source.sh - run on the GPU machine: Nsight Compute's warp-state
# sampling per SASS instruction (SourceCounters) of one launch of a kernel
# (KERNEL, a regex; default the fused LL decoder step) in a t5-small
# (MODEL) fp16 batch-1 generate of BIN (default lab/t5bench_engine),
# exported as CSV: which instructions the
# warps wait at, and why. Reads with bench/ncu-source-summary.py (here).
#   LABS=t5bench_engine bash bench/device-pack.sh   (here)
#   run(command="bash bench/device-ncu-source.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
. "$(dirname "$0")/device-setup.sh"
M=${MODEL:-t5-small}
$B/t5serve random-model --shape $M --out /tmp/$M --dtype fp16 > /dev/null
rm -f /tmp/src.ncu-rep
T5_CUDA_NO_GRAPHS=1 timeout 300 ncu --kernel-name regex:${KERNEL:-fused_ll} --launch-skip ${SKIP:-20} \
  --launch-count 1 --section SourceCounters --section WarpStateStats --section SpeedOfLight \
  -o /tmp/src ${BIN:-$B/lab/t5bench_engine} --model /tmp/$M --device cuda --dtype fp16 --batch 1 --beams 1 \
  --iters 3 --warmup 1 > "$OUT/ncu-source-log.txt" 2>&1
echo "ncu rc $?" | tee -a "$OUT/ncu-source-log.txt"
ncu -i /tmp/src.ncu-rep --page details > "$OUT/ncu-source-details.txt" 2>&1
ncu -i /tmp/src.ncu-rep --page source --csv --print-source sass 2> "$OUT/ncu-source-err.txt" | gzip > "$OUT/ncu-source-sass.csv.gz"
ls -la "$OUT"
