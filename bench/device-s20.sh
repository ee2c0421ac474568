#!/bin/bash
# device-s20.sh - run on the GPU machine: session 20's skew diagnostic (a
# build with FS_SKEW, bench/results/2026-11-27-s20-skew.diff, carried as
# lab/t5bench_skew: every block of the LL step stamps globaltimer when it has
# gathered, stored its GEMV and ended each phase; the report at exit splits
# each phase's critical path into exchange, work and skew, and names the
# blocks that come last), then optionally an A/B of batch-1 greedy.
#   1. SKMODES (default "skew skew@T5_CUDA_FUSED_PDL=0"): t5-small fp16
#      batch 1, 11 tokens, with T5_CUDA_FUSED_TRACE=1;
#   2. AB=1: device-s19.sh (QUICK checks, MODES alternating).
#   LABS=t5bench_engine NOTESTS=1 EXTRA="skew:/tmp/t5bench_skew head:/tmp/t5bench_head" \
#       bash bench/device-pack.sh
#   run(command="bash bench/device-s20.sh", carry=["build-cuda/carry.tar.xz", ".devlibs/lib"])
set -u
D=$(dirname "$0")
. "$D/device-setup.sh"
[ -d /tmp/t5-small ] || $B/t5serve random-model --shape t5-small --out /tmp/t5-small --dtype fp16 > /dev/null
for mode in ${SKMODES-skew skew@T5_CUDA_FUSED_PDL=0}; do
  e=""; m=$mode; case $m in *@*) e=${m#*@}; e=${e//@/ }; m=${m%%@*};; esac
  echo "== $mode"
  env $e T5_CUDA_FUSED_TRACE=1 timeout 120 $B/lab/t5bench_$m --model /tmp/t5-small --device cuda \
    --dtype fp16 --batch 1 --iters ${ITERS:-30} --label "t5-small-$mode" 2>&1 | grep -E "^t5|skew"
done 2>&1 | tee "$OUT/skew.txt"
[ "${AB:-0}" = 1 ] && bash $D/device-s19.sh
exit 0
