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
 * (With absorbed cross-attention, the LL kernel's ABS below, P2 also
 * computes the cross-attention's scores and P3 is empty.)
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
 *
 * Two kernels walk these phases: fused_step_kernel, with a grid barrier
 * between phases, and fused_ll_kernel (the default; T5_CUDA_FUSED_LL=0
 * selects the other), whose phases hand their outputs over in flag-in-data
 * words instead (see "the LL kernel" below).
 */
#include "fused_common.cuh"

#include <stdlib.h>
#include <type_traits>

#define FS_MAXM 4

struct fs_params {
    t5_fused_step a;
    unsigned long long *bar;   /* the grid barrier's arrival count */
    unsigned long long *trace; /* T5_CUDA_FUSED_TRACE: per-phase ns sums (block 0), or NULL */
    float *part;               /* top-k parts: pm, pl [m*G], pv [m*G*k], pi [m*G*k] */
    int amax;                  /* elements per row of the shared-memory GEMV input */
    int ef;                    /* weight slices staged with L2 evict-first (fs_evict_first) */
    int smax;                  /* scores per warp (the longest cache) */
    int ws_bytes;              /* shared-memory weight stage */
    size_t off_xs, off_sc, off_qs, off_ws;
    /* the LL kernel: its exchange buffer (words, fused_common.cuh) and the
     * word offsets in one layer's part of it; its q|k|v / q stage in shared
     * memory at off_qv */
    unsigned long long *ll;
    int ll_layer, ll_xb, ll_xc, ll_qkv, ll_q, ll_ff;
    size_t off_qv;
    int pdl; /* launched with PDL (the LL kernel, T5_CUDA_FUSED_PDL) */
    /* columns a block takes (fs_slice_per) of 3 * inner, d, inner and the
     * FFN input's columns */
    int per_qkv, per_d, per_inner, per_ffc;
    /* CH: the first hr_cols columns of the block's LM head slice stay in
     * shared memory at off_hr from the chain's second step (0: none) */
    int hr_cols;
    size_t off_hr;
};

/* Starts copying this block's slice of the next phase's W [n, k] into
 * shared memory (cp.async, before the barrier: the weights do not depend on
 * the phase in between, so their latency hides behind it); a slice larger
 * than the buffer is only prefetched into L2. fs_gemv uses the copy. */
/* per: the columns a block takes of W's n, ceil(n / grid) (fs_params'
 * per_*, from the host: no division in the phase). */
static __device__ __forceinline__ bool fs_fits(int per, int k, int esz, int ws_bytes)
{
    return per * k * esz <= ws_bytes;
}

static __device__ __forceinline__ void fs_stage_in(bool ef, unsigned char *ws, int ws_bytes,
                                                   const void *w, int n, int k, int esz, int per)
{
    if (!fs_fits(per, k, esz, ws_bytes)) {
        fs_prefetch(w, n, k, esz);
        t5__cp_commit(); /* an empty group: the LL kernel counts one per stage */
        return;
    }
    int c0, c1;
    fs_slice_per(n, per, c0, c1);
    const char *src = (const char *)w + (size_t)c0 * k * esz;
    int bytes = (c1 - c0) * k * esz;
    __syncthreads(); /* the previous GEMV has finished reading ws */
    /* ef: T5_CUDA_FUSED_EVICT_FIRST (the default) */
    if (ef) {
        const unsigned long long pol = fs_evict_first();
        for (int off = threadIdx.x * 16; off < bytes; off += FS_THREADS * 16)
            fs_cp16_pol(ws + off, src + off, pol);
    } else {
        for (int off = threadIdx.x * 16; off < bytes; off += FS_THREADS * 16)
            t5__cp16(ws + off, src + off);
    }
    t5__cp_commit();
}

static __device__ __noinline__ void fs_stage(bool ef, unsigned char *ws, int ws_bytes,
                                             const void *w, int n, int k, int esz, int per)
{
    fs_stage_in(ef, ws, ws_bytes, w, n, k, esz, per);
}

/* ---- prologues -------------------------------------------------------------- */

/* xs [m][d] = the residual rows (layer 0 of the step: the embedding rows,
 * which block 0 also stores as the residual). */
template <typename T>
static __device__ __forceinline__ void fs_load_x_in(float *xs, float *x, const void *embed,
                                                    const int32_t *tok, int V, int m, int d,
                                                    bool from_embed)
{
    for (int r = 0; r < m; r++) /* rows, then columns: no division */
        for (int c = threadIdx.x; c < d; c += FS_THREADS) {
            const int idx = r * d + c;
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

template <typename T>
static __device__ __noinline__ void fs_load_x(float *xs, float *x, const void *embed,
                                              const int32_t *tok, int V, int m, int d,
                                              bool from_embed)
{
    fs_load_x_in<T>(xs, x, embed, tok, V, m, d, from_embed);
}

/* as [m][d_ff] = act(ff) (gated: act(ff[:, :d_ff]) * ff[:, d_ff:]) / scale. */
template <typename T>
static __device__ __noinline__ void fs_ffn_act(T *as, const void *ff, int m, int f, int gated,
                                               int act, float inv_scale)
{
    const T *in = (const T *)ff;
#pragma unroll 4
    for (int idx = threadIdx.x; idx < m * f; idx += FS_THREADS) {
        int r = fs_udiv(idx, f), c = idx - r * f;
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

template <typename T>
static __device__ __forceinline__ void fs_gemv_in(const T *as, int m, int k, const void *W, int n,
                                                  int per, int mode, void *out, float alpha,
                                                  const unsigned char *ws, int ws_bytes,
                                                  const float *xs, unsigned llf, int pend)
{
    int c0, c1, wc0 = 0;
    fs_slice_per(n, per, c0, c1);
    const T *src = (const T *)W;
    if (ws && fs_fits(per, k, (int)sizeof(T), ws_bytes)) { /* staged by fs_stage */
        if (pend) /* the LL kernel: the next phase's stage may still be in flight */
            t5__cp_wait<1>();
        else
            t5__cp_wait<0>();
        __syncthreads();
        src = (const T *)ws;
        wc0 = c0;
    }
    /* One row (batch-1 greedy, the latency case) has code of its own: the
     * loops unrolled for FS_MAXM rows and guarded by r < m cost ~1 us a
     * GEMV there (bench/cuda.md, session 8: 4% of a t5-small step). */
    if (m == 1) {
        if (c1 - c0 >= 2 * 4 * FS_WARPS)
            fs_gemv_cols<T, 4, 1>(as, m, k, src, k, wc0, n, c0, c1, mode, out, alpha, xs, llf);
        else if (mode == FS_LL_ACT2)
            fs_gemv_cols<T, 2, 1>(as, m, k, src, k, wc0, n, c0, c1, mode, out, alpha, xs, llf);
        else
            fs_gemv_cols<T, 1, 1>(as, m, k, src, k, wc0, n, c0, c1, mode, out, alpha, xs, llf);
        return;
    }
    if (c1 - c0 >= 2 * 4 * FS_WARPS)
        fs_gemv_cols<T, 4, FS_MAXM>(as, m, k, src, k, wc0, n, c0, c1, mode, out, alpha, xs, llf);
    else if (mode == FS_LL_ACT2)
        fs_gemv_cols<T, 2, FS_MAXM>(as, m, k, src, k, wc0, n, c0, c1, mode, out, alpha, xs, llf);
    else
        fs_gemv_cols<T, 1, FS_MAXM>(as, m, k, src, k, wc0, n, c0, c1, mode, out, alpha, xs, llf);
}

template <typename T>
static __device__ __noinline__ void
fs_gemv(const T *as, int m, int k, const void *W, int n, int per, int mode, void *out, float alpha,
        const unsigned char *ws, int ws_bytes, const float *xs, unsigned llf = 0, int pend = 0)
{
    fs_gemv_in<T>(as, m, k, W, n, per, mode, out, alpha, ws, ws_bytes, xs, llf, pend);
}

/* fs_attn's arguments for a layer's self-attention (with the append: the
 * caller clears kw, vw in all blocks but one) and cross-attention of all
 * heads of m rows, their queries at q (self: q|k|v rows of 3 * inner).
 * H, dkv: a.sh's (constants in the shape kernels, fs_shape). */
static __device__ __forceinline__ fs_attn_args fs_self_args(const t5_fused_step &a, const void *q,
                                                            int m, int smax, int l,
                                                            const int32_t *rows, int H, int dkv)
{
    const int inner = H * dkv;
    fs_attn_args g = {rows,
                      a.self_k,
                      a.self_v,
                      a.self_k,
                      a.self_v,
                      q,
                      a.bias,
                      a.self_lay.n_slots,
                      a.self_lay.max_len,
                      H,
                      dkv,
                      a.sh.num_buckets,
                      a.sh.max_distance,
                      m,
                      smax,
                      l,
                      0,
                      H,
                      3 * inner,
                      dkv,
                      inner,
                      inner,
                      dkv};
    return g;
}

static __device__ __forceinline__ fs_attn_args fs_cross_args(const t5_fused_step &a, const void *q,
                                                             int m, int smax, int l, int H, int dkv)
{
    const int inner = H * dkv;
    fs_attn_args g = {a.rows,
                      a.cross_k,
                      a.cross_v,
                      NULL,
                      NULL,
                      q,
                      NULL,
                      a.cross_lay.n_slots,
                      a.cross_lay.max_len,
                      H,
                      dkv,
                      0,
                      0,
                      m,
                      smax,
                      l,
                      0,
                      H,
                      inner,
                      dkv,
                      0,
                      inner,
                      dkv};
    return g;
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
    if (fs_chain_ended(a))
        return;

    unsigned char *ws = fs_sm + p.off_ws;
    const int wsb = p.ws_bytes;
    fs_clock clk = {p.trace, 0, 0};
    unsigned long long tgt;
    if (p.trace && blockIdx.x == 0 && threadIdx.x == 0)
        clk.t = clk.t2 = fs_now();
    if (a.n_layers > 0)
        fs_stage(p.ef, ws, wsb, a.layers[0].w_qkv, 3 * inner, d, es, p.per_qkv);
    for (int l = 0; l < a.n_layers; l++) {
        const t5_fused_layer &w = a.layers[l];
        /* P1 */
        fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, l == 0);
        fs_norm<T>(as, xs, (const float *)w.ln_attn, m, d, a.eps, red);
        clk.sub(0);
        fs_gemv<T>(as, m, d, w.w_qkv, 3 * inner, p.per_qkv, FS_OUT_ACT, a.qkv, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(p.ef, ws, wsb, w.w_o, d, inner, es, p.per_d);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(0);
        /* P2 */
        {
            fs_attn_args g = fs_self_args(a, a.qkv, m, p.smax, l, a.rows, a.sh.n_heads, a.sh.d_kv);
            if (blockIdx.x != 0)
                g.kw = g.vw = NULL; /* block 0 appends */
            fs_attn<T, true, true>(as, g, sc, qs);
        }
        clk.sub(0);
        fs_gemv<T>(as, m, inner, w.w_o, d, p.per_d, FS_ADD, a.x, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(p.ef, ws, wsb, w.w_cq, inner, d, es, p.per_inner);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(1);
        /* P3 */
        fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, false);
        fs_norm<T>(as, xs, (const float *)w.ln_cross, m, d, a.eps, red);
        clk.sub(0);
        fs_gemv<T>(as, m, d, w.w_cq, inner, p.per_inner, FS_OUT_ACT, a.q, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(p.ef, ws, wsb, w.w_co, d, inner, es, p.per_d);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(2);
        /* P4 */
        {
            fs_attn_args g = fs_cross_args(a, a.q, m, p.smax, l, a.sh.n_heads, a.sh.d_kv);
            fs_attn<T, false, true>(as, g, sc, qs);
        }
        clk.sub(0);
        fs_gemv<T>(as, m, inner, w.w_co, d, p.per_d, FS_ADD, a.x, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(p.ef, ws, wsb, w.w_in, ffc, d, es, p.per_ffc);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(3);
        /* P5 */
        fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, false);
        fs_norm<T>(as, xs, (const float *)w.ln_ff, m, d, a.eps, red);
        clk.sub(0);
        fs_gemv<T>(as, m, d, w.w_in, ffc, p.per_ffc, FS_OUT_ACT, a.ff, 1.0f, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        fs_stage(p.ef, ws, wsb, w.w_out, d, a.d_ff, es, p.per_d);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(4);
        /* P6 */
        fs_ffn_act<T>(as, a.ff, m, a.d_ff, a.gated, a.act, 1.0f / act_scale);
        clk.sub(0);
        fs_gemv<T>(as, m, a.d_ff, w.w_out, d, p.per_d, FS_ADD, a.x, act_scale, ws, wsb, xs);
        clk.sub(1);
        tgt = fs_arrive(p.bar);
        if (l + 1 < a.n_layers)
            fs_stage(p.ef, ws, wsb, a.layers[l + 1].w_qkv, 3 * inner, d, es, p.per_qkv);
        else
            fs_prefetch(a.lm_head, a.V, d, es);
        clk.sub(2);
        fs_wait(p.bar, tgt);
        clk.mark(5);
    }

    /* P7: logits of this block's vocabulary slice, then its top-k part. */
    fs_load_x<T>(xs, a.x, a.embed, a.tok, a.V, m, d, a.n_layers == 0);
    fs_norm<T>(as, xs, (const float *)a.ln_final, m, d, a.eps, red);
    fs_head<T, K, FS_MAXM>(a, as, m, p.part, p.bar, clk);
}

/* ---- the LL kernel ---------------------------------------------------------------
 * The same phases and numerics as fused_step_kernel, but a phase's outputs
 * go to an exchange buffer of flag-in-data words (fs_ll_st) instead of a
 * plain buffer + grid barrier: the next phase's blocks poll the words they
 * need until each carries this launch's flag. That removes per phase the
 * release (draining the block's stores), the atomic and the reload after
 * the wait: one L2 round trip from a producer's store to its consumer
 * instead of about three (bench/cuda.md, "Where a fused step's
 * microseconds go"). Each (layer, phase) has its own words, so no word is
 * written twice in a launch and a slow reader never sees a later phase's
 * value; launches are ordered by the stream. The flag is the launch's
 * number: the grid barrier's count (which only the head's barrier moves,
 * by one grid per launch) over the grid size, + 1, read by every block at
 * its start; a block that starts late still reads the same number, because
 * the head barrier cannot complete without it.
 *
 * Every block reads every word of a phase, so the words' volume counts: with
 * a 16-bit act dtype the outputs of T (q|k|v, cross q, the FFN's input) go
 * two to a word (FS_LL_ACT2, same values), which halved the FFN exchange's
 * L2 reads and made the step 2% (t5-small) to 4% (t5-base) shorter
 * (bench/cuda.md, session 20); the residual stays one fp32 a word. */

/* w[u] = word p[u * FS_THREADS] (u < nu) once it carries flag: all read at
 * once, then fs_ll_wait. */
template <int U>
static __device__ __forceinline__ void
fs_ll_read(unsigned long long (&w)[U], const unsigned long long *p, int nu, unsigned flag)
{
#pragma unroll
    for (int u = 0; u < U; u++)
        if (u < nu)
            w[u] = fs_ll_ld(p + u * FS_THREADS);
    fs_ll_wait<U>(w, p, FS_THREADS, nu, flag);
}

/* dst [n] (T) = the payloads of src [n] once they carry flag. */
template <typename T>
static __device__ __forceinline__ void fs_ll_gather(T *dst, const unsigned long long *src, int n,
                                                    unsigned flag)
{
    constexpr int U = 4; /* words in flight per thread */
    for (int i0 = threadIdx.x; i0 < n; i0 += U * FS_THREADS) {
        unsigned long long w[U];
        const int nu = (n - i0 + FS_THREADS - 1) / FS_THREADS;
        fs_ll_read<U>(w, src + i0, nu, flag);
#pragma unroll
        for (int u = 0; u < U; u++)
            if (u < nu)
                dst[i0 + u * FS_THREADS] = t5__dt<T>::store(__uint_as_float((unsigned)w[u]));
    }
    __syncthreads();
}

/* dst[0 .. 2 * nw) = the 16-bit values of words src[0 .. nw) (FS_LL_ACT2's
 * pairs), as fs_ll_gather; U words in flight a thread (a shape kernel: all
 * of a thread's, fs_ll_u). */
template <typename T, int U = 2>
static __device__ __forceinline__ void fs_ll_gather2(T *dst, const unsigned long long *src, int nw,
                                                     unsigned flag)
{
    for (int i0 = threadIdx.x; i0 < nw; i0 += U * FS_THREADS) {
        unsigned long long w[U];
        const int nu = (nw - i0 + FS_THREADS - 1) / FS_THREADS;
        fs_ll_read<U>(w, src + i0, nu, flag);
#pragma unroll
        for (int u = 0; u < U; u++) {
            if (u < nu) {
                float lo, hi;
                fs_ll_unpack<T>(w[u], lo, hi);
                const int i = 2 * (i0 + u * FS_THREADS);
                dst[i] = t5__dt<T>::store(lo);
                dst[i + 1] = t5__dt<T>::store(hi);
            }
        }
    }
    __syncthreads();
}

/* as [m][f] = act(ff) (gated: act(ff[:, :f]) * ff[:, f:]) / scale, ff an
 * LL buffer of rows of ffc words (as fs_ffn_act); PK: of ffc / 2 words
 * (FS_LL_ACT2, f even), two values each, UP words of each half in flight a
 * thread (4 put 16 B on the one-row ABS kernels' frames (ptxas); a shape
 * kernel: all of a thread's, fs_ll_u). */
template <typename T, bool PK, int UP = 2>
static __device__ __forceinline__ void fs_ll_ffn_act(T *as, const unsigned long long *ff, int m,
                                                     int f, int gated, int act, float inv_scale,
                                                     unsigned flag)
{
    constexpr int U = 4;
    const int ffc = gated ? 2 * f : f;
    if (PK) {
        const int hw = f / 2; /* words of one half (wi, or wi_0 / wi_1 gated) */
        for (int r = 0; r < m; r++) {
            const unsigned long long *row = ff + (size_t)r * (ffc / 2);
            for (int i0 = threadIdx.x; i0 < hw; i0 += UP * FS_THREADS) {
                unsigned long long w0[UP], w1[UP];
                const int nu = (hw - i0 + FS_THREADS - 1) / FS_THREADS;
#pragma unroll
                for (int u = 0; u < UP; u++) {
                    if (u < nu) {
                        w0[u] = fs_ll_ld(row + i0 + u * FS_THREADS);
                        if (gated)
                            w1[u] = fs_ll_ld(row + hw + i0 + u * FS_THREADS);
                    }
                }
                fs_ll_wait<UP>(w0, row + i0, FS_THREADS, nu, flag);
                if (gated)
                    fs_ll_wait<UP>(w1, row + hw + i0, FS_THREADS, nu, flag);
#pragma unroll
                for (int u = 0; u < UP; u++) {
                    if (u < nu) {
                        const int c = 2 * (i0 + u * FS_THREADS);
                        float a0, a1, g0 = 1.0f, g1 = 1.0f;
                        fs_ll_unpack<T>(w0[u], a0, a1);
                        if (gated)
                            fs_ll_unpack<T>(w1[u], g0, g1);
                        float y0 = fs_act(fs_fin<T>(a0), act), y1 = fs_act(fs_fin<T>(a1), act);
                        if (gated) {
                            y0 *= fs_fin<T>(g0);
                            y1 *= fs_fin<T>(g1);
                        }
                        as[r * f + c] = t5__dt<T>::store(fs_fin<T>(y0 * inv_scale));
                        as[r * f + c + 1] = t5__dt<T>::store(fs_fin<T>(y1 * inv_scale));
                    }
                }
            }
        }
    }
    for (int r = 0; !PK && r < m; r++) { /* rows, then columns: no division */
        const unsigned long long *row = ff + (size_t)r * ffc;
        for (int i0 = threadIdx.x; i0 < f; i0 += U * FS_THREADS) {
            unsigned long long w0[U], w1[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                int c = i0 + u * FS_THREADS;
                if (c < f) {
                    w0[u] = fs_ll_ld(row + c);
                    if (gated)
                        w1[u] = fs_ll_ld(row + f + c);
                }
            }
            const int nu = (f - i0 + FS_THREADS - 1) / FS_THREADS;
            fs_ll_wait<U>(w0, row + i0, FS_THREADS, nu, flag);
            if (gated)
                fs_ll_wait<U>(w1, row + f + i0, FS_THREADS, nu, flag);
#pragma unroll
            for (int u = 0; u < U; u++) {
                int c = i0 + u * FS_THREADS;
                if (c < f) {
                    float y = fs_act(fs_fin<T>(__uint_as_float((unsigned)w0[u])), act);
                    if (gated)
                        y *= fs_fin<T>(__uint_as_float((unsigned)w1[u]));
                    as[r * f + c] = t5__dt<T>::store(fs_fin<T>(y * inv_scale));
                }
            }
        }
    }
    __syncthreads();
}

/* ---- absorbed cross-attention (the LL kernel with ABS) --------------------------
 * With t5_fused_step's abs_* set (backend.h; absorb.cu fills the entries),
 * a layer's cross-attention takes no phase of its own for its query: P2,
 * after the self-attention's output a and the o GEMV, computes the scores
 * unnormalised, M . [x0 | a] (x0 the layer's input, which P1 gathered: M's
 * rows fold W_cq, ln_cross and W_o, backend.h), one dot product of
 * d + inner per (row, head, key); P4 gathers x1, takes its norm's scale r1,
 * and then softmax(r1 * scores) per (row, head) -> x += N . p. So P3 is
 * empty: five exchanges a layer instead of six, and no phase reads the
 * cross caches. Each block copies the rows of M (P2) and N (P4) it will use
 * into its weight stage before the phase's wait, as fs_stage does for
 * weights. A score's words sit at (r*H + h)*sa + j of the layer's q words,
 * fp32. */

/* What the ABS helpers read, by value (as fs_attn_args). */
struct fs_abs_args {
    const int32_t *rows, *ent; /* t5_fused_step's rows and abs_ent */
    const float *am, *an;      /* abs_m, abs_n */
    size_t stride, mstride;    /* abs_stride, abs_mstride */
    int sa, H, d, inner;
    int per_d, G; /* fs_params' per_d and the grid (fs_abs_of) */
};

/* Keys of row r (its encoded length, 1..sa). */
static __device__ __forceinline__ int fs_abs_len(const fs_abs_args &a, int r)
{
    int n = a.rows[4 * r + 3];
    return n < 1 ? 1 : n > a.sa ? a.sa : n;
}

/* The i-th score this block computes in P3 -> (row, head*sa + key) of the
 * rows' scores laid end to end (H * len each), i.e. index g = i*G + block;
 * false past the end. */
static __device__ __forceinline__ bool fs_abs_score(const fs_abs_args &a, int m, int i, int &r,
                                                    int &hj)
{
    int g = i * a.G + (int)blockIdx.x;
    for (r = 0; r < m; r++) {
        int len = fs_abs_len(a, r), n = a.H * len;
        if (g < n) {
            int h = fs_udiv(g, len);
            hj = h * a.sa + (g - h * len);
            return true;
        }
        g -= n;
    }
    return false;
}

/* Stages this block's rows of M (layer l) into ws: score i's row at ws +
 * i*dm floats, dm = d + inner. */
static __device__ __forceinline__ void fs_abs_stage_m_in(const fs_abs_args a, int m, int l,
                                                         unsigned char *ws)
{
    const int dm = a.d + a.inner, chunks = dm / 4;
    __syncthreads(); /* the previous GEMV has finished reading ws */
    for (int i = 0;; i++) {
        int r, hj;
        if (!fs_abs_score(a, m, i, r, hj))
            break;
        const float *src =
            a.am + (size_t)a.ent[r] * a.mstride + ((size_t)l * a.H * a.sa + hj) * dm;
        for (int c = threadIdx.x; c < chunks; c += FS_THREADS)
            t5__cp16(ws + (size_t)i * dm * 4 + c * 16, src + c * 4);
    }
    t5__cp_commit();
}

static __device__ __noinline__ void fs_abs_stage_m(const fs_abs_args a, int m, int l,
                                                   unsigned char *ws)
{
    fs_abs_stage_m_in(a, m, l, ws);
}

/* P2's scores, unnormalised: M[:, :d] . xs[r] + M[:, d:] . as[r] for this
 * block's rows of M (staged), to the words; xs the layer's input rows x0
 * (fp32), as the self-attention's output rows a (T, inner each). Called
 * right after the o GEMV, whose wait for its stage (pend 0) covered M's
 * rows too; the warps take scores from the last one down, so those without
 * o columns (most of them at one row: t5-base's 6 columns a block take 6
 * of its 12 warps) compute them while the others finish the GEMV. UX, UY:
 * the unrolling of the loops over x0 and a (t5-base's shape kernel spilled
 * 12 B with them whole, and was 4% slower end to end: bench/cuda.md,
 * session 33). */
template <typename T, int UX = 2, int UY = 1>
static __device__ __forceinline__ void fs_abs_scores_in(const fs_abs_args a, const float *xs,
                                                        const T *as, int m,
                                                        const unsigned char *ws,
                                                        unsigned long long *words, unsigned flag)
{
    const int d = a.d, inner = a.inner, H = a.H, sa = a.sa;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    constexpr int VN = fs_vec<T>::N;
    for (int i = FS_WARPS - 1 - warp;; i += FS_WARPS) {
        int r, hj;
        if (!fs_abs_score(a, m, i, r, hj))
            break;
        const float *w = (const float *)(ws + (size_t)i * (d + inner) * 4);
        const float *x = xs + (size_t)r * d;
        const T *y = as + (size_t)r * inner;
        float acc = 0.0f;
#pragma unroll UX
        for (int c = lane * 4; c < d; c += 32 * 4) {
            const float4 wv = *(const float4 *)(w + c), xv = *(const float4 *)(x + c);
            acc += wv.x * xv.x + wv.y * xv.y + wv.z * xv.z + wv.w * xv.w;
        }
        w += d;
#pragma unroll UY
        for (int c = lane * VN; c < inner; c += 32 * VN) {
            float yf[VN];
            fs_load16<T, false>(y + c, yf);
#pragma unroll
            for (int e = 0; e < VN; e++)
                acc += w[c + e] * yf[e];
        }
        acc = t5__warp_sum(acc);
        if (lane == 0)
            fs_ll_st(words + (size_t)r * H * sa + hj, acc, flag);
    }
}

template <typename T, int UX = 2, int UY = 1>
static __device__ __noinline__ void fs_abs_scores(const fs_abs_args a, const float *xs,
                                                  const T *as, int m, const unsigned char *ws,
                                                  unsigned long long *words, unsigned flag)
{
    fs_abs_scores_in<T, UX, UY>(a, xs, as, m, ws, words, flag);
}

/* Stages this block's rows of N (layer l): output (row r, column c0 + cc)
 * at ws + (r*ncols + cc) * H*sa elements. */
static __device__ __forceinline__ void fs_abs_stage_n_in(const fs_abs_args a, int m, int l,
                                                         unsigned char *ws)
{
    const int d = a.d, hs = a.H * a.sa, chunks = hs / 4;
    int c0, c1;
    fs_slice_per(d, a.per_d, c0, c1);
    const int nc = c1 - c0;
    __syncthreads(); /* the o GEMV has finished reading ws */
    for (int idx = threadIdx.x; idx < m * nc * chunks; idx += FS_THREADS) {
        int o = fs_udiv(idx, chunks), ch = idx - o * chunks, r = fs_udiv(o, nc), cc = o - r * nc;
        const float *src = a.an + (size_t)a.ent[r] * a.stride + ((size_t)l * d + c0 + cc) * hs;
        t5__cp16(ws + (size_t)o * hs * 4 + ch * 16, src + ch * 4);
    }
    t5__cp_commit();
}

static __device__ __noinline__ void fs_abs_stage_n(const fs_abs_args a, int m, int l,
                                                   unsigned char *ws)
{
    fs_abs_stage_n_in(a, m, l, ws);
}

/* P4: x1's words (xw) -> xs and each row's norm scale r1 (in red, as
 * fs_norm's); the scores' words -> p (softmax of r1 * score per row and
 * head, in pr), then for this block's columns x1[r][c] + N[c] . p to the
 * words `out`. A warp's first score is asked for before x1's gather. */
static __device__ __forceinline__ void fs_abs_out_in(const fs_abs_args a, int m,
                                                     const unsigned long long *xw,
                                                     const unsigned long long *words, float *pr,
                                                     const unsigned char *ws, float *xs, float eps,
                                                     float *red, unsigned long long *out,
                                                     unsigned flag)
{
    const int d = a.d, H = a.H, sa = a.sa;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    unsigned long long w0 = 0;
    if (warp < m * H && lane < fs_abs_len(a, fs_udiv(warp, H)))
        w0 = fs_ll_ld(words + (size_t)warp * sa + lane);
    fs_ll_gather<float>(xs, xw, m * d, flag);
    fs_rms(xs, m, d, eps, red);
    /* one warp per (row, head): lane j holds key j (sa <= 32) */
    for (int pair = warp; pair < m * H; pair += FS_WARPS) {
        int r = fs_udiv(pair, H), len = fs_abs_len(a, r);
        float s = -INFINITY;
        if (lane < len) {
            const unsigned long long *p = words + (size_t)pair * sa + lane;
            s = red[r] * fs_ll_val(pair == warp ? w0 : fs_ll_ld(p), p, flag);
        }
        float mx = t5__warp_max(s);
        float e = lane < len ? __expf(s - mx) : 0.0f;
        float l = t5__warp_sum(e);
        if (lane < sa)
            pr[(size_t)pair * sa + lane] = e / l;
    }
    t5__cp_wait<1>(); /* N; the next phase's stage may be in flight */
    __syncthreads();
    int c0, c1;
    fs_slice_per(d, a.per_d, c0, c1);
    const int nc = c1 - c0, hs = H * sa;
    for (int o = warp; o < m * nc; o += FS_WARPS) {
        int r = fs_udiv(o, nc), c = c0 + (o - r * nc);
        const float *nrow = (const float *)(ws + (size_t)o * hs * 4);
        const float *p = pr + (size_t)r * hs;
        float acc = 0.0f;
        for (int e = lane; e < hs; e += 32)
            acc += p[e] * nrow[e];
        acc = t5__warp_sum(acc);
        if (lane == 0)
            fs_ll_st(out + (size_t)r * d + c, xs[(size_t)r * d + c] + acc, flag);
    }
}

static __device__ __noinline__ void fs_abs_out(const fs_abs_args a, int m,
                                               const unsigned long long *xw,
                                               const unsigned long long *words, float *pr,
                                               const unsigned char *ws, float *xs, float eps,
                                               float *red, unsigned long long *out, unsigned flag)
{
    fs_abs_out_in(a, m, xw, words, pr, ws, xs, eps, red, out, flag);
}

/* H, d, inner, per_d, G: a's, fs_params' per_d and the grid (constants in
 * the shape kernels, fs_shape) */
static __device__ __forceinline__ fs_abs_args fs_abs_of(const t5_fused_step &a, int H, int d,
                                                        int inner, int per_d, int G)
{
    fs_abs_args g = {a.rows,     a.abs_ent,      a.abs_m, a.abs_n, a.abs_stride,
                     a.abs_mstride, a.abs_sa, H,  d,       inner,   per_d,
                     G};
    return g;
}

/* fs_prefetch of the LM head's slice less its first `skip` columns (CH:
 * those resident in shared memory, fs_head_chain). A helper of its own
 * rather than a skip in fs_prefetch, which fs_stage inlines: this kernel's
 * speed moves with any change to the code every phase runs (bench/cuda.md). */
static __device__ __forceinline__ void fs_prefetch_head(const void *w, int V, int row, int skip,
                                                        int G)
{
    int c0, c1;
    fs_slice_g(V, G, c0, c1);
    c0 = c0 + skip < c1 ? c0 + skip : c1;
    fs_prefetch_bytes((const char *)w + (size_t)c0 * row, (size_t)(c1 - c0) * row);
}

/* CH (t5_fused_step's chain_steps > 1; one row, k = 1, ABS): the launch runs
 * the chain's steps one after the other. Every block takes a step's token
 * from the blocks' best (value, id) pairs, exchanged as LL words
 * (fs_head_chain), as the next step's input, where the per-launch chain
 * waited for block 0's merge, the kernel's end and the next launch; the
 * steps' log-probabilities are merged at the chain's end (fs_chain_finish).
 * Step s's flag is the first's + s (fs_chain_finish moves the count by one
 * grid a step), and the next step's first two stages are asked for during
 * the last layer's end. */
/* FS_INL_CH: the one-row chain kernel (CH) at 384 threads calls no
 * helper. Each helper it uses is an inlined body (fs_*_in) with a
 * non-inlined wrapper, and FS_CALL picks one: the body there (168
 * registers, no stack: ptxas), the wrapper in the other kernels and in the
 * chain kernel at 512 threads (the 16-head models), which spills 96-160 B a
 * thread inlined. Calls cost the chain more than their code: an H200 gave
 * t5-small 1.235-1.263 ms against 1.299-1.312 with the calls, t5-base
 * 2.971-2.978 against 3.055-3.077 (bench/cuda.md, session 26); the same
 * bits (the chain against single steps, which keep the calls). */
#define FS_INL_CH (FS_THREADS <= 384)

/* FS_CALL(INL, fn, <targs>, args...): fn's inlined body fn_in where INL,
 * else the non-inlined fn (an expression: a statement form after the
 * non-chain kernels' return draws nvcc's "loop is not reachable") */
#define FS_CALL(INL, fn, targs, ...)                                                               \
    ((INL) ? fn##_in targs(__VA_ARGS__) : fn targs(__VA_ARGS__))
/* fs_shape: a decoder shape whose one-row chain kernel (CH, FS_INL_CH, 16-bit)
 * is built with its sizes as constants, for the grid of the
 * 132-SM parts (128 blocks: fs_launch_step). Everything a phase computes
 * from the sizes (slices, loop counts, offsets of the exchange words, the
 * activation) then folds at compile time: the phase probe's layer was ~1 us
 * shorter with constant shapes (bench/cuda.md, session 26). fs_shape_rt:
 * every size from the step, for any other shape. fs_shape_fits (host)
 * takes a shape kernel only where every value the kernel would fold
 * equals the step's. */
template <int D, int H, int DKV, int FF, int GATED, int ACT, int V, int G> struct fs_shape {
    static constexpr int d = D, heads = H, dkv = DKV, d_ff = FF, gated = GATED, act = ACT,
                         vocab = V, grid = G;
};
typedef fs_shape<0, 0, 0, 0, 0, 0, 0, 0> fs_shape_rt;

/* The columns a block takes of n over a grid of G: ceil(n / G), made even
 * where the LL words of T hold pairs (FS_LL_ACT2); fs_slices, and the shape
 * kernels at compile time. */
static __host__ __device__ constexpr int fs_per_of(int n, int G, bool even)
{
    return (n + G - 1) / G + (even ? ((n + G - 1) / G) % 2 : 0);
}

/* A shape kernel's words in flight a thread to gather n words at once
 * (1..4). */
static constexpr int fs_ll_u(int n)
{
    return n <= FS_THREADS ? 1 : n <= 2 * FS_THREADS ? 2 : n <= 3 * FS_THREADS ? 3 : 4;
}

/* TR: T5_CUDA_FUSED_TRACE's clock. The inlined chain kernel (FS_INL_CH)
 * comes without it (TR false) unless the trace is on: the clock's tests of
 * the trace pointer cost t5-small 1.2% (bench/cuda.md, session 26). At 512
 * threads the chain keeps it: without, ptxas gives it 72-80 B of stack
 * instead of 16-24. */
template <typename T, int K, bool ABS, bool CH, bool TR = true, class S = fs_shape_rt>
__global__ void __launch_bounds__(FS_THREADS) fused_ll_kernel(const fs_params p)
{
    /* a shape kernel (S) is built for sm_90 only (fused_shapes) */
    constexpr bool SC = S::d > 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ != 900
    if constexpr (SC)
        return;
#endif
    const t5_fused_step &a = p.a;
    extern __shared__ __align__(16) unsigned char fs_sm[];
    T *as = (T *)fs_sm;
    float *xs = (float *)(fs_sm + p.off_xs);
    float *sc = (float *)(fs_sm + p.off_sc);
    float *qs = (float *)(fs_sm + p.off_qs);
    T *qv = (T *)(fs_sm + p.off_qv);
    __shared__ float red[FS_MAXM];
    __shared__ unsigned s_flag;
    /* CH: the step's token (fs_head_chain) in [0]; [1] unused, kept so that the static
     * shared memory stays 224 B (bench/cuda.md, sessions 22 and 28: its size moved the
     * chain's speed) */
    __shared__ int32_t s_tok[2];
    constexpr bool INL = CH && FS_INL_CH;
    /* the shape: S's constants, else the step's */
    const int m = CH ? 1 : a.n, d = SC ? S::d : a.d;
    const int H = SC ? S::heads : a.sh.n_heads, dkv = SC ? S::dkv : a.sh.d_kv, inner = H * dkv;
    const int d_ff = SC ? S::d_ff : a.d_ff, gated = SC ? S::gated : a.gated;
    const int act = SC ? S::act : a.act, V = SC ? S::vocab : a.V;
    const int G = SC ? S::grid : (int)gridDim.x;
    const int ffc = gated ? 2 * d_ff : d_ff, es = (int)sizeof(T);
    const float act_scale = fs_act_scale<T>();
    /* the words of T (q|k|v, cross q, the FFN's input) in pairs (FS_LL_ACT2;
     * fs_launch_step: d_ff even, the slices even) */
    constexpr bool FS_PK = sizeof(T) == 2;
    const int per_qkv = SC ? fs_per_of(3 * inner, G, FS_PK) : p.per_qkv;
    const int per_d = SC ? fs_per_of(d, G, false) : p.per_d;
    const int per_inner = SC ? fs_per_of(inner, G, FS_PK) : p.per_inner;
    const int per_ffc = SC ? fs_per_of(ffc, G, FS_PK) : p.per_ffc;
    /* one layer's words (fs_launch_step's; a shape kernel's rows: one, and
     * the scores' H * abs_sa words fit the cross q's, abs_sa <= 32) */
    const int ll_xb = SC ? d : p.ll_xb, ll_xc = SC ? 2 * d : p.ll_xc;
    const int ll_qkv = SC ? 3 * d : p.ll_qkv, ll_q = SC ? 3 * d + 3 * inner : p.ll_q;
    const int ll_ff = SC ? ll_q + inner : p.ll_ff, ll_layer = SC ? ll_ff + ffc : p.ll_layer;
    /* the words in flight a thread in the gathers of q|k|v and the FFN's
     * input: a shape kernel's all at once (one round trip; t5-base's q|k|v
     * and t5-small's FFN took two), else as any kernel's */
    constexpr int U_QKV = SC ? fs_ll_u(3 * S::heads * S::dkv / 2) : 2;
    constexpr int U_FF = SC ? fs_ll_u(S::d_ff / 2) : 2;
    /* two weight stages: phase t reads ws[t % 2] (six phases a layer), and
     * its weights were asked for two phases ahead, so they land during the
     * phase in between instead of during this phase's wait */
    unsigned char *ws0 = fs_sm + p.off_ws, *ws1 = ws0 + p.ws_bytes;
    const int wsb = p.ws_bytes;
    if (p.pdl) {
        /* launched with PDL (sm_90+, unless T5_CUDA_FUSED_PDL=0): the
         * weights do not depend on the kernel before, so the first two
         * stages are asked for before waiting for it (griddepcontrol.wait:
         * it has completed and its writes are visible); then every block
         * lets the next launch be scheduled, whose blocks wait the same way.
         * The next grid can launch only once every block of this one has
         * started, so this grid's blocks are all resident first, as its
         * exchanges need. */
        FS_CALL(INL, fs_stage, , p.ef, ws0, wsb, a.layers[0].w_qkv, 3 * inner, d, es, per_qkv);
        FS_CALL(INL, fs_stage, , p.ef, ws1, wsb, a.layers[0].w_o, d, inner, es, per_d);
        T5__PDL_ENTRY();
    }
    if (fs_chain_ended(a)) {
        t5__cp_wait<0>();
        return; /* the barrier count stays, so the next launch's flag is this one's */
    }
    unsigned long long *const trace = TR ? p.trace : NULL;
    fs_clock_s clk = {trace};
    if (threadIdx.x == 0) {
        unsigned long long b;
        asm volatile("ld.relaxed.gpu.u64 %0, [%1];" : "=l"(b) : "l"(p.bar) : "memory");
        s_flag = (unsigned)(b / (unsigned)G) + 1u;
    }
    __syncthreads();
    clk.start();
    unsigned f = s_flag;
    if (!p.pdl) {
        FS_CALL(INL, fs_stage, , p.ef, ws0, wsb, a.layers[0].w_qkv, 3 * inner, d, es, per_qkv);
        FS_CALL(INL, fs_stage, , p.ef, ws1, wsb, a.layers[0].w_o, d, inner, es, per_d);
    }
    /* CH: step st's rows, EOS masks and input token */
    const int32_t *rows = a.rows, *no_eos = a.no_eos, *tok = a.tok;
    int st = 0;
next_step:
    for (int l = 0; l < a.n_layers; l++) {
        const t5_fused_layer &w = a.layers[l];
        unsigned long long *L = p.ll + (size_t)l * ll_layer;
        /* P1 */
        float nw0, nw1;
        fs_norm_pre((const float *)w.ln_attn, d, nw0, nw1);
        if (l == 0)
            FS_CALL(INL, fs_load_x, <T>, xs, a.x, a.embed, tok, V, m, d, true);
        else
            fs_ll_gather<float>(xs, L, m * d, f);
        clk.sub(0);
        FS_CALL(INL, fs_norm, <T>, as, xs, (const float *)w.ln_attn, m, d, a.eps, red, 1, nw0, nw1);
        clk.sub(1);
        FS_CALL(INL, fs_gemv, <T>, as, m, d, w.w_qkv, 3 * inner, per_qkv,
                FS_PK ? FS_LL_ACT2 : FS_LL_ACT, L + ll_qkv, 1.0f, ws0, wsb, xs, f, 1);
        clk.sub(2);
        if (ABS) /* for P2's scores */
            FS_CALL(INL, fs_abs_stage_m, , fs_abs_of(a, H, d, inner, per_d, G), m, l, ws0);
        else
            FS_CALL(INL, fs_stage, , p.ef, ws0, wsb, w.w_cq, inner, d, es, per_inner);
        clk.sub(3);
        clk.mark(0);
        /* P2 */
        if (FS_PK)
            fs_ll_gather2<T, U_QKV>(qv, L + ll_qkv, m * 3 * inner / 2, f);
        else
            fs_ll_gather<T>(qv, L + ll_qkv, m * 3 * inner, f);
        clk.sub(0);
        {
            fs_attn_args g = fs_self_args(a, qv, m, p.smax, l, rows, H, dkv);
            if (blockIdx.x != 0)
                g.kw = g.vw = NULL; /* block 0 appends */
            /* ABS: no cross fs_attn writes the score scratch, and a warp has
             * at most one (row, head): layer 0's biases serve the step (T5's
             * one bias table, the same positions in every layer) */
            g.bias_kept = ABS && l > 0 && m * H <= FS_WARPS;
            if constexpr (INL)
                fs_attn_in<T, true, false>(as, g, sc, qs);
            else
                fs_attn<T, true, false>(as, g, sc, qs);
        }
        clk.sub(1);
        /* ABS: the GEMV waits for M's rows too (pend 0), for the scores */
        FS_CALL(INL, fs_gemv, <T>, as, m, inner, w.w_o, d, per_d, FS_LL_ADD, L + ll_xb, 1.0f, ws1,
                wsb, xs, f, ABS ? 0 : 1);
        if (ABS) { /* xs: x0 still, as: a; shapes of d <= 512: the loops whole */
            constexpr int UX = SC && S::d <= 512 ? 4 : 2, UY = SC && S::d <= 512 ? 2 : 1;
            const fs_abs_args g = fs_abs_of(a, H, d, inner, per_d, G);
            if constexpr (INL)
                fs_abs_scores_in<T, UX, UY>(g, xs, as, m, ws0, L + ll_q, f);
            else
                fs_abs_scores<T, UX, UY>(g, xs, as, m, ws0, L + ll_q, f);
        }
        clk.sub(2);
        if (ABS) {
            FS_CALL(INL, fs_abs_stage_n, , fs_abs_of(a, H, d, inner, per_d, G), m, l, ws1);
            FS_CALL(INL, fs_stage, , p.ef, ws0, wsb, w.w_in, ffc, d, es, per_ffc);
        } else {
            FS_CALL(INL, fs_stage, , p.ef, ws1, wsb, w.w_co, d, inner, es, per_d);
        }
        clk.sub(3);
        clk.mark(1);
        if (ABS) {
            clk.mark(2); /* P3: none */
            /* P4 */
            FS_CALL(INL, fs_abs_out, , fs_abs_of(a, H, d, inner, per_d, G), m, L + ll_xb, L + ll_q,
                    (float *)qv, ws1, xs, a.eps, red, L + ll_xc, f);
            clk.sub(0);
            clk.sub(1);
            clk.sub(2);
        } else {
            /* P3 */
            fs_norm_pre((const float *)w.ln_cross, d, nw0, nw1);
            fs_ll_gather<float>(xs, L + ll_xb, m * d, f);
            clk.sub(0);
            FS_CALL(INL, fs_norm, <T>, as, xs, (const float *)w.ln_cross, m, d, a.eps, red, 1, nw0,
                    nw1);
            clk.sub(1);
            FS_CALL(INL, fs_gemv, <T>, as, m, d, w.w_cq, inner, per_inner,
                    FS_PK ? FS_LL_ACT2 : FS_LL_ACT, L + ll_q, 1.0f, ws0, wsb, xs, f, 1);
            clk.sub(2);
            FS_CALL(INL, fs_stage, , p.ef, ws0, wsb, w.w_in, ffc, d, es, per_ffc);
            clk.sub(3);
            clk.mark(2);
            /* P4 */
            if (FS_PK)
                fs_ll_gather2<T>(qv, L + ll_q, m * inner / 2, f);
            else
                fs_ll_gather<T>(qv, L + ll_q, m * inner, f);
            clk.sub(0);
            {
                fs_attn_args g = fs_cross_args(a, qv, m, p.smax, l, H, dkv);
                if constexpr (INL)
                    fs_attn_in<T, false, false>(as, g, sc, qs);
                else
                    fs_attn<T, false, false>(as, g, sc, qs);
            }
            clk.sub(1);
            FS_CALL(INL, fs_gemv, <T>, as, m, inner, w.w_co, d, per_d, FS_LL_ADD, L + ll_xc, 1.0f,
                    ws1, wsb, xs, f, 1);
            clk.sub(2);
        }
        FS_CALL(INL, fs_stage, , p.ef, ws1, wsb, w.w_out, d, d_ff, es, per_d);
        clk.sub(3);
        clk.mark(3);
        /* P5 */
        fs_norm_pre((const float *)w.ln_ff, d, nw0, nw1);
        fs_ll_gather<float>(xs, L + ll_xc, m * d, f);
        clk.sub(0);
        FS_CALL(INL, fs_norm, <T>, as, xs, (const float *)w.ln_ff, m, d, a.eps, red, 1, nw0, nw1);
        clk.sub(1);
        FS_CALL(INL, fs_gemv, <T>, as, m, d, w.w_in, ffc, per_ffc, FS_PK ? FS_LL_ACT2 : FS_LL_ACT,
                L + ll_ff, 1.0f, ws0, wsb, xs, f, 1);
        clk.sub(2);
        if (l + 1 < a.n_layers) {
            FS_CALL(INL, fs_stage, , p.ef, ws0, wsb, a.layers[l + 1].w_qkv, 3 * inner, d, es,
                    per_qkv);
        } else {
            if (CH) /* the head's columns not resident from step 1 on */
                fs_prefetch_head(a.lm_head, V, d * es, st > 0 ? p.hr_cols : 0, G);
            else
                fs_prefetch(a.lm_head, V, d, es);
            t5__cp_commit();
            __syncthreads(); /* as fs_stage's: the block's warps leave together */
        }
        clk.sub(3);
        clk.mark(4);
        /* P6: the output is the next layer's input words (or the head's) */
        fs_ll_ffn_act<T, FS_PK, U_FF>(as, L + ll_ff, m, d_ff, gated, act, 1.0f / act_scale, f);
        clk.sub(0);
        clk.sub(1);
        FS_CALL(INL, fs_gemv, <T>, as, m, d_ff, w.w_out, d, per_d, FS_LL_ADD, L + ll_layer,
                act_scale, ws1, wsb, xs, f, 1);
        clk.sub(2);
        if (l + 1 < a.n_layers) {
            FS_CALL(INL, fs_stage, , p.ef, ws1, wsb, a.layers[l + 1].w_o, d, inner, es, per_d);
        } else if (CH && st + 1 < a.chain_steps) { /* the next step's first stages */
            FS_CALL(INL, fs_stage, , p.ef, ws0, wsb, a.layers[0].w_qkv, 3 * inner, d, es, per_qkv);
            FS_CALL(INL, fs_stage, , p.ef, ws1, wsb, a.layers[0].w_o, d, inner, es, per_d);
        } else {
            __syncthreads(); /* as fs_stage's: the block's warps leave together */
        }
        clk.sub(3);
        clk.mark(5);
    }

    /* P7, P8 as fused_step_kernel's (the head keeps its grid barrier, which
     * also moves the count that the next launch's flag comes from) */
    {
        float nw0, nw1;
        fs_norm_pre((const float *)a.ln_final, d, nw0, nw1);
        fs_ll_gather<float>(xs, p.ll + (size_t)a.n_layers * ll_layer, m * d, f);
        FS_CALL(INL, fs_norm, <T>, as, xs, (const float *)a.ln_final, m, d, a.eps, red, 1, nw0,
                nw1);
    }
    if (trace && blockIdx.x == 0 && threadIdx.x == 0)
        trace[14] = 3; /* the report's labels */
    if (!CH) {
        fs_head<T, K, FS_MAXM>(a, as, m, p.part, p.bar, clk);
        return;
    }
    /* the head's words: two a block after the head's input (fs_launch_step) */
    const int nt =
        FS_CALL(INL, fs_head_chain, <T>, fs_head_ch_of(a, p.hr_cols, (unsigned)p.off_hr, V, d, G),
                as, p.part, p.ll + (size_t)a.n_layers * ll_layer + d, f, (vi *)qs, xs, trace,
                no_eos, s_tok, st);
    if (st + 1 >= a.chain_steps || nt == a.chain_eos) {
        fs_chain_finish(p.part, p.bar, a.top_v, a.top_i, a.chain_stride, st + 1, G);
        t5__cp_wait<0>();
        return; /* the later steps' tokens are EOS already (the engine's blocks) */
    }
    st++;
    f++;
    rows += a.chain_stride;
    if (no_eos)
        no_eos += a.chain_stride;
    tok = s_tok;
    goto next_step;
}

/* ---- ownership (see the top of the file) ------------------------------------ */

#ifndef FS_ALT_BUILD
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
#endif

/* ---- the op ------------------------------------------------------------------------ */

static size_t al16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

typedef void (*fs_kernel_fn)(const fs_params);

/* Whether the shape kernel of S computes exactly what fused_ll_kernel
 * would with p for a one-row chain of G blocks: every size, slice and word
 * offset it folds. */
template <typename T, class S> static bool fs_shape_fits(const fs_params &p, int G)
{
    const t5_fused_step &a = p.a;
    const int inner = S::heads * S::dkv, ffc = S::gated ? 2 * S::d_ff : S::d_ff;
    const bool pk = sizeof(T) == 2;
    const int ll_q = 3 * S::d + 3 * inner;
    return a.d == S::d && a.sh.n_heads == S::heads && a.sh.d_kv == S::dkv && a.d_ff == S::d_ff &&
           !a.gated == !S::gated && a.act == S::act && a.V == S::vocab && G == S::grid &&
           p.per_qkv == fs_per_of(3 * inner, G, pk) && p.per_d == fs_per_of(S::d, G, false) &&
           p.per_inner == fs_per_of(inner, G, pk) && p.per_ffc == fs_per_of(ffc, G, pk) &&
           p.ll_xb == S::d && p.ll_xc == 2 * S::d && p.ll_qkv == 3 * S::d && p.ll_q == ll_q &&
           p.ll_ff == ll_q + inner && p.ll_layer == ll_q + inner + ffc;
}

/* The shapes with a chain kernel of their own (fs_shape): t5-small, t5-base,
 * flan-t5-small / t5-v1_1-small, flan-t5-base / t5-v1_1-base and the
 * speller (models/speller), at 128 blocks (the 132-SM parts). */
typedef fs_shape<512, 8, 64, 2048, 0, T5_ACT_RELU, 32128, 128> fs_t5_small;
typedef fs_shape<768, 12, 64, 3072, 0, T5_ACT_RELU, 32128, 128> fs_t5_base;
typedef fs_shape<512, 6, 64, 1024, 1, T5_ACT_GELU_TANH, 32128, 128> fs_flan_small;
typedef fs_shape<768, 12, 64, 2048, 1, T5_ACT_GELU_TANH, 32128, 128> fs_flan_base;
typedef fs_shape<256, 4, 64, 640, 1, T5_ACT_GELU_TANH, 4096, 128> fs_speller;

/* kern, or the shape kernel that fits p (one-row chain, 16-bit T, no
 * trace); say: print which (T5_CUDA_FUSED_SHAPES=2) */
template <typename T>
static fs_kernel_fn fs_shape_kernel(const fs_params &p, int G, fs_kernel_fn kern, int say)
{
#define FS_SHAPE_TRY(S)                                                                            \
    if (fs_shape_fits<T, S>(p, G)) {                                                               \
        if (say)                                                                                   \
            fprintf(stderr, "t5serve cuda: chain kernel of shape d %d, heads %d, d_ff %d\n", S::d, \
                    S::heads, S::d_ff);                                                            \
        return fused_ll_kernel<T, 1, true, true, false, S>;                                        \
    }
    FS_SHAPE_TRY(fs_t5_small)
    FS_SHAPE_TRY(fs_t5_base)
    FS_SHAPE_TRY(fs_flan_small)
    FS_SHAPE_TRY(fs_flan_base)
    FS_SHAPE_TRY(fs_speller)
#undef FS_SHAPE_TRY
    return kern;
}

/* With the trace (T5_CUDA_FUSED_TRACE): t5-small's and t5-base's fp16 shape
 * kernels with the clock, so that the trace times the kernel that runs
 * (the others: one more kernel each to compile, for a lab tool) */
template <typename T>
static fs_kernel_fn fs_shape_kernel_tr(const fs_params &p, int G, fs_kernel_fn kern)
{
    if constexpr (std::is_same<T, __half>::value) {
        if (fs_shape_fits<T, fs_t5_small>(p, G))
            return fused_ll_kernel<T, 1, true, true, true, fs_t5_small>;
        if (fs_shape_fits<T, fs_t5_base>(p, G))
            return fused_ll_kernel<T, 1, true, true, true, fs_t5_base>;
    }
    return kern;
}

/* Whether this binary's shape kernels were compiled for sm_90: for any
 * other architecture their bodies are empty, and a build without sm_90
 * running on an sm_90 card through an older architecture's PTX must not
 * take them. Asked once a dtype (every shape kernel has the same targets). A
 * template, so that the 512-thread build, which has no shape kernels,
 * instantiates none. */
template <typename T> static int fs_shapes_built(void)
{
    static int built = -1;
    int b = __atomic_load_n(&built, __ATOMIC_RELAXED);
    if (b < 0) {
        cudaFuncAttributes at;
        b = cudaFuncGetAttributes(&at, fused_ll_kernel<T, 1, true, true, false, fs_t5_small>) ==
                cudaSuccess &&
            at.ptxVersion == 90;
        if (!b)
            cudaGetLastError(); /* the failed query's error, not sticky */
        __atomic_store_n(&built, b, __ATOMIC_RELAXED);
    }
    return b;
}

template <typename T, int K>
static int fused_launch(t5_stream *s, fs_params &p, int G, size_t smem, t5_err *err)
{
    void (*kern)(const fs_params) = !p.ll         ? fused_step_kernel<T, K>
                                    : p.a.abs_ent ? fused_ll_kernel<T, K, true, false>
                                                  : fused_ll_kernel<T, K, false, false>;
    if constexpr (K == 1)
        if (p.a.chain_steps > 1) { /* fs_launch_step: the LL kernel, ABS, one row */
            kern = fused_ll_kernel<T, 1, true, true>;
            /* without the clock where inlined (at 512 its frame grows),
             * and by shape (fs_shape) where one fits */
            if constexpr (FS_INL_CH) {
                if (!p.trace)
                    kern = fused_ll_kernel<T, 1, true, true, false>;
                if constexpr (sizeof(T) == 2)
                    if (s->be->fused_shapes && fs_shapes_built<T>())
                        kern = p.trace ? fs_shape_kernel_tr<T>(p, G, kern)
                                       : fs_shape_kernel<T>(p, G, kern, s->be->fused_shapes > 1);
            }
        }
    if (smem > 48 * 1024)
        CU_CHECK(
            cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    int per_sm = 0;
    CU_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, FS_THREADS, smem));
    if (per_sm < 1)
        return 1;
    /* a chain keeps every step's parts (fs_head_chain) */
    size_t part =
        (size_t)p.a.n * G * (2 + 2 * p.a.k) * (p.a.chain_steps > 1 ? (size_t)p.a.chain_steps : 1);
    if (part > 2 * (size_t)T5__TOPK_PARTIALS)
        return 1;
    /* A PDL launch for the LL kernel (be->fused_pdl), which waits at its
     * start with griddepcontrol.wait, so every block sees the previous
     * kernel complete; the barrier kernel is launched after it completes. */
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(G);
    cfg.blockDim = dim3(FS_THREADS);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s->st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = p.pdl ? 1 : 0;
    CU_CHECK(cudaLaunchKernelEx(&cfg, kern, p));
    CU_CHECK_LAUNCH("fused decoder step");
    return 0;
}

/* The columns a block of a grid of G takes (fs_slice_per) of each layer
 * GEMV's outputs: of q|k|v, d, inner and the FFN input's ffc. */
static void fs_slices(fs_params &p, int es, int inner, int d, int ffc, int G)
{
    const bool pk = es == 2; /* the LL kernel's words of T in pairs (FS_LL_ACT2): even slices */
    p.per_qkv = fs_per_of(3 * inner, G, pk);
    p.per_d = fs_per_of(d, G, false);
    p.per_inner = fs_per_of(inner, G, pk);
    p.per_ffc = fs_per_of(ffc, G, pk);
}

/* This file's kernels at FS_THREADS for step a (checked and claimed by
 * t5__cu_decode_step): 1 where they decline, as decode_step. */
static int fs_launch_step(t5_stream *s, const t5_fused_step *a, t5_err *err)
{
    t5__cu_backend *be = s->be;
    const int es = (int)be->base.act_size, dkv = a->sh.d_kv, inner = a->sh.n_heads * dkv;
    int rc;
    /* Where the cluster kernel could be used but declined, this one takes
     * one row only (the barrier kernel loses to the per-op path at 2-4:
     * bench/cuda.md). Otherwise up to FS_MAXM; the row limits that pay
     * (be->fused_max_rows, fused_max_rows_bar) were applied above / below. */
    if (a->n > (be->fused_v2 ? 1 : FS_MAXM))
        return 1;
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
    /* the rows the shared-memory inputs hold: a chain (CH) has one, so the
     * resident head below gets the rest */
    const int mr = a->chain_steps > 1 ? 1 : FS_MAXM;
    p.off_xs = al16((size_t)mr * p.amax * es);
    p.off_sc = p.off_xs + al16((size_t)mr * a->d * 4);
    p.off_qs = p.off_sc + al16((size_t)FS_WARPS * p.smax * 4);
    p.off_qv = p.off_qs + al16((size_t)FS_WARPS * dkv * 4);
    p.off_ws = p.off_qv;
    if (be->fused_ll && s->fs_ll) {
        /* one layer's words: x after each sublayer's input (xa, xb, xc),
         * q|k|v, cross q, ff; then the head's input after the last layer */
        const int m = a->n, ffc = a->gated ? 2 * a->d_ff : a->d_ff;
        p.ll_xb = m * a->d;
        p.ll_xc = 2 * m * a->d;
        p.ll_qkv = 3 * m * a->d;
        p.ll_q = p.ll_qkv + 3 * m * inner;
        /* the cross q words, or with abs_ent the scores (fused_ll_kernel's ABS) */
        const int hs = a->abs_ent ? a->sh.n_heads * a->abs_sa : 0;
        p.ll_ff = p.ll_q + m * (inner > hs ? inner : hs);
        p.ll_layer = p.ll_ff + m * ffc;
        /* + CH's head words, two a block (fs_head_chain) */
        size_t words =
            (size_t)a->n_layers * p.ll_layer + (size_t)m * a->d + 2 * (size_t)be->fused_grid;
        if (words * 8 <= T5__FS_LL_BYTES) {
            p.ll = (unsigned long long *)s->fs_ll;
            p.off_ws = p.off_qv + al16((size_t)mr * 3 * inner * es);
        }
    }
    if (!p.ll && a->n > be->fused_max_rows_bar)
        return 1;
    if (p.ll && es == 2 && a->d_ff % 2)
        return 1; /* the FFN's words in pairs (FS_LL_ACT2) need an even d_ff */
    /* + 4 KB: the static shared memory of the top-k helpers */
    if (p.off_ws + 4096 > be->smem_optin)
        return 1;
    size_t room = be->smem_optin - p.off_ws - 4096;
    if (p.ll)
        room /= 2; /* the LL kernel's two stages (ws0, ws1) */
    /* A stage holds the largest weight slice a block copies (and the ABS
     * entries' rows), no more: the shared memory left unused goes to L1,
     * which holds the kernel's stack (spills and the registers saved around
     * its helper calls, ~40-70 B a thread): with the stages at their cap
     * the carveout left ~28 KB of L1 for ~36 KB of stack. */
    const int H = a->sh.n_heads, sa = a->abs_sa, m = a->n;
    /* The grid: one block per SM (be->fused_grid), less the blocks that
     * would get no columns of any layer GEMV. At 132 SMs t5-small's and
     * t5-base's slices leave the last 4 without any (512 / 132 -> 4 columns
     * a block: 128 blocks), so they only read every exchange and join the
     * head. Without them the exchanges have 4 readers fewer and each block's
     * LM head slice is 3% wider (bench/cuda.md, session 25: t5-base 1.2%
     * faster, t5-small 0.5%). Only where every slice stays the same
     * (fs_slice's too, which divides by the grid on the device): the same
     * bits. */
    const int ffc = a->gated ? 2 * a->d_ff : a->d_ff;
    const int G0 = be->fused_grid;
    fs_slices(p, es, inner, a->d, ffc, G0);
    int G = G0;
    {
        const int cover[4][2] = {
            {3 * inner, p.per_qkv}, {a->d, p.per_d}, {inner, p.per_inner}, {ffc, p.per_ffc}};
        int used = 1;
        for (int i = 0; i < 4; i++) {
            const int b = (cover[i][0] + cover[i][1] - 1) / cover[i][1];
            used = b > used ? b : used;
        }
        fs_params q = p;
        fs_slices(q, es, inner, a->d, ffc, used);
        if (used < G0 && q.per_qkv == p.per_qkv && q.per_d == p.per_d &&
            q.per_inner == p.per_inner && q.per_ffc == p.per_ffc)
            G = used;
    }
    const size_t m_rows = ((size_t)m * H * sa + G - 1) / G, nc = p.per_d;
    {
        /* each stage's slice: its columns x the GEMV's k */
        const int pk[5][2] = {{p.per_qkv, a->d},
                              {p.per_d, inner},
                              {p.per_inner, a->d},
                              {p.per_ffc, a->d},
                              {p.per_d, a->d_ff}};
        size_t need = 0;
        for (int i = 0; i < 5; i++) {
            size_t b = (size_t)pk[i][0] * pk[i][1] * es;
            need = b > need ? b : need;
        }
        if (a->abs_ent) {
            size_t bm = m_rows * (a->d + inner) * 4, bn = (size_t)m * nc * H * sa * 4;
            need = bm > need ? bm : need;
            need = bn > need ? bn : need;
        }
        need = al16(need);
        if (need < room)
            room = need;
    }
    p.ws_bytes = (int)(room < (96u << 10) ? room & ~(size_t)15 : (96u << 10));
    size_t smem = p.off_ws + (p.ll ? 2 : 1) * (size_t)p.ws_bytes;
    if (p.a.abs_ent) {
        /* ABS takes the LL kernel, <= 32 keys (a lane each), its stages in
         * the weight stage and the probabilities in the q|k|v stage */
        if (!p.ll || sa < 1 || sa > 32 || (H * sa) % 4 || a->d % 4 || inner % 4 ||
            m_rows * (a->d + inner) * 4 > (size_t)p.ws_bytes ||
            (size_t)p.per_d * inner * es > (size_t)p.ws_bytes || /* the scores' wait (P2) */
            (size_t)m * nc * H * sa * 4 > (size_t)p.ws_bytes ||
            (size_t)m * H * sa * 4 > (size_t)mr * 3 * inner * es)
            p.a.abs_ent = NULL;
    }
    /* chained steps in one launch: the LL kernel with ABS (CH), one row, greedy */
    if (a->chain_steps > 1 && (!p.ll || !p.a.abs_ent || a->n != 1 || a->k != 1))
        return 1;
    /* CH's head takes its candidates in qs (fs_head_chain's scr) */
    if (a->chain_steps > 1 && 2 * (FS_WARPS + (G + 31) / 32) > (int)(p.off_qv - p.off_qs) / 4)
        return 1;
    if (a->chain_steps > 1 && be->fused_head_kb > 0) {
        /* CH's resident LM head (fs_head_chain): whole columns of the
         * block's slice, up to T5_CUDA_FUSED_HEAD_KB and what shared memory
         * has left, after 16 bytes for its mbarrier */
        const size_t row = (size_t)a->d * es, off = al16(smem) + 16; /* + its mbarrier */
        const size_t fit = off + 4096 < be->smem_optin ? (be->smem_optin - off - 4096) / row : 0;
        size_t cols = (size_t)be->fused_head_kb * 1024 / row, per_v = (a->V + G - 1) / G;
        cols = cols < fit ? cols : fit;
        cols = cols < per_v ? cols : per_v;
        if (cols > 0) {
            p.hr_cols = (int)cols;
            p.off_hr = off;
            smem = off + cols * row;
        }
    }
    p.trace = s->fs_trace;
    p.ef = be->fused_ef;
    p.pdl = p.ll && be->fused_pdl;
    rc = 1;
    if (a->k == 1) {
        T5__DISPATCH(be->base.act_dtype, T, rc = fused_launch<T, 1>(s, p, G, smem, err));
    } else {
        T5__DISPATCH(be->base.act_dtype, T, rc = fused_launch<T, FS_MAXK>(s, p, G, smem, err));
    }
    return rc;
}

#ifdef FS_ALT_BUILD
int FS_ALT_BUILD(t5_stream *s, const t5_fused_step *a, t5_err *err)
{
    return fs_launch_step(s, a, err);
}
#else
/* The threads a block of the LL / barrier kernel for step a: 384 for one
 * row of a 12-head model (a warp for each head's attention, none idle;
 * t5-base on an H100: batch-1 greedy 2.0% faster than with 512, while at
 * 4 rows, batch 4 or 4 beams, 384 was 5% slower and t5-small's 8 heads at
 * one row 1.5% slower: bench/cuda.md, session 12), else 512;
 * T5_CUDA_FUSED_THREADS sets it for every step. Since the attention of
 * 64-wide heads got faster (session 16) t5-base is level at 384 and 512,
 * t5-small 4% slower at 384; left as it is. One-row chains: below. */
static int fs_threads(const t5__cu_backend *be, const t5_fused_step *a)
{
    if (be->fused_threads)
        return be->fused_threads;
    /* A one-launch chain (CH) of a model of <= 12 heads: 384 too. At 512 its
     * kernel spills across the chain's head (48 B of stack, fp16), at 384
     * (168 registers) not: t5-small 1.384-1.394 vs 1.410-1.419 ms on an
     * H100 (bench/cuda.md, session 21). */
    if (a->n == 1 && a->chain_steps > 1 && a->sh.n_heads <= 12)
        return 384;
    return a->n == 1 && a->sh.n_heads == 12 ? 384 : 512;
}

int t5__cu_decode_step(t5_stream *s, const t5_fused_step *a, t5_err *err)
{
    t5__cu_backend *be = s->be;
    const int max_rows = a->abs_ent ? be->fused_max_rows_abs : be->fused_max_rows;
    if (be->no_fused || a->n < 1 || a->n > max_rows || a->k < 1 || a->k > FS_MAXK || a->k > a->V ||
        a->n_layers < 1 || !s->fs_bar)
        return 1;
    const int es = (int)be->base.act_size, dkv = a->sh.d_kv, inner = a->sh.n_heads * dkv;
    if ((dkv * es) % 16 || (a->d * es) % 16 || (inner * es) % 16 || (a->d_ff * es) % 16)
        return 1;
    if (!t5__cu_fused_claim(s))
        return 1;
    CU_ENTER(s);
    if (a->chain_steps > 1 && !be->fused_chain)
        return 1;
    /* Hopper: the cluster kernel (not for a chain) */
    int rc = a->chain_steps > 1 ? 1 : t5__cu_decode_step2(s, a, err);
    if (rc <= 0)
        return rc;
    if (fs_threads(be, a) == 384 && (rc = t5__cu_decode_step_384(s, a, err)) <= 0)
        return rc;
    return fs_launch_step(s, a, err);
}

/* T5_CUDA_FUSED_TRACE: at stream destruction, where a fused step's time
 * went (block 0's view, so each phase includes the barrier that ends it). */
void t5__cu_fused_trace_report(t5_stream *s)
{
    unsigned long long tr[T5__FS_TRACE_WORDS];
    if (cudaMemcpy(tr, s->fs_trace, sizeof tr, cudaMemcpyDeviceToHost) != cudaSuccess) {
        cudaGetLastError();
        return;
    }
    if (!tr[15])
        return;
    double n = (double)tr[15] * 1e3, tot = 0;
    const int v2 = tr[14] == 2;
    static const char *name1[10] = {"norm+qkv",  "self-attn+o", "norm+cq", "cross-attn+co",
                                    "norm+wi",   "act+wo",      "lm head", "top-k parts",
                                    "(barrier)", "top-k merge"};
    static const char *name2[10] = {
        "self sublayer", "cross sublayer", "ffn sublayer", "",           "", "",
        "lm head",       "top-k parts",    "(barrier)",    "top-k merge"};
    const int ll = tr[14] == 3;
    const char **name = v2 ? name2 : name1;
    fprintf(stderr,
            "fused step%s trace: %llu steps; us per step (layer phases summed over layers):",
            v2   ? " (clusters)"
            : ll ? " (LL)"
                 : "",
            tr[15]);
    for (int i = 0; i < 10; i++) {
        if (!name[i][0])
            continue;
        fprintf(stderr, " %s %.2f;", name[i], tr[i] / n);
        tot += tr[i] / n;
    }
    double layers = (double)(tr[0] + tr[1] + tr[2] + tr[3] + tr[4] + tr[5]);
    if (ll) {
        fprintf(stderr,
                " total %.2f; of the layer phases: gather (incl. waiting) %.2f, norm/attention/act "
                "%.2f, GEMV+stores %.2f, stage %.2f\n",
                tot, tr[10] / n, tr[11] / n, tr[12] / n, tr[13] / n);
        fprintf(stderr, "  per phase, us per step (gather incl. waiting / prologue / GEMV+stores / "
                        "stage):");
        for (int i = 0; i < 6; i++)
            fprintf(stderr, " %s %.2f/%.2f/%.2f/%.2f;", name1[i], tr[16 + 4 * i] / n,
                    tr[17 + 4 * i] / n, tr[18 + 4 * i] / n, tr[19 + 4 * i] / n);
        fputc('\n', stderr);
    } else if (v2)
        fprintf(stderr,
                " total %.2f; of the layer phases: gather+norm %.2f, GEMV+exchange %.2f, "
                "attention/act+GEMV+reduce %.2f, arrive+stage %.2f, wait %.2f\n",
                tot, tr[10] / n, tr[11] / n, tr[12] / n, tr[13] / n,
                (layers - tr[10] - tr[11] - tr[12] - tr[13]) / n);
    else
        fprintf(stderr,
                " total %.2f; of the layer phases: prologue %.2f, GEMV %.2f, arrive+stage %.2f, "
                "wait %.2f\n",
                tot, tr[10] / n, tr[11] / n, tr[12] / n, (layers - tr[10] - tr[11] - tr[12]) / n);
}
#endif /* FS_ALT_BUILD */
