"""Lexicon reranking of the speller's beams: the rule the server applies
(src/server/rerank.c), in Python, for the evaluation and the test expectations.

Given the K beams of a beam search (text, length-normalised log-probability;
best first) and a lexicon (one lower-case word per line), the output is the
best-scoring beam whose words are all in the lexicon, falling back to the top
beam when none is. Words are separated by ASCII white space; a word is in the
lexicon when its ASCII-lower-cased form is, or when it has no letter at all (no
ASCII letter and no non-ASCII character: numbers such as "12" or "5.5" pass).
The server implements "none" with a margin (src/server/lexicon.c); the keep
options were only measured.

Options (the variants measured in bench/speller.md):
  margin  a lexicon beam is taken only when its score is at least the top
          beam's minus margin (inf: any of the K beams);
  keep    "none": as above; "beam": when the input is all lexicon words and is
          itself one of the beams (within the margin), it is kept unchanged;
          "accept": an input of lexicon words is returned unchanged, as a
          dictionary checker accepts a word it knows; "top": when the top
          beam is the input itself, it is returned (the model keeps it).
"""
import gzip
import math
import re

INF = math.inf
_SPACE = re.compile(r"[ \t\n\v\f\r]+")
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower(s):
    """ASCII lower case, as the server folds words (non-ASCII bytes stay)."""
    return s.translate(_LOWER)


def load_lexicon(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        # words.tsv.gz has word<TAB>zipf; lexicon.txt one word a line.
        return {l.split("\t")[0].strip().translate(_LOWER) for l in f if l.strip()}


def word_ok(w, lex):
    if not any(not c.isascii() or c.isalpha() for c in w):
        return True
    return w.translate(_LOWER) in lex


def all_in(text, lex):
    return all(word_ok(w, lex) for w in _SPACE.split(text) if w)


def choose(inp, beams, lex, margin=INF, keep="none"):
    """beams: [(text, score)], best first. Returns the chosen text."""
    top_text, top_score = beams[0]
    if keep == "top" and top_text in (inp, inp.translate(_LOWER)):
        return top_text
    if keep == "accept" and all_in(inp, lex):
        return inp
    if keep == "beam" and all_in(inp, lex):
        for t, s in beams:
            if t == inp and s >= top_score - margin:
                return inp
    for t, s in beams:
        if s < top_score - margin:
            break
        if all_in(t, lex):
            return t
    return top_text


def main():
    """Writes the shipped lexicon: the training vocabulary (build_data.py's
    words.tsv.gz), one word a line, sorted."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", default="tools/out/speller/words.tsv.gz")
    ap.add_argument("--write", required=True, metavar="FILE", help="e.g. models/speller/1/lexicon.txt")
    args = ap.parse_args()
    words = sorted(load_lexicon(args.words))
    with open(args.write, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(w + "\n" for w in words))
    print("%d words -> %s" % (len(words), args.write))


if __name__ == "__main__":
    main()
