/* test_rcache.c - the response cache against a naive LRU model.
 *
 * The model keeps every live entry in an array with a "last used" tick and
 * evicts the smallest tick; random operations must give the same hits,
 * misses and values in both, and the byte bound must always hold. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sched/rcache.h"
#include "t5_common.h"

#define MAXE 512

typedef struct {
    char key[16];
    size_t klen;
    unsigned char val[64];
    size_t vlen;
    unsigned long tick;
    int live;
} mentry;

static mentry model[MAXE];
static unsigned long tick;
static size_t model_bytes, overhead;

static size_t cost(size_t k, size_t v)
{
    return overhead + k + v;
}

static int model_find(const char *k, size_t kl)
{
    for (int i = 0; i < MAXE; i++)
        if (model[i].live && model[i].klen == kl && !memcmp(model[i].key, k, kl))
            return i;
    return -1;
}

static void model_put(const char *k, size_t kl, const unsigned char *v, size_t vl, size_t max)
{
    int i = model_find(k, kl);
    if (i >= 0) {
        model[i].live = 0;
        model_bytes -= cost(model[i].klen, model[i].vlen);
    }
    while (model_bytes + cost(kl, vl) > max) {
        int lru = -1;
        for (int j = 0; j < MAXE; j++)
            if (model[j].live && (lru < 0 || model[j].tick < model[lru].tick))
                lru = j;
        if (lru < 0)
            break;
        model[lru].live = 0;
        model_bytes -= cost(model[lru].klen, model[lru].vlen);
    }
    for (i = 0; i < MAXE && model[i].live; i++)
        ;
    memcpy(model[i].key, k, kl);
    model[i].klen = kl;
    memcpy(model[i].val, v, vl);
    model[i].vlen = vl;
    model[i].tick = ++tick;
    model[i].live = 1;
    model_bytes += cost(kl, vl);
}

/* Finds the per-entry overhead the cache charges, from its own stats. */
static size_t measure_overhead(void)
{
    t5_rcache *c;
    t5_rcache_create(&c, 1 << 20);
    t5_rcache_put(c, "k", 1, "vv", 2);
    t5_rcache_stats st;
    t5_rcache_stats_get(c, &st);
    t5_rcache_free(c);
    return st.bytes - 3;
}

static void test_against_model(void)
{
    overhead = measure_overhead();
    CHECK(overhead > 0);
    size_t max = 40 * (overhead + 40);
    t5_rcache *c;
    CHECK_EQ_INT(t5_rcache_create(&c, max), 0);
    srand(7);
    int mismatches = 0;
    for (int op = 0; op < 20000; op++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "q%d", rand() % 120);
        if (rand() % 3 == 0) {
            unsigned char v[64];
            size_t vl = 1 + rand() % 63;
            for (size_t i = 0; i < vl; i++)
                v[i] = (unsigned char)rand();
            CHECK_EQ_INT(t5_rcache_put(c, key, kl, v, vl), 1);
            model_put(key, kl, v, vl, max);
        } else {
            void *got;
            size_t gl;
            int r = t5_rcache_get(c, key, kl, &got, &gl);
            int i = model_find(key, kl);
            if ((r == 1) != (i >= 0)) {
                mismatches++;
            } else if (r == 1) {
                if (gl != model[i].vlen || memcmp(got, model[i].val, gl))
                    mismatches++;
                model[i].tick = ++tick;
            }
            free(got);
        }
        t5_rcache_stats st;
        t5_rcache_stats_get(c, &st);
        if (st.bytes > max || st.bytes != model_bytes)
            mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    t5_rcache_stats st;
    t5_rcache_stats_get(c, &st);
    CHECK(st.hits > 0 && st.misses > 0 && st.evictions > 0);
    t5_rcache_free(c);
}

static void test_too_big_and_replace(void)
{
    t5_rcache *c;
    CHECK_EQ_INT(t5_rcache_create(&c, 200), 0);
    char big[300] = {0};
    CHECK_EQ_INT(t5_rcache_put(c, "a", 1, big, sizeof big), 0);
    CHECK_EQ_INT(t5_rcache_put(c, "a", 1, "x", 1), 1);
    CHECK_EQ_INT(t5_rcache_put(c, "a", 1, "yz", 2), 1);
    void *v;
    size_t n;
    CHECK_EQ_INT(t5_rcache_get(c, "a", 1, &v, &n), 1);
    CHECK(n == 2 && !memcmp(v, "yz", 2));
    free(v);
    t5_rcache_stats st;
    t5_rcache_stats_get(c, &st);
    CHECK_EQ_INT(st.entries, 1);
    t5_rcache_free(c);
    CHECK_EQ_INT(t5_rcache_create(&c, 0), T5_EINVAL);
    CHECK(c == NULL);
}

static t5_rcache *shared;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 5000; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%u", rand_r(&seed) % 300);
        void *v;
        size_t n;
        int r = t5_rcache_get(shared, key, kl, &v, &n);
        if (r == 1) {
            /* the value is always the key itself */
            if (n != (size_t)kl || memcmp(v, key, n))
                return (void *)1;
            free(v);
        } else {
            t5_rcache_put(shared, key, kl, key, kl);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    CHECK_EQ_INT(t5_rcache_create(&shared, 8192), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += r != NULL;
    }
    CHECK_EQ_INT(bad, 0);
    t5_rcache_stats st;
    t5_rcache_stats_get(shared, &st);
    CHECK(st.bytes <= 8192);
    CHECK_EQ_INT(st.hits + st.misses, 4 * 5000);
    t5_rcache_free(shared);
}

int main(void)
{
    RUN(test_against_model);
    RUN(test_too_big_and_replace);
    RUN(test_threads);
    return check_summary();
}
