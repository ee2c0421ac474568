/* sched.h - the scheduler seam between the HTTP front end and the engine.
 *
 * The front end turns an HTTP request into a t5_sched_req and submits it to
 * the model version's t5_sched. What happens next is the scheduler's
 * business: the request-level dynamic batcher (batcher.c, Triton's
 * dynamic_batching) queues requests by priority, forms batches and hands
 * them to one worker per model instance, each owning a t5_executor. An
 * iteration-level (in-flight) scheduler can implement the same t5_sched
 * interface later and be chosen per model without the front end noticing.
 *
 *     t5_sched_config sc = t5_sched_default_config();
 *     sc.max_batch_size = 8; sc.dynamic = 1; sc.max_queue_delay_us = 500;
 *     t5_executor ex[1] = {{.ctx = engine_ctx, .run = my_run, .free = my_free}};
 *     t5_sched *s;
 *     t5_sched_batcher_create(&s, &sc, ex, 1, &err);
 *     r->rows = 1; r->on_done = done_cb;   // called once, from a worker thread
 *     if (t5_sched_submit(s, r, &err) < 0) ... // rejected: on_done is not called
 *     ...
 *     t5_sched_drain(s);   // stop accepting, finish everything queued
 *     t5_sched_free(s);
 */
#ifndef T5_SCHED_H
#define T5_SCHED_H

#include <stdint.h>

#include "t5_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define T5_SCHED_MAX_PREFERRED 16
#define T5_SCHED_MAX_LEVELS 16

enum { T5_TIMEOUT_REJECT = 0, T5_TIMEOUT_DELAY = 1 };

/* Triton's ModelQueuePolicy. */
typedef struct t5_queue_policy {
    int timeout_action;          /* T5_TIMEOUT_REJECT or T5_TIMEOUT_DELAY */
    uint64_t default_timeout_us; /* 0: no timeout */
    int allow_timeout_override;  /* a request's own "timeout" parameter applies */
    uint32_t max_queue_size;     /* 0: unbounded */
} t5_queue_policy;

typedef struct t5_sched_config {
    int max_batch_size; /* rows per execution; 0: the model does not batch */
    int dynamic;        /* dynamic_batching present: combine requests */
    int preferred[T5_SCHED_MAX_PREFERRED];
    int n_preferred;
    uint64_t max_queue_delay_us;
    int priority_levels;        /* 0 or 1: a single level */
    int default_priority_level; /* 1..priority_levels */
    t5_queue_policy policy;     /* the default queue policy, for every level */
    /* priority_queue_policy: levels whose bit (1 << (level - 1)) is set in
     * level_policy_set use level_policy[level - 1] instead of the default. */
    t5_queue_policy level_policy[T5_SCHED_MAX_LEVELS];
    unsigned level_policy_set;
    /* In-flight scheduler: how often (microseconds) live requests are asked
     * whether their client left; 0 asks at every decoder step. */
    uint64_t cancel_poll_us;
} t5_sched_config;

t5_sched_config t5_sched_default_config(void);

typedef struct t5_sched_req t5_sched_req;

struct t5_sched_req {
    /* ---- set by the submitter ---- */
    int rows;            /* the request's batch dimension (texts); >= 1 */
    int priority;        /* 1 is highest; 0: the default level */
    uint64_t timeout_us; /* 0: the queue policy's default */
    void *payload;       /* the executor's input and output (owned by the submitter) */
    void *user;
    /* Called exactly once for an accepted request, from a worker thread,
     * after status, err and the timings are final. */
    void (*on_done)(t5_sched_req *r);
    /* Optional: returns nonzero when the client went away, so the request is
     * dropped (T5_ECANCELED) instead of computed. Called from workers. */
    int (*is_cancelled)(t5_sched_req *r);

    /* ---- set by the scheduler and the executor ---- */
    int status; /* 0 or a negative T5_E* code */
    t5_err err;
    uint64_t t_enqueue_ns; /* monotonic clock */
    uint64_t t_start_ns;   /* execution began (end of queueing) */
    uint64_t t_input_ns;   /* compute input done (tokenized) */
    uint64_t t_infer_ns;   /* compute infer done (generated) */
    uint64_t t_end_ns;     /* compute output done (detokenized) */
    int exec_rows;         /* rows in the batch this request ran in */

    /* ---- private to the scheduler ---- */
    t5_sched_req *next_;
    uint64_t deadline_ns_;
    int level_;
    void *priv_; /* the scheduler's per-request data (inflight.c: the tokenized rows) */
};

/* One model instance's compute: runs a batch of requests to completion.
 * It sets each request's status/err and t_input_ns/t_infer_ns/t_end_ns
 * (t_start_ns is set before the call); a failure of one request must not
 * fail the others. Returns 0, or a negative code if the whole batch failed
 * (then every request whose status is still 0 gets that code). */
typedef struct t5_executor {
    void *ctx;
    int (*run)(void *ctx, t5_sched_req **reqs, int n, t5_err *err);
    void (*free)(void *ctx);
} t5_executor;

/* Called after each execution with the batch's row count and its compute
 * times, for Triton's execution count and batch statistics. */
typedef void (*t5_sched_exec_cb)(void *user, int rows, uint64_t input_ns, uint64_t infer_ns,
                                 uint64_t output_ns);

typedef struct t5_sched t5_sched;

/* The operations every scheduler implements (the seam for issue 6). */
typedef struct t5_sched_ops {
    int (*submit)(t5_sched *s, t5_sched_req *r, t5_err *err);
    void (*drain)(t5_sched *s);
    int (*pending)(t5_sched *s);
    void (*free)(t5_sched *s);
} t5_sched_ops;

struct t5_sched {
    const t5_sched_ops *ops;
};

/* Accepts r (returns 0; on_done follows later) or rejects it at once (queue
 * full: T5_EBUSY; draining: T5_EBUSY; bad priority/rows: T5_EINVAL). */
static inline int t5_sched_submit(t5_sched *s, t5_sched_req *r, t5_err *err)
{
    return s->ops->submit(s, r, err);
}
/* Stops accepting requests and returns once every accepted one is done. */
static inline void t5_sched_drain(t5_sched *s)
{
    s->ops->drain(s);
}
/* Requests accepted and not yet done (queued or executing). */
static inline int t5_sched_pending(t5_sched *s)
{
    return s->ops->pending(s);
}
/* Drains, then frees the scheduler and its executors. */
static inline void t5_sched_free(t5_sched *s)
{
    if (s)
        s->ops->free(s);
}

/* The request-level dynamic batcher: one worker thread per executor.
 * Takes ownership of the executors (frees them with the scheduler, also on
 * failure). */
int t5_sched_batcher_create(t5_sched **out, const t5_sched_config *cfg, t5_executor *execs,
                            int n_execs, t5_sched_exec_cb on_exec, void *exec_user, t5_err *err);

uint64_t t5_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
