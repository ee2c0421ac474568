/* absorb.cu - the cross K/V of one encoded slot folded into the decoder's
 * cross-attention projections (the backend's cross_absorb op), and the
 * model's folded query weights that it starts from (absorb_weights).
 *
 * Why. In a batch-1 decoder step the cross-attention of a layer costs two
 * phases of the fused step (fused_step.cu): norm + the query GEMV, then the
 * attention over the keys and values + the output GEMV. Its keys and
 * values do not change during a generation, so per head h
 *   score[j] = q_h . K[h][j] = norm(x) . (W_cq[h]^T K[h][j]) = norm(x) . M[h][j]
 *   out      = W_co[:, h] sum_j p[j] V[h][j] = sum_j p[j] N[:, h, j]
 * and the step computes H*len scores and a short weighted sum instead of
 * the query and the two rounds of cache loads. t5_fused_step (backend.h)
 * says how an entry is laid out; rows j >= len are zero. M's rows are
 * d + inner wide: W_cq folded with ln_cross, and with it and the
 * self-attention's W_o (w_cqx, absorb_weights below), so that the step
 * computes the scores from the layer's input and the self-attention's
 * output, one exchange before norm(x) would be known (fused_step.cu).
 *
 * A t5-small entry of 9 keys is ~28 M multiply-adds, once per sequence.
 * Entries are fp32 whatever the act dtype: N's entries are products of
 * values with w_co, which in fp16 can exceed its range where the per-op
 * path's (fp32) output GEMV does not (the fp16_overflow fixture).
 */
#include "cuda_internal.cuh"

#define AB_THREADS 256
#define AB_SA 32       /* keys an entry holds at most (backend.h: the fused step's limit) */
#define AB_SA_SHORT 12 /* the kernel for entries of at most this many keys */
#define AB_MCOLS 256   /* M: columns per block (a thread each) */
#define AB_NCOLS 96    /* N: columns per block at most (a thread per 4 keys of each) */

/* N's columns per block for len keys: a thread per (column, 4 keys). */
static __host__ __device__ int per_n_cols(int len)
{
    int c = AB_THREADS / ((len + 3) / 4);
    return c < AB_NCOLS ? c : AB_NCOLS;
}

/* Blocks [0, L*H*mt): M of (layer, head, tile of AB_MCOLS columns): each
 * thread one column c of w_cq[h], every key at once. Then L*H*nt blocks: N
 * of (layer, head, tile of per_n_cols(len) columns), a thread per (column,
 * 4 keys). The head's keys (M) or values (N) sit transposed in shared
 * memory, kt[i][j] for j < KM (zero from len on, which makes the entry's
 * rows j >= len zero), so one 16-byte load gives four keys' i-th dimension.
 * KM is the entry's rows rounded up to AB_SA_SHORT or AB_SA: at 12 the M
 * threads need 64 registers, and four blocks fit an SM instead of three (an
 * H100: t5-small 23.4 -> 20.5 us, t5-base 68.6 -> 57.7 us a launch,
 * bench/cuda.md session 12).
 *
 * Every load is in flight at once: the block's weights (w_cq[h]'s rows for
 * its columns, or its rows of w_co[:, h]) are copied into shared memory with
 * cp.async before the PDL wait (they do not depend on the kernel before),
 * and the keys / values are one 16-byte load per thread. The loops before
 * were up to six dependent rounds of L2 / HBM latency (vec = 0: shapes whose
 * rows are not 16-byte multiples still take scalar loads, same arithmetic). */
