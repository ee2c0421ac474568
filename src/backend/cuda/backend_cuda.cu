/* backend_cuda.cu - the CUDA backend: device, memory, weights, streams,
 * copies and CUDA-graph caching. The tensor operations live one family per
 * file beside this one (gemm.cu, norm.cu, attn_*.cu, ...).
 *
 * Sharing. The backend (one per loaded model) owns the weights; every engine
 * instance creates its own t5_stream (a cudaStream_t, a cuBLASLt handle with
 * its workspace, its GEMM plans and graphs), so several instances run
 * concurrently on one copy of the weights.
 */
#include "cuda_internal.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The device this thread last made current, so the per-op check is a
 * compare rather than a driver call. */
static __thread int t5__cur_dev = -1;

int t5__cu_use(const t5__cu_backend *be, t5_err *err)
{
    if (t5__cur_dev == be->dev)
        return 0;
    CU_CHECK(cudaSetDevice(be->dev));
    t5__cur_dev = be->dev;
    return 0;
}

/* ---- memory ----------------------------------------------------------------*/

static void *cu_alloc(t5_backend *b, size_t bytes)
{
    t5__cu_backend *be = (t5__cu_backend *)b;
    void *p = NULL;
    if (t5__cu_use(be, NULL) < 0)
        return NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return p;
}

static void cu_free(t5_backend *b, void *p)
{
    if (p) {
        t5__cu_use((t5__cu_backend *)b, NULL);
        cudaFree(p);
    }
}

/* fp32 -> act dtype, elementwise. */
template <typename T> __global__ void convert_kernel(T *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        t5__st(dst + i, src[i]);
}

int t5__cu_convert_f32(t5__cu_backend *be, void *dst, const float *src, size_t n, t5_err *err)
{
    int blocks = (int)((n + 255) / 256);
    if (blocks > be->n_sm * 16)
        blocks = be->n_sm * 16;
    if (blocks < 1)
        blocks = 1;
    T5__DISPATCH(be->base.act_dtype, T, convert_kernel<T><<<blocks, 256>>>((T *)dst, src, n));
    CU_CHECK_LAUNCH("convert");
    return 0;
}

