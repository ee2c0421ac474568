#!/bin/bash
# device-pack.sh - run HERE (the dev machine) before a device call: strips
# the CUDA binaries built in build-cuda and packs them into
# build-cuda/carry.tar.xz (each binary embeds the whole kernel fatbin, so
# carried one by one they exceed the 64 MiB a call may take; packed they are
# ~2 MB). The device scripts unpack it with bench/device-unpack.sh.
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
tar -cf - -C $B/carry . | xz -T2 -2 > $B/carry.tar.xz
ls -la $B/carry.tar.xz
