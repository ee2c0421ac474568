/* util.h - small helpers of the server: a growable byte buffer, UTF-8
 * validation, strict number conversion from JSON. */
#ifndef T5_SERVER_UTIL_H
#define T5_SERVER_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct t5_buf {
    char *p;
    size_t len, cap;
    int oom; /* an append failed; the content is incomplete */
} t5_buf;

int t5_buf_reserve(t5_buf *b, size_t extra);
int t5_buf_append(t5_buf *b, const void *data, size_t n);
int t5_buf_printf(t5_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void t5_buf_free(t5_buf *b);

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or values
 * above U+10FFFF), else 0. */
int t5_utf8_valid(const char *s, size_t n);

/* A JSON number that is an integer in [lo, hi]: 0, else -1. Booleans are
 * not numbers. */
int t5_json_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *out);

/* ASCII white space (what separates words in the lexicon and the word map)
 * and ASCII case; other bytes, UTF-8 included, are left as they are. */
static inline int t5_ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline unsigned char t5_ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static inline unsigned char t5_ascii_upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

/* The next word of text [len] (a run of bytes between ASCII white space) at
 * or after *i: its start in *i, its end returned (== *i when none is left).
 *     for (size_t i = 0, j; (j = t5_next_word(t, n, &i)) > i; i = j) ... word [i, j) ... */
static inline size_t t5_next_word(const char *text, size_t len, size_t *i)
{
    while (*i < len && t5_ascii_space((unsigned char)text[*i]))
        (*i)++;
    size_t j = *i;
    while (j < len && !t5_ascii_space((unsigned char)text[j]))
        j++;
    return j;
}

/* Whether the request's client went away: peeks at the socket (EOF or a
 * reset means gone). */
int t5_socket_closed(int fd);

#endif
