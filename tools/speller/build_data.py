#!/usr/bin/env python3
"""Builds the speller's clean text, vocabulary sources and evaluation sets.

Everything comes from packages that install offline (see README.md):
  - wordfreq (PyPI): English word frequencies ("large" list);
  - wamerican-large (Debian): which of those are dictionary words;
  - wordnet-base (Debian): collocations ("running shoe"), artifact/food nouns
    (product-like nouns), adjectives, and gloss text for natural 2-5 word n-grams;
  - codespell and misspell-fixer (Debian): real misspellings, used ONLY for
    evaluation and as a block list that keeps their misspelled forms out of
    the synthetic training inputs.

Writes into OUT (default tools/out/speller, ignored by git; it is what the GPU
call carries):
  words.tsv.gz        word<TAB>zipf  (the training vocabulary, ~100k words)
  lex.json.gz         word lists for the phrase generators (product nouns,
                      adjectives, collocations, gloss n-grams)
  heldout.txt         correct phrases never used in training (unchanged-rate eval)
  block.txt.gz        misspelled forms from the evaluation lists (never trained on)
  spm_corpus.txt      clean text for the SentencePiece trainer
and the evaluation sets into tools/out/speller/eval/:
  codespell.tsv, misspell_fixer.tsv   typo<TAB>correction
  correct_words.txt                   the correct words of those lists
  rare_words.txt                      dictionary words outside the training vocabulary

Run from the repository root:  python3 tools/speller/build_data.py
"""
import gzip
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phrases  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "tools/out/speller"
WN = "/usr/share/wordnet"
DICT = "/usr/share/dict/american-english-large"
CODESPELL = "/usr/lib/python3/dist-packages/codespell_lib/data"
MISSPELL_FIXER = "/usr/share/misspell-fixer/rules"
N_WORDS = 100000
SEED = 7
WORD_RE = re.compile(r"^[a-z](?:[a-z']*[a-z])?$")


def load_dict():
    with open(DICT, encoding="utf-8") as f:
        return {w.strip().lower() for w in f if w.strip()}


def vocabulary(dictionary):
    """Frequency-ranked dictionary words: wordfreq's English list filtered to
    words that wamerican-large knows (drops names, junk and foreign tokens) and
    a few very common words it lacks."""
    from wordfreq import top_n_list, zipf_frequency

    out = []
    for w in top_n_list("en", 400000, wordlist="large"):
        if not WORD_RE.match(w) or len(w) > 24:
            continue
        z = zipf_frequency(w, "en", wordlist="large")
        if w in dictionary or (z >= 4.0 and "'" not in w):
            if len(w) == 1 and w not in ("a", "i"):
                continue
            out.append((w, z))
        if len(out) >= N_WORDS:
            break
    return out


