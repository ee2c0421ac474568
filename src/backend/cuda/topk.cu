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
#include "topk_dev.cuh"

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
    topk_part<K, THREADS>(pm, pl, pv, pi, (size_t)r * P + p, logits + (size_t)r * V, lo, hi, k,
                          no_eos && no_eos[r], eos_id);
}

template <int K, int THREADS>
__global__ void __launch_bounds__(THREADS)
    topk_merge_kernel(float *vals, int32_t *ids, const float *pm, const float *pl, const float *pv,
                      const int32_t *pi, int P, int k)
{
    T5__PDL_ENTRY();
    topk_merge<K, THREADS, false>(vals, ids, pm, pl, pv, pi, blockIdx.x, P, k);
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
        /* Many rows: at most 256 threads a row, so several rows share an SM
         * and more loads are in flight per thread (a 1024-thread block per
         * row read 1024 x 32128 logits at ~1.5 TB/s). */
        constexpr int T1 = THREADS < 256 ? THREADS : 256;
        t5__launch(s, topk_kernel<K, T1>, dim3(n), dim3(T1), 0, vals, ids, logits, V, k, no_eos,
                   eos_id);
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
