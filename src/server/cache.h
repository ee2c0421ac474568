/* cache.h - the response cache on the server side (Triton's
 * response_cache): keys from a request, values from its results.
 *
 * A key holds everything that decides the results: model, version, every
 * text and every generation parameter (the outputs asked for and their
 * encoding do not matter: the cached value holds all outputs of every row).
 * Sampling without an explicit seed is never cached. The LRU store itself is
 * src/sched/rcache.c, one per server, bounded in bytes
 * (--cache-config local,size=BYTES); a model opts in with
 * response_cache { enable: true }.
 */
#ifndef T5_SERVER_CACHE_H
#define T5_SERVER_CACHE_H

#include "sched/rcache.h"
#include "server/infer.h"

/* Whether r may be cached at all. */
int t5_cache_eligible(const t5_infer_req *r);
/* The key of r (malloc'd into *key); 0 or T5_ENOMEM. */
int t5_cache_key(const t5_infer_req *r, const char *model, const char *version, t5_buf *key);
/* Serializes r->res / fills r->res from a value. */
int t5_cache_value(const t5_infer_req *r, t5_buf *val);
int t5_cache_restore(t5_infer_req *r, const void *val, size_t len);

#endif
