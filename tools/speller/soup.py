#!/usr/bin/env python3
"""Averages the weights of speller checkpoints of one architecture (a
"soup"): every tensor is the fp32 mean of the inputs', stored in the first
input's dtype; config, tokenizer and vocabulary are copied from the first.

    python3 tools/speller/soup.py --out tools/out/speller/soup/S67 \\
        tools/out/speller/runs6/C6 tools/out/speller/runs7/C7
"""
import argparse
import os
import shutil

import torch
from safetensors.torch import load_file, save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("ckpts", nargs="+")
    args = ap.parse_args()
    sds = [load_file(os.path.join(c, "model.safetensors")) for c in args.ckpts]
    keys = sorted(sds[0])
    for c, sd in zip(args.ckpts, sds):
        if sorted(sd) != keys or any(sd[k].shape != sds[0][k].shape for k in keys):
            raise SystemExit("%s: not the same tensors as %s" % (c, args.ckpts[0]))
    out = {k: (sum(sd[k].float() for sd in sds) / len(sds)).to(sds[0][k].dtype).contiguous()
           for k in keys}
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.ckpts[0]):
        if f != "model.safetensors" and not f.endswith(".log"):
            shutil.copy(os.path.join(args.ckpts[0], f), os.path.join(args.out, f))
    save_file(out, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    print("%s: mean of %d checkpoints, %d tensors" % (args.out, len(sds), len(keys)))


if __name__ == "__main__":
    main()
