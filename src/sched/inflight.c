/* inflight.c - iteration-level batching (see inflight.h).
 *
 * A worker's loop, one pass per decoder step:
 *   1. admit: pop queued requests (priority order, timeouts applied), run the
 *      codec's compute input on them, and while their sequences fit the free
 *      slots, give each row a cross slot and its self slots and create its
 *      t5_gen; every admitted row is encoded in one encoder call, started
 *      here (t5_engine_encode_start: on a GPU it runs on its own stream);
 *   2. step every live sequence that was admitted before this pass once
 *      (one t5_engine_step for all of them), while the encoder runs beside
 *      it; then wait for the encoder: the new sequences step from the next
 *      pass on;
 *   3. retire: finished rows free their slots at once and are handed, in
 *      order, to the worker's responder thread, which runs the codec's
 *      compute output and completes a request when its last row is out
 *      (rendering and sending responses is CPU work that would otherwise sit
 *      between two decoder steps: ~15 us a request, a quarter of a step at
 *      full load on the GPU).
 * A request that does not fit yet stays "staged" on its worker (popped and
 * tokenized) until enough sequences retire, which keeps priority order.
 *
 * Buffers are sized once per worker from the engine's limits; the loop
 * itself allocates nothing except what t5_gen_create and the codec do per
 * admitted request.
 */
#include "sched/inflight.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/queue.h"

typedef struct ifl ifl;

typedef struct live {
    t5_sched_req *r;
    int rows_left;
    int n_seqs; /* sequences still stepping */
} live;

typedef struct seq {
    int req; /* index into worker's reqs */
    int row;
    int encoding; /* admitted this pass: its encoder is still running */
    t5_gen *g;
    int32_t cross;
    int n_slots;
    int32_t *slots; /* [n_slots], a window of the worker's slot_store */
} seq;

/* Work handed to a worker's responder, in order: a row's output, or a
 * request's completion (ok: its rows are all out; fail: with code/e). */
enum { RJ_OUTPUT, RJ_DONE, RJ_FAIL };

typedef struct rjob {
    struct rjob *next;
    t5_sched_req *r;
    int kind, row, code, exec_rows;
    uint64_t t_infer;
    t5_gen_result res;
    t5_err e;
    const char *fallback;
} rjob;

/* A request's rows run through compute input at submit, on the
 * submitter's thread: tokenizing there spreads the work over the HTTP
 * threads instead of leaving it between two decoder steps (~270 us a pass
 * at full load on an H200 before). One block: lens, gp, ids. */
typedef struct tokd {
    int32_t *lens;
    t5_gen_params *gp;
    int32_t *ids; /* [rows * max_in] */
} tokd;

typedef struct worker {
    ifl *s;
    t5_engine *e;
    pthread_t th;
    int started;
    int B, S, max_in, max_rows, kmax, V;
    int32_t *self_free, *cross_free;
    int n_self, n_cross;
    int32_t *slot_store; /* [S * S]: seq i's slots at i * S (at most S each) */
    seq *seqs;           /* [S] */
    int n_seqs;
    live *reqs; /* [S] */
    int n_reqs;
    /* the staged request: popped and tokenized, waiting for room */
    t5_sched_req *staged;
    int32_t *st_ids; /* [max_rows * max_in] */
    int32_t *st_lens;
    t5_gen_params *st_gp;
    int st_need;
    /* per-step buffers */
    t5_step_row *rows;
    int *row_off;
    t5_step_out out;
    int32_t *enc_slots, *enc_lens;
    const int32_t **enc_ids;
    int last_rows; /* rows in the latest step */
    uint64_t next_cancel_check;
    uint64_t last_admit_ns; /* when the encoder last ran for new requests */
    uint64_t last_step_ns;  /* when the latest step's results were in */
    int32_t *pin;           /* [S * max_in]: admitted rows' ids until the encoder has read them */
    /* T5_IFL_PROFILE set: where a pass of >= 128 rows goes, summed over
     * the run and printed to stderr when the scheduler stops */
    int prof;
    uint64_t pf_n, pf_adm, pf_enc_n, pf_rows, pf_start, pf_admit, pf_step, pf_wait, pf_adv,
        pf_retire;
    /* ... and the slowest passes of any size, to tell a stall in the worker
     * (which part) from one elsewhere (HTTP, the responder): ns per part */
    struct pf_pass {
        uint64_t total, start, retire, admit, enc, step, wait, adv;
        int rows, n_enc;
    } pf_slow[3];
    uint64_t pf_rmax; /* the responder's longest batch of jobs, ns */
    int pf_rjobs;     /* and how many jobs it held */
    /* the responder: a FIFO of jobs and its thread */
    pthread_t rth;
    int r_started, r_stop, r_busy;
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    rjob *rhead, *rtail;
} worker;

