#!/bin/bash
# device-probe-cluster.sh - bench/device-probe.sh cluster (session 24's name for it)
exec bash "$(dirname "$0")/device-probe.sh" cluster 1
