/* regex.c - the small regular-expression subset tokenizer.json files use.
 *
 * The tokenizers library compiles Replace and Split patterns with Oniguruma
 * (Perl semantics: leftmost match, alternatives tried in order, greedy
 * quantifiers). T5-family files use patterns such as " {2,}", "\A +| +\z",
 * "\A\u2581" and alternations of escaped literals, so this engine supports:
 * literals, '.', classes [..] with ranges and \s \d \w, escapes, anchors
 * \A \z ^ $, groups (...) and (?:...), alternation, and the greedy
 * quantifiers * + ? {n} {n,} {n,m}. Anything else is refused at load time
 * (T5_EUNSUP) rather than matched differently.
 *
 * Matching backtracks with explicit continuations. A quantified single
 * character runs as a loop (no recursion per repetition), so long runs of
 * spaces cost no stack; a step budget bounds pathological patterns.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

enum { R_CHAR, R_ANY, R_CLASS, R_BOT, R_EOT, R_GROUP, R_REPEAT };

typedef struct rnode rnode;
struct rnode {
    int type;
    uint32_t cp;      /* R_CHAR */
    uint32_t *ranges; /* R_CLASS: pairs lo,hi */
    int nranges;
    bool negate;
    rnode **alts; /* R_GROUP: sequences */
    int nalts;
    rnode *child; /* R_REPEAT */
    int min, max; /* max < 0: unbounded */
    rnode *next;
};

struct t5__re {
    rnode *root;                  /* an R_GROUP */
    int run_cp, run_min, run_max; /* the pattern is just "c{min,max}": scanned directly */
    rnode **all;                  /* every node, for freeing */
    int nall, capall;
};

typedef struct parser {
    const char *p, *end;
    t5__re *re;
    int depth;
} parser;

static rnode *new_node(parser *P, int type)
{
    t5__re *re = P->re;
    if (re->nall == re->capall) {
        int cap = re->capall ? re->capall * 2 : 16;
        rnode **a = realloc(re->all, (size_t)cap * sizeof *a);
        if (!a)
            return NULL;
        re->all = a;
        re->capall = cap;
    }
    rnode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    re->all[re->nall++] = n;
    return n;
}

static int add_range(rnode *n, uint32_t lo, uint32_t hi)
{
    uint32_t *r = realloc(n->ranges, (size_t)(n->nranges + 1) * 2 * sizeof *r);
    if (!r)
        return -1;
    n->ranges = r;
    r[2 * n->nranges] = lo;
    r[2 * n->nranges + 1] = hi;
    n->nranges++;
    return 0;
}

static const uint32_t WS_RANGES[] = {0x09,   0x0D,   0x20,   0x20,   0x85,   0x85,   0xA0,
                                     0xA0,   0x1680, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029,
                                     0x202F, 0x202F, 0x205F, 0x205F, 0x3000, 0x3000};
static const uint32_t DIGIT_RANGES[] = {'0', '9'};
static const uint32_t WORD_RANGES[] = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};

static int add_ranges(rnode *n, const uint32_t *r, size_t count)
{
    for (size_t i = 0; i < count; i += 2)
        if (add_range(n, r[i], r[i + 1]) < 0)
            return -1;
    return 0;
}

static int next_cp(parser *P, uint32_t *cp)
{
    int l = t5__utf8_next((const unsigned char *)P->p, (size_t)(P->end - P->p), cp);
    if (l <= 0)
        return -1;
    P->p += l;
    return 0;
}

/* Parses an escape after '\'. Returns 0 for a literal in *cp, 1 if it filled
 * class ranges into cls (\s \d \w and negations set *neg), 2 for \A, 3 for \z,
 * -1 on error, -2 unsupported. */
static int parse_escape(parser *P, uint32_t *cp, rnode *cls, bool *neg)
{
    if (P->p >= P->end)
        return -1;
    char c = *P->p++;
    switch (c) {
    case 'A': return 2;
    case 'z':
    case 'Z': return 3;
    case 'n': *cp = '\n'; return 0;
    case 't': *cp = '\t'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 'f': *cp = '\f'; return 0;
    case 'v': *cp = '\v'; return 0;
    case 's':
    case 'S':
    case 'd':
    case 'D':
    case 'w':
    case 'W':
        if (!cls)
            return -2;
        *neg = c == 'S' || c == 'D' || c == 'W';
        if (c == 's' || c == 'S')
            return add_ranges(cls, WS_RANGES, sizeof WS_RANGES / 4) < 0 ? -1 : 1;
        if (c == 'd' || c == 'D')
            return add_ranges(cls, DIGIT_RANGES, 2) < 0 ? -1 : 1;
        return add_ranges(cls, WORD_RANGES, 8) < 0 ? -1 : 1;
    case 'x': {
        uint32_t v = 0;
        for (int i = 0; i < 2; i++) {
            if (P->p >= P->end)
                return -1;
            char h = *P->p++;
            int d = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
            if (d < 0)
                return -1;
            v = v * 16 + (uint32_t)d;
        }
        *cp = v;
        return 0;
    }
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            return -2; /* \b, \p{..}, backreferences ...: not supported */
        P->p--;
        return next_cp(P, cp) < 0 ? -1 : 0;
    }
}

