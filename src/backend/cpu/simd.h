/* simd.h - the thin vector layer of the CPU backend.
 *
 * Each primitive exists three times (scalar, AVX2+FMA, AVX-512F), compiled
 * with per-function target attributes so one binary runs everywhere; the
 * variant is chosen once at run time from __builtin_cpu_supports. The
 * environment variable T5_SIMD=scalar|avx2|avx512 forces a (supported)
 * variant, which tests use to check each one against the reference.
 */
#ifndef T5_CPU_SIMD_H
#define T5_CPU_SIMD_H

typedef struct t5__simd {
    const char *name;
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n); /* y += a * x */
    float (*sumsq)(const float *x, int n);
    void (*scale_mul)(float *out, const float *x, float s, const float *w, int n); /* w*(x*s) */
    float (*max)(const float *x, int n);
    float (*sum_exp)(const float *x, float sub, int n); /* sum exp(x - sub) */
    /* Small-m GEMM for decoding: out[i, j] (= or +=) alpha * a[i, :] . w[j, :]
     * for i < m (m <= 4), j in [j0, j1); a [m, k], w [n, k], out row stride
     * ldo. Reads each W row once for all m rows: decode is bound by
     * streaming the weights, not by arithmetic. */
    /* FFN activations over n values (out may equal x) and the gate product
     * out *= g. gelu_tanh is transformers' NewGELUActivation with tanh from
     * the vector exp (max abs error ~1e-7 in tanh). */
    void (*relu)(float *out, const float *x, int n);
    void (*gelu_tanh)(float *out, const float *x, int n);
    void (*mul)(float *out, const float *g, int n);
    void (*gemm_small)(float *out, int ldo, const float *a, int m, const float *w, int j0, int j1,
                       int k, float alpha, int accumulate);
} t5__simd;

/* The best variant this processor supports (or the one T5_SIMD names). */
const t5__simd *t5__simd_best(void);
/* A variant by name ("scalar", "avx2", "avx512"), or NULL if unsupported. */
const t5__simd *t5__simd_by_name(const char *name);

#endif
