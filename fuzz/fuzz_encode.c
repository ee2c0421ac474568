/* fuzz_encode.c - encode and decode arbitrary text with the fixture
 * tokenizers. The first byte picks the tokenizer and flags; the rest is the
 * text (invalid UTF-8 is also retried with bad bytes replaced, so the
 * fuzzer reaches the encoders). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "t5_tokenizer.h"

#ifndef T5_SOURCE_DIR
#define T5_SOURCE_DIR "."
#endif

static t5_tokenizer *load(const char *name, const char *kind)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/tokenizer/data/%s", T5_SOURCE_DIR, name);
    gzFile g = gzopen(path, "rb");
    if (!g)
        return NULL;
    size_t n = 0, cap = 1 << 20;
    char *buf = malloc(cap);
    int r;
    while (buf && (r = gzread(g, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    gzclose(g);
    t5_tokenizer *tok = NULL;
    if (buf)
        t5_tokenizer_load_mem(&tok, kind, buf, n, NULL);
    free(buf);
    return tok;
}

static t5_tokenizer *toks[9];

static void init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    const char *names[8][2] = {{"nfkc.model.gz", "spiece"},   {"nfkc.json.gz", "json"},
                               {"bytefb.model.gz", "spiece"}, {"bytefb.json.gz", "json"},
                               {"ident.model.gz", "spiece"},  {"ident.json.gz", "json"},
                               {"uds.model.gz", "spiece"},    {"uds.json.gz", "json"}};
    for (int i = 0; i < 8; i++)
        toks[i] = load(names[i][0], names[i][1]);
    t5_tokenizer_byt5(&toks[8], 125, NULL);
}

static void run(const t5_tokenizer *tok, const char *s, size_t n, int flags)
{
    int32_t small[64];
    int total = t5_tokenizer_encode(tok, s, n, small, 64, flags, NULL);
    if (total < 0)
        return;
    int32_t *ids = small;
    if (total > 64) {
        ids = malloc((size_t)total * sizeof *ids);
        if (!ids || t5_tokenizer_encode(tok, s, n, ids, total, flags, NULL) != total) {
            free(ids);
            return;
        }
    }
    char out[256];
    int len =
        t5_tokenizer_decode(tok, ids, total, out, sizeof out, flags & T5_TOK_SKIP_SPECIAL, NULL);
    if (len >= (int)sizeof out) {
        char *big = malloc((size_t)len + 1);
        if (big)
            t5_tokenizer_decode(tok, ids, total, big, (size_t)len + 1, flags & T5_TOK_SKIP_SPECIAL,
                                NULL);
        free(big);
    }
    if (ids != small)
        free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1)
        return 0;
    const t5_tokenizer *tok = toks[data[0] % 9];
    int flags = (data[0] / 9) & 3;
    if (!tok)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    run(tok, s, n, flags);
    char *fixed = malloc(n ? n : 1);
    if (!fixed)
        return 0;
    memcpy(fixed, s, n);
    /* Replace each byte that does not start a well-formed sequence. */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)fixed[i];
        size_t l = c < 0x80                ? 1
                   : c >= 0xC2 && c < 0xE0 ? 2
                   : c >= 0xE0 && c < 0xF0 ? 3
                   : c >= 0xF0 && c < 0xF5 ? 4
                                           : 0;
        int ok = l && i + l <= n;
        for (size_t k = 1; ok && k < l; k++)
            ok = ((unsigned char)fixed[i + k] & 0xC0) == 0x80;
        if (ok && l == 3) {
            unsigned v = ((c & 0x0Fu) << 12) | (((unsigned char)fixed[i + 1] & 0x3Fu) << 6);
            ok = v >= 0x800 && !(v >= 0xD800 && v <= 0xDFFF);
        }
        if (ok && l == 4) {
            unsigned v = ((c & 0x07u) << 18) | (((unsigned char)fixed[i + 1] & 0x3Fu) << 12);
            ok = v >= 0x10000 && v <= 0x10FFFF;
        }
        if (!ok) {
            fixed[i++] = '?';
            continue;
        }
        i += l;
    }
    run(tok, fixed, n, flags);
    free(fixed);
    return 0;
}
