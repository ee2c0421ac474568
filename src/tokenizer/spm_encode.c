/* spm_encode.c - SentencePiece's normalizer and encoder (spiece.model path).
 *
 * Normalization, as sentencepiece::normalizer::Normalizer::Normalize does it:
 * consume the input one "prefix" at a time, where a prefix is a user-defined
 * symbol (copied verbatim), else the longest rule of the precompiled
 * character map, else one UTF-8 character; drop leading spaces, collapse runs
 * of spaces and drop trailing ones (remove_extra_whitespaces); put U+2581
 * before the text (add_dummy_prefix) or after it (treat_whitespace_as_suffix)
 * and in place of every space (escape_whitespaces). The unigram search then
 * runs over the whole normalized string at once.
 */
#include <string.h>

#include "tokenizer/tok_internal.h"

static const char SPACE_SYM[] = "\xE2\x96\x81";

/* One normalization step at s[0..n): the replacement and how many input
 * bytes it consumes. Input is valid UTF-8 (checked by the caller). */
static size_t norm_prefix(const t5_tokenizer *tok, const char *s, size_t n, const char **rep,
                          size_t *rep_len)
{
    unsigned char c = (unsigned char)s[0];
    /* ASCII with no user symbol or longer rule starting here: one table read. */
    if (c < 0x80 && !(tok->has_user && t5__trie_step(&tok->user_trie, 0, c) >= 0)) {
        int32_t v = tok->has_cmap ? tok->cmap.longest[c] : -1;
        if (v == -1) {
            *rep = s;
            *rep_len = 1;
            return 1;
        }
        if (v >= 0) {
            *rep = tok->cmap.norm + v;
            *rep_len = strlen(*rep);
            return 1;
        }
    }
    if (tok->has_user) {
        int32_t v;
        size_t l = t5__trie_longest(&tok->user_trie, s, n, &v);
        if (l) {
            *rep = s;
            *rep_len = l;
            return l;
        }
    }
    if (tok->has_cmap) {
        const char *r;
        size_t l = t5__charsmap_match(&tok->cmap, s, n, true, &r);
        if (l) {
            *rep = r;
            *rep_len = strlen(r);
            return l;
        }
    }
    uint32_t cp;
    int l = t5__utf8_next((const unsigned char *)s, n, &cp);
    if (l <= 0) { /* unreachable for checked input; one byte as U+FFFD */
        *rep = "\xEF\xBF\xBD";
        *rep_len = 3;
        return 1;
    }
    *rep = s;
    *rep_len = (size_t)l;
    return (size_t)l;
}

static int add_ws(const t5_tokenizer *tok, t5__buf *out)
{
    return tok->escape_ws ? t5__buf_put(out, SPACE_SYM, 3) : t5__buf_putc(out, ' ');
}

int t5__spm_normalize(const t5_tokenizer *tok, const char *s, size_t n, t5__buf *out)
{
    out->n = 0;
    size_t pos = 0;
    const char *rep;
    size_t rl;
    if (tok->remove_extra_ws) {
        while (pos < n) {
            size_t c = norm_prefix(tok, s + pos, n - pos, &rep, &rl);
            if (!(rl == 1 && rep[0] == ' '))
                break;
            pos += c;
        }
    }
    if (pos >= n)
        return 0;
    if (t5__buf_reserve(out, (n - pos) * 3 + 8) < 0)
        return T5_ENOMEM;
    if (!tok->ws_suffix && tok->add_dummy_prefix && add_ws(tok, out) < 0)
        return T5_ENOMEM;
    bool prev_space = tok->remove_extra_ws;
    while (pos < n) {
        size_t c = norm_prefix(tok, s + pos, n - pos, &rep, &rl);
        while (prev_space && rl && rep[0] == ' ') {
            rep++;
            rl--;
        }
        if (rl) {
            for (size_t i = 0; i < rl; i++) {
                int e = tok->escape_ws && rep[i] == ' ' ? t5__buf_put(out, SPACE_SYM, 3)
                                                        : t5__buf_putc(out, rep[i]);
                if (e < 0)
                    return T5_ENOMEM;
            }
            prev_space = rep[rl - 1] == ' ';
        }
        pos += c;
        if (!tok->remove_extra_ws)
            prev_space = false;
    }
    if (tok->remove_extra_ws) {
        if (tok->escape_ws) {
            while (out->n >= 3 && !memcmp(out->p + out->n - 3, SPACE_SYM, 3))
                out->n -= 3;
        } else {
            while (out->n >= 1 && out->p[out->n - 1] == ' ')
                out->n--;
        }
    }
    if (tok->ws_suffix && tok->add_dummy_prefix && add_ws(tok, out) < 0)
        return T5_ENOMEM;
    return 0;
}

int t5__spm_encode(const t5_tokenizer *tok, const char *s, size_t n, t5__ids *out, t5_err *err)
{
    char stack[1024];
    t5__buf nb = {stack, 0, sizeof stack, true};
    int rc = t5__spm_normalize(tok, s, n, &nb);
    if (rc == 0)
        rc = t5__unigram(tok, nb.p, nb.n, false, out);
    t5__buf_free(&nb);
    if (rc < 0)
        return t5_errf(err, rc, "encode: %s", rc == T5_ENOMEM ? "out of memory" : "input too long");
    return 0;
}
