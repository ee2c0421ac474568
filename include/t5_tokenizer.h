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
int t5_tokenizer_load_mem(t5_tokenizer **out, const char *kind, const void *data,
                          size_t len, t5_err *err);

/* ByT5: ids = byte + 3; 0 pad, 1 eos, 2 unk; extra_ids sentinels above 258. */
int t5_tokenizer_byt5(t5_tokenizer **out, int extra_ids, t5_err *err);

/* Finds the tokenizer of a Hugging Face model directory: tokenizer.json,
 * else spiece.model, else (if config.json says vocab_size 384 and no file
 * exists) the ByT5 byte tokenizer. */
int t5_tokenizer_load_dir(t5_tokenizer **out, const char *dir, t5_err *err);

void t5_tokenizer_free(t5_tokenizer *tok);

/* Encodes len bytes of UTF-8 text (need not be NUL-terminated). Writes at
 * most cap ids and returns the total number the text needs (so a return value
 * > cap means "truncated: call again with a bigger buffer"), or a negative
 * code (e.g. T5_EINVAL for invalid UTF-8, with a message in err). */
int t5_tokenizer_encode(const t5_tokenizer *tok, const char *text, size_t len,
                        int32_t *ids, int cap, int flags, t5_err *err);

/* Decodes ids to UTF-8 text, NUL-terminated. Returns the length the text
 * needs excluding the NUL (a value >= cap means truncated), or a negative code
 * (an id outside the vocabulary is T5_EINVAL). */
int t5_tokenizer_decode(const t5_tokenizer *tok, const int32_t *ids, int n,
                        char *text, size_t cap, int flags, t5_err *err);

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
