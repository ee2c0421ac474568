#!/usr/bin/env python3
"""Checks that `t5serve generate` gives the same corrections as Hugging Face
transformers on the shipped speller: greedy on N held-out inputs
(misspellings from codespell and misspell-fixer, held-out phrases), and the
five returned sequences of a 5-beam search on N/4 of them.

    python3 tools/speller/parity.py [--t5serve build/t5serve] [--n 200]

With --url, the served speller (its config.pbtxt defaults: 5 beams and lexicon
reranking) against transformers' 5 beams + the same rule in Python (rerank.py),
on all N inputs, sent 16 to an infer request:

    build/t5serve serve --model-repository models --http-port 18731 &
    python3 tools/speller/parity.py --url 127.0.0.1:18731 --n 600
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import rerank  # noqa: E402


def t5serve(exe, model, text, beams):
    cmd = [exe, "generate", "--model", model, "--text", text, "--max-new-tokens", "32", "--json"]
    if beams > 1:
        cmd += ["--num-beams", str(beams), "--num-return-sequences", str(beams)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(l)["text"] for l in out.splitlines() if l.strip()]


def served(url, texts):
    import urllib.request
    body = {"inputs": [{"name": "text_input", "datatype": "BYTES", "shape": [len(texts), 1],
                        "data": texts}]}
    req = urllib.request.Request("http://%s/v2/models/speller/infer" % url,
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.load(r)["outputs"]
    return [o for o in out if o["name"] == "text_output"][0]["data"]


def check_served(args, m, texts):
    import rerank_eval
    freq = rerank.load_freqs(os.path.join(args.model, "lexicon.txt"))
    accept = rerank.load_accept(args.model)
    hf = rerank_eval.beams(m, texts, 5, bs=16, with_len=True)
    want = [rerank.served(t, b, freq, accept) for t, b in zip(texts, hf)]
    got = []
    for i in range(0, len(texts), 16):
        got += served(args.url, texts[i:i + 16])
    same = moved = 0
    for t, b, w, g in zip(texts, hf, want, got):
        moved += w != b[0][0]
        if w == g:
            same += 1
        else:
            print("DIFF %r: hf+rerank %r served %r (beams %r)" % (t, w, g, [x for x, *_ in b]))
    print("served (5 beams + lexicon): %d/%d identical to transformers + rerank.py "
          "(%d where the pick is not the top beam)" % (same, len(texts), moved))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/speller/1")
    ap.add_argument("--t5serve", default=os.environ.get("T5SERVE", "build/t5serve"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--url", help="host:port of a server with the speller (checks reranking)")
    args = ap.parse_args()
    sets = evaluate.load_sets(args.n, seed=21)
    k = args.n // 3
    texts = ([x for x, _ in sets["codespell"][:k]] + [x for x, _ in sets["misspell_fixer"][:k]]
             + [x for x, _ in sets["heldout_phrases"][:args.n - 2 * k]])
    m = evaluate.Model(args.model, 1)
    if args.url:
        return check_served(args, m, texts)
    for beams, items in ((1, texts), (5, texts[::4])):
        hf = m.generate(items, beams, beams, bs=16)
        same = 0
        for t, h in zip(items, hf):
            ts = t5serve(args.t5serve, args.model, t, beams)
            if ts == h:
                same += 1
            else:
                print("DIFF beams=%d %r: hf %r t5serve %r" % (beams, t, h, ts))
        print("beams=%d: %d/%d identical (all %d returned sequences)" % (beams, same, len(items), beams))


if __name__ == "__main__":
    main()
