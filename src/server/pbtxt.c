/* pbtxt.c - protobuf text format into a tree (see pbtxt.h).
 *
 * Grammar (the part config.pbtxt files use):
 *   fields  := { field [',' | ';'] }
 *   field   := NAME ':' value | NAME [':'] ('{' fields '}' | '<' fields '>')
 *            | NAME ':' '[' [value {',' value}] ']'
 *   value   := STRING {STRING} | NUMBER | IDENT | '{' fields '}' | '<' fields '>'
 * Comments run from '#' to the end of the line. Every read is checked
 * against the end of the buffer; depth and node count are bounded.
 */
#include "server/pbtxt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pstate {
    const char *s;
    size_t len, pos;
    int line;
    int nodes;
    t5_err *err;
} pstate;

static int perr(pstate *p, const char *what)
{
    return t5_errf(p->err, T5_EFORMAT, "config.pbtxt line %d: %s", p->line, what);
}

static void skip_ws(pstate *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == '\n') {
            p->line++;
            p->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->len && p->s[p->pos] != '\n')
                p->pos++;
        } else {
            break;
        }
    }
}

static int peek(pstate *p)
{
    skip_ws(p);
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_';
}
static int is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == '.';
}

static void node_free(pb_node *n)
{
    for (int i = 0; i < n->n_kids; i++)
        node_free(&n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->value);
}

void pb_free(pb_node *root)
{
    if (!root)
        return;
    node_free(root);
    free(root);
}

static pb_node *add_kid(pstate *p, pb_node *parent, const char *name, size_t name_len)
{
    if (++p->nodes > PB_MAX_NODES) {
        perr(p, "too many fields");
        return NULL;
    }
    if (parent->n_kids == parent->cap_kids) {
        int cap = parent->cap_kids ? parent->cap_kids * 2 : 4;
        pb_node *k = realloc(parent->kids, (size_t)cap * sizeof *k);
        if (!k) {
            t5_errf(p->err, T5_ENOMEM, "out of memory");
            return NULL;
        }
        parent->kids = k;
        parent->cap_kids = cap;
    }
    pb_node *n = &parent->kids[parent->n_kids];
    memset(n, 0, sizeof *n);
    n->name = strndup(name, name_len);
    if (!n->name) {
        t5_errf(p->err, T5_ENOMEM, "out of memory");
        return NULL;
    }
    n->line = p->line;
    parent->n_kids++;
    return n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One or more adjacent quoted strings, unescaped and concatenated. */
static int parse_string(pstate *p, pb_node *n)
{
    size_t cap = 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return t5_errf(p->err, T5_ENOMEM, "out of memory");
    while (peek(p) == '"' || peek(p) == '\'') {
        char q = p->s[p->pos++];
        for (;;) {
            if (p->pos >= p->len || p->s[p->pos] == '\n') {
                free(buf);
                return perr(p, "unterminated string");
            }
            int c = (unsigned char)p->s[p->pos++];
            if (c == q)
                break;
            if (c == '\\') {
                if (p->pos >= p->len) {
                    free(buf);
                    return perr(p, "unterminated string");
                }
                int e = (unsigned char)p->s[p->pos++];
                switch (e) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'a': c = '\a'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'v': c = '\v'; break;
                case '\\':
                case '\'':
                case '"':
                case '?': c = e; break;
                case 'x': {
                    int v = 0, k = 0;
                    while (k < 2 && p->pos < p->len && hexval((unsigned char)p->s[p->pos]) >= 0)
                        v = v * 16 + hexval((unsigned char)p->s[p->pos++]), k++;
                    if (!k) {
                        free(buf);
                        return perr(p, "bad \\x escape");
                    }
                    c = v;
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', k = 1;
                        while (k < 3 && p->pos < p->len && p->s[p->pos] >= '0' &&
                               p->s[p->pos] <= '7')
                            v = v * 8 + (p->s[p->pos++] - '0'), k++;
                        c = v & 0xff;
                    } else {
                        free(buf);
                        return perr(p, "unknown escape in string");
                    }
                }
            }
            if (len + 1 >= cap) {
                if (cap >= PB_MAX_STRING) {
                    free(buf);
                    return perr(p, "string too long");
                }
                cap *= 2;
                char *nb = realloc(buf, cap);
                if (!nb) {
                    free(buf);
                    return t5_errf(p->err, T5_ENOMEM, "out of memory");
                }
                buf = nb;
            }
            buf[len++] = (char)c;
        }
    }
    buf[len] = '\0';
    n->kind = PB_SCALAR;
    n->is_string = 1;
    n->value = buf;
    n->value_len = len;
    return 0;
}

static int parse_fields(pstate *p, pb_node *msg, int close, int depth);

static int parse_message(pstate *p, pb_node *n, int depth)
{
    int open = p->s[p->pos++];
    n->kind = PB_MESSAGE;
    return parse_fields(p, n, open == '{' ? '}' : '>', depth + 1);
}

/* A number, identifier or signed token: [-+]?[A-Za-z0-9_.+-]* */
static int parse_token(pstate *p, pb_node *n)
{
    size_t start = p->pos;
    if (p->pos < p->len && (p->s[p->pos] == '-' || p->s[p->pos] == '+'))
        p->pos++;
    while (p->pos < p->len) {
        int c = (unsigned char)p->s[p->pos];
        int prev = p->pos > start ? (unsigned char)p->s[p->pos - 1] : 0;
        if (is_ident_char(c) || ((c == '-' || c == '+') && (prev == 'e' || prev == 'E')))
            p->pos++;
        else
            break;
    }
    if (p->pos == start || (p->pos == start + 1 && (p->s[start] == '-' || p->s[start] == '+')))
        return perr(p, "expected a value");
    n->kind = PB_SCALAR;
    n->value = strndup(p->s + start, p->pos - start);
    if (!n->value)
        return t5_errf(p->err, T5_ENOMEM, "out of memory");
    n->value_len = p->pos - start;
    return 0;
}