template <typename T, int KM>
__global__ void __launch_bounds__(AB_THREADS, KM == AB_SA_SHORT ? 4 : 3)
    absorb_kernel(const t5_fused_step a, int ent, int slot, int len, int vec)
{
    extern __shared__ float4 ab_sm4[];
    float *kt = (float *)ab_sm4; /* [dkv][KM] */
    const int L = a.n_layers, H = a.sh.n_heads, dkv = a.sh.d_kv, d = a.d, sa = a.abs_sa;
    const int inner = H * dkv, dm = d + inner, mt = (dm + AB_MCOLS - 1) / AB_MCOLS;
    constexpr int E = 16 / sizeof(T); /* elements a 16-byte copy moves */
    const t5_kv_layout &cl = a.cross_lay;
    int b = blockIdx.x;
    const bool is_m = b < L * H * mt;
    if (!is_m)
        b -= L * H * mt;
    const int per = is_m ? mt : (d + per_n_cols(len) - 1) / per_n_cols(len);
    const int l = b / (H * per), h = (b / per) % H, tile = b % per;
    /* the block's weights, as T: M's w_cqx[h] rows x its columns [dkv][AB_MCOLS],
     * N's w_co rows c0.. at columns h*dkv.. [nc][ws] */
    T *wsm = (T *)(kt + KM * dkv);
    const int nq = (len + 3) / 4, nc = per_n_cols(len), ws = dkv + 8;
    const int c0 = is_m ? tile * AB_MCOLS : tile * nc, cols = is_m ? dm : d;
    const int ncols = (is_m ? AB_MCOLS : nc) < cols - c0 ? (is_m ? AB_MCOLS : nc) : cols - c0;
    const T *wg = is_m ? (const T *)a.layers[l].w_cqx + (size_t)h * dkv * dm + c0
                       : (const T *)a.layers[l].w_co + (size_t)c0 * inner + h * dkv;
    if (vec) {
        if (is_m) {
            const int pr = ncols / E;
            for (int x = threadIdx.x; x < dkv * pr; x += AB_THREADS) {
                int i = x / pr, cc = (x - i * pr) * E;
                t5__cp16(wsm + i * AB_MCOLS + cc, wg + (size_t)i * dm + cc);
            }
        } else {
            const int pr = dkv / E;
            for (int x = threadIdx.x; x < ncols * pr; x += AB_THREADS) {
                int cc = x / pr, i = (x - cc * pr) * E;
                t5__cp16(wsm + cc * ws + i, wg + (size_t)cc * inner + i);
            }
        }
        t5__cp_commit();
    }
    T5__PDL_ENTRY();
    const T *src = (const T *)(is_m ? a.cross_k : a.cross_v) +
                   (((size_t)l * cl.n_slots + slot) * H + h) * cl.max_len * dkv;
    if (vec) { /* keys j < len: one 16-byte load each of E of a key's dimensions */
        const int pr = dkv / E;
        for (int x = threadIdx.x; x < len * pr; x += AB_THREADS) {
            int j = x / pr, i = (x - j * pr) * E;
            uint4 u = *(const uint4 *)(src + (size_t)j * dkv + i);
            const T *e = (const T *)&u;
#pragma unroll
            for (int q = 0; q < E; q++)
                kt[(i + q) * KM + j] = t5__dt<T>::load(e[q]);
        }
    }
#pragma unroll 4
    for (int x = threadIdx.x; x < KM * dkv; x += AB_THREADS) { /* lanes over keys: no conflicts */
        int i = x / KM, j = x - i * KM;
        if (j >= len)
            kt[x] = 0.0f;
        else if (!vec)
            kt[x] = t5__ld(src + (size_t)j * dkv + i);
    }
    if (!vec) {
        if (is_m) {
            for (int x = threadIdx.x; x < dkv * ncols; x += AB_THREADS) {
                int i = x / ncols, cc = x - i * ncols;
                wsm[i * AB_MCOLS + cc] = wg[(size_t)i * dm + cc];
            }
        } else {
            for (int x = threadIdx.x; x < ncols * dkv; x += AB_THREADS) {
                int cc = x / dkv, i = x - cc * dkv;
                wsm[cc * ws + i] = wg[(size_t)cc * inner + i];
            }
        }
    }
    t5__cp_wait<0>();
    __syncthreads();
    if (is_m) {
        const int c = c0 + threadIdx.x;
        if (c >= dm)
            return;
        float acc[KM];
#pragma unroll
        for (int j = 0; j < KM; j++)
            acc[j] = 0.0f;
        const T *w = wsm + threadIdx.x;
        for (int i0 = 0; i0 < dkv; i0 += 16) {
            float wv[16];
#pragma unroll
            for (int u = 0; u < 16; u++)
                wv[u] = i0 + u < dkv ? t5__ld(w + (i0 + u) * AB_MCOLS) : 0.0f;
#pragma unroll
            for (int u = 0; u < 16; u++) {
                if (i0 + u >= dkv)
                    break;
                const float4 *k4 = (const float4 *)(kt + (i0 + u) * KM);
#pragma unroll
                for (int q = 0; q < KM / 4; q++) {
                    if (4 * q >= len)
                        break;
                    float4 kq = k4[q];
                    acc[4 * q + 0] += kq.x * wv[u];
                    acc[4 * q + 1] += kq.y * wv[u];
                    acc[4 * q + 2] += kq.z * wv[u];
                    acc[4 * q + 3] += kq.w * wv[u];
                }
            }
        }
        float *out =
            (float *)a.abs_m + (size_t)ent * a.abs_mstride + ((size_t)l * H + h) * sa * dm;
        const float sc = ldexpf(1.0f, a.layers[l].cqx_exp);
#pragma unroll
        for (int j = 0; j < KM; j++)
            if (j < sa)
                out[(size_t)j * dm + c] = acc[j] * sc;
        return;
    }
    /* N: thread (column cc, keys 4q..4q+3) for the nq = ceil(len / 4) groups of keys */
    const int cc = threadIdx.x / nq, q = threadIdx.x - cc * nq;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (cc >= ncols)
        return;
    const T *wr = wsm + cc * ws;
#pragma unroll 4
    for (int i = 0; i < dkv; i++) {
        float wv = t5__ld(wr + i);
        float4 kq = ((const float4 *)(kt + i * KM))[q];
        acc.x += wv * kq.x, acc.y += wv * kq.y, acc.z += wv * kq.z, acc.w += wv * kq.w;
    }
    float *out =
        (float *)a.abs_n + (size_t)ent * a.abs_stride + (((size_t)l * d + c0 + cc) * H + h) * sa;
    const float v[4] = {acc.x, acc.y, acc.z, acc.w};
#pragma unroll
    for (int u = 0; u < 4; u++)
        if (4 * q + u < sa)
            out[4 * q + u] = v[u];
    for (int j = 4 * nq + q; j < sa; j += nq) /* the rows past the keys' groups */
        out[j] = 0.0f;
}

