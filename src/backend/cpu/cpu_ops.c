/* cpu_ops.c - the row-wise operations: embedding, RMSNorm, FFN activation,
 * log-softmax + top-k. Rows are independent, so each parallelises over rows. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/ref.h"

int t5__cpu_embed(t5_stream *s, float *x, const void *table, const int32_t *ids, int n, int d,
                  t5_err *err)
{
    const float *tab = table;
    for (int i = 0; i < n; i++)
        memcpy(x + (size_t)i * d, tab + (size_t)ids[i] * d, sizeof(float) * d);
    return 0;
}

int t5__cpu_rmsnorm(t5_stream *s, void *out, const float *x, const void *w, int n, int d,
                    float eps, t5_err *err)
{
    const t5__simd *v = s->simd;
    float *o = out;
    int nt = t5__cpu_threads(s, (double)n * d * 4);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        /* transformers: variance = mean(x^2) in fp32, x * rsqrt(var + eps), then w * x. */
        float var = v->sumsq(xi, d) / (float)d;
        float r = 1.0f / sqrtf(var + eps);
        v->scale_mul(o + (size_t)i * d, xi, r, w, d);
    }
    return 0;
}

static inline float gelu_tanh(float x)
{
    /* transformers' NewGELUActivation, in fp32 as torch evaluates it. */
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * (x * x * x))));
}

static inline float act1(float x, int act)
{
    switch (act) {
    case T5_ACT_RELU: return x > 0 ? x : 0;
    case T5_ACT_GELU_TANH: return gelu_tanh(x);
    case T5_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case T5_ACT_SILU: return x / (1.0f + expf(-x));
    }
    return x;
}

int t5__cpu_ffn_act(t5_stream *s, void *out, const void *in, int m, int ff, int act, int gated,
                    t5_err *err)
{
    if (act < T5_ACT_RELU || act > T5_ACT_SILU)
        return t5_errf(err, T5_EINVAL, "ffn_act: unknown activation %d", act);
    float *o = out;
    const float *x = in;
    int nt = t5__cpu_threads(s, (double)m * ff * (act == T5_ACT_RELU ? 1 : 16));
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < m; i++) {
        float *oi = o + (size_t)i * ff;
        if (gated) {
            const float *r = x + (size_t)i * 2 * ff;
            for (int j = 0; j < ff; j++)
                oi[j] = act1(r[j], act) * r[ff + j];
        } else {
            const float *r = x + (size_t)i * ff;
            for (int j = 0; j < ff; j++)
                oi[j] = act1(r[j], act);
        }
    }
    return 0;
}

int t5__cpu_logits_topk(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n,
                        int V, int k, const int32_t *no_eos, int eos_id, t5_err *err)
{
    if (k <= 0 || V <= 0)
        return t5_errf(err, T5_EINVAL, "logits_topk: bad k %d / vocab %d", k, V);
    const t5__simd *v = s->simd;
    int nt = t5__cpu_threads(s, (double)n * V * 8);
    if (nt > n)
        nt = n;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int r = 0; r < n; r++) {
        const float *z = logits + (size_t)r * V;
        /* torch's log_softmax: (x - max) - log(sum(exp(x - max))). */
        float mx = v->max(z, V);
        float lsum = logf(v->sum_exp(z, mx, V));
        float *rv = vals + (size_t)r * k;
        int32_t *ri = ids + (size_t)r * k;
        int have = 0, skip = (no_eos && no_eos[r]) ? eos_id : -1;
        /* Insertion into a sorted list of k; scanning ids upwards and placing
         * after equal values keeps the lower id first among ties. The raw
         * logit threshold rejects almost every candidate with one compare. */
        float thr = -INFINITY;
        for (int t = 0; t < V; t++) {
            if (have == k && !(z[t] > thr))
                continue;
            if (t == skip)
                continue;
            float lp = (z[t] - mx) - lsum;
            if (have == k && !(lp > rv[k - 1]))
                continue;
            int p = have < k ? have++ : k - 1;
            while (p > 0 && rv[p - 1] < lp) {
                rv[p] = rv[p - 1];
                ri[p] = ri[p - 1];
                p--;
            }
            rv[p] = lp;
            ri[p] = t;
            if (have == k)
                thr = rv[k - 1] + lsum + mx - 1e-3f * (1.0f + fabsf(rv[k - 1] + lsum + mx));
        }
        /* A masked EOS still ranks (at -inf) when k reaches past the rest. */
        if (skip >= 0 && have < k) {
            rv[have] = -INFINITY;
            ri[have++] = skip;
        }
        for (; have < k; have++) {
            rv[have] = -INFINITY;
            ri[have] = -1;
        }
    }
    return 0;
}