struct ifl {
    t5_sched base;
    t5_sched_config cfg;
    t5_seq_codec codec;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    t5_rqueue q;
    int stopping, drained;
    int n_running;
    worker *w;
    int n_w;
    t5_sched_exec_cb on_exec;
    void *exec_user;
};

static void complete(ifl *s, t5_sched_req *r, int code, const t5_err *e, const char *fallback)
{
    uint64_t now = t5_now_ns();
    free(r->priv_);
    r->priv_ = NULL;
    if (code && !r->status) {
        r->status = code;
        t5_errf(&r->err, code, "%s", e && e->msg[0] ? e->msg : fallback);
    }
    if (!r->t_start_ns)
        r->t_start_ns = now;
    if (!r->t_input_ns)
        r->t_input_ns = r->t_start_ns;
    if (!r->t_infer_ns)
        r->t_infer_ns = now;
    if (!r->t_end_ns)
        r->t_end_ns = now;
    /* Count it done before telling its owner, so t5_sched_pending() is
     * already 0 when the last on_done wakes a waiter. */
    pthread_mutex_lock(&s->mu);
    s->n_running--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    r->on_done(r);
}

/* ---- the responder ------------------------------------------------------- */

static void run_job(ifl *s, rjob *j)
{
    t5_sched_req *r = j->r;
    if (j->kind == RJ_OUTPUT) {
        if (!r->status) { /* a row that failed earlier already decided the outcome */
            t5_err e = {0};
            r->t_infer_ns = j->t_infer;
            int rc = s->codec.output(s->codec.ctx, r, j->row, &j->res, &e);
            if (rc < 0) {
                r->status = rc;
                t5_errf(&r->err, rc, "%s", e.msg[0] ? e.msg : "compute output failed");
            }
        }
        t5_gen_result_clear(&j->res);
    } else if (j->kind == RJ_DONE) {
        r->exec_rows = j->exec_rows;
        r->t_end_ns = t5_now_ns();
        complete(s, r, 0, NULL, NULL);
    } else {
        complete(s, r, j->code, &j->e, j->fallback);
    }
}

static void *responder_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->rmu);
    for (;;) {
        while (!w->rhead && !w->r_stop)
            pthread_cond_wait(&w->rcv, &w->rmu);
        rjob *j = w->rhead;
        if (!j)
            break; /* stopping, and nothing left */
        w->rhead = w->rtail = NULL;
        w->r_busy = 1;
        pthread_mutex_unlock(&w->rmu);
        uint64_t t0 = w->prof ? t5_now_ns() : 0;
        int nj = 0;
        while (j) {
            rjob *n = j->next;
            run_job(w->s, j);
            free(j);
            j = n;
            nj++;
        }
        if (w->prof && t5_now_ns() - t0 > w->pf_rmax) {
            w->pf_rmax = t5_now_ns() - t0;
            w->pf_rjobs = nj;
        }
        pthread_mutex_lock(&w->rmu);
        w->r_busy = 0;
        pthread_cond_broadcast(&w->rcv);
    }
    pthread_mutex_unlock(&w->rmu);
    return NULL;
}

/* Lets the responder answer what is queued, then stops it. */
static void responder_stop(worker *w)
{
    if (!w->r_started)
        return;
    pthread_mutex_lock(&w->rmu);
    w->r_stop = 1;
    pthread_cond_broadcast(&w->rcv);
    pthread_mutex_unlock(&w->rmu);
    pthread_join(w->rth, NULL);
    w->r_started = 0;
}

/* Hands j (malloc'd, or a stack job when allocation failed) to the
 * responder. Without a responder, or without memory for the job, it runs
 * here once everything queued before it has run, so order holds. */
static void push_job(worker *w, rjob *j, int heap)
{
    j->next = NULL;
    pthread_mutex_lock(&w->rmu);
    if (heap && w->r_started) {
        if (w->rtail)
            w->rtail->next = j;
        else
            w->rhead = j;
        w->rtail = j;
        pthread_cond_broadcast(&w->rcv);
        pthread_mutex_unlock(&w->rmu);
        return;
    }
    while (w->rhead || w->r_busy)
        pthread_cond_wait(&w->rcv, &w->rmu);
    pthread_mutex_unlock(&w->rmu);
    run_job(w->s, j);
    if (heap)
        free(j);
}

