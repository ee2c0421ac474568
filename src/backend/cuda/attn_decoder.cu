/* attn_decoder.cu - one decoder step's attention over the slot caches.
 *
 * Self-attention: row r's new k, v (from its fused qkv) are stored at
 * (layer, self_slot, head, pos) first, then the row attends over positions
 * 0..pos with causal-bucket relative bias. Cross-attention: row r attends
 * over (layer, cross_slot, t < enc_len) with no bias. Both are one block per
 * (row, head): the query goes to shared memory, each warp scores a share of
 * the keys (lanes split d_kv, coalesced row reads, warp-sum), the block
 * normalises, and the threads accumulate V with consecutive threads on
 * consecutive dimensions (coalesced), splitting keys into groups when d_kv
 * is smaller than the block.
 *
 * rows_dev: int32 [n][4] = (self_slot, cross_slot, pos, enc_len); the
 * per-step values live in device memory so a captured graph replays with
 * new rows.
 */
#include "attn_w64.cuh"

#define DEC_THREADS 128

static __device__ __forceinline__ float block_max128(float v, float *red)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    v = t5__warp_max(v);
    if (lane == 0)
        red[wid] = v;
    __syncthreads();
    float r = red[0];
    for (int w = 1; w < DEC_THREADS / 32; w++)
        r = fmaxf(r, red[w]);
    __syncthreads();
    return r;
}

static __device__ __forceinline__ float block_sum128(float v, float *red)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    v = t5__warp_sum(v);
    if (lane == 0)
        red[wid] = v;
    __syncthreads();
    float r = 0.0f;
    for (int w = 0; w < DEC_THREADS / 32; w++)
        r += red[w];
    __syncthreads();
    return r;
}

/* SELF: q and the new k, v come from qkv [n, 3*inner]; else q [n, inner]. */
template <typename T, bool SELF>
__global__ void __launch_bounds__(DEC_THREADS)
    dec_attn(T *out, const T *qin, T *kc, T *vc, int n_slots, int H, int max_len, int dkv,
             int layer, const int32_t *rows, const float *table, int nb, int maxd)
{
    T5__PDL_ENTRY();
    extern __shared__ float sm[];
    __shared__ float red[DEC_THREADS / 32];
    int r = blockIdx.x / H, h = blockIdx.x % H;
    int inner = H * dkv;
    const int32_t *rw = rows + 4 * r;
    int slot = SELF ? rw[0] : rw[1];
    int nk = SELF ? rw[2] + 1 : rw[3];
    if (nk > max_len)
        nk = max_len;
    if (nk < 1)
        nk = 1;
    size_t head_off = (((size_t)layer * n_slots + slot) * H + h) * (size_t)max_len * dkv;
    T *K = kc + head_off;
    T *Vv = vc + head_off;
    float *q = sm;              /* [dkv] */
    float *sc = q + dkv;        /* [max_len] */
    float *part = sc + max_len; /* [max(DEC_THREADS, dkv)] */
    const T *qrow = qin + (size_t)r * (SELF ? 3 : 1) * inner + h * dkv;
    for (int i = threadIdx.x; i < dkv; i += DEC_THREADS) {
        q[i] = t5__ld(qrow + i);
        if (SELF) {
            K[(size_t)(nk - 1) * dkv + i] = qrow[inner + i];
            Vv[(size_t)(nk - 1) * dkv + i] = qrow[2 * inner + i];
        }
    }
    __syncthreads(); /* q in shared memory, the new k/v visible to the block */

    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
#pragma unroll 2
    for (int j = warp; j < nk; j += DEC_THREADS / 32) {
        const T *kr = K + (size_t)j * dkv;
        float s = 0.0f;
        for (int i = lane; i < dkv; i += 32)
            s += q[i] * t5__ld(kr + i);
        s = t5__warp_sum(s);
        if (lane == 0) {
            if (SELF)
                s += table[t5_rel_bucket(j - (nk - 1), 0, nb, maxd) * H + h];
            sc[j] = s;
        }
    }
    __syncthreads();
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < nk; j += DEC_THREADS)
        mx = fmaxf(mx, sc[j]);
    mx = block_max128(mx, red);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < nk; j += DEC_THREADS) {
        float p = __expf(sc[j] - mx);
        sc[j] = p;
        sum += p;
    }
    sum = block_sum128(sum, red); /* its barrier also publishes sc */
    float inv = 1.0f / sum;

    int G = dkv < DEC_THREADS ? DEC_THREADS / dkv : 1;
    for (int idx = threadIdx.x; idx < G * dkv; idx += DEC_THREADS) {
        int g = idx / dkv, i = idx - g * dkv;
        float acc = 0.0f;
#pragma unroll 4
        for (int j = g; j < nk; j += G) /* unrolled: the V loads overlap */
            acc += sc[j] * t5__ld(Vv + (size_t)j * dkv + i);
        part[idx] = acc;
    }
    __syncthreads();
    T *orow = out + (size_t)r * inner + h * dkv;
    for (int i = threadIdx.x; i < dkv; i += DEC_THREADS) {
        float acc = 0.0f;
        for (int g = 0; g < G; g++)
            acc += part[g * dkv + i];
        t5__st(orow + i, acc * inv);
    }
}

