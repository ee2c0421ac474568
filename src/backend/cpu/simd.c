/* simd.c - scalar, AVX2+FMA and AVX-512F versions of the vector primitives
 * (see simd.h). The exp used by sum_exp is the Cephes single-precision
 * polynomial (max relative error ~2e-7), good enough for a softmax sum. */
#include "backend/cpu/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define T5_X86 1
#endif

/* ---- scalar -------------------------------------------------------------- */

static float dot_scalar(const float *a, const float *b, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_scalar(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

static float sumsq_scalar(const float *x, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}

static void scale_mul_scalar(float *out, const float *x, float s, const float *w, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = w[i] * (x[i] * s);
}

static float max_scalar(const float *x, int n)
{
    float m = -INFINITY;
    for (int i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static float sum_exp_scalar(const float *x, float sub, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += expf(x[i] - sub);
    return s;
}

static void relu_scalar(float *out, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = x[i] > 0 ? x[i] : 0;
}

static void gelu_tanh_scalar(float *out, const float *x, int n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * (v * v * v))));
    }
}

static void mul_scalar(float *out, const float *g, int n)
{
    for (int i = 0; i < n; i++)
        out[i] *= g[i];
}

static void gemm_small_scalar(float *out, int ldo, const float *a, int m, const float *w, int j0,
                              int j1, int k, float alpha, int accumulate)
{
    for (int j = j0; j < j1; j++)
        for (int i = 0; i < m; i++) {
            float v = alpha * dot_scalar(a + (size_t)i * k, w + (size_t)j * k, k);
            float *o = out + (size_t)i * ldo + j;
            *o = accumulate ? *o + v : v;
        }
}

static const t5__simd simd_scalar = {"scalar",         dot_scalar, axpy_scalar,      sumsq_scalar,
                                     scale_mul_scalar, max_scalar, sum_exp_scalar,   relu_scalar,
                                     gelu_tanh_scalar, mul_scalar, gemm_small_scalar};

#ifdef T5_X86
/* ---- AVX2 + FMA ------------------------------------------------------------ */
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

AVX2 static float dot_avx2(const float *a, const float *b, int n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

AVX2 static void axpy_avx2(float *y, float a, const float *x, int n)
{
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

AVX2 static float sumsq_avx2(const float *x, int n)
{
    return dot_avx2(x, x, n);
}

AVX2 static void scale_mul_avx2(float *out, const float *x, float s, const float *w, int n)
{
    __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(w + i),
                                                _mm256_mul_ps(_mm256_loadu_ps(x + i), vs)));
    for (; i < n; i++)
        out[i] = w[i] * (x[i] * s);
}

AVX2 static float max_avx2(const float *x, int n)
{
    __m256 m = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float r[8];
    _mm256_storeu_ps(r, m);
    float mx = r[0];
    for (int j = 1; j < 8; j++)
        mx = r[j] > mx ? r[j] : mx;
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    return mx;
}

AVX2 static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

AVX2 static float sum_exp_avx2(const float *x, float sub, int n)
{
    __m256 s = _mm256_setzero_ps(), vsub = _mm256_set1_ps(sub);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        s = _mm256_add_ps(s, exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vsub)));
    float r = hsum256(s);
    for (; i < n; i++)
        r += expf(x[i] - sub);
    return r;
}

AVX2 static void relu_avx2(float *out, const float *x, int n)
{
    __m256 z = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_max_ps(_mm256_loadu_ps(x + i), z));
    for (; i < n; i++)
        out[i] = x[i] > 0 ? x[i] : 0;
}

/* tanh(y) = 1 - 2 / (exp(2y) + 1), saturating correctly at both ends. */
AVX2 static void gelu_tanh_avx2(float *out, const float *x, int n)
{
    const __m256 c = _mm256_set1_ps(0.7978845608028654f), k = _mm256_set1_ps(0.044715f);
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f),
                 half = _mm256_set1_ps(0.5f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 y = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(k, v), _mm256_mul_ps(v, v), v));
        __m256 e = exp256(_mm256_mul_ps(two, y));
        __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, t)));
    }
    gelu_tanh_scalar(out + i, x + i, n - i);
}

