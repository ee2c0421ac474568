"""Synthetic noise model of typing and spelling errors.

Two families, mixed:
  - typing slips: QWERTY-adjacent substitution, insertion of an adjacent key or
    a repeated letter, deletion, transposition of neighbours, a missed or
    extra space (split / joined words);
  - spelling (cognitive) errors: doubled / undoubled consonants, vowel
    confusions in unstressed syllables (seperate, definately), phonetic
    confusions (ph/f, ie/ei, -ible/-able, -ance/-ence, c/k/s, tion/sion,
    silent letters ...).

Two profiles of edit counts and per-edit mix (PROFILES): "default", the noise of every
round up to C6 (1/2/3 edits at 75/20/5%), and "cognitive", closer to natural
misspellings as the literature describes them (Damerau 1964: ~80% of errors are a
single edit; most are cognitive/phonetic rather than keyboard slips): 1/2/3 edits at
90/9/1% and more phonetic / vowel / double-letter edits, fewer key slips. Space
errors and the share of clean samples are the same in both.

A corrupted word that is itself a vocabulary word (a real-word error, like
"form" for "from") is rejected: the model must never learn to change a
correctly spelled word. So is one that appears in the evaluation block list
(codespell / misspell-fixer misspellings), which keeps the evaluation honest.
"""
import random

ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
ADJ = {}
for _r, _row in enumerate(ROWS):
    for _c, _ch in enumerate(_row):
        # Same row left/right; the staggered rows above (c, c+1) and below (c-1, c).
        nb = [(_r, _c - 1), (_r, _c + 1), (_r - 1, _c), (_r - 1, _c + 1), (_r + 1, _c - 1), (_r + 1, _c)]
        ADJ[_ch] = "".join(ROWS[rr][cc] for rr, cc in nb if 0 <= rr < 3 and 0 <= cc < len(ROWS[rr]))
VOWELS = "aeiou"

# (pattern, replacement) pairs, tried both ways where marked by PHON2.
PHON = [
    ("ph", "f"), ("f", "ph"), ("ie", "ei"), ("ei", "ie"), ("ible", "able"), ("able", "ible"),
    ("ance", "ence"), ("ence", "ance"), ("ant", "ent"), ("ent", "ant"), ("ancy", "ency"),
    ("ency", "ancy"), ("tion", "sion"), ("sion", "tion"), ("ary", "ery"), ("ery", "ary"),
    ("er", "or"), ("or", "er"), ("ar", "er"), ("c", "k"), ("k", "c"), ("c", "s"), ("s", "c"),
    ("ck", "k"), ("ck", "c"), ("s", "z"), ("z", "s"), ("ise", "ize"), ("ize", "ise"),
    ("y", "i"), ("i", "y"), ("ou", "o"), ("ough", "ow"), ("gh", ""), ("kn", "n"), ("wr", "r"),
    ("mb", "m"), ("wh", "w"), ("w", "wh"), ("x", "ks"), ("ks", "x"), ("qu", "kw"), ("sc", "s"),
    ("ch", "sh"), ("sh", "ch"), ("ght", "t"), ("ful", "full"), ("ly", "ley"), ("ey", "y"),
    ("ee", "ea"), ("ea", "ee"), ("oo", "u"), ("u", "oo"), ("au", "o"), ("aw", "au"),
    ("ai", "ay"), ("ay", "ai"), ("e", ""), ("ous", "us"), ("eous", "ious"), ("ious", "eous"),
    ("ll", "l"), ("ss", "s"), ("j", "g"), ("g", "j"), ("dge", "ge"), ("ge", "dge"),
    ("t", "d"), ("d", "t"), ("ture", "cher"), ("cial", "tial"), ("tial", "cial"),
    ("ment", "mant"), ("ite", "ate"), ("ate", "ite"), ("ible", "ibel"), ("le", "el"),
    ("el", "le"), ("re", "er"),
]


# Per profile: P(1 edit), P(2 edits | not 1) and the per-edit mix (op, share).
PROFILES = {
    "default": (0.75, 0.8, (("phonetic", 0.22), ("vowel", 0.16), ("double", 0.16), ("delete", 0.13),
                            ("transpose", 0.11), ("sub_key", 0.12), ("insert", 0.10))),
    "cognitive": (0.90, 0.9, (("phonetic", 0.30), ("vowel", 0.22), ("double", 0.20), ("delete", 0.10),
                              ("transpose", 0.08), ("sub_key", 0.05), ("insert", 0.05))),
}


