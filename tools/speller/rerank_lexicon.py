#!/usr/bin/env python3
"""Lexicon size and two-tier rules for the speller's rerank, on cached beams
(bench/speller.md, "Bigger lexicons and two-tier rules"). CPU only.

    apt-get download wamerican-huge && dpkg -x wamerican-huge_*.deb /tmp/whuge
    python3 tools/speller/rerank_lexicon.py --huge /tmp/whuge/usr/share/dict/american-english-huge \
        --threads 2 --json tools/out/speller/rerank_lexicon_C5.json

Lexicons: V, the training vocabulary (words.tsv.gz, the shipped lexicon.txt);
L = V + wamerican-large; H = V + wamerican-huge (both lower-cased Debian word
lists). Rules, on beams best first:
  first(X)         the first beam whose words are all in X, else the top beam
                   (the shipped rule is first(V));
  tier(S, B)       the top beam if it is all in B; else the first beam all in S;
                   else the first all in B; else the top beam;
  tier-noB(S, B)   the same without the last fallback to B.

The evaluation set "rare_words" is wamerican-large minus V by construction
(build_data.py), so L and H contain all of it. An independent set of correct
rare words: WordNet 3.0 lemmas (lower-case in the data files, one word, at
least 4 letters, outside V), shuffled with seed 11: 1,500 for choosing
(wordnet_rare_dev) and 1,500 more for reporting (wordnet_rare). Their beams
(K = 5, 8) are computed once on the CPU and added to beams_<tag>.json (C5's by
default: the numbers in bench/speller.md are C5's; --model must be that checkpoint).
The variant is chosen on the synthetic dev set and wordnet_rare_dev only.
"""
import argparse
import gzip
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import rerank  # noqa: E402
import rerank_eval  # noqa: E402

DATA = "tools/out/speller"
LARGE = "/usr/share/dict/american-english-large"
HUGE = "/usr/share/dict/american-english-huge"
WORDNET = "/usr/share/wordnet"
WORD_RE = re.compile(r"^[a-z](?:[a-z']*[a-z])?$")
EVAL_SETS = rerank_eval.EVAL_SETS + ("wordnet_rare",)
CHECKED = ("codespell", "misspell_fixer")


def word_list(path):
    with open(path, encoding="utf-8") as f:
        return {rerank.lower(w.strip()) for w in f if w.strip()}


