/* cpu_backend.c - the CPU backend: memory, weights, streams and the vtable.
 *
 * Two vtables share everything but the operations: "cpu" (OpenBLAS, OpenMP,
 * SIMD) and "cpu-ref" (the scalar reference of ref.c), chosen with
 * T5_CPU_REF=1 so a whole model can be run on the oracle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/ref.h"

/* Every buffer is 64-byte aligned (one cache line, one AVX-512 vector). */
static void *cpu_alloc(t5_backend *be, size_t bytes)
{
    (void)be;
    void *p = NULL;
    size_t n = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, n ? n : 64))
        return NULL;
    return p;
}

static void cpu_free(t5_backend *be, void *p)
{
    (void)be;
    free(p);
}

/* A weight is a 64-byte header (packed.h) followed by its data; the handle
 * points at the data, so ops that take plain float pointers (rmsnorm's
 * scale, the bias tables, the reference ops) read it directly. */
static int cpu_upload_weight(t5_backend *be, int kind, const float *host, int64_t rows,
                             int64_t cols, void **out, t5_err *err)
{
    if (!out || !host || rows <= 0 || cols <= 0 || cols > INT32_MAX || rows > INT32_MAX)
        return t5_errf(err, T5_EINVAL, "cpu upload_weight: bad arguments (%lld x %lld)",
                       (long long)rows, (long long)cols);
    t5__cpu_backend *cb = (t5__cpu_backend *)be;
    int pack = cb->pack && (kind == T5_W_LINEAR || kind == T5_W_EMBED);
    size_t floats = pack ? t5__packed_floats(rows, cols) : (size_t)rows * (size_t)cols;
    size_t bytes = 64 + floats * sizeof(float);
    char *blk = cpu_alloc(be, bytes);
    if (!blk)
        return t5_errf(err, T5_ENOMEM, "cpu upload_weight: cannot allocate %zu bytes", bytes);
    t5__cpu_w *h = (t5__cpu_w *)blk;
    memset(h, 0, 64);
    h->magic = T5__CPU_W_MAGIC;
    h->kind = kind;
    h->packed = pack;
    h->rows = rows;
    h->cols = cols;
    float *w = (float *)(blk + 64);
    if (pack)
        t5__pack(w, host, rows, cols);
    else
        memcpy(w, host, (size_t)rows * (size_t)cols * sizeof(float));
    *out = w;
    return 0;
}

static void cpu_free_weight(t5_backend *be, void *w)
{
    if (w)
        cpu_free(be, (char *)w - 64);
}

static int cpu_stream_create(t5_backend *be, int n_threads, t5_stream **out, t5_err *err)
{
    t5_stream *s = calloc(1, sizeof *s);
    if (!s)
        return t5_errf(err, T5_ENOMEM, "cpu stream: out of memory");
    s->be = (t5__cpu_backend *)be;
    s->simd = s->be->simd;
    long procs = sysconf(_SC_NPROCESSORS_ONLN);
    s->n_threads = n_threads > 0 ? n_threads : (procs > 0 ? (int)procs : 1);
    s->pool = t5__pool_create(s->n_threads);
    if (!s->pool) {
        free(s);
        return t5_errf(err, T5_ENOMEM, "cpu stream: cannot start %d threads", n_threads);
    }
    s->n_threads = t5__pool_threads(s->pool);
    const char *bs = getenv("T5_CPU_BLAS_SMALL");
    s->blas_small = bs && *bs && strcmp(bs, "0");
    *out = s;
    return 0;
}

static void cpu_stream_destroy(t5_stream *s)
{
    if (!s)
        return;
    t5__pool_free(s->pool);
    free(s->scratch);
    free(s);
}

static int cpu_sync(t5_stream *s, t5_err *err)
{
    (void)s;
    (void)err;
    return 0;
}

static int cpu_copy(t5_stream *s, void *dst, const void *src, size_t bytes, t5_err *err)
{
    (void)s;
    (void)err;
    if (bytes)
        memmove(dst, src, bytes);
    return 0;
}

static int cpu_memset0(t5_stream *s, void *dst, size_t bytes, t5_err *err)
{
    (void)s;
    (void)err;
    memset(dst, 0, bytes);
    return 0;
}

static int cpu_run_cached(t5_stream *s, uint64_t key, int (*fn)(void *arg, t5_err *err), void *arg,
                          t5_err *err)
{
    (void)s;
    (void)key;
    return fn(arg, err);
}

static void cpu_destroy(t5_backend *be)
{
    free(be);
}

/* ---- the reference operations behind the backend signature --------------- */

static int ref_embed(t5_stream *s, float *x, const void *table, const int32_t *ids, int n, int d,
                     t5_err *err)
{
    t5_ref_embed(x, table, ids, n, d);
    return 0;
}

static int ref_rmsnorm(t5_stream *s, void *out, const float *x, const void *w, int n, int d,
                       float eps, t5_err *err)
{
    t5_ref_rmsnorm(out, x, w, n, d, eps);
    return 0;
}

static int ref_gemm(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                    float alpha, int flags, t5_err *err)
{
    t5_ref_gemm(out, a, w, m, n, k, alpha, (flags & T5_GEMM_ADD_RESID) != 0);
    if (flags & T5_GEMM_RELU)
        for (size_t i = 0; i < (size_t)m * n; i++)
            ((float *)out)[i] = ((float *)out)[i] > 0 ? ((float *)out)[i] : 0;
    return 0;
}

