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
#define AB_SA 32    /* keys an entry holds at most (backend.h: the fused step's limit) */
#define AB_MCOLS 256 /* M: columns per block (a thread each) */
#define AB_NCOLS 32  /* N: columns per block */

/* Blocks [0, L*H*mt): M of (layer, head, column tile of AB_MCOLS): the
 * head's keys in shared memory, each thread one column c of w_cq[h] (read
 * coalesced, one row i at a time) accumulating every key j at once.
 * Then L*H*nt blocks: N of (layer, head, tile of AB_NCOLS columns): the
 * tile's rows of w_co[:, h] and the head's values in shared memory, each
 * thread some (c, j). Rows j >= len are written as zeros. */
template <typename T>
__global__ void __launch_bounds__(AB_THREADS)
    absorb_kernel(const t5_fused_step a, int ent, int slot, int len)
{
    T5__PDL_ENTRY();
    extern __shared__ float ab_sm[];
    const int L = a.n_layers, H = a.sh.n_heads, dkv = a.sh.d_kv, d = a.d, sa = a.abs_sa;
    const int inner = H * dkv, mt = (d + AB_MCOLS - 1) / AB_MCOLS;
    const t5_kv_layout &cl = a.cross_lay;
    int b = blockIdx.x;
    const bool is_m = b < L * H * mt;
    if (!is_m)
        b -= L * H * mt;
    const int per = is_m ? mt : (d + AB_NCOLS - 1) / AB_NCOLS;
    const int l = b / (H * per), h = (b / per) % H, tile = b % per;
    const size_t kv_at = (((size_t)l * cl.n_slots + slot) * H + h) * cl.max_len * dkv;
    /* the head's keys (M) or values (N) of positions < len: [len][dkv] */
    float *kv = ab_sm; /* rows of ks = dkv + 1: N's lanes read one column of it */
    const int ks = dkv + 1;
    const T *src = (const T *)(is_m ? a.cross_k : a.cross_v) + kv_at;
#pragma unroll 8
    for (int i = threadIdx.x; i < len * dkv; i += AB_THREADS)
        kv[(i / dkv) * ks + i % dkv] = t5__ld(src + i);
    if (is_m) {
        __syncthreads();
        int c = tile * AB_MCOLS + threadIdx.x;
        if (c >= d)
            return;
        float acc[AB_SA];
#pragma unroll
        for (int j = 0; j < AB_SA; j++)
            acc[j] = 0.0f;
        const T *w = (const T *)a.layers[l].w_cq + (size_t)h * dkv * d + c;
        for (int i0 = 0; i0 < dkv; i0 += 16) { /* 16 loads in flight, then their FMAs */
            float wv[16];
#pragma unroll
            for (int u = 0; u < 16; u++)
                wv[u] = i0 + u < dkv ? t5__ld(w + (size_t)(i0 + u) * d) : 0.0f;
#pragma unroll
            for (int u = 0; u < 16; u++) {
                if (i0 + u >= dkv)
                    break;
#pragma unroll
                for (int j = 0; j < AB_SA; j++)
                    if (j < len)
                        acc[j] += kv[j * ks + i0 + u] * wv[u];
            }
        }
        float *out = (float *)a.abs_m + (size_t)ent * a.abs_stride + ((size_t)l * H + h) * sa * d;
#pragma unroll
        for (int j = 0; j < AB_SA; j++)
            if (j < sa)
                out[(size_t)j * d + c] = acc[j];
        return;
    }
    /* N: w_co rows c0..c0+AB_NCOLS-1, columns h*dkv .. +dkv: [AB_NCOLS][dkv] */
    float *wt = ab_sm + AB_SA * ks;
    const int c0 = tile * AB_NCOLS;
#pragma unroll 8
    for (int i = threadIdx.x; i < AB_NCOLS * dkv; i += AB_THREADS) {
        int cc = i / dkv, ii = i - cc * dkv;
        wt[i] = c0 + cc < d ? t5__ld((const T *)a.layers[l].w_co + (size_t)(c0 + cc) * inner +
                                     h * dkv + ii)
                            : 0.0f;
    }
    __syncthreads();
    float *out = (float *)a.abs_n + (size_t)ent * a.abs_stride + (size_t)l * d * H * sa;
    for (int o = threadIdx.x; o < AB_NCOLS * sa; o += AB_THREADS) {
        int cc = o / sa, j = o - cc * sa;
        if (c0 + cc >= d)
            continue;
        float acc = 0.0f;
        if (j < len)
            for (int i = 0; i < dkv; i++)
                acc += wt[cc * dkv + i] * kv[j * ks + i];
        out[((size_t)(c0 + cc) * H + h) * sa + j] = acc;
    }
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
    int blocks = L * H * ((a->d + AB_MCOLS - 1) / AB_MCOLS) + L * H * ((a->d + AB_NCOLS - 1) / AB_NCOLS);
    size_t smem = ((size_t)AB_SA * (dkv + 1) + (size_t)AB_NCOLS * dkv) * sizeof(float);
    if (smem > 48 * 1024)
        return t5_errf(err, T5_EINVAL, "cross_absorb: d_kv %d does not fit", dkv);
    T5__DISPATCH(s->be->base.act_dtype, T,
                 CU_CHECK(t5__launch(s, absorb_kernel<T>, dim3(blocks), dim3(AB_THREADS), smem, *a,
                                     ent, slot, len)));
    CU_CHECK_LAUNCH("cross_absorb");
    return 0;
}
