/* engine.c - creating and freeing an engine, and beam-search slot copies.
 * The forward passes live in encode.c and step.c. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_priv.h"

t5_engine_params t5_engine_default_params(void)
{
    t5_engine_params p = {0};
    p.max_batch = 64;
    p.max_slots = 0; /* = max_batch */
    p.max_input_len = 512;
    p.max_output_len = 256;
    p.n_threads = 0;
    return p;
}

const t5_model *t5_engine_model(const t5_engine *e)
{
    return e ? e->m : NULL;
}

const t5_engine_params *t5_engine_params_of(const t5_engine *e)
{
    return e ? &e->p : NULL;
}

/* Zeroed host memory for an input block of `ints` that h2d copies: pinned
 * where the backend has it, so that a graph's captured copy reads it when
 * the graph runs (encode.c, step.c), else calloc's; *pinned says which. */
static void *host_block(t5_engine *e, size_t ints, int *pinned)
{
    const t5_backend_vt *vt = e->be->vt;
    void *p = vt->host_alloc ? vt->host_alloc(e->be, ints * sizeof(int32_t)) : NULL;
    *pinned = p != NULL;
    if (p)
        memset(p, 0, ints * sizeof(int32_t));
    return p ? p : calloc(ints, sizeof(int32_t));
}

static void host_block_free(t5_engine *e, void *p, int pinned)
{
    if (pinned)
        e->be->vt->host_free(e->be, p);
    else
        free(p);
}

void t5_engine_free(t5_engine *e)
{
    if (!e)
        return;
    t5_backend *be = e->be;
    void *dev[] = {e->self_k,   e->self_v,  e->cross_k,  e->cross_v, e->enc_x,
                   e->enc_norm, e->enc_qkv, e->enc_attn, e->enc_ff,  e->enc_ckv,
                   e->enc_in,   e->x,       e->norm,     e->qkv,     e->attn,
                   e->q,        e->ff,      e->logits,   e->top_v,   e->tok};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i])
            be->vt->free(be, dev[i]);
    if (e->chain) /* chain_v is inside it */
        be->vt->free(be, e->chain);
    host_block_free(e, e->chain_h, e->chain_pinned); /* and chain_vh */
    host_block_free(e, e->tok_h, e->tok_pinned);
    if (e->fused.abs_m)
        be->vt->free(be, (void *)e->fused.abs_m);
    if (e->fused.abs_n)
        be->vt->free(be, (void *)e->fused.abs_n);
    if (e->abs_wx)
        be->vt->free(be, e->abs_wx);
    free(e->slot_abs);
    if (e->enc_ff2 && e->enc_ff2 != e->enc_ff)
        be->vt->free(be, e->enc_ff2);
    if (e->ff2 && e->ff2 != e->ff)
        be->vt->free(be, e->ff2);
    if (e->est && e->est != e->st)
        be->vt->stream_destroy(e->est);
    if (e->st)
        be->vt->stream_destroy(e->st);
    free(e->enc_pend_slots);
    free(e->enc_pend_lens);
    free(e->cross_len);
    free(e->self_len);
    free(e->slot_mark);
    host_block_free(e, e->enc_in_h, e->enc_in_pinned);
    free(e->enc_out_h);
    free(e->top_h);
    free(e);
}

/* Reserves `bytes` of device memory into *p, or records what failed. */
/* The decoder step as one op (backend.h, decode_step). Models deeper than
 * the struct holds leave n_layers 0, which keeps the per-op path. */