class Noiser:
    def __init__(self, vocab, block, rng=None, profile="default"):
        self.vocab = vocab
        self.block = block
        self.rng = rng or random.Random()
        self.profile = profile
        self.p_one, self.p_two, self.OPS = PROFILES[profile]

    # --- single edits on one word; each returns a new string (maybe unchanged)
    def sub_key(self, w):
        if not w:   # an earlier edit of the same sample can delete a 2-letter word's letters
            return w
        i = self.rng.randrange(len(w))
        c = w[i]
        if c not in ADJ:
            return w
        return w[:i] + self.rng.choice(ADJ[c]) + w[i + 1:]

    def insert(self, w):
        r = self.rng
        i = r.randrange(len(w) + 1)
        if r.random() < 0.5 and i > 0 and w[i - 1] in ADJ:
            c = r.choice(ADJ[w[i - 1]])  # fat finger next to the previous key
        elif r.random() < 0.5 and i > 0:
            c = w[i - 1]  # repeated key
        else:
            c = r.choice("abcdefghijklmnopqrstuvwxyz")
        return w[:i] + c + w[i:]

    def delete(self, w):
        if len(w) < 3:
            return w
        # First letters are rarely dropped by people.
        i = self.rng.randrange(1, len(w)) if self.rng.random() < 0.9 else 0
        return w[:i] + w[i + 1:]

    def transpose(self, w):
        if len(w) < 3:
            return w
        i = self.rng.randrange(0 if self.rng.random() < 0.1 else 1, len(w) - 1)
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]

    def double(self, w):
        r = self.rng
        doubles = [i for i in range(len(w) - 1) if w[i] == w[i + 1]]
        if doubles and r.random() < 0.65:
            i = r.choice(doubles)
            return w[:i] + w[i + 1:]  # undouble: accomodate
        cons = [i for i in range(1, len(w)) if w[i] not in VOWELS and w[i].isalpha()
                and (i + 1 >= len(w) or w[i + 1] != w[i]) and w[i - 1] != w[i]]
        if not cons:
            return w
        i = r.choice(cons)
        return w[:i] + w[i] + w[i:]  # double a consonant: occured -> occurred style

    def vowel(self, w):
        idx = [i for i in range(len(w)) if w[i] in VOWELS]
        if not idx:
            return w
        i = self.rng.choice(idx)
        if len(idx) > 1 and i == idx[0] and self.rng.random() < 0.6:
            i = self.rng.choice(idx[1:])  # inner (unstressed) vowels more often
        x = self.rng.random()
        if x < 0.15:
            return w[:i] + w[i + 1:]
        if x < 0.25:
            return w[:i + 1] + self.rng.choice(VOWELS) + w[i + 1:]
        return w[:i] + self.rng.choice(VOWELS.replace(w[i], "")) + w[i + 1:]

    def phonetic(self, w):
        r = self.rng
        cands = [(a, b) for a, b in PHON if a in w]
        if not cands:
            return self.vowel(w)
        a, b = r.choice(cands)
        starts = []
        s = w.find(a)
        while s >= 0:
            starts.append(s)
            s = w.find(a, s + 1)
        s = r.choice(starts)
        return w[:s] + b + w[s + len(a):]

    def corrupt_word(self, w):
        r = self.rng
        x = r.random()
        acc = 0.0
        for name, p in self.OPS:
            acc += p
            if x < acc:
                return getattr(self, name)(w)
        return self.insert(w)

    def corrupt(self, text):
        """Returns a noisy version of text that differs from it, or None when
        no acceptable corruption was found."""
        r = self.rng
        words = text.split(" ")
        for _attempt in range(6):
            out = list(words)
            n_edits = 1 if r.random() < self.p_one else (2 if r.random() < self.p_two else 3)
            # Space errors: join two words, or split one.
            if len(out) >= 2 and r.random() < 0.07:
                i = r.randrange(len(out) - 1)
                out[i:i + 2] = [out[i] + out[i + 1]]
                n_edits -= 1
            elif r.random() < 0.04:
                i = r.randrange(len(out))
                if len(out[i]) >= 5:
                    k = r.randrange(2, len(out[i]) - 1)
                    out[i:i + 1] = [out[i][:k], out[i][k:]]
                    n_edits -= 1
            letters = [i for i, t in enumerate(out) if t.isalpha() and len(t) >= 2]
            for _ in range(n_edits):
                if not letters:
                    break
                # Longer words get more typos.
                i = r.choice(letters) if r.random() < 0.5 else max(
                    r.sample(letters, min(2, len(letters))), key=lambda j: len(out[j]))
                out[i] = self.corrupt_word(out[i])
            # Every token that is new must be a non-word outside the block list.
            orig = set(words)
            ok = all(t in orig or (t not in self.vocab and t not in self.block) for t in out)
            noisy = " ".join(t for t in out if t)
            if ok and noisy != text and noisy.replace(" ", "") != "":
                return noisy
        return None
