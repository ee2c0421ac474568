/* fused_common.cuh - the device pieces both persistent decoder-step kernels
 * use (private): loads, the grid barrier, the trace clock, the norm, the
 * attention of (row, head) pairs, the GEMVs, and the LM head with its top-k.
 * fused_step.cu (any sm_80+ GPU, phases over all SMs) and fused_step2.cu
 * (Hopper, thread-block clusters) include it; fused_step.cu's header says
 * how the barrier and the memory ordering work.
 */
#ifndef T5_CUDA_FUSED_COMMON_CUH
#define T5_CUDA_FUSED_COMMON_CUH

#include "attn_w64.cuh"
#include "topk_dev.cuh"

/* Threads a block: 512, or another count where a file defines it before
 * including this one (fused_step_384.cu). */
#ifndef FS_THREADS
#define FS_THREADS 512
#endif
#define FS_WARPS (FS_THREADS / 32)
#define FS_MAXK 8

/* ---- loads ----------------------------------------------------------------- */

template <typename T> static __device__ __forceinline__ float fs_ldcg(const T *p);
template <> __device__ __forceinline__ float fs_ldcg<float>(const float *p)
{
    return __ldcg(p);
}
template <> __device__ __forceinline__ float fs_ldcg<__half>(const __half *p)
{
    unsigned short u = __ldcg((const unsigned short *)p);
    return __half2float(__ushort_as_half(u));
}
template <> __device__ __forceinline__ float fs_ldcg<__nv_bfloat16>(const __nv_bfloat16 *p)
{
    unsigned short u = __ldcg((const unsigned short *)p);
    return __bfloat162float(__ushort_as_bfloat16(u));
}

/* 16 bytes of T as floats; CG: through L2 only. */
template <typename T, bool CG>
static __device__ __forceinline__ void fs_load16(const T *p, float *f);
template <typename T> struct fs_vec { /* t5__gemv_acc's LOAD: fs_load16, not through L2 only */
    enum { N = 16 / sizeof(T) };
    static __device__ __forceinline__ void load(const T *p, float *f)
    {
        fs_load16<T, false>(p, f);
    }
};
template <typename T, bool CG>
static __device__ __forceinline__ void fs_load16(const T *p, float *f)
{
    uint4 v = CG ? __ldcg((const uint4 *)p) : *(const uint4 *)p;
    if (sizeof(T) == 4) {
        const float *h = (const float *)&v;
#pragma unroll
        for (int i = 0; i < 4; i++)
            f[i] = h[i];
    } else {
        const T *h = (const T *)&v;
#pragma unroll
        for (int i = 0; i < 8; i++)
            f[i] = t5__dt<T>::load(h[i]);
    }
}

/* One element as a float; CG: through L2 only (data other blocks write
 * during the kernel), else an ordinary load (also valid on shared memory). */
template <typename T, bool CG> static __device__ __forceinline__ float fs_ld1(const T *p)
{
    return CG ? fs_ldcg(p) : t5__ld(p);
}

/* Two consecutive elements (4- or 8-byte aligned) as floats. */
static __device__ __forceinline__ float2 fs_ld2(const float *p)
{
    return *(const float2 *)p;
}
static __device__ __forceinline__ float2 fs_ld2(const __half *p)
{
    return __half22float2(*(const __half2 *)p);
}
static __device__ __forceinline__ float2 fs_ld2(const __nv_bfloat16 *p)
{
    return __bfloat1622float2(*(const __nv_bfloat162 *)p);
}

template <typename T> static __device__ __forceinline__ float fs_fin(float v)
{
    return v;
}
template <> __device__ __forceinline__ float fs_fin<__half>(float v)
{
    return fminf(fmaxf(v, -65504.0f), 65504.0f);
}

static __device__ __forceinline__ float fs_act(float x, int act)
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

template <typename T> static __device__ __forceinline__ float fs_act_scale(void)
{
    return 1.0f;
}
template <> __device__ __forceinline__ float fs_act_scale<__half>(void)
{
    return T5__ACT_SCALE;
}

/* ---- grid barrier ----------------------------------------------------------- */

/* One 64-bit arrival counter per stream that only grows: a block adds one
 * (release: the block's writes, ordered before it by __syncthreads, become
 * visible with it) and waits (acquire) until the count reaches the next
 * multiple of the grid size. Nothing to reset between barriers or launches,
 * and one atomic per block per barrier. Split in two so that a block issues
 * the next phase's weight copies between arriving and waiting: issued before
 * the release, the release may have to wait for those HBM reads too.
 * fs_arrive returns the target (thread 0's is the one used). */
static __device__ __forceinline__ unsigned long long fs_arrive(unsigned long long *bar)
{
    __syncthreads();
    unsigned long long target = 0;
    if (threadIdx.x == 0) {
        unsigned long long G = gridDim.x, old;
        asm volatile("atom.add.release.gpu.u64 %0, [%1], 1;" : "=l"(old) : "l"(bar) : "memory");
        target = (old / G + 1) * G;
    }
    return target;
}

static __device__ __forceinline__ void fs_wait(unsigned long long *bar, unsigned long long target)
{
    if (threadIdx.x == 0) {
        unsigned long long now;
        do {
            asm volatile("ld.acquire.gpu.u64 %0, [%1];" : "=l"(now) : "l"(bar) : "memory");
        } while (now < target);
    }
    __syncthreads();
}

static __device__ __forceinline__ void fs_barrier(unsigned long long *bar)
{
    fs_wait(bar, fs_arrive(bar));
}

