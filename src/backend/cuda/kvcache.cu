/* kvcache.cu - moving K/V into and between cache slots.
 *
 * cross_kv_store scatters the encoder's fused cross K/V projection (all
 * decoder layers in one GEMM) into each request's cross slot. copy_slots
 * reorders self-attention caches for beam search.
 */
#include "cuda_internal.cuh"

#include <stdlib.h>
#include <string.h>

/* One block per encoder row (b, t); threads over n_layers * 2 * inner in
 * chunks of V (16 bytes when d_kv is a multiple of 16 bytes, so a chunk never
 * straddles two heads; else one element). A thread first loads up to
 * CS_BATCH chunks, then stores them: a loop of load-then-store waited for
 * each load in turn (t5-base's 18 chunks a thread: 6.4 us on an H200,
 * Nsight), and the loads do not wait for the row's length or slot either. */
#define CS_THREADS 256
#define CS_BATCH 8
template <typename T, typename V>
__global__ void __launch_bounds__(CS_THREADS)
    cross_store_kernel(T *kc, T *vc, const T *kv, const int32_t *slots, const int32_t *lens, int L,
                       int n_layers, int n_slots, int H, int max_len, int dkv)
{
    T5__PDL_ENTRY();
    constexpr int C = sizeof(V) / sizeof(T); /* elements per chunk */
    const int row = blockIdx.x, b = row / L, t = row - b * L;
    const int len = lens[b], slot = slots[b];
    const int inner = H * dkv, w = n_layers * 2 * inner, step = CS_THREADS * C;
    const T *src = kv + (size_t)row * w;
    for (int e0 = threadIdx.x * C; e0 < w; e0 += CS_BATCH * step) {
        V v[CS_BATCH];
#pragma unroll
        for (int u = 0; u < CS_BATCH; u++)
            if (e0 + u * step < w)
                v[u] = *(const V *)(src + e0 + u * step);
        if (t >= len || t >= max_len)
            return;
#pragma unroll
        for (int u = 0; u < CS_BATCH; u++) {
            const int e = e0 + u * step;
            if (e >= w)
                break;
            int l = e / (2 * inner), rem = e - l * 2 * inner;
            int which = rem >= inner, hd = rem - which * inner;
            int h = hd / dkv, i = hd - h * dkv;
            T *dst = (which ? vc : kc) +
                     ((((size_t)l * n_slots + slot) * H + h) * max_len + t) * dkv + i;
            *(V *)dst = v[u];
        }
    }
}

int t5__cu_cross_kv_store(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                          const void *kv, const int32_t *slots, const int32_t *lens, int B, int L,
                          t5_err *err)
{
    if (B <= 0 || L <= 0)
        return 0;
    CU_ENTER(s);
    size_t a = s->be->base.act_size;
    int vec = (lay->d_kv * a) % 16 == 0 && ((uintptr_t)kv | (uintptr_t)kcache | (uintptr_t)vcache) % 16 == 0;
    T5__DISPATCH(s->be->base.act_dtype, T, {
        if (vec)
            t5__launch(s, cross_store_kernel<T, uint4>, dim3(B * L), dim3(CS_THREADS), 0,
                       (T *)kcache, (T *)vcache, (const T *)kv, slots, lens, L, lay->n_layers,
                       lay->n_slots, lay->n_heads, lay->max_len, lay->d_kv);
        else
            t5__launch(s, cross_store_kernel<T, T>, dim3(B * L), dim3(CS_THREADS), 0, (T *)kcache,
                       (T *)vcache, (const T *)kv, slots, lens, L, lay->n_layers, lay->n_slots,
                       lay->n_heads, lay->max_len, lay->d_kv);
    });
    CU_CHECK_LAUNCH("cross_kv_store");
    return 0;
}

/* ---- copy_slots --------------------------------------------------------------
 * A reorder is a set of dst <- src copies where a slot may be both a
 * destination and (for another pair) a source, e.g. a swap. Sources that are
 * also destinations are first staged into a scratch area, then every pair
 * copies from the cache or from its staged copy; so every read sees the old
 * contents, as the contract asks. The pairs travel as kernel parameters
 * (COPY_CHUNK per launch), so no host-to-device copy is needed. */

#define COPY_CHUNK 128

struct copy_job {
    int n;
    int32_t dst[COPY_CHUNK]; /* >= 0: cache slot; < 0: scratch slot -(x+1) */
    int32_t src[COPY_CHUNK];
};

/* Grid (pair, layer*H, 2 caches); each block copies one (layer, head)'s
 * positions [0, len), which are contiguous in the cache and the scratch. */
