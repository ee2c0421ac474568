/* packed.c - packing and the panel GEMM kernels (see packed.h).
 *
 * A kernel MRxNP computes MR rows of a against NP panels (16*NP columns):
 * MR*NP accumulators stay in registers while p runs over k; each step loads
 * NP panel rows and broadcasts MR activations. Row counts are covered by
 * 8-row kernels, then 4, 2, 1; decode (1..4 rows) uses 4 panels so four
 * weight streams are in flight, which is what a bandwidth-bound GEMV needs. */
#include "backend/cpu/packed.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define T5_X86 1
#endif

void t5__pack(float *dst, const float *src, int64_t n, int64_t k)
{
    int64_t panels = (n + T5__PANEL - 1) / T5__PANEL;
    for (int64_t q = 0; q < panels; q++) {
        float *P = dst + (size_t)q * k * T5__PANEL;
        for (int64_t p = 0; p < k; p++)
            for (int c = 0; c < T5__PANEL; c++) {
                int64_t r = q * T5__PANEL + c;
                P[(size_t)p * T5__PANEL + c] = r < n ? src[(size_t)r * k + p] : 0.0f;
            }
    }
}

void t5__packed_row(float *out, const float *P, int64_t r, int64_t k)
{
    const float *base = P + (size_t)(r / T5__PANEL) * k * T5__PANEL + r % T5__PANEL;
    for (int64_t p = 0; p < k; p++)
        out[p] = base[(size_t)p * T5__PANEL];
}

/* Scalar loops over the packed layout: the fallback (T5_SIMD=scalar). */
static void gemm_scalar(float *out, const float *a, const float *P, int m, int n, int k,
                        float alpha, int accumulate, int q0, int q1)
{
    for (int q = q0; q < q1; q++) {
        const float *Pq = P + (size_t)q * k * T5__PANEL;
        for (int i = 0; i < m; i++) {
            float acc[T5__PANEL] = {0};
            for (int p = 0; p < k; p++) {
                float x = a[(size_t)i * k + p];
                for (int c = 0; c < T5__PANEL; c++)
                    acc[c] += x * Pq[(size_t)p * T5__PANEL + c];
            }
            for (int c = 0; c < T5__PANEL && q * T5__PANEL + c < n; c++) {
                float *o = out + (size_t)i * n + q * T5__PANEL + c;
                *o = accumulate ? *o + alpha * acc[c] : alpha * acc[c];
            }
        }
    }
}

#ifdef T5_X86
#define AVX512 __attribute__((target("avx512f")))

/* MR rows x NP panels starting at panel q (q + NP <= panel count). */
/* Dot products are summed in blocks of KSUM steps, then the block sums are
 * added: the rounding error then grows with KSUM + k / KSUM rather than with
 * k (k reaches 2048-3072 in FFN outputs), for one add per block. */
#define KSUM 128

#define PK_KERNEL(MR, NP)                                                                          \
    AVX512 static void pk_##MR##x##NP(float *out, const float *a, const float *P, int n, int k,    \
                                      int q, float alpha, int accumulate)                          \
    {                                                                                              \
        __m512 acc[MR][NP], tot[MR][NP];                                                           \
        for (int i = 0; i < MR; i++)                                                               \
            for (int j = 0; j < NP; j++)                                                           \
                tot[i][j] = _mm512_setzero_ps();                                                   \
        const float *Pq = P + (size_t)q * k * T5__PANEL;                                           \
        for (int p0 = 0; p0 < k; p0 += KSUM) {                                                     \
            int p1 = p0 + KSUM < k ? p0 + KSUM : k;                                                \
            _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                                   \
                _Pragma("GCC unroll 4") for (int j = 0; j < NP; j++) acc[i][j] =                   \
                    _mm512_setzero_ps();                                                           \
            for (int p = p0; p < p1; p++) {                                                        \
                __m512 w[NP];                                                                      \
                _Pragma("GCC unroll 4") for (int j = 0; j < NP; j++) w[j] =                        \
                    _mm512_load_ps(Pq + ((size_t)j * k + p) * T5__PANEL);                          \
                _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                               \
                {                                                                                  \
                    __m512 x = _mm512_set1_ps(a[(size_t)i * k + p]);                               \
                    _Pragma("GCC unroll 4") for (int j = 0; j < NP; j++) acc[i][j] =               \
                        _mm512_fmadd_ps(x, w[j], acc[i][j]);                                       \
                }                                                                                  \
            }                                                                                      \
            _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                                   \
                _Pragma("GCC unroll 4") for (int j = 0; j < NP; j++) tot[i][j] =                   \
                    _mm512_add_ps(tot[i][j], acc[i][j]);                                           \
        }                                                                                          \
        __m512 va = _mm512_set1_ps(alpha);                                                         \
        for (int j = 0; j < NP; j++) {                                                             \
            int col = (q + j) * T5__PANEL;                                                         \
            __mmask16 mk =                                                                         \
                n - col >= T5__PANEL ? (__mmask16)0xffff : (__mmask16)((1u << (n - col)) - 1);     \
            for (int i = 0; i < MR; i++) {                                                         \
                float *o = out + (size_t)i * n + col;                                              \
                __m512 v = _mm512_mul_ps(tot[i][j], va);                                           \
                if (accumulate)                                                                    \
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, o));                            \
                _mm512_mask_storeu_ps(o, mk, v);                                                   \
            }                                                                                      \
        }                                                                                          \
    }

