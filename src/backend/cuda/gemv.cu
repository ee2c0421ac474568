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

/* The epilogue of one output element v (alpha applied) at row r, column col. */
template <typename T>
static __device__ __forceinline__ void gemv_put(const gemv_args &g, int r, int col, float v)
{
    size_t at = (size_t)r * g.n + col;
    if (g.flags & T5_GEMM_ADD_RESID)
        ((float *)g.out)[at] += v;
    else if (g.flags & T5_GEMM_OUT_F32)
        ((float *)g.out)[at] = v;
    else
        t5__st((T *)g.out + at, (g.flags & T5_GEMM_RELU) ? fmaxf(v, 0.0f) : v);
}

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
    t5__gemv_acc<T, CPW, MAXM, vec16<T>>(acc, as, m, k, (const T *)g.w, k, 0, col0, g.n, lane);
    const float alpha = g.alpha * g.pro_scale;
#pragma unroll
    for (int r = 0; r < MAXM; r++) {
        if (r < m) {
#pragma unroll
            for (int j = 0; j < CPW; j++) {
                float v = t5__warp_sum(acc[r][j]) * alpha;
                int col = col0 + j;
                if (lane == j && col < g.n)
                    gemv_put<T>(g, r, col, v);
            }
        }
    }
}

/* ---- 5..16 rows on the tensor cores ------------------------------------------
 * The GEMV above reads each weight once but does m multiply-adds per weight
 * on the CUDA cores, plus the conversions: at 9-16 rows (a short encoder
 * input, a decoder step of 8-16 rows) it lost 2x to cuBLASLt (bench/cuda.md,
 * session 5). cuBLASLt in turn costs a launch of its own for the norm or the
 * activation before it, and its kernels start only when the kernel before has
 * finished. Here the rows, padded to 16, are the A operand of mma.m16n8k16
 * (fp16/bf16 in, fp32 accumulate): a block owns nt tiles of 8 columns, its
 * 16 warps split k between them, and each lane holds its weights in
 * registers, loaded before the PDL wait. The pending norm / activation is the
 * block's prologue (mma_rows_in). H100, batch 1: the encoder 25-35 us faster,
 * a decoder step of 8 rows 12-17% (bench/cuda.md, session 14).
 *
 * Which k a fragment slot holds is free as long as A and B agree, so a lane
 * takes 16 contiguous bytes of a W row per 32-element chunk of k (lane t of
 * a quad: elements 8t..8t+7) and feeds them to two mma steps, elements 4s..
 * 4s+3 of its 8 at step s; its A fragment is the same 16 bytes of rows g and
 * g + 8. Numerics as the GEMV's: the prologue rounds to the act dtype, the
 * products accumulate in fp32 (in the tensor core's order), the k-split
 * partials are added in warp order, then alpha and the residual in fp32. */
/* 16 warps: the prologue is each block's, and more warps shorten its chains
 * (8 warps: the same launch 9.6 us alone against 8.1, Nsight on an H100;
 * bench/cuda.md, session 14) */
#define MMA_WARPS 16
#define MMA_BATCH 4  /* chunks of k whose weights a lane holds at once */
/* what the opt-in must leave for the kernel's static shared memory (part,
 * rs: 8.3 KB) and the driver's 1 KB */
#define MMA_STATIC_SMEM (10 << 10)

/* d += A . B for one m16n8k16 step s (0, 1) of a lane's 16 bytes of rows g
 * and g + 8 (a0, a1) and of its weight row (b0, b1). */
template <typename T>
static __device__ __forceinline__ void mma16(float *d, uint4 a0, uint4 a1, unsigned b0, unsigned b1,
                                             int s)
{
    const unsigned a[4] = {s ? a0.z : a0.x, s ? a1.z : a1.x, s ? a0.w : a0.y, s ? a1.w : a1.y};
    t5__mma16816<T>(d, a, b0, b1);
}

/* A lane's weights for chunks ci0, ci0 + step, ... (MMA_BATCH of them):
 * zeros past k or past the last column. */
template <typename T>
static __device__ __forceinline__ void mma_load_w(uint4 *b, const T *wrow, bool live, int k,
                                                  int nch, int ci0, int step, int q)
{
#pragma unroll
    for (int i = 0; i < MMA_BATCH; i++) {
        int ci = ci0 + i * step, kk = ci * 32 + q * 8;
        b[i] =
            live && ci < nch && kk < k ? __ldg((const uint4 *)(wrow + kk)) : make_uint4(0, 0, 0, 0);
    }
}

/* Eight floats as eight T in 16 bytes. */
template <typename T> static __device__ __forceinline__ uint4 mma_pack8(const float *v)
{
    union {
        T h[8];
        uint4 u;
    } o;
#pragma unroll
    for (int i = 0; i < 8; i++)
        o.h[i] = t5__dt<T>::store(v[i]);
    return o.u;
}

