/* encode.c - the T5 encoder over a padded batch, ending in the cross K/V of
 * every decoder layer (one GEMM with the fused w_cross_kv), stored in the
 * requests' cross slots.
 *
 * Per layer (T5 is pre-norm):
 *   h = rmsnorm(x); x += o(attn(qkv(h)))         relative bias, keys masked
 *   h = rmsnorm(x); x += wo(act(wi(h)))          (gated: act(wi_0 h) * wi_1 h)
 * then h = rmsnorm(x) is the encoder output and K|V = h @ w_cross_kv^T.
 * Padded positions get finite values that nothing real ever attends to. */
#include <string.h>

#include "engine/engine_priv.h"

/* fp16 / bf16 -> fp32 on the host, for enc_out when activations are 16-bit. */
static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000) << 16, ex = (h >> 10) & 0x1f, man = h & 0x3ff, f;
    if (ex == 0) {
        if (man == 0) {
            f = s;
        } else { /* subnormal: renormalise */
            ex = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                ex--;
            }
            f = s | (ex << 23) | ((man & 0x3ff) << 13);
        }
    } else if (ex == 31) {
        f = s | 0x7f800000u | (man << 13);
    } else {
        f = s | ((ex + 127 - 15) << 23) | (man << 13);
    }
    float out;
    memcpy(&out, &f, 4);
    return out;
}

static void act_to_f32(float *dst, const void *src, size_t n, t5_dtype t)
{
    const uint16_t *h = src;
    for (size_t i = 0; i < n; i++) {
        if (t == T5_F16) {
            dst[i] = half_to_float(h[i]);
        } else {
            uint32_t f = (uint32_t)h[i] << 16;
            memcpy(dst + i, &f, 4);
        }
    }
}

/* The device part of encode_group for n requests padded to L: every input
 * it reads is on the device already, so a graph-capturing backend replays
 * it per (n, L) (run_cached). */
typedef struct enc_args {
    t5_engine *e;
    int n, L;
    size_t n_in;                       /* ints of e->enc_in_h to copy first (encode_group), or 0 */
    const int32_t *ids, *lens, *slots; /* device, in e->enc_in */
    const int32_t *abs;                /* device (entry, slot, length) a request, or NULL */
    int declined;                      /* cross_absorb could not take abs */
} enc_args;

static int encode_device(void *arg, t5_err *err)
{
    enc_args *g = arg;
    t5_engine *e = g->e;
    const t5_model *m = e->m;
    const t5_config *c = e->cfg;
    const t5_backend_vt *vt = e->be->vt;
    t5_stream *s = e->est;
    int n = g->n, L = g->L, R = n * L, d = e->d, inner = e->inner, rc;
    int RG = t5__enc_gemm_rows(e, n, L); /* the GEMMs' rows: R, or R padded */
    float eps = c->layer_norm_epsilon;
    if (g->n_in && (rc = vt->h2d(s, e->enc_in, e->enc_in_h, sizeof(int32_t) * g->n_in, err)) < 0)
        return rc;
    if ((rc = vt->embed(s, e->enc_x, m->embed, g->ids, R, d, err)) < 0)
        return rc;
    for (int l = 0; l < c->num_layers; l++) {
        const t5_layer_w *w = &m->enc[l];
        if ((rc = vt->rmsnorm(s, e->enc_norm, e->enc_x, w->ln_attn, R, d, eps, err)) < 0 ||
            (rc = vt->gemm(s, e->enc_qkv, e->enc_norm, w->w_qkv, RG, 3 * inner, d, 1.0f,
                           T5_GEMM_OUT_ACT, err)) < 0 ||
            (rc = vt->attn_encoder(s, e->enc_attn, e->enc_qkv, g->lens, n, L, m->enc_bias,
                                   &e->enc_sh, err)) < 0 ||
            (rc = vt->gemm(s, e->enc_x, e->enc_attn, w->w_o, RG, d, inner, 1.0f, T5_GEMM_ADD_RESID,
                           err)) < 0 ||
            (rc = vt->rmsnorm(s, e->enc_norm, e->enc_x, w->ln_ff, R, d, eps, err)) < 0 ||
            (rc = t5__ffn(e, s, e->enc_x, e->enc_norm, e->enc_ff, e->enc_ff2, w, RG, err)) < 0)
            return t5_err_wrap(err, rc, "encoder layer %d", l);
    }
    if ((rc = vt->rmsnorm(s, e->enc_norm, e->enc_x, m->enc_ln_final, R, d, eps, err)) < 0 ||
        (rc = vt->gemm(s, e->enc_ckv, e->enc_norm, m->w_cross_kv, RG,
                       c->num_decoder_layers * 2 * inner, d, 1.0f, T5_GEMM_OUT_ACT, err)) < 0 ||
        (rc = vt->cross_kv_store(s, e->cross_k, e->cross_v, &e->cross_lay, e->enc_ckv, g->slots,
                                 g->lens, n, L, err)) < 0)
        return t5_err_wrap(err, rc, "encoder output");
    /* the absorbed entries (encode_group), of at most this many keys */
    const int most = e->fused.abs_sa < e->p.max_input_len ? e->fused.abs_sa : e->p.max_input_len;
    for (int b = 0; g->abs && b < n; b++) {
        rc = vt->cross_absorb(s, &e->fused, 0, 0, most, g->abs + 3 * b, err);
        if (rc < 0)
            return t5_err_wrap(err, rc, "absorbing request %d", b);
        g->declined |= rc > 0;
    }
    return 0;
}

