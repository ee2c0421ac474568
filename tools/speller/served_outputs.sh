#!/bin/bash
# served_outputs.sh HOST:PORT QUERIES - the served speller's answer to every
# query of QUERIES (one a line), one a line, through the generate endpoint:
# run against a CPU build here and a CUDA build on the GPU machine
# (device_latency.sh) to compare the served outputs of the two devices.
set -u
python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
url = "http://%s/v2/models/speller/generate" % sys.argv[1]
with open(sys.argv[2], encoding="utf-8") as f:
    for q in f:
        q = q.rstrip("\n")
        if not q:
            continue
        req = urllib.request.Request(url, data=json.dumps({"text_input": q}).encode())
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                print(json.load(r).get("text_output", "ERROR"), flush=True)
        except Exception:
            print("ERROR", flush=True)
PY
