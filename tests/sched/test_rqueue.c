/* test_rqueue.c - the request queue's timeouts against a naive model.
 *
 * Random pushes (three priority levels: REJECT with a default timeout and
 * overrides, DELAY, none), pops and expiry calls at a moving clock. The model
 * keeps every queued request with its deadline and applies timeouts by
 * scanning all of them; the queue must reject and delay exactly the same
 * requests, pop in the same order, and never report a next deadline later
 * than the earliest one pending (t5_rqueue_expire skips its walk until that
 * lower bound is due). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sched/queue.h"

#define N 4000

typedef struct {
    t5_sched_req r;
    int id, level; /* level 0..2, 3 = delayed */
    uint64_t deadline;
    int queued;
    long seq; /* order within its level */
} item;

static item it[N];

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The model's first request in service order: lowest level, then oldest. */
static item *model_first(void)
{
    item *best = NULL;
    for (int i = 0; i < N; i++)
        if (it[i].queued && (!best || it[i].level < best->level ||
                             (it[i].level == best->level && it[i].seq < best->seq)))
            best = &it[i];
    return best;
}

static void test_random(void)
{
    t5_queue_policy pol[3] = {
        {T5_TIMEOUT_REJECT, 300, 1, 0}, /* 300 us, a request may shorten it */
        {T5_TIMEOUT_DELAY, 500, 0, 0},
        {T5_TIMEOUT_REJECT, 0, 1, 0}, /* none unless the request asks */
    };
    t5_rqueue q;
    t5_rqueue_init(&q, 3, 1, &pol[0]);
    t5_rqueue_set_level_policy(&q, 2, &pol[1]);
    t5_rqueue_set_level_policy(&q, 3, &pol[2]);
    uint64_t s = 0x9e3779b97f4a7c15u, now = 1000000, next_dl = 0;
    long seq = 0;
    int pushed = 0, rejected = 0, delayed = 0, popped = 0, mismatches = 0, late_next = 0;
    for (int step = 0; step < 60000 && mismatches == 0; step++) {
        now += rnd(&s) % 40000; /* up to 40 us */
        unsigned op = (unsigned)(rnd(&s) % 10);
        if (op < 5 && pushed < N) {
            item *x = &it[pushed];
            memset(&x->r, 0, sizeof x->r);
            x->id = pushed++;
            x->r.rows = 1;
            x->r.priority = 1 + (int)(rnd(&s) % 3);
            x->r.timeout_us = rnd(&s) % 3 ? 0 : 50 + rnd(&s) % 400;
            t5_err e = {0};
            CHECK(t5_rqueue_push(&q, &x->r, now, &e) == 0);
            const t5_queue_policy *p = &pol[x->r.priority - 1];
            uint64_t to = p->default_timeout_us;
            if (x->r.timeout_us && p->allow_timeout_override && (!to || x->r.timeout_us < to))
                to = x->r.timeout_us;
            x->level = x->r.priority - 1;
            x->deadline = to ? now + to * 1000u : UINT64_MAX;
            x->queued = 1;
            x->seq = seq++;
        } else if (op < 8) {
            t5_sched_req *rej = t5_rqueue_expire(&q, now, &next_dl);
            /* the model: every queued request at or past its deadline */
            int want_rej = 0, got_rej = 0;
            for (int i = 0; i < pushed; i++) {
                item *x = &it[i];
                if (!x->queued || x->deadline > now)
                    continue;
                if (x->level == 1) { /* DELAY: behind every level, no deadline */
                    x->level = 3;
                    x->deadline = UINT64_MAX;
                    x->seq = seq++;
                    delayed++;
                } else {
                    x->queued = 0;
                    want_rej++;
                }
            }
            for (t5_sched_req *r = rej; r; r = r->next_) {
                item *x = (item *)r;
                got_rej++;
                if (x->queued || x->deadline > now)
                    mismatches++;
            }
            CHECK_MSG(got_rej == want_rej, "step %d: %d rejected, model %d", step, got_rej,
                      want_rej);
            rejected += got_rej;
            for (int i = 0; i < pushed; i++)
                if (it[i].queued && it[i].deadline < next_dl)
                    late_next++;
        } else {
            /* pop as the in-flight worker does: expiry first, then the head */
            t5_sched_req *rej = t5_rqueue_expire(&q, now, &next_dl);
            for (; rej; rej = rej->next_) {
                item *x = (item *)rej;
                if (!x->queued || x->deadline > now || x->level == 1)
                    mismatches++; /* not due, or DELAY's to move */
                x->queued = 0;
                rejected++;
            }
            for (int i = 0; i < pushed; i++) { /* the model's expiry, as above */
                item *x = &it[i];
                if (x->queued && x->deadline <= now) {
                    if (x->level == 1) {
                        x->level = 3;
                        x->deadline = UINT64_MAX;
                        x->seq = seq++;
                        delayed++;
                    } else {
                        mismatches++; /* due but not rejected */
                        x->queued = 0;
                    }
                }
            }
            item *want = model_first();
            t5_sched_req *r = t5_rqueue_pop(&q);
            CHECK_MSG((item *)r == want, "step %d: popped %d, model %d", step,
                      r ? ((item *)r)->id : -1, want ? want->id : -1);
            if (want) {
                want->queued = 0;
                popped++;
            }
        }
    }
    CHECK_MSG(mismatches == 0, "%d requests expired differently from the model", mismatches);
    CHECK_MSG(late_next == 0, "%d times a pending deadline was earlier than the reported next",
              late_next);
    /* the run exercised every path */
    CHECK(pushed > 1000 && rejected > 100 && delayed > 100 && popped > 100);
}

/* A long queue with no timeouts: expiry never reports a deadline. */
static void test_no_deadlines(void)
{
    t5_queue_policy p = {T5_TIMEOUT_REJECT, 0, 0, 0};
    t5_rqueue q;
    t5_rqueue_init(&q, 1, 1, &p);
    static t5_sched_req r[100];
    t5_err e = {0};
    for (int i = 0; i < 100; i++) {
        r[i].rows = 1;
        r[i].timeout_us = 5; /* ignored: no override allowed */
        CHECK(t5_rqueue_push(&q, &r[i], 1000, &e) == 0);
    }
    uint64_t next = 0;
    CHECK(t5_rqueue_expire(&q, UINT64_MAX - 1, &next) == NULL);
    CHECK(next == UINT64_MAX);
    CHECK(q.n_reqs == 100);
}

int main(void)
{
    RUN(test_random);
    RUN(test_no_deadlines);
    return check_summary();
}