AVX2 static void mul_avx2(float *out, const float *g, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), _mm256_loadu_ps(g + i)));
    for (; i < n; i++)
        out[i] *= g[i];
}

/* Four W rows at a time against up to four a rows: 16 accumulators. */
AVX2 static void gemm_small_avx2(float *out, int ldo, const float *a, int m, const float *w, int j0,
                                 int j1, int k, float alpha, int accumulate)
{
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
        __m256 acc[4][4];
        for (int i = 0; i < 4; i++)
            for (int r = 0; r < 4; r++)
                acc[i][r] = _mm256_setzero_ps();
        const float *w0 = w + (size_t)j * k;
        int p = 0;
        for (; p + 8 <= k; p += 8) {
            __m256 wv0 = _mm256_loadu_ps(w0 + p), wv1 = _mm256_loadu_ps(w0 + k + p);
            __m256 wv2 = _mm256_loadu_ps(w0 + 2 * (size_t)k + p);
            __m256 wv3 = _mm256_loadu_ps(w0 + 3 * (size_t)k + p);
            for (int i = 0; i < m; i++) {
                __m256 x = _mm256_loadu_ps(a + (size_t)i * k + p);
                acc[i][0] = _mm256_fmadd_ps(wv0, x, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(wv1, x, acc[i][1]);
                acc[i][2] = _mm256_fmadd_ps(wv2, x, acc[i][2]);
                acc[i][3] = _mm256_fmadd_ps(wv3, x, acc[i][3]);
            }
        }
        for (int i = 0; i < m; i++)
            for (int r = 0; r < 4; r++) {
                float v = hsum256(acc[i][r]);
                for (int q = p; q < k; q++)
                    v += a[(size_t)i * k + q] * w0[(size_t)r * k + q];
                float *o = out + (size_t)i * ldo + j + r;
                *o = accumulate ? *o + alpha * v : alpha * v;
            }
    }
    for (; j < j1; j++)
        for (int i = 0; i < m; i++) {
            float v = alpha * dot_avx2(a + (size_t)i * k, w + (size_t)j * k, k);
            float *o = out + (size_t)i * ldo + j;
            *o = accumulate ? *o + v : v;
        }
}

static const t5__simd simd_avx2 = {"avx2",         dot_avx2, axpy_avx2,      sumsq_avx2,
                                   scale_mul_avx2, max_avx2, sum_exp_avx2,   relu_avx2,
                                   gelu_tanh_avx2, mul_avx2, gemm_small_avx2};

/* ---- AVX-512F --------------------------------------------------------------- */
#define AVX512 __attribute__((target("avx512f")))

AVX512 static float dot_avx512(const float *a, const float *b, int n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512 static void axpy_avx512(float *y, float a, const float *x, int n)
{
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i,
                         _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

AVX512 static float sumsq_avx512(const float *x, int n)
{
    return dot_avx512(x, x, n);
}

AVX512 static void scale_mul_avx512(float *out, const float *x, float s, const float *w, int n)
{
    __m512 vs = _mm512_set1_ps(s);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(w + i),
                                                _mm512_mul_ps(_mm512_loadu_ps(x + i), vs)));
    for (; i < n; i++)
        out[i] = w[i] * (x[i] * s);
}

AVX512 static float max_avx512(const float *x, int n)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    float mx = _mm512_reduce_max_ps(m);
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    return mx;
}

AVX512 static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
    x = _mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f));
    __m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
    fx = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, fx);
}

AVX512 static float sum_exp_avx512(const float *x, float sub, int n)
{
    __m512 s = _mm512_setzero_ps(), vsub = _mm512_set1_ps(sub);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        s = _mm512_add_ps(s, exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vsub)));
    float r = _mm512_reduce_add_ps(s);
    for (; i < n; i++)
        r += expf(x[i] - sub);
    return r;
}