static void *cu_host_alloc(t5_backend *b, size_t bytes)
{
    t5__cu_backend *be = (t5__cu_backend *)b;
    void *p = NULL;
    if (t5__cu_use(be, NULL) < 0)
        return NULL;
    if (cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return p;
}

static void cu_host_free(t5_backend *b, void *p)
{
    (void)b;
    if (p)
        cudaFreeHost(p);
}

/* Weights arrive as host fp32 and are stored in the act dtype (linear,
 * embedding) or fp32 (norm scales, bias tables). The conversion runs on the
 * device from a staging buffer that is reused across uploads. */
static int cu_upload_weight(t5_backend *b, int kind, const float *host, int64_t rows, int64_t cols,
                            void **out, t5_err *err)
{
    t5__cu_backend *be = (t5__cu_backend *)b;
    *out = NULL;
    if (rows < 1 || cols < 1)
        return t5_errf(err, T5_EINVAL, "upload_weight: bad shape %lld x %lld", (long long)rows,
                       (long long)cols);
    CU_USE(be);
    size_t n = (size_t)rows * (size_t)cols;
    int keep_f32 = kind == T5_W_NORM || kind == T5_W_BIAS_TABLE || be->base.act_dtype == T5_F32;
    size_t esz = keep_f32 ? 4 : be->base.act_size;
    void *d = NULL;
    if (cudaMalloc(&d, n * esz) != cudaSuccess) {
        cudaGetLastError();
        return t5_errf(err, T5_ENOMEM, "upload_weight: cudaMalloc of %zu bytes failed", n * esz);
    }
    if (keep_f32) {
        /* From pageable memory cudaMemcpy may return before its DMA has
         * landed, and the streams that read the weight are non-blocking
         * (not ordered after the legacy stream's copy): wait for it. A
         * kernel reading a just-uploaded fp32 weight saw part of the old
         * contents (lab_gemm, 2 of 8 runs on an H100). */
        cudaError_t e = cudaMemcpy(d, host, n * 4, cudaMemcpyHostToDevice);
        if (e == cudaSuccess)
            e = cudaDeviceSynchronize();
        if (e != cudaSuccess) {
            cudaFree(d);
            return t5_errf(err, T5_EDEVICE, "upload_weight: cudaMemcpy: %s", cudaGetErrorString(e));
        }
        *out = d;
        return 0;
    }
    if (be->stage_n < n) {
        cudaFree(be->stage);
        be->stage = NULL;
        be->stage_n = 0;
        if (cudaMalloc(&be->stage, n * 4) != cudaSuccess) {
            cudaGetLastError();
            cudaFree(d);
            return t5_errf(err, T5_ENOMEM, "upload_weight: staging of %zu bytes failed", n * 4);
        }
        be->stage_n = n;
    }
    cudaError_t e = cudaMemcpy(be->stage, host, n * 4, cudaMemcpyHostToDevice);
    int rc = 0;
    if (e != cudaSuccess)
        rc = t5_errf(err, T5_EDEVICE, "upload_weight: cudaMemcpy: %s", cudaGetErrorString(e));
    if (!rc)
        rc = t5__cu_convert_f32(be, d, be->stage, n, err);
    if (!rc && (e = cudaDeviceSynchronize()) != cudaSuccess)
        rc = t5_errf(err, T5_EDEVICE, "upload_weight: convert: %s", cudaGetErrorString(e));
    if (rc) {
        cudaFree(d);
        return rc;
    }
    *out = d;
    return 0;
}

static void cu_free_weight(t5_backend *b, void *w)
{
    cu_free(b, w);
}

/* ---- streams -------------------------------------------------------------- */

static void cu_stream_destroy(t5_stream *s)
{
    if (!s)
        return;
    t5__cu_use(s->be, NULL);
    if (s->st)
        cudaStreamSynchronize(s->st);
    t5__cu_fused_release(s);
    for (int i = 0; i < s->n_graphs; i++)
        cudaGraphExecDestroy(s->graphs[i].exec);
    if (s->be->plan_stats)
        t5__cu_gemm_plan_report(s);
    t5__cu_gemm_plans_free(s);
    if (s->lt)
        cublasLtDestroy(s->lt);
    cudaFree(s->ws);
    cudaFree(s->slot_scratch);
    cudaFree(s->topk_part);
    cudaFree(s->fs_bar);
    cudaFree(s->fs2_xp);
    cudaFree(s->fs_ll);
    if (s->fs_trace) {
        t5__cu_fused_trace_report(s);
        cudaFree(s->fs_trace);
    }
    free(s->host_tmp);
    cudaFreeHost(s->hstage);
    cudaFreeHost(s->dstage);
    if (s->own)
        cudaStreamDestroy(s->own);
    free(s);
}

static int cu_stream_create(t5_backend *b, int n_threads, t5_stream **out, t5_err *err)
{
    t5__cu_backend *be = (t5__cu_backend *)b;
    *out = NULL;
    CU_USE(be);
    t5_stream *s = (t5_stream *)calloc(1, sizeof *s);
    if (!s)
        return t5_errf(err, T5_ENOMEM, "stream_create: out of memory");
    s->be = be;
    s->ws_bytes = 32u << 20; /* cuBLASLt's recommendation for Hopper */
    s->stage_bytes = 1u << 20;
    int rc = 0;
#define SC(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            rc = t5_errf(err, T5_EDEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,              \
                         cudaGetErrorString(e_));                                                  \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
    SC(cudaStreamCreateWithFlags(&s->own, cudaStreamNonBlocking));
    s->st = s->own;
    SC(cudaMalloc(&s->ws, s->ws_bytes));
    SC(cudaMalloc((void **)&s->topk_part, sizeof(float) * 2 * T5__TOPK_PARTIALS));
    SC(cudaMalloc((void **)&s->fs_bar, 4 * sizeof(unsigned long long)));
    /* zeroed on this stream: cudaMemset runs on the legacy stream, which a
     * non-blocking stream's kernels are not ordered after */
    SC(cudaMemsetAsync(s->fs_bar, 0, 4 * sizeof(unsigned long long), s->st));
    if (be->fused_v2)
        SC(cudaMalloc((void **)&s->fs2_xp, T5__FS2_XP_BYTES));
    if (be->fused_ll && !be->no_fused) { /* flags 0: no launch's (they start at 1) */
        SC(cudaMalloc(&s->fs_ll, T5__FS_LL_BYTES));
        SC(cudaMemsetAsync(s->fs_ll, 0, T5__FS_LL_BYTES, s->st));
    }
    if (getenv("T5_CUDA_FUSED_TRACE")) {
        SC(cudaMalloc((void **)&s->fs_trace, T5__FS_TRACE_WORDS * sizeof(unsigned long long)));
        SC(cudaMemsetAsync(s->fs_trace, 0, T5__FS_TRACE_WORDS * sizeof(unsigned long long),
                           s->st));
    }
    SC(cudaHostAlloc((void **)&s->hstage, s->stage_bytes, cudaHostAllocDefault));
    SC(cudaHostAlloc((void **)&s->dstage, s->stage_bytes, cudaHostAllocMapped));
    SC(cudaHostGetDevicePointer((void **)&s->dstage_dev, s->dstage, 0));
#undef SC
    if (cublasLtCreate(&s->lt) != CUBLAS_STATUS_SUCCESS) {
        rc = t5_errf(err, T5_EDEVICE, "stream_create: cublasLtCreate failed");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    cu_stream_destroy(s);
    return rc;
}

/* ---- T5_CUDA_EV_TRACE (lab) ------------------------------------------------
 * An event recorded before and after every copy and graph launch outside a
 * capture, and the host's clock at each; at each sync that finds them all
 * on its stream, the intervals between consecutive events (the device's
 * time in each op and between ops) are added up per sequence of ops, and
 * the backend's destruction prints their means (one line per sequence). */
#define EVT_MAX 24
#define EVT_SEQS 8
struct t5__evtrace {
    cudaEvent_t ev[EVT_MAX];
    cudaStream_t st[EVT_MAX];
    double host[EVT_MAX];
    char lab[EVT_MAX];
    int n;
    struct {
        char sig[EVT_MAX + 1];
        int n, count;
        double gpu[EVT_MAX], host[EVT_MAX + 1];
    } seq[EVT_SEQS];
};

static double evt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void evt_mark(t5_stream *s, char lab)
{
    t5__evtrace *t = s->be->evt;
    if (!t || s->capturing || t->n >= EVT_MAX)
        return;
    if (!t->ev[t->n])
        cudaEventCreate(&t->ev[t->n]);
    t->host[t->n] = evt_now_us();
    t->st[t->n] = s->st;
    t->lab[t->n] = lab;
    cudaEventRecord(t->ev[t->n], s->st);
    t->n++;
}

static void evt_sync(t5_stream *s)
{
    t5__evtrace *t = s->be->evt;
    if (!t || !t->n)
        return;
    double back = evt_now_us();
    for (int i = 0; i < t->n; i++)
        if (t->st[i] != s->st)
            return; /* some on another stream: left for its sync */
    char sig[EVT_MAX + 1];
    memcpy(sig, t->lab, t->n);
    sig[t->n] = 0;
    int q = 0;
    while (q < EVT_SEQS && t->seq[q].count && strcmp(t->seq[q].sig, sig))
        q++;
    if (q < EVT_SEQS) {
        if (!t->seq[q].count) {
            memcpy(t->seq[q].sig, sig, sizeof sig);
            t->seq[q].n = t->n;
        }
        t->seq[q].count++;
        for (int i = 1; i < t->n; i++) {
            float ms = 0;
            cudaEventElapsedTime(&ms, t->ev[i - 1], t->ev[i]);
            t->seq[q].gpu[i] += ms * 1e3;
        }
        for (int i = 0; i < t->n; i++)
            t->seq[q].host[i] += t->host[i] - t->host[0];
        t->seq[q].host[t->n] += back - t->host[0];
    }
    t->n = 0;
}

static void evt_report(t5__evtrace *t)
{
    for (int q = 0; q < EVT_SEQS && t->seq[q].count; q++) {
        int c = t->seq[q].count;
        fprintf(stderr, "ev-trace %s (x%d): device us between events:", t->seq[q].sig, c);
        for (int i = 1; i < t->seq[q].n; i++)
            fprintf(stderr, " %c-%c %.1f", t->seq[q].sig[i - 1], t->seq[q].sig[i],
                    t->seq[q].gpu[i] / c);
        fprintf(stderr, "; host us from the first:");
        for (int i = 1; i < t->seq[q].n; i++)
            fprintf(stderr, " %c %.1f", t->seq[q].sig[i], t->seq[q].host[i] / c);
        fprintf(stderr, " sync-return %.1f\n", t->seq[q].host[t->seq[q].n] / c);
    }
    for (int i = 0; i < EVT_MAX; i++)
        if (t->ev[i])
            cudaEventDestroy(t->ev[i]);
    free(t);
}

/* After a sync that covered everything s issued: its d2h copies delivered
 * and its staging free again. */
static void staging_done(t5_stream *s)
{
    for (int i = 0; i < s->n_pending; i++)
        memcpy(s->pending[i].dst, s->dstage + s->pending[i].off, s->pending[i].bytes);
    s->n_pending = 0;
    s->hoff = s->doff = 0;
}

static int cu_sync(t5_stream *s, t5_err *err)
{
    CU_ENTER(s);
    CU_CHECK(cudaStreamSynchronize(s->st));
    evt_sync(s);
    staging_done(s);
    if (s->joined_by) { /* what it issued into this stream is done too */
        staging_done(s->joined_by);
        s->joined_by = NULL;
    }
    return 0;
}

/* Joined, s issues into `into`'s CUDA stream: one queue, so what follows
 * on `into` needs no cross-stream wait (an event join measured the same:
 * bench/cuda.md, session 32). */
static int cu_stream_join(t5_stream *s, t5_stream *into, t5_err *err)
{
    CU_ENTER(s);
    if (into) {
        if (s->st != s->own || into->st != into->own || into == s)
            return t5_errf(err, T5_EINVAL, "stream_join: already joined");
        if (into->pend.kind) { /* into's pending op before s's work */
            int rc = t5__cu_pending_flush(into, err);
            if (rc < 0)
                return rc;
        }
        s->st = into->own;
        into->joined_by = s;
        return 0;
    }
    s->st = s->own;
    return 0;
}

static size_t align256(size_t x)
{
    return (x + 255) & ~(size_t)255;
}

/* Small device-to-host copies by a kernel instead of the copy engine: at
 * batch 1 a request's last copy (the chain's results, a few hundred bytes)
 * took 6.8-7.4 us of the device's time, against 4.1-4.2 us as a kernel
 * that writes the pinned staging (mapped: host memory the device can
 * write), which sync() then delivers (session 32's event trace,
 * bench/cuda.md). It waits for the kernel before it (PDL), as a copy
 * would. Host-to-device copies stay on the copy engine: a kernel taking
 * the data as its parameters was no faster there. T5_CUDA_DOWNLOAD_KERNEL=0:
 * the copy engine (A/B). */
#define XFER_D2H_MAX (64u << 10)

static __global__ void __launch_bounds__(256)
    download_kernel(uint32_t *dst, const uint32_t *src, int n)
{
    T5__PDL_ENTRY();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        dst[i] = src[i];
    __threadfence_system();
}

static bool download_by_kernel(const t5_stream *s, const void *src, size_t bytes)
{
    return s->be->download_kernel && !s->capturing && bytes % 4 == 0 && (uintptr_t)src % 4 == 0 &&
           bytes <= XFER_D2H_MAX;
}

static int cu_h2d(t5_stream *s, void *dst, const void *src, size_t bytes, t5_err *err)
{
    CU_ENTER(s);
    if (!bytes)
        return 0;
    /* Staged through pinned memory when it fits and we are not capturing
     * (a captured copy would read the staging area at replay time). */
    if (!s->capturing && s->hoff + bytes <= s->stage_bytes) {
        char *p = s->hstage + s->hoff;
        memcpy(p, src, bytes);
        s->hoff = align256(s->hoff + bytes);
        evt_mark(s, 'h');
        CU_CHECK(cudaMemcpyAsync(dst, p, bytes, cudaMemcpyHostToDevice, s->st));
        evt_mark(s, 'H');
        return 0;
    }
    CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s->st));
    return 0;
}

