#!/bin/bash
# device-serve2.sh - two serving configurations in one call, same load, same
# card: A = SERVE_A (default: 8 HTTP threads, 4096 connections), B = SERVE_B
# (default: 1 HTTP thread, the setting of every run before 2026-11-26 09:00).
# CLIENT_A / CLIENT_B: environment for that configuration's device-serve.sh
# (e.g. CLIENT_B="LOOPS=0 THREADS=1024" for the thread-per-connection client).
# Each is one bench/device-serve.sh run (fresh server, warm-up, the entries in
# MODELS at RATES_<entry>); logs of both come back in serve2.tar.gz, the tables
# in serve-A.txt / serve-B.txt. CHECK=1 first runs test_inflight on CUDA fp32.
# Before: bash bench/device-serve-pack.sh here; carry as device-serve.sh.
set -u
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH=$PWD/.devlibs/lib:${LD_LIBRARY_PATH:-}
FINAL=$OUT
if [ "${CHECK:-1}" = 1 ]; then
  # the test's fixture path is baked in at /work/main (built here)
  [ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
  mkdir -p /tmp/ifl && tar -xJf build-gpu-lead/serve.tar.xz -C /tmp/ifl test_inflight
  SECONDS=0
  T5_TEST_DEVICE=cuda T5_TEST_DTYPE=fp32 timeout 120 /tmp/ifl/test_inflight > $FINAL/inflight.txt 2>&1
  echo "== test_inflight cuda fp32 (rc $?, ${SECONDS}s): $(tail -2 $FINAL/inflight.txt | tr '\n' ' ')" | tee -a $FINAL/check.txt
fi
for cfg in A B; do
  if [ $cfg = A ]; then a=${SERVE_A:-"--http-thread-count 8 --http-max-connections 4096"}
  else a=${SERVE_B:-"--http-thread-count 1 --http-max-connections 4096"}; fi
  [ "$a" = skip ] && continue
  d=/tmp/serve2/$cfg && rm -rf $d && mkdir -p $d
  echo "## config $cfg: serve $a" | tee $d/head.txt
  cl=CLIENT_$cfg
  echo "## client: ${!cl:-from the environment}" >> $d/head.txt
  env ${!cl:-} OUT=$d SWEEP=0 SERVE_ARGS="$a" T5_IFL_PROFILE=1 bash bench/device-serve.sh > $d/run.txt 2>&1
  cat $d/head.txt $d/serve.txt > $FINAL/serve-$cfg.txt
  # no server may outlive its run on a warm machine (pkill -x: -f would match this shell)
  pkill -x t5serve; sleep 1
done
tar -czf $FINAL/serve2.tar.gz -C /tmp/serve2 .
cp /tmp/serve2/A/gpu.txt $FINAL/gpu.txt 2>/dev/null