static int parse_value(pstate *p, pb_node *n, int depth)
{
    int c = peek(p);
    if (c == '{' || c == '<')
        return parse_message(p, n, depth);
    if (c == '"' || c == '\'')
        return parse_string(p, n);
    if (c < 0)
        return perr(p, "unexpected end of file, expected a value");
    return parse_token(p, n);
}

static int parse_fields(pstate *p, pb_node *msg, int close, int depth)
{
    if (depth > PB_MAX_DEPTH)
        return perr(p, "nesting too deep");
    for (;;) {
        int c = peek(p);
        if (c < 0) {
            if (close)
                return perr(p, "unexpected end of file, missing '}'");
            return 0;
        }
        if (c == close) {
            p->pos++;
            return 0;
        }
        if (!is_ident_start(c)) {
            if (c == '[')
                return perr(p, "extension fields ([...]) are not supported");
            return perr(p, "expected a field name");
        }
        size_t start = p->pos;
        while (p->pos < p->len && is_ident_char((unsigned char)p->s[p->pos]))
            p->pos++;
        const char *name = p->s + start;
        size_t name_len = p->pos - start;
        int colon = 0;
        if (peek(p) == ':') {
            colon = 1;
            p->pos++;
        }
        c = peek(p);
        if (c == '[') {
            /* `input [ {...} ]` (no colon) is allowed for message lists. */
            p->pos++;
            if (peek(p) == ']') {
                p->pos++;
            } else {
                for (;;) {
                    pb_node *n = add_kid(p, msg, name, name_len);
                    if (!n)
                        return p->err ? p->err->code : T5_ENOMEM;
                    int rc = parse_value(p, n, depth);
                    if (rc < 0)
                        return rc;
                    c = peek(p);
                    if (c == ',') {
                        p->pos++;
                        continue;
                    }
                    if (c == ']') {
                        p->pos++;
                        break;
                    }
                    return perr(p, "expected ',' or ']' in a list");
                }
            }
        } else {
            if (!colon && c != '{' && c != '<')
                return perr(p, "expected ':' or '{' after a field name");
            pb_node *n = add_kid(p, msg, name, name_len);
            if (!n)
                return p->err ? p->err->code : T5_ENOMEM;
            int rc = parse_value(p, n, depth);
            if (rc < 0)
                return rc;
        }
        c = peek(p);
        if (c == ',' || c == ';')
            p->pos++;
    }
}

int pb_parse(const char *text, size_t len, pb_node **root, t5_err *err)
{
    *root = NULL;
    pb_node *r = calloc(1, sizeof *r);
    if (!r)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    r->kind = PB_MESSAGE;
    t5_err local = {0};
    pstate p = {text, len, 0, 1, 0, err ? err : &local};
    int rc = parse_fields(&p, r, 0, 0);
    if (rc < 0) {
        pb_free(r);
        return rc;
    }
    *root = r;
    return 0;
}

const pb_node *pb_child(const pb_node *n, const char *name, int idx)
{
    if (!n || n->kind != PB_MESSAGE)
        return NULL;
    for (int i = 0; i < n->n_kids; i++)
        if (!strcmp(n->kids[i].name, name) && idx-- == 0)
            return &n->kids[i];
    return NULL;
}

int pb_count(const pb_node *n, const char *name)
{
    int k = 0;
    if (n && n->kind == PB_MESSAGE)
        for (int i = 0; i < n->n_kids; i++)
            k += !strcmp(n->kids[i].name, name);
    return k;
}

int pb_int(const pb_node *n, int64_t lo, int64_t hi, int64_t *out, t5_err *err)
{
    if (n->kind != PB_SCALAR)
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s must be a number", n->line,
                       n->name);
    char *end;
    errno = 0;
    long long v = strtoll(n->value, &end, 0);
    if (errno || end == n->value || *end != '\0')
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s: '%.64s' is not an integer",
                       n->line, n->name, n->value);
    if (v < lo || v > hi)
        return t5_errf(err, T5_EFORMAT,
                       "config.pbtxt line %d: %s: %lld is out of range [%lld, %lld]", n->line,
                       n->name, v, (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

int pb_bool(const pb_node *n, int *out, t5_err *err)
{
    if (n->kind == PB_SCALAR && !n->is_string) {
        if (!strcmp(n->value, "true") || !strcmp(n->value, "True") || !strcmp(n->value, "1")) {
            *out = 1;
            return 0;
        }
        if (!strcmp(n->value, "false") || !strcmp(n->value, "False") || !strcmp(n->value, "0")) {
            *out = 0;
            return 0;
        }
    }
    return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s must be true or false", n->line,
                   n->name);
}

int pb_double(const pb_node *n, double *out, t5_err *err)
{
    if (n->kind == PB_SCALAR) {
        char *end;
        errno = 0;
        double v = strtod(n->value, &end);
        if (!errno && end != n->value && *end == '\0' && isfinite(v)) {
            *out = v;
            return 0;
        }
    }
    return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s must be a number", n->line, n->name);
}