static rnode *parse_alt(parser *P);

static rnode *parse_class(parser *P)
{
    rnode *n = new_node(P, R_CLASS);
    if (!n)
        return NULL;
    if (P->p < P->end && *P->p == '^') {
        n->negate = true;
        P->p++;
    }
    bool first = true;
    while (P->p < P->end && (*P->p != ']' || first)) {
        first = false;
        uint32_t lo;
        if (*P->p == '\\') {
            P->p++;
            bool neg = false;
            int e = parse_escape(P, &lo, n, &neg);
            if (e == 1 && !neg)
                continue;
            if (e != 0)
                return NULL;
        } else if (*P->p == '[') {
            return NULL; /* nested classes / POSIX classes */
        } else if (next_cp(P, &lo) < 0) {
            return NULL;
        }
        uint32_t hi = lo;
        if (P->p + 1 < P->end && *P->p == '-' && P->p[1] != ']') {
            P->p++;
            if (*P->p == '\\') {
                P->p++;
                bool neg;
                if (parse_escape(P, &hi, NULL, &neg) != 0)
                    return NULL;
            } else if (next_cp(P, &hi) < 0) {
                return NULL;
            }
            if (hi < lo)
                return NULL;
        }
        if (add_range(n, lo, hi) < 0)
            return NULL;
    }
    if (P->p >= P->end)
        return NULL;
    P->p++; /* ']' */
    return n;
}

static int parse_int(parser *P, int *v)
{
    if (P->p >= P->end || *P->p < '0' || *P->p > '9')
        return -1;
    long x = 0;
    while (P->p < P->end && *P->p >= '0' && *P->p <= '9') {
        x = x * 10 + (*P->p++ - '0');
        if (x > 100000)
            return -1;
    }
    *v = (int)x;
    return 0;
}

static rnode *parse_atom(parser *P)
{
    char c = *P->p;
    rnode *n;
    if (c == '(') {
        P->p++;
        if (P->p + 1 < P->end && P->p[0] == '?') {
            if (P->p[1] != ':')
                return NULL; /* lookaround, named groups, flags */
            P->p += 2;
        }
        if (++P->depth > 50)
            return NULL;
        n = parse_alt(P);
        P->depth--;
        if (!n || P->p >= P->end || *P->p != ')')
            return NULL;
        P->p++;
        return n;
    }
    if (c == '[') {
        P->p++;
        return parse_class(P);
    }
    if (c == '.') {
        P->p++;
        return new_node(P, R_ANY);
    }
    if (c == '^' || c == '$') {
        /* Single-line input: ^ and $ behave as \A and \z here. Oniguruma's
         * $ also matches before a final newline; no T5 pattern relies on it. */
        P->p++;
        return new_node(P, c == '^' ? R_BOT : R_EOT);
    }
    if (c == '\\') {
        P->p++;
        rnode *cls = new_node(P, R_CLASS);
        if (!cls)
            return NULL;
        uint32_t cp;
        bool neg = false;
        int e = parse_escape(P, &cp, cls, &neg);
        if (e == 1) {
            cls->negate = neg;
            return cls;
        }
        if (e == 2 || e == 3) {
            cls->type = e == 2 ? R_BOT : R_EOT;
            return cls;
        }
        if (e != 0)
            return NULL;
        cls->type = R_CHAR;
        cls->cp = cp;
        return cls;
    }
    if (c == '*' || c == '+' || c == '?' || c == '{' || c == ')' || c == '|')
        return NULL;
    n = new_node(P, R_CHAR);
    if (!n || next_cp(P, &n->cp) < 0)
        return NULL;
    return n;
}

/* A sequence up to '|' or ')' or the end; returns its first node, or an
 * empty-sequence marker (a group with zero alternatives never occurs: an
 * empty sequence is represented by NULL in *first with success). */
