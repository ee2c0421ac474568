#!/usr/bin/env python3
"""Evaluates the speller and aspell/hunspell side by side on the same sets.

Misspelling sets (evaluation only; their misspelled forms are blocked from
the synthetic training inputs): codespell's dictionary.txt and misspell-fixer's
rules, lower-case entries with one correction (build_data.py writes them).
Correct sets (the output must equal the input): held-out generated phrases,
the correct words of those two lists, and dictionary words outside the
training vocabulary (rare words).

    python3 tools/speller/evaluate.py --model models/speller/1 [--n 2000] [--json out.json]

Top-1 is the first beam of a 5-beam search (and, separately, greedy), top-5
any of 5 returned beams. For aspell/hunspell, top-1 is the first suggestion
(a word they accept counts as unchanged), top-5 any of the first five.
Every comparison lower-cases both sides.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

import torch

EVAL = "tools/out/speller/eval"
HELD = "tools/out/speller/heldout.txt"


def load_sets(n, seed=5):
    rng = random.Random(seed)
    sets = {}
    for name in ("codespell", "misspell_fixer"):
        with open(os.path.join(EVAL, name + ".tsv")) as f:
            pairs = [tuple(l.rstrip("\n").split("\t")) for l in f if l.strip()]
        rng.shuffle(pairs)
        sets[name] = pairs[:n]
    for name, path in (("heldout_phrases", HELD),
                       ("correct_words", os.path.join(EVAL, "correct_words.txt")),
                       ("rare_words", os.path.join(EVAL, "rare_words.txt"))):
        with open(path) as f:
            items = [l.strip() for l in f if l.strip()]
        rng.shuffle(items)
        sets[name] = [(x, x) for x in items[:n]]
    return sets


def ispell(cmd, texts, k=5, keep_case=False):
    """Runs an ispell-compatible checker in pipe mode, one word per line.
    Returns, for each text, up to k candidate corrections of the whole text
    (candidate j replaces each misspelled word by its j-th suggestion, or the
    first when it has fewer), lower-cased unless keep_case."""
    words = sorted({w for t in texts for w in t.split()})
    inp = "".join("^" + w + "\n" for w in words)
    out = subprocess.run(cmd, input=inp, capture_output=True, text=True, check=True).stdout
    lines = out.split("\n")[1:]  # the version banner
    sugg = {}
    i = 0
    for w in words:
        res = []
        while i < len(lines) and lines[i] != "":
            res.append(lines[i])
            i += 1
        i += 1  # blank line ending this input line
        s = [w]
        for r in res[:1]:
            if r.startswith("&"):
                s = [x.strip() if keep_case else x.strip().lower()
                     for x in r.split(":", 1)[1].split(",")]
            elif r.startswith("#"):
                s = [w]
        sugg[w] = s
    cands = []
    for t in texts:
        ws = t.split()
        cands.append([" ".join(sugg[w][min(j, len(sugg[w]) - 1)] for w in ws) for j in range(k)])
    return cands


class Model:
    def __init__(self, path, threads):
        from transformers import AutoTokenizer, T5ForConditionalGeneration

        torch.set_num_threads(threads)
        self.m = T5ForConditionalGeneration.from_pretrained(path, dtype=torch.float32).eval()
        cfg = self.m.config
        self.cache = cfg.num_layers == cfg.num_decoder_layers or True
        if os.path.exists(os.path.join(path, "spiece.model")):
            import sentencepiece as spm
            self.sp = spm.SentencePieceProcessor(model_file=os.path.join(path, "spiece.model"))
        else:
            self.sp = None

    def enc(self, texts):
        if self.sp:
            seqs = [ids + [1] for ids in self.sp.encode(texts)]
        else:
            seqs = [[b + 3 for b in t.encode()] + [1] for t in texts]
        n = max(len(s) for s in seqs)
        x = torch.zeros(len(seqs), n, dtype=torch.long)
        for i, s in enumerate(seqs):
            x[i, :len(s)] = torch.tensor(s)
        return x

    def dec(self, ids):
        ids = [i for i in ids if i > 2]
        if self.sp:
            return self.sp.decode(ids)
        return bytes(i - 3 for i in ids if i < 259).decode("utf-8", "replace")

    @torch.no_grad()
    def generate(self, texts, beams, k, bs=64, max_new=32):
        out = []
        for i in range(0, len(texts), bs):
            x = self.enc(texts[i:i + bs])
            g = self.m.generate(input_ids=x, attention_mask=(x != 0).long(), num_beams=beams,
                                num_return_sequences=k, max_new_tokens=max_new, do_sample=False)
            g = g.tolist()
            for j in range(len(g) // k):
                out.append([self.dec(s) for s in g[j * k:(j + 1) * k]])
        return out


def vocab_words():
    import gzip
    with gzip.open("tools/out/speller/words.tsv.gz", "rt") as f:
        return {l.split("\t")[0] for l in f}


def score(cands, pairs):
    top1 = sum(c[0] == y.lower() for c, (x, y) in zip(cands, pairs))
    top5 = sum(y.lower() in c[:5] for c, (x, y) in zip(cands, pairs))
    return top1 / len(pairs), top5 / len(pairs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--sets", default="codespell,misspell_fixer,heldout_phrases,correct_words,rare_words")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--no-beam", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    global VOCAB
    VOCAB = vocab_words()
    sets = load_sets(args.n)
    model = Model(args.model, args.threads)
    results = {}
    for name in args.sets.split(","):
        pairs = sets[name]
        xs = [x for x, _ in pairs]
        r = {"n": len(pairs)}
        t = time.time()
        g = model.generate(xs, 1, 1)
        r["model_greedy_top1"] = score(g, pairs)[0]
        inv = [i for i, (x, y) in enumerate(pairs) if x != y and all(w in VOCAB for w in y.split())]
        if inv:
            r["in_vocab_n"] = len(inv)
            r["model_greedy_top1_in_vocab"] = score([g[i] for i in inv], [pairs[i] for i in inv])[0]
        r["greedy_s"] = time.time() - t
        if not args.no_beam:
            t = time.time()
            b = model.generate(xs, 5, 5, bs=32)
            r["model_beam_top1"], r["model_beam_top5"] = score(b, pairs)
            r["beam_s"] = time.time() - t
        if not args.no_baselines:
            for tool, cmd in (("aspell", ["aspell", "-a", "--lang=en_US"]),
                              ("hunspell", ["hunspell", "-d", "en_US", "-a"])):
                c = ispell(cmd, xs)
                r[tool + "_top1"], r[tool + "_top5"] = score(c, pairs)
                if inv:
                    r[tool + "_top1_in_vocab"] = score([c[i] for i in inv], [pairs[i] for i in inv])[0]
        results[name] = r
        print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}),
              flush=True)
        # A few model errors, for the model card.
        errs = [(x, y, c[0]) for c, (x, y) in zip(g, pairs) if c[0] != y][:8]
        print("  greedy errors:", errs, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
