/* exec_t5.c - the T5 executor: text in, generated text out, on one engine.
 *
 * compute_input is tokenization, compute_infer is generation (one loop for
 * the whole batch, t5_generate's over the t5_gen API: requests with
 * different parameters share the encoder pass and decoder steps), and
 * compute_output is detokenization. Buffers for the largest batch are
 * allocated once, when the instance is created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/exec.h"
#include "server/infer.h"

typedef struct t5x {
    t5_engine *e;
    const t5_tokenizer *tok;
    int max_rows;  /* texts per generation loop */
    int max_slots; /* self slots of the engine */
    int max_in;    /* tokens per text, EOS included */
    int32_t *ids;  /* [max_rows * max_in] */
    const int32_t **ptr;
    int32_t *lens;
    t5_gen_params *gp;
    t5_gen_result *res;
    int *owner; /* [max_rows]: request index of each row */
    int *orow;  /* [max_rows]: row within its request */
} t5x;

static void t5x_free(void *ctx)
{
    t5x *x = ctx;
    if (!x)
        return;
    t5_engine_free(x->e);
    free(x->ids);
    free(x->ptr);
    free(x->lens);
    free(x->gp);
    free(x->res);
    free(x->owner);
    free(x->orow);
    free(x);
}

static void fail(t5_sched_req *r, int code, const t5_err *e, const char *fallback)
{
    if (r->status)
        return;
    r->status = code;
    t5_errf(&r->err, code, "%s", e && e->msg[0] ? e->msg : fallback);
}

/* Decodes one sequence into s. Ids the tokenizer does not know (a model's
 * vocabulary is often padded beyond the tokenizer's) are dropped. */
static int decode_seq(const t5_tokenizer *tok, const t5_gen_seq *g, t5_infer_seq *s, t5_err *err)
{
    int vocab = t5_tokenizer_vocab_size(tok);
    s->ids = malloc((size_t)(g->n_ids > 0 ? g->n_ids : 1) * sizeof *s->ids);
    int32_t *known = malloc((size_t)(g->n_ids > 0 ? g->n_ids : 1) * sizeof *known);
    if (!s->ids || !known) {
        free(known);
        return t5_errf(err, T5_ENOMEM, "out of memory");
    }
    int nk = 0;
    for (int i = 0; i < g->n_ids; i++) {
        s->ids[i] = g->ids[i];
        if (g->ids[i] >= 0 && g->ids[i] < vocab)
            known[nk++] = g->ids[i];
    }
    s->n_ids = g->n_ids;
    s->score = g->score;
    size_t cap = 64 + (size_t)nk * 8;
    for (int tries = 0; tries < 2; tries++) {
        s->text = malloc(cap);
        if (!s->text) {
            free(known);
            return t5_errf(err, T5_ENOMEM, "out of memory");
        }
        int n = t5_tokenizer_decode(tok, known, nk, s->text, cap, T5_TOK_SKIP_SPECIAL, err);
        if (n < 0) {
            free(known);
            return n;
        }
        if ((size_t)n < cap) {
            s->text_len = (size_t)n;
            free(known);
            return 0;
        }
        free(s->text);
        s->text = NULL;
        cap = (size_t)n + 1;
    }
    free(known);
    return t5_errf(err, T5_EFORMAT, "detokenization did not converge");
}

/* ---- streaming ------------------------------------------------------------ */

/* Appends a generated token to a streaming request and sends the new text.
 * SentencePiece text of a prefix is not always a prefix of the longer
 * text (a piece may change how the previous one renders), so a delta goes
 * out only when the new text extends what was sent. */