PK_KERNEL(8, 2)
PK_KERNEL(4, 4)
PK_KERNEL(2, 4)
PK_KERNEL(1, 4)
PK_KERNEL(8, 1)
PK_KERNEL(4, 1)
PK_KERNEL(2, 1)
PK_KERNEL(1, 1)

typedef void (*pk_fn)(float *, const float *, const float *, int, int, int, float, int);

/* Rows [0, m) against panels [q0, q1), NP panels at a time then single
 * panels; for each panel group every row block runs while the group's
 * weights are still in cache. */
AVX512 static void gemm_avx512(float *out, const float *a, const float *P, int m, int n, int k,
                               float alpha, int accumulate, int q0, int q1)
{
    int q = q0;
    while (q < q1) {
        int wide = m >= 8 ? 2 : 4; /* panels per kernel call for the bulk rows */
        int np = q1 - q >= wide ? wide : 1;
        for (int i = 0; i < m;) {
            int r = m - i;
            pk_fn f;
            int mr;
            if (r >= 8) {
                mr = 8;
                f = np == 2 ? pk_8x2 : pk_8x1;
                if (np == 4) { /* 8 rows over 4 panels: two 8x2 calls */
                    pk_8x2(out + (size_t)i * n, a + (size_t)i * k, P, n, k, q, alpha, accumulate);
                    pk_8x2(out + (size_t)i * n, a + (size_t)i * k, P, n, k, q + 2, alpha,
                           accumulate);
                    i += 8;
                    continue;
                }
            } else if (r >= 4) {
                mr = 4;
                f = np == 1 ? pk_4x1 : np == 4 ? pk_4x4 : NULL;
            } else if (r >= 2) {
                mr = 2;
                f = np == 1 ? pk_2x1 : np == 4 ? pk_2x4 : NULL;
            } else {
                mr = 1;
                f = np == 1 ? pk_1x1 : np == 4 ? pk_1x4 : NULL;
            }
            if (f) {
                f(out + (size_t)i * n, a + (size_t)i * k, P, n, k, q, alpha, accumulate);
            } else { /* np == 2 with fewer than 8 rows: two single panels */
                pk_fn g = mr == 4 ? pk_4x1 : mr == 2 ? pk_2x1 : pk_1x1;
                g(out + (size_t)i * n, a + (size_t)i * k, P, n, k, q, alpha, accumulate);
                g(out + (size_t)i * n, a + (size_t)i * k, P, n, k, q + 1, alpha, accumulate);
            }
            i += mr;
        }
        q += np;
    }
}
#endif

void t5__packed_gemm(float *out, const float *a, const float *P, int m, int n, int k, float alpha,
                     int accumulate, int q0, int q1, int avx512)
{
#ifdef T5_X86
    if (avx512) {
        gemm_avx512(out, a, P, m, n, k, alpha, accumulate, q0, q1);
        return;
    }
#endif
    (void)avx512;
    gemm_scalar(out, a, P, m, n, k, alpha, accumulate, q0, q1);
}