static __device__ __forceinline__ unsigned long long fs_now(void)
{
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* FS_TRACE: block 0 adds the time since the previous mark to slot i. */
struct fs_clock {
    unsigned long long *tr, t, t2;
    /* its sums are global already */
    __device__ __forceinline__ void flush(void)
    {
    }
    __device__ __forceinline__ void mark(int i)
    {
        if (tr && blockIdx.x == 0 && threadIdx.x == 0) {
            unsigned long long n = fs_now();
            tr[i] += n - t;
            t = t2 = n;
        }
    }
    /* Within a layer phase: 0 prologue, 1 GEMV, 2 arrive + stage (the rest
     * up to mark() is the wait for the other blocks). */
    __device__ __forceinline__ void sub(int j)
    {
        if (tr && blockIdx.x == 0 && threadIdx.x == 0) {
            unsigned long long n = fs_now();
            tr[10 + j] += n - t2;
            t2 = n;
        }
    }
};

/* fs_clock with its state in shared memory (only block 0's thread 0 uses
 * it): a kernel without tracing keeps one pointer in registers for it
 * instead of three words (the LL kernel's, fused_step.cu: there the
 * register clock cost ~300 B of spills around its helper calls). The sums
 * stay in shared memory until flush() at the end of the launch: a global
 * read-modify-write per sub() put an L2 round trip into block 0's path
 * every time, ~0.3 us, which the trace then blamed on the phase. */
struct fs_clock_s {
    unsigned long long *tr;
    /* [0] [1]: the times of mark() and sub(); [2]: the layer phase (0..5)
     * being timed; [3 + i]: the sums of tr[i] (T5__FS_TRACE_WORDS) */
    static __device__ __forceinline__ unsigned long long *st(void)
    {
        __shared__ unsigned long long s_t[3 + T5__FS_TRACE_WORDS];
        return s_t;
    }
    __device__ __forceinline__ void start(void)
    {
        if (tr && blockIdx.x == 0 && threadIdx.x == 0) {
            for (int i = 0; i < 3 + T5__FS_TRACE_WORDS; i++)
                st()[i] = 0;
            st()[0] = st()[1] = fs_now();
        }
    }
    __device__ __forceinline__ void mark(int i)
    {
        if (tr && blockIdx.x == 0 && threadIdx.x == 0) {
            unsigned long long n = fs_now();
            st()[3 + i] += n - st()[0];
            st()[0] = st()[1] = n;
            st()[2] = i < 6 ? (i + 1) % 6 : 0;
        }
    }
    /* also adds to the current layer phase's sub-sum, tr[16 + 4*phase + j] */
    __device__ __forceinline__ void sub(int j)
    {
        if (tr && blockIdx.x == 0 && threadIdx.x == 0) {
            unsigned long long n = fs_now();
            st()[3 + 10 + j] += n - st()[1];
            st()[3 + 16 + 4 * st()[2] + j] += n - st()[1];
            st()[1] = n;
        }
    }
    __device__ __forceinline__ void flush(void)
    {
        if (tr && blockIdx.x == 0 && threadIdx.x == 0)
            for (int i = 0; i < T5__FS_TRACE_WORDS; i++)
                if (i != 14 && i != 15)
                    tr[i] += st()[3 + i];
    }
    /* after flush(), for another step in the same launch */
    __device__ __forceinline__ void clear(void)
    {
        if (tr && blockIdx.x == 0 && threadIdx.x == 0)
            for (int i = 0; i < T5__FS_TRACE_WORDS; i++)
                st()[3 + i] = 0;
    }
};

/* a / b for 0 <= a < 2^21 and b >= 1, exact: a float reciprocal's quotient
 * (off by at most one there) and one correction, ~10 instructions against
 * ~20 for the integer division. Nsight's count of the LL kernel (session 17):
 * ~100 integer divisions a warp a step, ~9% of its instructions, most
 * of them slice and row arithmetic at the start of every phase's helpers,
 * on the chain of the warp that the others wait for. */
static __device__ __forceinline__ int fs_udiv(int a, int b)
{
    float rb;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(rb) : "f"(__int2float_rn(b)));
    int q = __float2int_rz(__int2float_rn(a) * rb);
    int r = a - q * b;
    return r < 0 ? q - 1 : r >= b ? q + 1 : q;
}

/* This block's contiguous slice [c0, c1) of n output columns, per =
 * ceil(n / grid) given (the host's widths: fs_params' per_*). */
static __device__ __forceinline__ void fs_slice_per(int n, int per, int &c0, int &c1)
{
    c0 = blockIdx.x * per;
    c1 = c0 + per < n ? c0 + per : n;
    if (c0 > n)
        c0 = n;
}

/* fs_slice_per with per computed here, over this launch's grid. */
static __device__ __forceinline__ void fs_slice(int n, int &c0, int &c1)
{
    fs_slice_per(n, (n + gridDim.x - 1) / gridDim.x, c0, c1);
}

/* The same over a grid of G blocks given (a constant in fused_step.cu's
 * shape kernels). */
static __device__ __forceinline__ void fs_slice_g(int n, int G, int &c0, int &c1)
{
    fs_slice_per(n, (n + G - 1) / G, c0, c1);
}

/* Asks L2 for `bytes` from p (weights a later phase reads). */
static __device__ __forceinline__ void fs_prefetch_bytes(const void *p, size_t bytes)
{
    const char *base = (const char *)p;
    for (size_t off = (size_t)threadIdx.x * 128; off < bytes; off += (size_t)FS_THREADS * 128)
        asm volatile("prefetch.global.L2 [%0];" ::"l"(base + off));
}

/* Asks L2 for this block's slice of W [n, k] (the next phase's weights). */
static __device__ __forceinline__ void fs_prefetch(const void *w, int n, int k, int esz)
{
    int c0, c1;
    fs_slice(n, c0, c1);
    fs_prefetch_bytes((const char *)w + (size_t)c0 * k * esz, (size_t)(c1 - c0) * k * esz);
}

/* t5__cp16 (cuda_internal.cuh) with an L2 cache policy (fs_evict_first's), sm_80+. */
static __device__ __forceinline__ void fs_cp16_pol(void *dst_smem, const void *src,
                                                   unsigned long long pol)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned dst = (unsigned)__cvta_generic_to_shared(dst_smem);
    asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2;" ::"r"(dst),
                 "l"(src), "l"(pol)
                 : "memory");
#else
    (void)pol;
    *(uint4 *)dst_smem = *(const uint4 *)src;
#endif
}

/* An L2 policy under which the lines a load brings in are the first to go:
 * for data read once per step (the decoder's weight slices), so that it
 * does not push out what the next step reads again (the KV caches, the
 * cross K/V, the exchange words, the LM head when it fits). */
