/* topk.cu - log-softmax and top-k of each logits row, on the device.
 *
 * Greedy and beam search only need the k best (log-prob, id) pairs of each
 * row, so the full logits never cross to the host. One block per row, one
 * pass over the row: each thread keeps a running (max, sum of exp) for the
 * log-sum-exp and a sorted list of its K best candidates in registers (K a
 * compile-time bound >= k, so the list stays in registers). The block then
 * pops the best head k times (block arg-max over the threads' heads).
 * When there are few rows (greedy at batch 1), one block per row would leave
 * the GPU idle and take ~15 us, so each row is split over many blocks whose
 * partial (max, sum, k best) a second small kernel merges.
 *
 * Order: larger value first, ties to the lower id (each thread visits ids in
 * increasing order and only a strictly larger value displaces, so within a
 * thread ties already favour the lower id; the block arg-max compares ids).
 * no_eos[r] masks the eos entry to -inf after the log-softmax, so it still
 * counts in the normaliser, as transformers' logits processors do.
 */
#include "cuda_internal.cuh"

#include <limits.h>

struct vi {
    float v;
    int i;
};

static __device__ __forceinline__ bool better(float a, int ia, float b, int ib)
{
    return a > b || (a == b && ia < ib);
}

/* Inserts (c, id) into a thread's sorted list (compile-time indices only,
 * so the list stays in registers). */
template <int K>
static __device__ __forceinline__ void list_insert(float *lv, int *li, float c, int id)
{
    if (!better(c, id, lv[K - 1], li[K - 1]))
        return;
    bool placed = false;
#pragma unroll
    for (int j = K - 1; j > 0; j--) {
        if (!placed) {
            if (better(c, id, lv[j - 1], li[j - 1])) {
                lv[j] = lv[j - 1];
                li[j] = li[j - 1];
            } else {
                lv[j] = c;
                li[j] = id;
                placed = true;
            }
        }
    }
    if (!placed) {
        lv[0] = c;
        li[0] = id;
    }
}

/* k rounds of block arg-max over the threads' list heads; writes value -
 * sub and the id (empty entries: -inf and `empty_id`). */
template <int K, int THREADS>
static __device__ void block_select(float *lv, int *li, int k, float sub, float *out_v,
                                    int32_t *out_i, int empty_id)
{
    __shared__ vi s_best[THREADS / 32];
    __shared__ vi s_win;
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    for (int round = 0; round < k; round++) {
        float bv = lv[0];
        int bi = li[0];
        for (int o = 16; o > 0; o >>= 1) {
            float v2 = __shfl_xor_sync(0xffffffffu, bv, o);
            int i2 = __shfl_xor_sync(0xffffffffu, bi, o);
            if (better(v2, i2, bv, bi)) {
                bv = v2;
                bi = i2;
            }
        }
        if (lane == 0)
            s_best[wid] = vi{bv, bi};
        __syncthreads();
        if (threadIdx.x == 0) {
            vi b = s_best[0];
            for (int w = 1; w < THREADS / 32; w++)
                if (better(s_best[w].v, s_best[w].i, b.v, b.i))
                    b = s_best[w];
            s_win = b;
            out_v[round] = b.i == INT_MAX ? -INFINITY : b.v - sub;
            out_i[round] = b.i == INT_MAX ? empty_id : b.i;
        }
        __syncthreads();
        if (li[0] == s_win.i && s_win.i != INT_MAX) { /* ids are unique: this thread won */
#pragma unroll
            for (int j = 0; j < K - 1; j++) {
                lv[j] = lv[j + 1];
                li[j] = li[j + 1];
            }
            lv[K - 1] = -INFINITY;
            li[K - 1] = INT_MAX;
        }
    }
}

/* Combines per-thread (max, sum of exp) pairs over the block. */
template <int THREADS> static __device__ void block_lse(float &m, float &l)
{
    __shared__ float s_m[THREADS / 32], s_l[THREADS / 32];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        float l2 = __shfl_xor_sync(0xffffffffu, l, o);
        float mn = fmaxf(m, m2);
        l = (m == -INFINITY ? 0.0f : l * __expf(m - mn)) +
            (m2 == -INFINITY ? 0.0f : l2 * __expf(m2 - mn));
        m = mn;
    }
    if (lane == 0) {
        s_m[wid] = m;
        s_l[wid] = l;
    }
    __syncthreads();
    float M = -INFINITY, L = 0.0f;
    for (int w = 0; w < THREADS / 32; w++)
        M = fmaxf(M, s_m[w]);
    for (int w = 0; w < THREADS / 32; w++)
        if (s_m[w] != -INFINITY)
            L += s_l[w] * __expf(s_m[w] - M);
    m = M;
    l = L;
}

/* Scans logits [lo, hi) of row r: running (max, sum exp) and the list. */
template <int K, int THREADS>
static __device__ void scan_logits(const float *x, int lo, int hi, int mask_eos, int eos_id,
                                   float *lv, int *li, float &m, float &l)
{
#pragma unroll
    for (int j = 0; j < K; j++) {
        lv[j] = -INFINITY;
        li[j] = INT_MAX;
    }
    m = -INFINITY;
    l = 0.0f;
    for (int id = lo + threadIdx.x; id < hi; id += THREADS) {
        float v = x[id];
        if (v > m) {
            l = l * __expf(m - v) + 1.0f; /* m = -inf at first: exp(-inf) = 0 */
            m = v;
        } else if (v > -INFINITY) {
            l += __expf(v - m);
        }
        list_insert<K>(lv, li, (mask_eos && id == eos_id) ? -INFINITY : v, id);
    }
}