static int cu_d2h(t5_stream *s, void *dst, const void *src, size_t bytes, t5_err *err)
{
    CU_ENTER(s);
    if (!bytes)
        return 0;
    if (!s->capturing && s->n_pending < T5__PENDING && s->doff + bytes <= s->stage_bytes) {
        evt_mark(s, 'd');
        if (download_by_kernel(s, src, bytes)) {
            int n = (int)(bytes / 4), g = (n + 255) / 256;
            CU_CHECK(t5__launch(s, download_kernel, dim3(g < 16 ? g : 16), dim3(256), 0,
                                (uint32_t *)(s->dstage_dev + s->doff), (const uint32_t *)src, n));
        } else {
            CU_CHECK(
                cudaMemcpyAsync(s->dstage + s->doff, src, bytes, cudaMemcpyDeviceToHost, s->st));
        }
        evt_mark(s, 'D');
        s->pending[s->n_pending].dst = dst;
        s->pending[s->n_pending].off = s->doff;
        s->pending[s->n_pending].bytes = bytes;
        s->n_pending++;
        s->doff = align256(s->doff + bytes);
        return 0;
    }
    CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s->st));
    return 0;
}

static int cu_memset0(t5_stream *s, void *dst, size_t bytes, t5_err *err)
{
    CU_ENTER(s);
    CU_CHECK(cudaMemsetAsync(dst, 0, bytes, s->st));
    return 0;
}