/* mma_small_kernel, before its PDL wait: a pending norm's weights (the
 * model's, not the kernel before's) into their place in the stage. */
static __device__ __forceinline__ void mma_norm_w_in(const gemv_args &g, unsigned char *stage)
{
    float *ws = (float *)stage + g.m * g.k;
    for (int i = threadIdx.x; i < g.k / 4; i += blockDim.x)
        t5__cp16(ws + 4 * i, g.nw + 4 * i);
    t5__cp_commit();
}

/* mma_small_kernel's prologue: the rows into as [16][lda], zeros past m.
 * gemv_kernel's prologue loads m * k elements a few at a time per thread,
 * one L2 round trip each time: fine at <= 4 rows, ~5 us at 16 x 512. Here every
 * global read is in flight at once (cp.async into the stage, one wait), and
 * the math runs from shared memory eight elements (16 bytes of T) at a time:
 * the same formulas; the norm's sum of squares is one warp's per row. */
template <typename T>
static __device__ __forceinline__ void mma_rows_in(const gemv_args &g, T *as, int lda,
                                                   unsigned char *stage)
{
    __shared__ float rs[16];
    const int m = g.m, k = g.k, nt = blockDim.x, k8 = k / 8;
    for (int i = threadIdx.x; i < (16 - m) * k8; i += nt) {
        int r = i / k8;
        *(uint4 *)(as + (m + r) * lda + (i - r * k8) * 8) = make_uint4(0, 0, 0, 0);
    }
    if (g.pro == PRO_NONE) { /* T is 2 bytes: 8 elements a copy */
        for (int i = threadIdx.x; i < m * k8; i += nt) {
            int r = i / k8;
            t5__cp16(as + r * lda + (i - r * k8) * 8, (const T *)g.a + (size_t)i * 8);
        }
        t5__cp_commit();
        t5__cp_wait<0>();
        __syncthreads();
        return;
    }
    const bool writer = blockIdx.x == 0;
    if (g.pro == PRO_NORM) { /* its weights are on their way (mma_norm_w_in) */
        float *xs = (float *)stage, *ws = xs + m * k;
        for (int i = threadIdx.x; i < m * k / 4; i += nt)
            t5__cp16(xs + 4 * i, g.x + 4 * i);
        t5__cp_commit();
        t5__cp_wait<0>();
        __syncthreads();
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        for (int r = warp; r < m; r += nt >> 5) {
            float ss = 0.0f;
            for (int c = lane * 4; c < k; c += 128) {
                float4 v = *(const float4 *)(xs + r * k + c);
                ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
            }
            ss = t5__warp_sum(ss);
            if (lane == 0)
                rs[r] = rsqrtf(ss / (float)k + g.eps);
        }
        __syncthreads();
        for (int i = threadIdx.x; i < m * k8; i += nt) {
            int r = i / k8, c = (i - r * k8) * 8;
            const float4 *x = (const float4 *)(xs + r * k + c), *w = (const float4 *)(ws + c);
            const float4 x0 = x[0], x1 = x[1], w0 = w[0], w1 = w[1];
            const float sc = rs[r];
            float v[8] = {w0.x * (x0.x * sc), w0.y * (x0.y * sc), w0.z * (x0.z * sc),
                          w0.w * (x0.w * sc), w1.x * (x1.x * sc), w1.y * (x1.y * sc),
                          w1.z * (x1.z * sc), w1.w * (x1.w * sc)};
            uint4 o = mma_pack8<T>(v);
            *(uint4 *)(as + r * lda + c) = o;
            if (writer)
                *(uint4 *)((T *)g.pro_out + r * k + c) = o;
        }
    } else {
        const int kin = g.gated ? 2 * k : k;
        T *ins = (T *)stage;
        for (int i = threadIdx.x; i < m * kin / 8; i += nt)
            t5__cp16(ins + i * 8, (const T *)g.in + (size_t)i * 8);
        t5__cp_commit();
        t5__cp_wait<0>();
        __syncthreads();
        const float inv = 1.0f / g.pro_scale;
        for (int i = threadIdx.x; i < m * k8; i += nt) {
            int r = i / k8, c = (i - r * k8) * 8;
            const T *row = ins + r * kin + c;
            float y[8], ys[8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                y[j] = gemv_act(gemv_fin<T>(t5__ld(row + j)), g.act);
                if (g.gated)
                    y[j] *= gemv_fin<T>(t5__ld(row + k + j));
                /* as gemv_kernel's: scaled before the clamp */
                ys[j] = gemv_fin<T>(y[j] * inv);
                y[j] = gemv_fin<T>(y[j]);
            }
            *(uint4 *)(as + r * lda + c) = mma_pack8<T>(ys);
            if (writer)
                *(uint4 *)((T *)g.pro_out + r * k + c) = mma_pack8<T>(y);
        }
    }
    __syncthreads();
}

