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

/* Rows of d <= 128 * VPL floats (d a multiple of 4): one warp a row, VPL
 * float4 of x a lane in registers, the sum of squares a warp sum (no block
 * barrier), the norm weights asked for beside x. For the many-row norms
 * (a decoder step of 1024 rows: 19 a step; the encoder of a large batch):
 * the block-per-row kernel below spends its time in two block barriers and
 * a second round trip for w (H100, 1024 x 512: 7.0 us a launch alone,
 * bench/cuda.md session 15). Summation order: a lane's four elements, then
 * its next float4, then the warp's butterfly (the other norms' orders
 * differ in the last bits already: fs_norm's, gemv.cu's). */
template <typename T, int VPL>
__global__ void __launch_bounds__(128) rmsnorm_warp_kernel(T *out, const float *x, const float *w,
                                                           int n, int d, float eps)
{
    const int lane = threadIdx.x & 31, row = blockIdx.x * 4 + (threadIdx.x >> 5);
    float4 wv[VPL];
#pragma unroll
    for (int j = 0; j < VPL; j++) {
        int c = (lane + 32 * j) * 4;
        wv[j] = c < d ? *(const float4 *)(w + c) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
    T5__PDL_ENTRY();
    if (row >= n)
        return;
    const float *xr = x + (size_t)row * d;
    float4 v[VPL];
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < VPL; j++) {
        int c = (lane + 32 * j) * 4;
        v[j] = c < d ? *(const float4 *)(xr + c) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (int j = 0; j < VPL; j++)
        ss += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
    const float r = rsqrtf(t5__warp_sum(ss) / (float)d + eps);
    T *o = out + (size_t)row * d;
#pragma unroll
    for (int j = 0; j < VPL; j++) {
        int c = (lane + 32 * j) * 4;
        if (c < d) {
            union {
                T h[4];
                uint2 u2;
                float4 f4;
            } q;
            q.h[0] = t5__dt<T>::store(wv[j].x * (v[j].x * r));
            q.h[1] = t5__dt<T>::store(wv[j].y * (v[j].y * r));
            q.h[2] = t5__dt<T>::store(wv[j].z * (v[j].z * r));
            q.h[3] = t5__dt<T>::store(wv[j].w * (v[j].w * r));
            if (sizeof(T) == 4)
                *(float4 *)(o + c) = q.f4;
            else
                *(uint2 *)(o + c) = q.u2;
        }
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
    const bool vec = d % 4 == 0 && ((uintptr_t)x | (uintptr_t)w | (uintptr_t)out) % 16 == 0;
    if (vec && d <= 128 * 4)
        t5__launch(s, rmsnorm_warp_kernel<T, 4>, dim3((n + 3) / 4), dim3(128), 0, out, x, w, n, d,
                   eps);
    else if (vec && d <= 128 * 8)
        t5__launch(s, rmsnorm_warp_kernel<T, 8>, dim3((n + 3) / 4), dim3(128), 0, out, x, w, n, d,
                   eps);
    else if (d <= 256 * 4)
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