/* Short caches (<= 32 keys: decoding the first tokens, and encoder inputs
 * of search-query length), the common case: one warp per (row, head), no
 * block barriers, and every K and V load of the warp issued before the
 * arithmetic that needs it. The block kernel above takes three barriers and
 * several dependent load rounds, ~5-7 us at batch 1; this takes ~half.
 * Lane l holds dimensions l, l+32, ... of q, the new k/v and the output;
 * key j's score ends up in lane j % 32, slot j / 32 (KPL slots). */
#define DEC_WARP_KEYS 128 /* up to 32 * KPL keys, KPL <= 4 per lane */
#define DEC_WARP_CHUNK 8  /* keys whose loads are in flight together */
/* Keys j0 .. j0+DEC_WARP_CHUNK-1 of a cache head (rows of dkv), lane's
 * dimensions lane + 32 d, all loads issued at once; 0 past nold or dkv. */
template <typename T, int DPL>
static __device__ __forceinline__ void load_chunk(float (&out)[DEC_WARP_CHUNK][DPL], const T *base,
                                                  int j0, int nold, int dkv, int lane)
{
#pragma unroll
    for (int u = 0; u < DEC_WARP_CHUNK; u++)
#pragma unroll
        for (int d = 0; d < DPL; d++) {
            int i = lane + 32 * d;
            out[u][d] = j0 + u < nold && i < dkv ? t5__ld(base + (size_t)(j0 + u) * dkv + i) : 0.0f;
        }
}

