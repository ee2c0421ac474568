/* ref.c - scalar reference implementation of the backend operations (see
 * ref.h). Written for obviousness, not speed: every sum is in double. */
#include "backend/cpu/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void t5_ref_embed(float *x, const float *table, const int32_t *ids, int n, int d)
{
    for (int i = 0; i < n; i++)
        memcpy(x + (size_t)i * d, table + (size_t)ids[i] * d, sizeof(float) * d);
}

void t5_ref_rmsnorm(float *out, const float *x, const float *w, int n, int d, float eps)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        double ss = 0;
        for (int j = 0; j < d; j++)
            ss += (double)xi[j] * xi[j];
        double r = 1.0 / sqrt(ss / d + eps);
        for (int j = 0; j < d; j++)
            out[(size_t)i * d + j] = (float)(w[j] * (xi[j] * r));
    }
}

void t5_ref_gemm(float *out, const float *a, const float *w, int m, int n, int k, float alpha,
                 int accumulate)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)a[(size_t)i * k + p] * w[(size_t)j * k + p];
            float v = (float)(alpha * s);
            float *o = out + (size_t)i * n + j;
            *o = accumulate ? *o + v : v;
        }
}

float t5_ref_act(float x, int act)
{
    switch (act) {
    case T5_ACT_RELU: return x > 0 ? x : 0;
    case T5_ACT_GELU_TANH: /* transformers' NewGELUActivation */
        return (float)(0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))));
    case T5_ACT_GELU: return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    case T5_ACT_SILU: return (float)(x / (1.0 + exp(-(double)x)));
    }
    return x;
}

void t5_ref_ffn_act(float *out, const float *in, int m, int ff, int act, int gated)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ff; j++) {
            if (gated) {
                const float *r = in + (size_t)i * 2 * ff;
                out[(size_t)i * ff + j] = t5_ref_act(r[j], act) * r[ff + j];
            } else {
                out[(size_t)i * ff + j] = t5_ref_act(in[(size_t)i * ff + j], act);
            }
        }
}

/* Softmax over scores[0..n) in place (double), then out = sum p_t * v_t. */
static void softmax_d(double *s, int n)
{
    double mx = -INFINITY;
    for (int t = 0; t < n; t++)
        mx = s[t] > mx ? s[t] : mx;
    double sum = 0;
    for (int t = 0; t < n; t++) {
        s[t] = exp(s[t] - mx);
        sum += s[t];
    }
    for (int t = 0; t < n; t++)
        s[t] /= sum;
}

void t5_ref_attn_encoder(float *out, const float *qkv, const int32_t *lens, int B, int L,
                         const float *bias_table, const t5_attn_shape *sh)
{
    int H = sh->n_heads, D = sh->d_kv, inner = H * D;
    double *s = malloc(sizeof(double) * (L > 0 ? L : 1));
    if (!s)
        return; /* reference code: tests allocate small shapes */
    for (int b = 0; b < B; b++) {
        int len = lens[b];
        for (int i = 0; i < L; i++)
            for (int h = 0; h < H; h++) {
                const float *q = qkv + (size_t)(b * L + i) * 3 * inner + h * D;
                for (int j = 0; j < len; j++) {
                    const float *kk = qkv + (size_t)(b * L + j) * 3 * inner + inner + h * D;
                    double dot = 0;
                    for (int x = 0; x < D; x++)
                        dot += (double)q[x] * kk[x];
                    int bk = t5_rel_bucket(j - i, 1, sh->num_buckets, sh->max_distance);
                    s[j] = dot + bias_table[bk * H + h];
                }
                softmax_d(s, len);
                float *o = out + (size_t)(b * L + i) * inner + h * D;
                for (int x = 0; x < D; x++) {
                    double acc = 0;
                    for (int j = 0; j < len; j++)
                        acc += s[j] * qkv[(size_t)(b * L + j) * 3 * inner + 2 * inner + h * D + x];
                    o[x] = (float)acc;
                }
            }
    }
    free(s);
}

void t5_ref_cross_kv_store(float *kcache, float *vcache, const t5_kv_layout *lay, const float *kv,
                           const int32_t *slots, const int32_t *lens, int B, int L)
{
    int H = lay->n_heads, D = lay->d_kv, inner = H * D;
    size_t ld = (size_t)lay->n_layers * 2 * inner;
    for (int l = 0; l < lay->n_layers; l++)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < lens[b]; t++)
                for (int h = 0; h < H; h++) {
                    const float *row = kv + (size_t)(b * L + t) * ld + (size_t)l * 2 * inner;
                    int64_t at = t5_kv_index(lay, l, slots[b], h, t);
                    memcpy(kcache + at, row + h * D, sizeof(float) * D);
                    memcpy(vcache + at, row + inner + h * D, sizeof(float) * D);
                }
}

