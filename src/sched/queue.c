/* queue.c - priority levels, queue timeouts and max queue size (see queue.h). */
#include "sched/queue.h"

#include <string.h>

void t5_rqueue_init(t5_rqueue *q, int levels, int default_level, const t5_queue_policy *p)
{
    memset(q, 0, sizeof *q);
    if (levels < 1)
        levels = 1;
    if (levels > T5_SCHED_MAX_LEVELS)
        levels = T5_SCHED_MAX_LEVELS;
    q->levels = levels;
    q->min_deadline = UINT64_MAX;
    q->default_level = default_level >= 1 && default_level <= levels ? default_level : 1;
    for (int l = 0; p && l < levels; l++)
        q->pol[l] = *p;
}

void t5_rqueue_set_level_policy(t5_rqueue *q, int level, const t5_queue_policy *p)
{
    if (level >= 1 && level <= q->levels)
        q->pol[level - 1] = *p;
}

void t5_rqueue_init_config(t5_rqueue *q, const t5_sched_config *cfg)
{
    t5_rqueue_init(q, cfg->priority_levels, cfg->default_priority_level, &cfg->policy);
    for (int l = 0; l < T5_SCHED_MAX_LEVELS; l++)
        if (cfg->level_policy_set >> l & 1u)
            t5_rqueue_set_level_policy(q, l + 1, &cfg->level_policy[l]);
}

static void fifo_push(t5_fifo *f, t5_sched_req *r)
{
    r->next_ = NULL;
    if (f->tail)
        f->tail->next_ = r;
    else
        f->head = r;
    f->tail = r;
    f->n++;
}

int t5_rqueue_push(t5_rqueue *q, t5_sched_req *r, uint64_t now_ns, t5_err *err)
{
    int prio = r->priority;
    if (prio == 0)
        prio = q->default_level;
    if (prio < 1 || prio > q->levels)
        return t5_errf(err, T5_EINVAL, "invalid priority %d: the model has %d priority level%s",
                       r->priority, q->levels, q->levels == 1 ? "" : "s");
    t5_fifo *f = &q->lv[prio - 1];
    const t5_queue_policy *pol = &q->pol[prio - 1];
    if (pol->max_queue_size && f->n >= pol->max_queue_size)
        return t5_errf(err, T5_EBUSY, "Exceeds maximum queue size");
    /* Triton: an override may shorten the default timeout, never extend it
     * (a default of 0 means none, so any request timeout is shorter). */
    uint64_t to = pol->default_timeout_us;
    if (r->timeout_us && pol->allow_timeout_override && (!to || r->timeout_us < to))
        to = r->timeout_us;
    r->level_ = prio - 1;
    r->deadline_ns_ = to ? now_ns + to * 1000u : UINT64_MAX;
    r->t_enqueue_ns = now_ns;
    if (r->deadline_ns_ < q->min_deadline)
        q->min_deadline = r->deadline_ns_;
    fifo_push(f, r);
    q->n_reqs++;
    return 0;
}

t5_sched_req *t5_rqueue_expire(t5_rqueue *q, uint64_t now_ns, uint64_t *next_deadline_ns)
{
    t5_sched_req *rej = NULL, **rej_tail = &rej;
    uint64_t next = UINT64_MAX;
    if (now_ns < q->min_deadline) { /* nothing due: popping keeps it a lower bound */
        *next_deadline_ns = q->min_deadline;
        return NULL;
    }
    for (int l = 0; l < q->levels; l++) {
        t5_fifo *f = &q->lv[l];
        t5_sched_req **pp = &f->head, *prev = NULL;
        while (*pp) {
            t5_sched_req *r = *pp;
            if (r->deadline_ns_ > now_ns) {
                if (r->deadline_ns_ < next)
                    next = r->deadline_ns_;
                prev = r;
                pp = &r->next_;
                continue;
            }
            *pp = r->next_; /* unlink */
            if (f->tail == r)
                f->tail = prev;
            f->n--;
            r->deadline_ns_ = UINT64_MAX;
            if (q->pol[l].timeout_action == T5_TIMEOUT_DELAY) {
                r->level_ = q->levels;
                fifo_push(&q->lv[q->levels], r);
            } else {
                q->n_reqs--;
                r->next_ = NULL;
                *rej_tail = r;
                rej_tail = &r->next_;
            }
        }
    }
    q->min_deadline = next;
    *next_deadline_ns = next;
    return rej;
}

t5_sched_req *t5_rqueue_first(const t5_rqueue *q)
{
    for (int l = 0; l <= q->levels; l++)
        if (q->lv[l].head)
            return q->lv[l].head;
    return NULL;
}

t5_sched_req *t5_rqueue_next(const t5_rqueue *q, const t5_sched_req *r)
{
    if (r->next_)
        return r->next_;
    for (int l = r->level_ + 1; l <= q->levels; l++)
        if (q->lv[l].head)
            return q->lv[l].head;
    return NULL;
}

t5_sched_req *t5_rqueue_pop(t5_rqueue *q)
{
    for (int l = 0; l <= q->levels; l++) {
        t5_fifo *f = &q->lv[l];
        if (!f->head)
            continue;
        t5_sched_req *r = f->head;
        f->head = r->next_;
        if (!f->head)
            f->tail = NULL;
        f->n--;
        q->n_reqs--;
        r->next_ = NULL;
        return r;
    }
    return NULL;
}
