#!/bin/bash
# ptxas-frames.sh [ROOT] [FILE...] - run HERE: compiles CUDA files of the
# tree at ROOT (default: this checkout) for sm_90a with the build's flags and
# prints each kernel's registers, stack frame and spills (ptxas -v). Check it
# before a device call that changes fused_common.cuh or fused_step.cu: the
# fused kernels' speed moves with their frames (bench/DEVICE-NOTES.md).
# Compare two trees: bash bench/ptxas-frames.sh /tmp/old > a; bash
# bench/ptxas-frames.sh > b; diff a b (git worktree add /tmp/old HEAD~1).
R=${1:-$(cd "$(dirname "$0")/.." && pwd)}
shift
FILES=${*:-src/backend/cuda/fused_step.cu src/backend/cuda/fused_step_384.cu}
for f in $FILES; do
  echo "== $f"
  nvcc -DT5_HAVE_CUDA=1 -D_GNU_SOURCE -I"$R/include" -I"$R/src" -isystem=/usr/include/cjson \
    -gencode=arch=compute_90a,code=sm_90a -O3 --expt-relaxed-constexpr -DNDEBUG -std=c++17 \
    -Xptxas -v -c "$R/$f" -o /tmp/ptxas-frames-$$.o 2>&1 | awk '
    /Compiling entry function/ { n = $0; sub(/.*function ./, "", n); sub(/. for .*/, "", n); cur = n }
    /Function properties for/ { f = $0; sub(/.*properties for /, "", f); cur = f }
    /stack frame/ && cur ~ /_kernel/ { gsub(/^ +/, ""); st[cur] = $0 }
    /Used [0-9]+ registers/ && cur ~ /_kernel/ {
      r = $0; sub(/.*Used /, "", r); sub(/ registers.*/, "", r); rg[cur] = r }
    END { for (k in st) printf "%-60s regs %3s  %s\n", k, rg[k], st[k] }' | sort
done
rm -f /tmp/ptxas-frames-$$.o
