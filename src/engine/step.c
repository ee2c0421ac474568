/* step.c - one decoder step for any set of rows.
 *
 * Per layer (pre-norm):
 *   h = rmsnorm(x); x += o(self_attn(qkv(h)))     K/V appended at pos, causal bias
 *   h = rmsnorm(x); x += co(cross_attn(cq(h)))    over the cross slot, no bias
 *   h = rmsnorm(x); x += wo(act(wi(h)))
 * then logits = lm_scale * rmsnorm(x) @ lm_head^T and per-row log-softmax
 * top-k on the device, so only k pairs per row come back.
 *
 * The device part is issued inside run_cached, keyed by the padded row count
 * and k, so the CUDA backend can capture it once per key as a graph: all
 * per-step values (tokens, slots, positions) are uploaded before it. */
#include <string.h>

#include "engine/engine_priv.h"

/* The fused step's per-step pointers (set_io's blocks) for n rows, k. */
static void fused_io(t5_engine *e, int n, int k)
{
    e->fused.n = n;
    e->fused.k = k;
    e->fused.tok = e->io_tok, e->fused.no_eos = e->no_eos, e->fused.rows = e->rows;
    e->fused.top_v = e->io_topv, e->fused.top_i = e->top_i;
}

/* The input block's copy that the issuer left to the run_cached function
 * (e->in_ints: the block is pinned, so a captured copy reads it when
 * the graph runs, and the host saves a call before the launch; the host
 * writes the block again only after the step's or chain's sync). */
static int copy_in(t5_engine *e, t5_err *err)
{
    return e->in_ints ? e->be->vt->h2d(e->st, e->in_dev, e->in_h, sizeof(int32_t) * e->in_ints, err)
                      : 0;
}

/* Copies the block of `ints` from host to device now, or leaves it to the
 * run_cached function (copy_in) where the graph can (pinned). */
static int issue_in(t5_engine *e, int32_t *dev, const int32_t *host, size_t ints, int pinned,
                    t5_err *err)
{
    e->in_dev = dev, e->in_h = host, e->in_ints = 0;
    if (pinned && !e->no_in_graph) {
        e->in_ints = ints;
        return 0;
    }
    return e->be->vt->h2d(e->st, dev, host, sizeof(int32_t) * ints, err);
}

static int step_device(void *arg, t5_err *err)
{
    t5_engine *e = arg;
    const t5_model *m = e->m;
    const t5_config *c = e->cfg;
    const t5_backend_vt *vt = e->be->vt;
    t5_stream *s = e->st;
    int n = e->step_n, d = e->d, inner = e->inner, rc;
    float eps = c->layer_norm_epsilon;
    if ((rc = copy_in(e, err)) < 0)
        return rc;

    if (vt->decode_step && e->fused.n_layers > 0) {
        fused_io(e, n, e->step_k);
        if ((rc = vt->decode_step(s, &e->fused, err)) < 0)
            return t5_err_wrap(err, rc, "fused decoder step");
        if (rc == 0)
            return 0; /* else declined: issue the ops */
    }
    if ((rc = vt->embed(s, e->x, m->embed, e->io_tok, n, d, err)) < 0)
        return rc;
    for (int l = 0; l < c->num_decoder_layers; l++) {
        const t5_layer_w *w = &m->dec[l];
        if ((rc = vt->rmsnorm(s, e->norm, e->x, w->ln_attn, n, d, eps, err)) < 0 ||
            (rc = vt->gemm(s, e->qkv, e->norm, w->w_qkv, n, 3 * inner, d, 1.0f, T5_GEMM_OUT_ACT,
                           err)) < 0 ||
            (rc = vt->attn_decoder_self(s, e->attn, e->qkv, e->self_k, e->self_v, &e->self_lay, l,
                                        e->rows, n, m->dec_bias, &e->dec_sh, err)) < 0 ||
            (rc = vt->gemm(s, e->x, e->attn, w->w_o, n, d, inner, 1.0f, T5_GEMM_ADD_RESID, err)) <
                0 ||
            (rc = vt->rmsnorm(s, e->norm, e->x, w->ln_cross, n, d, eps, err)) < 0 ||
            (rc = vt->gemm(s, e->q, e->norm, w->w_cq, n, inner, d, 1.0f, T5_GEMM_OUT_ACT, err)) <
                0 ||
            (rc = vt->attn_cross(s, e->attn, e->q, e->cross_k, e->cross_v, &e->cross_lay, l,
                                 e->rows, n, &e->dec_sh, err)) < 0 ||
            (rc = vt->gemm(s, e->x, e->attn, w->w_co, n, d, inner, 1.0f, T5_GEMM_ADD_RESID, err)) <
                0 ||
            (rc = vt->rmsnorm(s, e->norm, e->x, w->ln_ff, n, d, eps, err)) < 0 ||
            (rc = t5__ffn(e, s, e->x, e->norm, e->ff, e->ff2, w, n, err)) < 0)
            return t5_err_wrap(err, rc, "decoder layer %d", l);
    }
    if ((rc = vt->rmsnorm(s, e->norm, e->x, m->dec_ln_final, n, d, eps, err)) < 0 ||
        (rc = vt->gemm(s, e->logits, e->norm, m->lm_head, n, e->V, d, m->lm_scale, T5_GEMM_OUT_F32,
                       err)) < 0 ||
        (rc = vt->logits_topk(s, e->io_topv, e->top_i, e->logits, n, e->V, e->step_k, e->no_eos,
                              c->eos_token_id, err)) < 0)
        return t5_err_wrap(err, rc, "decoder head");
    return 0;
}

