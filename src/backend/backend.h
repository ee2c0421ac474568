/* backend.h - the one interface every compute backend implements (private).
 *
 * The engine (src/engine) expresses the T5 forward pass as calls to these
 * operations; src/backend/cpu and src/backend/cuda implement them. Nothing
 * above this header knows about devices.
 *
 * Memory. "Device" pointers come from alloc() (host memory on the CPU
 * backend). Three storage formats appear:
 *   - resid: float32, the residual stream [rows, d_model]. Kept in fp32 on
 *     every backend: T5 v1.1 / flan-t5 activations exceed fp16's range there.
 *   - act:   the backend's activation dtype (be->act_dtype: fp32 on the CPU,
 *     fp16 or bf16 on CUDA), element size be->act_size. Normed inputs,
 *     Q/K/V, attention outputs, FFN intermediates, KV caches.
 *   - weights: whatever upload_weight() chose; opaque to the engine.
 * Logits are fp32.
 *
 * Execution. Operations are issued on a t5_stream (one per engine: a CUDA
 * stream with its own cuBLASLt handle and workspace, or the CPU thread team)
 * and may run asynchronously; h2d/d2h copies are ordered with them on the
 * stream and sync() waits. Any operation may fail: it returns a negative
 * T5_E* code with a message in err and leaves the process running.
 *
 * Indexing. Matrices are row-major. Linear weights are stored as PyTorch
 * does, W [out, in], and gemm computes out = a @ W^T.
 *
 * KV caches (both self and cross) use one layout, described by t5_kv_layout:
 *   element (layer, slot, head, t, i) at
 *   (((layer * n_slots + slot) * n_heads + head) * max_len + t) * d_kv + i
 */
#ifndef T5_BACKEND_H
#define T5_BACKEND_H

#include "t5_common.h"
#include "t5_model.h"

typedef struct t5_backend t5_backend;
typedef struct t5_stream t5_stream;

typedef struct t5_kv_layout {
    int n_layers;
    int n_slots;
    int n_heads;
    int max_len;
    int d_kv;
} t5_kv_layout;

/* Weight kinds, so a backend can store each the way its kernels want. */
enum t5_wkind {
    T5_W_LINEAR = 0,     /* [rows=out, cols=in] matrix used by gemm */
    T5_W_NORM = 1,       /* [cols] RMSNorm scale */
    T5_W_EMBED = 2,      /* [vocab, d_model] embedding table (may also be the LM head) */
    T5_W_BIAS_TABLE = 3, /* [num_buckets, n_heads] relative attention bias, kept fp32 */
};

enum t5_gemm_flags {
    T5_GEMM_OUT_ACT = 0,       /* out (act dtype) = alpha * a @ W^T */
    T5_GEMM_OUT_F32 = 1 << 0,  /* out (fp32) = alpha * a @ W^T (logits) */
    T5_GEMM_ADD_RESID = 1 << 1, /* out (fp32 resid) += alpha * a @ W^T */
    T5_GEMM_RELU = 1 << 2       /* with OUT_ACT: out = max(alpha * a @ W^T, 0), the FFN's
                                   ReLU in the GEMM's epilogue (no ffn_act pass) */
};

typedef struct t5_attn_shape {
    int n_heads;
    int d_kv;
    int num_buckets;  /* relative_attention_num_buckets */
    int max_distance; /* relative_attention_max_distance */
} t5_attn_shape;

/* One whole decoder step in one operation (optional op decode_step): the
 * weights of every decoder layer, the step's buffers and caches. The engine
 * fills it once at creation and sets n and k per step; it describes exactly
 * the per-op sequence of step.c, with the same inputs and outputs (x, qkv, q,
 * ff are scratch the op may use; logits, top_v/top_i are results). */
#define T5_FUSED_MAX_LAYERS 24
typedef struct t5_fused_layer {
    const void *ln_attn, *w_qkv, *w_o, *ln_cross, *w_cq, *w_co, *ln_ff, *w_in, *w_out;
    /* absorb_weights' (absorbed cross-attention): [inner][d + inner] act
     * dtype, row i = [W_cq[i] * ln_cross | (W_cq[i] * ln_cross) . W_o] *
     * 2^-cqx_exp (fp16: cqx_exp puts the largest entry at 2^13..2^14) */
    const void *w_cqx;
    int cqx_exp;
} t5_fused_layer;

