#!/usr/bin/env python3
"""References for tests/tokenizer/data/components.json: a tiny tokenizer.json
that uses every component t5serve supports beyond what T5 files use (Strip
both sides, Replace with regex and literal, Prepend, WhitespaceSplit, Split
with a literal, Metaspace prepend_scheme "first", a TemplateProcessing with a
leading token, the Replace/ByteFallback/Fuse/Strip decoders, an added token
with lstrip/rstrip and a single_word normalized one).

Writes components.ref.gz: escaped text TAB ids TAB decode(skip) TAB decode(all),
for hand-written strings and the first 2000 corpus lines. Run from the root:
    python3 tools/tokenizer/make_component_refs.py
"""
import gzip
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from corpus_escape import escape, unescape  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

D = "tests/tokenizer/data"
tok = Tokenizer.from_file(os.path.join(D, "components.json"))
texts = ["", " ", "a", " a b  xxyz aab </s> ab", "xxxy", "xyxyxz ab", "b", "ab b ba bab", "  lead", "trail  ",
         "a</s>b", "a </s>  b", "</s>", "yyyyyyy", "xy\tzz", "a\u3000b", "é", "Aé", "\u2581a", "a\u2581\u2581b",
         "b b b", "xxa", "  xx  ", "c x y", "ab\nab"]


with gzip.open(os.path.join(D, "corpus.txt.gz"), "rt", encoding="utf-8", newline="\n") as f:
    corpus = [unescape(l) for l in f.read().split("\n")[:2000]]
rows = []
for t in texts + corpus:
    ids = tok.encode(t).ids
    rows.append("\t".join([escape(t), " ".join(map(str, ids)),
                           escape(tok.decode(ids, skip_special_tokens=True)),
                           escape(tok.decode(ids, skip_special_tokens=False))]))
data = "".join(r + "\n" for r in rows).encode("utf-8")
with gzip.GzipFile(os.path.join(D, "components.ref.gz"), "wb", 9, mtime=0) as g:
    g.write(data)
print(len(rows), "rows")