/* Rows a step is padded to. The CPU runs exactly n; a graph-capturing
 * backend gets a few sizes so few graphs cover every n: powers of two up to
 * 64, then multiples of 64 (an in-flight batch of 300 rows would otherwise
 * run as 512). t5_engine_warmup records each of them. */
int t5__step_rows(const t5_engine *e, int n)
{
    if (e->be->device == T5_DEVICE_CPU)
        return n;
    int p = n <= 64 ? t5__pow2_at_least(n) : (n + 63) / 64 * 64;
    return p < e->p.max_batch ? p : e->p.max_batch;
}

/* Whether this step takes the absorbed cross-attention (engine_priv.h):
 * then ent[r] is each padded row's entry (padding rows share row 0's),
 * and the entries of slots that had none are filled first (on the step's
 * stream, so before the step reads them). 1 yes, 0 no, < 0 error. */
static int absorb_rows(t5_engine *e, int n, int np, const t5_step_row *rows, int32_t *ent,
                       t5_err *err)
{
    if (!e->abs_on || np > e->abs_rows)
        return 0;
    for (int r = 0; r < n; r++)
        if (e->cross_len[rows[r].cross_slot] > e->fused.abs_sa)
            return 0;
    uint32_t now = t5__abs_tick(e);
    for (int r = 0; r < n; r++) {
        int slot = rows[r].cross_slot, x = e->slot_abs[slot];
        if (x < 0) {
            x = t5__abs_take(e, now);
            int rc =
                e->be->vt->cross_absorb(e->st, &e->fused, x, slot, e->cross_len[slot], NULL, err);
            if (rc < 0)
                return t5_err_wrap(err, rc, "absorbing cross slot %d", slot);
            e->abs_slot[x] = slot;
            e->slot_abs[slot] = x;
        }
        e->abs_used[x] = now;
        ent[r] = x;
    }
    for (int r = n; r < np; r++)
        ent[r] = ent[0];
    return 1;
}

/* Block blk (host) of np padded rows for rows at pos + dpos: tokens,
 * no EOS masks (set by the caller), the rows (padding rows on the scratch
 * slot), absorbed entries (absorb_rows). */
static void fill_block(const t5_engine *e, int32_t *blk, int n, int np, const t5_step_row *rows,
                       int dpos)
{
    int S = e->p.max_slots;
    int32_t *rows_h = blk + 2 * np;
    for (int r = 0; r < np; r++) {
        int real = r < n;
        blk[r] = real ? rows[r].token : e->cfg->pad_token_id;
        blk[np + r] = 0;
        rows_h[r * 4 + 0] = real ? rows[r].self_slot : S; /* S: the scratch slot */
        rows_h[r * 4 + 1] = real ? rows[r].cross_slot : S;
        rows_h[r * 4 + 2] = real ? rows[r].pos + dpos : 0;
        rows_h[r * 4 + 3] = real ? e->cross_len[rows[r].cross_slot] : 1;
    }
}

/* What step_device reads: the device block at blk, its results at top_v
 * and top_i. */
static void set_io(t5_engine *e, int32_t *blk, int np, int use_abs, float *top_v, int32_t *top_i)
{
    e->io_tok = blk;
    e->no_eos = blk + np;
    e->rows = blk + 2 * np;
    e->fused.abs_ent = use_abs ? blk + 6 * np : NULL;
    e->io_topv = top_v;
    e->top_i = top_i;
}

