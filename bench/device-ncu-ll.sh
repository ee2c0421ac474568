#!/bin/bash
# device-ncu-ll.sh - run on the GPU machine: where the LL fused decoder step
# (fused_step.cu's fused_ll_kernel) stalls, by source line: Nsight Compute
# warp-state sampling of one step of t5-small fp16 at batch 1 (graphs off so
# ncu sees the kernel), then the source page as CSV, its lines ranked by
# stall samples (top 45 with their reasons) into $OUT/ncu-ll.txt.
#   LABS=t5bench_engine bash bench/device-pack.sh   (here; build-cuda has -lineinfo)
#   run(command="bash bench/device-ncu-ll.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
. "$(dirname "$0")/device-setup.sh"
M=${MODEL:-t5-small}
$B/t5serve random-model --shape $M --out /tmp/$M --dtype fp16 > /dev/null
T5_CUDA_NO_GRAPHS=1 timeout 300 ncu --kernel-name regex:fused_ll_kernel --launch-skip ${SKIP:-30} --launch-count 1 \
  --section WarpStateStats --section SourceCounters --import-source yes -f -o /tmp/ll \
  $B/lab/t5bench_engine --model /tmp/$M --device cuda --dtype fp16 --batch 1 --beams 1 --iters 3 \
  > "$OUT/ncu-run.txt" 2>&1
echo "ncu rc $?" >> "$OUT/ncu-run.txt"
tail -5 "$OUT/ncu-run.txt"
ncu -i /tmp/ll.ncu-rep --page details --section WarpStateStats > "$OUT/ncu-warpstate.txt" 2>&1
ncu -i /tmp/ll.ncu-rep --page source --csv --print-source ${SRC:-sass} > /tmp/src.csv 2> "$OUT/ncu-src-err.txt"
head -c 3000 /tmp/src.csv > "$OUT/ncu-src-head.txt"
wc -l /tmp/src.csv | tee -a "$OUT/ncu-run.txt"
python3 - /tmp/src.csv <<'PY' > "$OUT/ncu-ll.txt" 2>&1
import csv, sys
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
for r in rows[:4]:
    print("head:", [c[:60] for c in r][:40])
hdr_i = next(i for i, r in enumerate(rows) if any("Sampling" in c for c in r))
hdr = rows[hdr_i]
print("columns:", hdr)
si = next(i for i, c in enumerate(hdr) if "Sampling" in c and "Not" not in c)
def num(x):
    try: return float(x.replace(",", ""))
    except: return 0.0
body = [r for r in rows[hdr_i + 1:] if len(r) == len(hdr)]
tot = sum(num(r[si]) for r in body)
print("total stall samples", tot)
reasons = [i for i, c in enumerate(hdr) if c.startswith("stall_") and "Not Issued" not in c]
agg = {hdr[i]: sum(num(r[i]) for r in body) for i in reasons}
print("all samples by reason:", ", ".join(f"{k[6:]} {v / max(tot, 1) * 100:.1f}%"
      for k, v in sorted(agg.items(), key=lambda x: -x[1]) if v > 0))
for r in sorted(body, key=lambda r: -num(r[si]))[:45]:
    top = sorted(((num(r[i]), hdr[i][6:]) for i in reasons), reverse=True)[:2]
    print(f"{num(r[si]) / max(tot, 1) * 100:5.1f}%  {r[0][-5:]}  {r[1].strip()[:60]:60s}  "
          + ", ".join(f"{n} {int(v)}" for v, n in top if v > 0))
PY
head -70 "$OUT/ncu-ll.txt"
