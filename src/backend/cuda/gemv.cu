/* gemv.cu - GEMMs with few rows (decoder steps at small batch, short
 * encoder inputs), with the preceding RMSNorm or FFN activation fused in.
 *
 * Why. At batch 1 a decoder step is ~75 small kernels, and each costs a few
 * microseconds of launch and ramp however little it does; the weights (the
 * real work, ~1.5 MB per projection in t5-small) stream in well under that.
 * So for m <= 16 rows this path (a) reads W once with 16-byte loads, each
 * warp a few output columns, all m rows at a time, and (b) removes the separate
 * norm and activation kernels: rmsnorm() and ffn_act() on so few rows are
 * recorded as pending (see t5__cu_pending_*) and folded into the prologue of
 * the GEMM that consumes their output. Each block recomputes the prologue
 * for its own use (the rows are tiny: k <= a few thousand elements) and block
 * 0 also writes the op's output buffer, so the result in memory is exactly
 * what the unfused ops would have left. Any other op flushes a pending one
 * first, so ordering is as issued.
 *
 * Numerics match the unfused path: the prologue's output is rounded to the
 * act dtype before the dot products (as the stored tensor would be), the
 * dot products accumulate in fp32, and the epilogue applies alpha and the
 * residual add in fp32.
 */
#include "cuda_internal.cuh"

#include <string.h>

#define GEMV_WARPS 8

/* 16 bytes of T, converted to floats. */
template <typename T> struct vec16;
template <> struct vec16<float> {
    enum { N = 4 };
    static __device__ __forceinline__ void load(const float *p, float *f)
    {
        float4 v = *(const float4 *)p;
        f[0] = v.x, f[1] = v.y, f[2] = v.z, f[3] = v.w;
    }
};
template <> struct vec16<__half> {
    enum { N = 8 };
    static __device__ __forceinline__ void load(const __half *p, float *f)
    {
        uint4 v = *(const uint4 *)p;
        const __half2 *h = (const __half2 *)&v;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float2 t = __half22float2(h[i]);
            f[2 * i] = t.x, f[2 * i + 1] = t.y;
        }
    }
};
template <> struct vec16<__nv_bfloat16> {
    enum { N = 8 };
    static __device__ __forceinline__ void load(const __nv_bfloat16 *p, float *f)
    {
        uint4 v = *(const uint4 *)p;
        const __nv_bfloat162 *h = (const __nv_bfloat162 *)&v;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float2 t = __bfloat1622float2(h[i]);
            f[2 * i] = t.x, f[2 * i + 1] = t.y;
        }
    }
};

__device__ __forceinline__ float gemv_act(float x, int act)
{
    switch (act) {
    case T5_ACT_RELU: return fmaxf(x, 0.0f);
    case T5_ACT_GELU_TANH: {
        const float c = 0.7978845608028654f;
        return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
    }
    case T5_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    default: return x / (1.0f + expf(-x));
    }
}
template <typename T> __device__ __forceinline__ float gemv_fin(float v)
{
    return v;
}
template <> __device__ __forceinline__ float gemv_fin<__half>(float v)
{
    return fminf(fmaxf(v, -65504.0f), 65504.0f);
}

enum { PRO_NONE = 0, PRO_NORM = 1, PRO_ACT = 2 };

struct gemv_args {
    void *out;
    const void *a; /* PRO_NONE: a [m, k] act */
    const void *w; /* [n, k] act */
    int m, n, k, flags;
    float alpha;
    float pro_scale; /* PRO_ACT: shared-memory copy holds act / pro_scale */
    int pro;
    /* PRO_NORM: a = rmsnorm(x) with scale nw, written to pro_out too */
    const float *x;
    const float *nw;
    float eps;
    /* PRO_ACT: a = act(in) (gated: act(in[:, :k]) * in[:, k:]), written to pro_out */
    const void *in;
    int act, gated;
    void *pro_out;
};

