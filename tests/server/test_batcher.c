/* test_batcher.c - the dynamic batcher behind a fake executor: batch
 * formation (preferred sizes, rows), priorities, queue timeouts, max queue
 * size, cancellation and draining. Waits are bounded and nothing asserts a
 * duration. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "sched/sched.h"

typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_closed; /* executions wait while set */
    int in_exec;
    int batches[64]; /* rows of each execution */
    int n_batches;
    int order[64]; /* ids in execution order */
    int n_order;
    int done;
} fake;

typedef struct req {
    t5_sched_req r;
    fake *f;
    int id;
    int cancelled;
} req;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int fake_run(void *ctx, t5_sched_req **reqs, int n, t5_err *err)
{
    fake *f = ctx;
    (void)err;
    pthread_mutex_lock(&f->mu);
    f->in_exec++;
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed)
        pthread_cond_wait(&f->cv, &f->mu);
    int rows = 0;
    for (int i = 0; i < n; i++) {
        rows += reqs[i]->rows;
        if (f->n_order < 64)
            f->order[f->n_order++] = ((req *)reqs[i])->id;
    }
    if (f->n_batches < 64)
        f->batches[f->n_batches++] = rows;
    f->in_exec--;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static void on_done(t5_sched_req *r)
{
    fake *f = ((req *)r)->f;
    pthread_mutex_lock(&f->mu);
    f->done++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static int is_cancelled(t5_sched_req *r)
{
    return ((req *)r)->cancelled;
}

static void fake_init(fake *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

/* Waits (at most ~10 s, so a bug fails instead of hanging) for a condition. */
static int wait_for(fake *f, int *field, int value)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&f->mu);
        int v = *field;
        pthread_mutex_unlock(&f->mu);
        if (v >= value)
            return 1;
        sleep_ms(5);
    }
    return 0;
}

static void gate(fake *f, int closed)
{
    pthread_mutex_lock(&f->mu);
    f->gate_closed = closed;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static t5_sched *make(fake *f, const t5_sched_config *c, int instances)
{
    t5_executor ex[4];
    for (int i = 0; i < instances; i++)
        ex[i] = (t5_executor){f, fake_run, NULL};
    t5_sched *s = NULL;
    t5_err err = {0};
    CHECK_EQ_INT(t5_sched_batcher_create(&s, c, ex, instances, NULL, NULL, &err), 0);
    return s;
}

static void init_req(req *q, fake *f, int id, int rows, int prio)
{
    memset(q, 0, sizeof *q);
    q->f = f;
    q->id = id;
    q->r.rows = rows;
    q->r.priority = prio;
    q->r.on_done = on_done;
    q->r.is_cancelled = is_cancelled;
}

static void test_preferred(void)
{
    fake f;
    fake_init(&f);
    t5_sched_config c = t5_sched_default_config();
    c.max_batch_size = 8;
    c.dynamic = 1;
    c.preferred[0] = 4;
    c.n_preferred = 1;
    c.max_queue_delay_us = 60000000; /* never reached: the preferred size triggers */
    t5_sched *s = make(&f, &c, 1);
    req q[4];
    t5_err err = {0};
    for (int i = 0; i < 4; i++) {
        init_req(&q[i], &f, i, 1, 0);
        CHECK_EQ_INT(t5_sched_submit(s, &q[i].r, &err), 0);
    }
    CHECK(wait_for(&f, &f.done, 4));
    CHECK_EQ_INT(f.n_batches, 1);
    CHECK_EQ_INT(f.batches[0], 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(q[i].r.exec_rows, 4);
    t5_sched_free(s);
}

static void test_rows_and_no_batching(void)
{
    fake f;
    fake_init(&f);
    t5_sched_config c = t5_sched_default_config();
    c.max_batch_size = 4;
    c.dynamic = 1;
    t5_sched *s = make(&f, &c, 1);
    gate(&f, 1);
    req q[4];
    t5_err err = {0};
    init_req(&q[0], &f, 0, 1, 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[0].r, &err), 0);
    CHECK(wait_for(&f, &f.in_exec, 1));
    for (int i = 1; i < 4; i++) {
        init_req(&q[i], &f, i, i == 3 ? 1 : 3, 0);
        CHECK_EQ_INT(t5_sched_submit(s, &q[i].r, &err), 0);
    }
    init_req(&q[0], &f, 9, 5, 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[0].r, &err), T5_ELIMIT); /* rows > max_batch_size */
    gate(&f, 0);
    CHECK(wait_for(&f, &f.done, 4));
    /* [1] then 3+3 does not fit in 4: [3], then [3,1] */
    CHECK_EQ_INT(f.n_batches, 3);
    CHECK_EQ_INT(f.batches[1], 3);
    CHECK_EQ_INT(f.batches[2], 4);
    t5_sched_free(s);

    /* without dynamic_batching every request runs alone */
    fake_init(&f);
    c.dynamic = 0;
    s = make(&f, &c, 1);
    gate(&f, 1);
    for (int i = 0; i < 3; i++) {
        init_req(&q[i], &f, i, 1, 0);
        CHECK_EQ_INT(t5_sched_submit(s, &q[i].r, &err), 0);
    }
    gate(&f, 0);
    CHECK(wait_for(&f, &f.done, 3));
    CHECK_EQ_INT(f.n_batches, 3);
    t5_sched_free(s);
}

