#!/usr/bin/env python3
"""Builds the tokenizer test fixtures in tests/tokenizer/data/.

Trains small SentencePiece unigram models on text found on any Debian machine
(/usr/share/dict/words, /usr/share/doc/*/copyright) plus generated phrases,
exports a tokenizer.json for each with transformers' T5Converter (the same
converter that produced the tokenizer.json files of the T5 checkpoints on the
Hugging Face hub), builds a test corpus of >= 10k lines full of the things that
break tokenizers, and records the reference encodings and decodings:

  <model>.model.gz         SentencePiece model
  <model>.json.gz          tokenizer.json (T5Converter, 100 <extra_id_N>)
  corpus.txt.gz            one test input per line, escaped
  <model>.spm.ids.gz       sentencepiece ids per corpus line (no EOS)
  <model>.spm.dec.gz       sentencepiece DecodeIds of those ids
  <model>.hf.ids.gz        tokenizers ids per corpus line (with </s>)
  <model>.hf.dec.gz        tokenizers decode, skip_special_tokens True TAB False
                           ("=" in the first field: same as the sentencepiece
                           decode; "+" in the second: the first plus "</s>")
  <model>.rand.ids.gz      random id sequences, for decode tests
  <model>.rand.spm.dec.gz  sentencepiece decode of each: all ids TAB without control/unk
  <model>.rand.hf.gz       ids TAB tokenizers decode skipping special TAB not skipping
  nfkc_v5.*                tokenizer.json as transformers 5's T5Tokenizer saves it
                           (WhitespaceSplit + Metaspace), references for 3000 lines
  byt5.ids.gz, byt5.dec.gz ByT5Tokenizer references for the first 2000 corpus lines

Text fields are escaped with escape() (corpus_escape.py) so that every record is one line.
To keep the fixtures small, a field that equals its "obvious" value is
written as "=": a decoded text equal to the corpus line, the second decode
equal to the first, HF ids equal to the sentencepiece ids plus </s>.
Everything is gzip'd (the C tests read it with zlib). Run from the
repository root (models are retrained only with --retrain or when missing):
    python3 tools/tokenizer/make_fixtures.py
"""
import glob
import gzip
import io
import json
import os
import random
import shutil
import sys
import tempfile

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus_escape import escape  # noqa: E402

OUT = "tests/tokenizer/data"
SEED = 1234

MODELS = {
    # name: extra trainer options
    "nfkc": dict(vocab_size=1000, normalization_rule_name="nmt_nfkc"),
    "bytefb": dict(vocab_size=1000, normalization_rule_name="nmt_nfkc", byte_fallback=True),
    "ident": dict(vocab_size=800, normalization_rule_name="identity"),
    "uds": dict(vocab_size=800, normalization_rule_name="nmt_nfkc",
                user_defined_symbols=["<sep>", "@@", "foo_bar", "ℌ", "ff", "<extra_id_0>"],
                control_symbols=["<ctl>", "<cls>"]),
}
# Not committed by default (each model costs ~1 MB of fixtures); pass --extra
# to build them too, and list them on test_tok_parity's command line.
EXTRA_MODELS = {
    "nfkccf": dict(vocab_size=800, normalization_rule_name="nmt_nfkc_cf",
                   remove_extra_whitespaces=False, split_digits=True),
}
V5_MODELS = ["nfkc"]
if "--extra" in sys.argv:
    MODELS.update(EXTRA_MODELS)


def same(text, ref):
    """'=' when text equals ref, else ':' + escaped text."""
    return "=" if text == ref else ":" + escape(text)


def words():
    with open("/usr/share/dict/words", encoding="utf-8") as f:
        return [w.strip() for w in f if w.strip()]


def doc_lines(limit=40000):
    lines = []
    for p in sorted(glob.glob("/usr/share/doc/*/copyright")):
        try:
            with open(p, encoding="utf-8") as f:
                for ln in f:
                    ln = ln.rstrip("\n")
                    if ln.strip():
                        lines.append(ln)
        except (UnicodeDecodeError, OSError):
            continue
        if len(lines) >= limit:
            break
    return lines