/* ---- CUDA graphs -----------------------------------------------------------
 * The first call for a key runs fn eagerly (its results are wanted, and the
 * eager run also performs any lazy module loading and cuBLASLt planning
 * outside a capture), then captures a second issue of fn into a graph that
 * is instantiated but not launched. Later calls replay the graph: one launch
 * for the whole decoder step. */
static int cu_run_cached(t5_stream *s, uint64_t key, int (*fn)(void *, t5_err *), void *arg,
                         t5_err *err)
{
    CU_ENTER(s);
    if (s->be->no_graphs)
        return fn(arg, err);
    for (int i = 0; i < s->n_graphs; i++)
        if (s->graphs[i].key == key) {
            evt_mark(s, 'g');
            CU_CHECK(cudaGraphLaunch(s->graphs[i].exec, s->st));
            evt_mark(s, 'G');
            return 0;
        }
    int rc = fn(arg, err);
    if (rc >= 0 && s->pend.kind)
        rc = t5__cu_pending_flush(s, err); /* keep the capture to fn's own ops */
    if (rc < 0 || s->n_graphs == T5__GRAPHS)
        return rc; /* table full: keep running eagerly */
    CU_CHECK(cudaStreamBeginCapture(s->st, cudaStreamCaptureModeThreadLocal));
    s->capturing = 1;
    rc = fn(arg, err);
    if (rc >= 0 && s->pend.kind)
        rc = t5__cu_pending_flush(s, err); /* into the graph, not after it */
    s->capturing = 0;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(s->st, &g);
    if (rc < 0) {
        if (g)
            cudaGraphDestroy(g);
        return rc;
    }
    if (e != cudaSuccess)
        return t5_errf(err, T5_EDEVICE, "run_cached: capture of key %llu: %s",
                       (unsigned long long)key, cudaGetErrorString(e));
    cudaGraphExec_t ex = NULL;
    e = cudaGraphInstantiate(&ex, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess)
        return t5_errf(err, T5_EDEVICE, "run_cached: instantiate key %llu: %s",
                       (unsigned long long)key, cudaGetErrorString(e));
    s->graphs[s->n_graphs].key = key;
    s->graphs[s->n_graphs].exec = ex;
    s->n_graphs++;
    return 0;
}

