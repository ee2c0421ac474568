/* hf_encode.c - the tokenizers library's encoding pipeline (tokenizer.json).
 *
 *   1. Split the raw text on added tokens whose "normalized" is false
 *      (leftmost-longest, honouring lstrip / rstrip / single_word); they
 *      become their ids directly.
 *   2. Normalize every other segment with the normalizer chain, then split it
 *      on the added tokens whose "normalized" is true.
 *   3. Pre-tokenize each remaining piece (Metaspace, WhitespaceSplit, Split).
 *   4. Run the unigram model on every pre-token separately.
 *   5. With T5_TOK_ADD_EOS, wrap the ids with the TemplateProcessing "single"
 *      template (T5: append </s>).
 *
 * Notable differences from SentencePiece that this reproduces on purpose:
 * special tokens written in the text ("</s>", "<extra_id_0>") are
 * recognised; the Precompiled normalizer maps whole grapheme clusters,
 * taking the shortest rule that matches; pieces never span a U+2581 when
 * Metaspace splits.
 *
 * prepend_scheme "first" prepends U+2581 to a piece whose first character
 * comes from offset 0 of the original text, as tokenizers decides it from
 * its alignments; here each step carries the length of that prefix (o0):
 * characters a normalizer produced from the first original character, or
 * prepended before it.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

typedef struct span {
    size_t off, len;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int spans_push(spans *s, size_t off, size_t len)
{
    if (!len)
        return 0; /* the tokenizers library drops empty splits */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){off, len};
    return 0;
}

static inline int cp_at(const char *s, size_t n, size_t i, uint32_t *cp)
{
    int l = t5__utf8_next((const unsigned char *)s + i, n - i, cp);
    if (l <= 0) {
        *cp = 0xFFFD;
        return 1;
    }
    return l;
}

/* ---- normalizers -------------------------------------------------------------- */

/* Each normalizer also maps *o0, the length of the prefix of the text that
 * comes from the first original character (tokenizers' alignment offset 0),
 * which Metaspace's prepend_scheme "first" asks about. */
static int norm_precompiled(const t5_tokenizer *tok, const char *s, size_t n, t5__buf *out,
                            size_t *o0)
{
    size_t i = 0, L = *o0, nl = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        /* An ASCII character followed by ASCII is a grapheme of its own. */
        if (c < 0x80 && c != '\r' && (i + 1 == n || (unsigned char)s[i + 1] < 0x80)) {
            int32_t v = tok->cmap.first[c];
            if (v < 0 ? t5__buf_putc(out, (char)c)
                      : t5__buf_put(out, tok->cmap.norm + v, strlen(tok->cmap.norm + v)))
                return -1;
            if (i < L)
                nl = out->n;
            i++;
            continue;
        }
        size_t g = t5__grapheme_len(s + i, n - i);
        const char *rep;
        bool first = i < L;
        if (g < 6 && t5__charsmap_match(&tok->cmap, s + i, g, false, &rep)) {
            if (t5__buf_put(out, rep, strlen(rep)) < 0)
                return -1;
            i += g;
            if (first)
                nl = out->n;
            continue;
        }
        size_t end = i + g;
        while (i < end) {
            uint32_t cp;
            size_t l = (size_t)cp_at(s, n, i, &cp);
            size_t m = t5__charsmap_match(&tok->cmap, s + i, l, false, &rep);
            if (m ? t5__buf_put(out, rep, strlen(rep)) : t5__buf_put(out, s + i, l))
                return -1;
            if (i < L)
                nl = out->n;
            i += l;
        }
    }
    *o0 = nl;
    return 0;
}

static int norm_strip(const t5__norm_op *op, const char *s, size_t n, t5__buf *out, size_t *o0)
{
    size_t a = 0, b = n;
    uint32_t cp;
    if (op->left)
        while (a < b) {
            int l = cp_at(s, n, a, &cp);
            if (!t5__is_whitespace(cp))
                break;
            a += (size_t)l;
        }
    if (op->right)
        while (b > a) {
            size_t p = b - 1;
            while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80)
                p--;
            cp_at(s, n, p, &cp);
            if (!t5__is_whitespace(cp))
                break;
            b = p;
        }
    *o0 = *o0 > a ? (*o0 < b ? *o0 : b) - a : 0;
    return t5__buf_put(out, s + a, b - a);
}

