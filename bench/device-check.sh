#!/bin/bash
# device-check.sh - run on the GPU machine (device tool `run`): the CUDA
# kernel lab (every kernel family against the CPU reference), a
# compute-sanitizer memcheck pass, and the memory-bandwidth ceiling.
#
# Binaries are built on the dev machine (cmake -S . -B build-cuda
# -DT5_CUDA=ON -DT5_CUDA_ARCHS=90a && cmake --build build-cuda --target ...)
# and carried: run(command="bash bench/device-check.sh",
#                  carry=["build-cuda/lab", ".devlibs/lib"]).
# See bench/DEVICE-NOTES.md.
set -u
bash "$(dirname "$0")/device-unpack.sh"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
LAB=${LAB:-build-cuda/lab}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv | tee "$OUT/gpu.txt"
fail=0
for p in gemm norm ffn_act attn kvcache topk; do
  timeout 300 "$LAB/lab_$p" > "$OUT/lab_$p.txt" 2>&1 || { echo "lab_$p FAILED rc=$?"; fail=1; }
  grep -E "FAIL|failed" "$OUT/lab_$p.txt" | tail -5
done
cat "$OUT"/lab_*.txt > "$OUT/lab_all.txt"
if [ "${SANITIZE:-1}" = 1 ]; then
  for p in kvcache topk attn; do
    timeout 200 compute-sanitizer --tool memcheck --leak-check no "$LAB/lab_$p" > "$OUT/memcheck_$p.txt" 2>&1
    echo "memcheck lab_$p: rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/memcheck_$p.txt")"
  done
fi
# Memory bandwidth ceiling: a large device-to-device copy (bytes read + written).
python3 - <<'PY' 2>&1 | tee "$OUT/bandwidth.txt"
import torch
x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize()
s, e = torch.cuda.Event(True), torch.cuda.Event(True)
ts = []
for _ in range(20):
    s.record(); y.copy_(x); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
ts.sort(); t = ts[len(ts)//2] / 1e3
print(f"d2d copy 1 GiB: {2 * x.numel() / t / 1e9:.0f} GB/s (read+write), median {t*1e3:.3f} ms")
PY
exit $fail
