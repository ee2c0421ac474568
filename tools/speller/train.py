#!/usr/bin/env python3
"""Trains a small T5 speller from scratch on synthetic noisy/clean pairs made
on the fly (phrases.py + noise.py), for a fixed wall-clock budget.

    python3 tools/speller/train.py --name A --tok spm --d-model 256 --layers 4 \
        --dec-layers 4 --d-ff 640 --minutes 7 --out $OUT

Every --save-every seconds, and at the end, it writes OUT/NAME.tar holding
NAME/config.json, NAME/model.safetensors (fp16), NAME/train.log: one file per
variant, so several variants fit the device call's limit on returned files.
Runs on CUDA with bf16 autocast when there is a GPU, else on CPU (smoke tests).
"""
import argparse
import gzip
import io
import json
import math
import os
import random
import shutil
import sys
import tarfile
import time
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import noise  # noqa: E402
import phrases  # noqa: E402

P_WORD = 0.4    # share of single-word samples
P_CLEAN = 0.3   # share of inputs left correct


def load_data(d):
    words = []
    with gzip.open(os.path.join(d, "words.tsv.gz"), "rt") as f:
        for line in f:
            w, z = line.rstrip("\n").split("\t")
            words.append((w, float(z)))
    with gzip.open(os.path.join(d, "lex.json.gz"), "rt") as f:
        lex = json.load(f)
    with gzip.open(os.path.join(d, "block.txt.gz"), "rt") as f:
        block = {l.strip() for l in f if l.strip()}
    with open(os.path.join(d, "heldout.txt")) as f:
        held = {l.strip() for l in f if l.strip()}
    return words, lex, block, held


class Encoder:
    """Text -> ids with EOS, for SentencePiece or ByT5-style bytes."""

    def __init__(self, kind, spm_path):
        self.kind = kind
        if kind == "spm":
            import sentencepiece as spm
            self.sp = spm.SentencePieceProcessor(model_file=spm_path)
            self.vocab = self.sp.get_piece_size()
        else:
            self.vocab = 384  # ByT5's size: 3 specials + 256 bytes + 125 sentinels

    def encode(self, texts):
        if self.kind == "spm":
            return [ids + [1] for ids in self.sp.encode(texts)]
        return [[b + 3 for b in t.encode("utf-8")] + [1] for t in texts]

    def decode(self, ids):
        ids = [i for i in ids if i > 2]
        if self.kind == "spm":
            return self.sp.decode(ids)
        return bytes(i - 3 for i in ids if i < 259).decode("utf-8", "replace")


class PairGen:
    def __init__(self, data, seed, profile="default"):
        words, lex, block, held = data
        self.rng = random.Random(seed)
        self.gen = phrases.PhraseGen(words, lex, self.rng)
        self.noiser = noise.Noiser({w for w, _ in words}, block, self.rng, profile=profile)
        self.held = held

    def pair(self):
        r = self.rng
        while True:
            clean = self.gen.word() if r.random() < P_WORD else self.gen.phrase()
            if clean not in self.held:
                break
        if r.random() < P_CLEAN:
            return clean, clean
        noisy = self.noiser.corrupt(clean)
        return (noisy if noisy is not None else clean), clean


def pad(seqs, maxlen, mult=8):
    seqs = [s[:maxlen] for s in seqs]
    n = max(len(s) for s in seqs)
    n = (n + mult - 1) // mult * mult
    out = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out


class Batches(torch.utils.data.IterableDataset):
    def __init__(self, args, data, enc):
        self.args, self.data, self.enc = args, data, enc

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        tag = self.args.data_tag or self.args.name
        g = PairGen(self.data, zlib.crc32(("%s/%d/%d" % (tag, self.args.seed, wid)).encode()),
                    self.args.noise_profile)
        maxlen = self.args.max_len
        while True:
            pairs = [g.pair() for _ in range(self.args.batch)]
            x = pad(self.enc.encode([p[0] for p in pairs]), maxlen)
            y = pad(self.enc.encode([p[1] for p in pairs]), maxlen)
            y[y == 0] = -100
            yield x, y


def build_model(args, vocab):
    from transformers import T5Config, T5ForConditionalGeneration

    cfg = T5Config(
        vocab_size=vocab, d_model=args.d_model, d_kv=args.d_model // args.heads, d_ff=args.d_ff,
        num_layers=args.layers, num_decoder_layers=args.dec_layers, num_heads=args.heads,
        relative_attention_num_buckets=32, relative_attention_max_distance=128,
        dropout_rate=0.0, feed_forward_proj=args.ff, tie_word_embeddings=True,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, is_encoder_decoder=True)
    return T5ForConditionalGeneration(cfg)