static int norm_replace(const t5__norm_op *op, const char *s, size_t n, t5__buf *out, size_t *o0)
{
    size_t pos = 0, L = *o0, nl = 0;
    while (pos <= n) {
        size_t ms, me;
        if (op->re) {
            if (!t5__re_find(op->re, s, n, pos, &ms, &me))
                break;
        } else {
            const char *q =
                n - pos >= op->pat_len ? memmem(s + pos, n - pos, op->pat, op->pat_len) : NULL;
            if (!q)
                break;
            ms = (size_t)(q - s);
            me = ms + op->pat_len;
        }
        if (t5__buf_put(out, s + pos, ms - pos) < 0)
            return -1;
        if (pos < L)
            nl = out->n - (ms > L ? ms - L : 0);
        if (t5__buf_put(out, op->content, op->content_len) < 0)
            return -1;
        if (ms < L)
            nl = out->n;
        if (me == ms) { /* an empty match: keep one character and move on */
            if (ms >= n) {
                pos = n + 1;
                break;
            }
            uint32_t cp;
            size_t l = (size_t)cp_at(s, n, ms, &cp);
            if (t5__buf_put(out, s + ms, l) < 0)
                return -1;
            me = ms + l;
        }
        pos = me;
    }
    if (pos < n) {
        size_t before = out->n;
        if (t5__buf_put(out, s + pos, n - pos) < 0)
            return -1;
        if (pos < L)
            nl = before + (L < n ? L : n) - pos;
    }
    *o0 = nl;
    return 0;
}

/* Runs the normalizer chain over s[0..n); the result is in *res (which
 * points at a or b). */
static int normalize(const t5_tokenizer *tok, const char *s, size_t n, t5__buf *a, t5__buf *b,
                     t5__buf **res, size_t *o0)
{
    a->n = 0;
    if (t5__buf_put(a, s, n) < 0)
        return -1;
    t5__buf *cur = a, *nxt = b;
    for (int i = 0; i < tok->n_norm && cur->n; i++) { /* empty stays empty */
        const t5__norm_op *op = &tok->norm[i];
        nxt->n = 0;
        int rc = 0;
        switch (op->kind) {
        case T5__N_PRECOMPILED: rc = norm_precompiled(tok, cur->p, cur->n, nxt, o0); break;
        case T5__N_STRIP: rc = norm_strip(op, cur->p, cur->n, nxt, o0); break;
        case T5__N_REPLACE: rc = norm_replace(op, cur->p, cur->n, nxt, o0); break;
        case T5__N_PREPEND:
            if (cur->n)
                rc = t5__buf_put(nxt, op->content, op->content_len);
            if (*o0) /* prepended text is aligned with the first character */
                *o0 += op->content_len;
            if (rc == 0)
                rc = t5__buf_put(nxt, cur->p, cur->n);
            break;
        }
        if (rc < 0)
            return -1;
        t5__buf *t = cur;
        cur = nxt;
        nxt = t;
    }
    *res = cur;
    return 0;
}

int t5__hf_normalize(const t5_tokenizer *tok, const char *s, size_t n, t5__buf *out)
{
    t5__buf other = {0}, *res;
    size_t o0 = 0;
    int rc = normalize(tok, s, n, out, &other, &res, &o0);
    if (rc == 0 && res != out) {
        out->n = 0;
        rc = t5__buf_put(out, res->p, res->n);
    }
    t5__buf_free(&other);
    return rc < 0 ? T5_ENOMEM : 0;
}

/* ---- pre-tokenizers -------------------------------------------------------- */

/* Metaspace on every span of (in, sp): replace spaces, maybe prepend, maybe
 * split before every replacement character. Writes new text and spans. */