template <typename T, bool SELF, int DPL, int KPL>
__global__ void __launch_bounds__(128)
    dec_attn_warp(T *out, const T *qin, T *kc, T *vc, int n, int n_slots, int H, int max_len,
                  int dkv, int layer, const int32_t *rows, const float *table, int nb, int maxd)
{
    T5__PDL_ENTRY();
    int pair = blockIdx.x * 4 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (pair >= n * H)
        return;
    int r = pair / H, h = pair - r * H;
    int inner = H * dkv;
    const int32_t *rw = rows + 4 * r;
    int slot = SELF ? rw[0] : rw[1];
    int nk = SELF ? rw[2] + 1 : rw[3];
    nk = nk > max_len ? max_len : nk < 1 ? 1 : nk;
    size_t head_off = (((size_t)layer * n_slots + slot) * H + h) * (size_t)max_len * dkv;
    T *K = kc + head_off, *Vv = vc + head_off;
    const T *qrow = qin + (size_t)r * (SELF ? 3 : 1) * inner + h * dkv;
    float q[DPL], kn[DPL], vn[DPL];
#pragma unroll
    for (int d = 0; d < DPL; d++) {
        int i = lane + 32 * d;
        q[d] = i < dkv ? t5__ld(qrow + i) : 0.0f;
        kn[d] = vn[d] = 0.0f;
        if (SELF && i < dkv) {
            T kt = qrow[inner + i], vt = qrow[2 * inner + i];
            K[(size_t)(nk - 1) * dkv + i] = kt; /* the append; this warp reads it from registers */
            Vv[(size_t)(nk - 1) * dkv + i] = vt;
            kn[d] = t5__dt<T>::load(kt);
            vn[d] = t5__dt<T>::load(vt);
        }
    }
    const int nold = SELF ? nk - 1 : nk; /* keys read from the cache */
    float my[KPL];
#pragma unroll
    for (int c = 0; c < KPL; c++)
        my[c] = -INFINITY;
    /* Keys in chunks of DEC_WARP_CHUNK: the chunk's loads are all issued
     * before its arithmetic, and its warp sums are independent (a loop over
     * keys left most loads waiting for the previous key's sum). */
    for (int j0 = 0; j0 < nold; j0 += DEC_WARP_CHUNK) {
        float kv[DEC_WARP_CHUNK][DPL];
        load_chunk<T, DPL>(kv, K, j0, nold, dkv, lane);
#pragma unroll
        for (int u = 0; u < DEC_WARP_CHUNK; u++) {
            int j = j0 + u;
            float p = 0.0f;
#pragma unroll
            for (int d = 0; d < DPL; d++)
                p += q[d] * kv[u][d];
            p = t5__warp_sum(p);
#pragma unroll
            for (int c = 0; c < KPL; c++) /* constant indices keep my[] in registers */
                if (j < nold && j == 32 * c + lane)
                    my[c] = p;
        }
    }
    if (SELF) {
        float p = 0.0f;
#pragma unroll
        for (int d = 0; d < DPL; d++)
            p += q[d] * kn[d];
        p = t5__warp_sum(p);
#pragma unroll
        for (int c = 0; c < KPL; c++) {
            int j = 32 * c + lane;
            if (j == nk - 1)
                my[c] = p;
            if (j < nk)
                my[c] += table[t5_rel_bucket(j - (nk - 1), 0, nb, maxd) * H + h];
        }
    }
    float mx = -INFINITY;
#pragma unroll
    for (int c = 0; c < KPL; c++)
        mx = fmaxf(mx, my[c]);
    mx = t5__warp_max(mx);
    float e[KPL], es = 0.0f;
#pragma unroll
    for (int c = 0; c < KPL; c++) {
        e[c] = 32 * c + lane < nk ? __expf(my[c] - mx) : 0.0f;
        es += e[c];
    }
    float inv = 1.0f / t5__warp_sum(es);
    float acc[DPL];
#pragma unroll
    for (int d = 0; d < DPL; d++)
        acc[d] = 0.0f;
    for (int j0 = 0; j0 < nold; j0 += DEC_WARP_CHUNK) {
        float vv[DEC_WARP_CHUNK][DPL];
        load_chunk<T, DPL>(vv, Vv, j0, nold, dkv, lane);
#pragma unroll
        for (int u = 0; u < DEC_WARP_CHUNK; u++) {
            int j = j0 + u;
            float ej = e[0];
#pragma unroll
            for (int c = 1; c < KPL; c++)
                if (j >= 32 * c)
                    ej = e[c];
            float pj = __shfl_sync(0xffffffffu, ej, j & 31);
            if (j < nold)
#pragma unroll
                for (int d = 0; d < DPL; d++)
                    acc[d] += pj * vv[u][d];
        }
    }
    if (SELF) {
        int j = nk - 1;
        float ej = e[0];
#pragma unroll
        for (int c = 1; c < KPL; c++)
            if (j >= 32 * c)
                ej = e[c];
        float pj = __shfl_sync(0xffffffffu, ej, j & 31);
#pragma unroll
        for (int d = 0; d < DPL; d++)
            acc[d] += pj * vn[d];
    }
    T *orow = out + (size_t)r * inner + h * dkv;
#pragma unroll
    for (int d = 0; d < DPL; d++) {
        int i = lane + 32 * d;
        if (i < dkv)
            t5__st(orow + i, acc[d] * inv);
    }
}

/* The warp kernel's layout for 16-bit heads of 64 dimensions (t5-small /
 * base / large, flan-t5): t5__attn_w64 (attn_w64.cuh) per warp, four (row,
 * head) pairs a block. dec_attn_warp waited out a round trip for the query,
 * then each chunk of keys, then each chunk of values: at batch 1024 its
 * cross-attention was 18.8 us a layer, ~3x its bytes' time (H100,
 * bench/cuda.md session 15). Caches of more keys take rounds of 16 with a
 * running softmax, so any max_len is served (the block kernel's barriers
 * and dependent rounds are not needed for the server's long caches either).
 * The operations' order differs from dec_attn_warp's, within the usual fp32
 * rounding (the paths for other row counts differ as well). */
