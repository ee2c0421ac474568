/* cpu_gemm.c - out = alpha * a @ W^T through OpenBLAS.
 *
 * W is [n, k] row-major, so each thread's share of output columns is a
 * contiguous block of W rows: the team splits n into cache-line aligned
 * slices and each thread calls single-threaded sgemm (or sgemv for one row,
 * the decode case at batch 1, where OpenBLAS's gemv streams W faster than its
 * gemm packs it). */
#include <omp.h>

#include <cblas.h>

#include "backend/cpu/cpu.h"

static void gemm_slice(float *out, const float *a, const float *w, int m, int n, int k,
                       float alpha, float beta, int n0, int n1)
{
    if (n1 <= n0)
        return;
    if (m == 1)
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
        gemm_slice(out, a, w, m, n, k, alpha, beta, 0, n);
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
        gemm_slice(out, a, w, m, n, k, alpha, beta, n0, n1);
    }
    return 0;
}
