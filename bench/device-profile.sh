#!/bin/bash
# device-profile.sh - where the microseconds go: per-kernel GPU time of one
# generate (encoder + decoder steps) from Nsight Compute, grouped by kernel,
# for t5-small fp16 at a few batch sizes. Graphs are off here (ncu times
# each kernel alone), so the sum is pure kernel time; compare it with the
# end-to-end step time of device-bench.sh to see the launch/host share.
# BIN: another build of t5bench_engine (e.g. lab/t5bench_head).
#   run(command="bash bench/device-profile.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"]) after bench/device-pack.sh
set -u
bash "$(dirname "$0")/device-unpack.sh"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
B=build-cuda
M=${MODEL:-t5-small}
[ -d /tmp/$M ] || $B/t5serve random-model --shape $M --out /tmp/$M --dtype fp16 > /dev/null
for batch in ${PBATCHES:-1 8}; do for beams in ${PBEAMS:-1}; do
  T5_CUDA_NO_GRAPHS=1 timeout 240 ncu --cache-control none --clock-control none --csv --metrics gpu__time_duration.sum --print-units base \
    ${BIN:-$B/lab/t5bench_engine} --model /tmp/$M --device cuda --dtype fp16 --batch $batch --beams $beams \
    --new-tokens ${NEW:-2} --iters 1 --warmup 0 > "$OUT/ncu-$M-b$batch-k$beams.csv" 2>/dev/null
  python3 - "$OUT/ncu-$M-b$batch-k$beams.csv" "$batch" "$beams" <<'PY'
import csv, sys, collections, re
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
hdr = rows[0]; rows = rows[1:]
ki, vi = hdr.index("Kernel Name"), hdr.index("Metric Value")
tot = collections.defaultdict(float); cnt = collections.Counter()
for r in rows:
    name = re.sub(r"\(.*", "", r[ki]).replace("void ", "")[:60]
    tot[name] += float(r[vi].replace(',', '')) / 1e3; cnt[name] += 1
s = sum(tot.values())
print(f"== batch {sys.argv[2]} beams {sys.argv[3]}: {len(rows)} kernels, {s:.1f} us GPU time")
for k, v in sorted(tot.items(), key=lambda x: -x[1])[:14]:
    print(f"  {v:9.1f} us {cnt[k]:5d}x {v/cnt[k]:7.2f} us/each  {k}")
PY
done; done 2>&1 | tee "$OUT/profile.txt"