ACCENTED = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßœŒłŁșțăĂđĐšžčćŠŽČĆ"
FULLWIDTH = "ＡＢＣａｂｃ０１２３！？（）＠＃％　，．：；ｶﾀｶﾅﾞ"
LIGATURES = "ﬁﬂﬀﬃﬄﬅﬆĲĳǄǅǆ№™℡㎏㍿"
COMBINING = ["e\u0301", "a\u0300", "n\u0303", "o\u0308", "u\u0308\u0301", "A\u030a", "c\u0327",
             "\u0301", "x\u0336\u0336", "Ａ\u0301", "ｶ\u3099"]
EMOJI = ["😀", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "❤️", "✈️", "🏳️‍🌈", "🤖", "🙂", "⭐", "©", "®"]
CJK = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切"
HANGUL = "한국어조선말안녕하세요감사합니다"
CONTROLS = ["\t", "\x01", "\x7f", "\u200b", "\u00ad", "\u200d", "\ufeff", "\r", "\x0b", "\x0c",
            "\u2028", "\x85", "\u00a0", "\u3000", "\u2003", "\x00"]
SPECIALS = ["</s>", "<pad>", "<unk>", "<extra_id_0>", "<extra_id_99>", "<extra_id_7>", "<s>",
            "<0x41>", "<sep>", "@@", "<ctl>", "foo_bar", "▁", "▁▁x"]
MISC = ["3.14159", "2024-01-05", "1,000,000", "$42.99", "C++", "e-mail", "naïve", "café", "Straße",
        "ǅemal", "İstanbul", "ΑΒΓ αβγ", "Привет мир", "שלום", "مرحبا", "नमस्ते", "ไทย", "ℌello", "Ω", "Å"]


def rand_token(rng, W):
    r = rng.random()
    if r < 0.55:
        w = rng.choice(W)
        if rng.random() < 0.1:
            w = w.upper()
        return w
    if r < 0.62:
        return "".join(rng.choice(ACCENTED) for _ in range(rng.randint(1, 4))) + rng.choice(W)[:3]
    if r < 0.67:
        return "".join(rng.choice(FULLWIDTH) for _ in range(rng.randint(1, 5)))
    if r < 0.70:
        return rng.choice(W)[:4] + rng.choice(LIGATURES) + rng.choice(W)[:3]
    if r < 0.74:
        return rng.choice(W)[:3] + rng.choice(COMBINING) + rng.choice(W)[:2]
    if r < 0.78:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if r < 0.84:
        return "".join(rng.choice(CJK) for _ in range(rng.randint(1, 6)))
    if r < 0.85:
        return "".join(rng.choice(HANGUL) for _ in range(rng.randint(1, 4)))
    if r < 0.89:
        return rng.choice(MISC)
    if r < 0.92:
        return rng.choice(SPECIALS)
    if r < 0.95:
        return str(rng.randint(0, 10 ** rng.randint(1, 9)))
    return rng.choice(W) + rng.choice(".,;:!?)]'\"-")


def rand_sep(rng):
    r = rng.random()
    if r < 0.85:
        return " "
    if r < 0.93:
        return " " * rng.randint(2, 6)
    if r < 0.97:
        return rng.choice(CONTROLS)
    return ""


def make_line(rng, W, D):
    r = rng.random()
    if r < 0.02:
        return ""
    if r < 0.03:
        return " " * rng.randint(1, 5)
    if r < 0.2:
        s = rng.choice(D)
        if len(s) > 80:
            s = s[:80]
        return s
    n = rng.randint(1, 9)
    parts = []
    for i in range(n):
        parts.append(rand_token(rng, W))
        if i + 1 < n:
            parts.append(rand_sep(rng))
    s = "".join(parts)
    r = rng.random()
    if r < 0.05:
        s = " " * rng.randint(1, 3) + s
    elif r < 0.10:
        s = s + " " * rng.randint(1, 3)
    elif r < 0.12:
        s = rng.choice(CONTROLS) + s + rng.choice(CONTROLS)
    return s


