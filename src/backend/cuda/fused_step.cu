/* fused_step.cu - a whole decoder step for a few rows as one persistent
 * kernel (the backend's decode_step op).
 *
 * Why. At batch 1 the per-op step is ~52 dependent kernels of a few
 * microseconds each (bench/cuda.md: 261 us per t5-small step against an
 * 18 us weight-read floor): the time goes to launch, ramp and the first
 * dependent loads of every kernel, not to bandwidth. Here one grid of one
 * block per SM stays resident for the whole step and walks the same
 * sequence as step.c in phases separated by grid-wide barriers:
 *
 *   per layer  P1  norm(x) -> qkv GEMV                      (qkv to global)
 *              P2  self-attention, every (row, head) -> o GEMV, x +=
 *              P3  norm(x) -> cross-q GEMV                  (q to global)
 *              P4  cross-attention -> co GEMV, x +=
 *              P5  norm(x) -> wi GEMV                       (ff to global)
 *              P6  act(ff) -> wo GEMV, x +=
 *   then       P7  norm(x) -> LM head GEMV (logits), each block's top-k part
 *              P8  rows' top-k merged (log-softmax, as logits_topk)
 *
 * Every GEMV spreads its output columns over all blocks in contiguous
 * slices (the LM head slice is then also the block's top-k part); every
 * block recomputes the tiny prologue it needs (the norm of <= 4 rows of
 * d_model, or all heads' attention for <= 4 rows, a few thousand
 * multiply-adds) instead of paying a barrier for it. Before arriving at a
 * barrier a block asks L2 for its slice of the next phase's weights.
 *
 * Numerics follow the per-op path: prologue outputs are rounded to the act
 * dtype as the stored tensors would be, dot products and the residual are
 * fp32, and the fp16 FFN product is scaled as in gemv.cu / ffn_act.cu.
 *
 * The residual x [m, d] is read whole by every block in the norm phases
 * (P1, P3, P5) and updated in the next phase by the owner of each column;
 * x does not change in between, so the owner adds to its shared-memory copy
 * instead of re-reading x (one dependent L2 round trip fewer per update).
 *
 * Memory ordering. Buffers that other blocks write during the kernel (x,
 * qkv, q, ff, the top-k parts) are read with ld.global.cg (L2), never
 * through L1, which is not coherent between SMs; the barrier fences.
 * The barrier is a counter and a generation word per stream (the last
 * block to arrive resets the counter and bumps the generation), so it needs
 * no reset between launches and no cooperative launch (which keeps CUDA
 * graph capture and PDL neighbours ordinary). Co-residency: the grid is one
 * block per SM and the occupancy query must allow it; a block that is not
 * yet resident because another stream's kernel holds its SM gets resident
 * when that kernel ends, so the barrier waits rather than deadlocks as long
 * as no other persistent grid holds SMs at the same time. Two fused steps
 * on two streams could each hold part of the SMs and wait for the rest
 * forever, so one stream per device owns the fused path (the first to ask,
 * until it is destroyed) and the others decline (the engine then issues the
 * per-op sequence, whose kernels always finish). Concurrent instances are a
 * throughput setting anyway; the fused step is for latency.
 */
#include "topk_dev.cuh"

#include <stdlib.h>

#define FS_THREADS 512
#define FS_WARPS (FS_THREADS / 32)
#define FS_MAXM 4
#define FS_MAXK 8