static void queue_job(worker *w, t5_sched_req *r, int kind, int row, t5_gen_result *res, int code,
                      const t5_err *e, const char *fallback, uint64_t t_infer)
{
    rjob tmp, *j = malloc(sizeof *j);
    int heap = j != NULL;
    if (!j)
        j = &tmp;
    memset(j, 0, sizeof *j);
    j->r = r;
    j->kind = kind;
    j->row = row;
    j->code = code;
    j->fallback = fallback;
    j->t_infer = t_infer;
    j->exec_rows = w->last_rows;
    if (e)
        j->e = *e;
    if (res) { /* the job owns the result from here */
        j->res = *res;
        memset(res, 0, sizeof *res);
    }
    push_job(w, j, heap);
}

/* Fails requests the queue's policy timed out. Called without the lock. */
static void reject_expired(ifl *s, t5_sched_req *list)
{
    while (list) {
        t5_sched_req *n = list->next_;
        pthread_mutex_lock(&s->mu);
        s->n_running++;
        pthread_mutex_unlock(&s->mu);
        complete(s, list, T5_EBUSY, NULL, "Request timeout expired");
        list = n;
    }
}

/* Pops the next request to stage, or NULL. With block set, waits for one
 * (returns NULL once stopping and the queue is empty). */
static t5_sched_req *pop_request(ifl *s, int block)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        uint64_t next_deadline;
        t5_sched_req *expired = t5_rqueue_expire(&s->q, t5_now_ns(), &next_deadline);
        if (expired) {
            pthread_mutex_unlock(&s->mu);
            reject_expired(s, expired);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        t5_sched_req *r = t5_rqueue_pop(&s->q);
        if (r) {
            s->n_running++;
            pthread_mutex_unlock(&s->mu);
            return r;
        }
        if (!block || s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        if (next_deadline == UINT64_MAX) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else {
            struct timespec ts = {(time_t)(next_deadline / 1000000000u),
                                  (long)(next_deadline % 1000000000u)};
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
    }
}

/* Makes r the staged request: its rows, tokenized at submit (tokenize()),
 * into the staging buffers; fails it (and clears staged) on error. */
static int stage(worker *w, t5_sched_req *r)
{
    ifl *s = w->s;
    t5_err e = {0};
    r->t_start_ns = t5_now_ns();
    if (r->rows > w->max_rows) {
        complete(s, r, T5_ELIMIT, NULL, "the request has more rows than the instance can hold");
        return -1;
    }
    const tokd *t = r->priv_;
    int need = 0;
    for (int j = 0; j < r->rows; j++) {
        w->st_lens[j] = t->lens[j];
        w->st_gp[j] = t->gp[j];
        memcpy(w->st_ids + (size_t)j * w->max_in, t->ids + (size_t)j * w->max_in,
               sizeof(int32_t) * t->lens[j]);
        need += t5_gen_slots_needed(&w->st_gp[j]);
    }
    free(r->priv_);
    r->priv_ = NULL;
    if (need > w->S || need > w->B || r->rows > w->S) {
        t5_errf(&e, T5_ELIMIT, "the request needs %d sequence slots; an instance has %d", need,
                w->S < w->B ? w->S : w->B);
        complete(s, r, T5_ELIMIT, &e, "");
        return -1;
    }
    r->t_input_ns = t5_now_ns();
    w->staged = r;
    w->st_need = need;
    return 0;
}

static int rows_in_use(const worker *w)
{
    return w->S - w->n_self;
}

/* Frees one sequence's slots and removes it (swap with the last). */
static void drop_seq(worker *w, int i)
{
    seq *q = &w->seqs[i];
    t5_gen_free(q->g);
    for (int j = 0; j < q->n_slots; j++)
        w->self_free[w->n_self++] = q->slots[j];
    w->cross_free[w->n_cross++] = q->cross;
    w->reqs[q->req].n_seqs--;
    int last = --w->n_seqs;
    if (i != last) {
        /* keep each seq's slot window: swap the windows' contents too */
        int32_t *dst = w->slot_store + (size_t)i * w->S;
        memcpy(dst, w->seqs[last].slots, sizeof(int32_t) * w->seqs[last].n_slots);
        w->seqs[i] = w->seqs[last];
        w->seqs[i].slots = dst;
        w->row_off[i] = w->row_off[last]; /* its rows in a step still in flight */
    }
}

/* Removes request li (all its sequences), completing it with code. */
static void fail_request(worker *w, int li, int code, const t5_err *e, const char *fallback)
{
    for (int i = w->n_seqs - 1; i >= 0; i--)
        if (w->seqs[i].req == li)
            drop_seq(w, i);
    t5_sched_req *r = w->reqs[li].r;
    w->reqs[li].r = NULL;
    queue_job(w, r, RJ_FAIL, 0, NULL, code, e, fallback, 0); /* after its rows' outputs */
}

static int new_live(worker *w, t5_sched_req *r)
{
    for (int i = 0; i < w->n_reqs; i++)
        if (!w->reqs[i].r) {
            w->reqs[i] = (live){r, r->rows, 0};
            return i;
        }
    w->reqs[w->n_reqs] = (live){r, r->rows, 0};
    return w->n_reqs++;
}

/* Admits the staged request into free slots and queues its rows for the
 * encoder. Returns the number of rows queued, or -1 if it failed. */
static int admit(worker *w, int *n_enc)
{
    ifl *s = w->s;
    t5_sched_req *r = w->staged;
    t5_err e = {0};
    w->staged = NULL;
    if (s->codec.begin && s->codec.begin(s->codec.ctx, r, &e) < 0) {
        complete(s, r, e.code ? e.code : T5_ENOMEM, &e, "compute output failed");
        return -1;
    }
    int li = new_live(w, r), n0 = *n_enc;
    const t5_model *m = t5_engine_model(w->e);
    for (int j = 0; j < r->rows; j++) {
        seq *q = &w->seqs[w->n_seqs];
        q->req = li;
        q->row = j;
        q->encoding = 1;
        q->n_slots = t5_gen_slots_needed(&w->st_gp[j]);
        q->slots = w->slot_store + (size_t)w->n_seqs * w->S;
        q->cross = w->cross_free[--w->n_cross];
        for (int k = 0; k < q->n_slots; k++)
            q->slots[k] = w->self_free[--w->n_self];
        int rc = t5_gen_create(&q->g, m, &w->st_gp[j], q->cross, q->slots, &e);
        if (rc < 0) {
            for (int k = 0; k < q->n_slots; k++)
                w->self_free[w->n_self++] = q->slots[k];
            w->cross_free[w->n_cross++] = q->cross;
            fail_request(w, li, rc, &e, "cannot start decoding");
            *n_enc = n0; /* its rows must not reach the encoder: their slots are free again */
            return -1;
        }
        w->n_seqs++;
        w->reqs[li].n_seqs++;
        w->enc_slots[*n_enc] = q->cross;
        w->enc_ids[*n_enc] = w->st_ids + (size_t)j * w->max_in;
        w->enc_lens[*n_enc] = w->st_lens[j];
        (*n_enc)++;
    }
    return r->rows;
}

/* The encoder runs after admission, but staging the next request
 * overwrites st_ids: so each admitted row's ids are copied into the window of
 * its sequence index first. */
static void pin_encoder_inputs(worker *w, int first_seq, int n_enc0, int n_enc, int32_t *pin)
{
    for (int i = n_enc0; i < n_enc; i++) {
        int32_t *dst = pin + (size_t)(first_seq + (i - n_enc0)) * w->max_in;
        memcpy(dst, w->enc_ids[i], sizeof(int32_t) * w->enc_lens[i]);
        w->enc_ids[i] = dst;
    }
}

static void finish_done(worker *w, uint64_t t_infer)
{
    for (int i = w->n_seqs - 1; i >= 0; i--) {
        seq *q = &w->seqs[i];
        if (!t5_gen_done(q->g))
            continue;
        int li = q->req, row = q->row;
        live *L = &w->reqs[li];
        t5_gen_result res = {0};
        t5_err e = {0};
        int rc = t5_gen_take_result(q->g, &res, &e);
        drop_seq(w, i);
        if (rc < 0) {
            t5_gen_result_clear(&res);
            fail_request(w, li, rc, &e, "compute output failed");
            i = w->n_seqs; /* indices moved: rescan */
            continue;
        }
        t5_sched_req *r = L->r;
        queue_job(w, r, RJ_OUTPUT, row, &res, 0, NULL, NULL, t_infer);
        if (--L->rows_left == 0) {
            L->r = NULL;
            queue_job(w, r, RJ_DONE, 0, NULL, 0, NULL, NULL, 0);
        }
        if (i > w->n_seqs)
            i = w->n_seqs;
    }
    while (w->n_reqs > 0 && !w->reqs[w->n_reqs - 1].r)
        w->n_reqs--;
}

/* Asking whether a client left costs a system call per request (the server
 * peeks at its socket), so live requests are polled at most every
 * cfg.cancel_poll_us rather than at every step: with hundreds of sequences
 * live, per-step polling costs more than the decoder step itself. */
static void check_cancelled(worker *w)
{
    uint64_t now = t5_now_ns();
    if (now < w->next_cancel_check)
        return;
    w->next_cancel_check = now + w->s->cfg.cancel_poll_us * 1000u;
    for (int li = 0; li < w->n_reqs; li++) {
        t5_sched_req *r = w->reqs[li].r;
        if (r && r->is_cancelled && r->is_cancelled(r))
            fail_request(w, li, T5_ECANCELED, NULL, "the client went away");
    }
    if (w->staged && w->staged->is_cancelled && w->staged->is_cancelled(w->staged)) {
        t5_sched_req *r = w->staged;
        w->staged = NULL;
        complete(w->s, r, T5_ECANCELED, NULL, "the client went away");
    }
}

static void fail_all(worker *w, int code, const t5_err *e)
{
    for (int li = 0; li < w->n_reqs; li++)
        if (w->reqs[li].r)
            fail_request(w, li, code, e, "execution failed");
    w->n_reqs = 0;
}

/* T5_IFL_PROFILE: keeps the three slowest passes. */
static void note_pass(worker *w, struct pf_pass p)
{
    int i = 3;
    while (i > 0 && p.total > w->pf_slow[i - 1].total)
        i--;
    if (i == 3)
        return;
    memmove(&w->pf_slow[i + 1], &w->pf_slow[i], sizeof p * (size_t)(2 - i));
    w->pf_slow[i] = p;
}

static void print_slow(const worker *w)
{
    for (int i = 0; i < 3 && w->pf_slow[i].total; i++) {
        const struct pf_pass *p = &w->pf_slow[i];
        fprintf(stderr,
                "t5serve: in-flight slowest pass %d: %.0f us (%d rows, %d admitted): rows + step "
                "issue %.0f, retire %.0f, admission + encoder issue %.0f (encoder issue %.0f), step "
                "wait %.0f, encoder wait %.0f, advance %.0f\n",
                i + 1, p->total / 1e3, p->rows, p->n_enc, p->start / 1e3, p->retire / 1e3,
                p->admit / 1e3, p->enc / 1e3, p->step / 1e3, p->wait / 1e3, p->adv / 1e3);
    }
    fprintf(stderr, "t5serve: in-flight responder: longest batch %.0f us (%d jobs)\n",
            w->pf_rmax / 1e3, w->pf_rjobs);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ifl *s = w->s;
    for (;;) {
        check_cancelled(w);
        /* 1. start one step for every live sequence whose encoder has
         * finished; the host admits newcomers while the GPU runs it. */
        uint64_t t0 = t5_now_ns();
        int nr = 0;
        w->out.k = 1;
        for (int i = 0; i < w->n_seqs; i++) {
            w->row_off[i] = nr;
            if (w->seqs[i].encoding)
                continue;
            int got = t5_gen_rows(w->seqs[i].g, w->rows + nr);
            if (s->codec.token && got == 1 && w->rows[nr].pos > 0)
                s->codec.token(s->codec.ctx, w->reqs[w->seqs[i].req].r, w->seqs[i].row,
                               w->rows[nr].token);
            nr += got;
            int k = t5_gen_topk(w->seqs[i].g);
            w->out.k = k > w->out.k ? k : w->out.k;
        }
        t5_err e = {0};
        int step_rc = nr > 0 ? t5_engine_step_start(w->e, nr, w->rows, &w->out, &e) : 0;

        /* 2. retire what finished in the previous pass (it has no rows in
         * this step; drop_seq moves row offsets with the sequences), so its
         * slots are free for the admissions below. */
        uint64_t t_ret = t5_now_ns();
        finish_done(w, w->last_step_ns);
        uint64_t t_started = t5_now_ns();

        /* 3. admit. Every admission runs the encoder beside a decoder step
         * and is waited for before the next one; so while sequences are
         * live, admissions are paced to one per max_queue_delay (newcomers
         * then share one encoder call), and an idle worker admits at once.
         * Admission appends sequences, so the rows of the step in flight
         * keep their indices. */
        int n_enc = 0;
        int paced = w->n_seqs > 0 &&
                    t_started - w->last_admit_ns < s->cfg.max_queue_delay_us * 1000u;
        for (; !paced;) {
            if (!w->staged) {
                int idle = w->n_seqs == 0 && n_enc == 0;
                if (w->n_self == 0 || w->n_cross == 0)
                    break;
                t5_sched_req *r = pop_request(s, idle);
                if (!r)
                    break;
                if (stage(w, r) < 0)
                    continue;
            }
            int need = w->st_need, R = w->staged->rows;
            if (need > w->n_self || R > w->n_cross || rows_in_use(w) + need > w->B)
                break;
            int first = w->n_seqs, n0 = n_enc;
            if (admit(w, &n_enc) >= 0)
                pin_encoder_inputs(w, first, n0, n_enc, w->pin);
        }
        if (nr == 0 && w->n_seqs == 0 && !w->staged) { /* nothing live, no step in flight */
            pthread_mutex_lock(&s->mu);
            int stop = s->stopping && s->q.n_reqs == 0;
            pthread_mutex_unlock(&s->mu);
            if (stop)
                break;
            continue;
        }
        uint64_t t_in = t5_now_ns();
        if (n_enc > 0)
            w->last_admit_ns = t_in;
        t5_err e1 = {0};
        int enc_rc = n_enc > 0 ? t5_engine_encode_start(w->e, n_enc, w->enc_slots, w->enc_ids,
                                                        w->enc_lens, &e1)
                               : 0;
        uint64_t t_issued = w->prof ? t5_now_ns() : 0;
        uint64_t t_enc = t_issued - t_in; /* the encoder's issue alone */

        /* 4. finish the step and the encoder, advance the decoders */
        if (step_rc >= 0)
            step_rc = t5_engine_step_wait(w->e, &e);
        uint64_t t_stepped = t5_now_ns();
        t5_err e2 = {0};
        if (enc_rc < 0 || t5_engine_encode_wait(w->e, &e2) < 0) {
            const t5_err *f = enc_rc < 0 ? &e1 : &e2;
            fail_all(w, f->code ? f->code : T5_EDEVICE, f);
            continue;
        }
        if (step_rc < 0) {
            fail_all(w, e.code ? e.code : T5_EDEVICE, &e);
            continue;
        }
        uint64_t t_waited = w->prof ? t5_now_ns() : 0;
        for (int i = 0; i < w->n_seqs; i++) {
            if (w->seqs[i].encoding)
                continue;
            if (t5_gen_advance(w->seqs[i].g, w->e, &w->out, w->row_off[i], &e) < 0) {
                fail_request(w, w->seqs[i].req, e.code ? e.code : T5_EINVAL, &e, "decoding failed");
                /* Indices moved, so stop here. Sequences not advanced this
                 * time ask for the same position again next step, which
                 * recomputes it: wasted work on a rare path, never a wrong
                 * result. */
                break;
            }
        }
        uint64_t t_adv = w->prof ? t5_now_ns() : 0;
        for (int i = 0; i < w->n_seqs; i++)
            w->seqs[i].encoding = 0;
        uint64_t t_step = t5_now_ns();
        w->last_rows = nr;
        w->last_step_ns = t_step;
        if (w->prof && nr > 0) /* a pass with no step may have waited idle for work */
            note_pass(w, (struct pf_pass){t_step - t0, t_ret - t0, t_started - t_ret,
                                          t_issued - t_started, t_enc, t_stepped - t_issued,
                                          t_waited - t_stepped, t_adv - t_waited, nr, n_enc});
        if (w->prof && nr >= 128) {
            w->pf_n++;
            w->pf_adm += n_enc > 0;
            w->pf_enc_n += n_enc;
            w->pf_rows += nr;
            w->pf_start += t_ret - t0;                  /* rows + issuing the step */
            w->pf_retire += t_started - t_ret;          /* the last pass's finished, GPU busy */
            w->pf_admit += t_issued - t_started;        /* admission + encoder issue, GPU busy */
            w->pf_step += t_stepped - t_issued;         /* what is left of the step */
            w->pf_wait += t_waited - t_stepped;
            w->pf_adv += t_adv - t_waited;
        }
        if (s->on_exec && nr > 0)
            s->on_exec(s->exec_user, nr, t_in - t_started, t_step - t_in, t_started - t_ret);
    }
    responder_stop(w);
    if (w->prof)
        print_slow(w);
    if (w->prof && w->pf_n) {
        double n = (double)w->pf_n;
        fprintf(stderr,
                "t5serve: in-flight (queue delay %d us) passes of >= 128 rows: %llu, %.0f rows, "
                "%.0f%% admitting "
                "(%.1f requests each); us per pass: rows + step issue %.1f, admission + encoder "
                "issue (GPU stepping) %.1f, step wait %.1f, encoder wait %.1f, advance %.1f, "
                "retire (GPU stepping) %.1f\n",
                (int)w->s->cfg.max_queue_delay_us, (unsigned long long)w->pf_n, w->pf_rows / n,
                100.0 * w->pf_adm / n,
                w->pf_adm ? (double)w->pf_enc_n / w->pf_adm : 0.0, w->pf_start / n / 1e3,
                w->pf_admit / n / 1e3, w->pf_step / n / 1e3, w->pf_wait / n / 1e3,
                w->pf_adv / n / 1e3, w->pf_retire / n / 1e3);
    }
    return NULL;
}

/* Compute input for every row of r into r->priv_ (a tokd), with the checks
 * a row must pass before it can be staged. */
static int tokenize(ifl *s, t5_sched_req *r, t5_err *err)
{
    const worker *w = &s->w[0]; /* every instance has the same limits */
    const int rows = r->rows, max_in = w->max_in;
    size_t bytes = sizeof(tokd) + sizeof(int32_t) * (size_t)rows +
                   sizeof(t5_gen_params) * (size_t)rows +
                   sizeof(int32_t) * (size_t)rows * (size_t)max_in;
    tokd *t = malloc(bytes);
    if (!t)
        return t5_errf(err, T5_ENOMEM, "out of memory for the request's tokens");
    t->gp = (t5_gen_params *)(t + 1);
    t->lens = (int32_t *)(t->gp + rows);
    t->ids = t->lens + rows;
    r->priv_ = t;
    const t5_engine_params *ep = t5_engine_params_of(w->e);
    int rc = 0;
    for (int j = 0; j < rows && rc == 0; j++) {
        int32_t *ids = t->ids + (size_t)j * max_in;
        int n = s->codec.input(s->codec.ctx, r, j, ids, max_in, &t->gp[j], err);
        if (n < 0) {
            rc = n;
        } else if (n < 1 || n > max_in) {
            rc = t5_errf(err, n < 1 ? T5_EINVAL : T5_ELIMIT,
                         "text_input element %d has %d tokens; the limit is %d", j, n, max_in);
        } else {
            t->lens[j] = n;
            rc = t5_gen_params_check(&t->gp[j], ep, err);
        }
    }
    if (rc < 0) {
        free(t);
        r->priv_ = NULL;
    }
    return rc;
}

static int i_submit(t5_sched *base, t5_sched_req *r, t5_err *err)
{
    ifl *s = (ifl *)base;
    if (r->rows < 1)
        return t5_errf(err, T5_EINVAL, "a request needs at least one row");
    if (s->cfg.max_batch_size > 0 && r->rows > s->cfg.max_batch_size)
        return t5_errf(err, T5_ELIMIT,
                       "inference request batch-size must be <= %d for this model, got %d",
                       s->cfg.max_batch_size, r->rows);
    r->status = 0;
    r->err.code = 0;
    r->err.msg[0] = '\0';
    r->t_start_ns = r->t_input_ns = r->t_infer_ns = r->t_end_ns = 0;
    int rc = tokenize(s, r, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = s->stopping ? t5_errf(err, T5_EBUSY, "the server is shutting down")
                     : t5_rqueue_push(&s->q, r, t5_now_ns(), err);
    if (rc == 0)
        pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        free(r->priv_);
        r->priv_ = NULL;
    }
    return rc;
}

static void i_drain(t5_sched *base)
{
    ifl *s = (ifl *)base;
    pthread_mutex_lock(&s->mu);
    if (s->drained) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->stopping = s->drained = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_w; i++)
        if (s->w[i].started)
            pthread_join(s->w[i].th, NULL);
}