/* ---- on the tensor cores ------------------------------------------------------
 * The kernel above spends its time in the CUDA cores' multiply-adds and their
 * shared-memory reads (Nsight on an H200: 15 us for t5-small, 36 us for t5-base,
 * bench/cuda.md session 30), where the weights it must read take ~2 / ~7 us
 * at HBM speed. Both products are small GEMMs with the keys as the 16-row
 * side, so with 16-bit weights and entries of at most 16 keys:
 *   M[h] (16 x dm) = K[h] (16 x dkv) . W_cqx[h] (dkv x dm), dm = d + inner
 *   N[h]^T (d x 16) = W_co[:, h] (d x dkv) . V[h]^T (dkv x 16)
 * A warp takes 64 columns of d of one (layer, head, M or N). Its weights go
 * into shared memory with cp.async before the PDL wait, the head's keys or
 * values (rows past len zero) after it, and ldmatrix feeds mma.m16n8k16:
 * transposed for W_cqx, whose rows run along dm. Products of 16-bit values
 * are exact in fp32 and accumulate in fp32, so an entry differs from the
 * CUDA-core kernel's only in the order of its dkv-term sum. */
#define AM_WARPS 4
#define AM_COLS 64  /* columns of d a warp takes */
#define AM_KMAX 128 /* d_kv at most */

/* Elements of a warp's weight tile for d_kv padded to kd (a multiple of 16):
 * M's [kd][AM_COLS + 8] or N's [AM_COLS][kd + 8], whichever is larger (the
 * +8 keeps ldmatrix's eight 16-byte rows in distinct banks). */
