#!/usr/bin/env python3
"""A fresh list of natural misspellings, LibreOffice's autocorrect lists, and
the questions Q1 / Q2 of bench/speller.md ("A fresh list of natural
misspellings") on it.

    python3 tools/speller/fresh_eval.py --tag S567 --json tools/out/speller/fresh_S567.json

The lists come from Debian's libreoffice-common (acor_en-*.dat, zip files
whose DocumentList.xml maps a typed form to the intended one). The package is
fetched with `apt-get download` into tools/out/speller/debs unless --deb names
it. Kept: lower-case typos of letters and "'", corrections of letters and
spaces that differ from the typo, one correction over the four files; dropped:
any typo of a codespell dictionary file or a misspell-fixer rule
(build_data.list_pairs) or in the vocabulary V (a real-word error). The pairs
are written to tools/out/speller/eval/libreoffice.tsv.

Q1: the served rule (5 beams, first all in V), the top beam, aspell and
hunspell on the pairs. Q2: candidates C1 = tier-noB(V,L), C2 = first(L), C3 =
prior(V) against the served rule, on the pairs and on the full sets of
rerank_eval.py --n 6000 (cached beams_<tag>.json).
"""
import argparse
import glob
import html
import json
import os
import re
import subprocess
import sys
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_data  # noqa: E402
import evaluate  # noqa: E402
import prior_eval  # noqa: E402
import rerank  # noqa: E402
import rerank_eval  # noqa: E402
import rerank_lexicon  # noqa: E402
from rerank_eval import sign_test  # noqa: E402

DATA = "tools/out/speller"
LOCALES = ("en-US", "en-GB", "en-AU", "en-ZA")
ENTRY = re.compile(r'block-list:abbreviated-name="([^"]*)" block-list:name="([^"]*)"')
TYPO = re.compile(r"[a-z']+")
FIX = re.compile(r"[A-Za-z' ]+")


def fetch_deb(deb):
    if deb:
        return deb
    d = os.path.join(DATA, "debs")
    os.makedirs(d, exist_ok=True)
    found = glob.glob(os.path.join(d, "libreoffice-common_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", "libreoffice-common"], cwd=d, check=True)
        found = glob.glob(os.path.join(d, "libreoffice-common_*.deb"))
    return sorted(found)[-1]


def autocorrect_pairs(deb):
    """{typo: set of corrections} over the English lists of the package."""
    x = os.path.join(DATA, "debs", "libreoffice-common")
    subprocess.run(["dpkg-deb", "-x", deb, x], check=True)
    pairs = {}
    for loc in LOCALES:
        path = os.path.join(x, "usr/lib/libreoffice/share/autocorr/acor_%s.dat" % loc)
        with zipfile.ZipFile(path) as z:
            text = z.read("DocumentList.xml").decode("utf-8")
        for a, b in ENTRY.findall(text):
            a, b = html.unescape(a), html.unescape(b)
            if TYPO.fullmatch(a) and FIX.fullmatch(b) and rerank.lower(b) != a:
                pairs.setdefault(a, set()).add(rerank.lower(b))
    return pairs


def fresh_pairs(deb, vocab):
    cs, mf, listed = build_data.list_pairs()
    pairs = autocorrect_pairs(deb)
    out = sorted((a, next(iter(f))) for a, f in pairs.items()
                 if len(f) == 1 and a not in listed and a not in vocab)
    print("autocorrect: %d lower-case pairs, %d with one correction, %d fresh (not listed, "
          "not in V)" % (len(pairs), sum(len(f) == 1 for f in pairs.values()), len(out)))
    return out


def right(outs, pairs):
    return [o == y for o, (_, y) in zip(outs, pairs)]


