/* decode.c - ids back to text.
 *
 * SentencePiece (SentencePieceProcessor::Decode): control pieces vanish,
 * <unk> becomes the unk surface (" \u2047 "), runs of byte pieces are decoded
 * as UTF-8 with each invalid byte becoming U+FFFD, U+2581 becomes a space,
 * and the first piece loses one leading U+2581 (all leading ones while the
 * text is still empty when remove_extra_whitespaces is on). With
 * T5_TOK_SKIP_SPECIAL, control and unknown ids are dropped first.
 *
 * tokenizers (Tokenizer::decode): ids become their strings (added tokens
 * first), special added tokens are dropped with T5_TOK_SKIP_SPECIAL, and the
 * decoder chain runs over the list of strings, which are then concatenated
 * (joined by spaces when the file has no decoder).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

static const char SPACE_SYM[] = "\xE2\x96\x81";
static const char REPLACEMENT[] = "\xEF\xBF\xBD";

static int hexv(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

/* Appends s with every U+2581 replaced by a space. */
static int put_unescaped(t5__buf *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *q = n - i >= 3 ? memmem(s + i, n - i, SPACE_SYM, 3) : NULL;
        size_t e = q ? (size_t)(q - s) : n;
        if (t5__buf_put(out, s + i, e - i) < 0)
            return -1;
        if (!q)
            break;
        if (t5__buf_putc(out, ' ') < 0)
            return -1;
        i = e + 3;
    }
    return 0;
}

static int flush_bytes(t5__buf *out, const unsigned char *b, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int l = t5__utf8_next(b + i, n - i, &cp);
        if (l <= 0) {
            if (t5__buf_put(out, REPLACEMENT, 3) < 0)
                return -1;
            i++;
        } else {
            if (t5__buf_put(out, b + i, (size_t)l) < 0)
                return -1;
            i += (size_t)l;
        }
    }
    return 0;
}

int t5__spm_decode(const t5_tokenizer *tok, const int32_t *ids, int n, int flags, t5__buf *out,
                   t5_err *err)
{
    unsigned char bytes[256];
    size_t nb = 0;
    bool is_bos_ws = true, bos_ws_seen = false;
    bool strip_bos = tok->add_dummy_prefix || tok->remove_extra_ws;
    for (int i = 0; i < n; i++) {
        const t5__piece *p = &tok->pieces[ids[i]];
        if ((flags & T5_TOK_SKIP_SPECIAL) && (p->type == T5__P_CONTROL || p->type == T5__P_UNKNOWN))
            continue;
        const char *s = t5__piece_str(tok, ids[i]);
        if (p->type == T5__P_BYTE) {
            if (nb == sizeof bytes) {
                /* Flush at a character boundary: keep an incomplete tail. */
                size_t keep = 0;
                while (keep < 3 && keep < nb && (bytes[nb - 1 - keep] & 0xC0) == 0x80)
                    keep++;
                if (keep < nb && bytes[nb - 1 - keep] >= 0xC0)
                    keep++;
                else
                    keep = 0;
                if (flush_bytes(out, bytes, nb - keep) < 0)
                    goto oom;
                memmove(bytes, bytes + nb - keep, keep);
                nb = keep;
            }
            bytes[nb++] = (unsigned char)(hexv(s[3]) * 16 + hexv(s[4]));
            continue;
        }
        if (nb) {
            if (flush_bytes(out, bytes, nb) < 0)
                goto oom;
            nb = 0;
        }
        if (bos_ws_seen || out->n)
            is_bos_ws = false;
        bos_ws_seen = false;
        if (p->type == T5__P_CONTROL)
            continue;
        if (p->type == T5__P_UNKNOWN) {
            if (t5__buf_put(out, tok->unk_surface, strlen(tok->unk_surface)) < 0)
                goto oom;
            continue;
        }
        size_t len = p->len;
        if (is_bos_ws && strip_bos && len >= 3 && !memcmp(s, SPACE_SYM, 3)) {
            s += 3;
            len -= 3;
            bos_ws_seen = !tok->remove_extra_ws;
        }
        if (put_unescaped(out, s, len) < 0)
            goto oom;
    }
    if (nb && flush_bytes(out, bytes, nb) < 0)
        goto oom;
    return 0;
oom:
    return t5_errf(err, T5_ENOMEM, "decode: out of memory");
}

/* ---- tokenizers decoders ------------------------------------------------------ */

/* A list of strings stored back to back in one buffer. */
typedef struct toks {
    t5__buf text;
    size_t *off; /* n + 1 offsets */
    size_t n, cap;
} toks;

static int toks_end(toks *t)
{
    if (t->n + 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        while (cap < t->n + 2)
            cap *= 2;
        size_t *o = realloc(t->off, cap * sizeof *o);
        if (!o)
            return -1;
        t->off = o;
        t->cap = cap;
    }
    t->n++;
    t->off[t->n] = t->text.n;
    return 0;
}

static void toks_reset(toks *t)
{
    t->text.n = 0;
    t->n = 0;
    if (t->off)
        t->off[0] = 0;
}

/* ByteFallback: a run of byte tokens becomes one string if it is valid
 * UTF-8, else one U+FFFD per byte. */
static int flush_run(toks *out, const unsigned char *bytes, size_t *nb)
{
    if (!*nb)
        return 0;
    if (t5__utf8_check((const char *)bytes, *nb) == (size_t)-1) {
        if (t5__buf_put(&out->text, bytes, *nb) < 0 || toks_end(out) < 0)
            return -1;
    } else {
        for (size_t b = 0; b < *nb; b++)
            if (t5__buf_put(&out->text, REPLACEMENT, 3) < 0 || toks_end(out) < 0)
                return -1;
    }
    *nb = 0;
    return 0;
}

