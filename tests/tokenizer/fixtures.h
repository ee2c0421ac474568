/* fixtures.h - reading the gzip'd reference files of tests/tokenizer/data
 * (written by tools/tokenizer/make_fixtures.py). */
#ifndef T5_TEST_TOK_FIXTURES_H
#define T5_TEST_TOK_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifndef T5_TOK_DATA
#define T5_TOK_DATA "tests/tokenizer/data"
#endif

/* The whole decompressed file, NUL-terminated; NULL if missing. */
static char *fx_read(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", T5_TOK_DATA, name);
    gzFile g = gzopen(path, "rb");
    if (!g)
        return NULL;
    size_t n = 0, cap = 1 << 20;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        int r = gzread(g, buf + n, (unsigned)(cap - n));
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    gzclose(g);
    buf[n] = 0;
    *len = n;
    return buf;
}

typedef struct fx_lines {
    char *data;
    char **line;
    size_t n;
} fx_lines;

/* Splits a file into lines (the data is modified in place). */
static int fx_lines_read(fx_lines *L, const char *name)
{
    size_t len;
    L->data = fx_read(name, &len);
    if (!L->data)
        return -1;
    size_t cap = 1024;
    L->line = malloc(cap * sizeof *L->line);
    L->n = 0;
    char *p = L->data, *end = L->data + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        *nl = 0;
        if (L->n == cap) {
            cap *= 2;
            L->line = realloc(L->line, cap * sizeof *L->line);
        }
        L->line[L->n++] = p;
        p = nl + 1;
    }
    return 0;
}

static void fx_lines_free(fx_lines *L)
{
    free(L->data);
    free(L->line);
}

/* Undoes escape() of make_fixtures.py into out; returns the length. */
static size_t fx_unescape(const char *s, char *out)
{
    size_t n = 0;
    while (*s) {
        if (s[0] == '\\' && s[1] == '\\') {
            out[n++] = '\\';
            s += 2;
        } else if (s[0] == '\\' && s[1] == 'x' && s[2] && s[3]) {
            char h[3] = {s[2], s[3], 0};
            out[n++] = (char)strtol(h, NULL, 16);
            s += 4;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = 0;
    return n;
}

/* Parses space-separated ids; returns the count. */
static int fx_ids(const char *s, int32_t *ids, int cap)
{
    int n = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s || *s == '\t')
            break;
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s)
            break;
        if (n < cap)
            ids[n] = (int32_t)v;
        n++;
        s = e;
    }
    return n;
}

#endif