static void fill_fused(t5_engine *e)
{
    const t5_model *m = e->m;
    const t5_config *c = e->cfg;
    t5_fused_step *f = &e->fused;
    memset(f, 0, sizeof *f);
    if (c->num_decoder_layers > T5_FUSED_MAX_LAYERS)
        return;
    f->n_layers = c->num_decoder_layers;
    f->d = e->d, f->d_ff = c->d_ff, f->V = e->V;
    f->act = c->act, f->gated = c->gated, f->eos_id = c->eos_token_id;
    f->eps = c->layer_norm_epsilon, f->lm_scale = m->lm_scale;
    f->sh = e->dec_sh;
    f->embed = m->embed, f->lm_head = m->lm_head, f->ln_final = m->dec_ln_final;
    f->bias = m->dec_bias;
    for (int l = 0; l < f->n_layers; l++) {
        const t5_layer_w *w = &m->dec[l];
        t5_fused_layer *o = &f->layers[l];
        o->ln_attn = w->ln_attn, o->w_qkv = w->w_qkv, o->w_o = w->w_o;
        o->ln_cross = w->ln_cross, o->w_cq = w->w_cq, o->w_co = w->w_co;
        o->ln_ff = w->ln_ff, o->w_in = w->w_in, o->w_out = w->w_out;
    }
    f->self_lay = e->self_lay, f->cross_lay = e->cross_lay;
    f->self_k = e->self_k, f->self_v = e->self_v;
    f->cross_k = e->cross_k, f->cross_v = e->cross_v;
    f->x = e->x, f->qkv = e->qkv, f->q = e->q, f->ff = e->ff;
    f->logits = e->logits; /* top_v, top_i: per step */
    f->chain_eos = -1;
    /* tok, no_eos, rows: per step (their layout depends on the rows) */
}

/* setup_absorb's way out without entries: the folded weights go too */
static void drop_cqx(t5_engine *e, void *wx)
{
    if (wx)
        e->be->vt->free(e->be, wx);
    for (int l = 0; l < e->fused.n_layers; l++)
        e->fused.layers[l].w_cqx = NULL;
}

/* Buffers for absorbed cross-attention entries (engine_priv.h), where the
 * backend can fill them and the fused step can use them; without them (or
 * when they cannot be had: they are an optimisation) steps take the
 * ordinary cross-attention. */

static void setup_absorb(t5_engine *e)
{
    t5_fused_step *f = &e->fused;
    const t5_backend_vt *vt = e->be->vt;
    if (!vt->cross_absorb || !vt->absorb_weights || !vt->decode_step || f->n_layers < 1)
        return;
    int sa = (e->p.max_input_len + 3) / 4 * 4; /* rows of 16-byte multiples */
    sa = sa < T5__ABS_MAX_LEN ? sa : T5__ABS_MAX_LEN;
    const size_t inner = (size_t)f->sh.n_heads * f->sh.d_kv;
    size_t stride = (size_t)f->n_layers * f->sh.n_heads * sa * e->d;
    size_t mstride = (size_t)f->n_layers * f->sh.n_heads * sa * (e->d + inner);
    /* as many entries as fit T5__ABS_BYTES (M + N of one entry at 32 keys: t5-small 9 MB,
     * t5-base 42 MB, t5-large 151 MB, so 4, 4 and 1 of them), at
     * least the rows of a step */
    size_t per = (stride + mstride) * sizeof(float);
    int n = (int)(T5__ABS_BYTES / per);
    n = n > T5__ABS_ENTRIES ? T5__ABS_ENTRIES : n;
    if (n < e->abs_rows)
        return;
    /* the model's folded query weights (backend.h: w_cqx), per engine */
    t5_err err = {0};
    void *wx = vt->alloc(e->be, (size_t)f->n_layers * inner * (e->d + inner) * e->be->act_size);
    if (!wx || vt->absorb_weights(e->st, f, wx, &err) < 0) {
        drop_cqx(e, wx);
        return;
    }
    float *am = vt->alloc(e->be, (size_t)n * mstride * sizeof(float));
    float *an = am ? vt->alloc(e->be, (size_t)n * stride * sizeof(float)) : NULL;
    e->slot_abs = an ? malloc(sizeof(int32_t) * (size_t)e->p.max_slots) : NULL;
    if (!e->slot_abs) {
        if (am)
            vt->free(e->be, am);
        if (an)
            vt->free(e->be, an);
        drop_cqx(e, wx);
        return;
    }
    e->abs_wx = wx;
    f->abs_m = am, f->abs_n = an, f->abs_stride = stride, f->abs_mstride = mstride;
    f->abs_sa = sa;
    e->abs_on = n;
    e->abs_enc = 1;
    t5__abs_forget(e, -1);
}

