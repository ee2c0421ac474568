#!/usr/bin/env bash
# CPU latency of the served speller with and without lexicon reranking: the
# shipped config (5 beams + lexicon + prior), the same 5 beams without the
# lexicon, and greedy (the default before reranking) (or "noprior" / "noaccept": the
# shipped config without lexicon_prior / accept_words), each through `t5serve serve` and
# `t5serve bench` on tools/speller/latency_queries.txt at concurrency 1 and 4.
#
#     bash tools/speller/serve_latency.sh [build/t5serve] [seconds per level]
#     VARIANTS="greedy beams rerank" bash tools/speller/serve_latency.sh ...   # another order
set -euo pipefail
BIN=${1:-build/t5serve}
DUR=${2:-10}
ROOT=$(pwd)
TMP=$(mktemp -d)
trap 'kill $SRV 2>/dev/null || true; rm -rf "$TMP"' EXIT
port=18791
i=0
for variant in ${VARIANTS:-rerank beams greedy}; do
  # a directory per run: a variant may come twice (alternating A/B runs), and
  # ln -s onto an existing link to a directory would write into models/
  i=$((i + 1))
  repo=$TMP/$i-$variant
  mkdir -p "$repo/speller"
  ln -sn "$ROOT/models/speller/1" "$repo/speller/1"
  cfg=$(cat models/speller/config.pbtxt)
  case $variant in
    noprior) cfg=$(printf '%s\n' "$cfg" | python3 -c 'import sys, re; print(re.sub(r"parameters: \{\n  key: \"lexicon_prior\"\n[^}]*\}\n\}\n", "", sys.stdin.read()))') ;;
    noaccept) cfg=$(printf '%s\n' "$cfg" | python3 -c 'import sys, re; print(re.sub(r"parameters: \{\n  key: \"accept_words\"\n[^}]*\}\n\}\n", "", sys.stdin.read()))') ;;
    beams) cfg=$(printf '%s\n' "$cfg" | python3 -c 'import sys; s=sys.stdin.read(); i=s.index("parameters: {\n  key: \"lexicon\""); print(s[:i])') ;;
    greedy) cfg=$(printf '%s\n' "$cfg" | python3 -c 'import sys; s=sys.stdin.read(); i=s.index("parameters: {\n  key: \"lexicon\""); print(s[:i].replace("string_value: \"5\" }\n}\nparameters: {\n  key: \"max_num_beams\"", "string_value: \"1\" }\n}\nparameters: {\n  key: \"max_num_beams\""))') ;;
  esac
  printf '%s\n' "$cfg" > "$repo/speller/config.pbtxt"
  "$BIN" serve --model-repository "$repo" --http-port $port --metrics-port $((port + 1)) >"$TMP/$i-$variant.log" 2>&1 &
  SRV=$!
  for _ in $(seq 100); do curl -sf "localhost:$port/v2/health/ready" >/dev/null && break; sleep 0.1; done
  echo "== $variant: num_beams $(grep -A1 'key: "num_beams"' "$repo/speller/config.pbtxt" | grep -o '"[0-9]*"'), lexicon lines $(grep -c '"lexicon"' "$repo/speller/config.pbtxt" || true)"
  "$BIN" bench --model speller --queries tools/speller/latency_queries.txt --url 127.0.0.1:$port \
    --concurrency 1,4 --duration-s "$DUR"
  kill $SRV; wait $SRV 2>/dev/null || true
  port=$((port + 2))
done