template <typename T, int MAXM>
__global__ void __launch_bounds__(GEMV_WARPS * 32) gemv_kernel(const gemv_args g)
{
    /* The weights do not depend on the kernel before this one: ask L2 for
     * this block's slice of W before waiting for that kernel (PDL), so the
     * fetch overlaps its tail and the loads below hit L2. */
    {
        constexpr int CPB = GEMV_WARPS * (MAXM >= 16 ? 2 : 4);
        int c0 = blockIdx.x * CPB, c1 = c0 + CPB < g.n ? c0 + CPB : g.n;
        const char *base = (const char *)g.w + (size_t)c0 * g.k * sizeof(T);
        size_t bytes = (size_t)(c1 - c0) * g.k * sizeof(T);
        for (size_t off = (size_t)threadIdx.x * 128; off < bytes; off += (size_t)blockDim.x * 128)
            asm volatile("prefetch.global.L2 [%0];" ::"l"(base + off));
    }
    T5__PDL_ENTRY();
    extern __shared__ __align__(16) unsigned char gemv_sm[];
    T *as = (T *)gemv_sm; /* [m][k] */
    __shared__ float rs[MAXM];
    const int m = g.m, k = g.k;
    const bool writer = blockIdx.x == 0;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    /* Prologue: the m input rows into shared memory, in the act dtype. It is
     * repeated by every block, so each block covers many columns. */
    if (g.pro == PRO_NORM) {
        /* Sum of squares of every row by the whole block: all loads of a
         * row are independent (unrolled), and each warp's partial sum meets
         * the others in shared memory, added in warp order so the result
         * does not depend on timing. A loop of dependent loads here cost
         * ~5 us per GEMM. */
        __shared__ float wpart[MAXM][GEMV_WARPS];
#pragma unroll
        for (int r = 0; r < MAXM; r++) {
            if (r < m) {
                const float *xr = g.x + (size_t)r * k;
                float ss = 0.0f;
#pragma unroll 4
                for (int i = threadIdx.x; i < k; i += blockDim.x)
                    ss += xr[i] * xr[i];
                ss = t5__warp_sum(ss);
                if (lane == 0)
                    wpart[r][warp] = ss;
            }
        }
        __syncthreads();
        if (threadIdx.x < m) {
            float ss = 0.0f;
            for (int w = 0; w < GEMV_WARPS; w++)
                ss += wpart[threadIdx.x][w];
            rs[threadIdx.x] = ss;
        }
        __syncthreads();
        if (threadIdx.x < m)
            rs[threadIdx.x] = rsqrtf(rs[threadIdx.x] / (float)k + g.eps);
        __syncthreads();
#pragma unroll 4
        for (int idx = threadIdx.x; idx < m * k; idx += blockDim.x) {
            int r = idx / k, c = idx - r * k;
            T v = t5__dt<T>::store(g.nw[c] * (g.x[idx] * rs[r]));
            as[idx] = v;
            if (writer)
                ((T *)g.pro_out)[idx] = v;
        }
    } else if (g.pro == PRO_ACT) {
        const T *in = (const T *)g.in;
        const float inv = 1.0f / g.pro_scale;
#pragma unroll 4
        for (int idx = threadIdx.x; idx < m * k; idx += blockDim.x) {
            int r = idx / k, c = idx - r * k;
            float y;
            if (g.gated) {
                const T *row = in + (size_t)r * 2 * k;
                y = gemv_act(gemv_fin<T>(t5__ld(row + c)), g.act) *
                    gemv_fin<T>(t5__ld(row + k + c));
            } else {
                y = gemv_act(gemv_fin<T>(t5__ld(in + idx)), g.act);
            }
            /* scaled before the clamp: the point of the scale is to keep
             * products past 65504 (ffn_act.cu) */
            as[idx] = t5__dt<T>::store(gemv_fin<T>(y * inv));
            if (writer)
                ((T *)g.pro_out)[idx] = t5__dt<T>::store(gemv_fin<T>(y));
        }
    } else {
        const uint4 *src = (const uint4 *)g.a;
        uint4 *dst = (uint4 *)as;
#pragma unroll 4
        for (int i = threadIdx.x; i < m * k * (int)sizeof(T) / 16; i += blockDim.x)
            dst[i] = src[i];
    }
    __syncthreads();

    /* Each warp owns CPW consecutive columns; per 16-byte step of k a lane
     * loads CPW weight chunks (all in flight together) and reuses each
     * shared-memory chunk of a for all of them. */
    constexpr int CPW = MAXM >= 16 ? 2 : 4;
    const int col0 = (blockIdx.x * GEMV_WARPS + warp) * CPW;
    if (col0 >= g.n)
        return;
    float acc[MAXM][CPW];
    t5__gemv_acc<T, CPW, MAXM, vec16<T>>(acc, as, m, k, (const T *)g.w, k, 0, col0, g.n,
                                         lane);
    const float alpha = g.alpha * g.pro_scale;
#pragma unroll
    for (int r = 0; r < MAXM; r++) {
        if (r < m) {
#pragma unroll
            for (int j = 0; j < CPW; j++) {
                float v = t5__warp_sum(acc[r][j]) * alpha;
                int col = col0 + j;
                if (lane == j && col < g.n) {
                    size_t at = (size_t)r * g.n + col;
                    if (g.flags & T5_GEMM_ADD_RESID)
                        ((float *)g.out)[at] += v;
                    else if (g.flags & T5_GEMM_OUT_F32)
                        ((float *)g.out)[at] = v;
                    else
                        t5__st((T *)g.out + at, (g.flags & T5_GEMM_RELU) ? fmaxf(v, 0.0f) : v);
                }
            }
        }
    }
}