uint32_t t5__abs_tick(t5_engine *e)
{
    uint32_t now = ++e->abs_clock;
    if (now == 0) { /* wrapped: every entry is as old as the others */
        memset(e->abs_used, 0, sizeof e->abs_used);
        now = ++e->abs_clock;
    }
    return now;
}

int t5__abs_take(t5_engine *e, uint32_t now)
{
    int x = -1;
    for (int i = 0; i < e->abs_on; i++)
        if (e->abs_used[i] != now && (x < 0 || e->abs_used[i] < e->abs_used[x]))
            x = i;
    if (x >= 0 && e->abs_slot[x] >= 0) {
        e->slot_abs[e->abs_slot[x]] = -1;
        e->abs_slot[x] = -1;
    }
    return x;
}

void t5__abs_forget(t5_engine *e, int slot)
{
    if (!e->abs_on)
        return;
    if (slot < 0) {
        for (int i = 0; i < e->p.max_slots; i++)
            e->slot_abs[i] = -1;
        for (int i = 0; i < e->abs_on; i++)
            e->abs_slot[i] = -1, e->abs_used[i] = 0;
        return;
    }
    int ent = e->slot_abs[slot];
    if (ent >= 0) {
        e->abs_slot[ent] = -1;
        e->slot_abs[slot] = -1;
    }
}

/* A non-gated ReLU FFN takes the ReLU in the wi GEMM's epilogue, which
 * saves a pass over the n x d_ff activations. In fp16 that GEMM also
 * scales by 1/16 (ReLU commutes with it) and wo by 16, so activations up
 * to 16 x 65504 stay finite, as ffn_act does for what it hands a GEMM
 * (src/backend/cuda/ffn_act.cu). Other activations go through ffn_act. */
int t5__ffn(const t5_engine *e, t5_stream *s, float *x, const void *h, void *ff, void *ff2,
            const t5_layer_w *w, int n, t5_err *err)
{
    const t5_config *c = e->cfg;
    const t5_backend_vt *vt = e->be->vt;
    int rc;
    if (!c->gated && c->act == T5_ACT_RELU) {
        float sc = e->be->act_dtype == T5_F16 ? 16.0f : 1.0f;
        if ((rc = vt->gemm(s, ff, h, w->w_in, n, c->d_ff, e->d, 1.0f / sc,
                           T5_GEMM_OUT_ACT | T5_GEMM_RELU, err)) < 0)
            return rc;
        return vt->gemm(s, x, ff, w->w_out, n, e->d, c->d_ff, sc, T5_GEMM_ADD_RESID, err);
    }
    if ((rc = vt->gemm(s, ff, h, w->w_in, n, e->ff_cols, e->d, 1.0f, T5_GEMM_OUT_ACT, err)) < 0 ||
        (rc = vt->ffn_act(s, ff2, ff, n, c->d_ff, c->act, c->gated, err)) < 0)
        return rc;
    return vt->gemm(s, x, ff2, w->w_out, n, e->d, c->d_ff, 1.0f, T5_GEMM_ADD_RESID, err);
}

#define CHAIN_INTS ((T5_ENGINE_CHAIN_STEPS + 1) * 7 * T5_ENGINE_CHAIN_ROWS)
#define CHAIN_VALS (T5_ENGINE_CHAIN_STEPS * T5_ENGINE_CHAIN_ROWS)

static int dalloc(t5_engine *e, void **p, size_t bytes, const char *what, t5_err *err)
{
    *p = e->be->vt->alloc(e->be, bytes ? bytes : 1);
    if (!*p)
        return t5_errf(err, T5_ENOMEM, "engine: cannot reserve %zu bytes for %s", bytes, what);
    return 0;
}