static __host__ __device__ int am_tile(int kd)
{
    int m = kd * (AM_COLS + 8), n = AM_COLS * (kd + 8);
    return m > n ? m : n;
}

static __device__ __forceinline__ void am_ldsm(unsigned *r, const void *p)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
#endif
}

static __device__ __forceinline__ void am_ldsm_t(unsigned *r, const void *p)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
#endif
}

/* 16 bytes of shared memory from src, or zeros where !ok. */
static __device__ __forceinline__ void am_cp(void *dst, const void *src, bool ok)
{
    if (ok)
        t5__cp16(dst, src);
    else
        *(uint4 *)dst = make_uint4(0, 0, 0, 0);
}

/* Columns a block takes: AM_WARPS * AM_COLS. */
static __host__ __device__ int am_per(int cols)
{
    return (cols + AM_WARPS * AM_COLS - 1) / (AM_WARPS * AM_COLS);
}

/* Blocks [0, L*H*am_per(d + inner)): M of (layer, head, AM_WARPS * AM_COLS
 * columns); then L*H*am_per(d) for N. */
template <typename T>
__global__ void __launch_bounds__(AM_WARPS * 32)
    absorb_mma_kernel(const t5_fused_step a, int ent, int slot, int len, const int32_t *dev)
{
    extern __shared__ __align__(16) unsigned char am_sm[];
    const int L = a.n_layers, H = a.sh.n_heads, dkv = a.sh.d_kv, d = a.d, sa = a.abs_sa;
    const int inner = H * dkv, dm = d + inner, kd = (dkv + 15) & ~15, k8 = kd / 8;
    int b = blockIdx.x, per = am_per(dm);
    const bool is_n = b >= L * H * per;
    if (is_n)
        b -= L * H * per, per = am_per(d);
    const int l = b / (H * per), h = (b / per) % H, cols = is_n ? d : dm;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int c0 = ((b % per) * AM_WARPS + warp) * AM_COLS;
    const int wst = is_n ? kd + 8 : AM_COLS + 8, kst = kd + 8;
    T *wt = (T *)am_sm + (size_t)warp * am_tile(kd);
    T *kv = (T *)am_sm + (size_t)AM_WARPS * am_tile(kd); /* [16][kst]: keys or values */
    if (c0 < cols) {
        if (!is_n) { /* rows i of W_cqx[h], its columns c0.. */
            const T *src = (const T *)a.layers[l].w_cqx + (size_t)h * dkv * dm + c0;
            for (int x = lane; x < kd * (AM_COLS / 8); x += 32) {
                int i = x / (AM_COLS / 8), cc = (x - i * (AM_COLS / 8)) * 8;
                am_cp(wt + i * wst + cc, src + (size_t)i * dm + cc, i < dkv && c0 + cc < dm);
            }
        } else { /* rows c0.. of W_co, head h's columns */
            const T *src = (const T *)a.layers[l].w_co + (size_t)c0 * inner + h * dkv;
            for (int x = lane; x < AM_COLS * k8; x += 32) {
                int r = x / k8, i = (x - r * k8) * 8;
                am_cp(wt + r * wst + i, src + (size_t)r * inner + i, c0 + r < d && i < dkv);
            }
        }
    }
    t5__cp_commit();
    if (dev) { /* uploaded before the kernel before this one started (backend.h) */
        ent = dev[0];
        slot = dev[1];
        len = dev[2];
    }
    T5__PDL_ENTRY();
    const t5_kv_layout &cl = a.cross_lay;
    const T *src = (const T *)(is_n ? a.cross_v : a.cross_k) +
                   (((size_t)l * cl.n_slots + slot) * H + h) * cl.max_len * dkv;
    for (int x = threadIdx.x; x < 16 * k8; x += blockDim.x) {
        int j = x / k8, i = (x - j * k8) * 8;
        am_cp(kv + j * kst + i, src + (size_t)j * dkv + i, j < len && i < dkv);
    }
    t5__cp_commit();
    t5__cp_wait<0>();
    __syncthreads();
    if (c0 >= cols)
        return;

    /* ldmatrix.x4: lane l gives a row of matrix l / 8 */
    const int mi = lane >> 3, r8 = lane & 7, grp = lane >> 2, q = lane & 3;
    if (!is_n) {
        float acc[AM_COLS / 8][4] = {};
        for (int k0 = 0; k0 < kd; k0 += 16) {
            unsigned af[4];
            am_ldsm(af, kv + (r8 + 8 * (mi & 1)) * kst + k0 + 8 * (mi >> 1));
#pragma unroll
            for (int np = 0; np < AM_COLS / 16; np++) {
                unsigned bf[4];
                am_ldsm_t(bf, wt + (k0 + r8 + 8 * (mi & 1)) * wst + 16 * np + 8 * (mi >> 1));
                t5__mma16816<T>(acc[2 * np], af, bf[0], bf[1]);
                t5__mma16816<T>(acc[2 * np + 1], af, bf[2], bf[3]);
            }
        }
        float *out =
            (float *)a.abs_m + (size_t)ent * a.abs_mstride + ((size_t)l * H + h) * sa * dm;
        const float sc = ldexpf(1.0f, a.layers[l].cqx_exp);
#pragma unroll
        for (int t = 0; t < AM_COLS / 8; t++) {
            int c = c0 + 8 * t + 2 * q;
            if (c >= dm)
                continue;
            if (grp < sa)
                *(float2 *)(out + (size_t)grp * dm + c) =
                    make_float2(acc[t][0] * sc, acc[t][1] * sc);
            if (grp + 8 < sa)
                *(float2 *)(out + (size_t)(grp + 8) * dm + c) =
                    make_float2(acc[t][2] * sc, acc[t][3] * sc);
        }
        return;
    }
    float acc[AM_COLS / 16][2][4] = {};
    for (int k0 = 0; k0 < kd; k0 += 16) {
        unsigned bf[4];
        am_ldsm(bf, kv + (r8 + 8 * (mi >> 1)) * kst + k0 + 8 * (mi & 1));
#pragma unroll
        for (int mt = 0; mt < AM_COLS / 16; mt++) {
            unsigned af[4];
            am_ldsm(af, wt + (16 * mt + r8 + 8 * (mi & 1)) * wst + k0 + 8 * (mi >> 1));
            t5__mma16816<T>(acc[mt][0], af, bf[0], bf[1]);
            t5__mma16816<T>(acc[mt][1], af, bf[2], bf[3]);
        }
    }
    float *out = (float *)a.abs_n + (size_t)ent * a.abs_stride + (size_t)l * d * H * sa;
#pragma unroll
    for (int mt = 0; mt < AM_COLS / 16; mt++) {
#pragma unroll
        for (int t = 0; t < 2; t++) {
            int j = 8 * t + 2 * q, c = c0 + 16 * mt + grp;
            if (j >= sa) /* sa is a multiple of 4: j + 1 < sa too */
                continue;
            if (c < d)
                *(float2 *)(out + ((size_t)c * H + h) * sa + j) =
                    make_float2(acc[mt][t][0], acc[mt][t][1]);
            if (c + 8 < d)
                *(float2 *)(out + ((size_t)(c + 8) * H + h) * sa + j) =
                    make_float2(acc[mt][t][2], acc[mt][t][3]);
        }
    }
}

