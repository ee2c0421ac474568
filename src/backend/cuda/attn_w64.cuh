/* attn_w64.cuh - the decoder attention of one (row, head) for 16-bit heads
 * of 64 dimensions, by one warp (private): attn_decoder.cu's dec_attn_w64
 * runs it per warp of a launch, fused_common.cuh's fs_attn per warp of a
 * persistent step, so both give the same bits.
 *
 * Lane (key group kg, dimensions c8..c8+7) holds 16 bytes of q and of keys
 * kg, kg+4, kg+8, ...: the K and V rows of a round of 16 keys are all in
 * flight as 16-byte loads before any arithmetic, a score is its eight
 * lanes' partial dot products summed by three shuffles, the softmax runs
 * over the rounds (any cache length), and the output combines the four key
 * groups with two shuffles (H100, bench/cuda.md sessions 15-16).
 */
#ifndef T5_CUDA_ATTN_W64_CUH
#define T5_CUDA_ATTN_W64_CUH

#include "cuda_internal.cuh"

#define T5__W64_ROUND 4 /* keys a lane holds per round (16 a warp) */

/* 16 bytes at p; CG: through L2 only (data other blocks of a persistent
 * kernel wrote), else an ordinary load (also valid on shared memory). */
template <bool CG> static __device__ __forceinline__ uint4 t5__w64_ld(const void *p)
{
    return CG ? __ldcg((const uint4 *)p) : *(const uint4 *)p;
}

/* Row q's attention over keys 0..nk-1 of one head: K, V the cache rows
 * (64 wide), of which the first nold are read from there; SELF: key nk-1
 * is this step's, at q + kv_off (k) and q + 2*kv_off (v), and bias(j) is
 * added to key j's score. Lanes of key group 0 store the 64 outputs at
 * out (16 bytes each). */
template <typename T, bool SELF, bool CG, typename BIAS>
static __device__ __forceinline__ void t5__attn_w64(T *out, const T *q, int kv_off, const T *K,
                                                    const T *V, int nk, int nold, BIAS bias)
{
    constexpr int dkv = 64, R = T5__W64_ROUND;
    const int lane = threadIdx.x & 31, kg = lane >> 3, c8 = (lane & 7) * 8;
    const uint4 z = make_uint4(0, 0, 0, 0);
    const uint4 qr = t5__w64_ld<CG>(q + c8);
    const T *qh = (const T *)&qr;
    float mx = -INFINITY, es = 0.0f;
    float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int j0 = 0; j0 < nk; j0 += 4 * R) {
        uint4 kr[R], vr[R];
#pragma unroll
        for (int t = 0; t < R; t++) {
            const int j = j0 + 4 * t + kg;
            kr[t] = vr[t] = z;
            if (j < nold) {
                kr[t] = *(const uint4 *)(K + (size_t)j * dkv + c8);
                vr[t] = *(const uint4 *)(V + (size_t)j * dkv + c8);
            } else if (SELF && j == nk - 1) { /* this step's key and value */
                kr[t] = t5__w64_ld<CG>(q + kv_off + c8);
                vr[t] = t5__w64_ld<CG>(q + 2 * kv_off + c8);
            }
        }
        float sc[R], rmx = -INFINITY;
#pragma unroll
        for (int t = 0; t < R; t++) {
            const int j = j0 + 4 * t + kg;
            const T *kh = (const T *)&kr[t];
            float s = 0.0f;
#pragma unroll
            for (int e = 0; e < 8; e++)
                s += t5__dt<T>::load(qh[e]) * t5__dt<T>::load(kh[e]);
            s += __shfl_xor_sync(0xffffffffu, s, 1);
            s += __shfl_xor_sync(0xffffffffu, s, 2);
            s += __shfl_xor_sync(0xffffffffu, s, 4);
            if (SELF && j < nk)
                s += bias(j);
            sc[t] = j < nk ? s : -INFINITY;
            rmx = fmaxf(rmx, sc[t]);
        }
        rmx = fmaxf(rmx, __shfl_xor_sync(0xffffffffu, rmx, 8));
        rmx = fmaxf(rmx, __shfl_xor_sync(0xffffffffu, rmx, 16));
        const float nmx = fmaxf(mx, rmx), scale = __expf(mx - nmx); /* 0 in the first round */
        mx = nmx;
        es *= scale;
#pragma unroll
        for (int e = 0; e < 8; e++)
            acc[e] *= scale;
#pragma unroll
        for (int t = 0; t < R; t++) {
            const float p = j0 + 4 * t + kg < nk ? __expf(sc[t] - mx) : 0.0f;
            const T *vh = (const T *)&vr[t];
            es += p;
#pragma unroll
            for (int e = 0; e < 8; e++)
                acc[e] += p * t5__dt<T>::load(vh[e]);
        }
    }
    es += __shfl_xor_sync(0xffffffffu, es, 8);
    es += __shfl_xor_sync(0xffffffffu, es, 16);
    const float inv = 1.0f / es;
    union {
        T h[8];
        uint4 u;
    } o;
#pragma unroll
    for (int e = 0; e < 8; e++) {
        acc[e] += __shfl_xor_sync(0xffffffffu, acc[e], 8);
        acc[e] += __shfl_xor_sync(0xffffffffu, acc[e], 16);
        o.h[e] = t5__dt<T>::store(acc[e] * inv);
    }
    if (kg == 0)
        *(uint4 *)(out + c8) = o.u;
}

/* bias(j) of t5__attn_w64 from the relative-bias table (the causal bucket
 * of j - (nk - 1), head h of H). */
struct t5__w64_table_bias {
    const float *table;
    int nk, nb, maxd, H, h;
    __device__ __forceinline__ float operator()(int j) const
    {
        return table[t5_rel_bucket(j - (nk - 1), 0, nb, maxd) * H + h];
    }
};

/* bias(j) from a per-warp scratch the caller filled (fs_attn: looked up in
 * the unrolled rounds, the bucket function put ~100 B more on the calling
 * kernel's stack frame, ptxas). */
struct t5__w64_scratch_bias {
    const float *b;
    __device__ __forceinline__ float operator()(int j) const { return b[j]; }
};

#endif