template <typename T, int MAXM>
static int gemv_launch_t(t5_stream *s, const gemv_args &g, size_t smem, t5_err *err)
{
    /* The >48 KB opt-in is per function (and device); raise it to what this
     * launch needs when that grows. The limit counts the kernel's static
     * shared memory too (gemv_ok allows it 1 KB): at exactly 48 KB of
     * dynamic memory (t5-base's wo at 8 rows in fp16, 8 x 3072 x 2 bytes) a
     * launch without the opt-in failed with "invalid argument". */
    static int raised[64];
    if (smem + 1024 > 48 * 1024 && (int)smem > raised[s->be->dev & 63]) {
        CU_CHECK(cudaFuncSetAttribute(gemv_kernel<T, MAXM>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        raised[s->be->dev & 63] = (int)smem;
    }
    int cols = GEMV_WARPS * (MAXM >= 16 ? 2 : 4);
    int blocks = (g.n + cols - 1) / cols;
    t5__launch(s, gemv_kernel<T, MAXM>, dim3(blocks), dim3(GEMV_WARPS * 32), smem, g);
    CU_CHECK_LAUNCH("gemv");
    return 0;
}

template <typename T>
static int gemv_launch(t5_stream *s, const gemv_args &g, size_t smem, t5_err *err)
{
    if (g.m <= 1)
        return gemv_launch_t<T, 1>(s, g, smem, err);
    if (g.m <= 4)
        return gemv_launch_t<T, 4>(s, g, smem, err);
    if (g.m <= 8)
        return gemv_launch_t<T, 8>(s, g, smem, err);
    return gemv_launch_t<T, 16>(s, g, smem, err);
}

/* Whether a GEMM of this shape may take the small-m path. */
static int gemv_ok(t5_stream *s, const void *out, const void *a, const void *w, int m, int k)
{
    if (m < 1 || m > s->be->gemv_max_m || s->be->no_gemv)
        return 0;
    size_t es = s->be->base.act_size;
    if ((k * es) % 16 || ((uintptr_t)a | (uintptr_t)w) % 16)
        return 0;
    return (size_t)m * k * es + 1024 <= s->be->smem_optin; /* + the kernel's static smem */
}

int t5__cu_pending_flush(t5_stream *s, t5_err *err)
{
    t5__pending p = s->pend;
    s->pend.kind = 0;
    if (p.kind == PRO_NORM)
        return t5__cu_rmsnorm_launch(s, p.out, p.x, p.w, p.m, p.k, p.eps, err);
    if (p.kind == PRO_ACT)
        return t5__cu_ffn_act_launch(s, p.out, p.in, p.m, p.k, p.act, p.gated, 1.0f, err);
    return 0;
}

int t5__cu_pending_norm(t5_stream *s, void *out, const float *x, const void *w, int n, int d,
                        float eps, t5_err *err)
{
    int rc = t5__cu_pending_flush(s, err);
    if (rc < 0)
        return rc;
    if (n <= 0)
        return 0;
    CU_USE(s->be);
    if (n > s->be->gemv_max_m || s->be->no_gemv)
        return t5__cu_rmsnorm_launch(s, out, x, w, n, d, eps, err);
    t5__pending *p = &s->pend;
    p->kind = PRO_NORM;
    p->out = out, p->x = x, p->w = w, p->m = n, p->k = d, p->eps = eps;
    return 0;
}

int t5__cu_pending_act(t5_stream *s, void *out, const void *in, int m, int ff, int act, int gated,
                       t5_err *err)
{
    int rc = t5__cu_pending_flush(s, err);
    if (rc < 0)
        return rc;
    if (m <= 0)
        return 0;
    CU_USE(s->be);
    /* Deferred at any m: a GEMM consuming it fuses it (few rows) or, in
     * fp16, takes it scaled (see ffn_act.cu). */
    if (s->be->no_gemv || out == in)
        return t5__cu_ffn_act_launch(s, out, in, m, ff, act, gated, 1.0f, err);
    t5__pending *p = &s->pend;
    p->kind = PRO_ACT;
    p->out = out, p->in = in, p->m = m, p->k = ff, p->act = act, p->gated = gated;
    p->x = NULL, p->w = NULL;
    return 0;
}

/* Called by gemm first: returns 1 if it ran the GEMM here (fused or not),
 * 0 if cuBLASLt should (any pending op is flushed then), 2 if cuBLASLt
 * should with alpha * T5__ACT_SCALE (the input was stored scaled), < 0 on
 * error. */
int t5__cu_gemv_try(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                    float alpha, int flags, t5_err *err)
{
    t5__pending p = s->pend;
    gemv_args g;
    memset(&g, 0, sizeof g);
    g.out = out, g.a = a, g.w = w, g.m = m, g.n = n, g.k = k, g.flags = flags, g.alpha = alpha;
    g.pro_scale = 1.0f;
    /* A pending norm reads x; a GEMM adding into that same x must not run
     * before it. (Only for a norm: a pending activation's x is not set, and
     * testing a stale one refused to fuse the FFN's wo GEMM, which then ran
     * on an unscaled, clamped fp16 product: fp16_overflow's 0.05 error.) */
    int fuse = p.kind && p.out == a && p.m == m && p.k == k &&
               !(p.kind == PRO_NORM && (flags & T5_GEMM_ADD_RESID) && (const void *)p.x == out);
    if (!gemv_ok(s, out, a, w, m, k) || (p.kind && !fuse)) {
        if (fuse && p.kind == PRO_ACT && s->be->base.act_dtype == T5_F16) {
            /* cuBLASLt consumes the activation: store it scaled. */
            s->pend.kind = 0;
            int rc = t5__cu_ffn_act_launch(s, p.out, p.in, p.m, p.k, p.act, p.gated,
                                           1.0f / T5__ACT_SCALE, err);
            return rc < 0 ? rc : 2;
        }
        int rc = t5__cu_pending_flush(s, err);
        if (rc < 0)
            return rc;
        if (!gemv_ok(s, out, a, w, m, k))
            return 0;
    } else if (fuse) {
        g.pro = p.kind;
        if (p.kind == PRO_ACT && s->be->base.act_dtype == T5_F16)
            g.pro_scale = T5__ACT_SCALE;
        g.pro_out = p.out;
        g.x = p.x, g.nw = (const float *)p.w, g.eps = p.eps;
        g.in = p.in, g.act = p.act, g.gated = p.gated;
        s->pend.kind = 0;
    }
    size_t smem = (size_t)m * k * s->be->base.act_size;
    int rc = 0;
    T5__DISPATCH(s->be->base.act_dtype, T, rc = gemv_launch<T>(s, g, smem, err));
    return rc < 0 ? rc : 1;
}