template <typename T, bool SELF>
__global__ void __launch_bounds__(128)
    dec_attn_w64(T *out, const T *qin, T *kc, T *vc, int n, int n_slots, int H, int max_len,
                 int layer, const int32_t *rows, const float *table, int nb, int maxd)
{
    T5__PDL_ENTRY();
    constexpr int dkv = 64;
    const int pair = blockIdx.x * 4 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (pair >= n * H)
        return;
    const int r = pair / H, h = pair - r * H, inner = H * dkv;
    const int32_t *rw = rows + 4 * r;
    const int slot = SELF ? rw[0] : rw[1];
    int nk = SELF ? rw[2] + 1 : rw[3];
    nk = nk > max_len ? max_len : nk < 1 ? 1 : nk;
    const size_t head_off = (((size_t)layer * n_slots + slot) * H + h) * (size_t)max_len * dkv;
    T *K = kc + head_off, *Vv = vc + head_off;
    const T *qrow = qin + (size_t)r * (SELF ? 3 : 1) * inner + h * dkv;
    t5__w64_table_bias bias = {table, nk, nb, maxd, H, h};
    t5__attn_w64<T, SELF, false>(out + (size_t)r * inner + h * dkv, qrow, inner, K, Vv, nk,
                                 SELF ? nk - 1 : nk, bias);
    /* the append after (the attention took the new rows from qrow): before,
     * its stores waited for their loads and held back the query's load */
    if (SELF && lane < 8) {
        const int c8 = lane * 8;
        *(uint4 *)(K + (size_t)(nk - 1) * dkv + c8) = *(const uint4 *)(qrow + inner + c8);
        *(uint4 *)(Vv + (size_t)(nk - 1) * dkv + c8) = *(const uint4 *)(qrow + 2 * inner + c8);
    }
}

template <typename T, bool SELF, int DPL, int KPL>
static int dec_warp_launch(t5_stream *s, void *out, const void *qin, void *kc, void *vc,
                           const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                           const float *table, const t5_attn_shape *sh, const char *what,
                           t5_err *err)
{
    int pairs = n * lay->n_heads;
    t5__launch(s, dec_attn_warp<T, SELF, DPL, KPL>, dim3((pairs + 3) / 4), dim3(128), 0, (T *)out,
               (const T *)qin, (T *)kc, (T *)vc, n, lay->n_slots, lay->n_heads, lay->max_len,
               lay->d_kv, layer, rows, table, sh ? sh->num_buckets : 0, sh ? sh->max_distance : 0);
    CU_CHECK_LAUNCH(what);
    return 0;
}

template <typename T, bool SELF, int DPL>
static int dec_warp_kpl(t5_stream *s, void *out, const void *qin, void *kc, void *vc,
                        const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                        const float *table, const t5_attn_shape *sh, const char *what, t5_err *err)
{
    if (lay->max_len <= 32)
        return dec_warp_launch<T, SELF, DPL, 1>(s, out, qin, kc, vc, lay, layer, rows, n, table, sh,
                                                what, err);
    if (lay->max_len <= 64)
        return dec_warp_launch<T, SELF, DPL, 2>(s, out, qin, kc, vc, lay, layer, rows, n, table, sh,
                                                what, err);
    return dec_warp_launch<T, SELF, DPL, 4>(s, out, qin, kc, vc, lay, layer, rows, n, table, sh,
                                            what, err);
}

template <typename T, bool SELF>
static int dec_warp_dispatch(t5_stream *s, void *out, const void *qin, void *kc, void *vc,
                             const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                             const float *table, const t5_attn_shape *sh, const char *what,
                             t5_err *err)
{
    if (lay->d_kv <= 32)
        return dec_warp_kpl<T, SELF, 1>(s, out, qin, kc, vc, lay, layer, rows, n, table, sh, what,
                                        err);
    if (lay->d_kv <= 64)
        return dec_warp_kpl<T, SELF, 2>(s, out, qin, kc, vc, lay, layer, rows, n, table, sh, what,
                                        err);
    return dec_warp_kpl<T, SELF, 4>(s, out, qin, kc, vc, lay, layer, rows, n, table, sh, what, err);
}