def read_wordnet():
    """Returns (lemma -> set of lex file numbers, per part of speech) and the
    gloss texts. Lex files 06 = noun.artifact, 13 = noun.food."""
    lex = {}
    glosses = []
    for pos in ("noun", "adj", "verb", "adv"):
        with open(os.path.join(WN, "data." + pos), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                head, _, gloss = line.partition(" | ")
                parts = head.split()
                lexfile = int(parts[1])
                n = int(parts[3], 16)
                for i in range(n):
                    w = parts[4 + 2 * i].lower()
                    w = re.sub(r"\(.*\)$", "", w)  # adjective markers like (a)
                    lex.setdefault((pos, w), set()).add(lexfile)
                glosses.append(gloss.split(";")[0].strip())
    return lex, glosses


def gloss_ngrams(glosses, vocab, rng, n_max=120000):
    """Natural English 2-5 word windows from WordNet's definitions."""
    grams = set()
    for g in glosses:
        toks = re.findall(r"[a-z']+|[0-9]+|[^\sa-z0-9']", g.lower())
        run = []
        for t in toks + ["."]:
            if t in vocab:
                run.append(t)
                continue
            for _ in range(2):
                if len(run) >= 2:
                    k = rng.randint(2, min(5, len(run)))
                    s = rng.randint(0, len(run) - k)
                    grams.add(" ".join(run[s:s + k]))
            run = []
    grams = sorted(grams)
    rng.shuffle(grams)
    return grams[:n_max]


def eval_pairs(vocab_set):
    """codespell's and misspell-fixer's lists as (typo, correction): lower-case
    alphabetic entries with a single correction. Returns the two lists and the
    block list of every misspelled form in any of their files."""
    cs, mf, block = list_pairs()
    # A "misspelling" that is itself a dictionary word in our vocabulary is a
    # real-word error (e.g. "form"->"from"); no speller can fix those without
    # context, so they stay in the eval sets but are not blocked from training.
    return cs, mf, {b for b in block if b not in vocab_set}


def list_pairs():
    """eval_pairs' two lists and every misspelled form of the two packages'
    files, before the vocabulary is taken out."""
    block = set()
    cs = []
    for name in sorted(os.listdir(CODESPELL)):
        if not name.startswith("dictionary") or not name.endswith(".txt"):
            continue
        with open(os.path.join(CODESPELL, name), encoding="utf-8") as f:
            for line in f:
                if "->" not in line:
                    continue
                typo, fix = line.rstrip("\n").split("->", 1)
                typo = typo.strip().lower()
                block.add(typo)
                if name != "dictionary.txt":
                    continue
                fixes = [x.strip() for x in fix.split(",") if x.strip()]
                if len(fixes) != 1 or fix.strip().endswith(","):
                    continue
                fix = fixes[0].lower()
                if WORD_RE.match(typo) and all(WORD_RE.match(t) for t in fix.split()):
                    cs.append((typo, fix))
    mf = []
    rule = re.compile(r"^s/\\b([a-z']+)\\b/([a-z' ]+)/g$")
    for name in sorted(os.listdir(MISSPELL_FIXER)):
        with open(os.path.join(MISSPELL_FIXER, name), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                m = re.match(r"^s/\\b([A-Za-z']+)(\\b)?/", line)
                if m:
                    block.add(m.group(1).lower())
                m = rule.match(line)
                if m and name != "gb-to-us.sed" and m.group(1) != m.group(2):
                    mf.append((m.group(1), m.group(2)))
    return sorted(set(cs)), sorted(set(mf)), block


def main():
    rng = random.Random(SEED)
    os.makedirs(os.path.join(OUT, "eval"), exist_ok=True)
    dictionary = load_dict()
    words = vocabulary(dictionary)
    vocab = {w for w, _ in words}
    print("vocabulary:", len(words), "words", file=sys.stderr)
    with gzip.open(os.path.join(OUT, "words.tsv.gz"), "wt") as f:
        for w, z in words:
            f.write("%s\t%.2f\n" % (w, z))

    lex, glosses = read_wordnet()
    zipf = dict(words)

    def pick(pos, files, zmin):
        out = set()
        for (p, w), lf in lex.items():
            if p != pos or (files and not (lf & files)):
                continue
            toks = w.split("_")
            if all(t in vocab for t in toks) and min(zipf[t] for t in toks) >= zmin:
                out.add(" ".join(toks))
        return sorted(out)

    product = pick("noun", {6, 13}, 2.0)
    pnouns = [w for w in product if " " not in w]
    pcolloc = [w for w in product if 2 <= len(w.split()) <= 4]
    adjs = [w for w in pick("adj", None, 3.0) if " " not in w]
    colloc = [w for w in pick("noun", None, 2.5) + pick("verb", None, 3.0) + pick("adj", None, 2.5)
              + pick("adv", None, 2.5) if 2 <= len(w.split()) <= 4]
    grams = gloss_ngrams(glosses, vocab, rng)
    lexj = dict(pnouns=pnouns, pcolloc=pcolloc, adjs=adjs, colloc=colloc, grams=grams)
    print({k: len(v) for k, v in lexj.items()}, file=sys.stderr)
    with gzip.open(os.path.join(OUT, "lex.json.gz"), "wt") as f:
        json.dump(lexj, f)

    # Held-out correct phrases: generated like the training phrases, then the
    # trainer skips any phrase in this file.
    gen = phrases.PhraseGen(words, lexj, random.Random(SEED + 1))
    held = set()
    while len(held) < 3000:
        p = gen.phrase()
        if len(p.split()) >= 2:
            held.add(p)
    with open(os.path.join(OUT, "heldout.txt"), "w") as f:
        for p in sorted(held):
            f.write(p + "\n")

    cs, mf, block = eval_pairs(vocab)
    with gzip.open(os.path.join(OUT, "block.txt.gz"), "wt") as f:
        for b in sorted(block):
            f.write(b + "\n")
    for name, pairs in (("codespell.tsv", cs), ("misspell_fixer.tsv", mf)):
        with open(os.path.join(OUT, "eval", name), "w") as f:
            for t, c in pairs:
                f.write("%s\t%s\n" % (t, c))
    correct = sorted({c for _, c in cs + mf if " " not in c})
    with open(os.path.join(OUT, "eval", "correct_words.txt"), "w") as f:
        f.write("\n".join(correct) + "\n")
    rare = sorted(w for w in dictionary if WORD_RE.match(w) and w not in vocab and len(w) >= 4)
    rng.shuffle(rare)
    with open(os.path.join(OUT, "eval", "rare_words.txt"), "w") as f:
        f.write("\n".join(sorted(rare[:3000])) + "\n")
    print("eval: codespell %d, misspell-fixer %d, block %d, correct words %d"
          % (len(cs), len(mf), len(block), len(correct)), file=sys.stderr)

    # SentencePiece corpus: frequency-weighted words and generated phrases.
    with open(os.path.join(OUT, "spm_corpus.txt"), "w") as f:
        for _ in range(300000):
            f.write(gen.phrase() + "\n")
        for w, z in words:
            f.write(w + "\n")


if __name__ == "__main__":
    main()
