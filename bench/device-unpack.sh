#!/bin/bash
# device-unpack.sh - run on the device machine: puts the binaries packed by
# bench/device-pack.sh where the device scripts expect them.
B=build-cuda
if [ -f $B/carry.tar.xz ]; then
  mkdir -p $B/lab $B/tests/engine /tmp/t5carry
  tar -xJf $B/carry.tar.xz -C /tmp/t5carry
  mv /tmp/t5carry/t5serve $B/t5serve
  mv /tmp/t5carry/test_engine_fixtures $B/tests/engine/test_engine_fixtures
  if [ -f /tmp/t5carry/test_inflight ]; then
    mkdir -p $B/tests/sched && mv /tmp/t5carry/test_inflight $B/tests/sched/test_inflight
  fi
  [ -f /tmp/t5carry/test_engine_props ] && mv /tmp/t5carry/test_engine_props $B/tests/engine/
  mv /tmp/t5carry/* $B/lab/
fi