template <typename T, bool SELF>
static int dec_launch(t5_stream *s, void *out, const void *qin, void *kc, void *vc,
                      const t5_kv_layout *lay, int layer, const int32_t *rows, int n,
                      const float *table, const t5_attn_shape *sh, const char *what, t5_err *err)
{
    int dkv = lay->d_kv;
    /* 16-bit heads of 64 dimensions: dec_attn_w64 at any row count (H100,
     * bench/cuda.md session 15: t5-small batch 8 2.36 vs 2.86-2.89 ms with
     * the block kernel, batch 64 3.09 vs 3.57 with the warp kernel). Else the
     * warp kernel when every row's keys fit its registers: the cache's
     * max_len bounds them (per-row lengths live on the device). */
    /* Measured on an H200 (bench/cuda.md): with few (row, head) pairs the
     * block kernel's four warps per pair win (t5-small batch 1: 262 vs 276
     * us per step); with many the warp kernel does (batch 1024: 0.68 vs
     * 0.96 ms per step). */
    /* (not fp32: its 16-byte loads hold 4 dimensions, not 8) */
    if constexpr (sizeof(T) == 2) {
        if (dkv == 64 && !s->be->no_attn_w64 && !s->be->no_warp_attn &&
            (n * lay->n_heads >= s->be->w64_min_pairs || s->be->warp_attn_always) &&
            ((uintptr_t)out | (uintptr_t)qin | (uintptr_t)kc | (uintptr_t)vc) % 16 == 0) {
            t5__launch(s, dec_attn_w64<T, SELF>, dim3((n * lay->n_heads + 3) / 4), dim3(128), 0,
                       (T *)out, (const T *)qin, (T *)kc, (T *)vc, n, lay->n_slots, lay->n_heads,
                       lay->max_len, layer, rows, table, sh ? sh->num_buckets : 0,
                       sh ? sh->max_distance : 0);
            CU_CHECK_LAUNCH(what);
            return 0;
        }
    }
    if (lay->max_len <= DEC_WARP_KEYS && dkv <= 128 && !s->be->no_warp_attn &&
        (n * lay->n_heads >= 256 || s->be->warp_attn_always)) {
        return dec_warp_dispatch<T, SELF>(s, out, qin, kc, vc, lay, layer, rows, n, table, sh, what,
                                          err);
    }
    size_t smem = ((size_t)dkv + lay->max_len + (dkv > DEC_THREADS ? dkv : DEC_THREADS)) * 4;
    if (smem > s->be->smem_optin)
        return t5_errf(err, T5_EUNSUP, "%s: max_len %d too long for one block", what, lay->max_len);
    if (smem > 48 * 1024)
        CU_CHECK(cudaFuncSetAttribute(dec_attn<T, SELF>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    t5__launch(s, dec_attn<T, SELF>, dim3(n * lay->n_heads), dim3(DEC_THREADS), smem, (T *)out,
               (const T *)qin, (T *)kc, (T *)vc, lay->n_slots, lay->n_heads, lay->max_len, dkv,
               layer, rows, table, sh ? sh->num_buckets : 0, sh ? sh->max_distance : 0);
    CU_CHECK_LAUNCH(what);
    return 0;
}

int t5__cu_attn_decoder_self(t5_stream *s, void *out, const void *qkv, void *kcache, void *vcache,
                             const t5_kv_layout *lay, int layer, const int32_t *rows_dev, int n,
                             const float *bias_table, const t5_attn_shape *sh, t5_err *err)
{
    if (n <= 0)
        return 0;
    CU_ENTER(s);
    int rc = 0;
    T5__DISPATCH(s->be->base.act_dtype, T,
                 rc = (dec_launch<T, true>(s, out, qkv, kcache, vcache, lay, layer, rows_dev, n,
                                           bias_table, sh, "attn_decoder_self", err)));
    return rc;
}

int t5__cu_attn_cross(t5_stream *s, void *out, const void *q, const void *kcache,
                      const void *vcache, const t5_kv_layout *lay, int layer,
                      const int32_t *rows_dev, int n, const t5_attn_shape *sh, t5_err *err)
{
    if (n <= 0)
        return 0;
    CU_ENTER(s);
    int rc = 0;
    T5__DISPATCH(s->be->base.act_dtype, T,
                 rc = (dec_launch<T, false>(s, out, q, (void *)kcache, (void *)vcache, lay, layer,
                                            rows_dev, n, NULL, sh, "attn_cross", err)));
    return rc;
}
