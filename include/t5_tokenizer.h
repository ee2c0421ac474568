/* t5_tokenizer.h - text <-> token ids, exactly as the reference tokenizers do.
 *
 * One interface for the three kinds of tokenizer T5 checkpoints ship:
 * a SentencePiece unigram model (`spiece.model`), a Hugging Face
 * `tokenizer.json` (Unigram model + normalizer + pre-tokenizer + post-processor)
 * and ByT5's byte tokenizer.
 *
 *     t5_tokenizer *tok;
 *     t5_err err = {0};
 *     if (t5_tokenizer_load(&tok, "spiece.model", &err) < 0) ...;
 *     int32_t ids[256];
 *     int n = t5_tokenizer_encode(tok, "helo world", 10, ids, 256, T5_TOK_ADD_EOS, &err);
 *     // n > 256 means the buffer was too small: call again with n slots.
 *     char text[1024];
 *     int len = t5_tokenizer_decode(tok, ids, n, text, sizeof text, T5_TOK_SKIP_SPECIAL, &err);
 *     t5_tokenizer_free(tok);
 *
 * A tokenizer is immutable after loading and safe to use from many threads.
 *
 * Reference behaviour, per kind (tests/tokenizer checks it line by line):
 *  - spiece.model encodes exactly as sentencepiece's SentencePieceProcessor
 *    (normalizer, Viterbi with its float arithmetic, unknown merging, byte
 *    fallback, user-defined symbols). Like sentencepiece it does NOT
 *    recognise "</s>" or "<extra_id_0>" written in the text; those are
 *    spelled with ordinary pieces. T5_TOK_ADD_EOS appends the eos piece.
 *  - tokenizer.json encodes exactly as the tokenizers library's
 *    Tokenizer.encode: added tokens written in the text ("</s>", "<pad>",
 *    "<extra_id_N>", user-defined symbols) become their ids; the normalizer
 *    chain, pre-tokenizer and post-processor of the file apply.
 *    T5_TOK_ADD_EOS applies the TemplateProcessing post-processor (T5: append
 *    </s>), i.e. tokenizer(text)["input_ids"]; without it the result is
 *    encode(text, add_special_tokens=False).
 *  - ByT5 encodes as transformers' ByT5Tokenizer (special tokens in the
 *    text are recognised; "</s>" is not appended twice).
 *  - Decoding follows each reference's decode(); T5_TOK_SKIP_SPECIAL is
 *    skip_special_tokens=True (tokenizer.json, ByT5) or, for spiece.model,
 *    dropping CONTROL and UNKNOWN pieces first (sentencepiece itself always
 *    hides control pieces and shows <unk> as " \u2047 ").
 *
 * Input text must be valid UTF-8: anything else is T5_EINVAL with the byte
 * offset in the message (sentencepiece would map each bad byte to U+FFFD and
 * the tokenizers library cannot take such text at all). NUL bytes are
 * ordinary characters. Inputs above 1 GiB are T5_ELIMIT.
 */
#ifndef T5_TOKENIZER_H
#define T5_TOKENIZER_H

#include "t5_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct t5_tokenizer t5_tokenizer;

enum {
    T5_TOK_ADD_EOS = 1 << 0,      /* encode: append </s> as T5's post-processor does */
    T5_TOK_SKIP_SPECIAL = 1 << 1, /* decode: drop pad/eos/unk/control tokens */
};

/* Loads by file name: "*.model" (SentencePiece protobuf) or "*.json"
 * (tokenizer.json). Returns 0 or a negative code. */
int t5_tokenizer_load(t5_tokenizer **out, const char *path, t5_err *err);

/* Same, from bytes in memory (used by fuzz targets). kind: "spiece" or "json". */
int t5_tokenizer_load_mem(t5_tokenizer **out, const char *kind, const void *data, size_t len,
                          t5_err *err);

/* ByT5: ids = byte + 3; 0 pad, 1 eos, 2 unk; extra_ids sentinels above 258. */
int t5_tokenizer_byt5(t5_tokenizer **out, int extra_ids, t5_err *err);

/* Finds the tokenizer of a Hugging Face model directory as
 * AutoTokenizer.from_pretrained(dir) would: tokenizer.json; else
 * spiece.model wrapped in transformers' T5Tokenizer pipeline (the pieces
 * plus 100 <extra_id_N> sentinels, Precompiled normalizer, WhitespaceSplit +
 * Metaspace, </s> appended: not sentencepiece's own encoding, which
 * t5_tokenizer_load of the .model file gives); else, if
 * tokenizer_config.json names ByT5Tokenizer or config.json says vocab_size
 * 384, the ByT5 byte tokenizer with 125 extra ids. */
int t5_tokenizer_load_dir(t5_tokenizer **out, const char *dir, t5_err *err);

void t5_tokenizer_free(t5_tokenizer *tok);

/* Encodes len bytes of UTF-8 text (need not be NUL-terminated). Writes at
 * most cap ids and returns the total number the text needs (so a return value
 * > cap means "truncated: call again with a bigger buffer"), or a negative
 * code (e.g. T5_EINVAL for invalid UTF-8, with a message in err). */
int t5_tokenizer_encode(const t5_tokenizer *tok, const char *text, size_t len, int32_t *ids,
                        int cap, int flags, t5_err *err);

/* Decodes ids to UTF-8 text, NUL-terminated. Returns the length the text
 * needs excluding the NUL (a value >= cap means truncated), or a negative code
 * (an id outside the vocabulary is T5_EINVAL). */
int t5_tokenizer_decode(const t5_tokenizer *tok, const int32_t *ids, int n, char *text, size_t cap,
                        int flags, t5_err *err);

int t5_tokenizer_vocab_size(const t5_tokenizer *tok);
int t5_tokenizer_eos_id(const t5_tokenizer *tok);
int t5_tokenizer_pad_id(const t5_tokenizer *tok);
int t5_tokenizer_unk_id(const t5_tokenizer *tok);

/* The piece string of an id (NULL if out of range); for debugging. */
const char *t5_tokenizer_piece(const t5_tokenizer *tok, int id);

#ifdef __cplusplus
}
#endif
#endif
