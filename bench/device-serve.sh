#!/bin/bash
# device-serve.sh - the serving benchmarks on the GPU machine, in one call:
#   issue 5: a concurrency sweep (1..256) through HTTP with t5-small, against
#            the same engine called in-process (t5serve bench --engine);
#   issue 6: Poisson arrivals at increasing rates, Zipf (s=1) queries over 100k
#            distinct ones with 3-20 input and 2-20 output tokens: request-level
#            dynamic batching vs in-flight batching, response cache off and on.
# Run here first:  bash bench/device-serve-pack.sh
# Then:  run(command="bash bench/device-serve.sh", carry=["build-gpu-lead/serve.tar.xz",
#            ".devlibs/lib", ".devdata/q"])
# Knobs (environment): SWEEP=0 skips the issue-5 sweep; THREADS: client threads (768); RATES and MODELS choose the
# issue-6 levels and entries (defaults below); RATES_<model> overrides RATES for one entry;
# DUR: seconds per level (3); LOOPS=N: send from N epoll loops sharing THREADS connections
# (t5serve bench --event-loops) instead of a thread per connection; SERVE_ARGS: more
# `t5serve serve` options (e.g. "--http-thread-count 8 --http-max-connections 4096");
# PROFILE_S=S: also print each level's p99 per S seconds of arrivals (stalls vs queueing).
set -u
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
ulimit -n 65536 || true
W=/tmp/serve && rm -rf $W && mkdir -p $W/bin $W/repo
tar -xJf build-gpu-lead/serve.tar.xz -C $W/bin
T=$W/bin/t5serve
LOG=$OUT/serve-log.txt
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; date -u; } | tee $OUT/gpu.txt
$T random-model --shape t5-small --out $W/t5s --dtype fp16 --seed 1 >> $LOG 2>&1
cp models/speller/1/spiece.model $W/t5s/   # a tokenizer, so the server takes text
gunzip -c .devdata/q/zipf.txt.gz > $W/zipf.txt
cp .devdata/q/fixed9.txt $W/fixed9.txt

model() { # name scheduler cache [max_batch_size [max_queue_delay_us]]
  mkdir -p $W/repo/$1 && ln -s $W/t5s $W/repo/$1/1
  cat > $W/repo/$1/config.pbtxt <<PB
name: "$1"
backend: "t5serve"
max_batch_size: ${4:-256}
input [ { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "text_output" data_type: TYPE_STRING dims: [ 1 ] } ]
instance_group [ { count: 1 kind: KIND_GPU gpus: [ 0 ] } ]
dynamic_batching { max_queue_delay_microseconds: ${5:-500} }
response_cache { enable: $3 }
parameters: { key: "scheduler" value: { string_value: "$2" } }
parameters: { key: "dtype" value: { string_value: "fp16" } }
parameters: { key: "max_input_tokens" value: { string_value: "32" } }
parameters: { key: "max_output_tokens" value: { string_value: "24" } }
PB
}
model dyn dynamic false
model dyn_cache dynamic true
model ifb inflight false
model ifb_cache inflight true
# EXTRA: more entries, from ifb_d2k (in-flight admitting at most every 2 ms),
# dyn_512 and ifb_512 (max_batch_size 512)
for x in ${EXTRA:-}; do
  case $x in
    ifb_d2k) model ifb_d2k inflight false 256 2000 ;;
    dyn_512) model dyn_512 dynamic false 512 ;;
    ifb_512) model ifb_512 inflight false 512 ;;
  esac
done

$T serve --model-repository $W/repo --http-port 8000 --metrics-port 8002 \
  --cache-config local,size=268435456 ${SERVE_ARGS:-} >> $LOG 2>&1 &
SRV=$!
for i in $(seq 1 120); do
  curl -sf localhost:8000/v2/health/ready >/dev/null && break; sleep 0.5
done
curl -s localhost:8000/v2/repository/index -X POST >> $LOG; echo >> $LOG

B="$T bench --url 127.0.0.1:8000"
RATES=${RATES:-1000,2000,4000,8000,12000,16000,24000}
MODELS=${MODELS:-dyn ifb dyn_cache ifb_cache}
touch $OUT/serve.txt
if [ "${SWEEP:-1}" = 1 ]; then
echo "## issue 5: concurrency sweep, t5-small fp16, 9 input / 11 output tokens, dynamic batcher" | tee $OUT/serve.txt
$B --model dyn --queries $W/fixed9.txt --concurrency 1,2,4,8,16,32,64,128,256 --duration-s 3 \
  --min-new-tokens 11 --max-new-tokens 11 --csv $OUT/sweep.csv 2>&1 | tee -a $OUT/serve.txt
echo "## issue 5: the same engine in-process (one t5_generate per batch)" | tee -a $OUT/serve.txt
$T bench --engine --model $W/t5s --device cuda --dtype fp16 --batch 1,2,4,8,16,32,64,128,256 \
  --in-tokens 9 --new-tokens 11 --iters 30 2>&1 | tee -a $OUT/serve.txt
fi

# Warm the server process up first: in a fresh server the first few seconds of
# traffic (whichever model gets it) show ~100 ms p99 spikes at low rates (seen on
# both schedulers, 2026-11-26), which would otherwise land on the first entry measured.
# WARMUP=0 skips it (to see what a fresh server's first seconds cost).
if [ "${WARMUP:-1}" = 1 ]; then
$B --model dyn_cache --queries $W/zipf.txt --request-rate 4000,8000 --duration-s 3 \
  --max-threads 768 --warmup 20 > $W/warmup.txt 2>&1
fi

for m in $MODELS; do
  echo "## issue 6: $m, Poisson arrivals, Zipf queries, 3-20 in / 2-20 out tokens" | tee -a $OUT/serve.txt
  r=$(eval echo \${RATES_$m:-$RATES})   # RATES_dyn=...: that entry's own levels
  $B --model $m --queries $W/zipf.txt --request-rate $r \
    --duration-s ${DUR:-3} --max-threads ${THREADS:-768} --event-loops ${LOOPS:-0} --warmup 20 \
    ${PROFILE_S:+--time-profile $PROFILE_S} --csv $OUT/rate-$m.csv 2>&1 | tee -a $OUT/serve.txt
done
curl -s localhost:8000/v2/models/stats > $W/stats.json
cp $W/stats.json $OUT/stats.json
python3 - $W/stats.json <<'PY' | tee -a $OUT/serve.txt
import json, sys
for m in json.load(open(sys.argv[1]))["model_stats"]:
    s = m["inference_stats"]
    print("%-10s success %8d  cache hits %8d  misses %8d  executions %8d" % (
        m["name"], s["success"]["count"], s.get("cache_hit", {}).get("count", 0),
        s.get("cache_miss", {}).get("count", 0), m.get("execution_count", 0)))
PY
kill -TERM $SRV; wait $SRV
tail -5 $LOG