static void stream_token(t5x *x, t5_infer_req *ir, int32_t tok)
{
    if (ir->s_n == ir->s_cap) {
        int cap = ir->s_cap ? ir->s_cap * 2 : 32;
        int32_t *p = realloc(ir->s_ids, (size_t)cap * sizeof *p);
        if (!p)
            return;
        ir->s_ids = p;
        ir->s_cap = cap;
    }
    ir->s_ids[ir->s_n++] = tok;
    t5_gen_seq g = {ir->s_ids, ir->s_n, 0};
    t5_infer_seq s = {0};
    t5_err e = {0};
    if (decode_seq(x->tok, &g, &s, &e) == 0 && s.text_len > ir->s_text_len &&
        (!ir->s_text_len || !memcmp(s.text, ir->s_text, ir->s_text_len))) {
        ir->on_delta(ir, s.text + ir->s_text_len, s.text_len - ir->s_text_len);
        free(ir->s_text);
        ir->s_text = s.text;
        ir->s_text_len = s.text_len;
        s.text = NULL;
    }
    free(s.text);
    free(s.ids);
}

typedef struct live_req {
    int idx; /* row index in this call */
    t5_gen *g;
    int n_slots;
    int32_t cross;
    int32_t *slots;
} live_req;

/* t5_generate's admission/step/retire loop (src/engine/generate.c) over the
 * public t5_gen API, with two additions the server needs: after every decoder
 * step each streaming row's new token is sent (generate_stream), and rows
 * whose client left are retired at the next step, their slots freed, so a
 * vanished client stops costing compute mid-generation. Streams learn of it
 * from their response; other requests by peeking at their socket, at most
 * every CANCEL_CHECK_NS so the syscalls stay off the step's critical path. */
#define CANCEL_CHECK_NS 2000000u

