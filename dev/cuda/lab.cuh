/* lab.cuh - shared harness of the CUDA kernel lab (llm.c dev/cuda style).
 *
 * Each program in dev/cuda checks one kernel family of the CUDA backend
 * against the scalar CPU reference (src/backend/cpu/ref.h) on random shapes,
 * odd sizes included, for fp32, fp16 and bf16, and times it with CUDA events
 * on the backend's own stream. Inputs are rounded to the act dtype before
 * the reference sees them, so the error measured is the kernel's own.
 * Output: one table row per case; the exit status is 1 if any case failed.
 */
#ifndef T5_LAB_CUH
#define T5_LAB_CUH

#include "backend/cuda/cuda_internal.cuh"

extern "C" {
#include "backend/cpu/ref.h"
}

#include <stdlib.h>
#include <string.h>

static int lab_fail;

#define LAB_OK(call)                                                                               \
    do {                                                                                           \
        t5_err lab__e = {};                                                                        \
        t5_err *err = &lab__e;                                                                     \
        if ((call) < 0) {                                                                          \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, err->msg);        \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct lab {
    t5_backend *be;
    t5_stream *s;
    t5_dtype dt;
    void *tick; /* 16 bytes: target of the no-op that flushes deferred ops */
} lab;

static lab lab_open(t5_dtype dt)
{
    lab L;
    L.dt = dt;
    LAB_OK(t5_backend_cuda_create(&L.be, dt, 0, err));
    LAB_OK(L.be->vt->stream_create(L.be, 0, &L.s, err));
    L.tick = L.be->vt->alloc(L.be, 16);
    return L;
}

static void lab_close(lab *L)
{
    L->be->vt->free(L->be, L->tick);
    L->be->vt->stream_destroy(L->s);
    L->be->vt->destroy(L->be);
}

static uint64_t lab_rng = 0x9E3779B97F4A7C15ull;
static float lab_randf(void) /* uniform in [-1, 1) */
{
    lab_rng ^= lab_rng << 13;
    lab_rng ^= lab_rng >> 7;
    lab_rng ^= lab_rng << 17;
    return (float)((lab_rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}
static int lab_randi(int lo, int hi)
{
    return lo + (int)((lab_randf() + 1.0f) * 0.5f * (hi - lo + 1)) % (hi - lo + 1);
}

static float *lab_rand(size_t n, float scale)
{
    float *p = (float *)malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++)
        p[i] = lab_randf() * scale;
    return p;
}

/* Round host values to the act dtype in place (what the device will see). */
static void lab_quantize(t5_dtype dt, float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (dt == T5_F16)
            p[i] = __half2float(__float2half_rn(p[i]));
        else if (dt == T5_BF16)
            p[i] = __bfloat162float(__float2bfloat16_rn(p[i]));
    }
}

static size_t lab_esz(t5_dtype dt)
{
    return dt == T5_F32 ? 4 : 2;
}

/* Device buffer in act dtype holding host fp32 values (rounded). */
static void *lab_up_act(lab *L, const float *h, size_t n)
{
    size_t es = lab_esz(L->dt);
    char *tmp = (char *)malloc(n * es + 4);
    for (size_t i = 0; i < n; i++) {
        if (L->dt == T5_F32)
            ((float *)tmp)[i] = h[i];
        else if (L->dt == T5_F16)
            ((__half *)tmp)[i] = __float2half_rn(h[i]);
        else
            ((__nv_bfloat16 *)tmp)[i] = __float2bfloat16_rn(h[i]);
    }
    void *d = L->be->vt->alloc(L->be, n * es);
    LAB_OK(L->be->vt->h2d(L->s, d, tmp, n * es, err));
    LAB_OK(L->be->vt->sync(L->s, err));
    free(tmp);
    return d;
}

static void *lab_up_bytes(lab *L, const void *h, size_t bytes)
{
    void *d = L->be->vt->alloc(L->be, bytes);
    LAB_OK(L->be->vt->h2d(L->s, d, h, bytes, err));
    LAB_OK(L->be->vt->sync(L->s, err));
    return d;
}

/* Device act buffer -> host fp32 (malloc'd). */
static float *lab_down_act(lab *L, const void *d, size_t n)
{
    size_t es = lab_esz(L->dt);
    char *tmp = (char *)malloc(n * es + 4);
    float *h = (float *)malloc(n * sizeof(float) + 4);
    LAB_OK(L->be->vt->d2h(L->s, tmp, d, n * es, err));
    LAB_OK(L->be->vt->sync(L->s, err));
    for (size_t i = 0; i < n; i++) {
        if (L->dt == T5_F32)
            h[i] = ((float *)tmp)[i];
        else if (L->dt == T5_F16)
            h[i] = __half2float(((__half *)tmp)[i]);
        else
            h[i] = __bfloat162float(((__nv_bfloat16 *)tmp)[i]);
    }
    free(tmp);
    return h;
}

static void lab_down_bytes(lab *L, void *h, const void *d, size_t bytes)
{
    LAB_OK(L->be->vt->d2h(L->s, h, d, bytes, err));
    LAB_OK(L->be->vt->sync(L->s, err));
}

/* Poisons a device buffer (0xFF bytes: NaN in every float format), so an
 * element the kernel forgot to write shows up as a failure. */
static void lab_poison(lab *L, void *d, size_t bytes)
{
    cudaMemsetAsync(d, 0xFF, bytes, L->s->st);
}

/* Relative error ||out - ref|| / ||ref|| and the max abs error; NaN fails. */
static double lab_rel(const float *out, const float *ref, size_t n, double *maxabs)
{
    double num = 0, den = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)out[i] - ref[i];
        if (out[i] != out[i])
            d = INFINITY;
        num += d * d;
        den += (double)ref[i] * ref[i];
        if (fabs(d) > mx || d != d)
            mx = fabs(d);
    }
    if (maxabs)
        *maxabs = mx;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double lab_tol(t5_dtype dt)
{
    return dt == T5_F32 ? 1e-5 : dt == T5_F16 ? 2e-3 : 1.2e-2;
}

