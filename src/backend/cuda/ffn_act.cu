/* ffn_act.cu - the FFN activation: act(h) or, gated, act(h0) * h1.
 *
 * fp16 overflow. In T5 v1.1 / flan-t5 the gated product act(wi_0 x) *
 * (wi_1 x) can exceed fp16's 65504 (Hugging Face keeps `wo` in fp32 for this
 * reason and clamps the hidden states). The math here is fp32; in fp16 the
 * inputs are first clamped to the finite range (a wi GEMM that overflowed
 * wrote +-inf, and inf * 0 would be NaN) and the output is clamped to
 * +-65504 as Hugging Face's clamp does, so nothing non-finite reaches the
 * `wo` GEMM, whose output goes into the fp32 residual. bf16 has fp32's range
 * and needs none of this; it is the recommended dtype for v1.1 checkpoints.
 */
#include "cuda_internal.cuh"

#include <float.h>

template <typename T> __device__ __forceinline__ float fin(float v)
{
    return v;
}
template <> __device__ __forceinline__ float fin<__half>(float v)
{
    return fminf(fmaxf(v, -65504.0f), 65504.0f);
}

__device__ __forceinline__ float act_fn(float x, int act)
{
    switch (act) {
    case T5_ACT_RELU: return fmaxf(x, 0.0f);
    case T5_ACT_GELU_TANH: {
        const float c = 0.7978845608028654f; /* sqrt(2/pi) */
        return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
    }
    case T5_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    default: return x / (1.0f + expf(-x)); /* SiLU */
    }
}

template <typename T>
__global__ void ffn_act_kernel(T *out, const T *in, int m, int ff, int act, int gated, float scale)
{
    T5__PDL_ENTRY();
    size_t total = (size_t)m * ff;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        float y;
        if (gated) {
            size_t r = i / ff, c = i - r * ff;
            const T *row = in + r * 2 * (size_t)ff;
            y = act_fn(fin<T>(t5__ld(row + c)), act) * fin<T>(t5__ld(row + ff + c));
        } else {
            y = act_fn(fin<T>(t5__ld(in + i)), act);
        }
        t5__st(out + i, fin<T>(y * scale));
    }
}

/* Launches now; the vtable's ffn_act is t5__cu_pending_act (gemv.cu). */
int t5__cu_ffn_act_launch(t5_stream *s, void *out, const void *in, int m, int ff, int act,
                          int gated, float scale, t5_err *err)
{
    if (m <= 0)
        return 0;
    size_t total = (size_t)m * ff;
    size_t blocks = (total + 255) / 256;
    size_t cap = (size_t)s->be->n_sm * 8;
    if (blocks > cap)
        blocks = cap;
    T5__DISPATCH(s->be->base.act_dtype, T,
                 t5__launch(s, ffn_act_kernel<T>, dim3((int)blocks), dim3(256), 0, (T *)out,
                            (const T *)in, m, ff, act, gated, scale));
    CU_CHECK_LAUNCH("ffn_act");
    return 0;
}