static int parse_seq(parser *P, rnode **first)
{
    rnode *head = NULL, *tail = NULL;
    while (P->p < P->end && *P->p != '|' && *P->p != ')') {
        rnode *a = parse_atom(P);
        if (!a)
            return -1;
        if (P->p < P->end && (*P->p == '*' || *P->p == '+' || *P->p == '?' || *P->p == '{')) {
            int mn, mx;
            char q = *P->p++;
            if (q == '*') {
                mn = 0;
                mx = -1;
            } else if (q == '+') {
                mn = 1;
                mx = -1;
            } else if (q == '?') {
                mn = 0;
                mx = 1;
            } else {
                if (parse_int(P, &mn) < 0)
                    return -1;
                mx = mn;
                if (P->p < P->end && *P->p == ',') {
                    P->p++;
                    mx = -1;
                    if (P->p < P->end && *P->p != '}' && parse_int(P, &mx) < 0)
                        return -1;
                }
                if (P->p >= P->end || *P->p != '}' || (mx >= 0 && mx < mn))
                    return -1;
                P->p++;
            }
            if (P->p < P->end && (*P->p == '?' || *P->p == '+'))
                return -1; /* lazy / possessive */
            if (a->type == R_BOT || a->type == R_EOT)
                return -1;
            rnode *r = new_node(P, R_REPEAT);
            if (!r)
                return -1;
            r->child = a;
            r->min = mn;
            r->max = mx;
            a = r;
        }
        if (tail)
            tail->next = a;
        else
            head = a;
        tail = a;
    }
    *first = head;
    return 0;
}

static rnode *parse_alt(parser *P)
{
    rnode *g = new_node(P, R_GROUP);
    if (!g)
        return NULL;
    for (;;) {
        rnode *seq;
        if (parse_seq(P, &seq) < 0)
            return NULL;
        rnode **a = realloc(g->alts, (size_t)(g->nalts + 1) * sizeof *a);
        if (!a)
            return NULL;
        g->alts = a;
        g->alts[g->nalts++] = seq;
        if (P->p < P->end && *P->p == '|') {
            P->p++;
            continue;
        }
        return g;
    }
}

void t5__re_free(t5__re *re)
{
    if (!re)
        return;
    for (int i = 0; i < re->nall; i++) {
        free(re->all[i]->ranges);
        free(re->all[i]->alts);
        free(re->all[i]);
    }
    free(re->all);
    free(re);
}

int t5__re_compile(t5__re **out, const char *pattern, t5_err *err)
{
    *out = NULL;
    t5__re *re = calloc(1, sizeof *re);
    if (!re)
        return t5_errf(err, T5_ENOMEM, "regex: out of memory");
    parser P = {pattern, pattern + strlen(pattern), re, 0};
    re->root = parse_alt(&P);
    if (!re->root || P.p != P.end) {
        t5__re_free(re);
        return t5_errf(err, T5_EUNSUP, "regex \"%.100s\": unsupported or malformed pattern",
                       pattern);
    }
    /* The common " {2,}" shape gets a direct scan (run_cp < 0: general). */
    re->run_cp = -1;
    const rnode *a0 = re->root->nalts == 1 ? re->root->alts[0] : NULL;
    if (a0 && a0->type == R_REPEAT && !a0->next && a0->min >= 1 && a0->child->type == R_CHAR &&
        a0->child->cp < 0x80) {
        re->run_cp = (int)a0->child->cp;
        re->run_min = a0->min;
        re->run_max = a0->max;
    }
    *out = re;
    return 0;
}

/* ---- matching --------------------------------------------------------------- */

typedef struct kont {
    const rnode *node;
    int count;    /* repeat frames: iterations so far */
    size_t start; /* repeat frames: where this iteration began */
    bool rep;
    const struct kont *next;
} kont;

typedef struct mctx {
    const unsigned char *s;
    size_t n;
    size_t end;
    long budget;
    int depth;
} mctx;

static bool m_node(mctx *M, const rnode *nd, size_t pos, const kont *k);
static bool m_rep(mctx *M, const rnode *nd, int count, size_t pos, size_t prev, const kont *after);

static bool run_kont(mctx *M, const kont *k, size_t pos)
{
    if (!k) {
        M->end = pos;
        return true;
    }
    if (k->rep)
        return m_rep(M, k->node, k->count, pos, k->start, k->next);
    return m_node(M, k->node, pos, k->next);
}

/* Length of the character at pos if it matches a single-character node, else 0. */
static size_t m_char(const mctx *M, const rnode *nd, size_t pos)
{
    if (pos >= M->n)
        return 0;
    uint32_t cp;
    int l = t5__utf8_next(M->s + pos, M->n - pos, &cp);
    if (l <= 0)
        return 0;
    switch (nd->type) {
    case R_CHAR: return cp == nd->cp ? (size_t)l : 0;
    case R_ANY: return cp != '\n' ? (size_t)l : 0;
    default: {
        bool in = false;
        for (int i = 0; i < nd->nranges && !in; i++)
            in = cp >= nd->ranges[2 * i] && cp <= nd->ranges[2 * i + 1];
        return in != nd->negate ? (size_t)l : 0;
    }
    }
}