static int pt_metaspace(const t5__pretok_op *op, const t5__buf *in, const spans *sp, t5__buf *out,
                        spans *res, size_t *o0)
{
    size_t L = *o0, nl = 0;
    for (size_t k = 0; k < sp->n; k++) {
        const char *s = in->p + sp->v[k].off;
        size_t n = sp->v[k].len, start = out->n;
        bool pre = false;
        if (op->prepend == T5__PREPEND_ALWAYS ||
            (op->prepend == T5__PREPEND_FIRST && sp->v[k].off < L))
            /* Tested after spaces became the replacement, as the library does. */
            pre = !(n && s[0] == ' ') && !(n >= op->rep_len && !memcmp(s, op->rep, op->rep_len));
        if (pre && t5__buf_put(out, op->rep, op->rep_len) < 0)
            return -1;
        for (size_t i = 0; i < n;) {
            const char *q = memchr(s + i, ' ', n - i);
            size_t e = q ? (size_t)(q - s) : n;
            if (t5__buf_put(out, s + i, e - i) < 0)
                return -1;
            if (sp->v[k].off + i < L)
                nl = out->n - (sp->v[k].off + e > L ? sp->v[k].off + e - L : 0);
            if (!q)
                break;
            if (t5__buf_put(out, op->rep, op->rep_len) < 0)
                return -1;
            if (sp->v[k].off + e < L)
                nl = out->n;
            i = e + 1;
        }
        size_t end = out->n;
        if (!op->split) {
            if (spans_push(res, start, end - start) < 0)
                return -1;
            continue;
        }
        /* MergedWithNext: a piece starts at every replacement character. */
        size_t ps = start;
        for (size_t i = start; i + op->rep_len <= end;) {
            if (i > ps && !memcmp(out->p + i, op->rep, op->rep_len)) {
                if (spans_push(res, ps, i - ps) < 0)
                    return -1;
                ps = i;
            }
            i += (op->rep_len && !memcmp(out->p + i, op->rep, op->rep_len)) ? op->rep_len : 1;
        }
        if (spans_push(res, ps, end - ps) < 0)
            return -1;
    }
    *o0 = nl;
    return 0;
}

static int pt_wssplit(const t5__buf *in, const spans *sp, spans *res)
{
    for (size_t k = 0; k < sp->n; k++) {
        size_t i = sp->v[k].off, end = i + sp->v[k].len, ws = i;
        bool in_word = false;
        while (i < end) {
            uint32_t cp;
            size_t l = (size_t)cp_at(in->p, end, i, &cp);
            bool w = t5__is_whitespace(cp);
            if (!w && !in_word) {
                ws = i;
                in_word = true;
            } else if (w && in_word) {
                if (spans_push(res, ws, i - ws) < 0)
                    return -1;
                in_word = false;
            }
            i += l;
        }
        if (in_word && spans_push(res, ws, end - ws) < 0)
            return -1;
    }
    return 0;
}

static int pt_split(const t5__pretok_op *op, const t5__buf *in, const spans *sp, spans *res)
{
    for (size_t k = 0; k < sp->n; k++) {
        const char *s = in->p + sp->v[k].off;
        size_t n = sp->v[k].len, base = sp->v[k].off, pos = 0, prev = 0, ms, me;
        size_t pend_s = 0, pend_e = 0; /* Contiguous: a run of matches */
        bool pend = false;
        while (pos <= n && t5__re_find(op->re, s, n, pos, &ms, &me)) {
            if (me == ms) { /* empty matches split nothing */
                pos = ms + 1;
                continue;
            }
            int rc = 0;
            switch (op->behavior) {
            case 0: /* Removed */
                rc = spans_push(res, base + prev, ms - prev);
                prev = me;
                break;
            case 1: /* Isolated */
                rc = spans_push(res, base + prev, ms - prev);
                if (rc == 0)
                    rc = spans_push(res, base + ms, me - ms);
                prev = me;
                break;
            case 2: /* MergedWithPrevious */
                rc = spans_push(res, base + prev, me - prev);
                prev = me;
                break;
            case 3: /* MergedWithNext */
                rc = spans_push(res, base + prev, ms - prev);
                prev = ms;
                break;
            case 4: /* Contiguous */
                if (pend && pend_e == ms) {
                    pend_e = me;
                } else {
                    if (pend)
                        rc = spans_push(res, base + pend_s, pend_e - pend_s);
                    if (rc == 0)
                        rc = spans_push(res, base + prev, ms - prev);
                    pend = true;
                    pend_s = ms;
                    pend_e = me;
                }
                prev = me;
                break;
            }
            if (rc < 0)
                return -1;
            pos = me;
        }
        if (pend && spans_push(res, base + pend_s, pend_e - pend_s) < 0)
            return -1;
        if (spans_push(res, base + prev, n - prev) < 0)
            return -1;
    }
    return 0;
}

