/* cuda_internal.cuh - what the CUDA backend's files share (private).
 *
 * The backend is split by kernel family (one .cu file each); this header holds
 * the backend and stream structs, the check macros that turn every CUDA and
 * cuBLASLt failure into a T5_EDEVICE with file:line in t5_err, and the small
 * dtype helpers the kernels are templated on.
 *
 * Storage formats (see backend.h): activations, KV caches, linear and
 * embedding weights are in the backend's act dtype (fp32, fp16 or bf16);
 * RMSNorm scales and relative-bias tables are kept fp32 (tiny, and it keeps
 * the statistics path exact); the residual stream and logits are fp32.
 */
#ifndef T5_CUDA_INTERNAL_CUH
#define T5_CUDA_INTERNAL_CUH

/* backend.h has no extern "C" block of its own; <math.h> must come first so
 * its C++ overloads are not declared with C linkage. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend/backend.h"
}

/* ---- error checks ---------------------------------------------------------
 * Each returns from the enclosing function (which must have `t5_err *err`)
 * with T5_EDEVICE and "file:line: call: reason". */
#define CU_CHECK(call)                                                                             \
    do {                                                                                           \
        cudaError_t cu__e = (call);                                                                \
        if (cu__e != cudaSuccess)                                                                  \
            return t5_errf(err, T5_EDEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,            \
                           cudaGetErrorString(cu__e));                                             \
    } while (0)

/* After a kernel launch: catches bad launch configurations at once (the
 * asynchronous faults surface at the next sync, also as T5_EDEVICE). */
#define CU_CHECK_LAUNCH(what)                                                                      \
    do {                                                                                           \
        cudaError_t cu__e = cudaGetLastError();                                                    \
        if (cu__e != cudaSuccess)                                                                  \
            return t5_errf(err, T5_EDEVICE, "%s:%d: launch %s: %s", __FILE__, __LINE__, what,      \
                           cudaGetErrorString(cu__e));                                             \
    } while (0)