int t5_engine_create(t5_engine **out, t5_model *m, const t5_engine_params *pp, t5_err *err)
{
    if (!out || !m)
        return t5_errf(err, T5_EINVAL, "t5_engine_create: out and model are required");
    *out = NULL;
    t5_engine_params p = pp ? *pp : t5_engine_default_params();
    if (p.max_slots == 0)
        p.max_slots = p.max_batch;
    if (p.max_batch < 1 || p.max_slots < 1 || p.max_input_len < 1 || p.max_output_len < 2 ||
        p.n_threads < 0)
        return t5_errf(err, T5_EINVAL,
                       "engine params: max_batch %d, max_slots %d, max_input_len %d, "
                       "max_output_len %d (>= 2), n_threads %d must be positive",
                       p.max_batch, p.max_slots, p.max_input_len, p.max_output_len, p.n_threads);

    t5_engine *e = calloc(1, sizeof *e);
    if (!e)
        return t5_errf(err, T5_ENOMEM, "engine: out of memory");
    const t5_config *c = &m->cfg;
    e->m = m;
    e->cfg = c;
    e->be = m->be;
    e->p = p;
    e->d = c->d_model;
    e->inner = m->inner;
    e->ff_cols = c->gated ? 2 * c->d_ff : c->d_ff;
    e->V = c->vocab_size;
    e->kmax = 2 * p.max_slots;
    t5_attn_shape sh = {c->num_heads, c->d_kv, c->relative_attention_num_buckets,
                        c->relative_attention_max_distance};
    e->enc_sh = e->dec_sh = sh;
    int S = p.max_slots + 1;
    e->self_lay = (t5_kv_layout){c->num_decoder_layers, S, c->num_heads, p.max_output_len, c->d_kv};
    e->cross_lay = (t5_kv_layout){c->num_decoder_layers, S, c->num_heads, p.max_input_len, c->d_kv};

    /* One encode group holds at most this many padded tokens; larger batches
     * are encoded in several groups (encode.c). The scratch per token is
     * dominated by the cross K/V of every decoder layer. The CPU takes 2048
     * tokens at a time; a GPU as many as fit in 256 MB of scratch (t5-small:
     * ~11k tokens, t5-base ~5k), since one group of 1024 short queries runs
     * its GEMMs far more efficiently than five groups of 200. */
    size_t a = e->be->act_size, B = (size_t)p.max_batch;
    size_t ckv_cols = (size_t)c->num_decoder_layers * 2 * e->inner;
    size_t tok_bytes = (size_t)e->d * (4 + a) + (4 * (size_t)e->inner + ckv_cols) * a +
                       ((size_t)e->ff_cols + (c->gated ? (size_t)c->d_ff : 0)) * a + 4;
    long long lim = 2048;
    if (e->be->device != T5_DEVICE_CPU) {
        lim = (long long)((256u << 20) / tok_bytes);
        lim = lim < 2048 ? 2048 : lim > 16384 ? 16384 : lim;
    }
    long long cap = (long long)p.max_batch * p.max_input_len;
    if (lim < p.max_input_len)
        lim = p.max_input_len;
    e->enc_rows = (int)(cap < lim ? cap : lim);
    e->enc_gemm_rows = e->be->device == T5_DEVICE_CPU ? e->enc_rows
                                                      : (e->enc_rows + T5__ENC_GEMM_ROWS - 1) /
                                                            T5__ENC_GEMM_ROWS * T5__ENC_GEMM_ROWS;

    size_t R = (size_t)e->enc_gemm_rows;
    size_t self_sz = (size_t)e->self_lay.n_layers * S * c->num_heads * p.max_output_len * c->d_kv;
    size_t cross_sz = (size_t)e->cross_lay.n_layers * S * c->num_heads * p.max_input_len * c->d_kv;
    int rc;
    if ((rc = dalloc(e, &e->self_k, self_sz * a, "self K cache", err)) < 0 ||
        (rc = dalloc(e, &e->self_v, self_sz * a, "self V cache", err)) < 0 ||
        (rc = dalloc(e, &e->cross_k, cross_sz * a, "cross K cache", err)) < 0 ||
        (rc = dalloc(e, &e->cross_v, cross_sz * a, "cross V cache", err)) < 0 ||
        (rc = dalloc(e, (void **)&e->enc_x, R * e->d * 4, "encoder residual", err)) < 0 ||
        (rc = dalloc(e, &e->enc_norm, R * e->d * a, "encoder norm", err)) < 0 ||
        (rc = dalloc(e, &e->enc_qkv, R * 3 * e->inner * a, "encoder qkv", err)) < 0 ||
        (rc = dalloc(e, &e->enc_attn, R * e->inner * a, "encoder attention", err)) < 0 ||
        (rc = dalloc(e, &e->enc_ff, R * e->ff_cols * a, "encoder FFN", err)) < 0 ||
        (rc = dalloc(e, &e->enc_ckv, R * ckv_cols * a, "cross K/V", err)) < 0 ||
        (rc = dalloc(e, (void **)&e->enc_in, (5 * B + R) * 4, "encoder inputs", err)) < 0 ||
        (rc = dalloc(e, (void **)&e->x, B * e->d * 4, "decoder residual", err)) < 0 ||
        (rc = dalloc(e, &e->norm, B * e->d * a, "decoder norm", err)) < 0 ||
        (rc = dalloc(e, &e->qkv, B * 3 * e->inner * a, "decoder qkv", err)) < 0 ||
        (rc = dalloc(e, &e->attn, B * e->inner * a, "decoder attention", err)) < 0 ||
        (rc = dalloc(e, &e->q, B * e->inner * a, "decoder cross query", err)) < 0 ||
        (rc = dalloc(e, &e->ff, B * e->ff_cols * a, "decoder FFN", err)) < 0 ||
        (rc = dalloc(e, (void **)&e->logits, B * e->V * 4, "logits", err)) < 0 ||
        (rc = dalloc(e, (void **)&e->top_v, B * e->kmax * 8, "top-k values and ids", err)) < 0 ||
        (rc = dalloc(e, (void **)&e->tok, B * 28, "step tokens, EOS masks and rows", err)) < 0 ||
        (rc = dalloc(e, (void **)&e->chain, (CHAIN_INTS + CHAIN_VALS) * 4,
                     "chained steps' inputs and values", err)) < 0)
        goto fail;
    if (c->gated) {
        if ((rc = dalloc(e, &e->enc_ff2, R * c->d_ff * a, "encoder FFN out", err)) < 0 ||
            (rc = dalloc(e, &e->ff2, B * c->d_ff * a, "decoder FFN out", err)) < 0)
            goto fail;
    } else {
        e->enc_ff2 = e->enc_ff;
        e->ff2 = e->ff;
    }
    e->cross_len = calloc(p.max_slots, sizeof(int32_t));
    e->self_len = calloc(p.max_slots, sizeof(int32_t));
    e->slot_mark = calloc(p.max_slots, sizeof(uint32_t));
    e->enc_in_h = host_block(e, 5 * B + R, &e->enc_in_pinned);
    e->tok_h = host_block(e, B * 7, &e->tok_pinned);
    e->chain_h = host_block(e, CHAIN_INTS + CHAIN_VALS, &e->chain_pinned);
    e->top_h = malloc(B * e->kmax * 8);
    if (a != 4)
        e->enc_out_h = malloc(R * e->d * a);
    if (!e->cross_len || !e->self_len || !e->slot_mark || !e->enc_in_h || !e->tok_h || !e->top_h ||
        !e->chain_h || (a != 4 && !e->enc_out_h)) {
        rc = t5_errf(err, T5_ENOMEM, "engine: out of host memory");
        goto fail;
    }
    /* the values follow the blocks (chain_issue reads both back in one copy) */
    e->chain_v = (float *)(e->chain + CHAIN_INTS);
    e->chain_vh = (float *)(e->chain_h + CHAIN_INTS);
    e->enc_pend_slots = calloc(B, sizeof(int32_t));
    e->enc_pend_lens = calloc(B, sizeof(int32_t));
    if (!e->enc_pend_slots || !e->enc_pend_lens) {
        rc = t5_errf(err, T5_ENOMEM, "engine: out of host memory");
        goto fail;
    }
    if ((rc = e->be->vt->stream_create(e->be, p.n_threads, &e->st, err)) < 0)
        goto fail;
    e->est = e->st;
    if (e->be->device != T5_DEVICE_CPU &&
        (rc = e->be->vt->stream_create(e->be, p.n_threads, &e->est, err)) < 0) {
        e->est = NULL;
        goto fail;
    }
    fill_fused(e);
    /* Steps of one row absorb: the fused step that reads the entries takes
     * one row by default (from 2 rows the per-op step with the tensor-core
     * GEMMs is faster: bench/cuda.md, session 15), and an entry costs a
     * kernel per sequence. T5_ENGINE_ABS_ROWS raises it (A/B, or with
     * T5_CUDA_FUSED_MAX_ROWS). t5_generate chains greedy steps of up to
     * T5_ENGINE_CHAIN_ROWS rows, absorbed or not. */
    e->abs_rows = getenv("T5_ENGINE_ABS_ROWS") ? atoi(getenv("T5_ENGINE_ABS_ROWS")) : 1;
    e->abs_rows = e->abs_rows < 1                  ? 1
                  : e->abs_rows > T5__ABS_MAX_ROWS ? T5__ABS_MAX_ROWS
                                                   : e->abs_rows;
    setup_absorb(e);
    if (getenv("T5_ENGINE_NO_ENC_ABSORB")) /* A/B: entries filled at the first step */
        e->abs_enc = 0;
    e->no_chain = getenv("T5_ENGINE_NO_CHAIN") != NULL;
    e->no_join = getenv("T5_ENGINE_NO_JOIN") != NULL;
    e->no_in_graph = getenv("T5_ENGINE_NO_IN_GRAPH") != NULL;
    /* The scratch slot that padding rows use must hold finite values. */
    for (int l = 0; l < e->self_lay.n_layers; l++) {
        size_t per_slot = (size_t)c->num_heads * p.max_output_len * c->d_kv * a;
        size_t at = ((size_t)l * S + p.max_slots) * per_slot;
        size_t cper = (size_t)c->num_heads * p.max_input_len * c->d_kv * a;
        size_t cat = ((size_t)l * S + p.max_slots) * cper;
        if ((rc = e->be->vt->memset0(e->st, (char *)e->self_k + at, per_slot, err)) < 0 ||
            (rc = e->be->vt->memset0(e->st, (char *)e->self_v + at, per_slot, err)) < 0 ||
            (rc = e->be->vt->memset0(e->st, (char *)e->cross_k + cat, cper, err)) < 0 ||
            (rc = e->be->vt->memset0(e->st, (char *)e->cross_v + cat, cper, err)) < 0)
            goto fail;
    }
    if ((rc = e->be->vt->sync(e->st, err)) < 0)
        goto fail;
    *out = e;
    return 0;
fail:
    t5_engine_free(e);
    return rc;
}

