/* rmsnorm.cu - T5LayerNorm: out = w * x * rsqrt(mean(x^2) + eps).
 *
 * The input is the fp32 residual stream, the statistics are fp32, and the
 * result is rounded once into the act dtype (Hugging Face rounds x*rsqrt to
 * fp16 first and multiplies by the fp16 weight second; one rounding is
 * closer to the fp32 reference). The scale w is kept in fp32. The residual
 * add that usually precedes a norm is already fused into the GEMM epilogue
 * (T5_GEMM_ADD_RESID), so this kernel reads x once and writes out once.
 */
#include "cuda_internal.cuh"

/* One block per row. The row is held in registers between the two passes
 * (up to PER*blockDim elements), so x is read from memory once. */
template <typename T, int PER>
__global__ void rmsnorm_kernel(T *out, const float *x, const float *w, int d, float eps)
{
    T5__PDL_ENTRY();
    const float *xr = x + (size_t)blockIdx.x * d;
    T *o = out + (size_t)blockIdx.x * d;
    float v[PER];
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < PER; j++) {
        int i = threadIdx.x + j * blockDim.x;
        v[j] = i < d ? xr[i] : 0.0f;
        ss += v[j] * v[j];
    }
    ss = t5__block_sum(ss);
    float r = rsqrtf(ss / (float)d + eps);
#pragma unroll
    for (int j = 0; j < PER; j++) {
        int i = threadIdx.x + j * blockDim.x;
        if (i < d)
            t5__st(o + i, w[i] * (v[j] * r));
    }
}

/* Any width: a strided loop reading x twice (the second pass hits L1). */
template <typename T>
__global__ void rmsnorm_any_kernel(T *out, const float *x, const float *w, int d, float eps)
{
    T5__PDL_ENTRY();
    const float *xr = x + (size_t)blockIdx.x * d;
    T *o = out + (size_t)blockIdx.x * d;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x)
        ss += xr[i] * xr[i];
    ss = t5__block_sum(ss);
    float r = rsqrtf(ss / (float)d + eps);
    for (int i = threadIdx.x; i < d; i += blockDim.x)
        t5__st(o + i, w[i] * (xr[i] * r));
}

template <typename T>
static void rmsnorm_launch(t5_stream *s, T *out, const float *x, const float *w, int n, int d,
                           float eps)
{
    if (d <= 256 * 4)
        t5__launch(s, rmsnorm_kernel<T, 4>, dim3(n), dim3(256), 0, out, x, w, d, eps);
    else if (d <= 512 * 8)
        t5__launch(s, rmsnorm_kernel<T, 8>, dim3(n), dim3(512), 0, out, x, w, d, eps);
    else
        t5__launch(s, rmsnorm_any_kernel<T>, dim3(n), dim3(512), 0, out, x, w, d, eps);
}

/* Launches now; the vtable's rmsnorm is t5__cu_pending_norm (gemv.cu),
 * which defers a small one into the GEMM that follows. */
int t5__cu_rmsnorm_launch(t5_stream *s, void *out, const float *x, const void *w, int n, int d,
                          float eps, t5_err *err)
{
    if (n <= 0)
        return 0;
    T5__DISPATCH(s->be->base.act_dtype, T,
                 rmsnorm_launch<T>(s, (T *)out, x, (const float *)w, n, d, eps));
    CU_CHECK_LAUNCH("rmsnorm");
    return 0;
}
