/* charsmap.c - SentencePiece's precompiled character map.
 *
 * The blob is: a little-endian uint32 trie size in bytes, the trie (a Darts
 * double array of uint32 units), then the replacement strings, each
 * NUL-terminated. A unit packs: bit 8 has_leaf, bits 0-7 and 31 the label,
 * bits 10-31 the offset (shifted left by 8 when bit 9 is set); a leaf unit's
 * low 31 bits are the value, here an offset into the strings.
 *
 * SentencePiece takes the longest rule that matches a prefix of the input;
 * the tokenizers library's Precompiled normalizer takes the first (shortest)
 * one. Both are offered, and every index is bounds-checked because the blob
 * comes from a file.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

static inline uint32_t u_offset(uint32_t u)
{
    return (u >> 10) << ((u & (1u << 9)) >> 6);
}
static inline uint32_t u_label(uint32_t u)
{
    return u & ((1u << 31) | 0xFF);
}
static inline int u_has_leaf(uint32_t u)
{
    return (u >> 8) & 1;
}
static inline uint32_t u_value(uint32_t u)
{
    return u & ((1u << 31) - 1);
}

int t5__charsmap_init(t5__charsmap *m, const void *blob, size_t len, t5_err *err)
{
    memset(m, 0, sizeof *m);
    const unsigned char *b = blob;
    if (len <= 4)
        return t5_errf(err, T5_EFORMAT, "precompiled_charsmap: %zu bytes is too short", len);
    uint32_t tsize =
        (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (tsize >= len - 4 + 1 || tsize % 4 || tsize == 0)
        return t5_errf(err, T5_EFORMAT,
                       "precompiled_charsmap: trie size %u does not fit in %zu bytes", tsize, len);
    m->n_units = tsize / 4;
    m->units = malloc(tsize);
    size_t nlen = len - 4 - tsize;
    m->norm = malloc(nlen + 1);
    if (!m->units || !m->norm) {
        t5__charsmap_free(m);
        return t5_errf(err, T5_ENOMEM, "precompiled_charsmap: out of memory");
    }
    for (size_t i = 0; i < m->n_units; i++) {
        const unsigned char *u = b + 4 + 4 * i;
        m->units[i] =
            (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(m->norm, b + 4 + tsize, nlen);
    m->norm[nlen] = 0; /* a final NUL, so every offset names a terminated string */
    m->norm_len = nlen;
    for (int c = 0; c < 128; c++) {
        m->first[c] = m->longest[c] = -1;
        size_t pos = u_offset(m->units[0]) ^ (size_t)c;
        if (pos >= m->n_units || u_label(m->units[pos]) != (uint32_t)c)
            continue; /* no rule starts with c */
        uint32_t unit = m->units[pos];
        pos ^= u_offset(unit);
        if (pos >= m->n_units) {
            m->longest[c] = -2;
            continue;
        }
        if (u_has_leaf(unit) && u_value(m->units[pos]) < m->norm_len)
            m->first[c] = m->longest[c] = (int32_t)u_value(m->units[pos]);
        for (int b2 = 1; b2 < 256; b2++) {
            size_t q = pos ^ (size_t)b2;
            if (q < m->n_units && u_label(m->units[q]) == (uint32_t)b2) {
                m->longest[c] = -2; /* a longer rule starts with c */
                break;
            }
        }
    }
    return 0;
}

void t5__charsmap_free(t5__charsmap *m)
{
    free(m->units);
    free(m->norm);
    memset(m, 0, sizeof *m);
}

size_t t5__charsmap_match(const t5__charsmap *m, const char *s, size_t n, bool longest,
                          const char **rep)
{
    if (!m->n_units)
        return 0;
    size_t pos = 0, best = 0;
    uint32_t unit = m->units[0];
    pos ^= u_offset(unit);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* The tokenizers library stops at a NUL byte; SentencePiece passes
         * the length and would look a NUL up like any byte. No shipped map
         * has a rule starting with NUL, so both give "no match" here. */
        if (c == 0 && !longest)
            break;
        pos ^= c;
        if (pos >= m->n_units)
            break;
        unit = m->units[pos];
        if (u_label(unit) != c)
            break;
        pos ^= u_offset(unit);
        if (pos >= m->n_units)
            break;
        if (u_has_leaf(unit)) {
            uint32_t v = u_value(m->units[pos]);
            if (v < m->norm_len) {
                best = i + 1;
                *rep = m->norm + v;
                if (!longest)
                    return best;
            }
        }
    }
    return best;
}
