/* cpu_gemm.c - out = alpha * a @ W^T through OpenBLAS.
 *
 * W is [n, k] row-major, so each thread's share of output columns is a
 * contiguous block of W rows: the team splits n into cache-line aligned
 * slices and each thread calls single-threaded sgemm, sgemv for one row (the
 * decode case at batch 1), or the SIMD small-m kernel for 2..4 rows. */
#include <omp.h>

#include <cblas.h>

#include "backend/cpu/cpu.h"

/* Rows for which the SIMD small-m kernel beats OpenBLAS: sgemm packs W, which
 * does not pay when each W element is used only m times. For one row
 * OpenBLAS's sgemv is as fast (both stream W at memory bandwidth); from five
 * rows on sgemm wins. Measured on AMD EPYC (Zen 4), t5-small LM head shape. */
#define SMALL_M 4

static void gemm_slice(const t5_stream *s, float *out, const float *a, const float *w, int m,
                       int n, int k, float alpha, float beta, int n0, int n1)
{
    if (n1 <= n0)
        return;
    if (m > 1 && m <= SMALL_M && !s->blas_small)
        s->simd->gemm_small(out, n, a, m, w, n0, n1, k, alpha, beta != 0.0f);
    else if (m == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n1 - n0, k, alpha, w + (size_t)n0 * k, k, a, 1,
                    beta, out + n0, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n1 - n0, k, alpha, a, k,
                    w + (size_t)n0 * k, k, beta, out + n0, n);
}

int t5__cpu_gemm(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                 float alpha, int flags, t5_err *err)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return m == 0 ? 0 : t5_errf(err, T5_EINVAL, "gemm: bad shape %d x %d x %d", m, n, k);
    float beta = (flags & T5_GEMM_ADD_RESID) ? 1.0f : 0.0f;
    int nt = t5__cpu_threads(s, (double)m * n * k);
    if (nt == 1) {
        gemm_slice(s, out, a, w, m, n, k, alpha, beta, 0, n);
        return 0;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        /* Slices of whole 16-column groups keep every thread's writes on its
         * own cache lines. */
        int groups = (n + 15) / 16;
        int g0 = (int)((long long)groups * t / T), g1 = (int)((long long)groups * (t + 1) / T);
        int n0 = g0 * 16, n1 = g1 * 16 < n ? g1 * 16 : n;
        gemm_slice(s, out, a, w, m, n, k, alpha, beta, n0, n1);
    }
    return 0;
}
