#!/bin/bash
# device-s13-accept.sh - on the device machine: the served speller with and
# without its accept list (config.pbtxt accept_words; a query of dictionary
# words is answered without the model), one binary, alternating runs, on
# QUERIES (one a line), through `t5serve bench` at concurrency 1, 4 and 16.
# Also the served answers of both configs to every query ($OUT/answers-*.txt).
#   carry: build-cuda/carry.tar.xz (bench/device-pack.sh), .devlibs/lib, QUERIES
set -u
QUERIES=${QUERIES:-tools/speller/latency_queries.txt}
ROUNDS=${ROUNDS:-2}
DUR=${DUR:-6}
bash bench/device-unpack.sh
export LD_LIBRARY_PATH=$PWD/.devlibs/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
T=$PWD/build-cuda/t5serve
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
W=/tmp/s13acc
for v in accept noaccept; do
  mkdir -p $W/$v/speller
  cp -r models/speller/1 $W/$v/speller/
  python3 - "$v" $W/$v/speller/config.pbtxt <<'PY'
import re, sys
s = open("models/speller/config.pbtxt").read()
if sys.argv[1] == "noaccept":
    s = re.sub(r'parameters: \{\n  key: "accept_words"\n[^}]*\}\n\}\n', "", s)
open(sys.argv[2], "w").write(s)
PY
done
port=18760
for r in $(seq "$ROUNDS"); do
  for v in accept noaccept; do
    $T serve --model-repository $W/$v --http-port $port --metrics-port $((port + 1)) >$W/$v.log 2>&1 &
    SP=$!
    for _ in $(seq 120); do curl -sf 127.0.0.1:$port/v2/health/ready >/dev/null && break; sleep 0.5; done
    echo "== round $r: $v ($(grep -c accept_words $W/$v/speller/config.pbtxt) accept_words lines)"
    timeout 120 $T bench --model speller --queries "$QUERIES" --url 127.0.0.1:$port \
      --concurrency 1,4,16 --duration-s "$DUR"
    [ "$r" = 1 ] && bash tools/speller/served_outputs.sh 127.0.0.1:$port "$QUERIES" >"$OUT/answers-$v.txt"
    kill $SP; wait $SP 2>/dev/null
    port=$((port + 2))
  done
done
cmp "$OUT/answers-accept.txt" "$OUT/answers-noaccept.txt" >/dev/null && echo "answers: identical" ||
  echo "answers differ on $(diff "$OUT/answers-accept.txt" "$OUT/answers-noaccept.txt" | grep -c '^<') queries (the accept list's)"