static __device__ __forceinline__ unsigned long long fs_evict_first(void)
{
    unsigned long long pol = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
#endif
    return pol;
}

/* ---- prologues -------------------------------------------------------------- */

/* as [m][d] = w * xs * rsqrt(mean(xs^2) + eps), rounded to T. pre: the
 * caller loaded w[threadIdx.x] and w[threadIdx.x + FS_THREADS] (w0, w1:
 * fs_norm_pre) before its gather, whose wait then hides their L2 round
 * trip (bench/cuda.md, session 9: t5-base -2.2%); other elements load here.
 * A helper's body (fs_*_in) is inlined into the one-row chain kernel at 384
 * threads and called through its non-inlined wrapper (fs_norm) elsewhere:
 * fused_step.cu's FS_INL_CH. */
/* red[r] = rsqrt(mean(xs[r]^2) + eps) for the m rows (warp r sums row r),
 * then a barrier: fs_norm's scale, and the ABS kernel's r1 (fused_step.cu). */
static __device__ __forceinline__ void fs_rms(const float *xs, int m, int d, float eps, float *red)
{
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (warp < m) {
        float ss = 0.0f;
        for (int i = lane; i < d; i += 32)
            ss += xs[warp * d + i] * xs[warp * d + i];
        ss = t5__warp_sum(ss);
        if (lane == 0)
            red[warp] = rsqrtf(ss / (float)d + eps);
    }
    __syncthreads();
}

template <typename T>
static __device__ __forceinline__ void fs_norm_in(T *as, const float *xs, const float *w, int m,
                                                  int d, float eps, float *red, int pre, float w0,
                                                  float w1)
{
    fs_rms(xs, m, d, eps, red);
    for (int r = 0; r < m; r++) /* rows, then columns: no division */
        for (int c = threadIdx.x; c < d; c += FS_THREADS) {
            float wc = pre && c == (int)threadIdx.x                ? w0
                       : pre && c == (int)threadIdx.x + FS_THREADS ? w1
                                                                   : w[c];
            as[r * d + c] = t5__dt<T>::store(wc * (xs[r * d + c] * red[r]));
        }
    __syncthreads();
}

template <typename T>
static __device__ __noinline__ void fs_norm(T *as, const float *xs, const float *w, int m, int d,
                                            float eps, float *red, int pre = 0, float w0 = 0.0f,
                                            float w1 = 0.0f)
{
    fs_norm_in<T>(as, xs, w, m, d, eps, red, pre, w0, w1);
}

/* The caller's half of fs_norm's pre: this thread's norm weights, asked
 * for before the phase's gather. */
static __device__ __forceinline__ void fs_norm_pre(const float *w, int d, float &w0, float &w1)
{
    const int t = threadIdx.x;
    w0 = t < d ? __ldg(w + t) : 0.0f;
    w1 = t + FS_THREADS < d ? __ldg(w + t + FS_THREADS) : 0.0f;
}

/* Attention of (row, head) pairs into as (T). One warp per pair: lane j
 * scores key j (all its loads at once), the warp normalises, and lanes split
 * the dimensions for the weighted sum of V. Heads h0 .. h0+nh-1 of rows
 * 0..m-1; row r, head h reads its query at q + r*q_rs + (h-h0)*q_hs and
 * writes its output at as + r*o_rs + (h-h0)*o_hs. SELF: the new key and
 * value follow the query at +kv_off and +2*kv_off, the row attends over
 * positions 0..pos with the causal bias, and when kw is set the caller's
 * block appends k, v to the cache. CG: q (and the new k, v) are global data
 * other blocks wrote in this kernel (read through L2), else shared memory. */
/* What fs_attn needs, by value: a non-inlined function must not take the
 * kernel's parameters by reference (they would be copied to local memory). */
struct fs_attn_args {
    const int32_t *rows;
    const void *kc, *vc; /* the cache to attend over */
    void *kw, *vw;       /* SELF: the same cache, for the append; NULL: no append */
    const void *q;
    const float *bias;
    int n_slots, max_len, H, dkv, nb, maxd, m, smax, layer;
    int h0, nh, q_rs, q_hs, kv_off, o_rs, o_hs;
    /* SELF, 16-bit heads of 64: the keys' biases are already in the warp's
     * scratch (fs_attn_w64), as a layer before wrote them */
    int bias_kept;
};

/* fs_attn for 16-bit heads of 64 dimensions: t5__attn_w64 (attn_w64.cuh),
 * as the per-op step's dec_attn_w64, so a one-row fused step's attention
 * gives the per-op step's bits (that path takes it at any row count).
 * fs_attn's loop waits for each key's loads per lane and sums V per
 * dimension pair: ~3.3 us a layer on block 0's clock at t5-small /
 * t5-base's 11 keys (bench/cuda.md, session 14), this ~2.0 (session 16).
 * Inlined into fs_attn, which the kernels call as before. */
template <typename T, bool SELF, bool CG>
static __device__ __forceinline__ void fs_attn_w64(T *as, const fs_attn_args &g, float *sc_all)
{
    constexpr int dkv = 64;
    const int H = g.H, m = g.m, nh = g.nh;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float *bias = sc_all + (size_t)warp * g.smax; /* fs_attn's score scratch */
    for (int pair = warp; pair < m * nh; pair += FS_WARPS) {
        int r = 0, hh = pair;
        while (hh >= nh) { /* r = pair / nh: m <= a few rows */
            hh -= nh;
            r++;
        }
        const int h = g.h0 + hh;
        const int32_t *rw = g.rows + 4 * r;
        const int slot = SELF ? rw[0] : rw[1];
        int nk = SELF ? rw[2] + 1 : rw[3];
        nk = nk > g.max_len ? g.max_len : nk < 1 ? 1 : nk;
        const size_t head_off =
            (((size_t)g.layer * g.n_slots + slot) * H + h) * (size_t)g.max_len * dkv;
        const T *qrow = (const T *)g.q + (size_t)r * g.q_rs + hh * g.q_hs;
        if (SELF && !g.bias_kept) { /* the keys' biases, a lane a key (t5__w64_scratch_bias) */
            for (int j = lane; j < nk; j += 32)
                bias[j] = g.bias[t5_rel_bucket(j - (nk - 1), 0, g.nb, g.maxd) * H + h];
            __syncwarp();
        }
        t5__w64_scratch_bias b = {bias};
        t5__attn_w64<T, SELF, CG>(as + (size_t)r * g.o_rs + hh * g.o_hs, qrow, g.kv_off,
                                  (const T *)g.kc + head_off, (const T *)g.vc + head_off, nk,
                                  SELF ? nk - 1 : nk, b);
        if (SELF && g.kw && lane < 8) { /* the append (as dec_attn_w64's, after) */
            const int c8 = lane * 8;
            *(uint4 *)((T *)g.kw + head_off + (size_t)(nk - 1) * dkv + c8) =
                t5__w64_ld<CG>(qrow + g.kv_off + c8);
            *(uint4 *)((T *)g.vw + head_off + (size_t)(nk - 1) * dkv + c8) =
                t5__w64_ld<CG>(qrow + 2 * g.kv_off + c8);
        }
        __syncwarp(); /* bias is reused by this warp's next pair */
    }
    __syncthreads();
}