/* Graph-capturing backends see few encoder shapes: a small group is padded
 * to a power-of-two count of requests (the extra ones hold one pad token
 * and write the scratch slot, as padding rows of a decoder step do) and to
 * a length that is a multiple of 8 (at most max_input_len), so run_cached
 * replays one graph per bucket and t5_engine_warmup can record them all.
 * Keys past a request's length are masked, so the padding changes no real
 * output. A group whose bucket would exceed T5__ENC_GRAPH_TOKENS tokens
 * runs eagerly at its exact shape instead: there the kernels' own time
 * dominates the launches a graph saves, and the padding (9 tokens encoded
 * as 16) would cost up to 2x. The CPU always runs the exact shape. */
int t5__enc_bucketed(const t5_engine *e, int n, int L)
{
    if (e->be->device == T5_DEVICE_CPU)
        return 0;
    int np = t5__pow2_at_least(n), lb = (L + 7) / 8 * 8;
    if (np > e->p.max_batch)
        np = e->p.max_batch;
    if (lb > e->p.max_input_len)
        lb = e->p.max_input_len;
    return (long long)np * lb <= T5__ENC_GRAPH_TOKENS;
}

/* A group that runs eagerly has its own row count, and a server meets a
 * new one in almost every admission: with the first launch of whatever
 * kernels cuBLASLt picks for each new count (building the plans was cheap),
 * the in-flight worker's encoder issue stalled for 27-62 ms a few times a
 * second in an H100 serving run (bench/serving.md, session 5). So its GEMMs
 * run over the rows rounded up to T5__ENC_GEMM_ROWS: at most 127 rows more
 * (under 1% at 1024 x 9 tokens, +9% at 65 x 9; each GEMM row depends on its
 * own input row only, and rows past the group are never read as output), a
 * few dozen shapes that t5_engine_warmup plans and runs at load. Norms,
 * attention and the activation keep the exact count. */
int t5__enc_gemm_rows(const t5_engine *e, int n, int L)
{
    int R = n * L;
    if (e->be->device == T5_DEVICE_CPU || t5__enc_bucketed(e, n, L))
        return R;
    int RG = (R + T5__ENC_GEMM_ROWS - 1) / T5__ENC_GEMM_ROWS * T5__ENC_GEMM_ROWS;
    return RG < e->enc_gemm_rows ? RG : e->enc_gemm_rows;
}

int t5__enc_bucket_n(const t5_engine *e, int n, int L)
{
    if (!t5__enc_bucketed(e, n, L))
        return n;
    int p = t5__pow2_at_least(n);
    return p < e->p.max_batch ? p : e->p.max_batch;
}