def wordnet_rare(vocab, n=1500, seed=11):
    words = set()
    for pos in ("noun", "adj", "verb", "adv"):
        with open(os.path.join(WORDNET, "data." + pos), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                parts = line.split()
                for i in range(int(parts[3], 16)):
                    w = re.sub(r"\(.*\)$", "", parts[4 + 2 * i])
                    if w == w.lower() and WORD_RE.match(w) and len(w) >= 4:
                        words.add(w)
    items = sorted(words - vocab)
    random.Random(seed).shuffle(items)
    return items[:n], items[n:2 * n]


def first(beams, lex):
    for t, _ in beams:
        if rerank.all_in(t, lex):
            return t
    return beams[0][0]


def tier(beams, small, big, fallback_big=True):
    if rerank.all_in(beams[0][0], big):
        return beams[0][0]
    for t, _ in beams:
        if rerank.all_in(t, small):
            return t
    if fallback_big:
        return first(beams, big)
    return beams[0][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tools/out/speller/runs5/C5")
    ap.add_argument("--tag", default="C5", help="beam cache beams_<tag>.json (the --model's)")
    ap.add_argument("--huge", default=HUGE, help="wamerican-huge's word list (skipped if absent)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()

    V = rerank.load_lexicon(os.path.join(DATA, "words.tsv.gz"))
    lexicons = {"V": V, "L": V | word_list(LARGE)}
    if os.path.exists(args.huge):
        lexicons["H"] = V | word_list(args.huge)
    print({k: len(v) for k, v in lexicons.items()})

    cache = os.path.join(DATA, "beams_%s.json" % args.tag)
    cached = json.load(open(cache))
    full = {}  # the full sets' keys (n6000 / n5742 / n3000), and the dev set
    for key in cached:
        name, k, n = key.split("/")
        if name == "dev" or int(n[1:]) > 1000:
            full.setdefault(name, {})[int(k[1:])] = key
    wn_dev, wn_test = wordnet_rare(V)
    model = None
    for name, xs in (("wordnet_rare_dev", wn_dev), ("wordnet_rare", wn_test)):
        for k in (5, 8):
            key = "%s/k%d/n%d" % (name, k, len(xs))
            if key not in cached or cached[key]["inputs"] != xs:
                if model is None:
                    model = evaluate.Model(args.model, args.threads)
                t = time.time()
                cached[key] = {"inputs": xs, "beams": rerank_eval.beams(model, xs, k)}
                print("beams %s: %.1f s" % (key, time.time() - t), flush=True)
                with open(cache + ".tmp", "w") as f:
                    json.dump(cached, f)
                os.replace(cache + ".tmp", cache)
            full.setdefault(name, {})[k] = key

    # The full samples of rerank_eval.py --n 6000 (the first 1,000 of each are
    # the --n 1000 samples of the tables before), and the dev set.
    sets = evaluate.load_sets(6000)
    sets["dev"] = rerank_eval.dev_pairs(2000, 20261127)
    sets["wordnet_rare_dev"] = [(x, x) for x in wn_dev]
    sets["wordnet_rare"] = [(x, x) for x in wn_test]
    for name, ks in full.items():
        for k, key in ks.items():
            assert [x for x, _ in sets[name]] == cached[key]["inputs"], key

    rules = [("top beam", None)]
    for X in lexicons:
        rules.append(("first(%s)" % X, lambda b, X=X: first(b, lexicons[X])))
    for B in [b for b in lexicons if b != "V"]:
        rules.append(("tier(V,%s)" % B, lambda b, B=B: tier(b, V, lexicons[B])))
        rules.append(("tier-noB(V,%s)" % B, lambda b, B=B: tier(b, V, lexicons[B], False)))

    names = ("dev", "wordnet_rare_dev") + EVAL_SETS
    checker = {}
    for tool, cmd in (("aspell", ["aspell", "-a", "--lang=en_US"]),
                      ("hunspell", ["hunspell", "-d", "en_US", "-a"])):
        for name in EVAL_SETS + ("wordnet_rare_dev",):
            checker[tool, name] = [c[0] for c in evaluate.ispell(cmd, [x for x, _ in sets[name]])]
    res = {"lexicon_words": {k: len(v) for k, v in lexicons.items()},
           "n": {name: len(sets[name]) for name in names}, "rows": {}}
    print("n:", res["n"])
    print("%-22s %s" % ("", " ".join("%9s" % n[:9] for n in names)))
    for tool in ("aspell", "hunspell"):
        row = {n: rerank_eval.acc(sets[n], checker[tool, n]) for n in names if n != "dev"}
        res["rows"][tool] = dict(row, first1000={
            n: rerank_eval.acc(sets[n][:1000], checker[tool, n][:1000]) for n in rerank_eval.EVAL_SETS})
        print("%-22s %s" % (tool, " ".join("%9s" % ("%.4f" % row[n] if n in row else "") for n in names)))
    shipped = {}
    for k in (5, 8):
        for label, rule in rules:
            if rule is None and k == 8:
                continue
            row, first1000, paired, vs_shipped = {}, {}, {}, {}
            for name in names:
                ps = sets[name]
                bs = cached[full[name][k]]["beams"]
                outs = [bb[0][0] if rule is None else rule(bb) for bb in bs]
                ok = [o == y.lower() for o, (_, y) in zip(outs, ps)]
                row[name] = sum(ok) / len(ok)
                if name in rerank_eval.EVAL_SETS:
                    first1000[name] = sum(ok[:1000]) / min(1000, len(ok))
                if (k, label) == (5, "first(V)"):
                    shipped[name] = ok
                elif name in shipped:
                    b = sum(p and not q for p, q in zip(ok, shipped[name]))
                    c = sum(q and not p for p, q in zip(ok, shipped[name]))
                    vs_shipped[name] = (b, c, rerank_eval.sign_test(b, c))
                if name in CHECKED:
                    ok_a = [a == y.lower() for a, (_, y) in zip(checker["aspell", name], ps)]
                    b = sum(p and not q for p, q in zip(ok, ok_a))
                    c = sum(q and not p for p, q in zip(ok, ok_a))
                    paired[name] = (b, c, rerank_eval.sign_test(b, c))
            lab = "K=%d %s" % (k, label)
            res["rows"][lab] = dict(row, first1000=first1000, paired_aspell=paired,
                                    paired_shipped=vs_shipped)
            print("%-22s %s   vs aspell: %s" % (
                lab, " ".join("%9.4f" % row[n] for n in names),
                "; ".join("%s %d/%d p=%.3f" % ((n[:4],) + v) for n, v in paired.items())))
            print("%-22s %s" % ("  first 1000", " ".join(
                "%9s" % ("%.3f" % first1000[n] if n in first1000 else "") for n in names)))
            if vs_shipped:
                print("  vs first(V), only this / only shipped: " + "; ".join(
                    "%s %d/%d p=%.3f" % ((n[:9],) + v) for n, v in vs_shipped.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
