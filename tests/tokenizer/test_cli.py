#!/usr/bin/env python3
"""`t5serve tokenize` end to end: the committed fixture references, through
the CLI (stdin lines in, id lines / text lines out).

Usage: test_cli.py T5SERVE_BINARY   (ctest passes it)
"""
import gzip
import os
import subprocess
import sys
import tempfile

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                                "tokenizer"))
from corpus_escape import unescape  # noqa: E402
N = 2000


def lines(name):
    with gzip.open(os.path.join(DATA, name), "rt", encoding="utf-8", newline="\n") as f:
        return f.read().split("\n")[:-1]


def check(ok, what):
    if not ok:
        print("FAIL:", what)
    return 0 if ok else 1


def run(binary, args, inp):
    p = subprocess.run([binary, "tokenize"] + args, input=inp.encode("utf-8"), capture_output=True)
    return p.returncode, p.stdout.decode("utf-8").split("\n")[:-1], p.stderr.decode()


def main():
    binary = sys.argv[1]
    corpus = [unescape(l) for l in lines("corpus.txt.gz")[:N]]
    spm_ids = lines("nfkc.spm.ids.gz")[:N]
    hf_ids = lines("nfkc.hf.ids.gz")[:N]
    spm_dec = lines("nfkc.spm.dec.gz")[:N]
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        model, tj = os.path.join(tmp, "spiece.model"), os.path.join(tmp, "tokenizer.json")
        for src, dst in [("nfkc.model.gz", model), ("nfkc.json.gz", tj)]:
            with gzip.open(os.path.join(DATA, src), "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
        text = "".join(l + "\n" for l in corpus)
        # spiece.model: with </s> by default, without on --no-eos.
        rc, out, err = run(binary, ["--tokenizer", model], text)
        want = [(s + " 1").strip() for s in spm_ids]
        fails += check(rc == 0 and out == want, "spiece.model ids with </s>")
        rc, out, err = run(binary, ["--tokenizer", model, "--no-eos"], text)
        fails += check(rc == 0 and out == spm_ids, "spiece.model ids --no-eos")
        # tokenizer.json, and the model directory (which prefers it).
        want = [(s + " 1").strip() if h == "=" else h for s, h in zip(spm_ids, hf_ids)]
        for path in (tj, tmp):
            rc, out, err = run(binary, ["--tokenizer", path], text)
            bad = [i for i, (a, b) in enumerate(zip(out, want)) if a != b]
            if rc != 0 or len(out) != len(want) or bad:
                print("tokenizer.json ids differ at lines", bad[:5], err)
                fails += 1
        # --decode --keep-special with the spiece.model is sentencepiece's DecodeIds.
        rc, out, err = run(binary, ["--tokenizer", model, "--decode", "--keep-special"], "".join(s + "\n" for s in spm_ids))
        want = [c if d == "=" else unescape(d[1:]) for c, d in zip(corpus, spm_dec)]
        # A decoded line may itself contain line breaks; compare the joined text.
        fails += check(rc == 0 and "\n".join(out) == "\n".join(want), "spiece.model --decode")
        # Bad input: a message, an empty line, exit status 1, the other lines still done.
        p = subprocess.run([binary, "tokenize", "--tokenizer", model], input=b"ok\n\xff\nok\n", capture_output=True)
        o = p.stdout.decode().split("\n")
        fails += check(p.returncode == 1 and o[1] == "" and o[0] == o[2] and b"UTF-8" in p.stderr, "invalid UTF-8 line")
        p = subprocess.run([binary, "tokenize", "--tokenizer", model, "--decode"], input=b"1 2 99999\n", capture_output=True)
        fails += check(p.returncode == 1 and b"outside the vocabulary" in p.stderr, "bad id")
        p = subprocess.run([binary, "tokenize", "--tokenizer", os.path.join(tmp, "missing.model")], input=b"", capture_output=True)
        fails += check(p.returncode != 0, "missing file")
    print("t5serve tokenize: %d failures" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