int t5__enc_bucket_len(const t5_engine *e, int n, int L)
{
    if (!t5__enc_bucketed(e, n, L))
        return L;
    int b = (L + 7) / 8 * 8;
    return b < e->p.max_input_len ? b : e->p.max_input_len;
}

/* Entries for the n requests of a group that absorbs (encode_group), as
 * (entry, slot, length) at at: taken from the least recently used, marked
 * used so that no two requests get one. */
static void take_entries(t5_engine *e, int n, const int32_t *cross_slots, const int32_t *lens,
                         int32_t *at)
{
    uint32_t now = t5__abs_tick(e);
    for (int b = 0; b < n; b++) {
        int x = t5__abs_take(e, now);
        e->abs_used[x] = now;
        at[3 * b] = x;
        at[3 * b + 1] = cross_slots[b];
        at[3 * b + 2] = lens[b];
    }
}

/* Encodes requests [0, n) of the arguments as one padded group of length
 * L (before bucketing); absorb: their absorbed entries too, where it can;
 * last: no group follows in this encode. */
static int encode_group(t5_engine *e, int n, int L, const int32_t *cross_slots,
                        const int32_t *const *ids, const int32_t *lens, float *enc_out, int absorb,
                        int last, t5_err *err)
{
    const t5_config *c = e->cfg;
    const t5_backend_vt *vt = e->be->vt;
    t5_stream *s = e->est;
    const int bucketed = t5__enc_bucketed(e, n, L);
    const int np = t5__enc_bucket_n(e, n, L);
    L = t5__enc_bucket_len(e, n, L);
    int R = np * L, d = e->d, rc;
    /* lengths, slots and ids in one block, so one copy (three small copies
     * each cost the host a few microseconds before the graph's launch) */
    int32_t *lens_h = e->enc_in_h, *slots_h = lens_h + np, *ids_h = slots_h + np;
    for (int b = 0; b < np; b++) {
        int len = b < n ? lens[b] : 0;
        if (len)
            memcpy(ids_h + (size_t)b * L, ids[b], sizeof(int32_t) * len);
        for (int t = len; t < L; t++)
            ids_h[(size_t)b * L + t] = c->pad_token_id;
        lens_h[b] = b < n ? lens[b] : 1;
        slots_h[b] = b < n ? cross_slots[b] : e->p.max_slots; /* the scratch slot */
    }
    /* Absorbing needs every request's entry (no padding requests) and a
     * length an entry holds; the entries' bookkeeping is set once the
     * group was issued (t5_generate's only: its steps are ordered after) */
    absorb = absorb && n == np && e->abs_on >= n && e->abs_enc;
    for (int b = 0; absorb && b < n; b++)
        absorb = lens[b] <= e->fused.abs_sa;
    if (absorb)
        take_entries(e, n, cross_slots, lens, ids_h + R);
    /* The inputs' copy: inside the graph where it can read enc_in_h when
     * the graph runs (pinned), which saves the host a call before the
     * graph's launch. Only for an encode's last group: the host does not
     * write enc_in_h again before the encode is waited for
     * (t5_engine_encode_wait, or the step stream's sync after
     * t5__encode_joined), where a next group would write it at once. */
    size_t n_in = 2 * np + R + (absorb ? 3 * np : 0);
    int in_graph = last && bucketed && e->enc_in_pinned && !e->no_in_graph;
    if (!in_graph && (rc = vt->h2d(s, e->enc_in, e->enc_in_h, sizeof(int32_t) * n_in, err)) < 0)
        return rc;

    enc_args g = {e,
                  np,
                  L,
                  in_graph ? n_in : 0,
                  e->enc_in + 2 * np,
                  e->enc_in,
                  e->enc_in + np,
                  absorb ? e->enc_in + 2 * np + R : NULL,
                  0};
    /* a graph with the copy inside and one without are different graphs:
     * one (np, L) can be an encode's last group and, in another, not */
    uint64_t key = (1ull << 63) | ((uint64_t)absorb << 62) | ((uint64_t)in_graph << 61) |
                   ((uint64_t)(uint32_t)np << 32) | (uint32_t)L;
    rc = bucketed ? vt->run_cached(s, key, encode_device, &g, err) : encode_device(&g, err);
    if (rc < 0)
        return rc;
    if (g.declined) /* the same for every encode: the steps absorb instead */
        e->abs_enc = 0;
    else if (absorb)
        for (int b = 0; b < n; b++) {
            int x = ids_h[R + 3 * b];
            e->abs_slot[x] = cross_slots[b];
            e->slot_abs[cross_slots[b]] = x;
        }
    if (enc_out) {
        size_t a = e->be->act_size;
        for (int b = 0; b < n; b++) {
            const char *src = (const char *)e->enc_norm + (size_t)b * L * d * a;
            if (a == 4) {
                rc = vt->d2h(s, enc_out, src, sizeof(float) * lens[b] * d, err);
            } else {
                rc = vt->d2h(s, e->enc_out_h, src, a * lens[b] * d, err);
                if (rc >= 0)
                    rc = vt->sync(s, err);
                if (rc >= 0)
                    act_to_f32(enc_out, e->enc_out_h, (size_t)lens[b] * d, e->be->act_dtype);
            }
            if (rc < 0)
                return rc;
            enc_out += (size_t)lens[b] * d;
        }
    }
    return 0;
}

