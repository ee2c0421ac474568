/* attn_encoder.cu - encoder self-attention with T5's relative position bias.
 *
 * qkv [B*L, 3*inner] (q | k | v, head-major inside each), out [B*L, inner].
 * Scores are q.k (T5 has no 1/sqrt(d) scaling) plus bias[bucket(k - q), h]
 * with bidirectional buckets; keys at t >= lens[b] are masked. Softmax and
 * accumulation are fp32.
 *
 * Two kernels:
 *  - short sequences (the common case: queries of ~10 tokens): one block per
 *    (batch, head, 16 queries; 4 or 8 when the grid would not fill the SMs)
 *    loads that head's K, V (fp32, K and query rows padded against bank
 *    conflicts), its queries and the bias for every relative distance into
 *    shared memory in one pass; each warp then takes queries in turn (two
 *    at once, 16 lanes each, when L <= 16), one key per lane, softmax by
 *    warp reductions, and each lane accumulates its slice of d_kv.
 *  - any length: one warp per query with an online softmax over tiles of 32
 *    keys read straight from global memory (L1/L2 serve the re-reads).
 */
#include "cuda_internal.cuh"

#define ENC_WARPS 4
#define ENC_SHORT_TILES 4 /* the short kernel takes L <= 32 * this */
#define ENC_SHORT_QB 16   /* queries per block in the short kernel (grid.y splits the rest) */

/* S: lanes per query (32, or 16 for L <= 16: two queries a warp, each in
 * a half); DPL: d_kv elements per lane in the weighted sum (d_kv <= S *
 * DPL). A query's scores, softmax and sums are the same operations in the
 * same order for any S: its key j sits in lane j of its S lanes (the lanes
 * from L on hold zeros, which the full warp's first butterfly levels would
 * only add), and its output dimension i is summed over the keys in order by
 * lane i % S. At S = 32 a 9-token input left 23 lanes of 32 idle: at batch
 * 1024 this kernel was 78 us a layer (H100, bench/cuda.md session 15). */
