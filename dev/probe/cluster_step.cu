/* cluster_step.cu - probe (not part of the build): could a decoder step run
 * on one cluster of 16 SMs instead of all 132? It would if (1) a few SMs can
 * stream the step's weights at near HBM speed and (2) an exchange between the
 * cluster's blocks through distributed shared memory costs well under the
 * ~2 us a grid-wide exchange through L2 costs the LL kernel (bench/cuda.md,
 * session 10). Prints:
 *   stream  B blocks (one an SM) reading 77 MB of fp16 rows (t5-small's
 *           step) with bulk copies into S stages, each row dotted with a
 *           512-float vector as a one-row GEMV would: GB/s
 *   cbar    one cluster of C blocks, barrier.cluster in a loop: ns each
 *   dsmem   one cluster of C blocks, all-gather of 512 floats through
 *           st.shared::cluster + one cluster barrier, a dependent chain: ns
 *   gll     B blocks, all-gather of 512 floats through flag-in-data words
 *           in global memory (the LL kernel's exchange): ns
 *   nvcc -O3 -gencode=arch=compute_90a,code=sm_90a dev/probe/cluster_step.cu -o /tmp/cs && /tmp/cs */
#include <cstdio>
#include <cstdlib>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));                  \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static __device__ __forceinline__ unsigned sa(const void *p)
{
    return (unsigned)__cvta_generic_to_shared(p);
}

static __device__ __forceinline__ void bar_init(unsigned long long *b, int n)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(sa(b)), "r"(n));
}

static __device__ __forceinline__ void bulk_load(void *dst, const void *src, unsigned bytes,
                                                 unsigned long long *b)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(sa(b)),
                 "r"(bytes)
                 : "memory");
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], "
                 "%2, [%3];" ::"r"(sa(dst)),
                 "l"(src), "r"(bytes), "r"(sa(b))
                 : "memory");
}

static __device__ __forceinline__ void bar_wait(unsigned long long *b, unsigned parity)
{
    asm volatile("{\n .reg .pred p;\n W: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
                 " @!p bra W;\n}" ::"r"(sa(b)),
                 "r"(parity)
                 : "memory");
}

/* ---- stream ---------------------------------------------------------------- */
__global__ void stream_k(const __half *w, size_t rows_per_block, int rows_per_chunk, int S,
                         float *out)
{
    extern __shared__ __align__(128) unsigned char sm[];
    const int K = 512;
    const unsigned chunk = (unsigned)rows_per_chunk * K * 2;
    unsigned long long *bars = (unsigned long long *)(sm + (size_t)S * chunk);
    float *x = (float *)(bars + S);
    for (int i = threadIdx.x; i < K; i += blockDim.x)
        x[i] = 1.0f / (1 + i);
    const __half *src = w + (size_t)blockIdx.x * rows_per_block * K;
    const int nch = (int)(rows_per_block / rows_per_chunk);
    if (threadIdx.x == 0) {
        for (int s = 0; s < S; s++)
            bar_init(&bars[s], 1);
        asm volatile("fence.mbarrier_init.release.cluster;");
        for (int s = 0; s < S && s < nch; s++)
            bulk_load(sm + (size_t)s * chunk, src + (size_t)s * rows_per_chunk * K, chunk,
                      &bars[s]);
    }
    __syncthreads();
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
    float acc = 0;
    for (int c = 0; c < nch; c++) {
        int st = c % S;
        bar_wait(&bars[st], (unsigned)(c / S) & 1);
        const __half *rows = (const __half *)(sm + (size_t)st * chunk);
        for (int r = warp; r < rows_per_chunk; r += nw) {
            const uint4 *row = (const uint4 *)(rows + (size_t)r * K);
            float d = 0;
#pragma unroll
            for (int j = 0; j < 2; j++) {
                uint4 v = row[lane + 32 * j];
                const __half2 *h = (const __half2 *)&v;
                int k0 = (lane + 32 * j) * 8;
#pragma unroll
                for (int t = 0; t < 4; t++) {
                    float2 f = __half22float2(h[t]);
                    d += f.x * x[k0 + 2 * t] + f.y * x[k0 + 2 * t + 1];
                }
            }
            acc += d;
        }
        __syncthreads();
        if (threadIdx.x == 0 && c + S < nch)
            bulk_load(sm + (size_t)st * chunk, src + (size_t)(c + S) * rows_per_chunk * K, chunk,
                      &bars[st]);
    }
    if (acc == 1234.5f)
        out[0] = acc;
}

