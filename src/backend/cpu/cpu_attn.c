/* cpu_attn.c - attention and KV-cache operations of the CPU backend.
 *
 * T5 attention has no 1/sqrt(d) scale; the encoder and decoder
 * self-attention add a bias looked up by relative-position bucket, the same
 * for every layer. Each (row, head) pair is independent, so the team
 * parallelises over those; the dot products and weighted sums go through the
 * SIMD layer, the (short) softmax is scalar. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/ref.h"

/* In-place softmax over s[0..n), fp32 like torch. */
static inline void softmax_f(float *s, int n)
{
    float mx = -INFINITY, sum = 0;
    for (int t = 0; t < n; t++)
        mx = s[t] > mx ? s[t] : mx;
    for (int t = 0; t < n; t++) {
        s[t] = expf(s[t] - mx);
        sum += s[t];
    }
    float inv = 1.0f / sum;
    for (int t = 0; t < n; t++)
        s[t] *= inv;
}

typedef struct attn_job {
    const t5_stream *s;
    float *out;
    const float *x; /* qkv or q */
    float *kc, *vc;
    const t5_kv_layout *lay;
    const int32_t *lens, *rows, *slots;
    const float *bias;
    const t5_attn_shape *sh;
    int B, L, n, layer, per; /* per: items per chunk */
} attn_job;

/* Encoder: one query row (all heads) per item, item = b * L + i. */
static void enc_item(const attn_job *j, int item)
{
    const t5__simd *v = j->s->simd;
    const t5_attn_shape *sh = j->sh;
    const int H = sh->n_heads, D = sh->d_kv, inner = H * D, ld = 3 * inner, L = j->L;
    const int b = item / L, i = item % L, len = j->lens[b];
    const float *x = j->x;
    int bk[len];
    float sc[len];
    /* One bucket per key, shared by all heads of this query. */
    for (int t = 0; t < len; t++)
        bk[t] = t5_rel_bucket(t - i, 1, sh->num_buckets, sh->max_distance) * H;
    const float *row = x + (size_t)(b * L + i) * ld;
    float *orow = j->out + (size_t)(b * L + i) * inner;
    for (int h = 0; h < H; h++) {
        const float *q = row + h * D;
        for (int t = 0; t < len; t++)
            sc[t] = v->dot(q, x + (size_t)(b * L + t) * ld + inner + h * D, D) + j->bias[bk[t] + h];
        softmax_f(sc, len);
        float *oh = orow + h * D;
        memset(oh, 0, sizeof(float) * D);
        for (int t = 0; t < len; t++)
            v->axpy(oh, sc[t], x + (size_t)(b * L + t) * ld + 2 * inner + h * D, D);
    }
}

static void enc_chunk(void *arg, int c)
{
    const attn_job *j = arg;
    for (int it = c * j->per; it < (c + 1) * j->per && it < j->B * j->L; it++)
        enc_item(j, it);
}

/* Runs fn over `items` in chunks when the work is worth the team. */
static void run_items(t5_stream *s, attn_job *j, void (*fn)(void *, int), int items, double work)
{
    int chunks = t5__cpu_parallel(s, work) ? t5__cpu_chunks(s, items) : 1;
    j->per = (items + chunks - 1) / chunks;
    t5__pool_run(s->pool, fn, j, chunks);
}

int t5__cpu_attn_encoder(t5_stream *s, void *out, const void *qkv, const int32_t *lens, int B,
                         int L, const float *bias_table, const t5_attn_shape *sh, t5_err *err)
{
    for (int b = 0; b < B; b++)
        if (lens[b] < 1 || lens[b] > L)
            return t5_errf(err, T5_EINVAL, "attn_encoder: length %d of request %d not in 1..%d",
                           lens[b], b, L);
    attn_job j = {
        .s = s, .out = out, .x = qkv, .lens = lens, .bias = bias_table, .sh = sh, .B = B, .L = L};
    run_items(s, &j, enc_chunk, B * L, (double)B * L * L * sh->n_heads * sh->d_kv * 2);
    return 0;
}

/* Cross K/V store: item = layer * B + b. */
static void store_chunk(void *arg, int c)
{
    const attn_job *j = arg;
    const t5_kv_layout *lay = j->lay;
    const int H = lay->n_heads, D = lay->d_kv, inner = H * D;
    const size_t ld = (size_t)lay->n_layers * 2 * inner;
    for (int it = c * j->per; it < (c + 1) * j->per && it < lay->n_layers * j->B; it++) {
        int l = it / j->B, b = it % j->B;
        for (int t = 0; t < j->lens[b]; t++) {
            const float *row = j->x + (size_t)(b * j->L + t) * ld + (size_t)l * 2 * inner;
            for (int h = 0; h < H; h++) {
                int64_t at = t5_kv_index(lay, l, j->slots[b], h, t);
                memcpy(j->kc + at, row + h * D, sizeof(float) * D);
                memcpy(j->vc + at, row + inner + h * D, sizeof(float) * D);
            }
        }
    }
}