template <typename T, int S, int DPL>
__global__ void enc_attn_short(T *out, const T *qkv, const int32_t *lens, int L, int H, int dkv,
                               const float *table, int nb, int maxd, int qb, int vec)
{
    extern __shared__ float sm[];
    constexpr int G = 32 / S; /* queries a warp holds at once */
    int b = blockIdx.x / H, h = blockIdx.x % H;
    int inner = H * dkv, ld = 3 * inner;
    int kst = dkv + 1;
    float *Ks = sm;             /* [L][dkv+1] */
    float *Vs = Ks + L * kst;   /* [L][dkv] */
    float *bias = Vs + L * dkv; /* [2L-1]: relative distance + L-1 */
    float *qs = bias + 2 * L;   /* [qb][dkv+1]: this block's queries */
    /* The bias is the model's: gathered before the wait for the kernel
     * before (PDL), so its bucket arithmetic and its load from the table
     * (likely out of L2 by now) leave the chain. */
    for (int r = threadIdx.x; r < 2 * L - 1; r += blockDim.x)
        bias[r] = table[t5_rel_bucket(r - (L - 1), 1, nb, maxd) * H + h];
    T5__PDL_ENTRY();
    int len = lens[b];
    len = len < 1 ? 1 : len > L ? L : len;
    int q0 = blockIdx.y * qb, nq = L - q0 < qb ? L - q0 : qb;
    const T *base = qkv + (size_t)b * L * ld + h * dkv;
    /* One pass of independent loads: K and V of every key, the queries
     * (vec: 16 bytes of a row at a time). Keys past the length are loaded
     * too (finite, never read), so the loads need not wait for lens[b]. */
    if (vec) {
        constexpr int E = 16 / sizeof(T);
        const int pr = dkv / E;
#pragma unroll 2
        for (int idx = threadIdx.x; idx < (L + nq) * pr; idx += blockDim.x) {
            int t = idx / pr, i = (idx - t * pr) * E;
            float f[E];
            if (t < L) {
                const T *row = base + (size_t)t * ld;
                t5__ld16(row + inner + i, f);
#pragma unroll
                for (int e = 0; e < E; e++)
                    Ks[t * kst + i + e] = f[e];
                t5__ld16(row + 2 * inner + i, f);
#pragma unroll
                for (int e = 0; e < E; e++)
                    Vs[t * dkv + i + e] = f[e];
            } else {
                t5__ld16(base + (size_t)(q0 + t - L) * ld + i, f);
#pragma unroll
                for (int e = 0; e < E; e++)
                    qs[(t - L) * kst + i + e] = f[e];
            }
        }
    } else {
#pragma unroll 4
        for (int idx = threadIdx.x; idx < (L + nq) * dkv; idx += blockDim.x) {
            int t = idx / dkv, i = idx - t * dkv;
            if (t < L) {
                const T *row = base + (size_t)t * ld;
                Ks[t * kst + i] = t5__ld(row + inner + i);
                Vs[t * dkv + i] = t5__ld(row + 2 * inner + i);
            } else {
                qs[(t - L) * kst + i] = t5__ld(base + (size_t)(q0 + t - L) * ld + i);
            }
        }
    }
    __syncthreads();

    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane / S, sl = lane % S;
    for (int qw = q0 + warp * G; qw < q0 + nq; qw += ENC_WARPS * G) {
        /* a lane pair past the block's queries redoes its partner's, unstored */
        const bool live = qw + g < q0 + nq;
        const int qi = live ? qw + g : qw;
        const float *q = qs + (qi - q0) * kst;
        float sc[S == 32 ? ENC_SHORT_TILES : 1];
        float mx = -INFINITY;
#pragma unroll
        for (int c = 0; c < (S == 32 ? ENC_SHORT_TILES : 1); c++) {
            int j = sl + S * c;
            float s = -INFINITY;
            if (j < len) {
                const float *kr = Ks + j * kst;
                float s4[4] = {0.0f, 0.0f, 0.0f, 0.0f}; /* four chains of FMAs, not one */
                int i = 0;
                for (; i + 4 <= dkv; i += 4) {
#pragma unroll
                    for (int u = 0; u < 4; u++)
                        s4[u] += q[i + u] * kr[i + u];
                }
                for (; i < dkv; i++)
                    s4[0] += q[i] * kr[i];
                s = (s4[0] + s4[1]) + (s4[2] + s4[3]) + bias[j - qi + L - 1];
            }
            sc[c] = s;
            mx = fmaxf(mx, s);
        }
        /* over the query's S lanes (xor offsets below S stay inside them) */
        for (int o = S / 2; o > 0; o >>= 1)
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        float sum = 0.0f;
#pragma unroll
        for (int c = 0; c < (S == 32 ? ENC_SHORT_TILES : 1); c++) {
            sc[c] = sl + S * c < len ? __expf(sc[c] - mx) : 0.0f;
            sum += sc[c];
        }
        for (int o = S / 2; o > 0; o >>= 1)
            sum += __shfl_xor_sync(0xffffffffu, sum, o);
        float inv = 1.0f / sum;
        float acc[DPL];
#pragma unroll
        for (int d = 0; d < DPL; d++)
            acc[d] = 0.0f;
#pragma unroll
        for (int c = 0; c < (S == 32 ? ENC_SHORT_TILES : 1); c++) {
            if (S * c >= len)
                break;
            int nj = len - S * c < S ? len - S * c : S;
            for (int jj = 0; jj < nj; jj++) {
                float p = __shfl_sync(0xffffffffu, sc[c], g * S + jj);
                const float *vr = Vs + (S * c + jj) * dkv;
#pragma unroll
                for (int d = 0; d < DPL; d++) {
                    int i = sl + S * d;
                    if (i < dkv)
                        acc[d] += p * vr[i];
                }
            }
        }
        if (live) {
            T *orow = out + ((size_t)b * L + qi) * inner + h * dkv;
#pragma unroll
            for (int d = 0; d < DPL; d++) {
                int i = sl + S * d;
                if (i < dkv)
                    t5__st(orow + i, acc[d] * inv);
            }
        }
        __syncwarp();
    }
}

/* Any L: one warp per query (grid.y covers the queries), online softmax. */
template <typename T, int DPL>
__global__ void enc_attn_long(T *out, const T *qkv, const int32_t *lens, int L, int H, int dkv,
                              const float *table, int nb, int maxd)
{
    T5__PDL_ENTRY();
    __shared__ float qs[ENC_WARPS][32 * DPL];
    int b = blockIdx.x / H, h = blockIdx.x % H;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int qi = blockIdx.y * ENC_WARPS + warp;
    if (qi >= L)
        return;
    int inner = H * dkv, ld = 3 * inner;
    int len = lens[b];
    len = len < 1 ? 1 : len > L ? L : len;
    const T *base = qkv + (size_t)b * L * ld + h * dkv;
    float *q = qs[warp];
    for (int i = lane; i < dkv; i += 32)
        q[i] = t5__ld(base + (size_t)qi * ld + i);
    __syncwarp();
    float mx = -INFINITY, sum = 0.0f, acc[DPL];
#pragma unroll
    for (int d = 0; d < DPL; d++)
        acc[d] = 0.0f;
    for (int j0 = 0; j0 < len; j0 += 32) {
        int j = j0 + lane;
        float s = -INFINITY;
        if (j < len) {
            const T *kr = base + (size_t)j * ld + inner;
            s = 0.0f;
            for (int i = 0; i < dkv; i++)
                s += q[i] * t5__ld(kr + i);
            s += table[t5_rel_bucket(j - qi, 1, nb, maxd) * H + h];
        }
        float tmx = t5__warp_max(s);
        float nmx = fmaxf(mx, tmx);
        float scale = __expf(mx - nmx); /* 0 on the first tile (mx = -inf) */
        float p = j < len ? __expf(s - nmx) : 0.0f;
        sum = sum * scale + t5__warp_sum(p);
#pragma unroll
        for (int d = 0; d < DPL; d++)
            acc[d] *= scale;
        int nj = len - j0 < 32 ? len - j0 : 32;
        for (int jj = 0; jj < nj; jj++) {
            float pj = __shfl_sync(0xffffffffu, p, jj);
            const T *vr = base + (size_t)(j0 + jj) * ld + 2 * inner;
#pragma unroll
            for (int d = 0; d < DPL; d++) {
                int i = lane + 32 * d;
                if (i < dkv)
                    acc[d] += pj * t5__ld(vr + i);
            }
        }
        mx = nmx;
    }
    float inv = 1.0f / sum;
    T *orow = out + ((size_t)b * L + qi) * inner + h * dkv;
#pragma unroll
    for (int d = 0; d < DPL; d++) {
        int i = lane + 32 * d;
        if (i < dkv)
            t5__st(orow + i, acc[d] * inv);
    }
}

