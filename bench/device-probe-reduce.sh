#!/bin/bash
# device-probe-reduce.sh - bench/device-probe.sh reduce, twice (session 25's runs)
exec bash "$(dirname "$0")/device-probe.sh" reduce 2
