#!/bin/bash
# served_outputs.sh HOST:PORT QUERIES - the served speller's answer to every
# query of QUERIES (one a line), one a line, through the generate endpoint:
# run against a CPU build here and a CUDA build on the GPU machine
# (device_latency.sh) to compare the served outputs of the two devices.
set -u
while IFS= read -r q; do
  [ -z "$q" ] && continue
  body=$(python3 -c 'import json,sys; print(json.dumps({"text_input": sys.argv[1]}))' "$q")
  curl -s -X POST "$1/v2/models/speller/generate" -d "$body" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("text_output", "ERROR"))'
done < "$2"
