/* lexicon.c - the word set behind lexicon reranking (see lexicon.h).
 *
 * Words live in one arena, each as a length byte followed by its bytes; the
 * set is an open-addressing table of arena offsets (+1, so 0 is empty) with
 * linear probing, at most half full, hashed with the response cache's FNV-1a.
 * 100k words take ~1.3 MB and a lookup is one hash and a memcmp or two.
 */
#include "server/lexicon.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sched/rcache.h"
#include "server/util.h"

struct t5_lexicon {
    unsigned char *arena; /* [len][bytes][double frequency, NAN if none] per word */
    size_t arena_len;
    uint32_t *slots; /* [cap]: 1 + arena offset, 0 = empty */
    size_t cap;      /* a power of two >= 2 * n */
    int n;
    int n_freq; /* words with a frequency */
};

/* The slot of word w (already lower-cased), or the empty slot where it goes. */
static size_t find(const t5_lexicon *lx, const unsigned char *w, size_t len)
{
    size_t mask = lx->cap - 1;
    size_t i = (size_t)t5_rcache_hash(w, len, 0) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t s = lx->slots[i];
        if (!s)
            return i;
        const unsigned char *e = lx->arena + s - 1;
        if (e[0] == len && !memcmp(e + 1, w, len))
            return i;
    }
}

void t5_lexicon_free(t5_lexicon *lx)
{
    if (!lx)
        return;
    free(lx->arena);
    free(lx->slots);
    free(lx);
}

/* One line [p, p + n) (without its newline and CR): the word's length in *wl
 * and the frequency after a tab, or NAN, in *freq. */
static int parse_line(const char *p, size_t n, const char *name, int line, size_t *wl, double *freq,
                      t5_err *err)
{
    const char *tab = memchr(p, '\t', n);
    size_t w = tab ? (size_t)(tab - p) : n;
    if (w > T5_LEXICON_MAX_WORD)
        return t5_errf(err, T5_EFORMAT, "lexicon %s line %d: a word longer than %d bytes", name,
                       line, T5_LEXICON_MAX_WORD);
    if (tab && !w)
        return t5_errf(err, T5_EFORMAT, "lexicon %s line %d: no word before the tab", name, line);
    for (size_t k = 0; k < w; k++) {
        unsigned char c = (unsigned char)p[k];
        if (c <= ' ' || c == 0x7f)
            return t5_errf(err, T5_EFORMAT,
                           "lexicon %s line %d: not one word (byte 0x%02x at column %zu); "
                           "the file holds one word per line, and a tab and its frequency",
                           name, line, c, k + 1);
    }
    *wl = w;
    *freq = NAN;
    if (!tab)
        return 0;
    char num[64];
    size_t m = n - w - 1;
    char *end = NULL;
    /* decimal only: digits, sign, point, exponent (no hex, inf, nan or spaces) */
    int ok = m && m < sizeof num;
    for (size_t k = 0; ok && k < m; k++)
        ok = memchr("0123456789+-.eE", tab[1 + k], 15) != NULL;
    if (ok) {
        memcpy(num, tab + 1, m);
        num[m] = 0;
        *freq = strtod(num, &end);
    }
    if (!ok || *end || !isfinite(*freq))
        return t5_errf(err, T5_EFORMAT,
                       "lexicon %s line %d: the frequency after the tab is not a number", name,
                       line);
    return 0;
}

int t5_lexicon_parse(t5_lexicon **out, const char *data, size_t len, const char *name, t5_err *err)
{
    *out = NULL;
    if (len > T5_LEXICON_MAX_BYTES)
        return t5_errf(err, T5_ELIMIT, "lexicon %s: larger than %u MiB", name,
                       T5_LEXICON_MAX_BYTES >> 20);
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) { /* a UTF-8 byte order mark */
        data += 3;
        len -= 3;
    }
    if (!t5_utf8_valid(data, len))
        return t5_errf(err, T5_EFORMAT, "lexicon %s: not UTF-8 text", name);
    /* Two passes over the lines: check them and count the words, then insert
     * them, lower-cased; duplicates are kept once. */
    t5_lexicon *lx = NULL;
    size_t words = 0;
    unsigned char w[T5_LEXICON_MAX_WORD];
    for (int pass = 0; pass < 2; pass++) {
        int line = 1;
        for (size_t i = 0; i < len; line++) {
            size_t j = i;
            while (j < len && data[j] != '\n')
                j++;
            size_t e = j > i && data[j - 1] == '\r' ? j - 1 : j;
            const char *lp = data + i;
            size_t n = 0;
            double f = NAN;
            int rc = parse_line(lp, e - i, name, line, &n, &f, err);
            i = j + 1;
            if (rc < 0)
                return rc; /* only in the first pass */
            if (!n)
                continue;
            if (pass == 0) {
                words++;
                continue;
            }
            for (size_t k = 0; k < n; k++)
                w[k] = t5_ascii_lower((unsigned char)lp[k]);
            size_t s = find(lx, w, n);
            if (lx->slots[s])
                continue;
            unsigned char *a = lx->arena + lx->arena_len;
            lx->slots[s] = (uint32_t)(lx->arena_len + 1);
            a[0] = (unsigned char)n;
            memcpy(a + 1, w, n);
            memcpy(a + 1 + n, &f, sizeof f);
            lx->arena_len += 1 + n + sizeof f;
            lx->n++;
            lx->n_freq += !isnan(f);
        }
        if (pass > 0)
            break;
        if (words == 0)
            return t5_errf(err, T5_EFORMAT, "lexicon %s: no words", name);
        if (words > (1u << 28) || len + words * (1 + sizeof(double)) > UINT32_MAX - 2)
            return t5_errf(err, T5_ELIMIT, "lexicon %s: too many words", name);
        lx = calloc(1, sizeof *lx);
        size_t cap = 16;
        while (cap < 2 * words)
            cap *= 2;
        if (lx) {
            lx->cap = cap;
            lx->slots = calloc(cap, sizeof *lx->slots);
            /* each word: a length byte, its bytes, a frequency */
            lx->arena = malloc(len + words * (1 + sizeof(double)) + 1);
        }
        if (!lx || !lx->slots || !lx->arena) {
            t5_lexicon_free(lx);
            return t5_errf(err, T5_ENOMEM, "lexicon %s: out of memory", name);
        }
    }
    *out = lx;
    return 0;
}

