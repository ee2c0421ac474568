/* absorb.cu - the cross K/V of one encoded slot folded into the decoder's
 * cross-attention projections (the backend's cross_absorb op).
 *
 * Why. In a batch-1 decoder step the cross-attention of a layer costs two
 * phases of the fused step (fused_step.cu): norm + the query GEMV, then the
 * attention over the keys and values + the output GEMV. Its keys and
 * values do not change during a generation, so per head h
 *   score[j] = q_h . K[h][j] = norm(x) . (W_cq[h]^T K[h][j]) = norm(x) . M[h][j]
 *   out      = W_co[:, h] sum_j p[j] V[h][j] = sum_j p[j] N[:, h, j]
 * and the step computes H*len scores and a short weighted sum instead of
 * the query and the two rounds of cache loads. t5_fused_step (backend.h)
 * says how an entry is laid out; rows j >= len are zero.
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
 * thread one column c of w_cq[h] (read coalesced, 16 rows in flight),
 * every key at once. Then L*H*nt blocks: N of (layer, head, tile of
 * per_n_cols(len) columns), a thread per (column, 4 keys). The head's keys (M) or values (N)
 * sit transposed in shared memory, kt[i][j] for j < KM (zero from len
 * on, which makes the entry's rows j >= len zero), so one 16-byte load
 * gives four keys' i-th dimension. KM is the entry's rows rounded up to
 * AB_SA_SHORT or AB_SA: at 12 the M threads need 64 registers, and four
 * blocks fit an SM instead of three (an H100: t5-small 23.4 -> 20.5 us,
 * t5-base 68.6 -> 57.7 us a launch, bench/cuda.md session 12). */
template <typename T, int KM>
__global__ void __launch_bounds__(AB_THREADS, KM == AB_SA_SHORT ? 4 : 3)
    absorb_kernel(const t5_fused_step a, int ent, int slot, int len)
{
    T5__PDL_ENTRY();
    extern __shared__ float4 ab_sm4[];
    float *kt = (float *)ab_sm4; /* [dkv][KM] */
    const int L = a.n_layers, H = a.sh.n_heads, dkv = a.sh.d_kv, d = a.d, sa = a.abs_sa;
    const int inner = H * dkv, mt = (d + AB_MCOLS - 1) / AB_MCOLS;
    const t5_kv_layout &cl = a.cross_lay;
    int b = blockIdx.x;
    const bool is_m = b < L * H * mt;
    if (!is_m)
        b -= L * H * mt;
    const int per = is_m ? mt : (d + per_n_cols(len) - 1) / per_n_cols(len);
    const int l = b / (H * per), h = (b / per) % H, tile = b % per;
    const T *src = (const T *)(is_m ? a.cross_k : a.cross_v) +
                   (((size_t)l * cl.n_slots + slot) * H + h) * cl.max_len * dkv;
#pragma unroll 4
    for (int x = threadIdx.x; x < KM * dkv; x += AB_THREADS) { /* lanes over keys: no conflicts */
        int i = x / KM, j = x - i * KM;
        kt[x] = j < len ? t5__ld(src + (size_t)j * dkv + i) : 0.0f;
    }
    if (is_m) {
        __syncthreads();
        const int c = tile * AB_MCOLS + threadIdx.x;
        if (c >= d)
            return;
        float acc[KM];
#pragma unroll
        for (int j = 0; j < KM; j++)
            acc[j] = 0.0f;
        const T *w = (const T *)a.layers[l].w_cq + (size_t)h * dkv * d + c;
        for (int i0 = 0; i0 < dkv; i0 += 16) {
            float wv[16];
#pragma unroll
            for (int u = 0; u < 16; u++)
                wv[u] = i0 + u < dkv ? t5__ld(w + (size_t)(i0 + u) * d) : 0.0f;
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
        float *out = (float *)a.abs_m + (size_t)ent * a.abs_stride + ((size_t)l * H + h) * sa * d;
#pragma unroll
        for (int j = 0; j < KM; j++)
            if (j < sa)
                out[(size_t)j * d + c] = acc[j];
        return;
    }
    /* N: w_co rows c0..c0+nc-1, columns h*dkv .. +dkv, rows of dkv+1; thread
     * (column cc, keys 4q..4q+3) for the nq = ceil(len / 4) groups of keys */
    float *wt = kt + KM * dkv;
    const int nq = (len + 3) / 4, nc = per_n_cols(len), c0 = tile * nc, ws = dkv + 1;
#pragma unroll 4
    for (int x = threadIdx.x; x < nc * dkv; x += AB_THREADS) {
        int cc = x / dkv, i = x - cc * dkv;
        wt[cc * ws + i] =
            c0 + cc < d
                ? t5__ld((const T *)a.layers[l].w_co + (size_t)(c0 + cc) * inner + h * dkv + i)
                : 0.0f;
    }
    __syncthreads();
    const int cc = threadIdx.x / nq, q = threadIdx.x - cc * nq;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (cc >= nc || c0 + cc >= d)
        return;
#pragma unroll 4
    for (int i = 0; i < dkv; i++) {
        float wv = wt[cc * ws + i];
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

int t5__cu_cross_absorb(t5_stream *s, const t5_fused_step *a, int ent, int slot, int len,
                        t5_err *err)
{
    if (!a->abs_m || !a->abs_n || a->abs_sa < 1 || len < 1 || len > a->abs_sa ||
        len > a->cross_lay.max_len || slot < 0 || slot >= a->cross_lay.n_slots || ent < 0)
        return t5_errf(err, T5_EINVAL, "cross_absorb: entry %d, slot %d, length %d (max %d)", ent,
                       slot, len, a->abs_sa);
    CU_ENTER(s);
    const int L = a->n_layers, H = a->sh.n_heads, dkv = a->sh.d_kv;
    if (a->abs_sa > AB_SA)
        return t5_errf(err, T5_EINVAL, "cross_absorb: %d keys per entry, at most %d", a->abs_sa,
                       AB_SA);
    int blocks = L * H * ((a->d + AB_MCOLS - 1) / AB_MCOLS) +
                 L * H * ((a->d + per_n_cols(len) - 1) / per_n_cols(len));
    /* entries of up to AB_SA_SHORT keys (inputs of <= 12 tokens with the
     * default limits) take the kernel with that many accumulators */
    const int km = a->abs_sa <= AB_SA_SHORT ? AB_SA_SHORT : AB_SA;
    size_t smem = ((size_t)km * dkv + (size_t)AB_NCOLS * (dkv + 1)) * sizeof(float);
    if (smem > 48 * 1024)
        return t5_errf(err, T5_EINVAL, "cross_absorb: d_kv %d does not fit", dkv);
    if (km == AB_SA_SHORT) {
        T5__DISPATCH(s->be->base.act_dtype, T,
                     CU_CHECK(t5__launch(s, absorb_kernel<T, AB_SA_SHORT>, dim3(blocks),
                                         dim3(AB_THREADS), smem, *a, ent, slot, len)));
    } else {
        T5__DISPATCH(s->be->base.act_dtype, T,
                     CU_CHECK(t5__launch(s, absorb_kernel<T, AB_SA>, dim3(blocks), dim3(AB_THREADS),
                                         smem, *a, ent, slot, len)));
    }
    CU_CHECK_LAUNCH("cross_absorb");
    return 0;
}