static void test_priority_and_queue_size(void)
{
    fake f;
    fake_init(&f);
    t5_sched_config c = t5_sched_default_config();
    c.max_batch_size = 1;
    c.dynamic = 1;
    c.priority_levels = 2;
    c.default_priority_level = 2;
    c.policy.max_queue_size = 2;
    c.level_policy[0].max_queue_size = 1;
    c.level_policy_set = 1;
    t5_sched *s = make(&f, &c, 1);
    gate(&f, 1);
    req q[6];
    t5_err err = {0};
    init_req(&q[0], &f, 0, 1, 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[0].r, &err), 0);
    CHECK(wait_for(&f, &f.in_exec, 1));
    init_req(&q[1], &f, 1, 1, 0); /* default level 2 */
    init_req(&q[2], &f, 2, 1, 2);
    init_req(&q[3], &f, 3, 1, 2); /* level 2 is full */
    init_req(&q[4], &f, 4, 1, 1); /* level 1 has room */
    init_req(&q[5], &f, 5, 1, 3); /* no such level */
    CHECK_EQ_INT(t5_sched_submit(s, &q[1].r, &err), 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[2].r, &err), 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[3].r, &err), T5_EBUSY);
    CHECK(strstr(err.msg, "maximum queue size") != NULL);
    CHECK_EQ_INT(t5_sched_submit(s, &q[4].r, &err), 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[5].r, &err), T5_EINVAL);
    CHECK_EQ_INT(t5_sched_pending(s), 4);
    /* level 1's own policy: a queue of 1, now full */
    req extra;
    init_req(&extra, &f, 6, 1, 1);
    CHECK_EQ_INT(t5_sched_submit(s, &extra.r, &err), T5_EBUSY);
    gate(&f, 0);
    CHECK(wait_for(&f, &f.done, 4));
    CHECK_EQ_INT(f.n_order, 4);
    CHECK_EQ_INT(f.order[1], 4); /* the high-priority request overtakes */
    CHECK_EQ_INT(f.order[2], 1);
    CHECK_EQ_INT(f.order[3], 2);
    t5_sched_free(s);
}

static void test_timeout_and_cancel(void)
{
    fake f;
    fake_init(&f);
    t5_sched_config c = t5_sched_default_config();
    c.max_batch_size = 4;
    c.dynamic = 1;
    c.policy.allow_timeout_override = 1;
    t5_sched *s = make(&f, &c, 1);
    gate(&f, 1);
    req q[4];
    t5_err err = {0};
    init_req(&q[0], &f, 0, 1, 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[0].r, &err), 0);
    CHECK(wait_for(&f, &f.in_exec, 1));
    init_req(&q[1], &f, 1, 1, 0);
    q[1].r.timeout_us = 1000; /* expires while the worker is busy */
    init_req(&q[2], &f, 2, 1, 0);
    q[2].cancelled = 1; /* its client went away */
    init_req(&q[3], &f, 3, 1, 0);
    for (int i = 1; i < 4; i++)
        CHECK_EQ_INT(t5_sched_submit(s, &q[i].r, &err), 0);
    sleep_ms(20); /* let the 1 ms timeout pass; the outcome does not depend on timing */
    gate(&f, 0);
    CHECK(wait_for(&f, &f.done, 4));
    CHECK_EQ_INT(q[1].r.status, T5_EBUSY);
    CHECK(strstr(q[1].r.err.msg, "timeout") != NULL);
    CHECK_EQ_INT(q[2].r.status, T5_ECANCELED);
    CHECK_EQ_INT(q[3].r.status, 0);
    CHECK_EQ_INT(f.n_order, 2); /* only 0 and 3 ran */
    t5_sched_free(s);

    /* DELAY: the expired request still runs, after the others */
    fake_init(&f);
    c.max_batch_size = 1;
    c.policy.timeout_action = T5_TIMEOUT_DELAY;
    s = make(&f, &c, 1);
    gate(&f, 1);
    init_req(&q[0], &f, 0, 1, 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[0].r, &err), 0);
    CHECK(wait_for(&f, &f.in_exec, 1));
    init_req(&q[1], &f, 1, 1, 0);
    q[1].r.timeout_us = 1000;
    init_req(&q[2], &f, 2, 1, 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[1].r, &err), 0);
    sleep_ms(20);
    CHECK_EQ_INT(t5_sched_submit(s, &q[2].r, &err), 0);
    gate(&f, 0);
    CHECK(wait_for(&f, &f.done, 3));
    CHECK_EQ_INT(q[1].r.status, 0);
    CHECK_EQ_INT(f.order[1], 2);
    CHECK_EQ_INT(f.order[2], 1);
    t5_sched_free(s);
}

static void test_drain(void)
{
    fake f;
    fake_init(&f);
    t5_sched_config c = t5_sched_default_config();
    c.max_batch_size = 2;
    c.dynamic = 1;
    c.max_queue_delay_us = 60000000; /* draining must not wait for the delay */
    t5_sched *s = make(&f, &c, 2);
    req q[5];
    t5_err err = {0};
    for (int i = 0; i < 5; i++) {
        init_req(&q[i], &f, i, 1, 0);
        CHECK_EQ_INT(t5_sched_submit(s, &q[i].r, &err), 0);
    }
    t5_sched_drain(s);
    CHECK_EQ_INT(f.done, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(q[i].r.status, 0);
    init_req(&q[0], &f, 9, 1, 0);
    CHECK_EQ_INT(t5_sched_submit(s, &q[0].r, &err), T5_EBUSY);
    CHECK_EQ_INT(t5_sched_pending(s), 0);
    t5_sched_free(s);
}

int main(void)
{
    RUN(test_preferred);
    RUN(test_rows_and_no_batching);
    RUN(test_priority_and_queue_size);
    RUN(test_timeout_and_cancel);
    RUN(test_drain);
    return check_summary();
}
