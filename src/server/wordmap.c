/* wordmap.c - the model's words of a query and the way back (wordmap.h). */
#include <stdlib.h>
#include <string.h>

#include "server/wordmap.h"

#include "server/util.h"

int t5_wordmap_init(t5_wordmap *m, int lowercase, const char *chars, const t5_lexicon *keep,
                    t5_err *err)
{
    memset(m, 0, sizeof *m);
    m->lowercase = lowercase != 0;
    m->keep = keep;
    if (!chars || !chars[0])
        return 0;
    size_t n = strlen(chars);
    if (n > T5_WORDMAP_MAX_CHARS)
        return t5_errf(err, T5_EFORMAT, "parameter word_chars: longer than %d bytes",
                       T5_WORDMAP_MAX_CHARS);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)chars[i];
        if (t5_ascii_space(c))
            return t5_errf(err, T5_EFORMAT, "parameter word_chars: holds white space");
        m->known[c] = 1;
    }
    m->has_chars = 1;
    return 0;
}

int t5_wordmap_active(const t5_wordmap *m)
{
    return m && (m->lowercase || m->has_chars || m->keep);
}

typedef struct span {
    size_t at, len;
} span;

/* The words of s [n] into *out (malloc'd: room for the most words n bytes
 * can hold); returns their number, -1 when out of memory. */
static int split(const char *s, size_t n, span **out)
{
    int k = 0;
    if (!(*out = malloc((n / 2 + 1) * sizeof **out)))
        return -1;
    for (size_t i = 0, j; (j = t5_next_word(s, n, &i)) > i; i = j)
        (*out)[k++] = (span){i, j - i};
    return k;
}

/* Whether the model sees word w [n] (not a kept word). */
static int shown(const t5_wordmap *m, const char *w, size_t n)
{
    if (m->keep && t5_lexicon_has(m->keep, w, n))
        return 0;
    if (!m->has_chars)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (!m->known[m->lowercase ? t5_ascii_lower(c) : c])
            return 0;
    }
    return 1;
}

size_t t5_wordmap_model_text(const t5_wordmap *m, const char *in, size_t n, char *out)
{
    if (!t5_wordmap_active(m)) {
        memcpy(out, in, n);
        out[n] = 0;
        return n;
    }
    size_t o = 0;
    for (size_t i = 0, j; (j = t5_next_word(in, n, &i)) > i; i = j) {
        if (shown(m, in + i, j - i)) {
            if (o)
                out[o++] = ' ';
            for (size_t k = i; k < j; k++)
                out[o++] = (char)(m->lowercase ? t5_ascii_lower((unsigned char)in[k]) : in[k]);
        }
    }
    out[o] = 0;
    return o;
}

/* Letters of w [n]: *up upper-case ones, *lo lower-case ones (ASCII). */
static void letters(const char *w, size_t n, int *up, int *lo)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        *up += c >= 'A' && c <= 'Z';
        *lo += c >= 'a' && c <= 'z';
    }
}

static int is_upper_word(const char *w, size_t n)
{
    int up = 0, lo = 0;
    letters(w, n, &up, &lo);
    return up >= 2 && lo == 0;
}

static int starts_upper(const char *w, size_t n)
{
    return n > 0 && w[0] >= 'A' && w[0] <= 'Z';
}

/* Whether generated word g [gn] is input word w [n] lower-cased. */
static int same_word(const char *w, size_t n, const char *g, size_t gn)
{
    if (n != gn)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t5_ascii_lower((unsigned char)w[i]) != (unsigned char)g[i])
            return 0;
    return 1;
}

enum { CASE_AS_IS, CASE_UPPER, CASE_FIRST };

/* Appends word g [gn] to out at *o, in case mode cm ("as is" copies). */
static void put(char *out, size_t *o, const char *g, size_t gn, int cm)
{
    if (*o)
        out[(*o)++] = ' ';
    for (size_t i = 0; i < gn; i++) {
        unsigned char c = (unsigned char)g[i];
        out[(*o)++] =
            (char)(cm == CASE_UPPER || (cm == CASE_FIRST && i == 0) ? t5_ascii_upper(c) : c);
    }
}

int t5_wordmap_output(const t5_wordmap *m, const char *in, size_t n, const char *gen, size_t gn,
                      char **out, size_t *out_len, t5_err *err)
{
    span *iw = NULL, *gw = NULL;
    int *kept = NULL; /* per input word: 1 when kept */
    int *sw = NULL;   /* the shown words' indices */
    char *o = NULL;
    int ni = split(in, n, &iw), ng = ni < 0 ? -1 : split(gen, gn, &gw);
    if (ni >= 0 && ng >= 0) {
        kept = calloc((size_t)(ni > 0 ? ni : 1), sizeof *kept);
        sw = calloc((size_t)(ni > 0 ? ni : 1), sizeof *sw);
        o = malloc(n + gn + 2);
    }
    if (!kept || !sw || !o) {
        free(iw);
        free(gw);
        free(kept);
        free(sw);
        free(o);
        return t5_errf(err, T5_ENOMEM, "out of memory");
    }
    int N = 0, up = 0, lo = 0, caps = 0; /* caps: shown words with a capital first letter */
    for (int i = 0; i < ni; i++) {
        kept[i] = !shown(m, in + iw[i].at, iw[i].len);
        if (!kept[i]) {
            letters(in + iw[i].at, iw[i].len, &up, &lo);
            caps += starts_upper(in + iw[i].at, iw[i].len);
            sw[N++] = i;
        }
    }
    const int M = ng;
    const int all_upper = up >= 2 && lo == 0; /* used with lowercase only */
    size_t at = 0;
    int k = 0; /* shown input words passed */
    int g = 0; /* generated words written */
    for (int i = 0; i <= ni; i++) {
        if (i < ni && !kept[i]) {
            k++;
            continue;
        }
        /* kept word i (or the end): first the generated words before it */
        int upto = N == 0              ? 0
                   : i == ni || k >= N ? M
                   : M == N            ? k
                                       : (int)((2L * k * M + N) / (2L * N));
        for (; g < upto; g++) {
            const char *gp = gen + gw[g].at;
            size_t gl = gw[g].len;
            int cm = CASE_AS_IS;
            if (m->lowercase) {
                if (M == N) {
                    /* its input word: the g-th shown one */
                    const char *w = in + iw[sw[g]].at;
                    size_t wl = iw[sw[g]].len;
                    if (same_word(w, wl, gp, gl))
                        gp = w; /* its own form */
                    else if (is_upper_word(w, wl))
                        cm = CASE_UPPER;
                    else if (starts_upper(w, wl))
                        cm = CASE_FIRST;
                } else if (all_upper) {
                    cm = CASE_UPPER;
                } else if (caps == N ||
                           (g == 0 && starts_upper(in + iw[sw[0]].at, iw[sw[0]].len))) {
                    cm = CASE_FIRST;
                }
            }
            put(o, &at, gp, gl, cm);
        }
        if (i < ni)
            put(o, &at, in + iw[i].at, iw[i].len, CASE_AS_IS);
    }
    o[at] = 0;
    free(iw);
    free(gw);
    free(kept);
    free(sw);
    *out = o;
    *out_len = at;
    return 0;
}