int t5_engine_copy_slots(t5_engine *e, int n, const int32_t *dst, const int32_t *src, int len,
                         t5_err *err)
{
    if (!e || n < 0 || (n > 0 && (!dst || !src)))
        return t5_errf(err, T5_EINVAL, "t5_engine_copy_slots: bad arguments");
    if (e->step_pend)
        return t5_errf(err, T5_EINVAL, "t5_engine_copy_slots: a step is in flight");
    if (len < 0 || len > e->p.max_output_len)
        return t5_errf(err, T5_EINVAL, "t5_engine_copy_slots: length %d not in 0..%d", len,
                       e->p.max_output_len);
    for (int i = 0; i < n; i++)
        if (dst[i] < 0 || dst[i] >= e->p.max_slots || src[i] < 0 || src[i] >= e->p.max_slots)
            return t5_errf(err, T5_EINVAL, "t5_engine_copy_slots: slot %d <- %d not in 0..%d",
                           dst[i], src[i], e->p.max_slots - 1);
    if (n == 0 || len == 0)
        return 0;
    int rc =
        e->be->vt->copy_slots(e->st, e->self_k, e->self_v, &e->self_lay, dst, src, n, len, err);
    if (rc < 0)
        return rc;
    /* Lengths follow the copies, read before written like the data. */
    int32_t tmp[64];
    int32_t *l = n <= 64 ? tmp : malloc(sizeof(int32_t) * n);
    if (!l)
        return t5_errf(err, T5_ENOMEM, "t5_engine_copy_slots: out of memory");
    for (int i = 0; i < n; i++)
        l[i] = e->self_len[src[i]] < len ? e->self_len[src[i]] : len;
    for (int i = 0; i < n; i++)
        e->self_len[dst[i]] = l[i];
    if (l != tmp)
        free(l);
    return 0;
}
