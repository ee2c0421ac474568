#!/bin/bash
# device-hf-static.sh - run on the GPU machine: Hugging Face transformers
# with a static cache (cache_implementation="static"), the compiled
# reference of issue 4's benchmark, in several ways of compiling, each in
# its own process (t5-small random weights, 9 in / exactly 11 out, greedy,
# batch 1): which of them runs, and its latency beside eager in the same
# process. The way device-bench.sh used until session 8 (model.forward
# wrapped in torch.compile mode="reduce-overhead") fails with "accessing
# tensor output of CUDAGraphs that has been overwritten".
#   run(command="bash bench/device-hf-static.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
# Knobs: WAYS (default all), DTYPES (default float16 float32), T (timeout per way, s).
set -u
. "$(dirname "$0")/device-setup.sh"
$B/t5serve random-model --shape t5-small --out /tmp/t5-small --dtype fp16 > /dev/null
for dt in ${DTYPES:-float16 float32}; do
for way in ${WAYS:-auto auto-mark auto-default default-forward reduce-mark}; do
  echo "== $way $dt"
  PYTHONUNBUFFERED=1 timeout ${T:-240} python3 - $way $dt <<'PY' 2>&1 | grep -vE "Warning|warn\(" | tail -4
import sys, time, torch, transformers
from transformers import T5ForConditionalGeneration
way, dt = sys.argv[1], getattr(torch, sys.argv[2])
torch.backends.cuda.matmul.allow_tf32 = False
model = T5ForConditionalGeneration.from_pretrained("/tmp/t5-small", dtype=dt).cuda().eval()
g = torch.Generator().manual_seed(1)
ids = torch.randint(3, model.config.vocab_size, (1, 9), generator=g).cuda()
base = dict(max_new_tokens=11, min_new_tokens=11, do_sample=False)
kw = dict(base, cache_implementation="static")
# auto: generate() compiles the forward itself for a static cache
# (generation_config.compile_config), auto-default the same without CUDA
# graphs; *-mark: torch.compiler.cudagraph_mark_step_begin()
# before every generate; default-forward: forward wrapped in torch.compile
# without CUDA graphs; reduce-mark: the old way plus the mark
if way == "auto-default":  # generate()'s own compile, without CUDA graphs
    kw["compile_config"] = transformers.CompileConfig(mode="default", fullgraph=False)
elif way == "default-forward":
    model.forward = torch.compile(model.forward, mode="default", fullgraph=False)
elif way == "reduce-mark":
    model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=False)
mark = way.endswith("mark")
def run(k):
    if mark:
        torch.compiler.cudagraph_mark_step_begin()
    return model.generate(ids, **k)
def timed(k, n):
    ts = []
    for _ in range(n):
        torch.cuda.synchronize(); t0 = time.perf_counter(); out = run(k); torch.cuda.synchronize()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort(); return ts, out
with torch.inference_mode():
    t0 = time.perf_counter()
    for _ in range(3): run(kw)
    torch.cuda.synchronize(); warm = time.perf_counter() - t0
    ts, out = timed(kw, 20)
    ets, eout = timed(base, 10)
same = torch.equal(out, eout)
print(f"hf-static[{way}] t5-small {sys.argv[2]} batch 1 beams 1  p50 {ts[10]:.3f} ms  p99 {ts[-1]:.3f} ms  "
      f"(compile+warm-up {warm:.0f} s; eager in the same process p50 {ets[5]:.3f} ms; same ids as eager: {same}; "
      f"transformers {transformers.__version__}, torch {torch.__version__})")
PY
done
done 2>&1 | tee "$OUT/hf-static.txt"