static int dec_step(const t5__dec_op *op, const toks *in, toks *out)
{
    toks_reset(out);
    if (!out->off && toks_end(out) < 0) /* allocate the offsets array */
        return -1;
    out->n = 0;
    out->off[0] = 0;
    if (op->kind == T5__D_FUSE) {
        if (t5__buf_put(&out->text, in->text.p, in->text.n) < 0 || toks_end(out) < 0)
            return -1;
        return 0;
    }
    unsigned char bytes[4096];
    size_t nb = 0;
    const char *tp = in->text.p ? in->text.p : ""; /* all tokens may be empty */
    for (size_t k = 0; k < in->n; k++) {
        const char *s = tp + in->off[k];
        size_t n = in->off[k + 1] - in->off[k];
        switch (op->kind) {
        case T5__D_METASPACE: {
            size_t i = 0;
            while (i < n) {
                uint32_t cp;
                int l = t5__utf8_next((const unsigned char *)s + i, n - i, &cp);
                if (l <= 0)
                    l = 1, cp = 0xFFFD;
                if (cp == op->rep_cp) {
                    if (!(k == 0 && op->prepend != T5__PREPEND_NEVER) &&
                        t5__buf_putc(&out->text, ' ') < 0)
                        return -1;
                } else if (t5__buf_put(&out->text, s + i, (size_t)l) < 0) {
                    return -1;
                }
                i += (size_t)l;
            }
            if (toks_end(out) < 0)
                return -1;
            break;
        }
        case T5__D_REPLACE: {
            size_t i = 0;
            while (i < n) {
                const char *q = op->pat_len && n - i >= op->pat_len
                                    ? memmem(s + i, n - i, op->pat, op->pat_len)
                                    : NULL;
                size_t e = q ? (size_t)(q - s) : n;
                if (t5__buf_put(&out->text, s + i, e - i) < 0)
                    return -1;
                if (!q)
                    break;
                if (t5__buf_put(&out->text, op->content, op->content_len) < 0)
                    return -1;
                i = e + op->pat_len;
            }
            if (toks_end(out) < 0)
                return -1;
            break;
        }
        case T5__D_BYTEFALLBACK: {
            /* "<0xNN>" (Rust's from_str_radix: also a '+' and one digit). */
            int v = -1;
            if (n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>') {
                if (s[3] == '+')
                    v = hexv(s[4]);
                else if (hexv(s[3]) >= 0 && hexv(s[4]) >= 0)
                    v = hexv(s[3]) * 16 + hexv(s[4]);
            }
            if (v >= 0) {
                if (nb == sizeof bytes && flush_run(out, bytes, &nb) < 0)
                    return -1;
                bytes[nb++] = (unsigned char)v;
                break;
            }
            if (flush_run(out, bytes, &nb) < 0 || t5__buf_put(&out->text, s, n) < 0 ||
                toks_end(out) < 0)
                return -1;
            break;
        }
        case T5__D_STRIP: {
            size_t a = 0, b = n;
            uint32_t cp;
            for (int c = 0; c < op->strip_start && a < b; c++) {
                int l = t5__utf8_next((const unsigned char *)s + a, b - a, &cp);
                if (l <= 0 || cp != op->strip_cp)
                    break;
                a += (size_t)l;
            }
            for (int c = 0; c < op->strip_stop && b > a; c++) {
                size_t p = b - 1;
                while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80)
                    p--;
                int l = t5__utf8_next((const unsigned char *)s + p, b - p, &cp);
                if (l <= 0 || cp != op->strip_cp)
                    break;
                b = p;
            }
            if (t5__buf_put(&out->text, s + a, b - a) < 0 || toks_end(out) < 0)
                return -1;
            break;
        }
        }
    }
    if (flush_run(out, bytes, &nb) < 0)
        return -1;
    return 0;
}

int t5__hf_decode(const t5_tokenizer *tok, const int32_t *ids, int n, int flags, t5__buf *out,
                  t5_err *err)
{
    toks a = {0}, b = {0};
    int rc = 0;
    if (toks_end(&a) < 0) /* allocate; then reset to zero strings */
        goto oom;
    toks_reset(&a);
    for (int i = 0; i < n; i++) {
        const t5__piece *p = &tok->pieces[ids[i]];
        if (p->type == 0 && ids[i] >= tok->n_model)
            continue; /* an id no token defines: the library skips it */
        if ((flags & T5_TOK_SKIP_SPECIAL) && p->special)
            continue;
        if (t5__buf_put(&a.text, t5__piece_str(tok, ids[i]), p->len) < 0 || toks_end(&a) < 0)
            goto oom;
    }
    if (!tok->has_decoder) {
        const char *tp = a.text.p ? a.text.p : "";
        for (size_t k = 0; k < a.n; k++)
            if ((k && t5__buf_putc(out, ' ') < 0) ||
                t5__buf_put(out, tp + a.off[k], a.off[k + 1] - a.off[k]) < 0)
                goto oom;
        goto done;
    }
    toks *cur = &a, *nxt = &b;
    for (int d = 0; d < tok->n_dec; d++) {
        if (dec_step(&tok->dec[d], cur, nxt) < 0)
            goto oom;
        toks *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (t5__buf_put(out, cur->text.p, cur->text.n) < 0)
        goto oom;
done:
    t5__buf_free(&a.text);
    t5__buf_free(&b.text);
    free(a.off);
    free(b.off);
    return rc;
oom:
    rc = t5_errf(err, T5_ENOMEM, "decode: out of memory");
    goto done;
}