/* Whether fs_attn_w64 serves g (16-bit T checked by the caller): 64-wide
 * heads, every row and head offset a multiple of 16 bytes. */
static __device__ __forceinline__ bool fs_w64_ok(const void *as, const fs_attn_args &g)
{
    return g.dkv == 64 && ((g.q_rs | g.q_hs | g.kv_off | g.o_rs | g.o_hs) & 7) == 0 &&
           (((uintptr_t)as | (uintptr_t)g.q) & 15) == 0;
}

template <typename T, bool SELF, bool CG>
static __device__ __forceinline__ void fs_attn_in(T *as, const fs_attn_args g, float *sc_all,
                                                  float *qs_all)
{
    if constexpr (sizeof(T) == 2) { /* inlined here: the kernels keep one call */
        if (fs_w64_ok(as, g)) {
            fs_attn_w64<T, SELF, CG>(as, g, sc_all);
            return;
        }
    }
    const int H = g.H, dkv = g.dkv, m = g.m, layer = g.layer, nh = g.nh;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    constexpr int VN = fs_vec<T>::N;
    float *sc = sc_all + (size_t)warp * g.smax;
    float *qs = qs_all + (size_t)warp * dkv;
    for (int pair = warp; pair < m * nh; pair += FS_WARPS) {
        int r = pair / nh, hh = pair - r * nh, h = g.h0 + hh;
        const int32_t *rw = g.rows + 4 * r;
        int slot = SELF ? rw[0] : rw[1];
        int nk = SELF ? rw[2] + 1 : rw[3];
        nk = nk > g.max_len ? g.max_len : nk < 1 ? 1 : nk;
        size_t head_off = (((size_t)layer * g.n_slots + slot) * H + h) * (size_t)g.max_len * dkv;
        const T *K = (const T *)g.kc + head_off;
        const T *Vv = (const T *)g.vc + head_off;
        const T *qsrc = (const T *)g.q + (size_t)r * g.q_rs + hh * g.q_hs;
        for (int i = lane; i < dkv; i += 32)
            qs[i] = fs_ld1<T, CG>(qsrc + i);
        __syncwarp();
        float mx = -INFINITY;
        for (int j = lane; j < nk; j += 32) {
            bool fresh = SELF && j == nk - 1;
            const T *kr = fresh ? qsrc + g.kv_off : K + (size_t)j * dkv;
            /* the bias first, so its load overlaps the key's */
            float s = SELF ? g.bias[t5_rel_bucket(j - (nk - 1), 0, g.nb, g.maxd) * H + h] : 0.0f;
#pragma unroll 8
            for (int i = 0; i < dkv; i += VN) {
                float kf[VN];
                if (fresh)
                    fs_load16<T, CG>(kr + i, kf);
                else
                    fs_load16<T, false>(kr + i, kf);
#pragma unroll
                for (int e = 0; e < VN; e++)
                    s += qs[i + e] * kf[e];
            }
            sc[j] = s;
            mx = fmaxf(mx, s);
        }
        mx = t5__warp_max(mx);
        float l = 0.0f;
        for (int j = lane; j < nk; j += 32) {
            float e = __expf(sc[j] - mx);
            sc[j] = e;
            l += e;
        }
        l = t5__warp_sum(l);
        __syncwarp();
        float inv = 1.0f / l;
        /* Lane l sums dimensions 2l, 2l+1 over the keys, 16 keys' loads in
         * flight at once (a loop of dependent loads here was ~3 L2 round
         * trips for 11 keys). */
        const int nold = SELF ? nk - 1 : nk; /* keys read from the cache */
        for (int i0 = 2 * lane; i0 < dkv; i0 += 64) {
            float vn0 = 0.0f, vn1 = 0.0f;
            if (SELF) {
                vn0 = fs_ld1<T, CG>(qsrc + 2 * g.kv_off + i0);
                vn1 = fs_ld1<T, CG>(qsrc + 2 * g.kv_off + i0 + 1);
            }
            float a0 = 0.0f, a1 = 0.0f;
            for (int j0 = 0; j0 < nold; j0 += 16) {
                float2 vv[16];
#pragma unroll
                for (int u = 0; u < 16; u++)
                    vv[u] = j0 + u < nold ? fs_ld2(Vv + (size_t)(j0 + u) * dkv + i0)
                                          : make_float2(0.0f, 0.0f);
#pragma unroll
                for (int u = 0; u < 16; u++) {
                    if (j0 + u < nold) {
                        float pj = sc[j0 + u];
                        a0 += pj * vv[u].x;
                        a1 += pj * vv[u].y;
                    }
                }
            }
            if (SELF) {
                float pn = sc[nk - 1];
                a0 += pn * vn0;
                a1 += pn * vn1;
                if (g.kw) {
                    T *kd = (T *)g.kw + head_off + (size_t)(nk - 1) * dkv + i0;
                    T *vd = (T *)g.vw + head_off + (size_t)(nk - 1) * dkv + i0;
                    kd[0] = t5__dt<T>::store(fs_ld1<T, CG>(qsrc + g.kv_off + i0));
                    kd[1] = t5__dt<T>::store(fs_ld1<T, CG>(qsrc + g.kv_off + i0 + 1));
                    vd[0] = t5__dt<T>::store(vn0);
                    vd[1] = t5__dt<T>::store(vn1);
                }
            }
            T *o = as + (size_t)r * g.o_rs + hh * g.o_hs + i0;
            o[0] = t5__dt<T>::store(a0 * inv);
            o[1] = t5__dt<T>::store(a1 * inv);
        }
        __syncwarp(); /* sc and qs are reused by this warp's next pair */
    }
    __syncthreads();
}