static __global__ void copy_slots_kernel(const __grid_constant__ copy_job job, char *kc, char *vc,
                                         char *scratch, int n_slots, int n_scratch, int H,
                                         int max_len, size_t row_bytes, size_t span_bytes,
                                         int vec16)
{
    T5__PDL_ENTRY();
    int p = blockIdx.x, lh = blockIdx.y, which = blockIdx.z;
    int l = lh / H, h = lh - l * H;
    char *cache = which ? vc : kc;
    char *scr =
        scratch ? scratch + (size_t)which * n_scratch * (size_t)gridDim.y * span_bytes : NULL;
    int d = job.dst[p], sidx = job.src[p];
    const char *src =
        sidx >= 0 ? cache + (((size_t)l * n_slots + sidx) * H + h) * (size_t)max_len * row_bytes
                  : scr + ((size_t)l * n_scratch + (-sidx - 1)) * H * span_bytes + h * span_bytes;
    char *dst = d >= 0 ? cache + (((size_t)l * n_slots + d) * H + h) * (size_t)max_len * row_bytes
                       : scr + ((size_t)l * n_scratch + (-d - 1)) * H * span_bytes + h * span_bytes;
    if (vec16) {
        const uint4 *s4 = (const uint4 *)src;
        uint4 *d4 = (uint4 *)dst;
        for (size_t i = threadIdx.x; i < span_bytes / 16; i += blockDim.x)
            d4[i] = s4[i];
    } else {
        const uint16_t *s2 = (const uint16_t *)src;
        uint16_t *d2 = (uint16_t *)dst;
        for (size_t i = threadIdx.x; i < span_bytes / 2; i += blockDim.x)
            d2[i] = s2[i];
    }
}

static int launch_jobs(t5_stream *s, const int32_t *dst, const int32_t *src, int n, char *kc,
                       char *vc, const t5_kv_layout *lay, int n_scratch, size_t row_bytes,
                       size_t span_bytes, t5_err *err)
{
    int vec16 = row_bytes % 16 == 0 && span_bytes % 16 == 0;
    for (int o = 0; o < n; o += COPY_CHUNK) {
        copy_job job;
        job.n = n - o < COPY_CHUNK ? n - o : COPY_CHUNK;
        memcpy(job.dst, dst + o, job.n * sizeof(int32_t));
        memcpy(job.src, src + o, job.n * sizeof(int32_t));
        dim3 grid(job.n, lay->n_layers * lay->n_heads, 2);
        t5__launch(s, copy_slots_kernel, grid, dim3(128), 0, job, kc, vc, (char *)s->slot_scratch,
                   lay->n_slots, n_scratch, lay->n_heads, lay->max_len, row_bytes, span_bytes,
                   vec16);
        CU_CHECK_LAUNCH("copy_slots");
    }
    return 0;
}

int t5__cu_copy_slots(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                      const int32_t *dst, const int32_t *src, int n, int len, t5_err *err)
{
    if (n <= 0 || len <= 0)
        return 0;
    if (len > lay->max_len)
        return t5_errf(err, T5_EINVAL, "copy_slots: len %d > max_len %d", len, lay->max_len);
    CU_ENTER(s);
    size_t row_bytes = (size_t)lay->d_kv * s->be->base.act_size;
    size_t span_bytes = row_bytes * len;

    /* Host bookkeeping lives in a per-stream array that grows only when
     * more slots or pairs than ever before appear: pairs (dst, src), the
     * staging lists, and a slot -> staging index map (-1: not a
     * destination, -2: a destination not staged yet). */
    size_t need_n = 4 * (size_t)n + (size_t)lay->n_slots;
    if (need_n > s->host_tmp_n) {
        int32_t *nb = (int32_t *)realloc(s->host_tmp, need_n * sizeof(int32_t));
        if (!nb)
            return t5_errf(err, T5_ENOMEM, "copy_slots: out of memory");
        s->host_tmp = nb;
        s->host_tmp_n = need_n;
    }
    int32_t *pd = s->host_tmp, *ps = pd + n, *cs = pd + 2 * n, *cd = pd + 3 * n;
    int32_t *map = pd + 4 * n;
    int m = 0, nc = 0;
    for (int i = 0; i < n; i++) {
        if (dst[i] < 0 || dst[i] >= lay->n_slots || src[i] < 0 || src[i] >= lay->n_slots)
            return t5_errf(err, T5_EINVAL, "copy_slots: slot pair %d <- %d out of range", dst[i],
                           src[i]);
        if (dst[i] != src[i]) {
            pd[m] = dst[i];
            ps[m] = src[i];
            m++;
        }
    }
    for (int i = 0; i < m; i++)
        map[ps[i]] = -1;
    for (int i = 0; i < m; i++)
        map[pd[i]] = -2;
    /* A source that is also some pair's destination must be staged. */
    for (int i = 0; i < m; i++) {
        int q = map[ps[i]];
        if (q == -1)
            continue;
        if (q == -2) {
            q = nc;
            cs[nc] = ps[i];
            cd[nc] = -(nc + 1);
            nc++;
            map[ps[i]] = q;
        }
        ps[i] = -(q + 1);
    }
    int rc = 0;
    if (nc > 0) {
        size_t need = (size_t)nc * lay->n_layers * lay->n_heads * span_bytes * 2;
        if (need > s->slot_scratch_bytes) {
            /* Grows only when a larger reorder than ever before arrives. */
            size_t cap = need * 2;
            cudaFree(s->slot_scratch);
            s->slot_scratch = NULL;
            s->slot_scratch_bytes = 0;
            if (cudaMalloc(&s->slot_scratch, cap) != cudaSuccess) {
                cudaGetLastError();
                return t5_errf(err, T5_ENOMEM, "copy_slots: scratch of %zu bytes", cap);
            }
            s->slot_scratch_bytes = cap;
        }
        rc = launch_jobs(s, cd, cs, nc, (char *)kcache, (char *)vcache, lay, nc, row_bytes,
                         span_bytes, err);
    }
    if (!rc && m > 0)
        rc = launch_jobs(s, pd, ps, m, (char *)kcache, (char *)vcache, lay, nc, row_bytes,
                         span_bytes, err);
    return rc;
}