/* ---- the backend ---------------------------------------------------------- */

static void cu_destroy(t5_backend *b)
{
    t5__cu_backend *be = (t5__cu_backend *)b;
    if (!be)
        return;
    t5__cu_use(be, NULL);
    if (be->evt)
        evt_report(be->evt);
    cudaFree(be->stage);
    free(be);
}

static t5_backend_vt make_vt(void)
{
    t5_backend_vt v;
    memset(&v, 0, sizeof v);
    v.name = "cuda";
    v.destroy = cu_destroy;
    v.alloc = cu_alloc;
    v.free = cu_free;
    v.host_alloc = cu_host_alloc;
    v.host_free = cu_host_free;
    v.upload_weight = cu_upload_weight;
    v.free_weight = cu_free_weight;
    v.stream_create = cu_stream_create;
    v.stream_destroy = cu_stream_destroy;
    v.sync = cu_sync;
    v.h2d = cu_h2d;
    v.d2h = cu_d2h;
    v.memset0 = cu_memset0;
    v.stream_join = cu_stream_join;
    v.run_cached = cu_run_cached;
    v.embed = t5__cu_embed;
    v.rmsnorm = t5__cu_pending_norm;
    v.gemm = t5__cu_gemm;
    v.ffn_act = t5__cu_pending_act;
    v.attn_encoder = t5__cu_attn_encoder;
    v.cross_kv_store = t5__cu_cross_kv_store;
    v.attn_decoder_self = t5__cu_attn_decoder_self;
    v.attn_cross = t5__cu_attn_cross;
    v.logits_topk = t5__cu_logits_topk;
    v.copy_slots = t5__cu_copy_slots;
    v.decode_step = t5__cu_decode_step;
    v.cross_absorb = getenv("T5_CUDA_NO_ABSORB") ? NULL : t5__cu_cross_absorb;
    v.absorb_weights = t5__cu_absorb_weights;
    return v;
}

