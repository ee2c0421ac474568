/* fuzz_wordmap.c - libFuzzer target for the word map (wordmap.c), which
 * reads request text: the input up to the first 0x01 byte is the query, the
 * rest the model's output (none: the model's text itself). With the
 * speller's parameters and a two-word keep_words list, checks: the model's text is no longer than
 * the query, has single spaces only and no kept word; the output holds every kept word, in order;
 * and the model's own text maps back to the query's words exactly (each unchanged word takes its
 * input form). Seeds: fuzz/corpus/fuzz_wordmap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/util.h"
#include "server/wordmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int space(char c)
{
    return t5_ascii_space((unsigned char)c);
}

/* The query's words joined by single spaces, into out (room for n + 1). */
static size_t words_of(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && space(s[i]))
            i++;
        if (i == n)
            break;
        if (o)
            out[o++] = ' ';
        while (i < n && !space(s[i]))
            out[o++] = s[i++];
    }
    out[o] = 0;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *q = (const char *)data;
    const char *sep = memchr(q, 1, size);
    size_t qn = sep ? (size_t)(sep - q) : size;
    static t5_lexicon *keep; /* a keep_words list: its words are kept too */
    t5_err err = {0};
    if (!keep && t5_lexicon_parse(&keep, "pro\nairpods\n", 12, "keep", &err) < 0)
        abort();
    t5_wordmap m;
    if (t5_wordmap_init(&m, 1, "abcdefghijklmnopqrstuvwxyz'", keep, &err) < 0)
        abort();
    char *mt = malloc(qn + 1), *w = malloc(qn + 1);
    if (!mt || !w)
        abort();
    size_t mn = t5_wordmap_model_text(&m, q, qn, mt);
    if (mn > qn || mt[mn] || (mn && (mt[0] == ' ' || mt[mn - 1] == ' ')) || strstr(mt, "  "))
        abort();
    for (size_t i = 0; i < mn; i++)
        if (mt[i] != ' ' && !m.known[(unsigned char)mt[i]])
            abort();
    const char *gen = sep ? sep + 1 : mt;
    size_t gn = sep ? size - qn - 1 : mn;
    char *out = NULL;
    size_t on = 0;
    if (t5_wordmap_output(&m, q, qn, gen, gn, &out, &on, &err) < 0)
        abort();
    if (out[on])
        abort(); /* NUL-terminated (a NUL inside is a byte of a word) */
    size_t wn = words_of(q, qn, w);
    if (!sep && (on != wn || memcmp(out, w, on)))
        abort();
    /* kept words, in order, among the output's */
    const char *p = out, *end = out + on;
    for (size_t i = 0; i < qn;) {
        while (i < qn && space(q[i]))
            i++;
        size_t j = i;
        int kept = 0;
        while (j < qn && !space(q[j])) {
            unsigned char c = (unsigned char)q[j];
            kept |= !m.known[c >= 'A' && c <= 'Z' ? c + 32 : c];
            j++;
        }
        if (j > i && kept) {
            const char *hit = NULL;
            for (const char *s = p; s + (j - i) <= end; s++)
                if ((s == out || s[-1] == ' ') && !memcmp(s, q + i, j - i) &&
                    (s + (j - i) == end || s[j - i] == ' ')) {
                    hit = s;
                    break;
                }
            if (!hit)
                abort();
            p = hit + (j - i);
        }
        i = j;
    }
    free(out);
    free(mt);
    free(w);
    return 0;
}
