/* trie.c - a double-array trie over byte strings.
 *
 * The Viterbi search asks, at every character position, "which pieces start
 * here?". A double array answers that with one array probe per byte, with
 * no hashing and no pointer chasing: state s goes to u = base[s] + c when
 * check[u] == s. The build sorts the keys and places each node's children at
 * the first base where all their slots are free (the classic first-fit).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

typedef struct skey {
    const unsigned char *s;
    uint32_t len;
    int32_t value;
    uint32_t idx;
} skey;

typedef struct builder {
    t5__trie *t;
    size_t cap;
    uint8_t *used;
    size_t first_free;
    const skey *k;
} builder;

static int cmp_skey(const void *a, const void *b)
{
    const skey *x = a, *y = b;
    uint32_t m = x->len < y->len ? x->len : y->len;
    int c = m ? memcmp(x->s, y->s, m) : 0;
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int grow(builder *B, size_t need)
{
    if (need <= B->cap)
        return 0;
    size_t cap = B->cap ? B->cap : 1024;
    while (cap < need)
        cap *= 2;
    if (cap > (size_t)INT32_MAX)
        return -1;
    t5__trie *t = B->t;
    int32_t *base = realloc(t->base, cap * sizeof *base);
    if (!base)
        return -1;
    t->base = base;
    int32_t *check = realloc(t->check, cap * sizeof *check);
    if (!check)
        return -1;
    t->check = check;
    int32_t *value = realloc(t->value, cap * sizeof *value);
    if (!value)
        return -1;
    t->value = value;
    uint8_t *used = realloc(B->used, cap);
    if (!used)
        return -1;
    B->used = used;
    for (size_t i = B->cap; i < cap; i++) {
        base[i] = 0;
        check[i] = -1;
        value[i] = -1;
        used[i] = 0;
    }
    B->cap = cap;
    return 0;
}

/* One node: keys [lo, hi) share their first depth bytes. */
typedef struct task {
    size_t lo, hi;
    uint32_t depth;
    int32_t node;
} task;

/* Places every node, depth first, with an explicit stack: a key may be
 * thousands of bytes long (tokenizer.json comes from outside), which would
 * overflow the C stack if each byte were a recursive call. */
static int build_all(builder *B, size_t m)
{
    size_t cap = 256, top = 0;
    task *st = malloc(cap * sizeof *st);
    if (!st)
        return -1;
    st[top++] = (task){0, m, 0, 0};
    const skey *k = B->k;
    while (top) {
        task t = st[--top];
        size_t i = t.lo;
        /* Keys ending here: all equal, sorted by insertion order; the last wins. */
        while (i < t.hi && k[i].len == t.depth) {
            B->t->value[t.node] = k[i].value;
            i++;
        }
        if (i >= t.hi)
            continue;
        unsigned char labels[256];
        size_t starts[257];
        int nl = 0;
        while (i < t.hi) {
            unsigned char c = k[i].s[t.depth];
            labels[nl] = c;
            starts[nl] = i;
            while (i < t.hi && k[i].s[t.depth] == c)
                i++;
            nl++;
        }
        starts[nl] = t.hi;

        size_t pos = B->first_free;
        if (pos < (size_t)labels[0] + 1)
            pos = (size_t)labels[0] + 1;
        size_t b;
        for (;; pos++) {
            if (grow(B, pos + 257) < 0) {
                free(st);
                return -1;
            }
            if (B->used[pos])
                continue;
            b = pos - labels[0];
            int ok = 1;
            for (int j = 1; j < nl; j++)
                if (B->used[b + labels[j]]) {
                    ok = 0;
                    break;
                }
            if (ok)
                break;
        }
        B->t->base[t.node] = (int32_t)b;
        for (int j = 0; j < nl; j++) {
            B->used[b + labels[j]] = 1;
            B->t->check[b + labels[j]] = t.node;
        }
        while (B->first_free < B->cap && B->used[B->first_free])
            B->first_free++;
        if (top + (size_t)nl > cap) {
            while (top + (size_t)nl > cap)
                cap *= 2;
            task *ns = realloc(st, cap * sizeof *ns);
            if (!ns) {
                free(st);
                return -1;
            }
            st = ns;
        }
        for (int j = nl - 1; j >= 0; j--)
            st[top++] = (task){starts[j], starts[j + 1], t.depth + 1, (int32_t)(b + labels[j])};
    }
    free(st);
    return 0;
}

int t5__trie_build(t5__trie *t, const t5__trie_key *keys, size_t n)
{
    memset(t, 0, sizeof *t);
    skey *k = malloc((n ? n : 1) * sizeof *k);
    if (!k)
        return T5_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].len == 0)
            continue; /* the empty string is never a piece */
        k[m].s = (const unsigned char *)keys[i].s;
        k[m].len = keys[i].len;
        k[m].value = keys[i].value;
        k[m].idx = (uint32_t)i;
        m++;
    }
    qsort(k, m, sizeof *k, cmp_skey);
    builder B = {.t = t, .k = k, .first_free = 1};
    int rc = grow(&B, 1024);
    if (rc == 0) {
        B.used[0] = 1;
        t->check[0] = -2; /* the root has no parent */
        rc = build_all(&B, m);
    }
    free(k);
    free(B.used);
    if (rc < 0) {
        t5__trie_free(t);
        return T5_ENOMEM;
    }
    /* Trim to the last used slot plus room for any base + 255. */
    size_t last = 0;
    for (size_t i = 0; i < B.cap; i++)
        if (t->check[i] != -1)
            last = i;
    t->size = last + 1;
    return 0;
}

void t5__trie_free(t5__trie *t)
{
    free(t->base);
    free(t->check);
    free(t->value);
    memset(t, 0, sizeof *t);
}

size_t t5__trie_longest(const t5__trie *t, const char *s, size_t n, int32_t *value)
{
    size_t best = 0;
    if (!t->size)
        return 0;
    int32_t st = 0;
    for (size_t i = 0; i < n; i++) {
        st = t5__trie_step(t, st, (unsigned char)s[i]);
        if (st < 0)
            break;
        if (t->value[st] >= 0) {
            best = i + 1;
            *value = t->value[st];
        }
    }
    return best;
}
