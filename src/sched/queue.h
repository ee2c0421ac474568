/* queue.h - the request queue of one model version (private to src/sched).
 *
 * One FIFO per priority level (1 is served first) plus a FIFO of delayed
 * requests (timeout_action DELAY: past their timeout, served after all
 * others). Not thread-safe: the batcher holds its lock around every call.
 */
#ifndef T5_SCHED_QUEUE_H
#define T5_SCHED_QUEUE_H

#include "sched/sched.h"

typedef struct t5_fifo {
    t5_sched_req *head, *tail;
    uint32_t n;
} t5_fifo;

typedef struct t5_rqueue {
    int levels;                               /* >= 1 */
    int default_level;                        /* 1..levels */
    t5_queue_policy pol[T5_SCHED_MAX_LEVELS]; /* per level (priority_queue_policy) */
    t5_fifo lv[T5_SCHED_MAX_LEVELS + 1];      /* [0..levels-1]; [levels] = delayed */
    int n_reqs;
    /* At or before every queued deadline (UINT64_MAX: none queued has one).
     * t5_rqueue_expire walks the queue only once this is due, so popping
     * one request at a time from a long queue stays O(1) per request. */
    uint64_t min_deadline;
} t5_rqueue;

void t5_rqueue_init(t5_rqueue *q, int levels, int default_level, const t5_queue_policy *p);
/* Gives priority level `level` (1-based) its own policy. */
void t5_rqueue_set_level_policy(t5_rqueue *q, int level, const t5_queue_policy *p);
/* Applies cfg's default and per-level policies. */
void t5_rqueue_init_config(t5_rqueue *q, const t5_sched_config *cfg);

/* Sets r's level and deadline and appends it, or returns T5_EBUSY (its level
 * is at max_queue_size) / T5_EINVAL (priority out of range). */
int t5_rqueue_push(t5_rqueue *q, t5_sched_req *r, uint64_t now_ns, t5_err *err);

/* Applies timeouts at now_ns: requests past their deadline are unlinked and
 * returned as a list (REJECT) or moved behind every level (DELAY). Sets
 * *next_deadline_ns to a time at or before the earliest deadline still
 * pending (UINT64_MAX if none): call again then. Walks the queue only when a
 * deadline may be due. */
t5_sched_req *t5_rqueue_expire(t5_rqueue *q, uint64_t now_ns, uint64_t *next_deadline_ns);

/* The first request in service order, the one after r, and popping the first. */
t5_sched_req *t5_rqueue_first(const t5_rqueue *q);
t5_sched_req *t5_rqueue_next(const t5_rqueue *q, const t5_sched_req *r);
t5_sched_req *t5_rqueue_pop(t5_rqueue *q);

#endif