typedef struct t5_fused_step {
    int n, k;                 /* rows (padded) and top-k of this step */
    int n_layers, d, d_ff, V; /* decoder shape */
    int act, gated, eos_id;
    float eps, lm_scale;
    t5_attn_shape sh;
    const void *embed, *lm_head, *ln_final;
    const float *bias; /* decoder relative-bias table */
    t5_fused_layer layers[T5_FUSED_MAX_LAYERS];
    t5_kv_layout self_lay, cross_lay;
    void *self_k, *self_v;
    const void *cross_k, *cross_v;
    float *x;                           /* (n, d) fp32 residual */
    void *qkv, *q, *ff;                 /* act scratch: (n, 3*inner), (n, inner), (n, ff_cols) */
    float *logits;                      /* (n, V) fp32 */
    float *top_v;                       /* (n, k) */
    int32_t *top_i;                     /* (n, k) */
    const int32_t *tok, *rows, *no_eos; /* as for embed / attn_* / logits_topk */
    /* Absorbed cross-attention (optional; abs_ent NULL: the ordinary one).
     * Entry e holds, for one encoded cross slot of length len <= abs_sa,
     * per layer l the cross keys folded into the query projection and the
     * values into the output projection (cross_absorb below), with
     * dm = d + inner:
     *   abs_m + e*abs_mstride + l*H*abs_sa*dm:  [H][abs_sa][dm]
     *       M[h][j] = K[h][j] . W_cqx[h]  (layers[l].w_cqx's rows of head h, times 2^cqx_exp)
     *   abs_n + e*abs_stride + l*d*H*abs_sa:    [d][H][abs_sa]
     *       N[c][h][j] = W_co[c][h] . V[h][j]
     * (W_co[c][h] head h's d_kv columns of row c of w_co; zero for j >= len;
     * abs_sa a multiple of 4). A layer's input x0 and self-attention output
     * a (x1 = x0 + W_o . a, the self-attention sublayer's) then give the
     * cross-attention's scores as r1 * (M[:, :d] . x0 + M[:, d:] . a), r1
     * the rsqrt of mean(x1^2) + eps (the ln_cross norm's scale): a step
     * computes them next to the self-attention's output, before x1 is
     * whole. Then softmax per head, x += N . p. abs_ent: device int32 [n],
     * the entry of each row (its cross slot's). */
    const float *abs_m, *abs_n; /* fp32, whatever the act dtype */
    size_t abs_stride;          /* floats per entry of abs_n */
    size_t abs_mstride;         /* floats per entry of abs_m */
    int abs_sa;
    const int32_t *abs_ent;
    /* >= 0 (t5_engine_steps_greedy's chained steps): a step in which every
     * row's token is this (EOS) and every other row is padding (its self
     * slot the last one) may do nothing, and a row whose token is this may
     * return it again (top_i) with logprob 0. -1: an ordinary step. */
    int chain_eos;
    /* > 1 (with chain_eos >= 0): chain_steps such steps in one op, step s
     * reading its rows and no_eos at + s * chain_stride ints and writing its
     * top-1 at top_v + s * n and top_i + s * chain_stride; its tokens are
     * step s - 1's top-1 (tok is step 0's), and once a row's token is
     * chain_eos the later steps may do nothing. A backend that cannot run
     * them in one op declines (1) and the engine issues them one by one. */
    int chain_steps, chain_stride;
} t5_fused_step;

