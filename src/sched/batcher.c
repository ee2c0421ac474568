/* batcher.c - request-level dynamic batching, as Triton's dynamic batcher.
 *
 * Requests wait in a t5_rqueue. Each model instance has a worker thread that
 * owns an executor; an idle worker takes the longest prefix of the queue (in
 * priority order) that fits in max_batch_size rows. If that prefix reaches
 * the largest preferred batch size (or max_batch_size when none is given) it
 * runs at once; otherwise the worker waits until the oldest request has been
 * queued for max_queue_delay_microseconds, then runs the largest preferred
 * size it can form, or everything that fits. Without dynamic_batching every
 * request runs alone.
 *
 * Wakeups are coalesced: a worker always re-reads the whole queue state after
 * waking, so a broadcast for many arrivals costs one pass.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/queue.h"
#include "sched/sched.h"

uint64_t t5_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

t5_sched_config t5_sched_default_config(void)
{
    t5_sched_config c;
    memset(&c, 0, sizeof c);
    c.max_batch_size = 0;
    c.priority_levels = 1;
    c.default_priority_level = 1;
    c.policy.timeout_action = T5_TIMEOUT_REJECT;
    c.cancel_poll_us = 2000;
    return c;
}

typedef struct batcher batcher;

typedef struct worker {
    batcher *b;
    t5_executor ex;
    pthread_t th;
    int started;
} worker;

struct batcher {
    t5_sched base;
    t5_sched_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    t5_rqueue q;
    int stopping;
    int drained;
    int n_running; /* requests popped and not yet completed */
    worker *w;
    int n_w;
    t5_sched_exec_cb on_exec;
    void *exec_user;
};

static void complete(t5_sched_req *r, int code, const char *msg)
{
    if (code) {
        r->status = code;
        t5_errf(&r->err, code, "%s", msg);
    }
    if (!r->t_start_ns)
        r->t_start_ns = t5_now_ns();
    if (!r->t_end_ns)
        r->t_end_ns = r->t_start_ns;
    if (!r->t_input_ns)
        r->t_input_ns = r->t_start_ns;
    if (!r->t_infer_ns)
        r->t_infer_ns = r->t_input_ns;
    r->on_done(r);
}

/* Absolute CLOCK_MONOTONIC wait (the condvar is created with that clock). */
static void wait_until(batcher *b, uint64_t deadline_ns)
{
    if (deadline_ns == UINT64_MAX) {
        pthread_cond_wait(&b->cv, &b->mu);
        return;
    }
    struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
}

/* How many rows of the queue's prefix to run now, or 0 to keep waiting
 * (then *wake_ns says until when). Called with the lock held. */
static int batch_target(batcher *b, uint64_t now, uint64_t *wake_ns)
{
    const t5_sched_config *c = &b->cfg;
    t5_sched_req *first = t5_rqueue_first(&b->q);
    if (!c->dynamic || c->max_batch_size <= 0)
        return first->rows;
    int limit = c->max_batch_size, avail = 0, blocked = 0;
    for (t5_sched_req *r = first; r; r = t5_rqueue_next(&b->q, r)) {
        if (avail + r->rows > limit) {
            blocked = 1;
            break;
        }
        avail += r->rows;
    }
    int max_pref = limit;
    if (c->n_preferred > 0) {
        max_pref = 0;
        for (int i = 0; i < c->n_preferred; i++)
            if (c->preferred[i] <= limit && c->preferred[i] > max_pref)
                max_pref = c->preferred[i];
        if (!max_pref)
            max_pref = limit;
    }
    uint64_t delay_ns = c->max_queue_delay_us * 1000u;
    int expired = now - first->t_enqueue_ns >= delay_ns;
    if (avail < max_pref && !blocked && !expired && !b->stopping) {
        *wake_ns = first->t_enqueue_ns + delay_ns;
        return 0;
    }
    int best = 0;
    for (int i = 0; i < c->n_preferred; i++)
        if (c->preferred[i] <= avail && c->preferred[i] > best)
            best = c->preferred[i];
    return best ? best : avail;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    batcher *b = w->b;
    int cap = b->cfg.max_batch_size > 0 ? b->cfg.max_batch_size : 1;
    t5_sched_req **batch = calloc((size_t)cap, sizeof *batch);
    pthread_mutex_lock(&b->mu);
    for (;;) {
        uint64_t now = t5_now_ns(), next_deadline;
        t5_sched_req *rej = t5_rqueue_expire(&b->q, now, &next_deadline);
        if (rej) {
            pthread_mutex_unlock(&b->mu);
            while (rej) {
                t5_sched_req *n = rej->next_;
                complete(rej, T5_EBUSY, "Request timeout expired");
                rej = n;
            }
            pthread_mutex_lock(&b->mu);
            continue;
        }
        if (!t5_rqueue_first(&b->q)) {
            if (b->stopping)
                break;
            wait_until(b, next_deadline);
            continue;
        }
        uint64_t wake = UINT64_MAX;
        int target = batch_target(b, now, &wake);
        if (!target) {
            wait_until(b, wake < next_deadline ? wake : next_deadline);
            continue;
        }
        int n = 0, rows = 0;
        while (n < cap) {
            t5_sched_req *r = t5_rqueue_first(&b->q);
            if (!r || (n > 0 && rows + r->rows > target))
                break;
            batch[n++] = t5_rqueue_pop(&b->q);
            rows += r->rows;
        }
        b->n_running += n;
        pthread_mutex_unlock(&b->mu);

        /* Drop requests whose client went away; run the rest. */
        uint64_t t0 = t5_now_ns();
        int m = 0, run_rows = 0;
        for (int i = 0; i < n; i++) {
            t5_sched_req *r = batch[i];
            r->t_start_ns = t0;
            if (r->is_cancelled && r->is_cancelled(r)) {
                complete(r, T5_ECANCELED, "the client closed the connection");
                continue;
            }
            batch[m++] = r;
            run_rows += r->rows;
        }
        if (m > 0) {
            for (int i = 0; i < m; i++) {
                batch[i]->status = 0;
                batch[i]->exec_rows = run_rows;
            }
            t5_err err = {0};
            int rc = w->ex.run(w->ex.ctx, batch, m, &err);
            uint64_t t1 = t5_now_ns();
            for (int i = 0; i < m; i++) {
                t5_sched_req *r = batch[i];
                if (rc < 0 && r->status == 0) {
                    r->status = rc;
                    r->err = err;
                    r->err.code = rc;
                }
                if (!r->t_end_ns)
                    r->t_end_ns = t1;
            }
            if (b->on_exec) {
                t5_sched_req *r = batch[0];
                uint64_t ti = r->t_input_ns ? r->t_input_ns : t0;
                uint64_t tf = r->t_infer_ns ? r->t_infer_ns : ti;
                b->on_exec(b->exec_user, run_rows, ti - t0, tf - ti,
                           (r->t_end_ns > tf ? r->t_end_ns : tf) - tf);
            }
            for (int i = 0; i < m; i++)
                complete(batch[i], 0, NULL);
        }
        pthread_mutex_lock(&b->mu);
        b->n_running -= n;
    }
    pthread_mutex_unlock(&b->mu);
    free(batch);
    return NULL;
}

