#!/usr/bin/env python3
"""Queries as people type them: capitals, numbers, model codes, hyphens and
units around the words, through one or more running servers.

The evaluation lists (evaluate.py) are lower-case words; search queries are
not. This set takes the held-out generated phrases (never trained on), makes
1,000 noisy ones with the training noise model (noise.py, a seed no training
run used) and dresses each phrase, clean and noisy alike, the same way:
a case style (lower 40%, Title Case 25%, first word capitalised 20%, UPPER
15%) and, for 60% of them, one token the model cannot spell inserted at the
start, the end or (when the noise kept the word count) between two words: a
number ("14", "2019"), a model code ("v11", "s23", "rtx3080"), a quantity with
its unit ("500ml", "3.5mm", "4k") or a hyphenated word ("usb-c", "t-shirt").

Reported per server (`--url NAME=host:port`, several allowed): the noisy set's
exact-match rate (the dressed clean phrase is the answer), the clean set's
unchanged rate, and beside them the same phrases undressed (lower case, no
token), which is what the model alone is measured on; aspell and hunspell
(en_US, ispell pipe mode, each rejected word replaced by its first
suggestion, the case they give) on the same texts.

    python3 tools/speller/typed_eval.py --url before=127.0.0.1:18751 --url after=127.0.0.1:18752 \
        [--check models/speller/1] [--json tools/out/speller/typed_eval.json]

--check recomputes the served texts in Python for the first 200 inputs of
each set (transformers' 5 beams of rerank.model_text, rerank.served,
rerank.output_text) and counts those the last server matches.
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import parity  # noqa: E402
import rerank  # noqa: E402
import train  # noqa: E402

DATA = "tools/out/speller"
SEED = 20261128  # no training run, dev set or evaluation sample used it

CODES = ["v11", "s23", "rtx3080", "xr500", "a54", "m2", "g502", "x1", "z5", "ps5", "wh1000xm4"]
UNITS = ["500ml", "3.5mm", "4k", "12v", "1tb", "2x", "10ft", "32gb", "100w", "8oz", "1/2"]
HYPHEN = ["usb-c", "t-shirt", "wi-fi", "e-book", "x-large", "anti-slip", "non-stick", "pre-owned"]


def kept_token(r):
    x = r.random()
    if x < 0.3:
        return str(r.choice([r.randrange(1, 10), r.randrange(10, 100), r.randrange(100, 1000),
                             r.randrange(1990, 2030)]))
    if x < 0.55:
        return r.choice(CODES)
    if x < 0.8:
        return r.choice(UNITS)
    return r.choice(HYPHEN)


def styled(words, style):
    if style == "title":
        return [w[:1].upper() + w[1:] for w in words]
    if style == "first":
        return [w[:1].upper() + w[1:] if i == 0 else w for i, w in enumerate(words)]
    if style == "upper":
        return [w.upper() for w in words]
    return list(words)


def dress(clean, noisy, r):
    """(dressed clean, dressed noisy): the same style and token in both."""
    x = r.random()
    style = "lower" if x < 0.4 else "title" if x < 0.65 else "first" if x < 0.85 else "upper"
    cw, nw = styled(clean.split(), style), styled(noisy.split(), style)
    if r.random() < 0.6:
        tok = kept_token(r)
        if style == "upper":
            tok = tok.upper()
        where = r.random()
        if where < 0.3:
            cw, nw = [tok] + cw, [tok] + nw
        elif where < 0.6 or len(cw) != len(nw) or len(cw) < 2:
            cw, nw = cw + [tok], nw + [tok]
        else:
            i = r.randrange(1, len(cw))
            cw, nw = cw[:i] + [tok] + cw[i:], nw[:i] + [tok] + nw[i:]
    return " ".join(cw), " ".join(nw)


def build(n):
    r = random.Random(SEED)
    with open(os.path.join(DATA, "heldout.txt")) as f:
        held = [l.strip() for l in f if l.strip()]
    r.shuffle(held)
    words, lex, block, _ = train.load_data(DATA)
    import noise
    noiser = noise.Noiser({w for w, _ in words}, block, r)
    rows = []
    for clean in held:
        if len(rows) == n:
            break
        noisy = noiser.corrupt(clean)
        if noisy is None:
            continue
        dc, dn = dress(clean, noisy, r)
        rows.append({"clean": clean, "noisy": noisy, "typed_clean": dc, "typed_noisy": dn})
    return rows


def served_all(url, texts):
    out = []
    for i in range(0, len(texts), 16):
        out += parity.served(url, texts[i:i + 16])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", action="append", required=True, help="NAME=host:port")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--check", help="model directory: recompute 200 served texts per set in Python")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = build(args.n)
    sets = {
        "noisy, as typed (exact)": ([r["typed_noisy"] for r in rows], [r["typed_clean"] for r in rows]),
        "clean, as typed (unchanged)": ([r["typed_clean"] for r in rows],
                                        [r["typed_clean"] for r in rows]),
        "noisy, lower case (exact)": ([r["noisy"] for r in rows], [r["clean"] for r in rows]),
        "clean, lower case (unchanged)": ([r["clean"] for r in rows], [r["clean"] for r in rows]),
    }
    print("%d phrases; %d dressed with a token, %d not lower case" % (
        len(rows), sum(len(r["typed_clean"].split()) > len(r["clean"].split()) for r in rows),
        sum(r["typed_clean"] != r["typed_clean"].lower() for r in rows)))
    res = {"n": len(rows), "seed": SEED, "servers": {}, "examples": {}}
    outs = {}
    for spec in args.url:
        name, url = spec.split("=", 1)
        res["servers"][name] = {}
        for label, (xs, ys) in sets.items():
            got = served_all(url, xs)
            outs[name, label] = got
            ok = sum(g == y for g, y in zip(got, ys))
            res["servers"][name][label] = ok / len(xs)
            print("%-8s %-32s %.3f (%d/%d)" % (name, label, ok / len(xs), ok, len(xs)))
    for tool, cmd in (("aspell", ["aspell", "-a", "--lang=en_US"]),
                      ("hunspell", ["hunspell", "-d", "en_US", "-a"])):
        res["servers"][tool] = {}
        for label, (xs, ys) in sets.items():
            got = [c[0] for c in evaluate.ispell(cmd, xs, k=1, keep_case=True)]
            ok = sum(g == y for g, y in zip(got, ys))
            res["servers"][tool][label] = ok / len(xs)
            print("%-8s %-32s %.3f (%d/%d)" % (tool, label, ok / len(xs), ok, len(xs)))
    last = args.url[-1].split("=", 1)[0]
    xs, ys = sets["noisy, as typed (exact)"]
    res["examples"] = [{"input": x, "want": y, **{n.split("=", 1)[0]: outs[n.split("=", 1)[0],
                                                                        "noisy, as typed (exact)"][i]
                                                   for n in args.url}}
                       for i, (x, y) in enumerate(zip(xs[:40], ys[:40]))]
    if args.check:
        import rerank_eval
        freq = rerank.load_freqs(os.path.join(args.check, "lexicon.txt"))
        accept = rerank.load_accept(args.check)
        m = evaluate.Model(args.check, 2)
        same = total = 0
        for label, (xs, _) in sets.items():
            xs = xs[:200]
            ms = [rerank.model_text(x) for x in xs]
            bs = rerank_eval.beams(m, ms, 5, bs=16, with_len=True)
            want = [rerank.output_text(x, rerank.served(t, b, freq, accept))
                    for x, t, b in zip(xs, ms, bs)]
            same += sum(w == g for w, g in zip(want, outs[last, label][:200]))
            total += len(xs)
        res["check"] = {"server": last, "same": same, "of": total}
        print("served by %s = transformers beams + rerank.py (model_text, choose, output_text): %d/%d"
              % (last, same, total))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