def paired(a, b):
    """(only a right, only b right, p) of two lists of booleans."""
    x = sum(p and not q for p, q in zip(a, b))
    y = sum(q and not p for p, q in zip(a, b))
    return x, y, sign_test(x, y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tag", default="S567", help="beam cache beams_<tag>.json (the --model's)")
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--deb", help="libreoffice-common .deb (default: apt-get download)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--url", help="host:port of a t5serve serving the shipped speller: its outputs "
                    "on every set, counted against C3's (the served rule since session 12)")
    ap.add_argument("--json")
    args = ap.parse_args()

    words = os.path.join(DATA, "words.tsv.gz")
    V = rerank.load_lexicon(words)
    L = V | rerank_lexicon.word_list(rerank_lexicon.LARGE)
    zipf = rerank.load_freqs(words)
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.model, "spiece.model"))
    ntok = lambda t: len(sp.encode(t)) + 1  # noqa: E731

    fresh = fresh_pairs(fetch_deb(args.deb), V)
    with open(os.path.join(DATA, "eval", "libreoffice.tsv"), "w") as f:
        f.writelines("%s\t%s\n" % p for p in fresh)

    freqs = rerank.load_freqs(os.path.join(args.model, "lexicon.txt"))
    model = None
    cache_path = os.path.join(DATA, "beams_%s.json" % args.tag)
    cache = json.load(open(cache_path))
    key = "libreoffice/k5/n%d" % len(fresh)
    xs = [x for x, _ in fresh]
    if key not in cache or cache[key]["inputs"] != xs:
        t = time.time()
        model = model or evaluate.Model(args.model, args.threads)
        cache[key] = {"inputs": xs, "beams": rerank_eval.beams(model, xs, 5)}
        print("beams %s: %.1f s" % (key, time.time() - t), flush=True)
        with open(cache_path + ".tmp", "w") as f:
            json.dump(cache, f)
        os.replace(cache_path + ".tmp", cache_path)

    rules = {
        "served": lambda x, b: rerank.choose(x, b, V),
        "top beam": lambda x, b: b[0][0],
        "C1 tier-noB(V,L)": lambda x, b: rerank_lexicon.tier(b, V, L, fallback_big=False),
        "C2 first(L)": lambda x, b: rerank_lexicon.first(b, L),
        "C3 prior(V)": lambda x, b: prior_eval.choose_prior(x, b, V, zipf, ntok),
    }
    sets = evaluate.load_sets(6000)
    sets = {n: sets[n] for n in rerank_eval.EVAL_SETS}
    sets["libreoffice"] = fresh
    res = {"n": {n: len(p) for n, p in sets.items()}, "sets": {}}
    for name, pairs in sets.items():
        key = [k for k in cache if k.startswith(name + "/k5/") and
               cache[k]["inputs"] == [x for x, _ in pairs]]
        assert len(key) == 1, name
        beams = [[tuple(b) for b in bs] for bs in cache[key[0]]["beams"]]
        pairs = [(x, rerank.lower(y)) for x, y in pairs]
        outs = {r: [f(x, b) for (x, _), b in zip(pairs, beams)] for r, f in rules.items()}
        ok = {r: right(o, pairs) for r, o in outs.items()}
        if name in ("libreoffice", "codespell", "misspell_fixer"):
            for tool, cmd in (("aspell", ["aspell", "-a", "--lang=en_US"]),
                              ("hunspell", ["hunspell", "-d", "en_US", "-a"])):
                ok[tool] = right([c[0] for c in evaluate.ispell(cmd, [x for x, _ in pairs], k=1)],
                                 pairs)
        diff = []
        if args.url:
            import parity
            xs = [x for x, _ in pairs]
            got = []
            for i in range(0, len(xs), 16):
                got += parity.served(args.url, xs[i:i + 16])
            ok["t5serve"] = right(got, pairs)
            diff = [(x, w, g) for x, w, g in zip(xs, outs["C3 prior(V)"], got) if w != g]
        row = {"n": len(pairs), "right": {r: sum(v) for r, v in ok.items()},
               "vs_served": {r: paired(ok[r], ok["served"]) for r in ok if r != "served"}}
        if "aspell" in ok:
            row["served_vs"] = {t: paired(ok["served"], ok[t]) for t in ("aspell", "hunspell")}
            row["C_vs_aspell"] = {r: paired(ok[r], ok["aspell"]) for r in rules if r[0] == "C"}
            if "t5serve" in ok:
                row["t5serve_vs"] = {t: paired(ok["t5serve"], ok[t]) for t in ("aspell", "hunspell")}
        if args.url:
            # C3 counts a beam's tokens by re-encoding its text, and reads
            # the whole input; the server uses the generated length and shows
            # the model its word map's text (no numbers). Where the two picks
            # differ, the served one is checked against the shipped rule in
            # Python: transformers' beams of model_text with their generated
            # lengths, rerank.served, output_text.
            row["served_same_as_C3"] = len(pairs) - len(diff)
            same = 0
            if diff:
                if model is None:
                    model = evaluate.Model(args.model, args.threads)
                mt = [rerank.model_text(x) for x, _, _ in diff]
                exact = rerank_eval.beams(model, mt, 5, with_len=True)
                accept = rerank.load_accept(args.model)
                same = sum(rerank.output_text(x, rerank.served(t, b, freqs, accept)) == g
                           for (x, _, g), t, b in zip(diff, mt, exact))
            row["served_diff"] = diff
            row["served_diff_same_as_exact_length"] = same
        if name == "libreoffice":
            row["outputs"] = [dict(x=x, y=y, **{r: outs[r][i] for r in rules})
                              for i, (x, y) in enumerate(pairs)]
        res["sets"][name] = row
        print("\n%s (%d)" % (name, len(pairs)))
        for r, v in row["right"].items():
            vs = row["vs_served"].get(r)
            print("  %-18s %5d (%.3f)%s" % (r, v, v / len(pairs),
                  "  vs served %d vs %d, p %.3f" % vs if vs else ""))
        for t, v in row.get("served_vs", {}).items():
            print("  served vs %-8s %d vs %d, p %.3f" % ((t,) + v))
        for r, v in row.get("C_vs_aspell", {}).items():
            print("  %s vs aspell %d vs %d, p %.3f" % ((r,) + v))
        for t, v in row.get("t5serve_vs", {}).items():
            print("  t5serve vs %-8s %d vs %d, p %.3f" % ((t,) + v))
        if args.url:
            print("  t5serve = C3 on %d/%d; the other %d: = the shipped rule in Python on %d %s"
                  % (row["served_same_as_C3"], len(pairs), len(diff),
                     row["served_diff_same_as_exact_length"], diff[:4]))
        sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