static bool m_node(mctx *M, const rnode *nd, size_t pos, const kont *k)
{
    for (;;) {
        if (--M->budget < 0)
            return false;
        if (!nd)
            return run_kont(M, k, pos);
        switch (nd->type) {
        case R_CHAR:
        case R_ANY:
        case R_CLASS: {
            size_t l = m_char(M, nd, pos);
            if (!l)
                return false;
            pos += l;
            nd = nd->next;
            continue;
        }
        case R_BOT:
            if (pos != 0)
                return false;
            nd = nd->next;
            continue;
        case R_EOT:
            if (pos != M->n)
                return false;
            nd = nd->next;
            continue;
        case R_GROUP: {
            if (++M->depth > 2000) {
                M->budget = -1;
                return false;
            }
            kont k2 = {nd->next, 0, 0, false, k};
            for (int i = 0; i < nd->nalts; i++)
                if (m_node(M, nd->alts[i], pos, &k2)) {
                    M->depth--;
                    return true;
                }
            M->depth--;
            return false;
        }
        case R_REPEAT: {
            const rnode *c = nd->child;
            if (c->type == R_CHAR || c->type == R_ANY || c->type == R_CLASS) {
                /* Greedy loop: take as many as allowed, then give back. */
                size_t p = pos;
                int cnt = 0;
                while (nd->max < 0 || cnt < nd->max) {
                    size_t l = m_char(M, c, p);
                    if (!l)
                        break;
                    p += l;
                    cnt++;
                }
                for (; cnt >= nd->min; cnt--) {
                    if (m_node(M, nd->next, p, k))
                        return true;
                    if (cnt == 0 || M->budget < 0)
                        break;
                    do /* back one character */
                        p--;
                    while (p > pos && (M->s[p] & 0xC0) == 0x80);
                }
                return false;
            }
            kont after = {nd->next, 0, 0, false, k};
            return m_rep(M, nd, 0, pos, (size_t)-1, &after);
        }
        default: return false;
        }
    }
}

static bool m_rep(mctx *M, const rnode *nd, int count, size_t pos, size_t prev, const kont *after)
{
    if (++M->depth > 2000) {
        M->budget = -1;
        return false;
    }
    bool ok = false;
    if ((nd->max < 0 || count < nd->max) && pos != prev) {
        kont kr = {nd, count + 1, pos, true, after};
        ok = m_node(M, nd->child, pos, &kr);
    }
    if (!ok && count >= nd->min && M->budget >= 0)
        ok = run_kont(M, after, pos);
    M->depth--;
    return ok;
}

int t5__re_find(const t5__re *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me)
{
    if (re->run_cp >= 0) {
        /* Leftmost run of at least run_min, greedy up to run_max. */
        size_t pos = from;
        while (pos < n) {
            const char *q = memchr(s + pos, re->run_cp, n - pos);
            if (!q)
                return 0;
            size_t a = (size_t)(q - s), b = a;
            while (b < n && s[b] == (char)re->run_cp &&
                   (re->run_max < 0 || (long)(b - a) < re->run_max))
                b++;
            if ((long)(b - a) >= re->run_min) {
                *ms = a;
                *me = b;
                return 1;
            }
            pos = b;
        }
        return 0;
    }
    mctx M = {(const unsigned char *)s, n, 0, 1000000, 0};
    /* A pattern that must start with one literal character is scanned for it. */
    const rnode *r = re->root;
    int lead = -1;
    if (r->nalts == 1 && r->alts[0]) {
        const rnode *f = r->alts[0];
        if (f->type == R_REPEAT && f->min >= 1)
            f = f->child;
        if (f->type == R_CHAR && f->cp < 0x80)
            lead = (int)f->cp;
    }
    for (size_t pos = from; pos <= n;) {
        if (lead >= 0) {
            const char *q = pos < n ? memchr(s + pos, lead, n - pos) : NULL;
            if (!q)
                return 0;
            pos = (size_t)(q - s);
        }
        M.depth = 0;
        M.budget = 100000; /* per start position, so long inputs are not cut short */
        if (m_node(&M, r, pos, NULL)) {
            *ms = pos;
            *me = M.end;
            return 1;
        }
        if (pos == n)
            break;
        pos++;
        while (pos < n && (M.s[pos] & 0xC0) == 0x80)
            pos++;
    }
    return 0;
}