def grow_d_ff(model, d_ff, seed, scale=0.5):
    """Returns a copy of `model` whose every feed-forward block is widened from
    config.d_ff to `d_ff` hidden units while computing exactly the same function:
    the new rows of wi_0 / wi_1 are random (normal, `scale` times the standard
    deviation of that matrix's trained rows, so the new units are active and get
    a gradient), and the new columns of wo are zero, so the new units add nothing
    to the output until training moves them. Gated (wi_0, wi_1) and plain (wi)
    feed-forward blocks alike."""
    import copy

    old = model.config.d_ff
    if d_ff <= old:
        raise ValueError("--grow-d-ff %d: not wider than the checkpoint's d_ff %d" % (d_ff, old))
    cfg = copy.deepcopy(model.config)
    cfg.d_ff = d_ff
    grown = type(model)(cfg)
    src = model.state_dict()
    dst = grown.state_dict()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, w in dst.items():
            o = src[k].to(w.dtype)
            if o.shape == w.shape:
                w.copy_(o)
            elif k.endswith((".wi.weight", ".wi_0.weight", ".wi_1.weight")):   # (d_ff, d_model)
                w.copy_(torch.randn(w.shape, generator=g) * (scale * o.float().std().item()))
                w[:old] = o
            elif k.endswith(".wo.weight"):                                          # (d_model, d_ff)
                w.zero_()
                w[:, :old] = o
            else:
                raise ValueError("grow_d_ff: unexpected shape change of %s %s -> %s" % (
                    k, tuple(o.shape), tuple(w.shape)))
    grown.load_state_dict(dst)
    return grown


def save(args, model, log_lines, final=False):
    """Writes OUT/NAME.tar (config.json, model.safetensors in fp16, train.log)."""
    tmp = os.path.join(args.work, args.name)
    os.makedirs(tmp, exist_ok=True)
    sd_model = type(model)(model.config)
    sd_model.load_state_dict(model.state_dict())
    sd_model.to(torch.float16).save_pretrained(tmp, safe_serialization=True)
    with open(os.path.join(tmp, "train.log"), "w") as f:
        f.write("\n".join(log_lines) + "\n")
    dst = os.path.join(args.out, args.name + ".tar")
    with tarfile.open(dst + ".tmp", "w") as t:
        for fn in sorted(os.listdir(tmp)):
            t.add(os.path.join(tmp, fn), arcname=os.path.join(args.name, fn))
    os.replace(dst + ".tmp", dst)