/* The checks every step's rows pass (extra: further positions a chain of
 * steps takes after pos). */
static int check_rows(t5_engine *e, int n, const t5_step_row *rows, int extra, t5_err *err)
{
    int S = e->p.max_slots;
    if (++e->mark_gen == 0) { /* wrapped: start the marks afresh */
        memset(e->slot_mark, 0, sizeof(uint32_t) * S);
        e->mark_gen = 1;
    }
    for (int r = 0; r < n; r++) {
        const t5_step_row *w = &rows[r];
        if (w->self_slot < 0 || w->self_slot >= S || w->cross_slot < 0 || w->cross_slot >= S)
            return t5_errf(err, T5_EINVAL, "step row %d: slots %d / %d not in 0..%d", r,
                           w->self_slot, w->cross_slot, S - 1);
        if (e->cross_len[w->cross_slot] == 0)
            return t5_errf(err, T5_EINVAL, "step row %d: cross slot %d was never encoded", r,
                           w->cross_slot);
        if (w->pos < 0 || w->pos + extra >= e->p.max_output_len)
            return t5_errf(err, T5_ELIMIT, "step row %d: position %d%s not in 0..%d", r, w->pos,
                           extra ? " (and the chain after it)" : "", e->p.max_output_len - 1);
        if (w->pos > e->self_len[w->self_slot])
            return t5_errf(err, T5_EINVAL,
                           "step row %d: position %d skips ahead of self slot %d (holds %d)", r,
                           w->pos, w->self_slot, e->self_len[w->self_slot]);
        if (w->token < 0 || w->token >= e->V)
            return t5_errf(err, T5_EINVAL, "step row %d: token %d outside vocab 0..%d", r, w->token,
                           e->V - 1);
        if (e->slot_mark[w->self_slot] == e->mark_gen)
            return t5_errf(err, T5_EINVAL, "step row %d: self slot %d used twice", r, w->self_slot);
        e->slot_mark[w->self_slot] = e->mark_gen;
    }

    return 0;
}

/* Checks the rows, uploads them and issues the step and the copies of its
 * results; t5_engine_step_wait finishes it. */
static int step_issue(t5_engine *e, int n, const t5_step_row *rows, t5_step_out *out, t5_err *err)
{
    if (!e || !rows || !out || !out->logprob || !out->ids)
        return t5_errf(err, T5_EINVAL, "t5_engine_step: NULL argument");
    if (e->step_pend)
        return t5_errf(err, T5_EINVAL,
                       "t5_engine_step: a step is in flight (t5_engine_step_wait first)");
    if (n < 1 || n > e->p.max_batch)
        return t5_errf(err, T5_ELIMIT, "t5_engine_step: %d rows, max_batch is %d", n,
                       e->p.max_batch);
    if (out->k < 1 || out->k > e->kmax)
        return t5_errf(err, T5_EINVAL, "t5_engine_step: top-k %d not in 1..%d", out->k, e->kmax);
    int rc = check_rows(e, n, rows, 0, err);
    if (rc < 0)
        return rc;
    for (int r = 0; r < n; r++)
        if ((rows[r].flags & T5_ROW_LOGITS) && !out->logits)
            return t5_errf(err, T5_EINVAL, "step row %d wants logits but out->logits is NULL", r);
    /* This step's input block (engine_priv.h): np tokens, np EOS masks, np
     * rows, np absorbed entries, so one copy moves 7 * np ints. The pointers
     * depend only on np, which is part of the run_cached key. */
    int np = t5__step_rows(e, n), use_abs;
    fill_block(e, e->tok_h, n, np, rows, 0);
    for (int r = 0; r < n; r++)
        e->tok_h[np + r] = (rows[r].flags & T5_ROW_NO_EOS) != 0;
    const t5_backend_vt *vt = e->be->vt;
    t5_stream *s = e->st;
    if ((use_abs = absorb_rows(e, n, np, rows, e->tok_h + 6 * np, err)) < 0)
        return use_abs;
    if ((rc = issue_in(e, e->tok, e->tok_h, (size_t)7 * np, e->tok_pinned, err)) < 0)
        return rc;
    set_io(e, e->tok, np, use_abs, e->top_v, (int32_t *)(e->top_v + np * out->k));
    e->fused.chain_eos = -1;
    e->step_n = np;
    e->step_k = out->k;
    uint64_t key = ((uint64_t)out->k << 32) | (uint32_t)np | ((uint64_t)use_abs << 62);
    rc = vt->run_cached(s, key, step_device, e, err);
    e->in_ints = 0;
    if (rc < 0)
        return rc;
    if ((rc = vt->d2h(s, e->top_h, e->top_v, sizeof(float) * 2 * np * out->k, err)) < 0)
        return rc;
    for (int r = 0; r < n; r++)
        if (rows[r].flags & T5_ROW_LOGITS)
            if ((rc = vt->d2h(s, out->logits + (size_t)r * e->V, e->logits + (size_t)r * e->V,
                              sizeof(float) * e->V, err)) < 0)
                return rc;
    e->step_pend = 1;
    e->pend_n = n;
    e->pend_out = out;
    return 0;
}