/* The backend defers small rmsnorm/ffn_act calls into the next GEMM
 * (gemv.cu); any other op launches them. This no-op does, so that timings
 * cover them and no deferred op outlives the buffers a case frees. */
static void lab_flush(lab *L)
{
    t5_err e = {};
    L->be->vt->memset0(L->s, L->tick, 16, &e);
}

/* Median time in microseconds of fn() over reps on the lab's stream. */
template <typename F> static double lab_time_us(lab *L, int reps, F fn)
{
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int i = 0; i < 3; i++)
        fn();
    lab_flush(L);
    float ts[64];
    if (reps > 64)
        reps = 64;
    for (int i = 0; i < reps; i++) {
        cudaEventRecord(a, L->s->st);
        fn();
        lab_flush(L);
        cudaEventRecord(b, L->s->st);
        cudaEventSynchronize(b);
        cudaEventElapsedTime(&ts[i], a, b);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    for (int i = 1; i < reps; i++)
        for (int j = i; j > 0 && ts[j] < ts[j - 1]; j--) {
            float t = ts[j];
            ts[j] = ts[j - 1];
            ts[j - 1] = t;
        }
    return ts[reps / 2] * 1000.0;
}

static void lab_header(const char *title)
{
    printf("\n== %s\n%-22s %-5s %-34s %10s %10s %6s %10s\n", title, "op", "dtype", "shape",
           "rel_err", "max_abs", "ok", "time_us");
}

static void lab_row(const char *op, t5_dtype dt, const char *shape, double rel, double mx,
                    double tol, double us)
{
    int ok = rel <= tol && rel == rel;
    if (!ok)
        lab_fail++;
    printf("%-22s %-5s %-34s %10.2e %10.2e %6s %10.2f\n", op, t5_dtype_name(dt), shape, rel, mx,
           ok ? "ok" : "FAIL", us);
}

static const t5_dtype lab_dtypes[3] = {T5_F32, T5_F16, T5_BF16};

#endif
