/* gemm.cu - out = alpha * a @ W^T through cuBLASLt on the tensor cores.
 *
 * Row-major a [m, k] and W [n, k] (PyTorch's Linear layout) are seen by the
 * column-major library as a^T (k x m) and W^T (k x n), so we ask for
 * D (n x m, column-major) = op_T(W) * a, which is out [m, n] row-major.
 *
 * Types: fp16/bf16 inputs with fp32 accumulation and an fp32 scale; the
 * output is the act dtype (T5_GEMM_OUT_ACT) or fp32 (logits, and the
 * residual update, where beta = 1 and C = D = the residual stream fuses the
 * residual add into the GEMM's epilogue); T5_GEMM_RELU puts the FFN's ReLU
 * in the epilogue too. The fp32 backend uses plain fp32
 * arithmetic (no TF32), since it exists for checking.
 *
 * Plans (descriptors plus the heuristic's algorithm) are cached per stream by
 * shape, flags and pointer alignment, so a call after the first costs one
 * cublasLtMatmul; inside a captured graph it costs nothing on the host.
 */
#include "cuda_internal.cuh"

#include <string.h>
#include <time.h>

static cudaDataType_t act_type(t5_dtype d)
{
    return d == T5_F16 ? CUDA_R_16F : d == T5_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static void plan_clear(t5__gemm_plan *p)
{
    if (!p->used)
        return;
    cublasLtMatrixLayoutDestroy(p->la);
    cublasLtMatrixLayoutDestroy(p->lb);
    cublasLtMatrixLayoutDestroy(p->lc);
    cublasLtMatmulDescDestroy(p->op);
    memset(p, 0, sizeof *p);
}

void t5__cu_gemm_plan_report(const t5_stream *s)
{
    fprintf(stderr,
            "t5serve: cuda stream: %llu GEMM plans built (a heuristic query each), %.1f ms in "
            "all, longest %.2f ms\n",
            s->plan_builds, s->plan_ns / 1e6, s->plan_max_ns / 1e6);
}

void t5__cu_gemm_plans_free(t5_stream *s)
{
    for (int i = 0; i < T5__GEMM_PLANS; i++)
        plan_clear(&s->plans[i]);
}

/* The largest power of two (<= 16) dividing every pointer: the heuristic
 * must not pick a kernel that needs wider alignment than we give it. */
static int ptr_align(const void *a, const void *b, const void *c)
{
    uintptr_t x = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c;
    int al = 16;
    while (al > 1 && (x & (uintptr_t)(al - 1)))
        al >>= 1;
    return al;
}

static int plan_build(t5_stream *s, t5__gemm_plan *p, int m, int n, int k, int flags, int align,
                      t5_err *err)
{
    t5_dtype dt = s->be->base.act_dtype;
    cudaDataType_t ab = act_type(dt);
    cudaDataType_t cd = (flags & (T5_GEMM_OUT_F32 | T5_GEMM_ADD_RESID)) ? CUDA_R_32F : ab;
    cublasOperation_t tA = CUBLAS_OP_T, tB = CUBLAS_OP_N;
    memset(p, 0, sizeof *p);
    LT_CHECK(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    p->used = 1; /* from here plan_clear() releases what exists */
    LT_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &tA, sizeof tA));
    LT_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tB, sizeof tB));
    if (flags & T5_GEMM_RELU) {
        cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_RELU;
        LT_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    }
    LT_CHECK(cublasLtMatrixLayoutCreate(&p->la, ab, k, n, k));
    LT_CHECK(cublasLtMatrixLayoutCreate(&p->lb, ab, k, m, k));
    LT_CHECK(cublasLtMatrixLayoutCreate(&p->lc, cd, n, m, n));

    cublasLtMatmulPreference_t pref;
    LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = s->ws_bytes;
    uint32_t al = (uint32_t)align;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                         sizeof ws);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al,
                                         sizeof al);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al,
                                         sizeof al);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al,
                                         sizeof al);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al,
                                         sizeof al);
    cublasLtMatmulHeuristicResult_t res;
    int nres = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(s->lt, p->op, p->la, p->lb, p->lc, p->lc,
                                                       pref, 1, &res, &nres);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || nres < 1)
        return t5_errf(err, T5_EDEVICE,
                       "gemm: no cuBLASLt algorithm for m=%d n=%d k=%d %s flags=%d (status %d)", m,
                       n, k, t5_dtype_name(dt), flags, (int)st);
    p->algo = res.algo;
    p->m = m;
    p->n = n;
    p->k = k;
    p->flags = flags | (align << 8);
    return 0;
}

int t5__cu_gemm(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                float alpha, int flags, t5_err *err)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return m == 0 ? 0 : t5_errf(err, T5_EINVAL, "gemm: bad shape %d x %d x %d", m, n, k);
    CU_USE(s->be);
    /* Few rows: the small-m kernel, fusing a pending norm/activation; it
     * flushes anything pending when it declines. */
    int g = t5__cu_gemv_try(s, out, a, w, m, n, k, alpha, flags, err);
    if (g < 0 || g == 1)
        return g < 0 ? g : 0;
    if (g == 2)
        alpha *= T5__ACT_SCALE;
    int align = ptr_align(out, a, w);
    int fkey = flags | (align << 8);
    uint32_t h = (uint32_t)m * 2654435761u ^ (uint32_t)n * 40503u ^ (uint32_t)k * 9973u ^
                 (uint32_t)fkey * 31u;
    t5__gemm_plan *p = NULL;
    for (int probe = 0; probe < 8; probe++) {
        t5__gemm_plan *q = &s->plans[(h + probe) % T5__GEMM_PLANS];
        if (q->used && q->m == m && q->n == n && q->k == k && q->flags == fkey) {
            p = q;
            break;
        }
        if (!q->used) {
            p = q;
            break;
        }
    }
    if (!p) { /* every probe taken by other shapes: replace the home entry */
        p = &s->plans[h % T5__GEMM_PLANS];
        plan_clear(p);
    }
    if (!p->used) {
        unsigned long long t0 = now_ns();
        int rc = plan_build(s, p, m, n, k, flags, align, err);
        unsigned long long dt = now_ns() - t0;
        s->plan_builds++;
        s->plan_ns += dt;
        s->plan_max_ns = dt > s->plan_max_ns ? dt : s->plan_max_ns;
        if (rc < 0) {
            plan_clear(p);
            return rc;
        }
    }
    float beta = (flags & T5_GEMM_ADD_RESID) ? 1.0f : 0.0f;
    LT_CHECK(cublasLtMatmul(s->lt, p->op, &alpha, w, p->la, a, p->lb, &beta, out, p->lc, out, p->lc,
                            &p->algo, s->ws, s->ws_bytes, s->st));
    return 0;
}