int t5_lexicon_load(t5_lexicon **out, const char *path, t5_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return t5_errf(err, errno == ENOENT ? T5_ENOTFOUND : T5_EIO, "lexicon %s: %s", path,
                       strerror(errno));
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int rc = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        rc = t5_errf(err, T5_EIO, "lexicon %s: not a regular file", path);
    else if ((uint64_t)st.st_size > T5_LEXICON_MAX_BYTES)
        rc = t5_errf(err, T5_ELIMIT, "lexicon %s: larger than %u MiB", path,
                     T5_LEXICON_MAX_BYTES >> 20);
    else if (!(buf = malloc((size_t)st.st_size + 1)))
        rc = t5_errf(err, T5_ENOMEM, "lexicon %s: out of memory", path);
    else if ((n = fread(buf, 1, (size_t)st.st_size, f)) != (size_t)st.st_size || ferror(f))
        rc = t5_errf(err, T5_EIO, "lexicon %s: read error", path);
    fclose(f);
    if (rc == 0)
        rc = t5_lexicon_parse(out, buf, n, path, err);
    free(buf);
    return rc;
}

int t5_lexicon_size(const t5_lexicon *lx)
{
    return lx->n;
}

/* The entry of one word (len bytes), NULL if the lexicon lacks it; *letter:
 * whether the word holds a letter (a word without one is in every lexicon). */
static const unsigned char *entry(const t5_lexicon *lx, const char *word, size_t len, int *letter)
{
    unsigned char w[T5_LEXICON_MAX_WORD];
    *letter = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)word[k];
        *letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
    }
    if (!*letter || len > T5_LEXICON_MAX_WORD)
        return NULL;
    for (size_t k = 0; k < len; k++)
        w[k] = t5_ascii_lower((unsigned char)word[k]);
    uint32_t s = lx->slots[find(lx, w, len)];
    return s ? lx->arena + s - 1 : NULL;
}

int t5_lexicon_has(const t5_lexicon *lx, const char *word, size_t len)
{
    int letter;
    return entry(lx, word, len, &letter) || !letter;
}

int t5_lexicon_accepts(const t5_lexicon *lx, const char *text, size_t len)
{
    for (size_t i = 0, j; (j = t5_next_word(text, len, &i)) > i; i = j)
        if (!t5_lexicon_has(lx, text + i, j - i))
            return 0;
    return 1;
}

int t5_lexicon_has_freqs(const t5_lexicon *lx)
{
    return lx->n_freq == lx->n;
}

/* A beam's summed log-probability plus the prior (lexicon.h); every word
 * with a letter is in the lexicon (the caller checked). */
static double beam_value(const t5_lexicon *lx, const t5_infer_seq *s, const t5_lexicon_rule *rule)
{
    double zsum = 0;
    for (size_t i = 0, j; (j = t5_next_word(s->text, s->text_len, &i)) > i; i = j) {
        int letter;
        const unsigned char *e = entry(lx, s->text + i, j - i, &letter);
        if (e) {
            double f;
            memcpy(&f, e + 1 + e[0], sizeof f);
            zsum += f - 9.0;
        }
    }
    double len = rule->length_penalty == 1.0f ? (double)s->n_ids
                                              : pow((double)s->n_ids, (double)rule->length_penalty);
    return (double)s->score * len + rule->prior * M_LN10 * zsum;
}

int t5_lexicon_pick(const t5_lexicon *lx, const t5_infer_seq *seqs, int n,
                    const t5_lexicon_rule *rule)
{
    int prior = rule->prior > 0 && !rule->input_known;
    int best = -1;
    double bv = -INFINITY;
    for (int j = 0; j < n; j++) {
        if (j > 0 && !(seqs[j].score >= seqs[0].score - rule->margin))
            break;
        if (!t5_lexicon_accepts(lx, seqs[j].text, seqs[j].text_len))
            continue;
        if (!prior)
            return j;
        double v = beam_value(lx, &seqs[j], rule);
        if (v > bv) {
            best = j;
            bv = v;
        }
    }
    return best < 0 ? 0 : best;
}

int t5_lexicon_accept_at(const t5_lexicon *accept, const char *in, size_t len,
                         const t5_infer_seq *seqs, int n)
{
    if (!accept || !t5_lexicon_accepts(accept, in, len))
        return -1;
    for (int j = 0; j < n; j++)
        if (seqs[j].text_len == len && !memcmp(seqs[j].text, in, len))
            return j;
    return n;
}
