/* rcache.c - LRU response cache (see rcache.h).
 *
 * A chained hash table whose bucket count doubles as entries grow, and a
 * doubly linked recency list. One mutex guards everything: a lookup is a
 * hash, a memcmp and a copy, far shorter than any request it saves, so a
 * finer scheme would buy nothing measurable.
 */
#include "sched/rcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "t5_common.h"

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* recency list, most recent at head */
    uint64_t hash;
    size_t klen, vlen;
    unsigned char data[]; /* key bytes, then value bytes */
} entry;

struct t5_rcache {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets; /* power of two */
    entry *head, *tail;
    t5_rcache_stats st;
};

#define ENTRY_OVERHEAD (sizeof(entry) + sizeof(entry *))

static size_t entry_cost(size_t klen, size_t vlen)
{
    return ENTRY_OVERHEAD + klen + vlen;
}

uint64_t t5_rcache_hash(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    if (h == 0)
        h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int t5_rcache_create(t5_rcache **out, size_t max_bytes)
{
    *out = NULL;
    if (max_bytes == 0)
        return T5_EINVAL;
    t5_rcache *c = calloc(1, sizeof *c);
    if (!c)
        return T5_ENOMEM;
    c->nbuckets = 256;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return T5_ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->st.max_bytes = max_bytes;
    *out = c;
    return T5_OK;
}

void t5_rcache_free(t5_rcache *c)
{
    if (!c)
        return;
    for (entry *e = c->head; e;) {
        entry *n = e->next;
        free(e);
        e = n;
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void list_unlink(t5_rcache *c, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(t5_rcache *c, entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static entry **find_slot(t5_rcache *c, uint64_t h, const void *key, size_t klen)
{
    entry **pp = &c->buckets[h & (c->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        entry *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            break;
    }
    return pp;
}

static void remove_entry(t5_rcache *c, entry *e)
{
    entry **pp = find_slot(c, e->hash, e->data, e->klen);
    *pp = e->hnext;
    list_unlink(c, e);
    c->st.entries--;
    c->st.bytes -= entry_cost(e->klen, e->vlen);
    free(e);
}

/* Doubling keeps chains short; failure to grow is harmless (longer chains). */
static void maybe_grow(t5_rcache *c)
{
    if (c->st.entries < c->nbuckets)
        return;
    size_t nb = c->nbuckets * 2;
    entry **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (entry *e = c->buckets[i]; e;) {
            entry *n = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = nb;
}

int t5_rcache_get(t5_rcache *c, const void *key, size_t klen, void **val, size_t *vlen)
{
    uint64_t h = t5_rcache_hash(key, klen, 0);
    *val = NULL;
    *vlen = 0;
    pthread_mutex_lock(&c->mu);
    entry *e = *find_slot(c, h, key, klen);
    if (!e) {
        c->st.misses++;
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    void *copy = malloc(e->vlen ? e->vlen : 1);
    if (!copy) {
        pthread_mutex_unlock(&c->mu);
        return T5_ENOMEM;
    }
    memcpy(copy, e->data + e->klen, e->vlen);
    *vlen = e->vlen;
    list_unlink(c, e);
    list_push_front(c, e);
    c->st.hits++;
    pthread_mutex_unlock(&c->mu);
    *val = copy;
    return 1;
}

int t5_rcache_put(t5_rcache *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    size_t cost = entry_cost(klen, vlen);
    if (cost > c->st.max_bytes)
        return 0;
    entry *n = malloc(sizeof *n + klen + vlen);
    if (!n)
        return T5_ENOMEM;
    n->hash = t5_rcache_hash(key, klen, 0);
    n->klen = klen;
    n->vlen = vlen;
    memcpy(n->data, key, klen);
    memcpy(n->data + klen, val, vlen);

    pthread_mutex_lock(&c->mu);
    entry *old = *find_slot(c, n->hash, key, klen);
    if (old)
        remove_entry(c, old);
    while (c->tail && c->st.bytes + cost > c->st.max_bytes) {
        remove_entry(c, c->tail);
        c->st.evictions++;
    }
    maybe_grow(c);
    entry **slot = &c->buckets[n->hash & (c->nbuckets - 1)];
    n->hnext = *slot;
    *slot = n;
    list_push_front(c, n);
    c->st.entries++;
    c->st.bytes += cost;
    c->st.inserts++;
    pthread_mutex_unlock(&c->mu);
    return 1;
}

void t5_rcache_stats_get(t5_rcache *c, t5_rcache_stats *st)
{
    pthread_mutex_lock(&c->mu);
    *st = c->st;
    pthread_mutex_unlock(&c->mu);
}
