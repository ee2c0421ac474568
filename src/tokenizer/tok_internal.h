/* tok_internal.h - the tokenizer's private structures, shared by the files of
 * src/tokenizer/. Nothing here is public API.
 *
 * One struct serves the three kinds of tokenizer. A SentencePiece model and a
 * tokenizer.json share the vocabulary, the piece trie and the Viterbi search;
 * they differ in the text pipeline around it (SentencePiece's fixed
 * normalizer versus the tokenizers library's configurable components) and in
 * a few numeric details that decide ties (float versus double path scores),
 * so each keeps its own pipeline and says which variant of the search it uses.
 */
#ifndef T5_TOK_INTERNAL_H
#define T5_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "t5_tokenizer.h"

/* ---- small growable byte buffer ------------------------------------------ */

/* p may start out as caller-owned storage (a stack array): set ext, and the
 * first growth copies it to the heap. */
typedef struct t5__buf {
    char *p;
    size_t n, cap;
    bool ext;
} t5__buf;

int t5__buf_reserve(t5__buf *b, size_t extra);
int t5__buf_put(t5__buf *b, const void *s, size_t n);
static inline int t5__buf_putc(t5__buf *b, char c)
{
    if (b->n + 1 > b->cap && t5__buf_reserve(b, 1) < 0)
        return -1;
    b->p[b->n++] = c;
    return 0;
}
void t5__buf_free(t5__buf *b);

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if s[0..n) does not
 * start with one (overlong forms, surrogates and values above U+10FFFF are
 * invalid, as in SentencePiece's and Rust's decoders). *cp gets the value. */
int t5__utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* Byte offset of the first invalid sequence, or (size_t)-1 if all valid. */
size_t t5__utf8_check(const char *s, size_t n);
int t5__utf8_put(char *out, uint32_t cp); /* writes 1-4 bytes, returns count */
/* Unicode White_Space (Rust's char::is_whitespace). */
bool t5__is_whitespace(uint32_t cp);

/* ---- double-array trie over byte strings ---------------------------------- */

/* Built once from (key, value) pairs; lookups walk one byte at a time, so the
 * Viterbi search enumerates every piece starting at a position in one pass.
 * base/check are the classic double array; value[s] >= 0 marks a key end. */
typedef struct t5__trie {
    int32_t *base;
    int32_t *check;
    int32_t *value;
    size_t size;
} t5__trie;

typedef struct t5__trie_key {
    const char *s;
    uint32_t len;
    int32_t value;
} t5__trie_key;

/* Keys may repeat: the later value wins (as a hash map insert would). */
int t5__trie_build(t5__trie *t, const t5__trie_key *keys, size_t n);
void t5__trie_free(t5__trie *t);
/* One step: returns the child state of s for byte c, or -1. */
static inline int32_t t5__trie_step(const t5__trie *t, int32_t s, unsigned char c)
{
    size_t u = (size_t)t->base[s] + c;
    if (u >= t->size || t->check[u] != s)
        return -1;
    return (int32_t)u;
}
/* Longest key that is a prefix of s[0..n): returns its length (0 if none)
 * and its value in *value. */
size_t t5__trie_longest(const t5__trie *t, const char *s, size_t n, int32_t *value);

/* ---- SentencePiece precompiled character map -------------------------------- */

/* The map as SentencePiece stores it: a Darts double array whose values are
 * offsets into a blob of NUL-terminated replacement strings. */
typedef struct t5__charsmap {
    uint32_t *units; /* copied out so alignment never matters */
    size_t n_units;
    char *norm; /* replacement strings, NUL-terminated, with a final NUL */
    size_t norm_len;
    /* ASCII shortcuts, computed at load: for a byte c < 0x80,
     * first[c] is the offset of the rule for exactly "c" (-1: none), and
     * longest[c] is that too when no longer rule starts with c (-2: a longer
     * rule may match, do the full lookup). */
    int32_t first[128], longest[128];
} t5__charsmap;