int t5__cpu_cross_kv_store(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                           const void *kv, const int32_t *slots, const int32_t *lens, int B, int L,
                           t5_err *err)
{
    for (int b = 0; b < B; b++)
        if (slots[b] < 0 || slots[b] >= lay->n_slots || lens[b] < 0 || lens[b] > lay->max_len ||
            lens[b] > L)
            return t5_errf(err, T5_EINVAL, "cross_kv_store: slot %d / length %d out of range",
                           slots[b], lens[b]);
    attn_job j = {.s = s,
                  .x = kv,
                  .kc = kcache,
                  .vc = vcache,
                  .lay = lay,
                  .lens = lens,
                  .slots = slots,
                  .B = B,
                  .L = L};
    run_items(s, &j, store_chunk, lay->n_layers * B,
              (double)B * L * lay->n_layers * lay->n_heads * lay->d_kv);
    return 0;
}

/* Checks a step's rows against the cache layouts before any memory is touched. */
static int check_rows(const t5_kv_layout *lay, int layer, const int32_t *rows, int n, int cross,
                      t5_err *err)
{
    if (layer < 0 || layer >= lay->n_layers)
        return t5_errf(err, T5_EINVAL, "attention: layer %d out of range", layer);
    for (int r = 0; r < n; r++) {
        int slot = rows[r * 4 + (cross ? 1 : 0)];
        int len = cross ? rows[r * 4 + 3] : rows[r * 4 + 2] + 1;
        if (slot < 0 || slot >= lay->n_slots || len < 1 || len > lay->max_len)
            return t5_errf(err, T5_EINVAL, "attention: row %d has slot %d, length %d out of range",
                           r, slot, len);
    }
    return 0;
}

/* Decoder self-attention: item = row * H + head. */
static void self_chunk(void *arg, int c)
{
    const attn_job *j = arg;
    const t5__simd *v = j->s->simd;
    const t5_attn_shape *sh = j->sh;
    const int H = sh->n_heads, D = sh->d_kv, inner = H * D;
    for (int it = c * j->per; it < (c + 1) * j->per && it < j->n * H; it++) {
        const int r = it / H, h = it % H;
        const int slot = j->rows[r * 4], pos = j->rows[r * 4 + 2];
        float sc[pos + 1];
        const float *q = j->x + (size_t)r * 3 * inner + h * D;
        const float *kh = j->kc + t5_kv_index(j->lay, j->layer, slot, h, 0);
        const float *vh = j->vc + t5_kv_index(j->lay, j->layer, slot, h, 0);
        for (int t = 0; t <= pos; t++)
            sc[t] = v->dot(q, kh + (size_t)t * D, D) +
                    j->bias[t5_rel_bucket(t - pos, 0, sh->num_buckets, sh->max_distance) * H + h];
        softmax_f(sc, pos + 1);
        float *oh = j->out + (size_t)r * inner + h * D;
        memset(oh, 0, sizeof(float) * D);
        for (int t = 0; t <= pos; t++)
            v->axpy(oh, sc[t], vh + (size_t)t * D, D);
    }
}

int t5__cpu_attn_decoder_self(t5_stream *s, void *out, const void *qkv, void *kcache, void *vcache,
                              const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                              const float *bias_table, const t5_attn_shape *sh, t5_err *err)
{
    int rc = check_rows(lay, layer, rows, n, 0, err);
    if (rc < 0)
        return rc;
    const int H = sh->n_heads, D = sh->d_kv, inner = H * D;
    const float *x = qkv;
    float *kc = kcache, *vc = vcache;
    /* Append this step's K/V first; rows never share a self slot. */
    for (int r = 0; r < n; r++)
        for (int h = 0; h < H; h++) {
            int64_t at = t5_kv_index(lay, layer, rows[r * 4], h, rows[r * 4 + 2]);
            memcpy(kc + at, x + (size_t)r * 3 * inner + inner + h * D, sizeof(float) * D);
            memcpy(vc + at, x + (size_t)r * 3 * inner + 2 * inner + h * D, sizeof(float) * D);
        }
    double work = 0;
    for (int r = 0; r < n; r++)
        work += (double)(rows[r * 4 + 2] + 1) * inner * 2;
    attn_job j = {.s = s,
                  .out = out,
                  .x = qkv,
                  .kc = kc,
                  .vc = vc,
                  .lay = lay,
                  .rows = rows,
                  .bias = bias_table,
                  .sh = sh,
                  .n = n,
                  .layer = layer};
    run_items(s, &j, self_chunk, n * H, work);
    return 0;
}