struct fs_params {
    t5_fused_step a;
    unsigned long long *bar;   /* the grid barrier's arrival count */
    unsigned long long *trace; /* T5_CUDA_FUSED_TRACE: per-phase ns sums (block 0), or NULL */
    float *part;               /* top-k parts: pm, pl [m*G], pv [m*G*k], pi [m*G*k] */
    int amax;                  /* elements per row of the shared-memory GEMV input */
    int smax;                  /* scores per warp (the longest cache) */
    int ws_bytes;              /* shared-memory weight stage */
    size_t off_xs, off_sc, off_qs, off_ws;
};

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
template <typename T> struct fs_vec {
    enum { N = 16 / sizeof(T) };
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

/* This block's contiguous slice [c0, c1) of n output columns. */
static __device__ __forceinline__ void fs_slice(int n, int &c0, int &c1)
{
    int per = (n + gridDim.x - 1) / gridDim.x;
    c0 = blockIdx.x * per;
    c1 = c0 + per < n ? c0 + per : n;
    if (c0 > n)
        c0 = n;
}

/* Asks L2 for this block's slice of W [n, k] (the next phase's weights). */
static __device__ __forceinline__ void fs_prefetch(const void *w, int n, int k, int esz)
{
    int c0, c1;
    fs_slice(n, c0, c1);
    const char *base = (const char *)w + (size_t)c0 * k * esz;
    size_t bytes = (size_t)(c1 - c0) * k * esz;
    for (size_t off = (size_t)threadIdx.x * 128; off < bytes; off += (size_t)FS_THREADS * 128)
        asm volatile("prefetch.global.L2 [%0];" ::"l"(base + off));
}

/* Starts copying this block's slice of the next phase's W [n, k] into
 * shared memory (cp.async, before the barrier: the weights do not depend on
 * the phase in between, so their latency hides behind it); a slice larger
 * than the buffer is only prefetched into L2. fs_gemv uses the copy. */
static __device__ __forceinline__ bool fs_fits(int n, int k, int esz, int ws_bytes)
{
    int per = (n + gridDim.x - 1) / gridDim.x;
    return (size_t)per * k * esz <= (size_t)ws_bytes;
}

static __device__ void fs_stage(unsigned char *ws, int ws_bytes, const void *w, int n, int k,
                                int esz)
{
    if (!fs_fits(n, k, esz, ws_bytes)) {
        fs_prefetch(w, n, k, esz);
        return;
    }
    int c0, c1;
    fs_slice(n, c0, c1);
    const char *src = (const char *)w + (size_t)c0 * k * esz;
    int bytes = (c1 - c0) * k * esz;
    __syncthreads(); /* the previous GEMV has finished reading ws */
    for (int off = threadIdx.x * 16; off < bytes; off += FS_THREADS * 16) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        unsigned dst = (unsigned)__cvta_generic_to_shared(ws + off);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src + off)
                     : "memory");
#else
        *(uint4 *)(ws + off) = *(const uint4 *)(src + off);
#endif
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

/* ---- prologues -------------------------------------------------------------- */

/* xs [m][d] = the residual rows (layer 0 of the step: the embedding rows,
 * which block 0 also stores as the residual). */
template <typename T>
static __device__ __noinline__ void fs_load_x(float *xs, float *x, const void *embed,
                                              const int32_t *tok, int V, int m, int d,
                                              bool from_embed)
{
    for (int idx = threadIdx.x; idx < m * d; idx += FS_THREADS) {
        int r = idx / d, c = idx - r * d;
        float v;
        if (from_embed) {
            int id = tok[r];
            id = id < 0 ? 0 : id >= V ? V - 1 : id;
            v = t5__ld((const T *)embed + (size_t)id * d + c);
            if (blockIdx.x == 0)
                x[idx] = v;
        } else {
            v = __ldcg(x + idx);
        }
        xs[idx] = v;
    }
    __syncthreads();
}

/* as [m][d] = w * xs * rsqrt(mean(xs^2) + eps), rounded to T. */
template <typename T>
static __device__ __noinline__ void fs_norm(T *as, const float *xs, const float *w, int m, int d,
                                            float eps, float *red)
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
    for (int idx = threadIdx.x; idx < m * d; idx += FS_THREADS) {
        int r = idx / d, c = idx - r * d;
        as[idx] = t5__dt<T>::store(w[c] * (xs[idx] * red[r]));
    }
    __syncthreads();
}