template <typename T>
__global__ void __launch_bounds__(MMA_WARPS * 32, 2)
    mma_small_kernel(const gemv_args g, int nt, int lda)
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int split = MMA_WARPS / nt, ks = warp / nt;
    const int n0 = (blockIdx.x * nt + warp % nt) * 8, grp = lane >> 2, q = lane & 3;
    const int k = g.k, nch = (k + 31) / 32, col = n0 + grp;
    const bool live = col < g.n;
    const T *wrow = (const T *)g.w + (size_t)(live ? col : 0) * k;
    /* The weights do not depend on the kernel before: the first batch into
     * registers, the rest of this warp's share asked of L2, before the wait. */
    uint4 b[MMA_BATCH];
    mma_load_w<T>(b, wrow, live, k, nch, ks, split, q);
    for (int ci = ks + MMA_BATCH * split; live && ci < nch; ci += split)
        if (ci * 32 + q * 8 < k)
            asm volatile("prefetch.global.L2 [%0];" ::"l"(wrow + ci * 32 + q * 8));
    extern __shared__ __align__(16) unsigned char mma_sm[];
    T *as = (T *)mma_sm; /* [16][lda]: the rows, zeros past m; then the stage */
    unsigned char *stage = mma_sm + (size_t)16 * lda * sizeof(T);
    if (g.pro == PRO_NORM) /* the norm's weights too: likely out of L2 by now */
        mma_norm_w_in(g, stage);
    T5__PDL_ENTRY();
    /* k-split partials at the end; until then a residual add's old values,
     * in the slots of the warps that write the outputs (their own partials
     * stay in registers): asked for now, so that their round trip overlaps
     * the prologue instead of ending the kernel. The prologue's wait covers
     * them. Each element is its lane's alone to write. */
    __shared__ float4 part[MMA_WARPS][32];
    if ((g.flags & T5_GEMM_ADD_RESID) && !ks) {
        float *rv = (float *)&part[warp][lane];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int r = grp + (i >> 1) * 8, cc = n0 + 2 * q + (i & 1);
            if (r < g.m && cc < g.n)
                t5__cp4(rv + i, (const float *)g.out + (size_t)r * g.n + cc);
        }
    }
    mma_rows_in<T>(g, as, lda, stage);

    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int j0 = 0;; j0 += MMA_BATCH) {
        if (j0)
            mma_load_w<T>(b, wrow, live, k, nch, ks + j0 * split, split, q);
#pragma unroll
        for (int i = 0; i < MMA_BATCH; i++) {
            /* mma.sync wants the whole warp: the test is by chunk, and a
             * lane past k (k % 32 != 0) feeds zeros */
            int ci = ks + (j0 + i) * split, kk = ci * 32 + q * 8;
            if (ci < nch) {
                uint4 a0 = make_uint4(0, 0, 0, 0), a1 = a0;
                if (kk < k) {
                    a0 = *(const uint4 *)(as + grp * lda + kk);
                    a1 = *(const uint4 *)(as + (grp + 8) * lda + kk);
                }
                mma16<T>(d, a0, a1, b[i].x, b[i].y, 0);
                mma16<T>(d, a0, a1, b[i].z, b[i].w, 1);
            }
        }
        if (ks + (j0 + MMA_BATCH) * split >= nch)
            break;
    }

    /* The k-split partials, added in warp order by the first nt warps. */
    if (ks)
        part[warp][lane] = make_float4(d[0], d[1], d[2], d[3]);
    __syncthreads();
    if (ks)
        return;
    float4 t = make_float4(d[0], d[1], d[2], d[3]);
    for (int j = 1; j < split; j++) {
        float4 u = part[warp + j * nt][lane];
        t.x += u.x, t.y += u.y, t.z += u.z, t.w += u.w;
    }
    const float alpha = g.alpha * g.pro_scale;
    const int c = n0 + 2 * q;
    const float v[4] = {t.x, t.y, t.z, t.w};
    const float *rv = (const float *)&part[warp][lane];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int r = grp + (i >> 1) * 8, cc = c + (i & 1);
        if (r < g.m && cc < g.n) {
            if (g.flags & T5_GEMM_ADD_RESID) /* gemv_put's +=, with the old value staged */
                ((float *)g.out)[(size_t)r * g.n + cc] = rv[i] + v[i] * alpha;
            else
                gemv_put<T>(g, r, cc, v[i] * alpha);
        }
    }
}