/* The checks of t5_engine_encode / _start, then every group issued on the
 * encoder stream (enc_out: synchronously, per request). */
static int encode_issue(t5_engine *e, int n, const int32_t *cross_slots, const int32_t *const *ids,
                        const int32_t *lens, float *enc_out, int absorb, t5_err *err)
{
    if (!e || !cross_slots || !ids || !lens)
        return t5_errf(err, T5_EINVAL, "t5_engine_encode: NULL argument");
    if (e->enc_pend_n > 0)
        return t5_errf(err, T5_EINVAL,
                       "t5_engine_encode: an encode is in flight (t5_engine_encode_wait first)");
    if (n < 1 || n > e->p.max_batch)
        return t5_errf(err, T5_ELIMIT, "t5_engine_encode: %d requests, max_batch is %d", n,
                       e->p.max_batch);
    for (int b = 0; b < n; b++) {
        if (lens[b] < 1 || lens[b] > e->p.max_input_len)
            return t5_errf(err, T5_ELIMIT, "request %d: input length %d not in 1..%d", b, lens[b],
                           e->p.max_input_len);
        if (!ids[b])
            return t5_errf(err, T5_EINVAL, "request %d: ids is NULL", b);
        for (int t = 0; t < lens[b]; t++)
            if (ids[b][t] < 0 || ids[b][t] >= e->V)
                return t5_errf(err, T5_EINVAL, "request %d: token %d at %d outside vocab 0..%d", b,
                               ids[b][t], t, e->V - 1);
        if (cross_slots[b] < 0 || cross_slots[b] >= e->p.max_slots)
            return t5_errf(err, T5_EINVAL, "request %d: cross slot %d not in 0..%d", b,
                           cross_slots[b], e->p.max_slots - 1);
        for (int j = 0; j < b; j++)
            if (cross_slots[j] == cross_slots[b])
                return t5_errf(err, T5_EINVAL, "requests %d and %d share cross slot %d", j, b,
                               cross_slots[b]);
    }
    for (int b = 0; b < n; b++) /* its absorbed cross-attention is stale now */
        t5__abs_forget(e, cross_slots[b]);
    /* Groups of consecutive requests whose padded size fits the scratch. */
    int b0 = 0;
    while (b0 < n) {
        int L = lens[b0], cnt = 1;
        while (b0 + cnt < n) {
            int L2 = lens[b0 + cnt] > L ? lens[b0 + cnt] : L;
            if ((long long)t5__enc_bucket_n(e, cnt + 1, L2) * t5__enc_bucket_len(e, cnt + 1, L2) >
                e->enc_rows)
                break;
            L = L2;
            cnt++;
        }
        int rc = encode_group(e, cnt, L, cross_slots + b0, ids + b0, lens + b0, enc_out, absorb,
                              b0 + cnt == n, err);
        if (rc < 0)
            return rc;
        if (enc_out)
            for (int b = b0; b < b0 + cnt; b++)
                enc_out += (size_t)lens[b] * e->d;
        b0 += cnt;
    }
    return 0;
}

