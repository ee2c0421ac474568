/* lexicon.c - the word set behind lexicon reranking (see lexicon.h).
 *
 * Words live in one arena, each as a length byte followed by its bytes; the
 * set is an open-addressing table of arena offsets (+1, so 0 is empty) with
 * linear probing, at most half full, hashed with the response cache's FNV-1a.
 * 100k words take ~1.3 MB and a lookup is one hash and a memcmp or two.
 */
#include "server/lexicon.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sched/rcache.h"
#include "server/util.h"

struct t5_lexicon {
    unsigned char *arena; /* [len][bytes] per word */
    size_t arena_len;
    uint32_t *slots; /* [cap]: 1 + arena offset, 0 = empty */
    size_t cap;      /* a power of two >= 2 * n */
    int n;
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
    /* First pass: check every line and count the words. */
    size_t words = 0;
    int line = 1;
    for (size_t i = 0; i < len; line++) {
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        size_t e = j > i && data[j - 1] == '\r' ? j - 1 : j;
        if (e - i > T5_LEXICON_MAX_WORD)
            return t5_errf(err, T5_EFORMAT, "lexicon %s line %d: a word longer than %d bytes", name,
                           line, T5_LEXICON_MAX_WORD);
        for (size_t k = i; k < e; k++) {
            unsigned char c = (unsigned char)data[k];
            if (c <= ' ' || c == 0x7f)
                return t5_errf(err, T5_EFORMAT,
                               "lexicon %s line %d: not one word (byte 0x%02x at column %zu); "
                               "the file holds one word per line",
                               name, line, c, k - i + 1);
        }
        words += e > i;
        i = j + 1;
    }
    if (words == 0)
        return t5_errf(err, T5_EFORMAT, "lexicon %s: no words", name);
    if (words > (1u << 28) || len > UINT32_MAX - 2)
        return t5_errf(err, T5_ELIMIT, "lexicon %s: too many words", name);

    t5_lexicon *lx = calloc(1, sizeof *lx);
    size_t cap = 16;
    while (cap < 2 * words)
        cap *= 2;
    if (lx) {
        lx->cap = cap;
        lx->slots = calloc(cap, sizeof *lx->slots);
        lx->arena = malloc(len + words + 1); /* each word: its bytes and a length byte */
    }
    if (!lx || !lx->slots || !lx->arena) {
        t5_lexicon_free(lx);
        return t5_errf(err, T5_ENOMEM, "lexicon %s: out of memory", name);
    }
    /* Second pass: insert, lower-cased; duplicates are kept once. */
    unsigned char w[T5_LEXICON_MAX_WORD];
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        size_t e = j > i && data[j - 1] == '\r' ? j - 1 : j;
        size_t n = e - i;
        for (size_t k = 0; k < n; k++)
            w[k] = t5_ascii_lower((unsigned char)data[i + k]);
        i = j + 1;
        if (!n)
            continue;
        size_t s = find(lx, w, n);
        if (lx->slots[s])
            continue;
        lx->slots[s] = (uint32_t)(lx->arena_len + 1);
        lx->arena[lx->arena_len] = (unsigned char)n;
        memcpy(lx->arena + lx->arena_len + 1, w, n);
        lx->arena_len += n + 1;
        lx->n++;
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

int t5_lexicon_has(const t5_lexicon *lx, const char *word, size_t len)
{
    unsigned char w[T5_LEXICON_MAX_WORD];
    int letter = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)word[k];
        letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
    }
    if (!letter)
        return 1;
    if (len > T5_LEXICON_MAX_WORD)
        return 0;
    for (size_t k = 0; k < len; k++)
        w[k] = t5_ascii_lower((unsigned char)word[k]);
    return lx->slots[find(lx, w, len)] != 0;
}

int t5_lexicon_accepts(const t5_lexicon *lx, const char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        while (i < len && t5_ascii_space((unsigned char)text[i]))
            i++;
        size_t j = i;
        while (j < len && !t5_ascii_space((unsigned char)text[j]))
            j++;
        if (j > i && !t5_lexicon_has(lx, text + i, j - i))
            return 0;
        i = j;
    }
    return 1;
}

int t5_lexicon_pick(const t5_lexicon *lx, const t5_infer_seq *seqs, int n, float margin)
{
    for (int j = 0; j < n; j++) {
        if (j > 0 && !(seqs[j].score >= seqs[0].score - margin))
            break;
        if (t5_lexicon_accepts(lx, seqs[j].text, seqs[j].text_len))
            return j;
    }
    return 0;
}
