/* topk.cu - log-softmax and top-k of each logits row, on the device.
 *
 * Greedy and beam search only need the k best (log-prob, id) pairs of each
 * row, so the full logits never cross to the host. One block per row, one
 * pass over the row: each thread keeps a running (max, sum of exp) for the
 * log-sum-exp and a sorted list of its K best candidates in registers (K a
 * compile-time bound >= k, so the list stays in registers). The block then
 * pops the best head k times (block arg-max over the threads' heads).
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

template <int K, int THREADS>
__global__ void __launch_bounds__(THREADS)
topk_kernel(float *vals, int32_t *ids, const float *logits, int V, int k,
            const int32_t *no_eos, int eos_id)
{
    __shared__ float s_m[THREADS / 32], s_l[THREADS / 32];
    __shared__ vi s_best[THREADS / 32];
    __shared__ vi s_win;
    int r = blockIdx.x;
    const float *x = logits + (size_t)r * V;
    int mask_eos = no_eos && no_eos[r];
    float lv[K];
    int li[K];
#pragma unroll
    for (int j = 0; j < K; j++) {
        lv[j] = -INFINITY;
        li[j] = INT_MAX;
    }
    float m = -INFINITY, l = 0.0f;
    for (int id = threadIdx.x; id < V; id += THREADS) {
        float v = x[id];
        if (v > m) {
            l = l * __expf(m - v) + 1.0f; /* m = -inf at first: exp(-inf) = 0 */
            m = v;
        } else if (v > -INFINITY) {
            l += __expf(v - m);
        }
        float c = (mask_eos && id == eos_id) ? -INFINITY : v;
        if (better(c, id, lv[K - 1], li[K - 1])) {
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
    }
    /* Block log-sum-exp: combine (m, l) pairs. */
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
    float M = -INFINITY, Lsum = 0.0f;
    for (int w = 0; w < THREADS / 32; w++)
        M = fmaxf(M, s_m[w]);
    for (int w = 0; w < THREADS / 32; w++)
        if (s_m[w] != -INFINITY)
            Lsum += s_l[w] * __expf(s_m[w] - M);
    float lse = M + logf(Lsum);

    /* k rounds of block arg-max over the list heads. */
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
            vals[(size_t)r * k + round] = b.i == INT_MAX ? -INFINITY : b.v - lse;
            ids[(size_t)r * k + round] = b.i == INT_MAX ? 0 : b.i;
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

template <int K, int THREADS>
static void topk_launch(cudaStream_t st, float *vals, int32_t *ids, const float *logits, int n,
                        int V, int k, const int32_t *no_eos, int eos_id)
{
    topk_kernel<K, THREADS><<<n, THREADS, 0, st>>>(vals, ids, logits, V, k, no_eos, eos_id);
}

int t5__cu_logits_topk(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n,
                       int V, int k, const int32_t *no_eos, int eos_id, t5_err *err)
{
    if (n <= 0)
        return 0;
    if (k < 1 || k > 64 || k > V)
        return t5_errf(err, T5_EUNSUP, "logits_topk: k=%d not supported (1..min(64, V=%d))", k,
                       V);
    CU_USE(s->be);
    cudaStream_t st = s->st;
    if (k == 1)
        topk_launch<1, 1024>(st, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 2)
        topk_launch<2, 1024>(st, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 4)
        topk_launch<4, 512>(st, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 8)
        topk_launch<8, 512>(st, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 16)
        topk_launch<16, 256>(st, vals, ids, logits, n, V, k, no_eos, eos_id);
    else if (k <= 32)
        topk_launch<32, 256>(st, vals, ids, logits, n, V, k, no_eos, eos_id);
    else
        topk_launch<64, 128>(st, vals, ids, logits, n, V, k, no_eos, eos_id);
    CU_CHECK_LAUNCH("logits_topk");
    return 0;
}