typedef struct t5_backend_vt {
    const char *name;
    void (*destroy)(t5_backend *be);

    /* Memory (device memory on CUDA). alloc returns NULL on failure. */
    void *(*alloc)(t5_backend *be, size_t bytes);
    void (*free)(t5_backend *be, void *p);
    /* Optional (NULL: the engine takes malloc's). Host memory that h2d may
     * read inside run_cached: a captured copy reads it when the graph runs,
     * so the caller keeps it unchanged until then. */
    void *(*host_alloc)(t5_backend *be, size_t bytes);
    void (*host_free)(t5_backend *be, void *p);

    /* Uploads one weight given as host fp32 [rows, cols] (cols only for
     * 1-D kinds: rows = 1) in the backend's storage format. Synchronous. */
    int (*upload_weight)(t5_backend *be, int kind, const float *host, int64_t rows, int64_t cols,
                         void **out, t5_err *err);
    void (*free_weight)(t5_backend *be, void *w);

    /* Execution contexts. */
    int (*stream_create)(t5_backend *be, int n_threads, t5_stream **out, t5_err *err);
    void (*stream_destroy)(t5_stream *s);
    int (*sync)(t5_stream *s, t5_err *err);
    int (*h2d)(t5_stream *s, void *dst, const void *src, size_t bytes, t5_err *err);
    int (*d2h)(t5_stream *s, void *dst, const void *src, size_t bytes, t5_err *err);
    int (*memset0)(t5_stream *s, void *dst, size_t bytes, t5_err *err);

    /* Optional (NULL: the engine waits on the host instead). With into set,
     * what is issued on s from now on runs in into's order: after what into
     * has, before what is issued on into next. s keeps its own cached graphs
     * and scratch. into NULL ends it. sync(into) then also waits for what s
     * issued while joined and frees its staging (as sync(s) would). */
    int (*stream_join)(t5_stream *s, t5_stream *into, t5_err *err);

    /* Runs fn(arg), which issues operations on s. A backend may capture the
     * operations the first time a key is seen and replay them afterwards
     * (CUDA graphs), so fn must issue the same operations with the same
     * pointers and shapes every time for one key; values that change between
     * calls must live in device memory (uploaded with h2d before this call).
     * The CPU backend just calls fn. */
    int (*run_cached)(t5_stream *s, uint64_t key, int (*fn)(void *arg, t5_err *err), void *arg,
                      t5_err *err);

    /* x[i, :] = table[ids[i], :] as fp32 resid. ids is a device int32 [n]. */
    int (*embed)(t5_stream *s, float *x, const void *table, const int32_t *ids, int n, int d,
                 t5_err *err);

    /* out[i] (act) = w * x[i] * rsqrt(mean(x[i]^2) + eps), statistics in fp32
     * (T5LayerNorm: no mean subtraction, no bias). */
    int (*rmsnorm)(t5_stream *s, void *out, const float *x, const void *w, int n, int d, float eps,
                   t5_err *err);

    /* a [m, k] act; W [n, k]; out per flags. */
    int (*gemm)(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                float alpha, int flags, t5_err *err);

    /* FFN activation, act dtype. gated: in [m, 2*ff] holding (wi_0 x | wi_1 x),
     * out[m, ff] = act(in[:, :ff]) * in[:, ff:]; else out[m, ff] = act(in)
     * (out may equal in when not gated). */
    int (*ffn_act)(t5_stream *s, void *out, const void *in, int m, int ff, int act, int gated,
                   t5_err *err);

    /* Encoder self-attention over a padded batch: qkv [B*L, 3*inner] act
     * (q | k | v, each inner = n_heads*d_kv, head-major inside), out [B*L,
     * inner] act. lens: device int32 [B]; keys at t >= lens[b] are masked;
     * rows of padded queries are written with finite values. Bias from the
     * table with bidirectional buckets. No 1/sqrt(d) scaling (T5). */
    int (*attn_encoder)(t5_stream *s, void *out, const void *qkv, const int32_t *lens, int B, int L,
                        const float *bias_table, const t5_attn_shape *sh, t5_err *err);

    /* Writes the cross K/V of every decoder layer into cross caches:
     * kv [B*L, n_layers * 2 * inner] act holds, per layer l, K at column
     * l*2*inner and V at l*2*inner + inner. Row b*L + t goes to slot
     * slots[b] (device int32 [B]), position t, for t < lens[b]. */
    int (*cross_kv_store)(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                          const void *kv, const int32_t *slots, const int32_t *lens, int B, int L,
                          t5_err *err);

    /* Decoder self-attention for one step of n rows at layer `layer`:
     * qkv [n, 3*inner] act. Stores k, v of row r at (layer, self_slot[r],
     * pos[r]) then attends over positions 0..pos[r] with causal-bucket bias.
     * rows_dev: device int32 [n * 4] = (self_slot, cross_slot, pos, enc_len). */
    int (*attn_decoder_self)(t5_stream *s, void *out, const void *qkv, void *kcache, void *vcache,
                             const t5_kv_layout *lay, int layer, const int32_t *rows_dev, int n,
                             const float *bias_table, const t5_attn_shape *sh, t5_err *err);

    /* Cross-attention for n rows: q [n, inner] act; keys/values of
     * (layer, cross_slot[r], t < enc_len[r]); no position bias. */
    int (*attn_cross)(t5_stream *s, void *out, const void *q, const void *kcache,
                      const void *vcache, const t5_kv_layout *lay, int layer,
                      const int32_t *rows_dev, int n, const t5_attn_shape *sh, t5_err *err);

    /* Per row of logits [n, V] fp32: log-softmax, then (if no_eos[r]) the
     * eos entry set to -inf, then the k largest (value, id) pairs, best first,
     * ties broken by the lower id. no_eos: device int32 [n] or NULL.
     * vals/ids are device buffers [n*k]. */
    int (*logits_topk)(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n, int V,
                       int k, const int32_t *no_eos, int eos_id, t5_err *err);

    /* For beam reordering: copies positions [0, len) of every layer from
     * slot src[i] to slot dst[i] (host arrays, n pairs) in the caches; reads
     * all happen before writes. */
    int (*copy_slots)(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                      const int32_t *dst, const int32_t *src, int n, int len, t5_err *err);

    /* Optional (NULL: the engine issues the ops above). The whole decoder
     * step described by a: embed, every layer, the final norm, the LM head
     * and logits_topk, with the same results as the per-op sequence within
     * the dtype's tolerance. Returns 1 without doing anything when it does
     * not handle this shape (the engine then issues the ops); the answer
     * depends only on the model, n and k, so it is stable per run_cached key. */
    int (*decode_step)(t5_stream *s, const t5_fused_step *a, t5_err *err);

    /* Optional (NULL: decode_step never gets abs_ent). Fills entry `ent` of
     * a->abs_m / a->abs_n (t5_fused_step says what they hold) from cross
     * slot `slot` of length len (1..a->abs_sa) of a->cross_k / a->cross_v.
     * Ordered on s like any op. dev NULL: not inside run_cached. dev set:
     * a device int32 (ent, slot, len) that the device reads instead (it
     * must be on the device before the kernel before this op starts: an
     * h2d issued before that kernel, inside run_cached's function or
     * before it), so the op may be captured; ent and slot are
     * then ignored and len only bounds dev's. Returns 1 without doing
     * anything where it cannot take dev (the same answer for every call on
     * one model and dtype). */
    int (*cross_absorb)(t5_stream *s, const t5_fused_step *a, int ent, int slot, int len,
                        const int32_t *dev, t5_err *err);

    /* Optional (with cross_absorb). Fills a->layers[l].w_cqx and cqx_exp
     * for every layer from w_cq, ln_cross and w_o, the table at wx +
     * l * inner * (d + inner) act elements (the caller's allocation, which
     * outlives a's use). Synchronous (once, at engine creation). */
    int (*absorb_weights)(t5_stream *s, t5_fused_step *a, void *wx, t5_err *err);
} t5_backend_vt;