static int gen_loop(t5x *x, t5_sched_req **reqs, int n, const int32_t *const *ids,
                    const int32_t *lens, const t5_gen_params *params, const int *owner,
                    t5_gen_result *results, t5_err *err)
{
    t5_engine *e = x->e;
    const t5_engine_params *ep = t5_engine_params_of(e);
    const t5_model *m = t5_engine_model(e);
    int V = t5_model_config(m)->vocab_size;
    int kmax = 1, any_sample = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        int k = params[i].num_beams > 1 && !params[i].do_sample ? 2 * params[i].num_beams : 1;
        kmax = k > kmax ? k : kmax;
        any_sample |= params[i].do_sample;
    }
    int B = ep->max_batch, S = ep->max_slots;
    int n_self = S, n_cross = S, next = 0, n_live = 0, rows_used = 0, finished = 0;
    live_req *live = calloc((size_t)n, sizeof *live);
    int32_t *self_free = malloc(sizeof(int32_t) * (size_t)S);
    int32_t *cross_free = malloc(sizeof(int32_t) * (size_t)S);
    t5_step_row *rows = malloc(sizeof(t5_step_row) * (size_t)B);
    int *row_off = malloc(sizeof(int) * (size_t)n);
    t5_step_out out = {0};
    out.logprob = malloc(sizeof(float) * (size_t)B * (size_t)kmax);
    out.ids = malloc(sizeof(int32_t) * (size_t)B * (size_t)kmax);
    out.logits = any_sample ? malloc(sizeof(float) * (size_t)B * (size_t)V) : NULL;
    int32_t *enc_slots = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *enc_lens = malloc(sizeof(int32_t) * (size_t)n);
    const int32_t **enc_ids = malloc(sizeof(int32_t *) * (size_t)n);
    memset(results, 0, sizeof *results * (size_t)n);
    if (!live || !self_free || !cross_free || !rows || !row_off || !out.logprob || !out.ids ||
        (any_sample && !out.logits) || !enc_slots || !enc_lens || !enc_ids) {
        rc = t5_errf(err, T5_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < S; i++)
        self_free[i] = cross_free[i] = S - 1 - i;

    uint64_t next_check = t5_now_ns() + CANCEL_CHECK_NS;
    while (finished < n) {
        int n_enc = 0;
        while (next < n) {
            int need = t5_gen_slots_needed(&params[next]);
            if (need > n_self || n_cross < 1 || rows_used + need > B)
                break;
            live_req *L = &live[n_live];
            L->idx = next;
            L->n_slots = need;
            L->cross = cross_free[--n_cross];
            L->slots = malloc(sizeof(int32_t) * (size_t)need);
            if (!L->slots) {
                rc = t5_errf(err, T5_ENOMEM, "out of memory");
                goto done;
            }
            for (int j = 0; j < need; j++)
                L->slots[j] = self_free[--n_self];
            if ((rc = t5_gen_create(&L->g, m, &params[next], L->cross, L->slots, err)) < 0) {
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
        if (n_enc > 0 &&
            (rc = t5_engine_encode(e, n_enc, enc_slots, enc_ids, enc_lens, NULL, err)) < 0)
            goto done;
        if (n_live == 0) {
            rc = t5_errf(err, T5_ELIMIT, "request %d does not fit the engine", next);
            goto done;
        }
        int nr = 0;
        out.k = 1;
        for (int i = 0; i < n_live; i++) {
            row_off[i] = nr;
            int got = t5_gen_rows(live[i].g, rows + nr);
            t5_infer_req *ir = reqs[owner[live[i].idx]]->payload;
            if (ir->stream && got == 1 && rows[nr].pos > 0)
                stream_token(x, ir, rows[nr].token);
            nr += got;
            int k = t5_gen_topk(live[i].g);
            out.k = k > out.k ? k : out.k;
        }
        if ((rc = t5_engine_step(e, nr, rows, &out, err)) < 0)
            goto done;
        for (int i = 0; i < n_live; i++)
            if ((rc = t5_gen_advance(live[i].g, e, &out, row_off[i], err)) < 0)
                goto done;
        uint64_t now = t5_now_ns();
        int check = now >= next_check;
        if (check)
            next_check = now + CANCEL_CHECK_NS;
        for (int i = 0; i < n_live;) {
            live_req *L = &live[i];
            t5_sched_req *r = reqs[owner[L->idx]];
            t5_infer_req *ir = r->payload;
            int gone = r->status == T5_ECANCELED ||
                       (ir->stream ? ir->gone && ir->gone(ir)
                                   : check && r->is_cancelled && r->is_cancelled(r));
            if (!gone && !t5_gen_done(L->g)) {
                i++;
                continue;
            }
            if (gone)
                fail(r, T5_ECANCELED, NULL, "the client closed the connection");
            else if ((rc = t5_gen_take_result(L->g, &results[L->idx], err)) < 0)
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

static int t5x_run(void *ctx, t5_sched_req **reqs, int n, t5_err *err)
{
    t5x *x = ctx;
    const t5_engine_params *ep = t5_engine_params_of(x->e);

    /* compute input: tokenize every text of every request */
    int rows = 0;
    for (int i = 0; i < n; i++) {
        t5_sched_req *r = reqs[i];
        t5_infer_req *ir = r->payload;
        t5_err e = {0};
        if (!x->tok) {
            fail(r, T5_EUNSUP, NULL,
                 "this model has no tokenizer (spiece.model or tokenizer.json) in its directory");
            continue;
        }
        if (t5_gen_params_check(&ir->gp, ep, &e) < 0) {
            fail(r, T5_EINVAL, &e, "invalid generation parameters");
            continue;
        }
        if (rows + ir->rows > x->max_rows) {
            fail(r, T5_ELIMIT, NULL, "the batch is larger than the instance's buffers");
            continue;
        }
        for (int j = 0; j < ir->rows && !r->status; j++) {
            int32_t *dst = x->ids + (size_t)(rows + j) * (size_t)x->max_in;
            int nt = t5_tokenizer_encode(x->tok, ir->text[j], ir->text_len[j], dst, x->max_in,
                                         T5_TOK_ADD_EOS, &e);
            if (nt < 0) {
                fail(r, T5_EINVAL, &e, "tokenization failed");
            } else if (nt > x->max_in) {
                char m[160];
                snprintf(m, sizeof m, "text_input element %d has %d tokens; the limit is %d", j, nt,
                         x->max_in);
                fail(r, T5_ELIMIT, NULL, m);
            } else if (nt == 0) {
                fail(r, T5_EINVAL, NULL, "text_input element tokenized to nothing");
            } else {
                x->lens[rows + j] = nt;
                x->ptr[rows + j] = dst;
                x->gp[rows + j] = ir->gp;
                x->owner[rows + j] = i;
                x->orow[rows + j] = j;
            }
        }
        if (!r->status)
            rows += ir->rows;
    }
    uint64_t t = t5_now_ns();
    for (int i = 0; i < n; i++)
        reqs[i]->t_input_ns = t;

    /* compute infer: generation over chunks that fit the engine's slots */
    memset(x->res, 0, (size_t)rows * sizeof *x->res);
    for (int s = 0; s < rows;) {
        int e = s, slots = 0;
        while (e < rows && e - s < ep->max_batch) {
            int need = t5_gen_slots_needed(&x->gp[e]);
            if (e > s && slots + need > x->max_slots)
                break;
            slots += need;
            e++;
        }
        t5_err ge = {0};
        int rc = gen_loop(x, reqs, e - s, x->ptr + s, x->lens + s, x->gp + s, x->owner + s,
                          x->res + s, &ge);
        if (rc < 0)
            for (int q = s; q < e; q++)
                fail(reqs[x->owner[q]], rc, &ge, "generation failed");
        s = e;
    }
    t = t5_now_ns();
    for (int i = 0; i < n; i++)
        reqs[i]->t_infer_ns = t;

    /* compute output: detokenize into each request's rows */
    for (int i = 0; i < n; i++) {
        t5_infer_req *ir = reqs[i]->payload;
        if (!reqs[i]->status && !(ir->res = calloc((size_t)ir->rows, sizeof *ir->res)))
            fail(reqs[i], T5_ENOMEM, NULL, "out of memory");
    }
    for (int q = 0; q < rows; q++) {
        t5_sched_req *r = reqs[x->owner[q]];
        t5_infer_req *ir = r->payload;
        t5_gen_result *g = &x->res[q];
        if (!r->status) {
            t5_infer_row *row = &ir->res[x->orow[q]];
            row->seqs = calloc((size_t)(g->n_seqs > 0 ? g->n_seqs : 1), sizeof *row->seqs);
            if (!row->seqs) {
                fail(r, T5_ENOMEM, NULL, "out of memory");
            } else {
                row->n_seqs = g->n_seqs;
                for (int j = 0; j < g->n_seqs && !r->status; j++) {
                    t5_err de = {0};
                    int rc = decode_seq(x->tok, &g->seqs[j], &row->seqs[j], &de);
                    if (rc < 0)
                        fail(r, rc, &de, "detokenization failed");
                }
            }
        }
        t5_gen_result_clear(g);
    }
    t = t5_now_ns();
    for (int i = 0; i < n; i++)
        reqs[i]->t_end_ns = t;
    (void)err;
    return 0;
}

/* ---- the same compute input/output for the in-flight scheduler --------- */

static int codec_input(void *ctx, t5_sched_req *r, int row, int32_t *ids, int cap,
                       t5_gen_params *gp, t5_err *err)
{
    const t5_tokenizer *tok = ctx;
    t5_infer_req *ir = r->payload;
    if (!tok)
        return t5_errf(
            err, T5_EUNSUP,
            "this model has no tokenizer (spiece.model or tokenizer.json) in its directory");
    if (row < 0 || row >= ir->rows)
        return t5_errf(err, T5_EINVAL, "row %d out of range", row);
    int n =
        t5_tokenizer_encode(tok, ir->text[row], ir->text_len[row], ids, cap, T5_TOK_ADD_EOS, err);
    if (n > cap)
        return t5_errf(err, T5_ELIMIT, "text_input element %d has %d tokens; the limit is %d", row,
                       n, cap);
    *gp = ir->gp;
    return n;
}

static int codec_begin(void *ctx, t5_sched_req *r, t5_err *err)
{
    t5_infer_req *ir = r->payload;
    (void)ctx;
    if (!ir->res && !(ir->res = calloc((size_t)ir->rows, sizeof *ir->res)))
        return t5_errf(err, T5_ENOMEM, "out of memory");
    return 0;
}

static int codec_output(void *ctx, t5_sched_req *r, int row, t5_gen_result *res, t5_err *err)
{
    const t5_tokenizer *tok = ctx;
    t5_infer_req *ir = r->payload;
    int rc = 0;
    if (!ir->res || row < 0 || row >= ir->rows) {
        rc = t5_errf(err, T5_EINVAL, "row %d has no place for its result", row);
    } else {
        t5_infer_row *o = &ir->res[row];
        o->seqs = calloc((size_t)(res->n_seqs > 0 ? res->n_seqs : 1), sizeof *o->seqs);
        if (!o->seqs)
            rc = t5_errf(err, T5_ENOMEM, "out of memory");
        else
            o->n_seqs = res->n_seqs;
        for (int j = 0; rc == 0 && j < res->n_seqs; j++)
            rc = decode_seq(tok, &res->seqs[j], &o->seqs[j], err);
    }
    t5_gen_result_clear(res);
    return rc;
}

int t5_exec_t5_codec(t5_seq_codec *c, const t5_model *m)
{
    c->ctx = (void *)t5_model_tokenizer(m);
    c->input = codec_input;
    c->begin = codec_begin;
    c->output = codec_output;
    return 0;
}

int t5_exec_t5_engine(t5_engine **out, t5_model *m, const t5_mcfg *cfg, t5_err *err)
{
    int rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
    int beams = cfg->max_num_beams > 0 ? cfg->max_num_beams : 1;
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = rows * beams; /* rows stepped together: every live hypothesis */
    ep.max_slots = rows * beams;
    ep.max_input_len = cfg->max_input_tokens;
    ep.max_output_len = cfg->max_output_tokens + 1;
    ep.n_threads = cfg->n_threads;
    return t5_engine_create(out, m, &ep, err);
}

int t5_exec_t5_create(t5_executor *out, t5_model *m, const t5_mcfg *cfg, t5_err *err)
{
    t5x *x = calloc(1, sizeof *x);
    if (!x)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    x->max_rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
    x->max_in = cfg->max_input_tokens;
    int beams = cfg->max_num_beams > 0 ? cfg->max_num_beams : 1;
    x->max_slots = x->max_rows * beams;
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = x->max_rows;
    ep.max_slots = x->max_slots;
    ep.max_input_len = x->max_in;
    ep.max_output_len = cfg->max_output_tokens + 1;
    ep.n_threads = cfg->n_threads;
    int rc = t5_engine_create(&x->e, m, &ep, err);
    if (rc < 0) {
        free(x);
        return rc;
    }
    x->tok = t5_model_tokenizer(m);
    size_t R = (size_t)x->max_rows;
    x->ids = malloc(R * (size_t)x->max_in * sizeof *x->ids);
    x->ptr = calloc(R, sizeof *x->ptr);
    x->lens = calloc(R, sizeof *x->lens);
    x->gp = calloc(R, sizeof *x->gp);
    x->res = calloc(R, sizeof *x->res);
    x->owner = calloc(R, sizeof *x->owner);
    x->orow = calloc(R, sizeof *x->orow);
    if (!x->ids || !x->ptr || !x->lens || !x->gp || !x->res || !x->owner || !x->orow) {
        t5x_free(x);
        return t5_errf(err, T5_ENOMEM, "out of memory for the instance's buffers");
    }
    out->ctx = x;
    out->run = t5x_run;
    out->free = t5x_free;
    return 0;
}