def training_text(rng, W, D):
    lines = list(D[:30000])
    for _ in range(30000):
        n = rng.randint(3, 12)
        lines.append(" ".join(rand_token(rng, W) for _ in range(n)).replace("\x00", ""))
    return [l for l in lines if "\n" not in l and "\r" not in l]


def write_gz(path, lines):
    data = "".join(l + "\n" for l in lines).encode("utf-8")
    with gzip.GzipFile(path, "wb", 9, mtime=0) as f:
        f.write(data)


class _Orig:
    """The bits of a slow T5Tokenizer that T5Converter reads."""

    def __init__(self, path, sp):
        self.vocab_file = path
        self._extra_ids = 100
        self.sp = sp

    def convert_tokens_to_ids(self, t):
        return self.sp.piece_to_id(t)


def export_json(model_path, json_path):
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import T5Converter

    sp = spm.SentencePieceProcessor(model_file=model_path)
    tok = T5Converter(_Orig(model_path, sp)).converted()
    n = sp.get_piece_size()
    # As T5TokenizerFast does: the sentinels are special added tokens.
    tok.add_special_tokens([AddedToken("<extra_id_%d>" % i, special=True, normalized=False)
                            for i in range(99, -1, -1)])
    for t in ["<pad>", "</s>", "<unk>"]:
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False)])
    tok.save(json_path)
    assert tok.token_to_id("<extra_id_0>") == n + 99 or "extra_id_0" in "uds"


