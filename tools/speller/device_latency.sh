#!/bin/bash
# GPU latency of the shipped speller through t5serve (run before training in the
# same device call, so nothing else uses the card while it measures):
#   carry: build-gpu-lead/serve.tar.xz (tar with one file, t5serve, a CUDA build
#   for sm_90a) and .devlibs/lib (libcjson, libmicrohttpd).
#   QUERIES: one query a line (default: the 200 of bench/speller.md, written by
#   `latency.py --write-queries tools/speller/latency_queries.txt`).
# The server part runs the shipped config.pbtxt: since lexicon reranking, 5 beams + lexicon.
# Writes $OUT/gpu_latency.txt.
set -u
#   T5SERVE=PATH: a t5serve already on the machine instead (e.g. build-cuda/t5serve after
#   bench/device-unpack.sh of bench/device-pack.sh's carry); no tar then.
# Also writes $OUT/gpu_outputs.txt: the served (reranked) answer to every query, one a line,
# to compare with the CPU build's (tools/speller/served_outputs.sh).
TAR=${TAR:-build-gpu-lead/serve.tar.xz}
MODEL=${MODEL:-models/speller/1}
QUERIES=${QUERIES:-tools/speller/latency_queries.txt}
mkdir -p /tmp/t5gpu
if [ -n "${T5SERVE:-}" ]; then
  cp "$T5SERVE" /tmp/t5gpu/t5serve || exit 1
else
  tar xJf "$TAR" -C /tmp/t5gpu || exit 1
fi
export LD_LIBRARY_PATH=$PWD/.devlibs/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
T=/tmp/t5gpu/t5serve
{
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
# engine alone, fixed lengths (7 input tokens incl. EOS, 6 new tokens incl. EOS)
timeout 60 $T bench --engine --model "$MODEL" --device cuda --dtype fp16 --batch 1,8,64 \
    --in-tokens 7 --new-tokens 6 --iters 300 --warmup 10 --label greedy
timeout 60 $T bench --engine --model "$MODEL" --device cuda --dtype fp16 --batch 1,8,64 --beams 5 \
    --in-tokens 7 --new-tokens 6 --iters 200 --warmup 10 --label beam5
timeout 60 $T bench --engine --model "$MODEL" --device cuda --dtype fp32 --batch 1,64 \
    --in-tokens 7 --new-tokens 6 --iters 200 --warmup 10 --label greedy32
# outputs on the GPU (compare with the CPU build's)
for t in "accomodate" "wireles hedphones" "stainles steel water botle" "runing shoes for men" \
         "unsubscritptions" "panted worm evasion hexagrams"; do
    echo "== $t"
    timeout 20 $T generate --model "$MODEL" --device cuda --dtype fp16 --text "$t" --json
    timeout 20 $T generate --model "$MODEL" --device cuda --text "$t" --json
    timeout 20 $T generate --model "$MODEL" --device cuda --dtype fp16 --num-beams 5 --text "$t" --json
done
# the server on the GPU (config.pbtxt: KIND_AUTO -> GPU in a CUDA build), HTTP infer
D=/tmp/t5gpu/models && mkdir -p $D && cp -r "$(dirname "$MODEL")" $D/
$T serve --model-repository $D --http-port 18731 --metrics-port 18732 >/tmp/t5gpu/serve.log 2>&1 &
SP=$!
for i in $(seq 60); do curl -sf 127.0.0.1:18731/v2/health/ready >/dev/null && break; sleep 0.5; done
curl -s -X POST 127.0.0.1:18731/v2/models/speller/generate -d '{"text_input":"wireles hedphones"}'; echo
timeout 40 $T bench --model speller --queries "$QUERIES" --url 127.0.0.1:18731 --concurrency 1,4 --duration-s 6
bash tools/speller/served_outputs.sh 127.0.0.1:18731 "$QUERIES" > "$OUT/gpu_outputs.txt"
echo "served outputs: $(wc -l < "$OUT/gpu_outputs.txt") lines in gpu_outputs.txt"
kill $SP; wait $SP 2>/dev/null
grep -i "cuda\|gpu\|device\|dtype" /tmp/t5gpu/serve.log | head -5
} 2>&1 | tee "$OUT/gpu_latency.txt"
