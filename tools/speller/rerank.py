"""Lexicon reranking of the speller's beams: the rule the server applies
(src/server/lexicon.c), in Python, for the evaluation and the test expectations.

Given the K beams of a beam search (text, length-normalised log-probability;
best first) and a lexicon (one lower-case word per line), the output is the
best-scoring beam whose words are all in the lexicon, falling back to the top
beam when none is. Words are separated by ASCII white space; a word is in the
lexicon when its ASCII-lower-cased form is, or when it has no letter at all (no
ASCII letter and no non-ASCII character: numbers such as "12" or "5.5" pass).
The server implements "none" with a margin and a prior (src/server/lexicon.c);
the keep options were only measured.

Options (the variants measured in bench/speller.md):
  margin  a lexicon beam is taken only when its score is at least the top
          beam's minus margin (inf: any of the K beams);
  keep    "none": as above; "beam": when the input is all lexicon words and is
          itself one of the beams (within the margin), it is kept unchanged;
          "accept": an input of lexicon words is returned unchanged, as a
          dictionary checker accepts a word it knows; "top": when the top
          beam is the input itself, it is returned (the model keeps it).
  prior   p > 0 (the served lexicon_prior; needs freq, {word: Zipf value}, and
          each beam as (text, score, generated tokens incl. EOS)): when the
          input has a word outside the lexicon, among the lexicon beams within
          the margin the one with the largest
              score * tokens**length_penalty + p * ln(10) * sum (zipf(w) - 9)
          (a word without a letter adds 0), the first of equals; the top beam
          when none is in the lexicon (bench/speller.md, "A word-frequency
          prior" and "A fresh list of natural misspellings").
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
    return set(load_freqs(path))


def load_freqs(path):
    """{lower-cased word: Zipf value, or None}: words.tsv.gz and lexicon.txt
    both hold word<TAB>zipf a line (a lexicon.txt line may be the word alone);
    a word listed twice keeps its first value, as the server does."""
    opener = gzip.open if path.endswith(".gz") else open
    out = {}
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            w = parts[0].strip().translate(_LOWER)
            if w not in out:
                out[w] = float(parts[1]) if len(parts) > 1 else None
    return out


def load_accept(model_dir):
    """The accept list of a version directory (accept.txt, the shipped
    config's accept_words), or None when it has none."""
    import os
    path = os.path.join(model_dir, "accept.txt")
    return load_lexicon(path) if os.path.exists(path) else None


def has_letter(w):
    return any(not c.isascii() or c.isalpha() for c in w)


def word_ok(w, lex):
    return not has_letter(w) or w.translate(_LOWER) in lex


def all_in(text, lex):
    return all(word_ok(w, lex) for w in _SPACE.split(text) if w)


def beam_value(beam, freq, prior, length_penalty=1.0):
    """The prior rule's value of beam (text, score, tokens); its words with a
    letter are in freq."""
    text, score, ntok = beam[:3]
    zsum = 0
    for w in _SPACE.split(text):
        if has_letter(w):
            zsum += freq[w.translate(_LOWER)] - 9.0
    n = float(ntok) if length_penalty == 1.0 else float(ntok) ** length_penalty
    return score * n + prior * math.log(10) * zsum


def choose(inp, beams, lex, margin=INF, keep="none", prior=0.0, freq=None, length_penalty=1.0,
           accept=None):
    """beams: [(text, score)] or [(text, score, tokens)], best first. Returns
    the chosen text. accept: the served accept list (a set of lower-cased
    words; an input of its words is returned unchanged, before any rule)."""
    top_text, top_score = beams[0][:2]
    if keep == "accept":  # the lexicon as the accept list
        accept = lex
    if accept is not None and all_in(inp, accept):
        return inp
    if keep == "top" and top_text in (inp, inp.translate(_LOWER)):
        return top_text
    if keep == "beam" and all_in(inp, lex):
        for t, s, *_ in beams:
            if t == inp and s >= top_score - margin:
                return inp
    use_prior = prior > 0 and not all_in(inp, lex)
    best, bval = None, -INF
    for b in beams:
        t, s = b[:2]
        if s < top_score - margin:
            break
        if not all_in(t, lex):
            continue
        if not use_prior:
            return t
        v = beam_value(b, freq, prior, length_penalty)
        if v > bval:
            best, bval = t, v
    return top_text if best is None else best


# The shipped config's lexicon_prior (models/speller/config.pbtxt).
SERVED_PRIOR = 0.65


def served(inp, beams, freq, accept=None):
    """The shipped rule: beams (text, score, tokens), freq from load_freqs of
    the shipped lexicon.txt, accept from load_lexicon of the shipped
    accept.txt (since session 13; None: the rule before it)."""
    return choose(inp, beams, freq.keys(), prior=SERVED_PRIOR, freq=freq, accept=accept)


# The words the speller sees (models/speller/config.pbtxt's word_chars, with
# lowercase_input true): src/server/wordmap.h in Python.
WORD_CHARS = "abcdefghijklmnopqrstuvwxyz'"
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _words(text):
    return [w for w in _SPACE.split(text) if w]


def _shown(w, chars, low, keep):
    if keep is not None and word_ok(w, keep):
        return False
    return chars is None or all(c in chars for c in (lower(w) if low else w))


def model_text(text, chars=WORD_CHARS, low=True, keep=None):
    """What the model sees of an input: its words made only of chars (after
    lower-casing when low) and not in keep (a lexicon: load_lexicon's set, as
    config.pbtxt's keep_words), lower-cased when low, joined by single spaces."""
    ws = [w for w in _words(text) if _shown(w, chars, low, keep)]
    return " ".join(lower(w) if low else w for w in ws)


def _letters(w):
    return sum("A" <= c <= "Z" for c in w), sum("a" <= c <= "z" for c in w)


def output_text(text, gen, chars=WORD_CHARS, low=True, keep=None):
    """The text returned for the model's output gen of input text: the kept
    words (not shown to the model) back in place and the input's case, as
    t5_wordmap_output does."""
    iw = _words(text)
    kept = [not _shown(w, chars, low, keep) for w in iw]
    shown = [w for w, k in zip(iw, kept) if not k]
    gw = _words(gen)
    N, M = len(shown), len(gw)
    up = sum(_letters(w)[0] for w in shown)
    lo = sum(_letters(w)[1] for w in shown)
    all_upper = up >= 2 and lo == 0
    all_caps = all(w[:1].isascii() and w[:1].isupper() for w in shown)

    def form(g, w):
        if not low:
            return w
        if M == N:
            src = shown[g]
            if lower(src) == w:
                return src
            u, l = _letters(src)
            if u >= 2 and l == 0:
                return w.translate(_UPPER)
            if src[:1].isascii() and src[:1].isupper():
                return w[:1].translate(_UPPER) + w[1:]
            return w
        if all_upper:
            return w.translate(_UPPER)
        if all_caps or (g == 0 and shown[0][:1].isascii() and shown[0][:1].isupper()):
            return w[:1].translate(_UPPER) + w[1:]
        return w

    out, g, k = [], 0, 0
    for i in range(len(iw) + 1):
        if i < len(iw) and not kept[i]:
            k += 1
            continue
        if N == 0:
            upto = 0
        elif i == len(iw) or k >= N:
            upto = M
        elif M == N:
            upto = k
        else:
            upto = (2 * k * M + N) // (2 * N)
        while g < upto:
            out.append(form(g, gw[g]))
            g += 1
        if i < len(iw):
            out.append(iw[i])
    return " ".join(out)


def main():
    """Writes the shipped lexicon: the training vocabulary (build_data.py's
    words.tsv.gz), sorted, a word, a tab and its Zipf value a line."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", default="tools/out/speller/words.tsv.gz")
    ap.add_argument("--write", required=True, metavar="FILE", help="e.g. models/speller/1/lexicon.txt")
    args = ap.parse_args()
    freq = load_freqs(args.words)
    words = sorted(freq)
    with open(args.write, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join("%s\t%s\n" % (w, repr(freq[w])) for w in words))
    print("%d words -> %s" % (len(words), args.write))


if __name__ == "__main__":
    main()
