/* cpu_gemm.c - out = alpha * a @ W^T.
 *
 * W is [n, k] row-major, so a slice of output columns is a contiguous block
 * of W rows: the team claims slices and each multiplies its own with
 * single-threaded OpenBLAS sgemm, sgemv for one row (batch-1 decode), or the
 * SIMD small-m kernel for 2..4 rows (beam decode). Weights packed at upload
 * (packed.h, AVX-512 processors) go to the panel kernels instead. */
#include <string.h>

#include <cblas.h>

#include "backend/cpu/cpu.h"

/* Rows for which the SIMD small-m kernel beats OpenBLAS: sgemm packs W, which
 * does not pay when each W element is used only m times. For one row
 * OpenBLAS's sgemv is as fast (both stream W at memory bandwidth); from five
 * rows on sgemm wins. Measured on AMD EPYC (Zen 4), t5-small LM head shape. */
#define SMALL_M 4

typedef struct gemm_job {
    const t5_stream *s;
    float *out;
    const float *a, *w;
    int m, n, k, cols; /* cols: W rows per chunk (panels per chunk when packed) */
    float alpha, beta;
    int avx512;
    int relu; /* T5_GEMM_RELU: max(., 0) on each slice once it is done */
} gemm_job;

/* The ReLU epilogue on output columns [n0, n1) of every row (as ffn_act's
 * x > 0 ? x : 0, so the result is the same as a separate pass). */
static void relu_cols(const gemm_job *j, int n0, int n1)
{
    if (n1 > j->n)
        n1 = j->n;
    for (int r = 0; r < j->m; r++) {
        float *o = j->out + (size_t)r * j->n;
        for (int c = n0; c < n1; c++)
            o[c] = o[c] > 0 ? o[c] : 0;
    }
}

static void gemm_slice(const gemm_job *j, int n0, int n1)
{
    if (n1 > j->n)
        n1 = j->n;
    if (n1 <= n0)
        return;
    int m = j->m, n = j->n, k = j->k;
    if (m > 1 && m <= SMALL_M && !j->s->blas_small)
        j->s->simd->gemm_small(j->out, n, j->a, m, j->w, n0, n1, k, j->alpha, j->beta != 0.0f);
    else if (m == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n1 - n0, k, j->alpha, j->w + (size_t)n0 * k, k,
                    j->a, 1, j->beta, j->out + n0, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n1 - n0, k, j->alpha, j->a, k,
                    j->w + (size_t)n0 * k, k, j->beta, j->out + n0, n);
    if (j->relu)
        relu_cols(j, n0, n1);
}

static void gemm_chunk(void *arg, int c)
{
    const gemm_job *j = arg;
    gemm_slice(j, c * j->cols, (c + 1) * j->cols);
}

static void packed_chunk(void *arg, int c)
{
    const gemm_job *j = arg;
    int q0 = c * j->cols, q1 = (c + 1) * j->cols, nq = (j->n + T5__PANEL - 1) / T5__PANEL;
    q1 = q1 < nq ? q1 : nq;
    t5__packed_gemm(j->out, j->a, j->w, j->m, j->n, j->k, j->alpha, j->beta != 0.0f, q0, q1,
                    j->avx512);
    if (j->relu)
        relu_cols(j, q0 * T5__PANEL, q1 * T5__PANEL);
}

int t5__cpu_gemm(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                 float alpha, int flags, t5_err *err)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return m == 0 ? 0 : t5_errf(err, T5_EINVAL, "gemm: bad shape %d x %d x %d", m, n, k);
    const t5__cpu_w *h = t5__cpu_w_of(w);
    if (h->magic != T5__CPU_W_MAGIC || h->rows != n || h->cols != k)
        return t5_errf(err, T5_EINVAL, "gemm: weight is not a [%d, %d] CPU weight", n, k);
    gemm_job j = {s,
                  out,
                  a,
                  w,
                  m,
                  n,
                  k,
                  n,
                  alpha,
                  (flags & T5_GEMM_ADD_RESID) ? 1.0f : 0.0f,
                  !strcmp(s->simd->name, "avx512"),
                  (flags & T5_GEMM_RELU) != 0};
    if (h->packed) {
        /* No packing cost per call, so chunks can be small for balance:
         * 8 panels (128 columns) when streaming W for a few rows, else about
         * four chunks per thread. */
        int nq = (n + T5__PANEL - 1) / T5__PANEL, per;
        if (!t5__cpu_parallel(s, (double)m * n * k))
            per = nq;
        else if (m <= SMALL_M)
            per = 8;
        else
            per = (nq + 4 * s->n_threads - 1) / (4 * s->n_threads);
        per = per < 2 ? 2 : (per + 1) & ~1;
        j.cols = per;
        t5__pool_run(s->pool, packed_chunk, &j, (nq + per - 1) / per);
        return 0;
    }
    if (!t5__cpu_parallel(s, (double)m * n * k)) {
        gemm_slice(&j, 0, n);
        return 0;
    }
    /* Decode (few rows) is bound by streaming W: small slices balance well.
     * Larger m packs the a block once per slice, so use few, large slices.
     * Slices are whole 16-column groups so threads never share a cache line. */
    int slices = m <= SMALL_M ? (n + 127) / 128 : 2 * s->n_threads;
    int cols = (n + slices - 1) / slices;
    cols = (cols + 15) & ~15;
    j.cols = cols;
    t5__pool_run(s->pool, gemm_chunk, &j, (n + cols - 1) / cols);
    return 0;
}
