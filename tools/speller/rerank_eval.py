#!/usr/bin/env python3
"""Measures lexicon reranking of the speller's beams (rerank.py) on the same
samples as evaluate.py (seed 5, --n per set), and picks the score margin on a
synthetic dev set made by the training pipeline's noise model (never on the
evaluation sets).

    python3 tools/speller/rerank_eval.py --model models/speller/1 --n 1000 --threads 2 \
        --json tools/out/speller/rerank_C6.json

Beams (K = 5 and 8, all K returned with transformers' sequences_scores, i.e.
the sum of log-probabilities over the generated length, EOS included) are
cached in tools/out/speller/beams_<tag>.json so that variants cost nothing.
The lexicon is the training vocabulary, tools/out/speller/words.tsv.gz
(build_data.py), or --lexicon (the shipped models/speller/1/lexicon.txt holds
the same words).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import rerank  # noqa: E402

DATA = "tools/out/speller"
EVAL_SETS = ("codespell", "misspell_fixer", "heldout_phrases", "correct_words", "rare_words")
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, rerank.INF)


def dev_pairs(n, seed):
    """n pairs from the training generator (30% left correct, as in training),
    with a seed no training run or quick_eval used (runs: crc32 of
    name/seed/worker; quick_eval: 999)."""
    import train
    g = train.PairGen(train.load_data(DATA), seed)
    return [g.pair() for _ in range(n)]


def generated_len(seq, eos=1):
    """Tokens of one of transformers' sequences after the decoder start, up to
    and including the first EOS (the n_ids t5serve's score is normalized by)."""
    body = seq[1:]
    if eos in body:
        return body.index(eos) + 1
    while body and body[-1] == 0:
        body = body[:-1]
    return len(body)


@torch.no_grad()
def beams(model, texts, k, bs=32, max_new=32, with_len=False):
    """[[(text, score)] * k] per input, best first; with_len: (text, score,
    generated tokens)."""
    out = []
    for i in range(0, len(texts), bs):
        x = model.enc(texts[i:i + bs])
        g = model.m.generate(input_ids=x, attention_mask=(x != 0).long(), num_beams=k,
                             num_return_sequences=k, max_new_tokens=max_new, do_sample=False,
                             return_dict_in_generate=True, output_scores=True)
        seqs, scores = g.sequences.tolist(), g.sequences_scores.tolist()
        for j in range(len(seqs) // k):
            out.append([(model.dec(s), sc) + ((generated_len(s),) if with_len else ())
                        for s, sc in zip(seqs[j * k:(j + 1) * k], scores[j * k:(j + 1) * k])])
    return out


def sign_test(b, c):
    """Two-sided exact sign (McNemar) test: b items only one system got right,
    c only the other."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def acc(pairs, outs):
    return sum(o == y.lower() for o, (_, y) in zip(outs, pairs)) / len(pairs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--tag", default="C6",
                    help="beam cache beams_<tag>.json: name the checkpoint that --model is")
    ap.add_argument("--n", type=int, default=1000,
                    help="entries per set (sets with fewer entries are used whole)")
    ap.add_argument("--dev-n", type=int, default=2000)
    ap.add_argument("--dev-seed", type=int, default=20261127)
    ap.add_argument("--ks", default="5,8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lexicon", default=os.path.join(DATA, "words.tsv.gz"))
    ap.add_argument("--url", help="host:port of a t5serve server with the speller: also score "
                    "its outputs (config defaults: 5 beams + lexicon) on the evaluation sets, and "
                    "count those equal to the rule without lexicon_prior (since session 12 the "
                    "shipped config has one: fresh_eval.py --url checks it)")
    ap.add_argument("--json")
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    lex = rerank.load_lexicon(args.lexicon)
    sets = evaluate.load_sets(args.n)
    sets = {k: sets[k] for k in EVAL_SETS}
    sets["dev"] = dev_pairs(args.dev_n, args.dev_seed)

    cache = os.path.join(DATA, "beams_%s.json" % args.tag)
    cached = json.load(open(cache)) if os.path.exists(cache) else {}
    model = None
    for k in ks:
        for name, pairs in sets.items():
            key = "%s/k%d/n%d" % (name, k, len(pairs))
            if key in cached and [x for x, _ in pairs] == cached[key]["inputs"]:
                continue
            if model is None:
                model = evaluate.Model(args.model, args.threads)
            t = time.time()
            xs = [x for x, _ in pairs]
            cached[key] = {"inputs": xs, "beams": beams(model, xs, k)}
            print("beams %s: %.1f s" % (key, time.time() - t), flush=True)
            with open(cache + ".tmp", "w") as f:
                json.dump(cached, f)
            os.replace(cache + ".tmp", cache)

    def choose_all(name, k, margin, keep):
        pairs = sets[name]
        b = cached["%s/k%d/n%d" % (name, k, len(pairs))]["beams"]
        return [rerank.choose(x, bb, lex, margin, keep) for (x, _), bb in zip(pairs, b)]

    # aspell / hunspell first suggestions on the same samples, for paired counts.
    checker = {}
    for tool, cmd in (("aspell", ["aspell", "-a", "--lang=en_US"]),
                      ("hunspell", ["hunspell", "-d", "en_US", "-a"])):
        for name in EVAL_SETS:
            checker[tool, name] = [c[0] for c in evaluate.ispell(cmd, [x for x, _ in sets[name]])]

    res = {"lexicon_words": len(lex), "dev": {}, "eval": {}}
    # The margin, on the synthetic dev set only: exact match over all its pairs
    # (noisy and correct), and separately on the correct ones.
    dev = sets["dev"]
    clean = [i for i, (x, y) in enumerate(dev) if x == y]
    cset = set(clean)
    print("dev: %d pairs, %d correct inputs" % (len(dev), len(clean)))
    best = {}
    for k in ks:
        b = cached["dev/k%d/n%d" % (k, len(dev))]["beams"]
        for keep in ("none", "beam", "accept"):
            for m in MARGINS:
                outs = [rerank.choose(x, bb, lex, m, keep) for (x, _), bb in zip(dev, b)]
                a = acc(dev, outs)
                a_noisy = acc([p for i, p in enumerate(dev) if i not in cset],
                              [o for i, o in enumerate(outs) if i not in cset])
                a_clean = acc([dev[i] for i in clean], [outs[i] for i in clean])
                res["dev"]["k%d/%s/%s" % (k, keep, m)] = {"all": a, "noisy": a_noisy, "clean": a_clean}
                print("dev k=%d keep=%-6s margin=%-5s all %.4f noisy %.4f clean %.4f"
                      % (k, keep, m, a, a_noisy, a_clean), flush=True)
                if (k, keep) not in best or a > best[(k, keep)][1]:
                    best[(k, keep)] = (m, a)
    print("dev-chosen margins:", {"k%d/%s" % kk: v[0] for kk, v in best.items()})

    variants = [("top beam", 5, -1.0, "none")]
    for k in ks:
        variants.append(("first in lexicon", k, rerank.INF, "none"))
        variants.append(("margin (dev)", k, best[(k, "none")][0], "none"))
        variants.append(("margin (dev) + keep lexicon input in beams", k, best[(k, "beam")][0], "beam"))
        variants.append(("margin (dev) + accept lexicon input", k, best[(k, "accept")][0], "accept"))
    print("n per set:", {name: len(sets[name]) for name in EVAL_SETS})
    for tool in ("aspell", "hunspell"):
        row = {name: acc(sets[name], checker[tool, name]) for name in EVAL_SETS}
        res["eval"][tool] = row
        print("%-54s " % tool + " ".join("%s %.3f" % (n[:9], v) for n, v in row.items()))
    for label, k, m, keep in variants:
        row, paired = {}, {}
        for name in EVAL_SETS:
            o = choose_all(name, k, m, keep)
            row[name] = acc(sets[name], o)
            if name in ("codespell", "misspell_fixer"):
                for tool in ("aspell", "hunspell"):
                    ok_m = [a == y.lower() for a, (_, y) in zip(o, sets[name])]
                    ok_t = [a == y.lower() for a, (_, y) in zip(checker[tool, name], sets[name])]
                    b = sum(p and not q for p, q in zip(ok_m, ok_t))
                    c = sum(q and not p for p, q in zip(ok_m, ok_t))
                    paired["%s/%s" % (name, tool)] = {"only_model": b, "only_" + tool: c,
                                                     "p": sign_test(b, c)}
        res["eval"]["%s k=%d margin=%s" % (label, k, m)] = dict(row, paired=paired)
        print("%-45s k=%d m=%-4s " % (label, k, m) +
              " ".join("%s %.3f" % (n[:9], v) for n, v in row.items()), flush=True)
        for key, v in paired.items():
            if key.endswith("aspell"):
                print("    vs %s: only model %d, only aspell %d, sign test p %.3f"
                      % (key, v["only_model"], v["only_aspell"], v["p"]))
    if args.url:
        import parity
        row, same = {}, 0
        for name in EVAL_SETS:
            xs = [x for x, _ in sets[name]]
            got = []
            for i in range(0, len(xs), 16):
                got += parity.served(args.url, xs[i:i + 16])
            row[name] = acc(sets[name], got)
            same += sum(g == w for g, w in zip(got, choose_all(name, 5, rerank.INF, "none")))
        res["eval"]["served by t5serve (5 beams + lexicon)"] = dict(row, same_as_python=same)
        print("%-54s " % "served by t5serve (5 beams + lexicon)" +
              " ".join("%s %.3f" % (n[:9], v) for n, v in row.items()))
        print("    identical to transformers beams + rerank.py (no prior): %d/%d"
              % (same, sum(len(sets[n]) for n in EVAL_SETS)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