template <typename T, bool SELF, bool CG>
static __device__ __noinline__ void fs_attn(T *as, const fs_attn_args g, float *sc_all,
                                            float *qs_all)
{
    fs_attn_in<T, SELF, CG>(as, g, sc_all, qs_all);
}

/* FS_LL_ACT2: FS_LL_ACT with two 16-bit values a word (columns 2i, 2i+1 in
 * word i of the row, the lower column in the low half; CPW even, c0 even) */
enum { FS_OUT_ACT = 0, FS_OUT_F32 = 1, FS_ADD = 2, FS_LL_ACT = 3, FS_LL_ADD = 4, FS_LL_ACT2 = 5 };

/* ---- flag-in-data exchange (fused_step.cu's LL kernel) ------------------------
 * A word is 8 bytes: a 4-byte payload (a float) and the 4-byte flag of the
 * launch that wrote it, stored and loaded as one 64-bit access, so a reader
 * that sees the flag sees the payload: no fence and no barrier between a
 * producer and its consumers, one L2 round trip instead of three. */
static __device__ __forceinline__ void fs_ll_st(unsigned long long *p, float v, unsigned flag)
{
    unsigned long long w = ((unsigned long long)flag << 32) | __float_as_uint(v);
    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(w) : "memory");
}

/* fs_ll_st of a raw 32-bit payload (two 16-bit values: fs_ll_pack). */
static __device__ __forceinline__ void fs_ll_st_bits(unsigned long long *p, unsigned v,
                                                     unsigned flag)
{
    unsigned long long w = ((unsigned long long)flag << 32) | v;
    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(w) : "memory");
}

/* Two values rounded to the 16-bit T, lo in the low half, and back. */
template <typename T> static __device__ __forceinline__ unsigned fs_ll_pack(float lo, float hi)
{
    union {
        T h[2];
        unsigned u;
    } b;
    b.h[0] = t5__dt<T>::store(lo);
    b.h[1] = t5__dt<T>::store(hi);
    return b.u;
}

template <typename T>
static __device__ __forceinline__ void fs_ll_unpack(unsigned long long w, float &lo, float &hi)
{
    union {
        T h[2];
        unsigned u;
    } b;
    b.u = (unsigned)w;
    lo = t5__dt<T>::load(b.h[0]);
    hi = t5__dt<T>::load(b.h[1]);
}

static __device__ __forceinline__ unsigned long long fs_ll_ld(const unsigned long long *p)
{
    unsigned long long w;
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(w) : "l"(p) : "memory");
    return w;
}

/* The payload of word w once it carries flag (re-reading p until it does). */
static __device__ __forceinline__ float fs_ll_val(unsigned long long w, const unsigned long long *p,
                                                  unsigned flag)
{
    while ((unsigned)(w >> 32) != flag)
        w = fs_ll_ld(p);
    return __uint_as_float((unsigned)w);
}

/* Waits until each word w[u] (u < nu; re-read from p + u * stride) carries
 * flag. The stale words are re-read together, one L2 round trip a round:
 * fs_ll_val re-reads one word at a time, so a thread whose first reads all
 * came too early paid a round trip per word (bench/cuda.md, session 20:
 * batch 1 1.5-3% faster). */
template <int U>
static __device__ __forceinline__ void fs_ll_wait(unsigned long long (&w)[U],
                                                  const unsigned long long *p, int stride, int nu,
                                                  unsigned flag)
{
    for (;;) {
        bool ready = true;
#pragma unroll
        for (int u = 0; u < U; u++)
            if (u < nu && (unsigned)(w[u] >> 32) != flag)
                ready = false;
        if (ready)
            return;
#pragma unroll
        for (int u = 0; u < U; u++)
            if (u < nu && (unsigned)(w[u] >> 32) != flag)
                w[u] = fs_ll_ld(p + (size_t)u * stride);
    }
}

/* ---- the GEMVs ---------------------------------------------------------------
 * fs_gemv_cols: out columns [c0, c1) = as [m][k] @ W^T, W's row of column c
 * at W + (c - wc0) * ldw; warps over columns, CPW columns per warp at a time
 * (all their weight loads in flight), lanes over k. For k of a few hundred
 * and more. out is global or shared memory, row stride n; FS_LL_*: an LL
 * buffer of words (fs_ll_st) with flag llf. */
template <typename T, int CPW, int MAXM>
static __device__ void fs_gemv_cols(const T *as, int m, int k, const T *W, int ldw, int wc0, int n,
                                    int c0, int c1, int mode, void *out, float alpha,
                                    const float *xs, unsigned llf = 0)
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int cb = c0 + warp * CPW; cb < c1; cb += FS_WARPS * CPW) {
        float acc[MAXM][CPW];
        t5__gemv_acc<T, CPW, MAXM, fs_vec<T>>(acc, as, m, k, W, ldw, wc0, cb, c1, lane);
#pragma unroll
        for (int r = 0; r < MAXM; r++) {
            if (r < m) {
                float vp = 0.0f; /* FS_LL_ACT2: the even column of the pair */
#pragma unroll
                for (int j = 0; j < CPW; j++) {
                    float v = t5__warp_sum(acc[r][j]) * alpha;
                    int col = cb + j;
                    if (CPW % 2 == 0 && mode == FS_LL_ACT2) {
                        if (j % 2 == 0)
                            vp = v;
                        else if (lane == 0 && col - 1 < c1)
                            fs_ll_st_bits((unsigned long long *)out + (((size_t)r * n + col) >> 1),
                                          fs_ll_pack<T>(vp, col < c1 ? v : 0.0f), llf);
                        continue;
                    }
                    if (lane == j && col < c1) {
                        size_t at = (size_t)r * n + col;
                        if (mode == FS_ADD) /* xs: this phase's residual rows, n == d */
                            ((float *)out)[at] = xs[at] + v;
                        else if (mode == FS_LL_ADD)
                            fs_ll_st((unsigned long long *)out + at, xs[at] + v, llf);
                        else if (mode == FS_LL_ACT) /* rounded as a stored act would be */
                            fs_ll_st((unsigned long long *)out + at,
                                     t5__dt<T>::load(t5__dt<T>::store(v)), llf);
                        else if (mode == FS_OUT_F32)
                            ((float *)out)[at] = v;
                        else
                            ((T *)out)[at] = t5__dt<T>::store(v);
                    }
                }
            }
        }
    }
}

