"""Clean query generator: frequency-weighted words and 1-6 word query-like
phrases with a product-search flavour. Used by build_data.py (held-out set,
SentencePiece corpus) and by train.py (on the fly, on the GPU machine)."""
import bisect
import itertools
import random

COLOURS = ("black white red blue green yellow orange purple pink brown grey gray silver gold "
           "beige navy ivory teal maroon turquoise burgundy cream tan khaki olive").split()
MATERIALS = ("leather cotton wool wooden wood metal steel stainless plastic glass ceramic silk "
             "linen denim bamboo rubber aluminum copper brass marble velvet suede canvas "
             "cashmere nylon polyester organic vinyl").split()
SIZES = ("small medium large extra large xl xxl mini compact portable king size queen size "
         "twin full size oversized slim lightweight heavy duty").split("  ")
SIZES = [s for part in SIZES for s in part.split(" ") if s] + ["extra large", "king size",
                                                              "queen size", "heavy duty", "full size"]
AUDIENCE = ("men women kids boys girls baby toddler adults teens dogs cats puppies beginners "
            "students travel camping kitchen office home garden outdoor bathroom bedroom car "
            "running hiking school summer winter christmas wedding birthday").split()
BRANDLESS = ("cheap best new used vintage waterproof wireless rechargeable electric cordless "
             "adjustable foldable washable reusable disposable organic natural digital "
             "automatic handmade replacement professional").split()
UNITS = ("inch ft oz lb ml mm cm gb tb pack piece pcs count watt volt").split()


class PhraseGen:
    def __init__(self, words, lex, rng=None, alpha=0.35):
        """words: [(word, zipf)], lex: the dict of lists from build_data.py.
        Words are drawn with weight 10^(alpha*zipf): flatter than their real
        frequency so that rare words are seen often enough to be learnt."""
        self.rng = rng or random.Random()
        self.words = [w for w, _ in words]
        self.cum = list(itertools.accumulate(10 ** (alpha * z) for _, z in words))
        common = [w for w, z in words if z >= 3.5]
        self.common = common
        self.pnouns = lex["pnouns"]
        self.pcolloc = lex["pcolloc"]
        self.adjs = lex["adjs"]
        self.colloc = lex["colloc"]
        self.grams = lex["grams"]

    def word(self):
        r = self.rng.random() * self.cum[-1]
        return self.words[bisect.bisect_left(self.cum, r)]

    def _noun(self):
        r = self.rng
        x = r.random()
        if x < 0.55:
            n = r.choice(self.pnouns)
        elif x < 0.85:
            n = r.choice(self.pcolloc)
        else:
            n = self.word()
        if r.random() < 0.25 and not n.endswith("s"):
            n = n + ("es" if n.endswith(("ch", "sh", "x")) else "s")
        return n

    def _num(self):
        r = self.rng
        return str(r.choice((1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 50, 64, 100, 128, 500, 1000)))

    def product(self):
        r = self.rng
        noun = self._noun()
        t = r.randrange(12)
        if t == 0:
            return "%s %s" % (r.choice(self.adjs), noun)
        if t == 1:
            return "%s %s" % (r.choice(COLOURS), noun)
        if t == 2:
            return "%s %s" % (r.choice(MATERIALS), noun)
        if t == 3:
            return "%s for %s" % (noun, r.choice(AUDIENCE) if r.random() < 0.7 else self._noun())
        if t == 4:
            return "%s %s" % (r.choice(SIZES), noun)
        if t == 5:
            return "%s %s %s" % (self._num(), r.choice(UNITS), noun)
        if t == 6:
            return "%s %s" % (noun, r.choice(("set", "kit", "case", "cover", "holder", "stand",
                                              "bag", "box", "rack", "organizer", "replacement")))
        if t == 7:
            return "%s %s %s" % (r.choice(BRANDLESS), r.choice(COLOURS + MATERIALS), noun)
        if t == 8:
            return "%s %s for %s" % (r.choice(self.adjs + BRANDLESS), noun, r.choice(AUDIENCE))
        if t == 9:
            return "%s %s %s %s" % (r.choice(SIZES), r.choice(COLOURS), r.choice(MATERIALS), noun)
        if t == 10:
            return "%s %s" % (r.choice(AUDIENCE), noun)
        return "%s %s with %s" % (r.choice(BRANDLESS), noun, self._noun())

    def phrase(self):
        """One clean phrase of 1-6 words."""
        r = self.rng
        x = r.random()
        if x < 0.30:
            p = self.product()
        elif x < 0.42:
            p = r.choice(self.pcolloc)
        elif x < 0.54:
            p = r.choice(self.colloc)
        elif x < 0.74:
            p = r.choice(self.grams)
        else:
            n = r.choice((2, 2, 2, 3, 3, 4))
            p = " ".join(self.word() if r.random() < 0.6 else r.choice(self.common)
                         for _ in range(n))
        toks = p.split()
        if len(toks) > 6:
            p = " ".join(toks[:6])
        return p