struct t5_backend {
    const t5_backend_vt *vt;
    t5_device device;
    t5_dtype act_dtype; /* activation/KV dtype */
    size_t act_size;    /* bytes per act element */
};

/* Creates a backend. CPU: dtype must be fp32. CUDA: fp32, fp16 or bf16;
 * returns T5_EUNSUP when the build has no CUDA or no device is present. */
int t5_backend_cpu_create(t5_backend **out, t5_dtype dtype, t5_err *err);
int t5_backend_cuda_create(t5_backend **out, t5_dtype dtype, int device_index, t5_err *err);
int t5_backend_create(t5_backend **out, t5_device dev, t5_dtype dtype, int device_index,
                      t5_err *err);

/* T5's relative position bucket (transformers' _relative_position_bucket):
 * relative = key_pos - query_pos. Shared by every backend's kernels and by
 * tests; header-only so CUDA code can include it. */
#include <math.h>
#if defined(__CUDACC__)
#define T5__HD __host__ __device__
#else
#define T5__HD
#endif
static inline T5__HD int t5_rel_bucket(int relative, int bidirectional, int num_buckets,
                                       int max_distance)
{
    int bucket = 0;
    if (bidirectional) {
        num_buckets /= 2;
        if (relative > 0)
            bucket += num_buckets;
        relative = relative < 0 ? -relative : relative;
    } else {
        relative = relative < 0 ? -relative : 0;
    }
    int max_exact = num_buckets / 2;
    if (relative < max_exact)
        return bucket + relative;
    /* float32 arithmetic in the order torch evaluates it; the divisor is
     * math.log(...) computed in double, then used as a float32 operand. */
    float t = logf((float)relative / (float)max_exact);
    t = t / (float)log((double)max_distance / (double)max_exact);
    t = t * (float)(num_buckets - max_exact);
    int large = max_exact + (int)t;
    if (large > num_buckets - 1)
        large = num_buckets - 1;
    return bucket + large;
}

#endif