static int i_pending(t5_sched *base)
{
    ifl *s = (ifl *)base;
    pthread_mutex_lock(&s->mu);
    int n = s->q.n_reqs + s->n_running;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void worker_release(worker *w)
{
    t5_engine_free(w->e);
    free(w->self_free);
    free(w->cross_free);
    free(w->slot_store);
    free(w->seqs);
    free(w->reqs);
    free(w->st_ids);
    free(w->st_lens);
    free(w->st_gp);
    free(w->rows);
    free(w->row_off);
    free(w->out.logprob);
    free(w->out.ids);
    free(w->out.logits);
    free(w->enc_slots);
    free(w->enc_lens);
    free(w->enc_ids);
    free(w->pin);
    pthread_cond_destroy(&w->rcv);
    pthread_mutex_destroy(&w->rmu);
}

static void i_free(t5_sched *base)
{
    ifl *s = (ifl *)base;
    i_drain(base);
    for (int i = 0; i < s->n_w; i++)
        worker_release(&s->w[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->w);
    free(s);
}

static const t5_sched_ops inflight_ops = {i_submit, i_drain, i_pending, i_free};

static int worker_init(worker *w, ifl *s, t5_engine *e)
{
    const t5_engine_params *ep = t5_engine_params_of(e);
    w->s = s;
    w->e = e;
    w->prof = getenv("T5_IFL_PROFILE") != NULL;
    w->B = ep->max_batch;
    w->S = ep->max_slots < ep->max_batch ? ep->max_slots : ep->max_batch;
    w->max_in = ep->max_input_len;
    w->max_rows = s->cfg.max_batch_size > 0 ? s->cfg.max_batch_size : 1;
    if (w->max_rows > w->S)
        w->max_rows = w->S;
    w->kmax = 2 * w->B; /* top-k of a beam request is 2 * num_beams <= 2 * B */
    w->V = t5_model_config(t5_engine_model(e))->vocab_size;
    size_t S = (size_t)w->S, B = (size_t)w->B;
    w->self_free = malloc(sizeof(int32_t) * S);
    w->cross_free = malloc(sizeof(int32_t) * S);
    w->slot_store = malloc(sizeof(int32_t) * S * S);
    w->seqs = calloc(S, sizeof *w->seqs);
    w->reqs = calloc(S, sizeof *w->reqs);
    w->st_ids = malloc(sizeof(int32_t) * (size_t)w->max_rows * w->max_in);
    w->st_lens = malloc(sizeof(int32_t) * (size_t)w->max_rows);
    w->st_gp = calloc((size_t)w->max_rows, sizeof *w->st_gp);
    w->rows = malloc(sizeof(t5_step_row) * B);
    w->row_off = malloc(sizeof(int) * S);
    w->out.logprob = malloc(sizeof(float) * B * (size_t)w->kmax);
    w->out.ids = malloc(sizeof(int32_t) * B * (size_t)w->kmax);
    w->out.logits = malloc(sizeof(float) * B * (size_t)w->V);
    w->enc_slots = malloc(sizeof(int32_t) * S);
    w->enc_lens = malloc(sizeof(int32_t) * S);
    w->enc_ids = malloc(sizeof(int32_t *) * S);
    w->pin = malloc(sizeof(int32_t) * S * (size_t)w->max_in);
    if (!w->pin || !w->self_free || !w->cross_free || !w->slot_store || !w->seqs || !w->reqs ||
        !w->st_ids || !w->st_lens || !w->st_gp || !w->rows || !w->row_off || !w->out.logprob ||
        !w->out.ids || !w->out.logits || !w->enc_slots || !w->enc_lens || !w->enc_ids)
        return T5_ENOMEM;
    for (int i = 0; i < w->S; i++)
        w->self_free[i] = w->cross_free[i] = w->S - 1 - i;
    w->n_self = w->n_cross = w->S;
    return 0;
}

static void worker_start(worker *w, int i, t5_err *err, int *rc)
{
    /* The responder first: the worker may hand it jobs at once. Without it
     * the worker answers requests itself (push_job). */
    if (pthread_create(&w->rth, NULL, responder_main, w) == 0)
        w->r_started = 1;
    if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
        *rc = t5_errf(err, T5_ENOMEM, "cannot start worker thread %d", i);
        responder_stop(w);
    } else {
        w->started = 1;
    }
}

int t5_sched_inflight_create(t5_sched **out, const t5_sched_config *cfg, t5_engine **engines,
                             int n_engines, const t5_seq_codec *codec, t5_sched_exec_cb on_exec,
                             void *exec_user, t5_err *err)
{
    *out = NULL;
    ifl *s = calloc(1, sizeof *s);
    worker *w = calloc(n_engines > 0 ? (size_t)n_engines : 1, sizeof *w);
    if (!s || !w || n_engines < 1 || !codec || !codec->input || !codec->output) {
        for (int i = 0; i < n_engines; i++)
            t5_engine_free(engines[i]);
        free(s);
        free(w);
        return !s || !w ? t5_errf(err, T5_ENOMEM, "out of memory creating the scheduler")
                        : t5_errf(err, T5_EINVAL, "in-flight scheduler: bad arguments");
    }
    s->base.ops = &inflight_ops;
    s->cfg = *cfg;
    s->codec = *codec;
    s->w = w;
    s->n_w = n_engines;
    s->on_exec = on_exec;
    s->exec_user = exec_user;
    t5_rqueue_init(&s->q, cfg->priority_levels, cfg->default_priority_level, &cfg->policy);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = 0;
    for (int i = 0; i < n_engines; i++) {
        w[i].e = engines[i];
        pthread_mutex_init(&w[i].rmu, NULL);
        pthread_cond_init(&w[i].rcv, NULL);
        if (rc == 0 && worker_init(&w[i], s, engines[i]) < 0)
            rc = t5_errf(err, T5_ENOMEM, "out of memory for instance %d's buffers", i);
    }
    for (int i = 0; rc == 0 && i < n_engines; i++)
        worker_start(&w[i], i, err, &rc);
    if (rc < 0) {
        i_free(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