/* as [m][d_ff] = act(ff) (gated: act(ff[:, :d_ff]) * ff[:, d_ff:]) / scale. */
template <typename T>
static __device__ __noinline__ void fs_ffn_act(T *as, const void *ff, int m, int f, int gated,
                                               int act, float inv_scale)
{
    const T *in = (const T *)ff;
#pragma unroll 4
    for (int idx = threadIdx.x; idx < m * f; idx += FS_THREADS) {
        int r = idx / f, c = idx - r * f;
        float y;
        if (gated) {
            const T *row = in + (size_t)r * 2 * f;
            y = fs_act(fs_fin<T>(fs_ldcg(row + c)), act) * fs_fin<T>(fs_ldcg(row + f + c));
        } else {
            y = fs_act(fs_fin<T>(fs_ldcg(in + idx)), act);
        }
        as[idx] = t5__dt<T>::store(fs_fin<T>(y * inv_scale));
    }
    __syncthreads();
}

/* Attention of every (row, head) of the step into as [m][inner] (T). One
 * warp per pair: lane j scores key j (all its loads at once), the warp
 * normalises, and lanes split the dimensions for the weighted sum of V.
 * SELF: q, the new k and v come from qkv, the row attends over positions
 * 0..pos with the causal bias, and block 0 appends k, v to the cache. */
/* What fs_attn needs, by value: a non-inlined function must not take the
 * kernel's parameters by reference (they would be copied to local memory). */
struct fs_attn_args {
    const int32_t *rows;
    const void *kc, *vc; /* the cache to attend over */
    void *kw, *vw;       /* SELF: the same cache, for the append */
    const void *q;       /* SELF: qkv [m, 3*inner]; else q [m, inner] */
    const float *bias;
    int n_slots, max_len, H, dkv, nb, maxd, m, smax, layer;
};

template <typename T, bool SELF>
static __device__ __noinline__ void fs_attn(T *as, const fs_attn_args g, float *sc_all,
                                            float *qs_all)
{
    const int H = g.H, dkv = g.dkv, inner = H * dkv, m = g.m, layer = g.layer;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    constexpr int VN = fs_vec<T>::N;
    float *sc = sc_all + (size_t)warp * g.smax;
    float *qs = qs_all + (size_t)warp * dkv;
    for (int pair = warp; pair < m * H; pair += FS_WARPS) {
        int r = pair / H, h = pair - r * H;
        const int32_t *rw = g.rows + 4 * r;
        int slot = SELF ? rw[0] : rw[1];
        int nk = SELF ? rw[2] + 1 : rw[3];
        nk = nk > g.max_len ? g.max_len : nk < 1 ? 1 : nk;
        size_t head_off = (((size_t)layer * g.n_slots + slot) * H + h) * (size_t)g.max_len * dkv;
        const T *K = (const T *)g.kc + head_off;
        const T *Vv = (const T *)g.vc + head_off;
        const T *qsrc = (const T *)g.q + (size_t)r * (SELF ? 3 : 1) * inner + h * dkv;
        for (int i = lane; i < dkv; i += 32)
            qs[i] = fs_ldcg(qsrc + i);
        __syncwarp();
        float mx = -INFINITY;
        for (int j = lane; j < nk; j += 32) {
            bool fresh = SELF && j == nk - 1;
            const T *kr = fresh ? qsrc + inner : K + (size_t)j * dkv;
            /* the bias first, so its load overlaps the key's */
            float s = SELF ? g.bias[t5_rel_bucket(j - (nk - 1), 0, g.nb, g.maxd) * H + h] : 0.0f;
#pragma unroll 8
            for (int i = 0; i < dkv; i += VN) {
                float kf[VN];
                if (fresh)
                    fs_load16<T, true>(kr + i, kf);
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
                vn0 = fs_ldcg(qsrc + 2 * inner + i0);
                vn1 = fs_ldcg(qsrc + 2 * inner + i0 + 1);
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
                if (blockIdx.x == 0) {
                    T *kd = (T *)g.kw + head_off + (size_t)(nk - 1) * dkv + i0;
                    T *vd = (T *)g.vw + head_off + (size_t)(nk - 1) * dkv + i0;
                    kd[0] = t5__dt<T>::store(fs_ldcg(qsrc + inner + i0));
                    kd[1] = t5__dt<T>::store(fs_ldcg(qsrc + inner + i0 + 1));
                    vd[0] = t5__dt<T>::store(vn0);
                    vd[1] = t5__dt<T>::store(vn1);
                }
            }
            T *o = as + (size_t)r * inner + h * dkv + i0;
            o[0] = t5__dt<T>::store(a0 * inv);
            o[1] = t5__dt<T>::store(a1 * inv);
        }
        __syncwarp(); /* sc and qs are reused by this warp's next pair */
    }
    __syncthreads();
}