static int b_submit(t5_sched *s, t5_sched_req *r, t5_err *err)
{
    batcher *b = (batcher *)s;
    if (r->rows < 1)
        return t5_errf(err, T5_EINVAL, "a request needs at least one row");
    if (b->cfg.max_batch_size > 0 && r->rows > b->cfg.max_batch_size)
        return t5_errf(err, T5_ELIMIT,
                       "inference request batch-size must be <= %d for this model, got %d",
                       b->cfg.max_batch_size, r->rows);
    r->status = 0;
    r->err.code = 0;
    r->err.msg[0] = '\0';
    r->t_start_ns = r->t_input_ns = r->t_infer_ns = r->t_end_ns = 0;
    pthread_mutex_lock(&b->mu);
    int rc;
    if (b->stopping)
        rc = t5_errf(err, T5_EBUSY, "the model is being unloaded or the server is shutting down");
    else
        rc = t5_rqueue_push(&b->q, r, t5_now_ns(), err);
    if (rc == 0)
        pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static void b_drain(t5_sched *s)
{
    batcher *b = (batcher *)s;
    pthread_mutex_lock(&b->mu);
    if (b->drained) {
        pthread_mutex_unlock(&b->mu);
        return;
    }
    b->stopping = 1;
    b->drained = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_w; i++)
        if (b->w[i].started)
            pthread_join(b->w[i].th, NULL);
}

static int b_pending(t5_sched *s)
{
    batcher *b = (batcher *)s;
    pthread_mutex_lock(&b->mu);
    int n = b->q.n_reqs + b->n_running;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static void b_free(t5_sched *s)
{
    batcher *b = (batcher *)s;
    b_drain(s);
    for (int i = 0; i < b->n_w; i++)
        if (b->w[i].ex.free)
            b->w[i].ex.free(b->w[i].ex.ctx);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->w);
    free(b);
}

static const t5_sched_ops batcher_ops = {b_submit, b_drain, b_pending, b_free};

int t5_sched_batcher_create(t5_sched **out, const t5_sched_config *cfg, t5_executor *execs,
                            int n_execs, t5_sched_exec_cb on_exec, void *exec_user, t5_err *err)
{
    *out = NULL;
    batcher *b = calloc(1, sizeof *b);
    worker *w = calloc(n_execs > 0 ? (size_t)n_execs : 1, sizeof *w);
    if (!b || !w || n_execs < 1) {
        for (int i = 0; i < n_execs; i++)
            if (execs[i].free)
                execs[i].free(execs[i].ctx);
        free(b);
        free(w);
        return n_execs < 1 ? t5_errf(err, T5_EINVAL, "a scheduler needs at least one instance")
                           : t5_errf(err, T5_ENOMEM, "out of memory creating the scheduler");
    }
    b->base.ops = &batcher_ops;
    b->cfg = *cfg;
    if (b->cfg.max_batch_size < 0)
        b->cfg.max_batch_size = 0;
    b->w = w;
    b->n_w = n_execs;
    b->on_exec = on_exec;
    b->exec_user = exec_user;
    t5_rqueue_init_config(&b->q, cfg);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < n_execs; i++) {
        w[i].b = b;
        w[i].ex = execs[i];
    }
    for (int i = 0; i < n_execs; i++) {
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
            b_free(&b->base);
            return t5_errf(err, T5_ENOMEM, "cannot start worker thread %d", i);
        }
        w[i].started = 1;
    }
    *out = &b->base;
    return 0;
}