int t5__charsmap_init(t5__charsmap *m, const void *blob, size_t len, t5_err *err);
void t5__charsmap_free(t5__charsmap *m);
/* Longest (SentencePiece) or shortest (Hugging Face) prefix of s[0..n) that
 * has a rule. Returns the matched length (0 if none); *rep gets the
 * replacement (NUL-terminated inside the blob). */
size_t t5__charsmap_match(const t5__charsmap *m, const char *s, size_t n, bool longest,
                          const char **rep);

/* ---- grapheme clusters (UAX #29) -------------------------------------------- */

typedef struct t5__gcb_range {
    uint32_t lo, hi;
    uint8_t v; /* class in the low 7 bits, 0x80 = Extended_Pictographic */
} t5__gcb_range;
extern const t5__gcb_range t5__gcb_ranges[];
extern const size_t t5__gcb_nranges;
/* Length in bytes of the extended grapheme cluster at s (valid UTF-8). */
size_t t5__grapheme_len(const char *s, size_t n);

/* ---- a small regular-expression subset (tokenizer.json Replace / Split) ---- */

typedef struct t5__re t5__re;
int t5__re_compile(t5__re **out, const char *pattern, t5_err *err);
void t5__re_free(t5__re *re);
/* Leftmost-first match in s[0..n) starting the search at from. Returns 1 and
 * the match in [*ms, *me), or 0 if none. */
int t5__re_find(const t5__re *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me);

/* ---- the tokenizer ---------------------------------------------------------- */

enum { T5__KIND_SPM = 1, T5__KIND_HF = 2, T5__KIND_BYT5 = 3 };

/* SentencePiece piece types (sentencepiece_model.proto). */
enum {
    T5__P_NORMAL = 1,
    T5__P_UNKNOWN = 2,
    T5__P_CONTROL = 3,
    T5__P_USER = 4,
    T5__P_UNUSED = 5,
    T5__P_BYTE = 6,
};

typedef struct t5__piece {
    uint32_t off, len; /* into tok->pool */
    double score;      /* exactly the stored value (float for spm files) */
    uint8_t type;
    uint8_t special; /* HF: an added token marked special (skipped on decode) */
} t5__piece;

typedef struct t5__added {
    uint32_t off, len; /* content, in tok->pool */
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} t5__added;

/* tokenizer.json components. */
enum {
    T5__N_PRECOMPILED = 1,
    T5__N_STRIP,
    T5__N_REPLACE,
    T5__N_PREPEND,
};
typedef struct t5__norm_op {
    int kind;
    bool left, right;    /* Strip */
    t5__re *re;          /* Replace with a regex */
    char *pat, *content; /* Replace with a literal; Prepend */
    size_t pat_len, content_len;
} t5__norm_op;

enum { T5__PT_METASPACE = 1, T5__PT_WSSPLIT, T5__PT_SPLIT };
enum { T5__PREPEND_ALWAYS = 0, T5__PREPEND_FIRST, T5__PREPEND_NEVER };
typedef struct t5__pretok_op {
    int kind;
    char rep[8]; /* Metaspace replacement, UTF-8 */
    size_t rep_len;
    uint32_t rep_cp;
    int prepend; /* T5__PREPEND_* */
    bool split;
    t5__re *re;   /* Split */
    int behavior; /* Split: 0 removed, 1 isolated, 2 merged_with_previous, 3 merged_with_next, 4
                     contiguous */
    bool invert;
} t5__pretok_op;

enum { T5__D_METASPACE = 1, T5__D_REPLACE, T5__D_BYTEFALLBACK, T5__D_FUSE, T5__D_STRIP };
typedef struct t5__dec_op {
    int kind;
    uint32_t rep_cp; /* Metaspace */
    int prepend;
    char *pat, *content; /* Replace (literal) */
    size_t pat_len, content_len;
    uint32_t strip_cp; /* Strip */
    int strip_start, strip_stop;
} t5__dec_op;