template <typename T, int DPL>
static int enc_launch(t5_stream *s, T *out, const T *qkv, const int32_t *lens, int B, int L,
                      const float *table, const t5_attn_shape *sh, t5_err *err)
{
    int H = sh->n_heads, dkv = sh->d_kv;
    /* two queries a warp where a query's keys fit 16 lanes */
    const int G = L <= 16 ? 2 : 1;
    size_t smem = ((size_t)L * (dkv + 1) + (size_t)L * dkv + 2 * (size_t)L +
                   (size_t)ENC_SHORT_QB * (dkv + 1)) *
                  sizeof(float);
    if (L <= 32 * ENC_SHORT_TILES && smem <= s->be->smem_optin) {
        void (*k)(T *, const T *, const int32_t *, int, int, int, const float *, int, int, int,
                  int) = G == 2 ? enc_attn_short<T, 16, 2 * DPL> : enc_attn_short<T, 32, DPL>;
        if (smem > 48 * 1024)
            CU_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)smem));
        /* A small batch fills few SMs: then one query (pair) per warp (a
         * block per ENC_WARPS of them, each loading the head's K, V again)
         * rather than each warp walking several in turn. */
        int qb = B * H * ((L + ENC_SHORT_QB - 1) / ENC_SHORT_QB) < s->be->n_sm ? ENC_WARPS * G
                                                                               : ENC_SHORT_QB;
        const int vec = dkv % (int)(16 / sizeof(T)) == 0 && (uintptr_t)qkv % 16 == 0;
        dim3 grid(B * H, (L + qb - 1) / qb);
        t5__launch(s, k, grid, dim3(32 * ENC_WARPS), smem, out, qkv, lens, L, H, dkv, table,
                   sh->num_buckets, sh->max_distance, qb, vec);
        CU_CHECK_LAUNCH("attn_encoder (short)");
        return 0;
    }
    dim3 grid(B * H, (L + ENC_WARPS - 1) / ENC_WARPS);
    t5__launch(s, enc_attn_long<T, DPL>, grid, dim3(32 * ENC_WARPS), 0, out, qkv, lens, L, H, dkv,
               table, sh->num_buckets, sh->max_distance);
    CU_CHECK_LAUNCH("attn_encoder (long)");
    return 0;
}

template <typename T>
static int enc_dispatch(t5_stream *s, void *out, const void *qkv, const int32_t *lens, int B, int L,
                        const float *table, const t5_attn_shape *sh, t5_err *err)
{
    if (sh->d_kv <= 32)
        return enc_launch<T, 1>(s, (T *)out, (const T *)qkv, lens, B, L, table, sh, err);
    if (sh->d_kv <= 64)
        return enc_launch<T, 2>(s, (T *)out, (const T *)qkv, lens, B, L, table, sh, err);
    return enc_launch<T, 4>(s, (T *)out, (const T *)qkv, lens, B, L, table, sh, err);
}

int t5__cu_attn_encoder(t5_stream *s, void *out, const void *qkv, const int32_t *lens, int B, int L,
                        const float *bias_table, const t5_attn_shape *sh, t5_err *err)
{
    if (B <= 0 || L <= 0)
        return 0;
    if (sh->d_kv < 1 || sh->d_kv > 128)
        return t5_errf(err, T5_EUNSUP, "attn_encoder: d_kv %d not supported (1..128)", sh->d_kv);
    CU_ENTER(s);
    int rc = 0;
    T5__DISPATCH(s->be->base.act_dtype, T,
                 rc = enc_dispatch<T>(s, out, qkv, lens, B, L, bias_table, sh, err));
    return rc;
}