int t5_engine_step_start(t5_engine *e, int n, const t5_step_row *rows, t5_step_out *out,
                         t5_err *err)
{
    int rc = step_issue(e, n, rows, out, err);
    if (rc < 0 && e && !e->step_pend)
        e->be->vt->sync(e->st, NULL); /* drain what was issued: nothing stays in flight */
    return rc;
}

int t5_engine_step_wait(t5_engine *e, t5_err *err)
{
    if (!e)
        return t5_errf(err, T5_EINVAL, "t5_engine_step_wait: NULL engine");
    if (!e->step_pend)
        return 0;
    e->step_pend = 0;
    int rc = e->be->vt->sync(e->st, err);
    if (rc < 0)
        return rc;
    const int n = e->pend_n, np = e->step_n, k = e->step_k;
    const int32_t *rows_h = e->tok_h + 2 * np; /* as step_issue laid them out */
    t5_step_out *out = e->pend_out;
    memcpy(out->logprob, e->top_h, sizeof(float) * n * k);
    memcpy(out->ids, e->top_h + np * k, sizeof(int32_t) * n * k);
    for (int r = 0; r < n; r++)
        e->self_len[rows_h[r * 4 + 0]] = rows_h[r * 4 + 2] + 1;
    return 0;
}

int t5_engine_step(t5_engine *e, int n, const t5_step_row *rows, t5_step_out *out, t5_err *err)
{
    int rc = t5_engine_step_start(e, n, rows, out, err);
    return rc < 0 ? rc : t5_engine_step_wait(e, err);
}

/* ---- chained greedy steps ------------------------------------------------ */

/* Issues e->chain_steps steps over the chain's blocks: step s reads block
 * s and writes its top-1 ids as block s+1's tokens (run_cached's function:
 * the same pointers for one (np, steps, absorbed) key). */
static int chain_device(void *arg, t5_err *err)
{
    t5_engine *e = arg;
    const int np = e->step_n, blk = 7 * np, use_abs = e->fused.abs_ent != NULL;
    const t5_backend_vt *vt = e->be->vt;
    int rc = copy_in(e, err);
    if (rc < 0)
        return rc;
    if (vt->decode_step && e->fused.n_layers > 0 && e->chain_steps > 1) {
        /* the whole chain as one op where the backend can (step 0's
         * pointers, strides to the others; t5_fused_step) */
        set_io(e, e->chain, np, use_abs, e->chain_v, e->chain + blk);
        fused_io(e, np, 1);
        e->fused.chain_steps = e->chain_steps;
        e->fused.chain_stride = blk;
        rc = vt->decode_step(e->st, &e->fused, err);
        e->fused.chain_steps = 0;
        if (rc <= 0)
            return rc < 0 ? t5_err_wrap(err, rc, "chained steps") : 0;
    }
    const size_t in_ints = e->in_ints; /* copied above, not by each step */
    e->in_ints = 0;
    for (int s = 0; s < e->chain_steps && rc >= 0; s++) {
        set_io(e, e->chain + s * blk, np, use_abs, e->chain_v + s * np, e->chain + (s + 1) * blk);
        if ((rc = step_device(e, err)) < 0)
            rc = t5_err_wrap(err, rc, "chained step %d", s);
    }
    e->in_ints = in_ints;
    return rc < 0 ? rc : 0;
}