AVX512 static void relu_avx512(float *out, const float *x, int n)
{
    __m512 z = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_max_ps(_mm512_loadu_ps(x + i), z));
    for (; i < n; i++)
        out[i] = x[i] > 0 ? x[i] : 0;
}

AVX512 static void gelu_tanh_avx512(float *out, const float *x, int n)
{
    const __m512 c = _mm512_set1_ps(0.7978845608028654f), k = _mm512_set1_ps(0.044715f);
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f),
                 half = _mm512_set1_ps(0.5f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 y = _mm512_mul_ps(c, _mm512_fmadd_ps(_mm512_mul_ps(k, v), _mm512_mul_ps(v, v), v));
        __m512 e = exp512(_mm512_mul_ps(two, y));
        __m512 t = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, t)));
    }
    gelu_tanh_scalar(out + i, x + i, n - i);
}

AVX512 static void mul_avx512(float *out, const float *g, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(out + i), _mm512_loadu_ps(g + i)));
    for (; i < n; i++)
        out[i] *= g[i];
}

AVX512 static void gemm_small_avx512(float *out, int ldo, const float *a, int m, const float *w,
                                     int j0, int j1, int k, float alpha, int accumulate)
{
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
        __m512 acc[4][4];
        for (int i = 0; i < 4; i++)
            for (int r = 0; r < 4; r++)
                acc[i][r] = _mm512_setzero_ps();
        const float *w0 = w + (size_t)j * k;
        for (int p = 0; p < k; p += 16) {
            __mmask16 mk = k - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - p)) - 1);
            __m512 wv0 = _mm512_maskz_loadu_ps(mk, w0 + p);
            __m512 wv1 = _mm512_maskz_loadu_ps(mk, w0 + k + p);
            __m512 wv2 = _mm512_maskz_loadu_ps(mk, w0 + 2 * (size_t)k + p);
            __m512 wv3 = _mm512_maskz_loadu_ps(mk, w0 + 3 * (size_t)k + p);
            for (int i = 0; i < m; i++) {
                __m512 x = _mm512_maskz_loadu_ps(mk, a + (size_t)i * k + p);
                acc[i][0] = _mm512_fmadd_ps(wv0, x, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(wv1, x, acc[i][1]);
                acc[i][2] = _mm512_fmadd_ps(wv2, x, acc[i][2]);
                acc[i][3] = _mm512_fmadd_ps(wv3, x, acc[i][3]);
            }
        }
        for (int i = 0; i < m; i++)
            for (int r = 0; r < 4; r++) {
                float v = alpha * _mm512_reduce_add_ps(acc[i][r]);
                float *o = out + (size_t)i * ldo + j + r;
                *o = accumulate ? *o + v : v;
            }
    }
    for (; j < j1; j++)
        for (int i = 0; i < m; i++) {
            float v = alpha * dot_avx512(a + (size_t)i * k, w + (size_t)j * k, k);
            float *o = out + (size_t)i * ldo + j;
            *o = accumulate ? *o + v : v;
        }
}

static const t5__simd simd_avx512 = {"avx512",         dot_avx512, axpy_avx512,      sumsq_avx512,
                                     scale_mul_avx512, max_avx512, sum_exp_avx512,   relu_avx512,
                                     gelu_tanh_avx512, mul_avx512, gemm_small_avx512};
#endif /* T5_X86 */

const t5__simd *t5__simd_by_name(const char *name)
{
    if (!strcmp(name, "scalar"))
        return &simd_scalar;
#ifdef T5_X86
    __builtin_cpu_init();
    if (!strcmp(name, "avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &simd_avx2;
    if (!strcmp(name, "avx512") && __builtin_cpu_supports("avx512f"))
        return &simd_avx512;
#endif
    return NULL;
}

const t5__simd *t5__simd_best(void)
{
    const char *env = getenv("T5_SIMD");
    if (env && *env) {
        const t5__simd *s = t5__simd_by_name(env);
        if (s)
            return s;
    }
    const t5__simd *s = t5__simd_by_name("avx512");
    if (!s)
        s = t5__simd_by_name("avx2");
    return s ? s : &simd_scalar;
}
