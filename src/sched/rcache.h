/* rcache.h - the response cache: an LRU map from request keys to responses,
 * bounded in bytes, safe to use from many threads (Triton's "local" cache).
 *
 * Keys are opaque bytes that the caller builds from everything that decides
 * the response (model, version, input, generation parameters); values are
 * opaque serialized responses. Requests that sample without a seed must not
 * be cached; that is the caller's decision.
 *
 *     t5_rcache *c;
 *     t5_rcache_create(&c, 64 << 20);
 *     void *v; size_t n;
 *     if (t5_rcache_get(c, key, klen, &v, &n) == 1) { use(v, n); free(v); }
 *     else { ...compute...; t5_rcache_put(c, key, klen, val, vlen); }
 *     t5_rcache_free(c);
 */
#ifndef T5_RCACHE_H
#define T5_RCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct t5_rcache t5_rcache;

typedef struct t5_rcache_stats {
    uint64_t hits;
    uint64_t misses;
    uint64_t inserts;
    uint64_t evictions;
    uint64_t entries;
    uint64_t bytes; /* keys + values + per-entry overhead */
    uint64_t max_bytes;
} t5_rcache_stats;

/* max_bytes bounds keys + values + per-entry bookkeeping. Returns 0, or
 * T5_EINVAL / T5_ENOMEM. */
int t5_rcache_create(t5_rcache **out, size_t max_bytes);
void t5_rcache_free(t5_rcache *c);

/* 1 on a hit (*val is a malloc'd copy the caller frees, *vlen its size),
 * 0 on a miss, negative on allocation failure. A hit makes the entry the
 * most recently used. */
int t5_rcache_get(t5_rcache *c, const void *key, size_t klen, void **val, size_t *vlen);

/* Inserts or replaces; evicts least recently used entries to stay within
 * max_bytes. An entry larger than max_bytes is not stored (returns 0).
 * Returns 1 if stored, 0 if not, negative on allocation failure. */
int t5_rcache_put(t5_rcache *c, const void *key, size_t klen, const void *val, size_t vlen);

void t5_rcache_stats_get(t5_rcache *c, t5_rcache_stats *st);

/* 64-bit FNV-1a, exposed so callers can build keys incrementally. */
uint64_t t5_rcache_hash(const void *data, size_t len, uint64_t h);

#endif