void t5_ref_attn_decoder_self(float *out, const float *qkv, float *kcache, float *vcache,
                              const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                              const float *bias_table, const t5_attn_shape *sh)
{
    int H = sh->n_heads, D = sh->d_kv, inner = H * D;
    /* Store every row's new K/V first: rows never share a slot. */
    for (int r = 0; r < n; r++) {
        int slot = rows[r * 4], pos = rows[r * 4 + 2];
        for (int h = 0; h < H; h++) {
            int64_t at = t5_kv_index(lay, layer, slot, h, pos);
            memcpy(kcache + at, qkv + (size_t)r * 3 * inner + inner + h * D, sizeof(float) * D);
            memcpy(vcache + at, qkv + (size_t)r * 3 * inner + 2 * inner + h * D, sizeof(float) * D);
        }
    }
    double *s = malloc(sizeof(double) * lay->max_len);
    if (!s)
        return;
    for (int r = 0; r < n; r++) {
        int slot = rows[r * 4], pos = rows[r * 4 + 2];
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)r * 3 * inner + h * D;
            for (int t = 0; t <= pos; t++) {
                const float *kk = kcache + t5_kv_index(lay, layer, slot, h, t);
                double dot = 0;
                for (int x = 0; x < D; x++)
                    dot += (double)q[x] * kk[x];
                int bk = t5_rel_bucket(t - pos, 0, sh->num_buckets, sh->max_distance);
                s[t] = dot + bias_table[bk * H + h];
            }
            softmax_d(s, pos + 1);
            for (int x = 0; x < D; x++) {
                double acc = 0;
                for (int t = 0; t <= pos; t++)
                    acc += s[t] * vcache[t5_kv_index(lay, layer, slot, h, t) + x];
                out[(size_t)r * inner + h * D + x] = (float)acc;
            }
        }
    }
    free(s);
}

void t5_ref_attn_cross(float *out, const float *q, const float *kcache, const float *vcache,
                       const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                       const t5_attn_shape *sh)
{
    int H = sh->n_heads, D = sh->d_kv, inner = H * D;
    double *s = malloc(sizeof(double) * lay->max_len);
    if (!s)
        return;
    for (int r = 0; r < n; r++) {
        int slot = rows[r * 4 + 1], len = rows[r * 4 + 3];
        for (int h = 0; h < H; h++) {
            const float *qh = q + (size_t)r * inner + h * D;
            for (int t = 0; t < len; t++) {
                const float *kk = kcache + t5_kv_index(lay, layer, slot, h, t);
                double dot = 0;
                for (int x = 0; x < D; x++)
                    dot += (double)qh[x] * kk[x];
                s[t] = dot;
            }
            softmax_d(s, len);
            for (int x = 0; x < D; x++) {
                double acc = 0;
                for (int t = 0; t < len; t++)
                    acc += s[t] * vcache[t5_kv_index(lay, layer, slot, h, t) + x];
                out[(size_t)r * inner + h * D + x] = (float)acc;
            }
        }
    }
    free(s);
}

void t5_ref_logits_topk(float *vals, int32_t *ids, const float *logits, int n, int V, int k,
                        const int32_t *no_eos, int eos_id)
{
    for (int r = 0; r < n; r++) {
        const float *z = logits + (size_t)r * V;
        double mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++)
            mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < V; v++)
            sum += exp(z[v] - mx);
        double lse = mx + log(sum);
        float *rv = vals + (size_t)r * k;
        int32_t *ri = ids + (size_t)r * k;
        int have = 0;
        /* Selection by insertion: scanning ids upwards and inserting after
         * equal values keeps the lower id first among ties. */
        for (int v = 0; v < V; v++) {
            float lp = (float)(z[v] - lse);
            if (no_eos && no_eos[r] && v == eos_id)
                lp = -INFINITY;
            if (have == k && !(lp > rv[k - 1]))
                continue;
            int p = have < k ? have++ : k - 1;
            while (p > 0 && rv[p - 1] < lp) {
                rv[p] = rv[p - 1];
                ri[p] = ri[p - 1];
                p--;
            }
            rv[p] = lp;
            ri[p] = v;
        }
        for (; have < k; have++) { /* k > V: pad with -inf */
            rv[have] = -INFINITY;
            ri[have] = -1;
        }
    }
}

void t5_ref_copy_slots(float *kcache, float *vcache, const t5_kv_layout *lay, const int32_t *dst,
                       const int32_t *src, int n, int len)
{
    size_t blk = (size_t)len * lay->d_kv;
    int G = lay->n_layers * lay->n_heads;
    float *tmp = malloc(sizeof(float) * blk * 2 * (size_t)n * G + 1);
    if (!tmp)
        return;
    /* Gather everything first so a permutation reads the old contents. */
    for (int i = 0; i < n; i++)
        for (int l = 0; l < lay->n_layers; l++)
            for (int h = 0; h < lay->n_heads; h++) {
                float *tk = tmp + (((size_t)i * G + l * lay->n_heads + h) * 2) * blk;
                int64_t at = t5_kv_index(lay, l, src[i], h, 0);
                memcpy(tk, kcache + at, sizeof(float) * blk);
                memcpy(tk + blk, vcache + at, sizeof(float) * blk);
            }
    for (int i = 0; i < n; i++)
        for (int l = 0; l < lay->n_layers; l++)
            for (int h = 0; h < lay->n_heads; h++) {
                float *tk = tmp + (((size_t)i * G + l * lay->n_heads + h) * 2) * blk;
                int64_t at = t5_kv_index(lay, l, dst[i], h, 0);
                memcpy(kcache + at, tk, sizeof(float) * blk);
                memcpy(vcache + at, tk + blk, sizeof(float) * blk);
            }
    free(tmp);
}
