#!/bin/bash
# device-pack.sh - run HERE (the dev machine) before a device call: strips
# the CUDA binaries built in build-cuda and packs them into
# build-cuda/carry.tar.xz (each binary embeds the whole kernel fatbin, so
# carried one by one they exceed the 64 MiB a call may take; packed in one
# ~10 MB, see below). The device scripts unpack it with bench/device-unpack.sh.
set -e
cd "$(dirname "$0")/.."
B=build-cuda
rm -rf $B/carry && mkdir -p $B/carry
# LABS: which programs of $B/lab to take (default all; each adds the whole
# fatbin before compression, and a call carries at most 64 MiB with the tree)
for f in ${LABS:-$B/lab/*}; do f=$B/lab/$(basename $f); strip -o $B/carry/$(basename $f) $f; done
strip -o $B/carry/t5serve $B/t5serve
strip -o $B/carry/test_engine_fixtures $B/tests/engine/test_engine_fixtures
# NOTESTS=1: only t5serve and the fixtures test besides LABS (a smaller carry, for A/B calls
# that also carry build-cuda/prev)
if [ -z "${NOTESTS:-}" ]; then
  [ -f $B/tests/sched/test_inflight ] && strip -o $B/carry/test_inflight $B/tests/sched/test_inflight
  [ -f $B/tests/engine/test_engine_props ] && strip -o $B/carry/test_engine_props $B/tests/engine/test_engine_props
fi
# PREV=FILE: an earlier build's t5bench_engine, carried as lab/t5bench_prev
# (the A/B scripts' "prev" mode)
[ -n "${PREV:-}" ] && { cp "$PREV" $B/carry/t5bench_prev && strip $B/carry/t5bench_prev; }
# EXTRA="NAME:FILE ...": more builds of t5bench_engine, as lab/t5bench_NAME
for e in ${EXTRA:-}; do cp "${e#*:}" $B/carry/t5bench_${e%%:*} && strip $B/carry/t5bench_${e%%:*}; done
# One xz stream with a dictionary larger than a binary: every binary embeds
# the same kernel fatbin (~27 MB stripped), so each one after the first
# costs little (six binaries: ~10 MB, against ~34 MB for five with -2)
tar -cf - -C $B/carry . | xz -T1 --lzma2=preset=6,dict=256MiB > $B/carry.tar.xz
ls -la $B/carry.tar.xz