template <typename T>
static int absorb_mma_launch(t5_stream *s, const t5_fused_step *a, int ent, int slot, int len,
                             const int32_t *dev, t5_err *err)
{
    const int kd = (a->sh.d_kv + 15) & ~15, inner = a->sh.n_heads * a->sh.d_kv;
    const int per = am_per(a->d + inner) + am_per(a->d);
    const size_t smem = ((size_t)AM_WARPS * am_tile(kd) + (size_t)16 * (kd + 8)) * sizeof(T);
    static int raised[64]; /* the >48 KB opt-in, per function and device */
    if (smem > 48 * 1024 && (int)smem > raised[s->be->dev & 63]) {
        CU_CHECK(cudaFuncSetAttribute(absorb_mma_kernel<T>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        raised[s->be->dev & 63] = (int)smem;
    }
    CU_CHECK(t5__launch(s, absorb_mma_kernel<T>, dim3(a->n_layers * a->sh.n_heads * per),
                        dim3(AM_WARPS * 32), smem, *a, ent, slot, len, dev));
    return 0;
}

/* Dynamic shared memory of absorb_kernel: kt and the larger weight stage. */
static size_t absorb_smem(int km, int dkv, size_t es)
{
    size_t wm = (size_t)dkv * AB_MCOLS, wn = (size_t)AB_NCOLS * (dkv + 8);
    return (size_t)km * dkv * sizeof(float) + (wm > wn ? wm : wn) * es;
}

template <typename T, int KM>
static int absorb_launch(t5_stream *s, const t5_fused_step *a, int blocks, size_t smem, int ent,
                         int slot, int len, int vec, t5_err *err)
{
    static int raised[64]; /* the >48 KB opt-in, per function and device */
    if (smem > 48 * 1024 && (int)smem > raised[s->be->dev & 63]) {
        CU_CHECK(cudaFuncSetAttribute(absorb_kernel<T, KM>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        raised[s->be->dev & 63] = (int)smem;
    }
    CU_CHECK(t5__launch(s, absorb_kernel<T, KM>, dim3(blocks), dim3(AB_THREADS), smem, *a, ent,
                        slot, len, vec));
    return 0;
}

int t5__cu_cross_absorb(t5_stream *s, const t5_fused_step *a, int ent, int slot, int len,
                        const int32_t *dev, t5_err *err)
{
    if (dev) /* the bounds are the engine's to keep */
        ent = slot = 0;
    if (!a->abs_m || !a->abs_n || a->abs_sa < 1 || len < 1 || len > a->abs_sa ||
        len > a->cross_lay.max_len || slot < 0 || slot >= a->cross_lay.n_slots || ent < 0)
        return t5_errf(err, T5_EINVAL, "cross_absorb: entry %d, slot %d, length %d (max %d)", ent,
                       slot, len, a->abs_sa);
    CU_ENTER(s);
    const int L = a->n_layers, H = a->sh.n_heads, dkv = a->sh.d_kv, dm = a->d + H * dkv;
    int rc = 0;
    if (a->abs_sa > AB_SA)
        return t5_errf(err, T5_EINVAL, "cross_absorb: %d keys per entry, at most %d", a->abs_sa,
                       AB_SA);
    for (int l = 0; l < L; l++)
        if (!a->layers[l].w_cqx)
            return t5_errf(err, T5_EINVAL, "cross_absorb: layer %d has no w_cqx", l);
    int blocks = L * H * ((dm + AB_MCOLS - 1) / AB_MCOLS) +
                 L * H * ((a->d + per_n_cols(len) - 1) / per_n_cols(len));
    /* entries of up to AB_SA_SHORT keys (inputs of <= 12 tokens with the
     * default limits) take the kernel with that many accumulators */
    const int km = a->abs_sa <= AB_SA_SHORT ? AB_SA_SHORT : AB_SA;
    const size_t es = s->be->base.act_size;
    size_t smem = absorb_smem(km, dkv, es);
    if (smem + 1024 > s->be->smem_optin)
        return t5_errf(err, T5_EINVAL, "cross_absorb: d_kv %d does not fit", dkv);
    /* 16-byte copies where every row the kernel reads is a multiple of 16 bytes */
    const size_t e16 = 16 / es;
    uintptr_t al = (uintptr_t)a->cross_k | (uintptr_t)a->cross_v;
    for (int l = 0; l < L; l++)
        al |= (uintptr_t)a->layers[l].w_cqx | (uintptr_t)a->layers[l].w_co;
    const int vec = al % 16 == 0 && dkv % e16 == 0 && a->d % e16 == 0;
    if (s->be->absorb_mma && vec && es == 2 && a->abs_sa <= 16 && dkv <= AM_KMAX) {
        if (s->be->base.act_dtype == T5_F16)
            rc = absorb_mma_launch<__half>(s, a, ent, slot, len, dev, err);
        else
            rc = absorb_mma_launch<__nv_bfloat16>(s, a, ent, slot, len, dev, err);
    } else if (dev) { /* absorb_kernel's grid depends on len */
        return 1;
    } else if (km == AB_SA_SHORT) {
        T5__DISPATCH(s->be->base.act_dtype, T,
                     rc = absorb_launch<T, AB_SA_SHORT>(s, a, blocks, smem, ent, slot, len, vec,
                                                        err));
    } else {
        T5__DISPATCH(s->be->base.act_dtype, T,
                     rc = absorb_launch<T, AB_SA>(s, a, blocks, smem, ent, slot, len, vec, err));
    }
    if (rc < 0)
        return rc;
    CU_CHECK_LAUNCH("cross_absorb");
    return 0;
}

/* ---- the folded query weights (absorb_weights) --------------------------------
 * Per layer, w_cqx [inner][d + inner] = [W_cq diag(ln_cross) | W_cq
 * diag(ln_cross) W_o] * 2^-e: the scores of the cross-attention are then
 * r1 * (M[:, :d] . x0 + M[:, d:] . a) with M = K . w_cqx * 2^e (backend.h),
 * which a step computes before x1 = x0 + W_o . a is whole. The product is
 * fp32 (a plain tiled kernel: it runs once per engine), then rounded to the
 * act dtype; e, a power of two per layer, keeps an fp16 table's largest
 * entry at 2^13..2^14 (in range, and clear of fp16's subnormals). */
#define CQ_T 16

/* out [inner][inner] = W_cq diag(ln) W_o, fp32 (W_cq [inner][d], W_o [d][inner]) */
template <typename T>
__global__ void cqx_product_kernel(const T *wcq, const float *ln, const T *wo, float *out,
                                   int inner, int d)
{
    __shared__ float ta[CQ_T][CQ_T + 1], tb[CQ_T][CQ_T + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int i = blockIdx.y * CQ_T + ty, j = blockIdx.x * CQ_T + tx;
    float acc = 0.0f;
    for (int c0 = 0; c0 < d; c0 += CQ_T) {
        const int ca = c0 + tx, cb = c0 + ty;
        ta[ty][tx] = i < inner && ca < d ? t5__ld(wcq + (size_t)i * d + ca) * ln[ca] : 0.0f;
        tb[ty][tx] = cb < d && j < inner ? t5__ld(wo + (size_t)cb * inner + j) : 0.0f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < CQ_T; k++)
            acc += ta[ty][k] * tb[k][tx];
        __syncthreads();
    }
    if (i < inner && j < inner)
        out[(size_t)i * inner + j] = acc;
}

/* The entry at (i, c) of the layer's table before its scale. */
template <typename T>
static __device__ __forceinline__ float cqx_entry(const T *wcq, const float *ln, const float *prod,
                                                  int inner, int d, int i, int c)
{
    return c < d ? t5__ld(wcq + (size_t)i * d + c) * ln[c] : prod[(size_t)i * inner + c - d];
}

/* *mx = max(*mx, |entries|) as float bits (non-negative: the order of the
 * bits is the order of the values; NaN above everything). */
template <typename T>
__global__ void cqx_max_kernel(const T *wcq, const float *ln, const float *prod, int inner, int d,
                               unsigned *mx)
{
    const size_t n = (size_t)inner * (d + inner);
    unsigned m = 0;
    for (size_t x = blockIdx.x * (size_t)blockDim.x + threadIdx.x; x < n;
         x += (size_t)gridDim.x * blockDim.x) {
        const int i = (int)(x / (d + inner)), c = (int)(x - (size_t)i * (d + inner));
        const unsigned u = __float_as_uint(fabsf(cqx_entry(wcq, ln, prod, inner, d, i, c)));
        m = u > m ? u : m;
    }
    for (int o = 16; o > 0; o >>= 1) {
        const unsigned v = __shfl_xor_sync(0xffffffffu, m, o);
        m = v > m ? v : m;
    }
    if ((threadIdx.x & 31) == 0)
        atomicMax(mx, m);
}

template <typename T>
__global__ void cqx_store_kernel(const T *wcq, const float *ln, const float *prod, int inner,
                                 int d, int e, T *out)
{
    const size_t n = (size_t)inner * (d + inner);
    for (size_t x = blockIdx.x * (size_t)blockDim.x + threadIdx.x; x < n;
         x += (size_t)gridDim.x * blockDim.x) {
        const int i = (int)(x / (d + inner)), c = (int)(x - (size_t)i * (d + inner));
        out[x] = t5__dt<T>::store(ldexpf(cqx_entry(wcq, ln, prod, inner, d, i, c), -e));
    }
}

template <typename T>
static int cqx_layer(t5_stream *s, t5_fused_layer *w, int inner, int d, T *out, float *prod,
                     unsigned *mx_dev, t5_err *err)
{
    const T *wcq = (const T *)w->w_cq, *wo = (const T *)w->w_o;
    const float *ln = (const float *)w->ln_cross;
    cqx_product_kernel<T><<<dim3((inner + CQ_T - 1) / CQ_T, (inner + CQ_T - 1) / CQ_T),
                            dim3(CQ_T, CQ_T), 0, s->st>>>(wcq, ln, wo, prod, inner, d);
    CU_CHECK(cudaMemsetAsync(mx_dev, 0, sizeof(unsigned), s->st));
    cqx_max_kernel<T><<<256, 256, 0, s->st>>>(wcq, ln, prod, inner, d, mx_dev);
    CU_CHECK(cudaStreamSynchronize(s->st));
    float mx;
    CU_CHECK(cudaMemcpy(&mx, mx_dev, sizeof mx, cudaMemcpyDeviceToHost));
    if (!isfinite(mx))
        return t5_errf(err, T5_EINVAL, "absorb_weights: the folded query weights are not finite");
    int e = 0;
    if (s->be->base.act_dtype == T5_F16 && mx > 0.0f) {
        frexpf(mx, &e); /* mx < 2^e */
        e -= 14;
    }
    w->cqx_exp = e;
    cqx_store_kernel<T><<<256, 256, 0, s->st>>>(wcq, ln, prod, inner, d, e, out);
    CU_CHECK_LAUNCH("absorb_weights");
    w->w_cqx = out;
    return 0;
}

int t5__cu_absorb_weights(t5_stream *s, t5_fused_step *a, void *wx, t5_err *err)
{
    CU_ENTER(s);
    const int inner = a->sh.n_heads * a->sh.d_kv, d = a->d;
    float *prod = NULL;
    unsigned *mx = NULL;
    int rc = 0;
    cudaError_t ce = cudaMalloc((void **)&prod, sizeof(float) * (size_t)inner * inner);
    if (ce == cudaSuccess)
        ce = cudaMalloc((void **)&mx, sizeof(unsigned));
    if (ce != cudaSuccess)
        rc = t5_errf(err, T5_EDEVICE, "absorb_weights: %s", cudaGetErrorString(ce));
    const size_t per = (size_t)inner * (d + inner) * s->be->base.act_size;
    for (int l = 0; l < a->n_layers && rc >= 0; l++) {
        void *out = (char *)wx + (size_t)l * per;
        T5__DISPATCH(s->be->base.act_dtype, T,
                     rc = cqx_layer<T>(s, &a->layers[l], inner, d, (T *)out, prod, mx, err));
    }
    if (rc >= 0 && (ce = cudaStreamSynchronize(s->st)) != cudaSuccess)
        rc = t5_errf(err, T5_EDEVICE, "absorb_weights: %s", cudaGetErrorString(ce));
    cudaFree(prod);
    cudaFree(mx);
    return rc;
}