/* Single pass: one block per row (used when rows alone fill the GPU). */
template <int K, int THREADS>
__global__ void __launch_bounds__(THREADS)
    topk_kernel(float *vals, int32_t *ids, const float *logits, int V, int k, const int32_t *no_eos,
                int eos_id)
{
    T5__PDL_ENTRY();
    int r = blockIdx.x;
    float lv[K], m, l;
    int li[K];
    scan_logits<K, THREADS>(logits + (size_t)r * V, 0, V, no_eos && no_eos[r], eos_id, lv, li, m,
                            l);
    block_lse<THREADS>(m, l);
    block_select<K, THREADS>(lv, li, k, m + logf(l), vals + (size_t)r * k, ids + (size_t)r * k, 0);
}

/* Two passes for few rows: grid (row, part) blocks each reduce a slice of
 * the vocabulary to (max, sum exp) and its k best raw logits; a second
 * kernel merges a row's parts. One row then uses many SMs. */
template <int K, int THREADS>
__global__ void __launch_bounds__(THREADS)
    topk_part_kernel(float *pm, float *pl, float *pv, int32_t *pi, const float *logits, int V,
                     int k, int chunk, const int32_t *no_eos, int eos_id)
{
    T5__PDL_ENTRY();
    int r = blockIdx.x, p = blockIdx.y, P = gridDim.y;
    int lo = p * chunk, hi = lo + chunk < V ? lo + chunk : V;
    float lv[K], m, l;
    int li[K];
    scan_logits<K, THREADS>(logits + (size_t)r * V, lo, hi, no_eos && no_eos[r], eos_id, lv, li, m,
                            l);
    block_lse<THREADS>(m, l);
    size_t at = (size_t)r * P + p;
    if (threadIdx.x == 0) {
        pm[at] = m;
        pl[at] = l;
    }
    block_select<K, THREADS>(lv, li, k, 0.0f, pv + at * k, pi + at * k, INT_MAX);
}

template <int K, int THREADS>
__global__ void __launch_bounds__(THREADS)
    topk_merge_kernel(float *vals, int32_t *ids, const float *pm, const float *pl, const float *pv,
                      const int32_t *pi, int P, int k)
{
    T5__PDL_ENTRY();
    int r = blockIdx.x;
    float m = -INFINITY, l = 0.0f;
    for (int p = threadIdx.x; p < P; p += THREADS) {
        float m2 = pm[(size_t)r * P + p], l2 = pl[(size_t)r * P + p];
        float mn = fmaxf(m, m2);
        if (mn != -INFINITY) {
            l = (m == -INFINITY ? 0.0f : l * __expf(m - mn)) +
                (m2 == -INFINITY ? 0.0f : l2 * __expf(m2 - mn));
            m = mn;
        }
    }
    block_lse<THREADS>(m, l);
    float lv[K];
    int li[K];
#pragma unroll
    for (int j = 0; j < K; j++) {
        lv[j] = -INFINITY;
        li[j] = INT_MAX;
    }
    const float *cv = pv + (size_t)r * P * k;
    const int32_t *ci = pi + (size_t)r * P * k;
    for (int c = threadIdx.x; c < P * k; c += THREADS)
        if (ci[c] != INT_MAX)
            list_insert<K>(lv, li, cv[c], ci[c]);
    block_select<K, THREADS>(lv, li, k, m + logf(l), vals + (size_t)r * k, ids + (size_t)r * k, 0);
}

template <int K, int THREADS>
static void topk_launch(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n, int V,
                        int k, const int32_t *no_eos, int eos_id)
{
    /* Parts per row: enough blocks to spread a few rows over the SMs, each
     * part at least 1024 logits, within the stream's fixed partial buffer. */
    int P = 2 * s->be->n_sm / n;
    if (P > (V + 1023) / 1024)
        P = (V + 1023) / 1024;
    if (P > 64)
        P = 64;
    while (P > 1 && (size_t)n * P * (k + 1) > T5__TOPK_PARTIALS)
        P--;
    if (P <= 1) {
        t5__launch(s, topk_kernel<K, THREADS>, dim3(n), dim3(THREADS), 0, vals, ids, logits, V, k,
                   no_eos, eos_id);
        return;
    }
    int chunk = (V + P - 1) / P;
    float *pm = s->topk_part, *pl = pm + (size_t)n * P, *pv = pl + (size_t)n * P;
    int32_t *pi = (int32_t *)(pv + (size_t)n * P * k);
    t5__launch(s, topk_part_kernel<K, 256>, dim3(n, P), dim3(256), 0, pm, pl, pv, pi, logits, V, k,
               chunk, no_eos, eos_id);
    t5__launch(s, topk_merge_kernel<K, 128>, dim3(n), dim3(128), 0, vals, ids, pm, pl, pv, pi, P,
               k);
}

int t5__cu_logits_topk(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n, int V,
                       int k, const int32_t *no_eos, int eos_id, t5_err *err)
{
    if (n <= 0)
        return 0;
    if (k < 1 || k > 64 || k > V)
        return t5_errf(err, T5_EUNSUP, "logits_topk: k=%d not supported (1..min(64, V=%d))", k, V);
    CU_ENTER(s);
    if (k == 1)
        topk_launch<1, 1024>(s, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 2)
        topk_launch<2, 1024>(s, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 4)
        topk_launch<4, 512>(s, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 8)
        topk_launch<8, 512>(s, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 16)
        topk_launch<16, 256>(s, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 32)
        topk_launch<32, 256>(s, vals, ids, logits, n, V, k, no_eos, eos_id);
    else
        topk_launch<64, 128>(s, vals, ids, logits, n, V, k, no_eos, eos_id);
    CU_CHECK_LAUNCH("logits_topk");
    return 0;
}