/* ---- cluster barrier --------------------------------------------------------- */
__global__ void cbar_k(int iters, unsigned long long *t, float *out)
{
    (void)out;
    unsigned long long t0 = 0, t1;
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;");
    if (threadIdx.x == 0)
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    for (int i = 0; i < iters; i++)
        asm volatile(
            "barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::
                : "memory");
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
        t[0] = t1 - t0;
    }
}

/* The block's sum of s (red: a word a warp); the caller syncs before red's next use. */
static __device__ float block_sum(float s, float *red)
{
    for (int o = 16; o; o >>= 1)
        s += __shfl_xor_sync(0xffffffffu, s, o);
    if (threadIdx.x % 32 == 0)
        red[threadIdx.x / 32] = s;
    __syncthreads();
    float tot = 0;
    for (int w = 0; w < (int)blockDim.x / 32; w++)
        tot += red[w];
    return tot;
}

/* ---- DSMEM all-gather ---------------------------------------------------------- */
__global__ void dsmem_k(int iters, unsigned long long *t, float *out)
{
    __shared__ float buf[2][512];
    __shared__ float red[32];
    __shared__ float my[512];
    unsigned rank, C;
    asm("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
    asm("mov.u32 %0, %%cluster_nctarank;" : "=r"(C));
    const int slice = 512 / C;
    const int tid = threadIdx.x;
    float mine = tid < slice ? (float)(rank * slice + tid) : 0.f;
    if (tid < slice)
        my[tid] = mine;
    __syncthreads();
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;");
    unsigned long long t0 = 0, t1;
    if (tid == 0)
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    for (int i = 0; i < iters; i++) {
        float *b = buf[i & 1];
        /* thread tid < 512: element j = tid % slice of my slice to peer tid / slice */
        if (tid < 512) {
            int peer = tid / slice, j = tid % slice;
            float v = my[j];
            unsigned local = sa(&b[rank * slice + j]), remote;
            asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local),
                         "r"(peer));
            asm volatile("st.shared::cluster.f32 [%0], %1;" ::"r"(remote), "f"(v) : "memory");
        }
        asm volatile(
            "barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::
                : "memory");
        /* a one-row "GEMV" needs the whole vector: block sum, then a new slice */
        mine = mine * 0.5f + block_sum(tid < 512 ? b[tid] : 0.f, red) * 1e-6f;
        if (tid < slice)
            my[tid] = mine;
        __syncthreads();
    }
    if (tid == 0 && rank == 0) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
        t[0] = t1 - t0;
        out[0] = mine;
    }
}

/* ---- global flag-in-data all-gather -------------------------------------------- */
__global__ void gll_k(int iters, unsigned long long *words, unsigned long long *t, float *out)
{
    /* words: [2][512] of (tag << 32 | float bits); block b owns elements
     * [b * per, (b + 1) * per) */
    __shared__ float red[32];
    const int B = gridDim.x, per = (512 + B - 1) / B;
    const int tid = threadIdx.x;
    float mine = 1.f + blockIdx.x;
    unsigned long long t0 = 0, t1;
    if (tid == 0)
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    for (int i = 0; i < iters; i++) {
        unsigned long long *w = words + (size_t)(i & 1) * 512;
        unsigned tag = (unsigned)i + 1;
        int e = blockIdx.x * per + tid;
        if (tid < per && e < 512) {
            unsigned long long v = ((unsigned long long)tag << 32) | __float_as_uint(mine);
            asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(w + e), "l"(v) : "memory");
        }
        float s = 0;
        if (tid < 512) {
            unsigned long long v;
            do {
                asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(w + tid)
                             : "memory");
            } while ((unsigned)(v >> 32) != tag);
            s = __uint_as_float((unsigned)v);
        }
        mine = mine * 0.5f + block_sum(s, red) * 1e-6f;
        __syncthreads();
    }
    if (tid == 0 && blockIdx.x == 0) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
        t[0] = t1 - t0;
        out[0] = mine;
    }
}

static cudaError_t launch_cluster(void (*k)(int, unsigned long long *, float *), int C,
                                  int iters, unsigned long long *t, float *o)
{
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(C);
    cfg.blockDim = dim3(512);
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = C;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, k, iters, t, o);
}