#define LT_CHECK(call)                                                                             \
    do {                                                                                           \
        cublasStatus_t lt__s = (call);                                                             \
        if (lt__s != CUBLAS_STATUS_SUCCESS)                                                        \
            return t5_errf(err, T5_EDEVICE, "%s:%d: %s: cublas status %d", __FILE__, __LINE__,     \
                           #call, (int)lt__s);                                                     \
    } while (0)

/* ---- the backend and its streams ----------------------------------------- */

typedef struct t5__cu_backend {
    t5_backend base; /* first: the engine sees a t5_backend * */
    int dev;
    int n_sm;
    int fused_grid;       /* the fused step's blocks at most: n_sm (T5_CUDA_FUSED_GRID) */
    size_t smem_optin;    /* largest dynamic shared memory a block may ask for */
    int no_gemv;          /* T5_CUDA_NO_GEMV set: always cuBLASLt, never fuse */
    int gemv_max_m;       /* rows up to which the GEMV path is taken (T5_CUDA_GEMV_MAX_M) */
    int mma_max_m;        /* then the tensor-core path (fp16/bf16, sm_80+; T5_CUDA_MMA_MAX_M) */
    int no_graphs;        /* T5_CUDA_NO_GRAPHS set: run_cached runs eagerly */
    int download_kernel;  /* small d2h copies by a kernel (T5_CUDA_DOWNLOAD_KERNEL=0: not) */
    int pdl;              /* programmatic dependent launch (sm_90+, unless T5_CUDA_NO_PDL) */
    int absorb_mma;       /* cross_absorb on the tensor cores where it can (sm_80+, 16-bit;
                             T5_CUDA_ABSORB_MMA=0: the CUDA-core kernel always) */
    int no_warp_attn;     /* T5_CUDA_NO_WARP_ATTN: decoder attention always by the block kernel */
    int warp_attn_always; /* T5_CUDA_WARP_ATTN=1: the warp kernel at any row count (lab) */
    int no_attn_w64;      /* T5_CUDA_ATTN_W64=0: not the d_kv 64 warp kernel (attn_decoder.cu) */
    int w64_min_pairs;    /* (row, head) pairs from which it is taken (T5_CUDA_ATTN_W64_PAIRS) */
    int no_fused;         /* T5_CUDA_NO_FUSED_STEP: no decode_step, the engine issues the ops */
    int plan_stats;       /* T5_CUDA_PLAN_STATS: print plan-building counts at stream destroy */
    int fused_max_rows;   /* T5_CUDA_FUSED_MAX_ROWS: rows up to which decode_step is taken (1..8) */
    int fused_max_rows_bar; /* the same for fused_step.cu's barrier kernel (1 unless set) */
    int fused_max_rows_abs; /* the same for steps with absorbed cross-attention (4 with LL) */
    int fused_v2;         /* sm_90+ and T5_CUDA_FUSED_V2 set: the cluster kernel (fused_step2.cu) */
    int fused_ll;         /* T5_CUDA_FUSED_LL: fused_step.cu's flag-in-data kernel */
    int fused_chain;      /* T5_CUDA_FUSED_CHAIN: a greedy chain's steps in one LL launch */
    int fused_ef;         /* T5_CUDA_FUSED_EVICT_FIRST: its weight slices staged evict-first */
    int fused_pdl;        /* T5_CUDA_FUSED_PDL (default on, sm_90+): the LL step launched with PDL */
    int fused_threads;    /* T5_CUDA_FUSED_THREADS 384 or 512; 0: by the model (fused_step.cu) */
    int fused_head_kb;    /* T5_CUDA_FUSED_HEAD_KB: a chain's resident LM head a block (sm_90+) */
    int fused_shapes;     /* T5_CUDA_FUSED_SHAPES (sm_90+): a chain's kernel by shape (fs_shape) */
    float *stage;         /* upload_weight staging (fp32), grown as needed */
    size_t stage_n;
    struct t5__evtrace *evt; /* T5_CUDA_EV_TRACE (lab): the device's time between copies and
                                graphs (backend_cuda.cu) */
} t5__cu_backend;

/* One cached cuBLASLt plan: descriptors and the chosen algorithm for one
 * (m, n, k, flags) shape, so a GEMM call costs one cublasLtMatmul. */
typedef struct t5__gemm_plan {
    int used;
    int m, n, k, flags;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} t5__gemm_plan;

#define T5__GEMM_PLANS 1024
#define T5__GRAPHS 256 /* decoder steps per (rows, k), encoders per (n, L) */
#define T5__PENDING 64
/* Floats in a stream's top-k partial buffer (row parts x (k + 1) x 2). */
#define T5__TOPK_PARTIALS (64 * 1024)

/* Bytes of a stream's residual-partials buffer for fused_step2.cu. */
#define T5__FS2_XP_BYTES (1u << 20)
/* fused_step.cu's LL kernel: its exchange words (8 bytes per value of every
 * phase of a step: t5-base at 4 rows needs 3.3 MB) */
#define T5__FS_LL_BYTES (8u << 20)
/* T5_CUDA_FUSED_TRACE's counters: 10 phase sums, 4 sub-phase sums, labels,
 * steps, then the LL kernel's 4 sub-phase sums of each of a layer's 6 phases */
#define T5__FS_TRACE_WORDS 40

/* Rows up to which GEMMs take the small-m path of gemv.cu, with a pending
 * RMSNorm or FFN activation fused into their prologue. */
#define T5__GEMV_MAX_M 16 /* upper bound; the backend's gemv_max_m (default 4) decides */
/* fp16: an FFN activation consumed by a GEMM is stored divided by this and
 * the GEMM's alpha multiplied by it (ffn_act.cu says why). */
#define T5__ACT_SCALE 16.0f

/* An rmsnorm() or ffn_act() recorded but not launched yet (gemv.cu). */
typedef struct t5__pending {
    int kind; /* 0 none, 1 norm, 2 act */
    void *out;
    const float *x;
    const void *w;
    const void *in;
    int m, k, act, gated;
    float eps;
} t5__pending;

typedef struct t5__graph {
    uint64_t key;
    cudaGraphExec_t exec;
} t5__graph;

struct t5_stream {
    t5__cu_backend *be;
    cudaStream_t st;
    cublasLtHandle_t lt;
    void *ws; /* cuBLASLt workspace; fixed, so captured GEMMs stay valid */
    size_t ws_bytes;
    t5__gemm_plan plans[T5__GEMM_PLANS];
    unsigned long long plan_builds, plan_ns, plan_max_ns; /* T5_CUDA_PLAN_STATS */
    t5__graph graphs[T5__GRAPHS];
    int n_graphs;
    cudaStream_t own; /* this stream's CUDA stream; st is own, or a joined one's */
    t5_stream *joined_by; /* the stream that last joined this one, until this one's sync */
    int capturing;
    /* Small copies go through pinned staging so that they are true async
     * DMA (pageable copies cost several microseconds each). h2d: the host
     * data is copied into hstage at issue time; d2h: the device data lands
     * in dstage and sync() moves it to the caller's buffer. Both rings reset
     * at sync(), when the stream is idle. */
    char *hstage, *dstage;
    char *dstage_dev; /* dstage as the device writes it (mapped) */
    size_t stage_bytes, hoff, doff;
    struct {
        void *dst;
        size_t off, bytes;
    } pending[T5__PENDING];
    int n_pending;
    /* copy_slots scratch (device), grown only when a larger reorder than
     * ever before is asked for. */
    void *slot_scratch;
    size_t slot_scratch_bytes;
    int32_t *host_tmp; /* copy_slots' host bookkeeping, grown likewise */
    float *topk_part;  /* logits_topk partials; fixed, so graphs may use it */
    t5__pending pend;
    size_t host_tmp_n;
    unsigned *fs_bar;             /* the fused steps' grid barriers (u64 counts: v1, v2) */
    float *fs2_xp;                /* fused_step2.cu's residual partials (T5__FS2_XP_BYTES) */
    void *fs_ll;                  /* fused_step.cu's LL exchange words (T5__FS_LL_BYTES), or NULL */
    int fs2_nc;                   /* its cluster count, fixed at its first launch; -1: cannot */
    unsigned long long *fs_trace; /* T5_CUDA_FUSED_TRACE: its per-phase times
                                   (T5__FS_TRACE_WORDS), else NULL */
};

/* Make the backend's device current on this thread (cheap when it is). */
int t5__cu_use(const t5__cu_backend *be, t5_err *err);

#define CU_USE(be_)                                                                                \
    do {                                                                                           \
        int use__rc = t5__cu_use((be_), err);                                                      \
        if (use__rc < 0)                                                                           \
            return use__rc;                                                                        \
    } while (0)

int t5__cu_pending_flush(t5_stream *s, t5_err *err);

/* Entry of every stream op other than the fusing ones: the right device,
 * and any pending norm/activation launched first so order is as issued. */
#define CU_ENTER(s_)                                                                               \
    do {                                                                                           \
        CU_USE((s_)->be);                                                                          \
        if ((s_)->pend.kind) {                                                                     \
            int ent__rc = t5__cu_pending_flush((s_), err);                                         \
            if (ent__rc < 0)                                                                       \
                return ent__rc;                                                                    \
        }                                                                                          \
    } while (0)

/* ---- launches ----------------------------------------------------------------
 * Programmatic dependent launch (Hopper): every kernel of this backend is
 * launched with programmatic stream serialization and begins with
 * T5__PDL_ENTRY(): it waits (griddepcontrol.wait) until the kernel before it
 * has completed and its writes are visible, and at once allows the next one
 * to be scheduled. So the next kernel's launch and block scheduling overlap
 * the tail of this one, which at batch 1 (~50 kernels of a few microseconds
 * per decoder step) is a large share of the step. Captured into the decoder
 * graph as programmatic edges. No-ops before sm_90. */
static __device__ __forceinline__ void t5__pdl_entry(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}
#define T5__PDL_ENTRY() t5__pdl_entry()

/* Copies 16 bytes global -> shared without the registers (cp.async; a
 * plain copy before sm_80). t5__cp_commit closes a group of them,
 * t5__cp_wait<N> waits until at most N groups are pending. */
static __device__ __forceinline__ void t5__cp16(void *dst_smem, const void *src)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned dst = (unsigned)__cvta_generic_to_shared(dst_smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src) : "memory");
#else
    *(uint4 *)dst_smem = *(const uint4 *)src;