def main():
    rng = random.Random(SEED)
    os.makedirs(OUT, exist_ok=True)
    W = words()
    D = doc_lines()
    train = training_text(rng, W, D)
    work = tempfile.mkdtemp()
    tpath = os.path.join(work, "train.txt")
    with open(tpath, "w", encoding="utf-8") as f:
        f.write("\n".join(train) + "\n")
    for name, opts in MODELS.items():
        gz = os.path.join(OUT, name + ".model.gz")
        if os.path.exists(gz) and "--retrain" not in sys.argv:
            with gzip.open(gz, "rb") as f, open(os.path.join(work, name + ".model"), "wb") as g:
                g.write(f.read())
            continue
        spm.SentencePieceTrainer.train(
            input=tpath, model_prefix=os.path.join(work, name), model_type="unigram",
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.99,
            num_threads=1, seed_sentencepiece_size=200000, input_sentence_size=60000,
            shuffle_input_sentence=False, minloglevel=2, **opts)
        with open(os.path.join(work, name + ".model"), "rb") as f, gzip.GzipFile(gz, "wb", 9, mtime=0) as g:
            g.write(f.read())

    corpus = [make_line(rng, W, D) for _ in range(10000)]
    corpus = [l.replace("\n", " ") for l in corpus]
    write_gz(os.path.join(OUT, "corpus.txt.gz"), [escape(l) for l in corpus])

    from tokenizers import Tokenizer

    for name in MODELS:
        mpath = os.path.join(work, name + ".model")
        jpath = os.path.join(work, name + ".json")
        export_json(mpath, jpath)
        with open(jpath, "rb") as f, gzip.GzipFile(os.path.join(OUT, name + ".json.gz"), "wb", 9, mtime=0) as g:
            g.write(f.read())
        sp = spm.SentencePieceProcessor(model_file=mpath)
        hf = Tokenizer.from_file(jpath)
        spm_ids, spm_dec, hf_ids, hf_dec = [], [], [], []
        for line in corpus:
            ids = sp.encode(line)
            spm_ids.append(" ".join(map(str, ids)))
            spm_dec.append(same(sp.decode(ids), line))
            enc = hf.encode(line)
            hf_ids.append("=" if enc.ids == ids + [sp.piece_to_id("</s>")] else " ".join(map(str, enc.ids)))
            d1 = hf.decode(enc.ids, skip_special_tokens=True)
            d2 = hf.decode(enc.ids, skip_special_tokens=False)
            hf_dec.append(same(d1, sp.decode(ids)) + "\t" + ("+" if d2 == d1 + "</s>" else same(d2, d1)))
        write_gz(os.path.join(OUT, name + ".spm.ids.gz"), spm_ids)
        write_gz(os.path.join(OUT, name + ".spm.dec.gz"), spm_dec)
        write_gz(os.path.join(OUT, name + ".hf.ids.gz"), hf_ids)
        write_gz(os.path.join(OUT, name + ".hf.dec.gz"), hf_dec)

        # Random id sequences: decode must agree for anything, not only for
        # what the encoder produces (byte pieces out of order, control ids
        # in the middle, unk, sentinels).
        nsp = sp.get_piece_size()
        nhf = hf.get_vocab_size(with_added_tokens=True)
        rids, rspm, rhf = [], [], []
        for _ in range(1000):
            k = rng.randint(0, 12)
            ids = [rng.randrange(nsp) if rng.random() < 0.8 else rng.randrange(min(nsp, 8))
                   for _ in range(k)]
            rids.append(" ".join(map(str, ids)))
            keep = [i for i in ids if not (sp.is_control(i) or sp.is_unknown(i))]
            d1 = sp.decode(ids)
            rspm.append(":" + escape(d1) + "\t" + same(sp.decode(keep), d1))
            hids = [i if rng.random() < 0.9 else rng.randrange(nhf) for i in ids]
            d1 = hf.decode(hids, skip_special_tokens=True)
            rhf.append(" ".join(map(str, hids)) + "\t:" + escape(d1) + "\t" +
                       same(hf.decode(hids, skip_special_tokens=False), d1))
        write_gz(os.path.join(OUT, name + ".rand.ids.gz"), rids)
        write_gz(os.path.join(OUT, name + ".rand.spm.dec.gz"), rspm)
        write_gz(os.path.join(OUT, name + ".rand.hf.gz"), rhf)

    # transformers 5's own T5Tokenizer (from_pretrained on a directory with
    # spiece.model, then save_pretrained) writes a different pipeline:
    # Precompiled alone, WhitespaceSplit + Metaspace. References for the
    # first 3000 lines; "=" means the same as the T5Converter file's value.
    from transformers import T5Tokenizer

    for name in V5_MODELS:
        src = os.path.join(work, "v5src")
        os.makedirs(src, exist_ok=True)
        shutil.copy(os.path.join(work, name + ".model"), os.path.join(src, "spiece.model"))
        T5Tokenizer.from_pretrained(src).save_pretrained(os.path.join(work, "v5out"))
        jpath = os.path.join(work, "v5out", "tokenizer.json")
        with open(jpath, "rb") as f, gzip.GzipFile(os.path.join(OUT, name + "_v5.json.gz"), "wb", 9, mtime=0) as g:
            g.write(f.read())
        base = Tokenizer.from_file(os.path.join(work, name + ".json"))
        hf = Tokenizer.from_file(jpath)
        ids_out, dec_out = [], []
        for line in corpus[:3000]:
            b = base.encode(line).ids
            e = hf.encode(line).ids
            ids_out.append("=" if e == b else " ".join(map(str, e)))
            d1 = hf.decode(e, skip_special_tokens=True)
            d2 = hf.decode(e, skip_special_tokens=False)
            dec_out.append(same(d1, base.decode(b, skip_special_tokens=True)) + "\t" +
                           ("+" if d2 == d1 + "</s>" else same(d2, d1)))
        write_gz(os.path.join(OUT, name + "_v5.hf.ids.gz"), ids_out)
        write_gz(os.path.join(OUT, name + "_v5.hf.dec.gz"), dec_out)

    from transformers import ByT5Tokenizer

    bt = ByT5Tokenizer()
    b_ids, b_dec = [], []
    for line in corpus[:2000]:
        ids = bt(line)["input_ids"]
        b_ids.append(" ".join(map(str, ids)))
        d1 = bt.decode(ids, skip_special_tokens=True)
        b_dec.append(same(d1, line) + "\t" + same(bt.decode(ids, skip_special_tokens=False), d1))
    write_gz(os.path.join(OUT, "byt5.ids.gz"), b_ids)
    write_gz(os.path.join(OUT, "byt5.dec.gz"), b_dec)
    shutil.rmtree(work)
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(OUT, "*")))
    print("fixtures: %d files, %.2f MB" % (len(os.listdir(OUT)), total / 1e6))


if __name__ == "__main__":
    sys.exit(main())
