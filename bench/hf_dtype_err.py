"""hf_dtype_err.py - Hugging Face transformers itself in fp16 and bf16 on the
engine fixtures (tests/fixtures/*.json, made in fp32 by tools/gen_fixtures.py),
measured as test_engine_fixtures measures t5serve: logits at every decoder
position (teacher-forced) against the fixture's fp32 logits as max abs error
over max |reference| (fixture.h's fx_relerr), the encoder output the same
way, and greedy / beam ids equal to the fixture's. What it says: how close the
reference implementation itself gets to its own fp32 outputs in 16-bit,
beside the engine's numbers for the same cases (bench/cuda.md).

    python3 bench/hf_dtype_err.py [--device cuda] [--dtypes float16,bfloat16]
"""
import argparse
import glob
import json
import os
import sys

import torch
from transformers import T5ForConditionalGeneration

GEN = dict(do_sample=False, decoder_start_token_id=0, eos_token_id=1, pad_token_id=0,
           bos_token_id=None)


def relerr(a, b):
    a = a.double().reshape(-1)
    b = b.double().reshape(-1)
    d = (a - b).abs()
    d[torch.isnan(a)] = 1e30
    return float(d.max() / max(b.abs().max().item(), 1e-6))


def strip(seq):
    out = []
    for x in seq[1:]:
        out.append(int(x))
        if x == 1:
            break
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtypes", default="float16,bfloat16")
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                       "fixtures"))
    args = ap.parse_args()
    dev = args.device
    for path in sorted(glob.glob(os.path.join(args.fixtures, "*.json"))):
        fx = json.load(open(path))
        if "cases" not in fx or "model_dir" not in fx:
            continue
        mdir = os.path.join(args.fixtures, fx["model_dir"])
        use_cache = fx.get("use_cache", True)
        for dn in args.dtypes.split(","):
            dt = getattr(torch, dn)
            m = T5ForConditionalGeneration.from_pretrained(mdir, dtype=dt).to(dev).eval()
            worst_l = worst_h = 0.0
            g_bad = g_all = b_bad = b_all = 0
            for c in fx["cases"]:
                ids = torch.tensor([c["input_ids"]], device=dev)
                with torch.no_grad():
                    enc = m.get_encoder()(input_ids=ids).last_hidden_state[0].float().cpu()
                    want = torch.tensor(c["encoder_hidden"]["data"])
                    worst_h = max(worst_h, relerr(enc, want))
                    d = torch.tensor([c["logits"]["decoder_input_ids"]], device=dev)
                    lg = m(input_ids=ids, decoder_input_ids=d, use_cache=False).logits[0]
                    worst_l = max(worst_l, relerr(lg.float().cpu(),
                                                  torch.tensor(c["logits"]["data"])))
                    for g in c["greedy"]:
                        out = m.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                         num_beams=1, max_new_tokens=g["max_new_tokens"],
                                         min_new_tokens=g["min_new_tokens"], use_cache=use_cache,
                                         **GEN)
                        g_all += 1
                        g_bad += strip(out[0].tolist()) != g["ids"]
                    for b in c["beam"]:
                        out = m.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                         num_beams=b["num_beams"],
                                         num_return_sequences=b["num_return_sequences"],
                                         length_penalty=b["length_penalty"],
                                         early_stopping=b["early_stopping"],
                                         max_new_tokens=b["max_new_tokens"], use_cache=use_cache,
                                         **GEN)
                        seqs = [strip(s) for s in out.tolist()]
                        b_all += len(seqs)
                        b_bad += sum(s != w for s, w in zip(seqs, b["sequences"]))
            print(f"hf {dn:8s} {fx['name']:14s} cases {len(fx['cases']):2d}  worst logits rel err "
                  f"{worst_l:.2g}  encoder {worst_h:.2g}  greedy ids differ {g_bad}/{g_all}  "
                  f"beam sequences differ {b_bad}/{b_all}", flush=True)
            del m
    return 0


if __name__ == "__main__":
    sys.exit(main())