typedef struct work {
    t5__buf na, nb; /* normalizer ping-pong */
    t5__buf pa, pb; /* pre-tokenizer text ping-pong */
    spans sa, sb;
} work;

static void work_free(work *w)
{
    t5__buf_free(&w->na);
    t5__buf_free(&w->nb);
    t5__buf_free(&w->pa);
    t5__buf_free(&w->pb);
    free(w->sa.v);
    free(w->sb.v);
}

/* Pre-tokenizes and encodes one normalized piece. */
static int encode_piece(const t5_tokenizer *tok, work *w, const char *s, size_t n, size_t o0,
                        t5__ids *out)
{
    if (!n)
        return 0;
    t5__buf *text = &w->pa, *tnext = &w->pb;
    spans *cur = &w->sa, *nxt = &w->sb;
    text->n = 0;
    cur->n = 0;
    if (t5__buf_put(text, s, n) < 0 || spans_push(cur, 0, n) < 0)
        return T5_ENOMEM;
    for (int i = 0; i < tok->n_pretok; i++) {
        const t5__pretok_op *op = &tok->pretok[i];
        nxt->n = 0;
        int rc;
        if (op->kind == T5__PT_METASPACE) {
            tnext->n = 0;
            rc = pt_metaspace(op, text, cur, tnext, nxt, &o0);
            t5__buf *t = text;
            text = tnext;
            tnext = t;
        } else if (op->kind == T5__PT_WSSPLIT) {
            rc = pt_wssplit(text, cur, nxt);
        } else {
            rc = pt_split(op, text, cur, nxt);
        }
        if (rc < 0)
            return T5_ENOMEM;
        spans *t = cur;
        cur = nxt;
        nxt = t;
    }
    for (size_t k = 0; k < cur->n; k++) {
        int rc = t5__unigram(tok, text->p + cur->v[k].off, cur->v[k].len, true, out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* single_word boundaries: tokenizers asks char::is_alphanumeric() (or '_').
 * Without Unicode category tables this approximates it: a non-ASCII
 * character is a word character unless it is whitespace or lies in a block
 * of punctuation and symbols (Latin-1 signs, U+2000-2BFF including U+2581,
 * CJK and full-width punctuation, emoji). T5 files have no single_word
 * tokens; components.json tests the common cases. */
static bool is_word_char(uint32_t c)
{
    if (c >= 0x80) {
        if (t5__is_whitespace(c))
            return false;
        if (c <= 0xBF)
            return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
                   (c >= 0xBC && c <= 0xBE);
        if (c == 0xD7 || c == 0xF7)
            return false;
        if ((c >= 0x2000 && c <= 0x2BFF && !(c >= 0x2100 && c <= 0x218F)) ||
            (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F) ||
            (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0x1F000 && c <= 0x1FAFF))
            return false;
        return true;
    }
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* o0: how many leading bytes of s come from the first original character. */
typedef int (*segment_fn)(const t5_tokenizer *tok, work *w, const char *s, size_t n, size_t o0,
                          t5__ids *out);

/* Splits s on the added tokens of trie t: matched tokens go to out as ids,
 * the text between goes to fn. */
static int split_added(const t5_tokenizer *tok, const t5__trie *t, bool use, work *w, const char *s,
                       size_t n, size_t o0, segment_fn fn, t5__ids *out)
{
    size_t start_off = 0, i = 0;
    while (use && i < n) {
        int32_t idx;
        /* Most characters cannot start an added token: one probe says so. */
        size_t l = t5__trie_step(t, 0, (unsigned char)s[i]) >= 0
                       ? t5__trie_longest(t, s + i, n - i, &idx)
                       : 0;
        if (!l) {
            i++;
            while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
                i++;
            continue;
        }
        const t5__added *a = &tok->added[idx];
        size_t start = i, stop = i + l;
        uint32_t cp;
        if (a->single_word) {
            bool sok = true, eok = true;
            if (start > 0) {
                size_t p = start - 1;
                while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80)
                    p--;
                cp_at(s, n, p, &cp);
                sok = !is_word_char(cp);
            }
            if (stop < n) {
                cp_at(s, n, stop, &cp);
                eok = !is_word_char(cp);
            }
            if (!sok || !eok) {
                i = stop;
                continue;
            }
        }
        if (a->lstrip) {
            size_t p = start;
            while (p > start_off) {
                size_t q = p - 1;
                while (q > 0 && ((unsigned char)s[q] & 0xC0) == 0x80)
                    q--;
                cp_at(s, n, q, &cp);
                if (!t5__is_whitespace(cp))
                    break;
                p = q;
            }
            start = p;
        }
        if (a->rstrip) {
            while (stop < n) {
                int cl = cp_at(s, n, stop, &cp);
                if (!t5__is_whitespace(cp))
                    break;
                stop += (size_t)cl;
            }
        }
        if (start_off < start) {
            int rc = fn(tok, w, s + start_off, start - start_off,
                        start_off < o0 ? (o0 < start ? o0 : start) - start_off : 0, out);
            if (rc < 0)
                return rc;
        }
        if (t5__ids_push(out, a->id) < 0)
            return T5_ENOMEM;
        start_off = stop;
        i = stop;
    }
    if (start_off < n)
        return fn(tok, w, s + start_off, n - start_off, start_off < o0 ? o0 - start_off : 0, out);
    return 0;
}

static int normalized_segment(const t5_tokenizer *tok, work *w, const char *s, size_t n, size_t o0,
                              t5__ids *out)
{
    t5__buf *res;
    if (normalize(tok, s, n, &w->na, &w->nb, &res, &o0) < 0)
        return T5_ENOMEM;
    if (!tok->has_added_norm)
        return encode_piece(tok, w, res->p, res->n, o0, out);
    /* res lives in the normalizer buffers, which encode_piece never touches. */
    return split_added(tok, &tok->added_norm_trie, true, w, res->p, res->n, o0, encode_piece, out);
}

int t5__hf_encode(const t5_tokenizer *tok, const char *s, size_t n, int flags, t5__ids *out,
                  t5_err *err)
{
    /* Short texts (the common case) never touch the heap for buffers. */
    char b1[1024], b2[1024], b3[1024], b4[1024];
    work w = {{b1, 0, sizeof b1, true},
              {b2, 0, sizeof b2, true},
              {b3, 0, sizeof b3, true},
              {b4, 0, sizeof b4, true},
              {0},
              {0}};
    bool post = (flags & T5_TOK_ADD_EOS) && tok->has_post;
    int rc = 0;
    if (post)
        for (int i = 0; i < tok->n_post_before && rc == 0; i++)
            rc = t5__ids_push(out, tok->post_before[i]);
    if (rc == 0) {
        uint32_t cp;
        size_t first = n ? (size_t)cp_at(s, n, 0, &cp) : 0; /* the character at offset 0 */
        rc = split_added(tok, &tok->added_trie, tok->has_added, &w, s, n, first, normalized_segment,
                         out);
    }
    if (post)
        for (int i = 0; i < tok->n_post_after && rc == 0; i++)
            rc = t5__ids_push(out, tok->post_after[i]);
    work_free(&w);
    if (rc < 0)
        return t5_errf(err, rc, "encode: %s", rc == T5_ENOMEM ? "out of memory" : "input too long");
    return 0;
}
