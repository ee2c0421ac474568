#!/bin/bash
# device-bench.sh - the issue 4 benchmark, in one device call: t5-small and
# t5-base shapes (random weights written here by `t5serve random-model`),
# 9 input tokens, exactly 11 output tokens, greedy and beam 4, batch 1, 8,
# 64, 256, 1024: p50/p99 latency and sequences/s for t5serve fp16 and bf16,
# side by side with Hugging Face transformers on the same card (eager fp32
# and fp16), and the memory floor (weight bytes per decoder step over the
# measured bandwidth). Results under $OUT; bench/cuda.md records them.
#
#   run(command="bash bench/device-bench.sh",
#       carry=["build-cuda/carry.tar.xz", ".devlibs/lib"]) after bench/device-pack.sh
set -u
bash "$(dirname "$0")/device-unpack.sh"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
B=build-cuda
MODELS=${MODELS:-t5-small t5-base}
BATCHES=${BATCHES:-1,8,64,256,1024}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for m in $MODELS; do $B/t5serve random-model --shape $m --out /tmp/$m --dtype fp16 > /dev/null || exit 1; done

# 1. Memory bandwidth and the per-step floor.
python3 - $MODELS <<'PY' 2>&1 | tee "$OUT/floor.txt"
import json, sys, torch
x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
s, e = torch.cuda.Event(True), torch.cuda.Event(True); ts = []
for _ in range(20):
    s.record(); y.copy_(x); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
ts.sort(); bw = 2 * x.numel() / (ts[10] / 1e3)
print(f"device-to-device copy: {bw/1e9:.0f} GB/s (bytes read + written)")
for m in sys.argv[1:]:
    c = json.load(open(f"/tmp/{m}/config.json"))
    d, inner, ff, V = c["d_model"], c["num_heads"] * c["d_kv"], c["d_ff"], c["vocab_size"]
    gated = c.get("feed_forward_proj", "relu").startswith("gated")
    L = c.get("num_decoder_layers") or c["num_layers"]
    per_layer = 3 * inner * d + d * inner + inner * d + d * inner + (2 if gated else 1) * ff * d + d * ff + 3 * d
    params = L * per_layer + V * d + d
    for es, name in ((2, "fp16/bf16"), (4, "fp32")):
        b = params * es
        print(f"{m}: decoder step reads {b/1e6:.1f} MB of {name} weights -> floor {b/bw*1e6:.1f} us/step, "
              f"{11*b/bw*1e3:.3f} ms for 11 steps (encoder and KV traffic not counted)")
PY

# 2. t5serve, in-process engine (t5_generate over the whole batch).
for m in $MODELS; do for dt in fp16 bf16; do for beams in 1 4; do
  $B/lab/t5bench_engine --model /tmp/$m --device cuda --dtype $dt --beams $beams --batch $BATCHES \
    --iters ${ITERS:-30} --warmup 3 --label $m $( [ $beams = 1 ] && echo --breakdown )
done; done; done 2>&1 | grep -v "^label" | tee "$OUT/t5serve.txt"
# Concurrent instances (one weight copy, a stream each) at large batch.
for m in $MODELS; do
  $B/lab/t5bench_engine --model /tmp/$m --device cuda --dtype fp16 --beams 1 --batch 256,1024 \
    --iters 20 --warmup 3 --instances 4 --label $m
done 2>&1 | grep -v "^label" | tee "$OUT/t5serve-instances.txt"