@torch.no_grad()
def quick_eval(args, model, enc, data, dev):
    """Greedy exact-match on synthetic dev pairs (the default noise profile whatever
    --noise-profile is, so rounds stay comparable) and the unchanged rate on
    held-out correct phrases."""
    model.eval()
    g = PairGen(data, 999)
    noisy = []
    while len(noisy) < args.eval_n:
        x, y = g.pair()
        if x != y:
            noisy.append((x, y))
    held = sorted(data[3])[:args.eval_n]
    res = {}
    for name, pairs in (("dev_noisy_acc", noisy), ("heldout_unchanged", [(h, h) for h in held])):
        ok = 0
        for i in range(0, len(pairs), 250):
            chunk = pairs[i:i + 250]
            x = pad(enc.encode([p[0] for p in chunk]), args.max_len).to(dev)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                out = model.generate(input_ids=x, attention_mask=(x != 0).long(), max_new_tokens=args.max_len,
                                     num_beams=1, do_sample=False,
                                     use_cache=args.layers == args.dec_layers)
            for (a, b), o in zip(chunk, out.tolist()):
                ok += enc.decode(o) == b
        res[name] = ok / len(pairs)
    model.train()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--tok", choices=["spm", "byte"], default="spm")
    ap.add_argument("--data", default="tools/out/speller")
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=640)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dec-layers", type=int, default=4)
    ap.add_argument("--ff", default="gated-gelu")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--accum", type=int, default=1,
                    help="split each batch into this many micro-batches (same gradient, less GPU memory)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=400)
    ap.add_argument("--minutes", type=float, default=7.0)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--max-len", type=int, default=0)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--save-every", type=float, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval-n", type=int, default=1000)
    ap.add_argument("--init", help="continue from this checkpoint directory (its architecture wins)")
    ap.add_argument("--grow-d-ff", type=int, default=0,
                    help="with --init: widen every feed-forward block to this d_ff, function-preservingly")
    ap.add_argument("--data-tag", help="names the noise stream with --seed (default: --name); two runs "
                    "given the same tag, seed and --workers train on the same pairs in the same order")
    ap.add_argument("--noise-profile", choices=sorted(noise.PROFILES), default="default",
                    help="edit counts and per-edit mix of the training noise (noise.PROFILES); "
                    "default: every round up to C6")
    ap.add_argument("--log-every", type=int, default=500)
    ap.add_argument("--out", default="tools/out/speller/runs")
    ap.add_argument("--work", default="/tmp/speller_work")
    args = ap.parse_args()
    if not args.max_len:
        args.max_len = 40 if args.tok == "spm" else 80
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_data(args.data)
    enc = Encoder(args.tok, os.path.join(args.data, "spiece.model"))
    if args.init:
        from transformers import T5ForConditionalGeneration
        model = T5ForConditionalGeneration.from_pretrained(args.init, dtype=torch.float32)
        if args.grow_d_ff:
            model = grow_d_ff(model, args.grow_d_ff, args.seed)
        model = model.to(dev)
    else:
        model = build_model(args, enc.vocab).to(dev)
    nparam = sum(p.numel() for p in model.parameters())
    log = []

    def say(s):
        line = "[%s %7.1fs] %s" % (args.name, time.time() - t0, s)
        print(line, flush=True)
        log.append(line)

    t0 = time.time()
    say("args %s" % json.dumps(vars(args)))
    if args.grow_d_ff:
        say("grown: every feed-forward block widened to d_ff %d (new wo columns zero: the checkpoint's "
            "function at step 0)" % model.config.d_ff)
    say("params %d (%.1f MB fp16), device %s %s, torch %s" % (
        nparam, nparam * 2 / 1e6, dev, torch.cuda.get_device_name(0) if dev.type == "cuda" else "",
        torch.__version__))
    dl = torch.utils.data.DataLoader(Batches(args, data, enc), batch_size=None,
                                     num_workers=args.workers, prefetch_factor=8 if args.workers else None,
                                     persistent_workers=False)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8,
                            fused=dev.type == "cuda")
    budget = args.minutes * 60
    t_start = time.time()
    last_save = t_start
    step, seen, ema = 0, 0, None
    model.train()
    for x, y in dl:
        el = time.time() - t_start
        frac = el / budget
        if frac >= 1.0 or (args.max_steps and step >= args.max_steps):
            break
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for gp in opt.param_groups:
            gp["lr"] = lr
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        # --accum micro-batches: each one's mean token loss weighted by its share of the
        # batch's target tokens, so the gradient is the whole batch's (less memory).
        n_tok = (y != -100).sum()
        loss = 0.0
        for xm, ym in zip(x.chunk(args.accum), y.chunk(args.accum)):
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                lm = model(input_ids=xm, attention_mask=(xm != 0).long(), labels=ym).loss
            lm = lm * ((ym != -100).sum() / n_tok)
            lm.backward()
            loss = loss + lm.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += x.shape[0]
        if step == 1:
            say("step 1 loss %.4f (before the first update)" % loss.item())
        if step % 100 == 0:
            lv = loss.item()
            ema = lv if ema is None else 0.9 * ema + 0.1 * lv
            if step % args.log_every == 0:
                say("step %d loss %.4f ema %.4f lr %.2e samples %d samples/s %.0f" % (
                    step, lv, ema, lr, seen, seen / (time.time() - t_start)))
        if time.time() - last_save > args.save_every:
            save(args, model, log)
            last_save = time.time()
    train_s = time.time() - t_start
    say("trained steps %d samples %d in %.1fs: %.0f samples/s, final loss ema %s" % (
        step, seen, train_s, seen / max(train_s, 1e-9), ema))
    save(args, model, log)
    res = quick_eval(args, model, enc, data, dev)
    say("RESULT %s params %d steps %d samples %d dev_noisy_acc %.4f heldout_unchanged %.4f" % (
        args.name, nparam, step, seen, res["dev_noisy_acc"], res["heldout_unchanged"]))
    save(args, model, log, final=True)
    os._exit(0)  # do not wait for the DataLoader workers to wind down


if __name__ == "__main__":
    main()