#endif
}

/* 4 bytes global -> shared likewise (cp.async.ca). */
static __device__ __forceinline__ void t5__cp4(void *dst_smem, const void *src)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned dst = (unsigned)__cvta_generic_to_shared(dst_smem);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(src) : "memory");
#else
    *(float *)dst_smem = *(const float *)src;
#endif
}

static __device__ __forceinline__ void t5__cp_commit(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

template <int N> static __device__ __forceinline__ void t5__cp_wait(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

template <typename... KArgs, typename... Args>
static inline cudaError_t t5__launch(const t5_stream *s, void (*kern)(KArgs...), dim3 grid,
                                     dim3 block, size_t smem, Args... args)
{
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s->st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = s->be->pdl ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, kern, args...);
}

/* ---- dtype helpers ---------------------------------------------------------*/

template <typename T> struct t5__dt;
template <> struct t5__dt<float> {
    static __device__ __forceinline__ float load(float v)
    {
        return v;
    }
    static __device__ __forceinline__ float store(float v)
    {
        return v;
    }
};
template <> struct t5__dt<__half> {
    static __device__ __forceinline__ float load(__half v)
    {
        return __half2float(v);
    }
    static __device__ __forceinline__ __half store(float v)
    {
        return __float2half_rn(v);
    }
};
template <> struct t5__dt<__nv_bfloat16> {
    static __device__ __forceinline__ float load(__nv_bfloat16 v)
    {
        return __bfloat162float(v);
    }
    static __device__ __forceinline__ __nv_bfloat16 store(float v)
    {
        return __float2bfloat16_rn(v);
    }
};

template <typename T> __device__ __forceinline__ float t5__ld(const T *p)
{
    return t5__dt<T>::load(*p);
}
template <typename T> __device__ __forceinline__ void t5__st(T *p, float v)
{
    *p = t5__dt<T>::store(v);
}

/* 16 bytes of T at p (16-byte aligned) as 16 / sizeof(T) floats. */
template <typename T> __device__ __forceinline__ void t5__ld16(const T *p, float *f)
{
    uint4 v = *(const uint4 *)p;
    const T *h = (const T *)&v;
#pragma unroll
    for (int i = 0; i < (int)(16 / sizeof(T)); i++)
        f[i] = t5__dt<T>::load(h[i]);
}

/* The inner loop of the warp GEMVs (gemv.cu and the fused steps):
 * acc[r][j] = this lane's share of as[r] . W[column col0 + j] for r < m,
 * j < CPW, lanes over k in 16-byte steps (LOAD: a 16-byte load of T as
 * LOAD::N floats), every column's weight loads in flight together. Column
 * c's row is W + (c - wc0) * ldw; columns at or past col_end read the last
 * one (their results are not used). The caller warp-sums acc. */
template <typename T, int CPW, int MAXM, typename LOAD>
static __device__ __forceinline__ void t5__gemv_acc(float (&acc)[MAXM][CPW], const T *as, int m,
                                                    int k, const T *W, int ldw, int wc0,
                                                    int col0, int col_end, int lane)
{
    constexpr int VN = LOAD::N;
#pragma unroll
    for (int r = 0; r < MAXM; r++)
#pragma unroll
        for (int j = 0; j < CPW; j++)
            acc[r][j] = 0.0f;
#pragma unroll 2
    for (int i = lane * VN; i < k; i += 32 * VN) {
        float wf[CPW][VN];
#pragma unroll
        for (int j = 0; j < CPW; j++) {
            int col = col0 + j < col_end ? col0 + j : col_end - 1;
            LOAD::load(W + (size_t)(col - wc0) * ldw + i, wf[j]);
        }
#pragma unroll
        for (int r = 0; r < MAXM; r++) {
            if (r < m) {
                float af[VN];
                LOAD::load(as + r * k + i, af);
#pragma unroll
                for (int j = 0; j < CPW; j++)
#pragma unroll
                    for (int e = 0; e < VN; e++)
                        acc[r][j] += af[e] * wf[j][e];
            }
        }
    }
}

/* Dispatches a templated launcher on the backend's act dtype:
 *   T5__DISPATCH(s->be->base.act_dtype, T, return launch<T>(...));      */
#define T5__DISPATCH(dt, T, ...)                                                                   \
    switch (dt) {                                                                                  \
    case T5_F32: {                                                                                 \
        typedef float T;                                                                           \
        __VA_ARGS__;                                                                               \
    } break;                                                                                       \
    case T5_F16: {                                                                                 \
        typedef __half T;                                                                          \
        __VA_ARGS__;                                                                               \
    } break;                                                                                       \
    case T5_BF16: {                                                                                \
        typedef __nv_bfloat16 T;                                                                   \
        __VA_ARGS__;                                                                               \
    } break;                                                                                       \
    }

static __device__ __forceinline__ float t5__warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float t5__warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the result. Uses 33 floats of shared memory. */
static __device__ __forceinline__ float t5__block_sum(float v)
{
    __shared__ float part[33];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = t5__warp_sum(v);
    if (lane == 0)
        part[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float t = lane < nw ? part[lane] : 0.0f;
        t = t5__warp_sum(t);
        if (lane == 0)
            part[32] = t;
    }
    __syncthreads();
    float r = part[32];
    __syncthreads(); /* part may be reused by a later call */
    return r;
}

/* ---- tensor cores (sm_80+) ---------------------------------------------------*/

template <typename T> struct t5__is_bf16 {
    enum { v = 0 };
};
template <> struct t5__is_bf16<__nv_bfloat16> {
    enum { v = 1 };
};
#define T5__MMA16_ASM(TY)                                                                          \
    "mma.sync.aligned.m16n8k16.row.col.f32." TY "." TY ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "       \
    "{%8,%9}, {%0,%1,%2,%3};"

/* d += A . B for one mma.m16n8k16 (T = __half or __nv_bfloat16, fp32
 * accumulators), the fragments in the instruction's own order. */
template <typename T>
static __device__ __forceinline__ void t5__mma16816(float *d, const unsigned *a, unsigned b0,
                                                    unsigned b1)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if (t5__is_bf16<T>::v)
        asm(T5__MMA16_ASM("bf16")
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm(T5__MMA16_ASM("f16")
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

/* ---- the ops, one family per file ------------------------------------------*/

int t5__cu_gemm(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                float alpha, int flags, t5_err *err);
void t5__cu_gemm_plans_free(t5_stream *s);
/* T5_CUDA_PLAN_STATS: what building GEMM plans cost this stream. */
void t5__cu_gemm_plan_report(const t5_stream *s);
int t5__cu_embed(t5_stream *s, float *x, const void *table, const int32_t *ids, int n, int d,
                 t5_err *err);
int t5__cu_rmsnorm_launch(t5_stream *s, void *out, const float *x, const void *w, int n, int d,
                          float eps, t5_err *err);
int t5__cu_ffn_act_launch(t5_stream *s, void *out, const void *in, int m, int ff, int act,
                          int gated, float scale, t5_err *err);
int t5__cu_pending_norm(t5_stream *s, void *out, const float *x, const void *w, int n, int d,
                        float eps, t5_err *err);
int t5__cu_pending_act(t5_stream *s, void *out, const void *in, int m, int ff, int act, int gated,
                       t5_err *err);
int t5__cu_gemv_try(t5_stream *s, void *out, const void *a, const void *w, int m, int n, int k,
                    float alpha, int flags, t5_err *err);
int t5__cu_attn_encoder(t5_stream *s, void *out, const void *qkv, const int32_t *lens, int B, int L,
                        const float *bias_table, const t5_attn_shape *sh, t5_err *err);
int t5__cu_attn_decoder_self(t5_stream *s, void *out, const void *qkv, void *kcache, void *vcache,
                             const t5_kv_layout *lay, int layer, const int32_t *rows_dev, int n,
                             const float *bias_table, const t5_attn_shape *sh, t5_err *err);
int t5__cu_attn_cross(t5_stream *s, void *out, const void *q, const void *kcache,
                      const void *vcache, const t5_kv_layout *lay, int layer,
                      const int32_t *rows_dev, int n, const t5_attn_shape *sh, t5_err *err);
int t5__cu_cross_kv_store(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                          const void *kv, const int32_t *slots, const int32_t *lens, int B, int L,
                          t5_err *err);
int t5__cu_copy_slots(t5_stream *s, void *kcache, void *vcache, const t5_kv_layout *lay,
                      const int32_t *dst, const int32_t *src, int n, int len, t5_err *err);
int t5__cu_logits_topk(t5_stream *s, float *vals, int32_t *ids, const float *logits, int n, int V,
                       int k, const int32_t *no_eos, int eos_id, t5_err *err);
int t5__cu_decode_step(t5_stream *s, const t5_fused_step *a, t5_err *err);
int t5__cu_decode_step2(t5_stream *s, const t5_fused_step *a, t5_err *err);
/* fused_step.cu's kernels built with 384 threads a block (fused_step_384.cu),
 * for a step t5__cu_decode_step has checked and claimed */
int t5__cu_decode_step_384(t5_stream *s, const t5_fused_step *a, t5_err *err);
int t5__cu_cross_absorb(t5_stream *s, const t5_fused_step *a, int ent, int slot, int len,
                        const int32_t *dev, t5_err *err);
int t5__cu_absorb_weights(t5_stream *s, t5_fused_step *a, void *wx, t5_err *err);
void t5__cu_fused_release(t5_stream *s);
void t5__cu_fused_trace_report(t5_stream *s);
int t5__cu_convert_f32(t5__cu_backend *be, void *dst, const float *src, size_t n, t5_err *err);

#endif