/* fs_gemv_small: out[r*ldo + c] = alpha * a[r] . W[c] for c < ncols, a [m][k]
 * (row stride lda), W's row c at W + c*ldw: one thread per column, for the
 * short dot products (k of tens: an attention head, an FFN slice). k, lda
 * and ldw are multiples of 16 bytes of T. */
template <typename T, int MAXM>
static __device__ __noinline__ void fs_gemv_small(const T *a, int lda, int m, int k, const T *W,
                                                  int ldw, int ncols, float alpha, float *out,
                                                  int ldo)
{
    constexpr int VN = fs_vec<T>::N;
    for (int c = threadIdx.x; c < ncols; c += FS_THREADS) {
        float acc[MAXM];
#pragma unroll
        for (int r = 0; r < MAXM; r++)
            acc[r] = 0.0f;
        const T *wr = W + (size_t)c * ldw;
        for (int i = 0; i < k; i += VN) {
            float wf[VN];
            fs_load16<T, false>(wr + i, wf);
#pragma unroll
            for (int r = 0; r < MAXM; r++) {
                if (r < m) {
                    float af[VN];
                    fs_load16<T, false>(a + (size_t)r * lda + i, af);
#pragma unroll
                    for (int e = 0; e < VN; e++)
                        acc[r] += af[e] * wf[e];
                }
            }
        }
#pragma unroll
        for (int r = 0; r < MAXM; r++)
            if (r < m)
                out[(size_t)r * ldo + c] = alpha * acc[r];
    }
}

/* A chained step (t5_fused_step's chain_eos) in which every row has ended:
 * each row's token is EOS or the row is padding (on the scratch slot, the
 * cache's last). Every block reads the same words, so all of them return. */
static __device__ __forceinline__ bool fs_chain_ended(const t5_fused_step &a)
{
    if (a.chain_eos < 0)
        return false;
    for (int r = 0; r < a.n; r++)
        if (a.rows[4 * r] != a.self_lay.n_slots - 1 && a.tok[r] != a.chain_eos)
            return false;
    return true;
}

/* ---- the head ----------------------------------------------------------------
 * as [m][d]: the final-normed rows (T). Logits of this block's vocabulary
 * slice (fp32, lm_scale), its top-k part per row (log-sum-exp pieces and K
 * candidates into part), a grid barrier, then block r merges row r's parts
 * into top_v / top_i (as topk.cu's merge). Inlined: it reads the kernel's
 * parameters by reference. */
/* What the head reads of t5_fused_step, by value (a non-inlined function
 * must not take the kernel's parameters by reference). */
struct fs_head_args {
    const void *lm_head;
    float *logits;
    float lm_scale;
    int V, d, k, eos_id;
    /* fs_head_chain's: the chain's steps and EOS, its resident head's
     * columns a block and their shared-memory offset (fs_head_ch_of) */
    int chain_steps, chain_eos, hr_cols;
    unsigned off_hr;
    int G; /* the grid (a constant in fused_step.cu's shape kernels) */
};

static __device__ __forceinline__ fs_head_args fs_head_of(const t5_fused_step &a)
{
    fs_head_args h = {a.lm_head, a.logits, a.lm_scale, a.V, a.d, a.k,
                      a.eos_id,  0,        -1,         0,   0,   (int)gridDim.x};
    return h;
}

/* V, d, G: a's and the grid (constants in fused_step.cu's shape kernels) */
static __device__ __forceinline__ fs_head_args fs_head_ch_of(const t5_fused_step &a, int hr_cols,
                                                             unsigned off_hr, int V, int d, int G)
{
    fs_head_args h = fs_head_of(a);
    h.V = V, h.d = d, h.G = G;
    h.chain_steps = a.chain_steps, h.chain_eos = a.chain_eos;
    h.hr_cols = hr_cols, h.off_hr = off_hr;
    return h;
}

/* Thread 0: mbarrier hbar (shared) expects `bytes`, and the bulk copy of
 * them from src to dst (shared) completes it (sm_90+). */
static __device__ __forceinline__ void fs_bulk_copy(void *dst, const void *src, unsigned bytes,
                                                    unsigned hbar)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(hbar), "r"(bytes)
                 : "memory");
    if (bytes)
        asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"
                     " [%0], [%1], %2, [%3];" ::"r"((unsigned)__cvta_generic_to_shared(dst)),
                     "l"(src), "r"(bytes), "r"(hbar)
                     : "memory");
#else
    (void)dst, (void)src, (void)bytes, (void)hbar;
#endif
}

/* Thread 0: mbarrier hbar (shared) set up for one arrival. */
static __device__ __forceinline__ void fs_bulk_init(unsigned hbar)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(hbar) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
#else
    (void)hbar;
#endif
}

/* Every thread: waits for mbarrier hbar's first phase (fs_bulk_copy's). */
static __device__ __forceinline__ void fs_bulk_wait0(unsigned hbar)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    unsigned ok;
    do {
        asm volatile("{\n\t.reg .pred p;\n\t"
                     "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\n\t"
                     "selp.u32 %0, 1, 0, p;\n\t}"
                     : "=r"(ok)
                     : "r"(hbar)
                     : "memory");
    } while (!ok);
#else
    (void)hbar;
#endif
}

/* fs_head_parts' second half: the block's top-k parts of the logits it
 * wrote (no_eos: the rows' EOS masks) and the grid barrier. */
