/* generate.c - t5_generate: runs a batch of requests to completion on one
 * engine. Requests are admitted while their rows fit max_batch and their
 * slots fit the pools; admitted requests are encoded together, then every
 * live request is stepped together. When requests finish, waiting ones are
 * admitted and encoded between steps (iteration-level batching in miniature,
 * the pattern the server's scheduler uses). */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_priv.h"

typedef struct live_req {
    int idx; /* request index */
    t5_gen *g;
    int n_slots;
    int32_t cross;
    int32_t *slots;
} live_req;

/* Chained greedy steps (t5_engine_steps_greedy): on a GPU, once every
 * request is admitted and decodes greedily on <= T5_ENGINE_CHAIN_ROWS rows
 * (the latency case), several steps go out in one round trip. Steps a
 * request does not need after its EOS are skipped on the device (or run
 * and ignored). 0 or 1: step by step. */
#define GEN_CHAIN 8
static int chain_len(const t5_engine *e, const live_req *live, int n_live, int nr)
{
    if (e->be->device == T5_DEVICE_CPU || e->no_chain || nr > T5_ENGINE_CHAIN_ROWS)
        return 0;
    /* Up to GEN_CHAIN steps, more (up to T5_ENGINE_CHAIN_STEPS) while EOS is
     * masked for every request (min_new_tokens): those steps cannot be cut
     * short, so one round trip takes them all. */
    int len = T5_ENGINE_CHAIN_STEPS, sure = T5_ENGINE_CHAIN_STEPS;
    for (int i = 0; i < n_live; i++) {
        int left = t5__gen_greedy_left(live[i].g), m = 0;
        len = left < len ? left : len;
        while (m < sure && t5__gen_no_eos(live[i].g, m))
            m++;
        sure = m;
    }
    int cap = sure > GEN_CHAIN ? sure : GEN_CHAIN;
    return len < cap ? len : cap;
}

static int chain_steps(t5_engine *e, live_req *live, int n_live, const t5_step_row *rows, int nr,
                       const int *row_off, int S, t5_err *err)
{
    uint8_t no_eos[T5_ENGINE_CHAIN_STEPS * T5__ABS_MAX_ROWS] = {0};
    int32_t ids[T5_ENGINE_CHAIN_STEPS * T5__ABS_MAX_ROWS];
    float lp[T5_ENGINE_CHAIN_STEPS * T5__ABS_MAX_ROWS];
    for (int s = 0; s < S; s++)
        for (int i = 0; i < n_live; i++)
            no_eos[s * nr + row_off[i]] = (uint8_t)t5__gen_no_eos(live[i].g, s);
    int rc = t5_engine_steps_greedy(e, nr, rows, S, no_eos, ids, lp, err);
    if (rc < 0)
        return rc;
    for (int s = 0; s < S; s++) {
        t5_step_out o = {1, lp + s * nr, ids + s * nr, NULL};
        for (int i = 0; i < n_live; i++)
            if ((rc = t5_gen_advance(live[i].g, e, &o, row_off[i], err)) < 0)
                return rc;
    }
    return 0;
}

int t5_generate(t5_engine *e, int n, const int32_t *const *ids, const int32_t *lens,
                const t5_gen_params *params, int per_request, t5_gen_result *results, t5_err *err)
{
    return t5_generate_ex(e, n, ids, lens, params, per_request, results, NULL, err);
}

