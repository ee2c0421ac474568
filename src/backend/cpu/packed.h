/* packed.h - weights in column panels for the CPU GEMM kernels.
 *
 * OpenBLAS packs W into its panel layout inside every sgemm call; with the
 * few rows of a decode step (or a short encoder input) that copy costs as
 * much as the multiply (measured: 34% packing vs 45% kernel at batch 32).
 * So on processors with AVX-512 the backend packs each linear weight and
 * embedding table once, at upload: W [n, k] becomes ceil(n/16) panels, panel
 * q holding W[16q + c, p] at [q][p][c] (columns past n are zero). Each
 * panel row is one 16-float vector, so the kernels broadcast an activation
 * and FMA it against whole panel rows, with no packing and no horizontal sums.
 *
 * Every CPU weight starts with a header 64 bytes before its data, so ops can
 * tell packed from row-major storage (T5_CPU_REF=1 and processors without
 * AVX-512 keep row-major weights and OpenBLAS).
 */
#ifndef T5_CPU_PACKED_H
#define T5_CPU_PACKED_H

#include <stddef.h>
#include <stdint.h>

#define T5__CPU_W_MAGIC 0x57354354u /* "TC5W" */
#define T5__PANEL 16

typedef struct t5__cpu_w {
    uint32_t magic;
    int32_t kind;   /* enum t5_wkind */
    int32_t packed; /* 1: column panels, 0: row-major [rows, cols] */
    int32_t pad_;
    int64_t rows, cols;
} t5__cpu_w;

/* The header of a weight handle returned by upload_weight. */
static inline const t5__cpu_w *t5__cpu_w_of(const void *w)
{
    return (const t5__cpu_w *)((const char *)w - 64);
}

/* Floats a packed copy of [n, k] takes. */
static inline size_t t5__packed_floats(int64_t n, int64_t k)
{
    return (size_t)((n + T5__PANEL - 1) / T5__PANEL) * T5__PANEL * (size_t)k;
}

/* Packs row-major src [n, k] into dst (t5__packed_floats(n, k) floats). */
void t5__pack(float *dst, const float *src, int64_t n, int64_t k);

/* Row r of a packed [n, k] matrix into out [k] (embedding lookup). */
void t5__packed_row(float *out, const float *P, int64_t r, int64_t k);

/* out[i, j] (= or +=) alpha * sum_p a[i, p] W[j, p] for i < m and output
 * columns of panels [q0, q1); a [m, k] row-major, out row stride ldo = n.
 * avx512: whether the AVX-512 kernels may be used (else scalar loops). */
void t5__packed_gemm(float *out, const float *a, const float *P, int m, int n, int k, float alpha,
                     int accumulate, int q0, int q1, int avx512);

#endif