/* Runs k on one cluster of C blocks: 1 with the ns a repeat in *ns, or 0
 * (the error printed under name) where the launch is refused. */
static int time_cluster(void (*k)(int, unsigned long long *, float *), const char *name, int C,
                        int iters, unsigned long long *t, float *o, double *ns)
{
    unsigned long long h = 0;
    cudaError_t e = launch_cluster(k, C, iters, t, o);
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        printf("%s C=%d: %s\n", name, C, cudaGetErrorString(e));
        cudaGetLastError();
        return 0;
    }
    CK(cudaMemcpy(&h, t, 8, cudaMemcpyDeviceToHost));
    *ns = (double)h / iters;
    return 1;
}

int main()
{
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("%s: %d SMs, L2 %d B, smem/block opt-in %zu\n", prop.name, prop.multiProcessorCount,
           prop.l2CacheSize, prop.sharedMemPerBlockOptin);
    const size_t K = 512, total_rows = 77u * 1024 * 1024 / (K * 2); /* 77 MB */
    __half *w;
    float *o;
    unsigned long long *t, *words;
    CK(cudaMalloc(&w, total_rows * K * 2 + (1 << 20)));
    CK(cudaMemset(w, 0x3c, total_rows * K * 2));
    CK(cudaMalloc(&o, 64));
    CK(cudaMalloc(&t, 64));
    CK(cudaMalloc(&words, 2 * 512 * 8));
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);

    /* stream */
    CK(cudaFuncSetAttribute(stream_k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            (int)prop.sharedMemPerBlockOptin));
    int blocks[] = {8, 16, 24, 32, 48, 66, 132};
    int cfgs[][2] = {{16, 12}, {32, 6}, {48, 4}, {64, 3}}; /* rows a chunk (1 KB each), stages */
    for (int ci = 0; ci < 4; ci++) {
        int rpc = cfgs[ci][0], S = cfgs[ci][1];
        size_t smem = (size_t)S * rpc * K * 2 + S * 8 + K * 4;
        for (int bi = 0; bi < 7; bi++) {
            int B = blocks[bi];
            size_t rpb = total_rows / B / rpc * rpc;
            float best = 1e30f;
            for (int rep = 0; rep < 5; rep++) {
                cudaEventRecord(a);
                stream_k<<<B, 512, smem>>>(w, rpb, rpc, S, o);
                cudaEventRecord(b);
                CK(cudaEventSynchronize(b));
                float ms;
                cudaEventElapsedTime(&ms, a, b);
                if (ms < best)
                    best = ms;
            }
            CK(cudaGetLastError());
            double bytes = (double)rpb * B * K * 2;
            printf("stream chunk %2d KB x %2d stages, %3d blocks: %7.1f us for %.1f MB = %6.0f GB/s "
                   "(%.0f GB/s a block)\n",
                   rpc, S, B, best * 1e3, bytes / 1e6, bytes / best / 1e6, bytes / best / 1e6 / B);
        }
    }

    /* cluster barrier and DSMEM all-gather */
    CK(cudaFuncSetAttribute(cbar_k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    CK(cudaFuncSetAttribute(dsmem_k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    const int iters = 20000;
    int cs[] = {2, 4, 8, 16};
    for (int i = 0; i < 4; i++) {
        int C = cs[i];
        double ns;
        if (!time_cluster(cbar_k, "cbar", C, iters, t, o, &ns))
            continue;
        printf("cbar  C=%2d: %6.1f ns a cluster barrier\n", C, ns);
        if (!time_cluster(dsmem_k, "dsmem", C, iters, t, o, &ns))
            continue;
        printf("dsmem C=%2d: %6.1f ns an all-gather of 512 floats + block sum\n", C, ns);
    }
    int gb[] = {16, 32, 66, 132};
    for (int i = 0; i < 4; i++) {
        unsigned long long h = 0;
        CK(cudaMemset(words, 0, 2 * 512 * 8));
        gll_k<<<gb[i], 512>>>(iters, words, t, o);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(&h, t, 8, cudaMemcpyDeviceToHost));
        printf("gll   B=%3d: %6.1f ns an all-gather of 512 floats + block sum (global words)\n",
               gb[i], (double)h / iters);
    }
    return 0;
}