static const t5_backend_vt cu_vt = make_vt();

extern "C" int t5_backend_cuda_create(t5_backend **out, t5_dtype dtype, int device_index,
                                      t5_err *err)
{
    *out = NULL;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        return t5_errf(err, T5_EUNSUP, "cuda: no usable CUDA device (%s)",
                       e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
    }
    if (device_index < 0 || device_index >= n)
        return t5_errf(err, T5_EINVAL, "cuda: device index %d out of range (%d device%s)",
                       device_index, n, n == 1 ? "" : "s");
    if (dtype != T5_F32 && dtype != T5_F16 && dtype != T5_BF16)
        return t5_errf(err, T5_EUNSUP, "cuda: unsupported dtype %d", (int)dtype);
    cudaDeviceProp prop;
    CU_CHECK(cudaGetDeviceProperties(&prop, device_index));
    if (dtype == T5_BF16 && prop.major < 8)
        return t5_errf(err, T5_EUNSUP, "cuda: bf16 needs compute capability 8.0+, %s is %d.%d",
                       prop.name, prop.major, prop.minor);
    t5__cu_backend *be = (t5__cu_backend *)calloc(1, sizeof *be);
    if (!be)
        return t5_errf(err, T5_ENOMEM, "cuda: out of memory");
    be->base.vt = &cu_vt;
    be->base.device = T5_DEVICE_CUDA;
    be->base.act_dtype = dtype;
    be->base.act_size = dtype == T5_F32 ? 4 : 2;
    be->dev = device_index;
    be->n_sm = prop.multiProcessorCount;
    be->fused_grid = getenv("T5_CUDA_FUSED_GRID") ? atoi(getenv("T5_CUDA_FUSED_GRID")) : 0;
    if (be->fused_grid < 1 || be->fused_grid > be->n_sm)
        be->fused_grid = be->n_sm;
    be->smem_optin = prop.sharedMemPerBlockOptin;
    be->no_gemv = getenv("T5_CUDA_NO_GEMV") != NULL;
    /* The CUDA-core GEMV path ties cuBLASLt at one row and loses from 8 rows
     * on (H200, bench/cuda.md); the tensor-core kernel below beats it from 2
     * rows (H100, session 15: with it and the per-op step, t5-small batch 4
     * 2.16 vs 2.97 ms, 4 beams 2.27-2.30 vs 3.23-3.26). So 16-bit models take
     * the GEMV for one row only, fp32 (no tensor-core path) up to 4. */
    be->gemv_max_m = getenv("T5_CUDA_GEMV_MAX_M")          ? atoi(getenv("T5_CUDA_GEMV_MAX_M"))
                     : dtype != T5_F32 && prop.major >= 8 ? 1
                                                          : 4;
    if (be->gemv_max_m > T5__GEMV_MAX_M)
        be->gemv_max_m = T5__GEMV_MAX_M;
    /* From there to 16 rows (the encoder of a short input, padded to a
     * multiple of 8; decoder steps of 5-16 rows) the tensor-core small-m
     * kernel (gemv.cu), which fuses the norm or activation before it as the
     * GEMV does; mma.m16n8k16 needs sm_80. 0 turns it off. */
    be->mma_max_m = getenv("T5_CUDA_MMA_MAX_M") ? atoi(getenv("T5_CUDA_MMA_MAX_M")) : 16;
    if (be->mma_max_m > 16 || prop.major < 8)
        be->mma_max_m = prop.major < 8 ? 0 : 16;
    be->no_graphs = getenv("T5_CUDA_NO_GRAPHS") != NULL;
    be->download_kernel =
        !getenv("T5_CUDA_DOWNLOAD_KERNEL") || atoi(getenv("T5_CUDA_DOWNLOAD_KERNEL"));
    if (getenv("T5_CUDA_EV_TRACE"))
        be->evt = (t5__evtrace *)calloc(1, sizeof *be->evt);
    be->pdl = prop.major >= 9 && getenv("T5_CUDA_NO_PDL") == NULL;
    be->absorb_mma = prop.major >= 8 &&
                     (!getenv("T5_CUDA_ABSORB_MMA") || atoi(getenv("T5_CUDA_ABSORB_MMA")) > 0);
    be->no_warp_attn = getenv("T5_CUDA_NO_WARP_ATTN") != NULL;
    be->warp_attn_always = getenv("T5_CUDA_WARP_ATTN") != NULL;
    be->no_attn_w64 = getenv("T5_CUDA_ATTN_W64") && !atoi(getenv("T5_CUDA_ATTN_W64"));
    /* at any count: 5-16 rows (40-128 pairs of 8 heads) gain the most
     * against the block kernel (bench/cuda.md, session 15) */
    be->w64_min_pairs =
        getenv("T5_CUDA_ATTN_W64_PAIRS") ? atoi(getenv("T5_CUDA_ATTN_W64_PAIRS")) : 0;
    be->no_fused = getenv("T5_CUDA_NO_FUSED_STEP") != NULL;
    be->plan_stats = getenv("T5_CUDA_PLAN_STATS") != NULL;
    /* The cluster kernel (fused_step2.cu) is opt-in: on an H200 it lost to
     * fused_step.cu's at one row and to the per-op graph at 8 (bench/cuda.md). */
    be->fused_v2 = prop.major >= 9 && getenv("T5_CUDA_FUSED_V2") != NULL;
    /* fused_step.cu's flag-in-data kernel (default; T5_CUDA_FUSED_LL=0: the
     * barrier kernel): same numerics, 11% faster at batch 1 on an H100. */
    be->fused_ll = !getenv("T5_CUDA_FUSED_LL") || atoi(getenv("T5_CUDA_FUSED_LL")) > 0;
    /* ... and a one-row greedy chain's steps in one launch of it (fused_step.cu,
     * CH; T5_CUDA_FUSED_CHAIN=0: a launch a step) */
    be->fused_chain = !getenv("T5_CUDA_FUSED_CHAIN") || atoi(getenv("T5_CUDA_FUSED_CHAIN")) > 0;
    /* ... with its weight slices staged evict-first in L2 (default;
     * T5_CUDA_FUSED_EVICT_FIRST=0: normal): 2-3% at batch 1 on an H100. */
    be->fused_ef =
        !getenv("T5_CUDA_FUSED_EVICT_FIRST") || atoi(getenv("T5_CUDA_FUSED_EVICT_FIRST")) > 0;
    /* the LL step launched with PDL: its first weight stages and block
     * scheduling overlap the kernel before (bench/cuda.md, session 11: batch 1
     * on an H100, t5-small -0.9%, t5-base -0.7%); T5_CUDA_FUSED_PDL=0 turns it off */
    be->fused_pdl =
        be->pdl && (!getenv("T5_CUDA_FUSED_PDL") || atoi(getenv("T5_CUDA_FUSED_PDL")) > 0);
    /* the LL / barrier step's threads a block: by the model unless set */
    be->fused_threads = getenv("T5_CUDA_FUSED_THREADS") ? atoi(getenv("T5_CUDA_FUSED_THREADS")) : 0;
    if (be->fused_threads != 384 && be->fused_threads != 512)
        be->fused_threads = 0;
    /* KB of its LM head slice a block keeps in shared memory through a
     * one-launch chain (fused_step.cu, CH; bulk copies: sm_90+; 0: none):
     * as much as fits up to 160 by default, t5-small batch 1 4% faster on
     * an H100, t5-base level (bench/cuda.md, session 22) */
    be->fused_head_kb =
        getenv("T5_CUDA_FUSED_HEAD_KB") ? atoi(getenv("T5_CUDA_FUSED_HEAD_KB")) : 160;
    if (prop.major < 9 || be->fused_head_kb < 0)
        be->fused_head_kb = 0;
    /* a one-launch chain of a common decoder shape takes a kernel built for
     * it, its sizes constants (fused_step.cu's fs_shape; compiled for sm_90
     * only); T5_CUDA_FUSED_SHAPES=0: the kernel of any shape, 2: also say
     * on stderr which shape a chain's kernel was built for */
    be->fused_shapes = getenv("T5_CUDA_FUSED_SHAPES") ? atoi(getenv("T5_CUDA_FUSED_SHAPES")) : 1;
    if (prop.major != 9 || be->fused_shapes < 0)
        be->fused_shapes = 0;
    /* Rows a fused step takes by default (bench/cuda.md): one. The barrier
     * kernel wins at one row and loses to the per-op graph at 2-4 (H200); the
     * cluster kernel won at 4 rows; the LL kernel won at 2-4 rows until the
     * per-op step took the tensor-core GEMMs and dec_attn_w64 there (H100,
     * session 15: t5-small batch 2 2.07 vs 2.15-2.17 ms, batch 4 2.16 vs
     * 2.97-2.98, 4 beams 2.27-2.30 vs 3.23-3.26; t5-base batch 2 4.88 vs
     * 5.52-5.57, 4 beams 5.11-5.16 vs 7.63-7.65), and it still wins at one
     * (t5-small 1.73-1.75 vs 2.03-2.05 per-op, t5-base 3.98-4.04 vs 4.70). */
    be->fused_max_rows = getenv("T5_CUDA_FUSED_MAX_ROWS") ? atoi(getenv("T5_CUDA_FUSED_MAX_ROWS"))
                         : be->fused_v2                   ? 4
                                                          : 1;
    if (be->fused_max_rows > 8)
        be->fused_max_rows = 8;
    /* the barrier kernel (where the LL kernel is off or its words do not fit) */
    be->fused_max_rows_bar = getenv("T5_CUDA_FUSED_MAX_ROWS") ? be->fused_max_rows : 1;
    /* steps with absorbed cross-attention: the same (the LL kernel took up
     * to 4 rows against the per-op step before session 15) */
    be->fused_max_rows_abs = be->fused_max_rows;
    int rc = t5__cu_use(be, err);
    if (rc < 0) {
        free(be);
        return rc;
    }
    *out = &be->base;
    return 0;
}