struct t5_tokenizer {
    int kind;

    /* vocabulary */
    int n_pieces; /* every id: model vocabulary, then added-only ids */
    int n_model;  /* ids the model (lattice) knows; HF may add more */
    t5__piece *pieces;
    char *pool;
    size_t pool_len;
    int unk_id, eos_id, pad_id, bos_id;
    int32_t byte_id[256]; /* id of <0xNN>, -1 if absent */
    bool byte_fallback;
    double min_score; /* spm: over NORMAL pieces; HF: over all */
    double max_score; /* spm: over NORMAL pieces, starting at FLT_MIN */
    t5__trie trie;    /* pieces the lattice may use -> id */

    /* SentencePiece normalizer */
    t5__charsmap cmap;
    bool has_cmap;
    bool add_dummy_prefix, remove_extra_ws, escape_ws, ws_suffix;
    char *unk_surface;
    t5__trie user_trie; /* user-defined symbols: never normalized */
    bool has_user;

    /* tokenizer.json */
    t5__added *added;
    int n_added;
    t5__trie added_trie;      /* non-normalized added tokens -> index in added */
    t5__trie added_norm_trie; /* normalized ones */
    bool has_added, has_added_norm;
    t5__norm_op *norm;
    int n_norm;
    t5__pretok_op *pretok;
    int n_pretok;
    t5__dec_op *dec;
    int n_dec;
    bool has_decoder;
    int32_t *post_before, *post_after; /* TemplateProcessing "single" ids */
    int n_post_before, n_post_after;
    bool has_post;

    /* ByT5 */
    int extra_ids;
};

/* Loaders (spiece_load.c, json_load.c). */
int t5__spm_load(t5_tokenizer *tok, const unsigned char *data, size_t len, t5_err *err);
int t5__json_load(t5_tokenizer *tok, const char *data, size_t len, t5_err *err);

/* transformers' T5Tokenizer pipeline for a bare spiece.model (t5_from_spm.c). */
int t5__t5_from_spm(t5_tokenizer **out, const t5_tokenizer *spm, t5_err *err);

/* Vocabulary helpers (vocab.c). */
int t5__vocab_finish(t5_tokenizer *tok, t5_err *err);
static inline const char *t5__piece_str(const t5_tokenizer *tok, int id)
{
    return tok->pool + tok->pieces[id].off;
}

/* The Viterbi search (unigram.c): appends ids for the pieces of s[0..n) to
 * out. hf selects the tokenizers library's variant (double scores, every
 * vocabulary entry in the lattice, byte fallback by fused unknown run). */
typedef struct t5__ids {
    int32_t *v;
    size_t n, cap;
    bool ext; /* v is caller storage: copy out on first growth */
} t5__ids;
int t5__ids_push(t5__ids *ids, int32_t id);
int t5__unigram(const t5_tokenizer *tok, const char *s, size_t n, bool hf, t5__ids *out);

/* Pipelines. */
int t5__spm_normalize(const t5_tokenizer *tok, const char *s, size_t n, t5__buf *out);
int t5__spm_encode(const t5_tokenizer *tok, const char *s, size_t n, t5__ids *out, t5_err *err);
/* The normalizer chain of a tokenizer.json, on its own. */
int t5__hf_normalize(const t5_tokenizer *tok, const char *s, size_t n, t5__buf *out);
int t5__hf_encode(const t5_tokenizer *tok, const char *s, size_t n, int flags, t5__ids *out,
                  t5_err *err);
int t5__spm_decode(const t5_tokenizer *tok, const int32_t *ids, int n, int flags, t5__buf *out,
                   t5_err *err);
int t5__hf_decode(const t5_tokenizer *tok, const int32_t *ids, int n, int flags, t5__buf *out,
                  t5_err *err);

#endif
