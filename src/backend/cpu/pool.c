/* pool.c - chunk-claiming thread team (see pool.h).
 *
 * One 64-bit word publishes a job and hands out its chunks:
 *   claim = generation (24 bits) | n_chunks (20 bits) | next chunk (20 bits)
 * A thread owns chunk i of a job only by moving the word from (g, n, i) to
 * (g, n, i + 1) with a compare-and-swap, so a helper that wakes late can never
 * take a chunk of a job that has moved on. The job's fn/arg are read only
 * after a successful claim: the caller cannot publish the next job before
 * that chunk is reported done. */
#include "backend/cpu/pool.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define FIELD 20
#define MASK ((1u << FIELD) - 1)
/* Pauses a helper spins for the next job before sleeping (~100 us at ~40 ns
 * a pause): longer than the gap between two operations of a step. */
#define SPIN 2500

struct t5__pool {
    int n_helpers;
    pthread_t *th;
    _Atomic uint64_t claim;
    _Atomic int done;
    _Atomic uint32_t seq; /* futex word, bumped once per published job */
    _Atomic int sleepers;
    _Atomic int stop;
    void (*fn)(void *arg, int chunk);
    void *arg;
    uint32_t gen;
};

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Claims and runs chunks of the current job until none is left. */
static void work(t5__pool *p)
{
    for (;;) {
        uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
        uint32_t idx = (uint32_t)(c & MASK), n = (uint32_t)((c >> FIELD) & MASK);
        if (idx >= n)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel,
                                                   memory_order_relaxed))
            continue;
        p->fn(p->arg, (int)idx);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

static void *helper(void *arg)
{
    t5__pool *p = arg;
    uint32_t seen = 0;
    while (!atomic_load(&p->stop)) {
        uint32_t s = atomic_load_explicit(&p->seq, memory_order_acquire);
        if (s != seen) {
            seen = s;
            work(p);
            continue;
        }
        int spun = 0;
        while (spun < SPIN && atomic_load_explicit(&p->seq, memory_order_relaxed) == seen) {
            CPU_RELAX();
            spun++;
        }
        if (spun < SPIN)
            continue;
        /* Sleep; the caller wakes sleepers after bumping seq (both seq_cst,
         * so either it sees us counted or we see the new seq). */
        atomic_fetch_add(&p->sleepers, 1);
        if (atomic_load(&p->seq) == seen && !atomic_load(&p->stop))
            futex_wait(&p->seq, seen);
        atomic_fetch_sub(&p->sleepers, 1);
    }
    return NULL;
}

t5__pool *t5__pool_create(int n_threads)
{
    t5__pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    int h = n_threads > 1 ? n_threads - 1 : 0;
    p->th = calloc(h ? h : 1, sizeof(pthread_t));
    if (!p->th) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < h; i++) {
        if (pthread_create(&p->th[i], NULL, helper, p) != 0)
            break; /* fewer helpers still works */
        p->n_helpers++;
    }
    return p;
}

void t5__pool_free(t5__pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->seq, 1);
    futex_wake_all(&p->seq);
    for (int i = 0; i < p->n_helpers; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    free(p);
}

int t5__pool_threads(const t5__pool *p)
{
    return p ? p->n_helpers + 1 : 1;
}

void t5__pool_run(t5__pool *p, void (*fn)(void *arg, int chunk), void *arg, int n_chunks)
{
    if (n_chunks <= 0)
        return;
    if (!p || p->n_helpers == 0 || n_chunks == 1 || n_chunks > (int)MASK) {
        for (int c = 0; c < n_chunks; c++)
            fn(arg, c);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    p->gen = (p->gen + 1) & 0xffffff;
    atomic_store_explicit(&p->claim,
                          ((uint64_t)p->gen << (2 * FIELD)) | ((uint64_t)n_chunks << FIELD),
                          memory_order_release);
    atomic_fetch_add(&p->seq, 1);
    if (atomic_load(&p->sleepers) > 0)
        futex_wake_all(&p->seq);
    work(p);
    /* Only chunks a running helper claimed can be outstanding now. */
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < n_chunks) {
        CPU_RELAX();
        if (++spins > 4096) {
            sched_yield();
            spins = 0;
        }
    }
}