/* ---- the GEMV ----------------------------------------------------------------
 * out columns [c0, c1) of this block = as [m][k] @ W^T, warps over columns,
 * CPW columns per warp at a time (all their weight loads in flight). */
enum { FS_OUT_ACT = 0, FS_OUT_F32 = 1, FS_ADD = 2 };

template <typename T, int CPW>
static __device__ void fs_gemv_cols(const T *as, int m, int k, const T *W, int wc0, int n, int c0,
                                    int c1, int mode, void *out, float alpha, const float *xs)
{
    constexpr int VN = fs_vec<T>::N;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int cb = c0 + warp * CPW; cb < c1; cb += FS_WARPS * CPW) {
        float acc[FS_MAXM][CPW];
#pragma unroll
        for (int r = 0; r < FS_MAXM; r++)
#pragma unroll
            for (int j = 0; j < CPW; j++)
                acc[r][j] = 0.0f;
#pragma unroll 2
        for (int i = lane * VN; i < k; i += 32 * VN) {
            float wf[CPW][VN];
#pragma unroll
            for (int j = 0; j < CPW; j++) {
                int col = cb + j < c1 ? cb + j : c1 - 1;
                fs_load16<T, false>(W + (size_t)(col - wc0) * k + i, wf[j]);
            }
#pragma unroll
            for (int r = 0; r < FS_MAXM; r++) {
                if (r < m) {
                    float af[VN];
                    fs_load16<T, false>(as + r * k + i, af);
#pragma unroll
                    for (int j = 0; j < CPW; j++)
#pragma unroll
                        for (int e = 0; e < VN; e++)
                            acc[r][j] += af[e] * wf[j][e];
                }
            }
        }
#pragma unroll
        for (int r = 0; r < FS_MAXM; r++) {
            if (r < m) {
#pragma unroll
                for (int j = 0; j < CPW; j++) {
                    float v = t5__warp_sum(acc[r][j]) * alpha;
                    int col = cb + j;
                    if (lane == j && col < c1) {
                        size_t at = (size_t)r * n + col;
                        if (mode == FS_ADD) /* xs: this phase's residual rows, n == d */
                            ((float *)out)[at] = xs[at] + v;
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

template <typename T>
static __device__ __noinline__ void fs_gemv(const T *as, int m, int k, const void *W, int n,
                                            int mode, void *out, float alpha,
                                            const unsigned char *ws, int ws_bytes, const float *xs)
{
    int c0, c1, wc0 = 0;
    fs_slice(n, c0, c1);
    const T *src = (const T *)W;
    if (ws && fs_fits(n, k, (int)sizeof(T), ws_bytes)) { /* staged by fs_stage */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        asm volatile("cp.async.wait_all;" ::: "memory");
#endif
        __syncthreads();
        src = (const T *)ws;
        wc0 = c0;
    }
    if (c1 - c0 >= 2 * 4 * FS_WARPS)
        fs_gemv_cols<T, 4>(as, m, k, src, wc0, n, c0, c1, mode, out, alpha, xs);
    else
        fs_gemv_cols<T, 1>(as, m, k, src, wc0, n, c0, c1, mode, out, alpha, xs);
}

/* ---- the kernel ---------------------------------------------------------------- */

template <typename T, int K>
__global__ void __launch_bounds__(FS_THREADS) fused_step_kernel(const fs_params p)
{
    const t5_fused_step &a = p.a;
    extern __shared__ __align__(16) unsigned char fs_sm[];
    T *as = (T *)fs_sm;
    float *xs = (float *)(fs_sm + p.off_xs);
    float *sc = (float *)(fs_sm + p.off_sc);
    float *qs = (float *)(fs_sm + p.off_qs);
    __shared__ float red[FS_MAXM];
    const int m = a.n, d = a.d, inner = a.sh.n_heads * a.sh.d_kv;
    const int ffc = a.gated ? 2 * a.d_ff : a.d_ff, es = (int)sizeof(T);
    /* fp16: the FFN product is stored scaled for the wo GEMV (ffn_act.cu). */
    const float act_scale = fs_act_scale<T>();

    unsigned char *ws = fs_sm + p.off_ws;
    const int wsb = p.ws_bytes;
    fs_clock clk = {p.trace, 0, 0};
    unsigned long long tgt;
    if (p.trace && blockIdx.x == 0 && threadIdx.x == 0)
        clk.t = clk.t2 = fs_now();
    if (a.n_layers > 0)
        fs_stage(ws, wsb, a.layers[0].w_qkv, 3 * inner, d, es);
    for (int l = 0; l < a.n_layers; l++) {
        const t5_fused_layer &w = a.layers[l];
        /* P1 */
        fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, l == 0);
        fs_norm<T>(as, xs, (const float *)w.ln_attn, m, d, a.eps, red);
        clk.sub(0);
        fs_gemv<T>(as, m, d, w.w_qkv, 3 * inner, FS_OUT_ACT, a.qkv, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(ws, wsb, w.w_o, d, inner, es);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(0);
        /* P2 */
        {
            fs_attn_args g = {a.rows,
                              a.self_k,
                              a.self_v,
                              a.self_k,
                              a.self_v,
                              a.qkv,
                              a.bias,
                              a.self_lay.n_slots,
                              a.self_lay.max_len,
                              a.sh.n_heads,
                              a.sh.d_kv,
                              a.sh.num_buckets,
                              a.sh.max_distance,
                              m,
                              p.smax,
                              l};
            fs_attn<T, true>(as, g, sc, qs);
        }
        clk.sub(0);
        fs_gemv<T>(as, m, inner, w.w_o, d, FS_ADD, a.x, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(ws, wsb, w.w_cq, inner, d, es);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(1);
        /* P3 */
        fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, false);
        fs_norm<T>(as, xs, (const float *)w.ln_cross, m, d, a.eps, red);
        clk.sub(0);
        fs_gemv<T>(as, m, d, w.w_cq, inner, FS_OUT_ACT, a.q, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(ws, wsb, w.w_co, d, inner, es);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(2);
        /* P4 */
        {
            fs_attn_args g = {a.rows,
                              a.cross_k,
                              a.cross_v,
                              NULL,
                              NULL,
                              a.q,
                              NULL,
                              a.cross_lay.n_slots,
                              a.cross_lay.max_len,
                              a.sh.n_heads,
                              a.sh.d_kv,
                              0,
                              0,
                              m,
                              p.smax,
                              l};
            fs_attn<T, false>(as, g, sc, qs);
        }
        clk.sub(0);
        fs_gemv<T>(as, m, inner, w.w_co, d, FS_ADD, a.x, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(ws, wsb, w.w_in, ffc, d, es);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(3);
        /* P5 */
        fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, false);
        fs_norm<T>(as, xs, (const float *)w.ln_ff, m, d, a.eps, red);
        clk.sub(0);
        fs_gemv<T>(as, m, d, w.w_in, ffc, FS_OUT_ACT, a.ff, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(ws, wsb, w.w_out, d, a.d_ff, es);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(4);
        /* P6 */
        fs_ffn_act<T>(as, a.ff, m, a.d_ff, a.gated, a.act, 1.0f / act_scale);
        clk.sub(0);
        fs_gemv<T>(as, m, a.d_ff, w.w_out, d, FS_ADD, a.x, act_scale, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        if (l + 1 < a.n_layers)
            fs_stage(ws, wsb, a.layers[l + 1].w_qkv, 3 * inner, d, es);
        else
            fs_prefetch(a.lm_head, a.V, d, es);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(5);
    }

    /* P7: logits of this block's vocabulary slice, then its top-k part. */
    fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, a.n_layers == 0);
    fs_norm<T>(as, xs, (const float *)a.ln_final, m, d, a.eps, red);
    fs_gemv<T>(as, m, d, a.lm_head, a.V, FS_OUT_F32, a.logits, a.lm_scale, NULL, 0, xs);
    clk.mark(6);
    __syncthreads(); /* the block's logits, written above, are read below */
    const int G = gridDim.x, k = a.k;
    float *pm = p.part, *pl = pm + (size_t)m * G, *pv = pl + (size_t)m * G;
    int32_t *pi = (int32_t *)(pv + (size_t)m * G * k);
    int c0, c1;
    fs_slice(a.V, c0, c1);
    for (int r = 0; r < m; r++) {
        float lv[K], mx, sum;
        int li[K];
        scan_logits<K, FS_THREADS>(a.logits + (size_t)r * a.V, c0, c1, a.no_eos && a.no_eos[r],
                                   a.eos_id, lv, li, mx, sum);
        block_lse<FS_THREADS>(mx, sum);
        size_t at = (size_t)r * G + blockIdx.x;
        if (threadIdx.x == 0) {
            pm[at] = mx;
            pl[at] = sum;
        }
        block_select<K, FS_THREADS>(lv, li, k, 0.0f, pv + at * k, pi + at * k, INT_MAX);
    }
    clk.mark(7);
    fs_barrier(p.bar);
    clk.mark(8);

    /* P8: block r merges row r's parts (as topk_merge_kernel). */
    if ((int)blockIdx.x >= m)
        return;
    const int r = blockIdx.x;
    float mx = -INFINITY, sum = 0.0f;
    for (int q = threadIdx.x; q < G; q += FS_THREADS) {
        float m2 = __ldcg(pm + (size_t)r * G + q), l2 = __ldcg(pl + (size_t)r * G + q);
        float mn = fmaxf(mx, m2);
        if (mn != -INFINITY) {
            sum = (mx == -INFINITY ? 0.0f : sum * __expf(mx - mn)) +
                  (m2 == -INFINITY ? 0.0f : l2 * __expf(m2 - mn));
            mx = mn;
        }
    }
    block_lse<FS_THREADS>(mx, sum);
    float lv[K];
    int li[K];
#pragma unroll
    for (int j = 0; j < K; j++) {
        lv[j] = -INFINITY;
        li[j] = INT_MAX;
    }
    const float *cv = pv + (size_t)r * G * k;
    const int32_t *ci = pi + (size_t)r * G * k;
    for (int c = threadIdx.x; c < G * k; c += FS_THREADS) {
        int id = __ldcg(ci + c);
        if (id != INT_MAX)
            list_insert<K>(lv, li, __ldcg(cv + c), id);
    }
    block_select<K, FS_THREADS>(lv, li, k, mx + logf(sum), a.top_v + (size_t)r * k,
                                a.top_i + (size_t)r * k, 0);
    clk.mark(9);
    if (clk.tr && r == 0 && threadIdx.x == 0)
        clk.tr[15] += 1; /* steps traced */
}

/* ---- ownership (see the top of the file) ------------------------------------ */

static t5_stream *fs_owner[64];

static int t5__cu_fused_claim(t5_stream *s)
{
    t5_stream **o = &fs_owner[s->be->dev & 63];
    return __atomic_load_n(o, __ATOMIC_ACQUIRE) == s ||
           __sync_bool_compare_and_swap(o, (t5_stream *)NULL, s);
}

void t5__cu_fused_release(t5_stream *s)
{
    __sync_bool_compare_and_swap(&fs_owner[s->be->dev & 63], s, (t5_stream *)NULL);
}

/* ---- the op ------------------------------------------------------------------------ */

static size_t al16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

template <typename T, int K>
static int fused_launch(t5_stream *s, fs_params &p, size_t smem, t5_err *err)
{
    void (*kern)(const fs_params) = fused_step_kernel<T, K>;
    if (smem > 48 * 1024)
        CU_CHECK(
            cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    int per_sm = 0;
    CU_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, FS_THREADS, smem));
    if (per_sm < 1)
        return 1;
    int G = s->be->n_sm;
    size_t part = (size_t)p.a.n * G * (2 + 2 * p.a.k);
    if (part > 2 * (size_t)T5__TOPK_PARTIALS)
        return 1;
    /* Not a PDL launch: every block must see the previous step complete,
     * and a persistent grid should not start beside the previous kernel. */
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(G);
    cfg.blockDim = dim3(FS_THREADS);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s->st;
    CU_CHECK(cudaLaunchKernelEx(&cfg, kern, p));
    CU_CHECK_LAUNCH("fused decoder step");
    return 0;
}

int t5__cu_decode_step(t5_stream *s, const t5_fused_step *a, t5_err *err)
{
    t5__cu_backend *be = s->be;
    if (be->no_fused || a->n < 1 || a->n > be->fused_max_rows || a->k < 1 || a->k > FS_MAXK ||
        a->k > a->V || a->n_layers < 1 || !s->fs_bar)
        return 1;
    const int es = (int)be->base.act_size, dkv = a->sh.d_kv, inner = a->sh.n_heads * dkv;
    if ((dkv * es) % 16 || (a->d * es) % 16 || (inner * es) % 16 || (a->d_ff * es) % 16)
        return 1;
    if (!t5__cu_fused_claim(s))
        return 1;
    CU_ENTER(s);
    fs_params p;
    memset(&p, 0, sizeof p);
    p.a = *a;
    p.bar = (unsigned long long *)s->fs_bar;
    p.part = s->topk_part;
    p.amax = a->d > inner ? a->d : inner;
    if (a->d_ff > p.amax)
        p.amax = a->d_ff;
    p.smax =
        a->self_lay.max_len > a->cross_lay.max_len ? a->self_lay.max_len : a->cross_lay.max_len;
    p.off_xs = al16((size_t)FS_MAXM * p.amax * es);
    p.off_sc = p.off_xs + al16((size_t)FS_MAXM * a->d * 4);
    p.off_qs = p.off_sc + al16((size_t)FS_WARPS * p.smax * 4);
    p.off_ws = p.off_qs + al16((size_t)FS_WARPS * dkv * 4);
    /* + 4 KB: the static shared memory of the top-k helpers */
    if (p.off_ws + 4096 > be->smem_optin)
        return 1;
    size_t room = be->smem_optin - p.off_ws - 4096;
    p.ws_bytes = (int)(room < (96u << 10) ? room & ~(size_t)15 : (96u << 10));
    size_t smem = p.off_ws + p.ws_bytes;
    p.trace = s->fs_trace;
    int rc = 1;
    if (a->k == 1) {
        T5__DISPATCH(be->base.act_dtype, T, rc = fused_launch<T, 1>(s, p, smem, err));
    } else {
        T5__DISPATCH(be->base.act_dtype, T, rc = fused_launch<T, FS_MAXK>(s, p, smem, err));
    }
    return rc;
}

/* T5_CUDA_FUSED_TRACE: at stream destruction, where a fused step's time
 * went (block 0's view, so each phase includes the barrier that ends it). */
void t5__cu_fused_trace_report(t5_stream *s)
{
    unsigned long long tr[16];
    if (cudaMemcpy(tr, s->fs_trace, sizeof tr, cudaMemcpyDeviceToHost) != cudaSuccess) {
        cudaGetLastError();
        return;
    }
    if (!tr[15])
        return;
    double n = (double)tr[15] * 1e3, tot = 0;
    static const char *name[10] = {"norm+qkv",  "self-attn+o", "norm+cq", "cross-attn+co",
                                   "norm+wi",   "act+wo",      "lm head", "top-k parts",
                                   "(barrier)", "top-k merge"};
    fprintf(stderr,
            "fused step trace: %llu steps; us per step (layer phases summed over layers):", tr[15]);
    for (int i = 0; i < 10; i++) {
        fprintf(stderr, " %s %.2f;", name[i], tr[i] / n);
        tot += tr[i] / n;
    }
    fprintf(stderr,
            " total %.2f; of the layer phases: prologue %.2f, GEMV %.2f, arrive+stage %.2f, "
            "wait %.2f\n",
            tot, tr[10] / n, tr[11] / n, tr[12] / n,
            (tr[0] + tr[1] + tr[2] + tr[3] + tr[4] + tr[5] - tr[10] - tr[11] - tr[12]) / n);
}
