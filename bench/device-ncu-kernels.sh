#!/bin/bash
# device-ncu-kernels.sh - run on the GPU machine: every kernel of one
# t5-small (MODEL) fp16 batch-1 generate, 9 in / 11 out, with its GPU time
# (Nsight Compute, graphs off so it sees each kernel; serialized, so the sum
# is the kernels' time without overlap): where the encoder and the fixed
# part of a request go. The last generate's kernels are the last lines.
#   LABS=t5bench_engine bash bench/device-pack.sh   (here)
#   run(command="bash bench/device-ncu-kernels.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
. "$(dirname "$0")/device-setup.sh"
M=${MODEL:-t5-small}
$B/t5serve random-model --shape $M --out /tmp/$M --dtype fp16 > /dev/null
T5_CUDA_NO_GRAPHS=1 timeout 300 ncu --metrics gpu__time_duration.sum --csv --page raw \
  --cache-control none --clock-control none -f \
  $B/lab/t5bench_engine --model /tmp/$M --device cuda --dtype fp16 --batch 1 --beams 1 --iters 2 --warmup 1 \
  > /tmp/ncu-k.csv 2> "$OUT/ncu-k-err.txt"
echo "ncu rc $?"
python3 - /tmp/ncu-k.csv <<'PY' | tee "$OUT/ncu-kernels.txt"
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1], errors="replace"))]
hi = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hi]
ki, ti = h.index("Kernel Name"), next(i for i, c in enumerate(h) if c.startswith("gpu__time_duration"))
body = [r for r in rows[hi + 1:] if len(r) == len(h) and r[ti].replace(".", "").replace(",", "").isdigit()]
print("kernels", len(body), "time unit", rows[hi + 1][ti])
for r in body[-140:]:
    print(f"{float(r[ti].replace(',', '')):10.2f}  {r[ki][:110]}")
PY