/* Rows of the shared-memory copy: a multiple of 8 elements that is 32 mod 64,
 * so that the two rows a quarter-warp reads fall in different banks. */
static int mma_lda(int k)
{
    int l = (k + 7) / 8 * 8;
    while (l % 64 != 32)
        l += 8;
    return l;
}

/* mma_small_kernel's dynamic shared memory: the rows and the prologue's stage. */
static size_t mma_smem(int pro, int m, int k, int gated, size_t es)
{
    size_t st = pro == PRO_NORM  ? (size_t)(m + 1) * k * 4
                : pro == PRO_ACT ? (size_t)m * k * (gated ? 2 : 1) * es
                                 : 0;
    return (size_t)16 * mma_lda(k) * es + st;
}

template <typename T> static int mma_launch(t5_stream *s, const gemv_args &g, t5_err *err)
{
    int lda = mma_lda(g.k);
    size_t smem = mma_smem(g.pro, g.m, g.k, g.gated, sizeof(T));
    static int raised[64];
    if (smem + MMA_STATIC_SMEM > 48 * 1024 && (int)smem > raised[s->be->dev & 63]) {
        CU_CHECK(cudaFuncSetAttribute(mma_small_kernel<T>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        raised[s->be->dev & 63] = (int)smem;
    }
    /* 8-column tiles a block: one or two for a layer's projection (64-144
     * blocks for t5-small / t5-base), up to 8 to keep a wide one (cross
     * K/V) at <= 2 blocks an SM: each block repeats the prologue */
    int tiles = (g.n + 7) / 8, nt = (tiles + 1) / 2 >= 96 ? 2 : 1;
    while (nt < 8 && (tiles + nt - 1) / nt > 2 * s->be->n_sm)
        nt *= 2;
    t5__launch(s, mma_small_kernel<T>, dim3((tiles + nt - 1) / nt), dim3(MMA_WARPS * 32), smem, g,
               nt, lda);
    CU_CHECK_LAUNCH("mma_small");
    return 0;
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

enum { SMALL_NONE = 0, SMALL_GEMV = 1, SMALL_MMA = 2 };

/* Which small-m kernel a GEMM of this shape takes, if any. */
static int small_path(t5_stream *s, const void *a, const void *w, int m, int n, int k)
{
    const t5__cu_backend *be = s->be;
    size_t es = be->base.act_size;
    if (be->no_gemv || m < 1 || (k * es) % 16 || ((uintptr_t)a | (uintptr_t)w) % 16)
        return SMALL_NONE;
    if (m <= be->gemv_max_m)
        return (size_t)m * k * es + 1024 <= be->smem_optin ? SMALL_GEMV : SMALL_NONE;
    /* not the LM head: thousands of blocks each repeating the prologue
     * (t5-base at 16 rows: 3% slower a step than cuBLASLt) */
    if (m <= be->mma_max_m && n <= 8192 && be->base.act_dtype != T5_F32)
        return mma_smem(PRO_NONE, m, k, 0, es) + MMA_STATIC_SMEM <= be->smem_optin ? SMALL_MMA
                                                                                   : SMALL_NONE;
    return SMALL_NONE;
}

/* Rows up to which a norm may wait for the GEMM that reads it. */
static int small_max_m(const t5__cu_backend *be)
{
    int t = be->base.act_dtype != T5_F32 ? be->mma_max_m : 0;
    return be->no_gemv ? 0 : be->gemv_max_m > t ? be->gemv_max_m : t;
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
    if (n > small_max_m(s->be))
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
    int path = small_path(s, a, w, m, n, k);
    if (path == SMALL_MMA && fuse) {
        /* the tensor-core kernel stages the prologue's input in shared
         * memory with 16-byte copies: where it does not fit, cuBLASLt */
        const void *src = p.kind == PRO_NORM ? (const void *)p.x : p.in;
        uintptr_t al =
            (uintptr_t)src | (uintptr_t)p.out | (p.kind == PRO_NORM ? (uintptr_t)p.w : 0);
        size_t need = mma_smem(p.kind, m, k, p.gated, s->be->base.act_size) + MMA_STATIC_SMEM;
        if (al % 16 || need > s->be->smem_optin)
            path = SMALL_NONE;
    }
    if (!path || (p.kind && !fuse)) {
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
        if (!path)
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
    int rc = 0;
    if (path == SMALL_MMA) {
        if (s->be->base.act_dtype == T5_F16)
            rc = mma_launch<__half>(s, g, err);
        else
            rc = mma_launch<__nv_bfloat16>(s, g, err);
    } else {
        size_t smem = (size_t)m * k * s->be->base.act_size;
        T5__DISPATCH(s->be->base.act_dtype, T, rc = gemv_launch<T>(s, g, smem, err));
    }
    return rc < 0 ? rc : 1;
}
