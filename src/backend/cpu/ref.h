/* ref.h - the scalar reference implementation of every backend operation.
 *
 * Plain functions on host fp32 arrays: no backend, stream or SIMD, sums in
 * double, loops written to read like the math. They are the oracle for the
 * CPU fast path (tests/backend) and for the CUDA kernel checks, and the CPU
 * backend runs on them when T5_CPU_REF=1 is set (whole-model oracle).
 * Shapes and layouts are exactly those of the matching op in backend.h.
 */
#ifndef T5_CPU_REF_H
#define T5_CPU_REF_H

#include <stdint.h>

#include "backend/backend.h"

/* x[i, :] = table[ids[i], :]; table [V, d], x [n, d]. */
void t5_ref_embed(float *x, const float *table, const int32_t *ids, int n, int d);

/* out[i, :] = w * x[i, :] / sqrt(mean(x[i, :]^2) + eps); x, out [n, d]. */
void t5_ref_rmsnorm(float *out, const float *x, const float *w, int n, int d, float eps);

/* out [m, n] (= or +=, per accumulate) alpha * a [m, k] @ w [n, k]^T. */
void t5_ref_gemm(float *out, const float *a, const float *w, int m, int n, int k, float alpha,
                 int accumulate);

/* One activation value (t5_act). */
float t5_ref_act(float x, int act);

/* See backend.h ffn_act: gated in [m, 2*ff] -> out [m, ff]; else in [m, ff]. */
void t5_ref_ffn_act(float *out, const float *in, int m, int ff, int act, int gated);

/* See backend.h attn_encoder. qkv [B*L, 3*inner], out [B*L, inner],
 * lens [B], bias_table [num_buckets, n_heads]. */
void t5_ref_attn_encoder(float *out, const float *qkv, const int32_t *lens, int B, int L,
                         const float *bias_table, const t5_attn_shape *sh);

/* See backend.h cross_kv_store. kv [B*L, n_layers*2*inner]. */
void t5_ref_cross_kv_store(float *kcache, float *vcache, const t5_kv_layout *lay, const float *kv,
                           const int32_t *slots, const int32_t *lens, int B, int L);

/* See backend.h attn_decoder_self. rows [n*4] = (self_slot, cross_slot, pos,
 * enc_len); qkv [n, 3*inner], out [n, inner]. */
void t5_ref_attn_decoder_self(float *out, const float *qkv, float *kcache, float *vcache,
                              const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                              const float *bias_table, const t5_attn_shape *sh);

/* See backend.h attn_cross. q [n, inner], out [n, inner]. */
void t5_ref_attn_cross(float *out, const float *q, const float *kcache, const float *vcache,
                       const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                       const t5_attn_shape *sh);

/* See backend.h logits_topk. logits [n, V]; vals, ids [n, k]; no_eos [n] or NULL. */
void t5_ref_logits_topk(float *vals, int32_t *ids, const float *logits, int n, int V, int k,
                        const int32_t *no_eos, int eos_id);

/* See backend.h copy_slots (reads before writes). */
void t5_ref_copy_slots(float *kcache, float *vcache, const t5_kv_layout *lay, const int32_t *dst,
                       const int32_t *src, int n, int len);

/* Index of element (layer, slot, head, t, 0) in a cache of layout lay. */
static inline int64_t t5_kv_index(const t5_kv_layout *lay, int layer, int slot, int head, int t)
{
    return ((((int64_t)layer * lay->n_slots + slot) * lay->n_heads + head) * lay->max_len + t) *
           lay->d_kv;
}

#endif