/* Waits for the encoder stream, then marks the slots encoded. */
static int encode_finish(t5_engine *e, int n, const int32_t *cross_slots, const int32_t *lens,
                         t5_err *err)
{
    int rc = e->be->vt->sync(e->est, err);
    if (rc < 0)
        return rc;
    for (int b = 0; b < n; b++)
        e->cross_len[cross_slots[b]] = lens[b];
    return 0;
}

/* encode_issue, and on failure the encoder stream drained of what it did
 * issue, so the engine is idle either way. */
static int encode_issue_or_drain(t5_engine *e, int n, const int32_t *cross_slots,
                                 const int32_t *const *ids, const int32_t *lens, float *enc_out,
                                 t5_err *err)
{
    int rc = encode_issue(e, n, cross_slots, ids, lens, enc_out, 0, err);
    if (rc < 0 && e && e->est)
        e->be->vt->sync(e->est, NULL);
    return rc;
}

int t5_engine_encode(t5_engine *e, int n, const int32_t *cross_slots, const int32_t *const *ids,
                     const int32_t *lens, float *enc_out, t5_err *err)
{
    int rc = encode_issue_or_drain(e, n, cross_slots, ids, lens, enc_out, err);
    return rc < 0 ? rc : encode_finish(e, n, cross_slots, lens, err);
}

int t5_engine_encode_start(t5_engine *e, int n, const int32_t *cross_slots,
                           const int32_t *const *ids, const int32_t *lens, t5_err *err)
{
    int rc = encode_issue_or_drain(e, n, cross_slots, ids, lens, NULL, err);
    if (rc < 0)
        return rc;
    memcpy(e->enc_pend_slots, cross_slots, sizeof(int32_t) * n);
    memcpy(e->enc_pend_lens, lens, sizeof(int32_t) * n);
    e->enc_pend_n = n;
    return 0;
}

int t5_engine_encode_wait(t5_engine *e, t5_err *err)
{
    if (!e)
        return t5_errf(err, T5_EINVAL, "t5_engine_encode_wait: NULL engine");
    int n = e->enc_pend_n;
    e->enc_pend_n = 0;
    return n ? encode_finish(e, n, e->enc_pend_slots, e->enc_pend_lens, err) : 0;
}

/* The encoder stream joined to the step stream (backend stream_join) while
 * the groups are issued: the steps issued next on the step stream run after
 * them, and the host does not wait in between (at batch 1 that wait, and
 * the absorb and chain launches behind it, left the device idle between
 * the encoder and the first step). The slots count as encoded at once:
 * whatever reads them is ordered after the encode on the step stream, and
 * the step stream's next sync finishes the encode. */
int t5__encode_joined(t5_engine *e, int n, const int32_t *cross_slots, const int32_t *const *ids,
                      const int32_t *lens, int absorb, t5_err *err)
{
    const t5_backend_vt *vt = e->be->vt;
    if (!vt->stream_join || e->est == e->st || e->no_join || e->enc_pend_n > 0)
        return t5_engine_encode(e, n, cross_slots, ids, lens, NULL, err);
    int rc = vt->stream_join(e->est, e->st, err);
    if (rc < 0)
        return rc;
    rc = encode_issue(e, n, cross_slots, ids, lens, NULL, absorb, err);
    int rj = vt->stream_join(e->est, NULL, rc < 0 ? NULL : err);
    if (rc >= 0 && rj < 0)
        rc = rj;
    if (rc < 0) { /* drained: nothing stays in flight */
        vt->sync(e->st, NULL);
        return rc;
    }
    for (int b = 0; b < n; b++)
        e->cross_len[cross_slots[b]] = lens[b];
    return 0;
}