static int ref_ffn_act(t5_stream *s, void *out, const void *in, int m, int ff, int act, int gated,
                       t5_err *err)
{
    t5_ref_ffn_act(out, in, m, ff, act, gated);
    return 0;
}

static int ref_attn_encoder(t5_stream *s, void *out, const void *qkv, const int32_t *lens, int B,
                            int L, const float *bias_table, const t5_attn_shape *sh, t5_err *err)
{
    t5_ref_attn_encoder(out, qkv, lens, B, L, bias_table, sh);
    return 0;
}

static int ref_cross_kv_store(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                              const void *kv, const int32_t *slots, const int32_t *lens, int B,
                              int L, t5_err *err)
{
    t5_ref_cross_kv_store(kcache, vcache, lay, kv, slots, lens, B, L);
    return 0;
}

static int ref_attn_decoder_self(t5_stream *s, void *out, const void *qkv, void *kcache,
                                 void *vcache, const t5_kv_layout *lay, int layer,
                                 const int32_t *rows_dev, int n, const float *bias_table,
                                 const t5_attn_shape *sh, t5_err *err)
{
    t5_ref_attn_decoder_self(out, qkv, kcache, vcache, lay, layer, rows_dev, n, bias_table, sh);
    return 0;
}

static int ref_attn_cross(t5_stream *s, void *out, const void *q, const void *kcache,
                          const void *vcache, const t5_kv_layout *lay, int layer,
                          const int32_t *rows_dev, int n, const t5_attn_shape *sh, t5_err *err)
{
    t5_ref_attn_cross(out, q, kcache, vcache, lay, layer, rows_dev, n, sh);
    return 0;
}

static int ref_logits_topk(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n,
                           int V, int k, const int32_t *no_eos, int eos_id, t5_err *err)
{
    t5_ref_logits_topk(vals, ids, logits, n, V, k, no_eos, eos_id);
    return 0;
}

static int ref_copy_slots(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                          const int32_t *dst, const int32_t *src, int n, int len, t5_err *err)
{
    t5_ref_copy_slots(kcache, vcache, lay, dst, src, n, len);
    return 0;
}

#define CPU_COMMON                                                                                 \
    .destroy = cpu_destroy, .alloc = cpu_alloc, .free = cpu_free,                                  \
    .upload_weight = cpu_upload_weight, .free_weight = cpu_free_weight,                            \
    .stream_create = cpu_stream_create, .stream_destroy = cpu_stream_destroy, .sync = cpu_sync,    \
    .h2d = cpu_copy, .d2h = cpu_copy, .memset0 = cpu_memset0, .run_cached = cpu_run_cached

static const t5_backend_vt cpu_vt = {
    .name = "cpu",
    CPU_COMMON,
    .embed = t5__cpu_embed,
    .rmsnorm = t5__cpu_rmsnorm,
    .gemm = t5__cpu_gemm,
    .ffn_act = t5__cpu_ffn_act,
    .attn_encoder = t5__cpu_attn_encoder,
    .cross_kv_store = t5__cpu_cross_kv_store,
    .attn_decoder_self = t5__cpu_attn_decoder_self,
    .attn_cross = t5__cpu_attn_cross,
    .logits_topk = t5__cpu_logits_topk,
    .copy_slots = t5__cpu_copy_slots,
};

static const t5_backend_vt cpu_ref_vt = {
    .name = "cpu-ref",
    CPU_COMMON,
    .embed = ref_embed,
    .rmsnorm = ref_rmsnorm,
    .gemm = ref_gemm,
    .ffn_act = ref_ffn_act,
    .attn_encoder = ref_attn_encoder,
    .cross_kv_store = ref_cross_kv_store,
    .attn_decoder_self = ref_attn_decoder_self,
    .attn_cross = ref_attn_cross,
    .logits_topk = ref_logits_topk,
    .copy_slots = ref_copy_slots,
};

int t5_backend_cpu_create(t5_backend **out, t5_dtype dtype, t5_err *err)
{
    if (!out)
        return t5_errf(err, T5_EINVAL, "t5_backend_cpu_create: out is NULL");
    *out = NULL;
    if (dtype != T5_F32)
        return t5_errf(err, T5_EUNSUP, "the CPU backend computes in fp32 only (asked for %s)",
                       t5_dtype_name(dtype));
    t5__cpu_backend *be = calloc(1, sizeof *be);
    if (!be)
        return t5_errf(err, T5_ENOMEM, "cpu backend: out of memory");
    const char *ref = getenv("T5_CPU_REF");
    be->base.vt = (ref && *ref && strcmp(ref, "0")) ? &cpu_ref_vt : &cpu_vt;
    be->base.device = T5_DEVICE_CPU;
    be->base.act_dtype = T5_F32;
    be->base.act_size = sizeof(float);
    be->simd = t5__simd_best();
    /* Panels pay off where the AVX-512 kernels run; T5_CPU_PACK=0 keeps
     * row-major weights and OpenBLAS for comparison. */
    const char *pk = getenv("T5_CPU_PACK");
    be->pack =
        be->base.vt == &cpu_vt && t5__simd_by_name("avx512") != NULL && !(pk && !strcmp(pk, "0"));
    /* Our OpenMP team parallelises the GEMMs itself (cpu_gemm.c); OpenBLAS's
     * own pthreads would compete with it for the same cores. */
    openblas_set_num_threads(1);
    *out = &be->base;
    return 0;
}
