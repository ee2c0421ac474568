/* pool.h - the CPU backend's thread team.
 *
 * Why not OpenMP: on a machine shared with other work, an OpenMP region ends
 * in a barrier that waits for every team thread, including one the kernel
 * has not scheduled yet, so each of the ~100 small regions of a decode step
 * can stall for a time slice (measured: 2 threads ran a t5-small step 5x
 * slower than 1 thread under load). Here work is split into chunks that
 * threads claim one at a time; the caller claims too and returns as soon as
 * every chunk is finished, so a helper that never woke up costs nothing.
 * Helpers spin briefly for the next job, then sleep on a futex.
 */
#ifndef T5_CPU_POOL_H
#define T5_CPU_POOL_H

typedef struct t5__pool t5__pool;

/* A team of n_threads (the caller plus n_threads - 1 helpers). NULL on
 * failure; n_threads <= 1 makes a pool that runs everything on the caller. */
t5__pool *t5__pool_create(int n_threads);
void t5__pool_free(t5__pool *p);
int t5__pool_threads(const t5__pool *p);

/* Calls fn(arg, c) once for every c in [0, n_chunks), in any order and on
 * any team thread, and returns when all calls returned. One run at a time
 * per pool (an engine's stream is used by one thread). */
void t5__pool_run(t5__pool *p, void (*fn)(void *arg, int chunk), void *arg, int n_chunks);

#endif
