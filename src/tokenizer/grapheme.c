/* grapheme.c - extended grapheme cluster boundaries (UAX #29).
 *
 * Needed because the tokenizers library's Precompiled normalizer looks up
 * whole grapheme clusters shorter than 6 bytes before falling back to single
 * characters. Rules GB3-GB13 are implemented except GB9c (Indic conjunct
 * linking, Unicode 15.1): a conjunct spans at least two 3-byte characters,
 * so its cluster is never shorter than 6 bytes and the lookup treats it
 * character by character either way.
 */
#include "tokenizer/tok_internal.h"

enum {
    G_OTHER,
    G_CR,
    G_LF,
    G_CONTROL,
    G_EXTEND,
    G_ZWJ,
    G_RI,
    G_PREPEND,
    G_SPACINGMARK,
    G_L,
    G_V,
    G_T,
    G_LV,
    G_LVT
};

static int gcb(uint32_t cp, bool *pict)
{
    /* Fast paths for the common scripts: Latin-1 and Latin Extended (below
     * the combining marks at U+0300) and the CJK ideographs are "Other". */
    if ((cp >= 0x20 && cp < 0x300 && !(cp >= 0x7F && cp <= 0x9F) && cp != 0xAD) ||
        (cp >= 0x4E00 && cp <= 0x9FFF)) {
        *pict = cp == 0xA9 || cp == 0xAE;
        return G_OTHER;
    }
    size_t lo = 0, hi = t5__gcb_nranges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < t5__gcb_ranges[mid].lo)
            hi = mid;
        else if (cp > t5__gcb_ranges[mid].hi)
            lo = mid + 1;
        else {
            *pict = (t5__gcb_ranges[mid].v & 0x80) != 0;
            return t5__gcb_ranges[mid].v & 0x7F;
        }
    }
    *pict = false;
    return G_OTHER;
}

size_t t5__grapheme_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    int l = t5__utf8_next(u, n, &cp);
    if (l <= 0)
        return n ? 1 : 0;
    /* ASCII other than CR followed by ASCII: always a boundary (fast path). */
    if (cp < 0x80 && cp != '\r' && (n == 1 || u[1] < 0x80))
        return 1;
    bool pict;
    int prev = gcb(cp, &pict);
    bool emoji_seq = pict; /* inside ExtPict Extend* (for GB11) */
    int ri_count = prev == G_RI;
    size_t pos = (size_t)l;
    while (pos < n) {
        int l2 = t5__utf8_next(u + pos, n - pos, &cp);
        if (l2 <= 0)
            break;
        bool p2;
        int cur = gcb(cp, &p2);
        bool join;
        if (prev == G_CR && cur == G_LF)
            join = true; /* GB3 */
        else if (prev == G_CR || prev == G_LF || prev == G_CONTROL || cur == G_CR || cur == G_LF ||
                 cur == G_CONTROL)
            join = false; /* GB4, GB5 */
        else if (prev == G_L && (cur == G_L || cur == G_V || cur == G_LV || cur == G_LVT))
            join = true; /* GB6 */
        else if ((prev == G_LV || prev == G_V) && (cur == G_V || cur == G_T))
            join = true; /* GB7 */
        else if ((prev == G_LVT || prev == G_T) && cur == G_T)
            join = true; /* GB8 */
        else if (cur == G_EXTEND || cur == G_ZWJ || cur == G_SPACINGMARK || prev == G_PREPEND)
            join = true; /* GB9, GB9a, GB9b */
        else if (prev == G_ZWJ && p2 && emoji_seq)
            join = true; /* GB11 */
        else if (prev == G_RI && cur == G_RI && (ri_count % 2) == 1)
            join = true; /* GB12, GB13 */
        else
            join = false;
        if (!join)
            break;
        /* Track ExtPict Extend* ZWJ for GB11. */
        if (p2)
            emoji_seq = true;
        else if (!(cur == G_EXTEND || cur == G_ZWJ))
            emoji_seq = false;
        ri_count = cur == G_RI ? ri_count + 1 : 0;
        prev = cur;
        pos += (size_t)l2;
    }
    return pos;
}