template <int K, typename CLK>
static __device__ __forceinline__ void fs_head_topk(const fs_head_args &a, int m, float *part,
                                                    unsigned long long *bar, CLK &clk,
                                                    const int32_t *no_eos)
{
    clk.mark(6);
    __syncthreads(); /* the block's logits, written before, are read below */
    const int G = a.G, k = a.k;
    float *pm = part, *pl = pm + (size_t)m * G, *pv = pl + (size_t)m * G;
    int32_t *pi = (int32_t *)(pv + (size_t)m * G * k);
    int c0, c1;
    fs_slice_g(a.V, G, c0, c1);
    for (int r = 0; r < m; r++)
        topk_part<K, FS_THREADS>(pm, pl, pv, pi, (size_t)r * G + blockIdx.x,
                                 a.logits + (size_t)r * a.V, c0, c1, k, no_eos && no_eos[r],
                                 a.eos_id);
    clk.mark(7);
    fs_barrier(bar);
    clk.mark(8);
}

/* fs_head's first half: the logits of this block's slice, its top-k parts
 * and the grid barrier. */
template <typename T, int K, int MAXM, typename CLK>
static __device__ __forceinline__ void fs_head_parts(const fs_head_args &a, const T *as, int m,
                                                     float *part, unsigned long long *bar,
                                                     CLK &clk, const int32_t *no_eos)
{
    int c0, c1;
    fs_slice(a.V, c0, c1);
    if (c1 - c0 >= 2 * 4 * FS_WARPS)
        fs_gemv_cols<T, 4, MAXM>(as, m, a.d, (const T *)a.lm_head, a.d, 0, a.V, c0, c1,
                                 FS_OUT_F32, a.logits, a.lm_scale, NULL);
    else
        fs_gemv_cols<T, 1, MAXM>(as, m, a.d, (const T *)a.lm_head, a.d, 0, a.V, c0, c1,
                                 FS_OUT_F32, a.logits, a.lm_scale, NULL);
    fs_head_topk<K>(a, m, part, bar, clk, no_eos);
}

template <typename T, int K, int MAXM, typename CLK>
static __device__ __forceinline__ void fs_head(const t5_fused_step &a, const T *as, int m,
                                               float *part, unsigned long long *bar, CLK &clk)
{
    fs_head_parts<T, K, MAXM>(fs_head_of(a), as, m, part, bar, clk, a.no_eos);
    const int G = gridDim.x, k = a.k;
    float *pm = part, *pl = pm + (size_t)m * G, *pv = pl + (size_t)m * G;
    int32_t *pi = (int32_t *)(pv + (size_t)m * G * k);

    /* block r merges row r's parts (as topk_merge_kernel) */
    if ((int)blockIdx.x >= m)
        return;
    const int r = blockIdx.x;
    topk_merge<K, FS_THREADS, true>(a.top_v, a.top_i, pm, pl, pv, pi, r, G, k);
    if (a.chain_eos >= 0) { /* a chained step: an ended row stays ended */
        __syncthreads();
        if (threadIdx.x == 0 && a.tok[r] == a.chain_eos) {
            a.top_i[(size_t)r * k] = a.chain_eos;
            a.top_v[(size_t)r * k] = 0.0f;
        }
    }
    clk.mark(9);
    clk.flush();
    if (clk.tr && r == 0 && threadIdx.x == 0)
        clk.tr[15] += 1; /* steps traced */
}

/* fs_head of one chained step of one row, k = 1 (fused_step.cu's CH).
 * Only the token is on the way to the next step: a block takes its best
 * column of the logits it wrote (topk_dev.cuh's `better`, EOS as -inf where
 * masked), publishes that (value, id) as two LL words at hw[2 * block]
 * with the step's flag, and every block
 * gathers the G pairs and takes the best, the same in each (the one greedy
 * id, whatever the order: `better` is a total order), without the grid
 * barrier and the log-sum-exp merge that fs_head spends there. The
 * log-probability waits for the chain's end (fs_chain_finish): each block
 * writes the step's part as topk_part would (its candidate, and its (max,
 * sum exp) by the same scan, between publishing and gathering) at part +
 * st * 4G, and the merge of each step then runs as fs_head's, giving its
 * bits. Returns the token (every thread); tok[0] gets it too.
 *
 * The resident head (h.hr_cols > 0, sm_90+): from the chain's second step
 * (st) on, the first hr_cols columns of the block's head slice are read
 * from shared memory at h.off_hr, so the head's HBM / L2 reads shrink by
 * that share (the head is the step's one bandwidth-bound phase). Step 0
 * reads them from global as a one-step launch does, and after its merge
 * thread 0 copies them there in one bulk copy (from L2, where step 0 just
 * brought them) when a step follows, landing on the mbarrier long before
 * step 1's head waits for it. The same dot products: the same bits.
 * scr: shared memory for FS_WARPS + 8 candidates (fused_step.cu: qs). xs:
 * the kernel's residual rows (h.d floats, free once the head's input is
 * normed), which take the block's logits where they fit: the scan then
 * reads shared memory instead of L2 (at the global row's alignment mod 16
 * bytes, so that scan_logits splits them as there: the same bits).
 * Not inlined (but in the 384-thread chain kernel, fused_step.cu's
 * FS_INL_CH): inlined at 512 threads, the kernel's values live across it
 * spilled. */
