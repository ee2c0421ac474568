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
    const t5__cpu_w *h = t5__cpu_w_of(table);
    if (h->magic != T5__CPU_W_MAGIC || h->cols != d)
        return t5_errf(err, T5_EINVAL, "embed: table is not a [V, %d] CPU weight", d);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= h->rows)
            return t5_errf(err, T5_EINVAL, "embed: id %d outside 0..%lld", ids[i],
                           (long long)h->rows - 1);
        if (h->packed)
            t5__packed_row(x + (size_t)i * d, tab, ids[i], d);
        else
            memcpy(x + (size_t)i * d, tab + (size_t)ids[i] * d, sizeof(float) * d);
    }
    return 0;
}

typedef struct rows_job {
    const t5_stream *s;
    void *out;
    const void *x, *w;
    int n, d, per; /* per: rows per chunk */
    float eps;
    int act, gated;
    /* logits_topk */
    float *vals;
    int32_t *ids;
    const int32_t *no_eos;
    int k, eos;
} rows_job;

static void rmsnorm_rows(const rows_job *j, int r0, int r1)
{
    const t5__simd *v = j->s->simd;
    const float *x = j->x;
    float *o = j->out;
    for (int i = r0; i < r1 && i < j->n; i++) {
        const float *xi = x + (size_t)i * j->d;
        /* transformers: variance = mean(x^2) in fp32, x * rsqrt(var + eps), then w * x. */
        float var = v->sumsq(xi, j->d) / (float)j->d;
        float r = 1.0f / sqrtf(var + j->eps);
        v->scale_mul(o + (size_t)i * j->d, xi, r, j->w, j->d);
    }
}

static void rmsnorm_chunk(void *arg, int c)
{
    const rows_job *j = arg;
    rmsnorm_rows(j, c * j->per, (c + 1) * j->per);
}

/* Runs fn over rows [0, n) in chunks when the work is worth the team. */
static void run_rows(t5_stream *s, rows_job *j, void (*fn)(void *, int), double work)
{
    int chunks = t5__cpu_parallel(s, work) ? t5__cpu_chunks(s, j->n) : 1;
    j->per = (j->n + chunks - 1) / chunks;
    t5__pool_run(s->pool, fn, j, chunks);
}

int t5__cpu_rmsnorm(t5_stream *s, void *out, const float *x, const void *w, int n, int d, float eps,
                    t5_err *err)
{
    rows_job j = {.s = s, .out = out, .x = x, .w = w, .n = n, .d = d, .eps = eps};
    run_rows(s, &j, rmsnorm_chunk, (double)n * d * 4);
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

/* out[q] = act(x[q]) (* gate[q] when gate is non-NULL): SIMD for ReLU and
 * the tanh GELU (the T5 activations), scalar for the rest. */
static void act_row(const t5__simd *v, float *out, const float *x, const float *gate, int n,
                    int act)
{
    switch (act) {
    case T5_ACT_RELU: v->relu(out, x, n); break;
    case T5_ACT_GELU_TANH: v->gelu_tanh(out, x, n); break;
    default:
        for (int q = 0; q < n; q++)
            out[q] = act1(x[q], act);
        break;
    }
    if (gate)
        v->mul(out, gate, n);
}

static void ffn_chunk(void *arg, int c)
{
    const rows_job *j = arg;
    const float *x = j->x;
    float *o = j->out;
    int ff = j->d;
    for (int i = c * j->per; i < (c + 1) * j->per && i < j->n; i++) {
        if (j->gated) {
            const float *r = x + (size_t)i * 2 * ff;
            act_row(j->s->simd, o + (size_t)i * ff, r, r + ff, ff, j->act);
        } else {
            act_row(j->s->simd, o + (size_t)i * ff, x + (size_t)i * ff, NULL, ff, j->act);
        }
    }
}

int t5__cpu_ffn_act(t5_stream *s, void *out, const void *in, int m, int ff, int act, int gated,
                    t5_err *err)
{
    if (act < T5_ACT_RELU || act > T5_ACT_SILU)
        return t5_errf(err, T5_EINVAL, "ffn_act: unknown activation %d", act);
    rows_job j = {.s = s, .out = out, .x = in, .n = m, .d = ff, .act = act, .gated = gated};
    run_rows(s, &j, ffn_chunk, (double)m * ff * (act == T5_ACT_RELU ? 1 : 16));
    return 0;
}

static void topk_row(const rows_job *j, int r)
{
    const t5__simd *v = j->s->simd;
    const int V = j->d, k = j->k;
    const float *z = (const float *)j->x + (size_t)r * V;
    /* torch's log_softmax: (x - max) - log(sum(exp(x - max))). */
    float mx = v->max(z, V);
    float lsum = logf(v->sum_exp(z, mx, V));
    float *rv = j->vals + (size_t)r * k;
    int32_t *ri = j->ids + (size_t)r * k;
    int have = 0, skip = (j->no_eos && j->no_eos[r]) ? j->eos : -1;
    /* Insertion into a sorted list of k; scanning ids upwards and placing
     * after equal values keeps the lower id first among ties. The raw
     * logit threshold (with a margin for rounding) rejects almost every
     * candidate with one compare. */
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

static void topk_chunk(void *arg, int c)
{
    const rows_job *j = arg;
    for (int r = c * j->per; r < (c + 1) * j->per && r < j->n; r++)
        topk_row(j, r);
}

int t5__cpu_logits_topk(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n, int V,
                        int k, const int32_t *no_eos, int eos_id, t5_err *err)
{
    if (k <= 0 || V <= 0)
        return t5_errf(err, T5_EINVAL, "logits_topk: bad k %d / vocab %d", k, V);
    rows_job j = {.s = s,
                  .x = logits,
                  .n = n,
                  .d = V,
                  .vals = vals,
                  .ids = ids,
                  .no_eos = no_eos,
                  .k = k,
                  .eos = eos_id};
    run_rows(s, &j, topk_chunk, (double)n * V * 8);
    return 0;
}