# Ablations at batch 1 (t5-small fp16 greedy): each switch off alone.
for sw in T5_CUDA_NO_GEMV T5_CUDA_NO_PDL T5_CUDA_NO_GRAPHS; do
  env $sw=1 $B/lab/t5bench_engine --model /tmp/t5-small --device cuda --dtype fp16 --batch 1,8 \
    --iters 30 --warmup 3 --breakdown --label ${sw#T5_CUDA_}
done 2>&1 | grep -v "^label" | tee "$OUT/t5serve-ablation.txt"

# 3. Hugging Face transformers on the same card.
PYTHONUNBUFFERED=1 timeout ${HF_TIMEOUT:-300} python3 - $MODELS <<'PY' 2>&1 | grep -v Warning | tee "$OUT/hf.txt"
import sys, time, torch, transformers
from transformers import T5ForConditionalGeneration
torch.backends.cuda.matmul.allow_tf32 = False
print("transformers", transformers.__version__, "torch", torch.__version__, torch.cuda.get_device_name())
import os
batches = [int(b) for b in os.environ.get("BATCHES", "1,8,64,256,1024").split(",")]
for m in sys.argv[1:]:
    for dt in (torch.float32, torch.float16):
        model = T5ForConditionalGeneration.from_pretrained(f"/tmp/{m}", dtype=dt).cuda().eval()
        V = model.config.vocab_size
        for beams in (1, 4):
            for B in batches:
                g = torch.Generator().manual_seed(1)
                ids = torch.randint(3, V, (B, 9), generator=g).cuda()
                kw = dict(max_new_tokens=11, min_new_tokens=11, num_beams=beams, do_sample=False)
                iters = 5 if B <= 64 else 3
                with torch.inference_mode():
                    model.generate(ids, **kw); torch.cuda.synchronize()
                    ts = []
                    for _ in range(iters):
                        t0 = time.perf_counter(); model.generate(ids, **kw); torch.cuda.synchronize()
                        ts.append((time.perf_counter() - t0) * 1e3)
                ts.sort()
                p50, p99 = ts[len(ts) // 2], ts[-1]
                print(f"hf-eager   {m:9s} {str(dt)[6:]:8s} batch {B:5d} beams {beams}  p50 {p50:9.3f} ms  p99 {p99:9.3f} ms  "
                      f"{B / (sum(ts) / len(ts) / 1e3):10.0f} seq/s", flush=True)
        del model; torch.cuda.empty_cache()
PY

# 4. transformers with a static cache (cache_implementation="static"): generate()
# compiles the forward itself (its compile_config: torch.compile, CUDA graphs).
# Wrapping model.forward in torch.compile(mode="reduce-overhead") instead, as
# this script did until session 8, fails ("accessing tensor output of CUDAGraphs
# that has been overwritten"); bench/device-hf-static.sh compares the ways.
PYTHONUNBUFFERED=1 timeout ${COMPILE_TIMEOUT:-300} python3 - $MODELS <<'PY' 2>&1 | grep -E "hf-static|Error|error" | tail -12 | tee "$OUT/hf-static.txt"
import sys, time, torch
from transformers import T5ForConditionalGeneration
torch.backends.cuda.matmul.allow_tf32 = False
for m in sys.argv[1:]:
    for dt in (torch.float32, torch.float16):
        model = T5ForConditionalGeneration.from_pretrained(f"/tmp/{m}", dtype=dt).cuda().eval()
        for B in (1, 8):
            g = torch.Generator().manual_seed(1)
            ids = torch.randint(3, model.config.vocab_size, (B, 9), generator=g).cuda()
            kw = dict(max_new_tokens=11, min_new_tokens=11, do_sample=False, cache_implementation="static")
            with torch.inference_mode():
                for _ in range(3): model.generate(ids, **kw)
                ts = []
                for _ in range(20):
                    torch.cuda.synchronize(); t0 = time.perf_counter(); model.generate(ids, **kw)
                    torch.cuda.synchronize(); ts.append((time.perf_counter() - t0) * 1e3)
            ts.sort()
            print(f"hf-static  {m:9s} {str(dt)[6:]:8s} batch {B:5d} beams 1  p50 {ts[10]:9.3f} ms  p99 {ts[-1]:9.3f} ms  "
                  f"{B / (sum(ts) / len(ts) / 1e3):10.0f} seq/s", flush=True)
        del model; torch.cuda.empty_cache()
PY
echo "== summary (card: $(cat $OUT/gpu.txt))"
cat "$OUT/floor.txt" "$OUT/t5serve.txt" "$OUT/t5serve-instances.txt" "$OUT/t5serve-ablation.txt" "$OUT/hf.txt" "$OUT/hf-static.txt"
# one file back instead of seven (a call returns only so many)
( cd "$OUT" && for f in floor t5serve t5serve-instances t5serve-ablation hf hf-static; do
    echo "## $f.txt"; cat $f.txt; done > bench-all.txt && rm -f floor.txt t5serve.txt t5serve-instances.txt \
    t5serve-ablation.txt hf.txt hf-static.txt )
