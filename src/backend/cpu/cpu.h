/* cpu.h - private state of the CPU backend, shared by its files.
 *
 * One thread team per stream (pool.h): every operation splits its work into
 * chunks run by at most stream->n_threads threads, GEMMs included (OpenBLAS
 * is switched to one thread and each chunk multiplies its own slice of the
 * output columns), so BLAS threads and ours never compete for cores.
 */
#ifndef T5_CPU_H
#define T5_CPU_H

#include "backend/backend.h"
#include "backend/cpu/packed.h"
#include "backend/cpu/pool.h"
#include "backend/cpu/simd.h"

typedef struct t5__cpu_backend {
    t5_backend base;
    const t5__simd *simd;
    int pack; /* store linear and embedding weights in column panels (packed.h) */
} t5__cpu_backend;

struct t5_stream {
    t5__cpu_backend *be;
    const t5__simd *simd;
    int n_threads;
    t5__pool *pool;
    int blas_small; /* T5_CPU_BLAS_SMALL=1: small-m GEMMs through OpenBLAS too (comparison) */
    /* Grown on demand by copy_slots when its source and destination slots
     * overlap (never in the engine's own beam reordering). */
    float *scratch;
    size_t scratch_len;
};

/* Whether work of about `work` multiply-adds is worth handing to the team:
 * waking it costs about a microsecond. */
static inline int t5__cpu_parallel(const t5_stream *s, double work)
{
    return s->n_threads > 1 && work >= 32768.0;
}

/* Chunks for `items` independent items when parallel: a few per thread so
 * a late helper leaves little for the caller to wait on. */
static inline int t5__cpu_chunks(const t5_stream *s, int items)
{
    int c = 4 * s->n_threads;
    return items < c ? items : c;
}

/* The fast operations (cpu_gemm.c, cpu_ops.c, cpu_attn.c). Weights (gemm's
 * w, embed's table) must come from upload_weight: they carry a header. */
int t5__cpu_embed(t5_stream *s, float *x, const void *table, const int32_t *ids, int n, int d,
                  t5_err *err);
int t5__cpu_rmsnorm(t5_stream *s, void *out, const float *x, const void *w, int n, int d, float eps,
                    t5_err *err);
int t5__cpu_gemm(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                 float alpha, int flags, t5_err *err);
int t5__cpu_ffn_act(t5_stream *s, void *out, const void *in, int m, int ff, int act, int gated,
                    t5_err *err);
int t5__cpu_attn_encoder(t5_stream *s, void *out, const void *qkv, const int32_t *lens, int B,
                         int L, const float *bias_table, const t5_attn_shape *sh, t5_err *err);
int t5__cpu_cross_kv_store(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                           const void *kv, const int32_t *slots, const int32_t *lens, int B, int L,
                           t5_err *err);
int t5__cpu_attn_decoder_self(t5_stream *s, void *out, const void *qkv, void *kcache, void *vcache,
                              const t5_kv_layout *lay, int layer, const int32_t *rows_dev, int n,
                              const float *bias_table, const t5_attn_shape *sh, t5_err *err);
int t5__cpu_attn_cross(t5_stream *s, void *out, const void *q, const void *kcache,
                       const void *vcache, const t5_kv_layout *lay, int layer,
                       const int32_t *rows_dev, int n, const t5_attn_shape *sh, t5_err *err);
int t5__cpu_logits_topk(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n, int V,
                        int k, const int32_t *no_eos, int eos_id, t5_err *err);
int t5__cpu_copy_slots(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                       const int32_t *dst, const int32_t *src, int n, int len, t5_err *err);

#endif
