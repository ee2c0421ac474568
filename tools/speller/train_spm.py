#!/usr/bin/env python3
"""Trains the speller's SentencePiece unigram vocabulary on the clean corpus
written by build_data.py, with T5's conventions (pad 0, eos 1, unk 2, no bos,
nmt_nfkc normalisation), and exports a tokenizer.json with transformers'
T5Converter (no sentinel tokens: the speller has no use for them).

    python3 tools/speller/train_spm.py [OUT_DIR] [VOCAB_SIZE]
writes OUT_DIR/spiece.model and OUT_DIR/tokenizer.json (default tools/out/speller, 4096).
"""
import os
import sys

import sentencepiece as spm

OUT = sys.argv[1] if len(sys.argv) > 1 else "tools/out/speller"
VOCAB = int(sys.argv[2]) if len(sys.argv) > 2 else 4096


class _Orig:
    """The bits of a slow T5Tokenizer that T5Converter reads."""

    def __init__(self, path, sp):
        self.vocab_file = path
        self._extra_ids = 0
        self.sp = sp

    def convert_tokens_to_ids(self, t):
        return self.sp.piece_to_id(t)


def export_json(model_path, json_path):
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import T5Converter

    sp = spm.SentencePieceProcessor(model_file=model_path)
    tok = T5Converter(_Orig(model_path, sp)).converted()
    for t in ["<pad>", "</s>", "<unk>"]:
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False)])
    tok.save(json_path)
    assert tok.get_vocab_size() == sp.get_piece_size(), (tok.get_vocab_size(), sp.get_piece_size())
    # Same ids as sentencepiece (+ </s>) on a few strings.
    for s in ["helo wrold", "running shoes for men", "10 inch ceramic bowl", "accomodate"]:
        a = sp.encode(s) + [1]
        b = tok.encode(s).ids
        assert a == b, (s, a, b)


def main():
    prefix = os.path.join(OUT, "spiece")
    spm.SentencePieceTrainer.train(
        input=os.path.join(OUT, "spm_corpus.txt"), model_prefix=prefix, model_type="unigram",
        vocab_size=VOCAB, character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc", input_sentence_size=2000000, shuffle_input_sentence=True,
        num_threads=2, minloglevel=2)
    export_json(prefix + ".model", os.path.join(OUT, "tokenizer.json"))
    print("wrote", prefix + ".model", os.path.join(OUT, "tokenizer.json"))


if __name__ == "__main__":
    main()
