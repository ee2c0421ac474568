/* topk_dev.cuh - the device pieces of log-softmax top-k (private): a
 * thread's sorted candidate list, block arg-max selection and block
 * log-sum-exp. Shared by topk.cu and the fused decoder step (fused_step.cu).
 */
#ifndef T5_CUDA_TOPK_DEV_CUH
#define T5_CUDA_TOPK_DEV_CUH

#include "cuda_internal.cuh"

#include <limits.h>
#include <stdint.h>

struct vi {
    float v;
    int i;
};

static __device__ __forceinline__ bool better(float a, int ia, float b, int ib)
{
    return a > b || (a == b && ia < ib);
}

/* The warp's best of its lanes' (value, id) by `better`, in every lane. */
static __device__ __forceinline__ vi warp_best(vi b)
{
    for (int o = 16; o > 0; o >>= 1) {
        const float v2 = __shfl_xor_sync(0xffffffffu, b.v, o);
        const int i2 = __shfl_xor_sync(0xffffffffu, b.i, o);
        if (better(v2, i2, b.v, b.i))
            b = vi{v2, i2};
    }
    return b;
}

/* The best of c[0 .. n) (n >= 1) by `better`. */
static __device__ __forceinline__ vi best_of(const vi *c, int n)
{
    vi b = c[0];
    for (int i = 1; i < n; i++)
        if (better(c[i].v, c[i].i, b.v, b.i))
            b = c[i];
    return b;
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
        const vi wb = warp_best(vi{lv[0], li[0]});
        if (lane == 0)
            s_best[wid] = wb;
        __syncthreads();
        if (threadIdx.x == 0) {
            const vi b = best_of(s_best, THREADS / 32);
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

/* One logit into a thread's running (max, sum exp) and its list. */
template <int K>
static __device__ __forceinline__ void scan_one(float v, int id, int mask_eos, int eos_id,
                                                float *lv, int *li, float &m, float &l)
{
    if (v > m) {
        l = l * __expf(m - v) + 1.0f; /* m = -inf at first: exp(-inf) = 0 */
        m = v;
    } else if (v > -INFINITY) {
        l += __expf(v - m);
    }
    list_insert<K>(lv, li, (mask_eos && id == eos_id) ? -INFINITY : v, id);
}

/* Scans logits [lo, hi) of row r: running (max, sum exp) and the list.
 * The body is read as float4, SCAN_UNROLL of them in flight per thread
 * (a scalar loop waits out one load latency per logit: at 1024 rows x
 * 32128 logits that was 5x the time of reading them); the few logits
 * before the first 16-byte boundary and after the last go one per thread.
 * The order of visits only changes the last bits of the sum: list_insert
 * breaks ties by id. */
#define SCAN_UNROLL 4
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
    int a0 = lo;
    while (a0 < hi && ((uintptr_t)(x + a0) & 15))
        a0++;
    int nv = (hi - a0) / 4, a1 = a0 + 4 * nv, t = threadIdx.x;
    if (t < a0 - lo)
        scan_one<K>(x[lo + t], lo + t, mask_eos, eos_id, lv, li, m, l);
    const float4 *x4 = (const float4 *)(x + a0);
    int v = t;
    for (; v + (SCAN_UNROLL - 1) * THREADS < nv; v += SCAN_UNROLL * THREADS) {
        float4 c[SCAN_UNROLL];
#pragma unroll
        for (int u = 0; u < SCAN_UNROLL; u++)
            c[u] = x4[v + u * THREADS];
#pragma unroll
        for (int u = 0; u < SCAN_UNROLL; u++) {
            int id = a0 + 4 * (v + u * THREADS);
            scan_one<K>(c[u].x, id, mask_eos, eos_id, lv, li, m, l);
            scan_one<K>(c[u].y, id + 1, mask_eos, eos_id, lv, li, m, l);
            scan_one<K>(c[u].z, id + 2, mask_eos, eos_id, lv, li, m, l);
            scan_one<K>(c[u].w, id + 3, mask_eos, eos_id, lv, li, m, l);
        }
    }
    for (; v < nv; v += THREADS) {
        float4 c = x4[v];
        int id = a0 + 4 * v;
        scan_one<K>(c.x, id, mask_eos, eos_id, lv, li, m, l);
        scan_one<K>(c.y, id + 1, mask_eos, eos_id, lv, li, m, l);
        scan_one<K>(c.z, id + 2, mask_eos, eos_id, lv, li, m, l);
        scan_one<K>(c.w, id + 3, mask_eos, eos_id, lv, li, m, l);
    }
    if (a1 + t < hi)
        scan_one<K>(x[a1 + t], a1 + t, mask_eos, eos_id, lv, li, m, l);
}

/* Part p of row r: the block's slice [lo, hi) of the row reduced to
 * (max, sum exp) at pm/pl[at] and its k best raw logits at pv/pi[at*k]
 * (empty entries: id INT_MAX). at = r * P + p. */
template <int K, int THREADS>
static __device__ void topk_part(float *pm, float *pl, float *pv, int32_t *pi, size_t at,
                                 const float *row, int lo, int hi, int k, int mask_eos, int eos_id)
{
    float lv[K], m, l;
    int li[K];
    scan_logits<K, THREADS>(row, lo, hi, mask_eos, eos_id, lv, li, m, l);
    block_lse<THREADS>(m, l);
    if (threadIdx.x == 0) {
        pm[at] = m;
        pl[at] = l;
    }
    block_select<K, THREADS>(lv, li, k, 0.0f, pv + at * k, pi + at * k, INT_MAX);
}

/* Loads a part written by another block of the same kernel (CG: through L2,
 * not the incoherent L1) or by an earlier kernel. */
template <bool CG> static __device__ __forceinline__ float topk_ldf(const float *p)
{
    return CG ? __ldcg(p) : *p;
}
template <bool CG> static __device__ __forceinline__ int topk_ldi(const int32_t *p)
{
    return CG ? __ldcg(p) : *p;
}

/* Row r's P parts merged: the k best log-probabilities (log-sum-exp of the
 * parts subtracted) into vals/ids [r*k]. */
template <int K, int THREADS, bool CG>
static __device__ void topk_merge(float *vals, int32_t *ids, const float *pm, const float *pl,
                                  const float *pv, const int32_t *pi, int r, int P, int k)
{
    /* One pass: a thread's part (max, sum exp) and candidate loaded together
     * (four loads in flight, one L2 round trip where the lse, then the ids,
     * then the values took three); each reduction visits them in the same
     * order as before. */
    float m = -INFINITY, l = 0.0f;
    float lv[K];
    int li[K];
#pragma unroll
    for (int j = 0; j < K; j++) {
        lv[j] = -INFINITY;
        li[j] = INT_MAX;
    }
    const float *cv = pv + (size_t)r * P * k;
    const int32_t *ci = pi + (size_t)r * P * k;
    for (int c = threadIdx.x; c < P || c < P * k; c += THREADS) {
        const bool cand = c < P * k, part = c < P;
        const int id = cand ? topk_ldi<CG>(ci + c) : INT_MAX;
        const float v = cand ? topk_ldf<CG>(cv + c) : 0.0f;
        const float m2 = part ? topk_ldf<CG>(pm + (size_t)r * P + c) : -INFINITY;
        const float l2 = part ? topk_ldf<CG>(pl + (size_t)r * P + c) : 0.0f;
        const float mn = fmaxf(m, m2);
        if (part && mn != -INFINITY) {
            l = (m == -INFINITY ? 0.0f : l * __expf(m - mn)) +
                (m2 == -INFINITY ? 0.0f : l2 * __expf(m2 - mn));
            m = mn;
        }
        if (id != INT_MAX)
            list_insert<K>(lv, li, v, id);
    }
    block_lse<THREADS>(m, l);
    block_select<K, THREADS>(lv, li, k, m + logf(l), vals + (size_t)r * k, ids + (size_t)r * k, 0);
}

#endif