int t5_generate_ex(t5_engine *e, int n, const int32_t *const *ids, const int32_t *lens,
                   const t5_gen_params *params, int per_request, t5_gen_result *results,
                   const t5_gen_hooks *hooks, t5_err *err)
{
    static const t5_gen_hooks none = {0};
    if (!hooks)
        hooks = &none;
    if (!e || !ids || !lens || !params || !results || n < 1)
        return t5_errf(err, T5_EINVAL, "t5_generate: bad arguments");
    if (n > e->p.max_batch)
        return t5_errf(err, T5_ELIMIT, "t5_generate: %d requests, max_batch is %d", n,
                       e->p.max_batch);
    memset(results, 0, sizeof(*results) * n);
    int kmax = 1, any_sample = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        const t5_gen_params *p = per_request ? &params[i] : params;
        if ((rc = t5_gen_params_check(p, &e->p, err)) < 0)
            return t5_err_wrap(err, rc, "request %d", i);
        if (lens[i] < 1 || lens[i] > e->p.max_input_len)
            return t5_errf(err, T5_ELIMIT, "request %d: input length %d not in 1..%d", i, lens[i],
                           e->p.max_input_len);
        int k = p->num_beams > 1 && !p->do_sample ? 2 * p->num_beams : 1;
        kmax = k > kmax ? k : kmax;
        any_sample |= p->do_sample;
    }
    int B = e->p.max_batch, S = e->p.max_slots, V = e->V;
    int n_self = S, n_cross = S, next = 0, n_live = 0, rows_used = 0, finished = 0;
    live_req *live = calloc(n, sizeof *live);
    int32_t *self_free = malloc(sizeof(int32_t) * S), *cross_free = malloc(sizeof(int32_t) * S);
    t5_step_row *rows = malloc(sizeof(t5_step_row) * B);
    int *row_off = malloc(sizeof(int) * n);
    t5_step_out out = {0};
    out.logprob = malloc(sizeof(float) * B * kmax);
    out.ids = malloc(sizeof(int32_t) * B * kmax);
    out.logits = any_sample ? malloc(sizeof(float) * (size_t)B * V) : NULL;
    int32_t *enc_slots = malloc(sizeof(int32_t) * n), *enc_lens = malloc(sizeof(int32_t) * n);
    const int32_t **enc_ids = malloc(sizeof(int32_t *) * n);
    if (!live || !self_free || !cross_free || !rows || !row_off || !out.logprob || !out.ids ||
        (any_sample && !out.logits) || !enc_slots || !enc_lens || !enc_ids) {
        rc = t5_errf(err, T5_ENOMEM, "t5_generate: out of memory");
        goto done;
    }
    for (int i = 0; i < S; i++)
        self_free[i] = cross_free[i] = S - 1 - i; /* pop from the end: slot 0 first */

    while (finished < n) {
        /* Admit what fits, encode it as one batch. */
        int n_enc = 0;
        while (next < n) {
            const t5_gen_params *p = per_request ? &params[next] : params;
            int need = t5_gen_slots_needed(p);
            if (need > n_self || n_cross < 1 || rows_used + need > B)
                break;
            live_req *L = &live[n_live];
            L->idx = next;
            L->n_slots = need;
            L->cross = cross_free[--n_cross];
            L->slots = malloc(sizeof(int32_t) * need);
            if (!L->slots) {
                rc = t5_errf(err, T5_ENOMEM, "t5_generate: out of memory");
                goto done;
            }
            for (int j = 0; j < need; j++)
                L->slots[j] = self_free[--n_self];
            if ((rc = t5_gen_create(&L->g, e->m, p, L->cross, L->slots, err)) < 0) {
                free(L->slots);
                goto done;
            }
            n_live++;
            rows_used += need;
            enc_slots[n_enc] = L->cross;
            enc_ids[n_enc] = ids[next];
            enc_lens[n_enc] = lens[next];
            n_enc++;
            next++;
        }
        /* The encoder fills the absorbed entries too where the first steps
         * will take them: every live request new and greedy with one row,
         * no more rows than absorb (step.c). */
        int absorb = n_enc == n_live && rows_used == n_enc && n_enc <= e->abs_rows;
        for (int i = 0; absorb && i < n_enc; i++) {
            const t5_gen_params *p = per_request ? &params[live[i].idx] : params;
            absorb = p->num_beams <= 1 && !p->do_sample;
        }
        if (n_enc > 0 &&
            (rc = t5__encode_joined(e, n_enc, enc_slots, enc_ids, enc_lens, absorb, err)) < 0)
            goto done;
        if (n_live == 0) { /* cannot happen after the parameter checks */
            rc = t5_errf(err, T5_ELIMIT, "t5_generate: request %d does not fit the engine", next);
            goto done;
        }

        /* One step for every live request. */
        int nr = 0;
        out.k = 1;
        if (hooks->begin_step)
            hooks->begin_step(hooks->user);
        for (int i = 0; i < n_live; i++) {
            row_off[i] = nr;
            int got = t5_gen_rows(live[i].g, rows + nr);
            if (hooks->on_rows)
                hooks->on_rows(hooks->user, live[i].idx, rows + nr, got);
            nr += got;
            int k = t5_gen_topk(live[i].g);
            out.k = k > out.k ? k : out.k;
        }
        int chain =
            next == n && !hooks->begin_step && !hooks->on_rows ? chain_len(e, live, n_live, nr) : 0;
        if (chain > 1) {
            if ((rc = chain_steps(e, live, n_live, rows, nr, row_off, chain, err)) < 0)
                goto done;
        } else {
            if ((rc = t5_engine_step(e, nr, rows, &out, err)) < 0)
                goto done;
            for (int i = 0; i < n_live; i++)
                if ((rc = t5_gen_advance(live[i].g, e, &out, row_off[i], err)) < 0)
                    goto done;
        }

        /* Retire finished (and cancelled) requests, returning their slots. */
        for (int i = 0; i < n_live;) {
            live_req *L = &live[i];
            int gone = hooks->cancelled && hooks->cancelled(hooks->user, L->idx);
            if (!gone && !t5_gen_done(L->g)) {
                i++;
                continue;
            }
            if (!gone && (rc = t5_gen_take_result(L->g, &results[L->idx], err)) < 0)
                goto done;
            t5_gen_free(L->g);
            for (int j = 0; j < L->n_slots; j++)
                self_free[n_self++] = L->slots[j];
            cross_free[n_cross++] = L->cross;
            rows_used -= L->n_slots;
            free(L->slots);
            live[i] = live[--n_live];
            finished++;
        }
    }
done:
    if (rc < 0) /* nothing stays in flight, a joined encode included */
        e->be->vt->sync(e->st, NULL);
    for (int i = 0; live && i < n_live; i++) {
        t5_gen_free(live[i].g);
        free(live[i].slots);
    }
    if (rc < 0)
        for (int i = 0; i < n; i++)
            t5_gen_result_clear(&results[i]);
    free(live);
    free(self_free);
    free(cross_free);
    free(rows);
    free(row_off);
    free(out.logprob);
    free(out.ids);
    free(out.logits);
    free(enc_slots);
    free(enc_lens);
    free(enc_ids);
    return rc;
}