template <typename T>
static __device__ __forceinline__ int
fs_head_chain_in(const fs_head_args h, const T *as, float *part, unsigned long long *hw,
                 unsigned flag, vi *scr, float *xs, unsigned long long *trace,
                 const int32_t *no_eos, int32_t *tok, int st)
{
    extern __shared__ __align__(16) unsigned char fs_sm[];
    /* the mbarrier: the 16 bytes before the resident columns (fs_launch_step
     * reserves them). Not a static __shared__ variable: one u64 of static
     * shared memory here made every chained step ~4 us slower on an H100
     * with or without the resident head (bench/cuda.md, session 22). */
    const unsigned hbar = (unsigned)__cvta_generic_to_shared(fs_sm + h.off_hr - 16);
    fs_clock_s clk = {trace};
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, G = h.G;
    int c0, c1;
    fs_slice_g(h.V, G, c0, c1);
    const int nres = h.hr_cols < c1 - c0 ? h.hr_cols : c1 - c0; /* resident from step 1 */
    const int eos_m = no_eos && no_eos[0] ? h.eos_id : -1;
    /* the logits: column c at lg[c] (shared memory where they fit) */
    const int al = (int)(((uintptr_t)(h.logits + c0) >> 2) & 3); /* the row's alignment */
    float *lg = c1 - c0 + 3 <= h.d ? xs + al - c0 : h.logits;
    {
        /* the logits: the global columns [c0 + nr, c1), then the resident
         * [c0, c0 + nr), by one instantiation of the GEMV (four columns a
         * warp; the kernel's code is kept small) */
        const int nr = st > 0 ? nres : 0;
#pragma unroll 1
        for (int res = 0; res < 2; res++) {
            if (res) {
                if (nr <= 0)
                    break;
                fs_bulk_wait0(hbar);
            }
            const T *W = res ? (const T *)(fs_sm + h.off_hr) : (const T *)h.lm_head;
            fs_gemv_cols<T, 4, 1>(as, 1, h.d, W, h.d, res ? c0 : 0, h.V, res ? c0 : c0 + nr,
                                  res ? c0 + nr : c1, FS_OUT_F32, lg, h.lm_scale, NULL);
        }
    }
    clk.mark(6);
    __syncthreads(); /* the block's logits */
    {
        vi c = {-INFINITY, INT_MAX};
        for (int j = c0 + (int)threadIdx.x; j < c1; j += FS_THREADS) {
            const float v = j == eos_m ? -INFINITY : lg[j];
            if (better(v, j, c.v, c.i))
                c = vi{v, j};
        }
        c = warp_best(c);
        if (lane == 0)
            scr[warp] = c;
    }
    __syncthreads(); /* the warps' candidates */
    float *pm = part + (size_t)st * 4 * G, *pl = pm + G, *pv = pl + G;
    int32_t *pi = (int32_t *)(pv + G);
    if (threadIdx.x == 0) {
        const vi b = best_of(scr, FS_WARPS);
        fs_ll_st(hw + 2 * blockIdx.x, b.v, flag);
        fs_ll_st_bits(hw + 2 * blockIdx.x + 1, (unsigned)b.i, flag);
        pv[blockIdx.x] = b.i == INT_MAX ? -INFINITY : b.v; /* as block_select's */
        pi[blockIdx.x] = b.i;
    }
    /* the blocks' pairs asked for now, waited for after the scan */
    const bool rd = (int)threadIdx.x < G;
    unsigned long long w2[2] = {0, 0};
    if (rd) {
        w2[0] = fs_ll_ld(hw + 2 * threadIdx.x);
        w2[1] = fs_ll_ld(hw + 2 * threadIdx.x + 1);
    }
    clk.mark(7);
    {
        float lv[1], m, l;
        int li[1];
        scan_logits<1, FS_THREADS>(lg, c0, c1, 0, h.eos_id, lv, li, m, l);
        block_lse<FS_THREADS>(m, l);
        if (threadIdx.x == 0) {
            pm[blockIdx.x] = m;
            pl[blockIdx.x] = l;
        }
    }
    vi b = {-INFINITY, INT_MAX};
    if (rd) {
        fs_ll_wait<2>(w2, hw + 2 * threadIdx.x, 1, 2, flag);
        b = vi{__uint_as_float((unsigned)w2[0]), (int)(unsigned)w2[1]};
    }
    clk.mark(8);
    const int nw = (G + 31) >> 5;
    if (warp < nw) {
        b = warp_best(b);
        if (lane == 0)
            scr[FS_WARPS + warp] = b;
    }
    __syncthreads();
    b = best_of(scr + FS_WARPS, nw);
    tok[0] = b.i; /* every thread the same value */
    if (st == 0 && h.hr_cols > 0 && threadIdx.x == 0 && st + 1 < h.chain_steps &&
        b.i != h.chain_eos) { /* the next steps' resident head */
        const size_t row = (size_t)h.d * sizeof(T);
        fs_bulk_init(hbar);
        fs_bulk_copy(fs_sm + h.off_hr, (const char *)h.lm_head + c0 * row, (unsigned)(nres * row),
                     hbar);
    }
    clk.mark(9);
    clk.flush();
    clk.clear();
    if (trace && blockIdx.x == 0 && threadIdx.x == 0)
        trace[15] += 1; /* steps traced */
    return b.i;
}

template <typename T>
static __device__ __noinline__ int fs_head_chain(const fs_head_args h, const T *as, float *part,
                                                 unsigned long long *hw, unsigned flag, vi *scr,
                                                 float *xs, unsigned long long *trace,
                                                 const int32_t *no_eos, int32_t *tok, int st)
{
    return fs_head_chain_in<T>(h, as, part, hw, flag, scr, xs, trace, no_eos, tok, st);
}

/* The end of a one-row chain of `steps` steps (fs_head_chain's): a grid
 * barrier, after which every step's parts are written, and block s merges
 * step s's into top_v[s] / top_i[s * stride] as fs_head's merge would. The
 * barrier count moves by one grid per step, as if each step had kept its
 * barrier (the next launch's flag comes from it): this barrier's grid, and
 * block 0 adds the rest. */
static __device__ __noinline__ void fs_chain_finish(const float *part, unsigned long long *bar,
                                                    float *top_v, int32_t *top_i, int stride,
                                                    int steps, int G)
{
    fs_barrier(bar);
    if (blockIdx.x == 0 && threadIdx.x == 0 && steps > 1)
        atomicAdd(bar, (unsigned long long)(steps - 1) * gridDim.x);
    const int s = blockIdx.x;
    if (s >= steps)
        return;
    const float *pm = part + (size_t)s * 4 * G, *pl = pm + G, *pv = pl + G;
    const int32_t *pi = (const int32_t *)(pv + G);
    topk_merge<1, FS_THREADS, true>(top_v + s, top_i + (size_t)s * stride, pm, pl, pv, pi, 0, G, 1);
}

#endif
