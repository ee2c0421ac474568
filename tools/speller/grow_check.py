#!/usr/bin/env python3
"""Checks that train.py's --grow-d-ff is function-preserving: the widened model
gives the checkpoint's logits (fp32, CPU) on a few inputs, before and after the
fp16 save that train.py writes, and reports the sizes.

    python3 tools/speller/grow_check.py --init tools/out/speller/runs6/C6 --d-ff 1280
"""
import argparse
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

TEXTS = ["wireles hedphones", "accomodate", "stainles steel water botle", "runing shoes for men",
         "querys", "coffee maker", "teh", "definately seperate enviroment"]


def logits(model, sp, texts):
    enc = train.Encoder("spm", sp)
    x = train.pad(enc.encode(texts), 40)
    # teacher-forced decoder input: the start token then the input's own ids, so
    # every decoder position and the cross-attention are exercised
    y = torch.cat([torch.zeros(len(texts), 1, dtype=torch.long), x[:, :-1]], 1)
    with torch.no_grad():
        return model(input_ids=x, attention_mask=(x != 0).long(), decoder_input_ids=y).logits


def main():
    from transformers import T5ForConditionalGeneration

    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default="tools/out/speller/runs6/C6")
    ap.add_argument("--d-ff", type=int, default=1280)
    ap.add_argument("--spm", default="tools/out/speller/spiece.model")
    args = ap.parse_args()
    torch.set_num_threads(2)
    base = T5ForConditionalGeneration.from_pretrained(args.init, dtype=torch.float32).eval()
    grown = train.grow_d_ff(base, args.d_ff, seed=7).eval()
    a, b = logits(base, args.spm, TEXTS), logits(grown, args.spm, TEXTS)
    n0 = sum(p.numel() for p in base.parameters())
    n1 = sum(p.numel() for p in grown.parameters())
    print("params %d -> %d (fp16 %.2f MB -> %.2f MB)" % (n0, n1, 2 * n0 / 1e6, 2 * n1 / 1e6))
    print("max |logit difference| fp32, grown vs base: %.3g (logits up to %.1f)"
          % ((a - b).abs().max().item(), a.abs().max().item()))
    with tempfile.TemporaryDirectory() as d:
        grown.to(torch.float16).save_pretrained(d, safe_serialization=True)
        size = os.path.getsize(os.path.join(d, "model.safetensors"))
        back = T5ForConditionalGeneration.from_pretrained(d, dtype=torch.float32).eval()
        c = logits(back, args.spm, TEXTS)
    print("model.safetensors fp16: %d bytes (%.2f MB, %.2f MiB)" % (size, size / 1e6, size / 2**20))
    print("max |logit difference| after the fp16 save and reload, vs base: %.3g" % (a - c).abs().max().item())
    ok = (a - b).abs().max().item() < 1e-4 and (a - c).abs().max().item() < 1e-4
    print("function-preserving:", "yes" if ok else "NO")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