/* Cross-attention: item = row * H + head. */
static void cross_chunk(void *arg, int c)
{
    const attn_job *j = arg;
    const t5__simd *v = j->s->simd;
    const int H = j->sh->n_heads, D = j->sh->d_kv, inner = H * D;
    for (int it = c * j->per; it < (c + 1) * j->per && it < j->n * H; it++) {
        const int r = it / H, h = it % H;
        const int slot = j->rows[r * 4 + 1], len = j->rows[r * 4 + 3];
        float sc[len];
        const float *qh = j->x + (size_t)r * inner + h * D;
        const float *kh = j->kc + t5_kv_index(j->lay, j->layer, slot, h, 0);
        const float *vh = j->vc + t5_kv_index(j->lay, j->layer, slot, h, 0);
        for (int t = 0; t < len; t++)
            sc[t] = v->dot(qh, kh + (size_t)t * D, D);
        softmax_f(sc, len);
        float *oh = j->out + (size_t)r * inner + h * D;
        memset(oh, 0, sizeof(float) * D);
        for (int t = 0; t < len; t++)
            v->axpy(oh, sc[t], vh + (size_t)t * D, D);
    }
}

int t5__cpu_attn_cross(t5_stream *s, void *out, const void *q, const void *kcache,
                       const void *vcache, const t5_kv_layout *lay, int layer, const int32_t *rows,
                       int n, const t5_attn_shape *sh, t5_err *err)
{
    int rc = check_rows(lay, layer, rows, n, 1, err);
    if (rc < 0)
        return rc;
    double work = 0;
    for (int r = 0; r < n; r++)
        work += (double)rows[r * 4 + 3] * sh->n_heads * sh->d_kv * 2;
    attn_job j = {.s = s,
                  .out = out,
                  .x = q,
                  .kc = (float *)kcache,
                  .vc = (float *)vcache,
                  .lay = lay,
                  .rows = rows,
                  .sh = sh,
                  .n = n,
                  .layer = layer};
    run_items(s, &j, cross_chunk, n * sh->n_heads, work);
    return 0;
}

/* Copies positions [0, len) of every (layer, head) block of one slot. */
static void copy_one(float *kc, float *vc, const t5_kv_layout *lay, int dst, int src, int len)
{
    size_t blk = (size_t)len * lay->d_kv * sizeof(float);
    for (int l = 0; l < lay->n_layers; l++)
        for (int h = 0; h < lay->n_heads; h++) {
            memcpy(kc + t5_kv_index(lay, l, dst, h, 0), kc + t5_kv_index(lay, l, src, h, 0), blk);
            memcpy(vc + t5_kv_index(lay, l, dst, h, 0), vc + t5_kv_index(lay, l, src, h, 0), blk);
        }
}

int t5__cpu_copy_slots(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                       const int32_t *dst, const int32_t *src, int n, int len, t5_err *err)
{
    float *kc = kcache, *vc = vcache;
    if (len < 0 || len > lay->max_len)
        return t5_errf(err, T5_EINVAL, "copy_slots: length %d out of range", len);
    int overlap = 0;
    for (int i = 0; i < n; i++) {
        if (dst[i] < 0 || dst[i] >= lay->n_slots || src[i] < 0 || src[i] >= lay->n_slots)
            return t5_errf(err, T5_EINVAL, "copy_slots: slot pair %d <- %d out of range", dst[i],
                           src[i]);
        for (int j = 0; j < n; j++)
            overlap |= dst[i] == src[j] && i != j;
    }
    if (!overlap || n == 1) {
        for (int i = 0; i < n; i++)
            if (dst[i] != src[i])
                copy_one(kc, vc, lay, dst[i], src[i], len);
        return 0;
    }
    /* A destination is also read: stage every source first, in scratch that
     * grows on demand (this path is never taken by the engine's own beam
     * reordering, which writes only into slots nobody reads). */
    size_t per = (size_t)lay->n_layers * lay->n_heads * len * lay->d_kv * 2;
    size_t need = per * n;
    if (need > s->scratch_len) {
        float *p = realloc(s->scratch, need * sizeof(float));
        if (!p)
            return t5_errf(err, T5_ENOMEM, "copy_slots: cannot stage %zu floats", need);
        s->scratch = p;
        s->scratch_len = need;
    }
    size_t blk = (size_t)len * lay->d_kv;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            for (int l = 0; l < lay->n_layers; l++)
                for (int h = 0; h < lay->n_heads; h++) {
                    float *tk = s->scratch + per * i + ((size_t)l * lay->n_heads + h) * 2 * blk;
                    int64_t at = t5_kv_index(lay, l, pass ? dst[i] : src[i], h, 0);
                    if (pass == 0) {
                        memcpy(tk, kc + at, blk * sizeof(float));
                        memcpy(tk + blk, vc + at, blk * sizeof(float));
                    } else {
                        memcpy(kc + at, tk, blk * sizeof(float));
                        memcpy(vc + at, tk + blk, blk * sizeof(float));
                    }
                }
    return 0;
}
