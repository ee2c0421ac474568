#!/usr/bin/env python3
"""Measures rule prior(V) of bench/speller.md ("A word-frequency prior for
inputs with an unknown word") against the served rule on the cached 5-beam
outputs of rerank_eval.py (beams_<tag>.json), on the same samples.

    python3 tools/speller/prior_eval.py --tag C6 --json tools/out/speller/prior_C6.json

prior(V): when the input has a word outside the lexicon V, the beam all in V
with the largest S + (1 - alpha) ln 10 sum_w (z(w) - 9), S the beam's summed
log-probability (score x generated tokens incl. EOS, counted by re-encoding
with the model's SentencePiece model), z the Zipf value of words.tsv.gz,
alpha = 0.35 (phrases.PhraseGen's sampler); otherwise the served rule.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import rerank  # noqa: E402
import rerank_eval  # noqa: E402
from rerank_eval import sign_test  # noqa: E402

ALPHA = 0.35


def choose_prior(inp, beams, lex, zipf, ntok):
    """prior(V): rerank.choose with the prior, each beam's length counted by
    ntok (re-encoding; the server uses the generated length)."""
    return rerank.choose(inp, [(t, s, ntok(t)) for t, s in beams], lex,
                         prior=1 - ALPHA, freq=zipf)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tag", default="C6")
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--words", default="tools/out/speller/words.tsv.gz")
    ap.add_argument("--json")
    args = ap.parse_args()
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.model, "spiece.model"))
    ntok = lambda t: len(sp.encode(t)) + 1  # noqa: E731
    lex = rerank.load_lexicon(args.words)
    zipf = rerank.load_freqs(args.words)
    cache = json.load(open("tools/out/speller/beams_%s.json" % args.tag))
    sets = evaluate.load_sets(6000)
    res = {}
    for name in ("codespell", "misspell_fixer", "heldout_phrases", "correct_words",
                 "rare_words", "dev"):
        key = [k for k in cache if k.startswith(name + "/k5/")][0]
        c = cache[key]
        if name == "dev":
            pairs = rerank_eval.dev_pairs(2000, 20261127)
        else:
            pairs = sets[name]
        assert [p[0] for p in pairs] == c["inputs"], name
        served, prior = [], []
        for (x, _), bs in zip(pairs, c["beams"]):
            bs = [tuple(b) for b in bs]
            served.append(rerank.choose(x, bs, lex))
            prior.append(choose_prior(x, bs, lex, zipf, ntok))
        ok_s = [o == y.lower() for o, (_, y) in zip(served, pairs)]
        ok_p = [o == y.lower() for o, (_, y) in zip(prior, pairs)]
        b = sum(p and not s for s, p in zip(ok_s, ok_p))
        cc = sum(s and not p for s, p in zip(ok_s, ok_p))
        r = {"n": len(pairs), "served": sum(ok_s), "prior": sum(ok_p),
             "only_prior": b, "only_served": cc, "p": sign_test(b, cc)}
        if name in ("codespell", "misspell_fixer"):
            asp = evaluate.ispell(["aspell", "-a", "--lang=en_US"], [p[0] for p in pairs], k=1)
            ok_a = [a[0] == y.lower() for a, (_, y) in zip(asp, pairs)]
            for lab, ok in (("prior", ok_p), ("served", ok_s)):
                b2 = sum(o and not a for o, a in zip(ok, ok_a))
                c2 = sum(a and not o for o, a in zip(ok, ok_a))
                r["vs_aspell_" + lab] = [b2, c2, sign_test(b2, c2)]
            r["aspell"] = sum(ok_a)
            r["examples"] = [(x, y, s, p) for (x, y), s, p, a1, a2 in
                             zip(pairs, served, prior, ok_s, ok_p) if a1 != a2][:40]
        res[name] = r
        print(name, {k: v for k, v in r.items() if k != "examples"}, flush=True)
    if args.json:
        json.dump(res, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