static int chain_issue(t5_engine *e, int n, const t5_step_row *rows, int S, const uint8_t *no_eos,
                       t5_err *err)
{
    if (!e || !rows)
        return t5_errf(err, T5_EINVAL, "t5_engine_steps_greedy: NULL argument");
    if (e->step_pend)
        return t5_errf(err, T5_EINVAL,
                       "t5_engine_steps_greedy: a step is in flight (t5_engine_step_wait first)");
    if (n < 1 || n > T5_ENGINE_CHAIN_ROWS || n > e->p.max_batch)
        return t5_errf(err, T5_ELIMIT, "t5_engine_steps_greedy: %d rows, at most %d", n,
                       T5_ENGINE_CHAIN_ROWS < e->p.max_batch ? T5_ENGINE_CHAIN_ROWS
                                                             : e->p.max_batch);
    if (S < 1 || S > T5_ENGINE_CHAIN_STEPS)
        return t5_errf(err, T5_EINVAL, "t5_engine_steps_greedy: %d steps not in 1..%d", S,
                       T5_ENGINE_CHAIN_STEPS);
    int rc = check_rows(e, n, rows, S - 1, err);
    if (rc < 0)
        return rc;
    for (int r = 0; r < n; r++)
        if (rows[r].flags & T5_ROW_LOGITS)
            return t5_errf(err, T5_EINVAL, "chained step row %d: logits are not returned", r);

    /* Blocks 0..S (engine_priv.h); later blocks' tokens start as EOS, so a
     * step skipped on the device (every row ended) leaves EOS for the next. */
    const int np = t5__step_rows(e, n), blk = 7 * np, eos = e->cfg->eos_token_id;
    int use_abs = absorb_rows(e, n, np, rows, e->chain_h + 6 * np, err);
    if (use_abs < 0)
        return use_abs;
    for (int s = 0; s <= S; s++) {
        int32_t *b = e->chain_h + s * blk;
        fill_block(e, b, n, np, rows, s);
        for (int r = 0; r < n; r++) {
            if (s > 0)
                b[r] = eos;
            b[np + r] =
                no_eos ? no_eos[s < S ? s * n + r : 0] != 0 : (rows[r].flags & T5_ROW_NO_EOS) != 0;
        }
        if (s > 0)
            memcpy(b + 6 * np, e->chain_h + 6 * np, sizeof(int32_t) * np);
    }
    const t5_backend_vt *vt = e->be->vt;
    t5_stream *st = e->st;
    if ((rc = issue_in(e, e->chain, e->chain_h, (size_t)(S + 1) * blk, e->chain_pinned, err)) < 0)
        return rc;
    e->step_n = np;
    e->step_k = 1;
    e->chain_steps = S;
    e->fused.abs_ent = use_abs ? e->chain + 6 * np : NULL; /* chain_device's use_abs */
    e->fused.chain_eos = eos;
    uint64_t key = (1ull << 61) | ((uint64_t)use_abs << 62) | ((uint64_t)S << 48) | (1ull << 32) |
                   (uint32_t)np;
    rc = vt->run_cached(st, key, chain_device, e, err);
    e->in_ints = 0;
    e->fused.chain_eos = -1;
    if (rc < 0)
        return rc;
    /* the blocks and the values after them (engine.c) in one copy: each
     * small copy is a few microseconds of the device's after the last step */
    size_t n_back = (size_t)(e->chain_v - (float *)e->chain) + (size_t)S * np;
    if ((rc = vt->d2h(st, e->chain_h, e->chain, sizeof(int32_t) * n_back, err)) < 0)
        return rc;
    return 0;
}

int t5_engine_steps_greedy(t5_engine *e, int n, const t5_step_row *rows, int n_steps,
                           const uint8_t *no_eos, int32_t *ids, float *logprob, t5_err *err)
{
    if (!ids || !logprob)
        return t5_errf(err, T5_EINVAL, "t5_engine_steps_greedy: NULL argument");
    int rc = chain_issue(e, n, rows, n_steps, no_eos, err);
    if (rc >= 0)
        rc = e->be->vt->sync(e->st, err);
    else if (e && !e->step_pend)
        e->be->vt->sync(e->st, NULL); /* drain what was issued: nothing stays in flight */
    if (rc < 0)
        return rc;
    const int np = e->step_n, blk = 7 * np;
    for (int s = 0; s < n_steps; s++)
        for (int r = 0; r < n; r++) {
            ids[s * n + r] = e->chain_h[(s + 1) * blk + r];
            logprob[s * n + r] = e->chain_vh[s * np + r];
        }
    for (int r = 0; r < n; r++)
        e->self_len[rows[r].self_slot] = rows[r].pos + n_steps;
    return 0;
}
