/* cluster_probe.cu - two measurements that decide whether one thread-block
 * cluster can walk a decoder layer's chain (bench/cuda.md, session 24):
 *
 *   stream  how fast N blocks (one per SM) pull a weight buffer into shared
 *           memory with bulk copies (cp.async.bulk, a ring of stages), from
 *           L2 (a buffer read again and again) and from HBM (a large one);
 *   xchg    what one exchange inside a cluster costs: every block stores its
 *           words into every block's shared memory (st.shared::cluster), then
 *           a cluster barrier, or flag-in-data words polled in local memory.
 *
 * Standalone (bench/device-probe.sh cluster builds and runs it on the GPU
 * machine); a probe, not part of the product. Prints a line per setting.
 * Session 24's numbers: bench/cuda.md. */
#include "probe.h"


#define THREADS 256

static __device__ __forceinline__ unsigned sptr(const void *p)
{
    return (unsigned)__cvta_generic_to_shared(p);
}

static __device__ __forceinline__ void mb_init(unsigned b)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(b) : "memory");
}

static __device__ __forceinline__ void mb_wait(unsigned b, unsigned parity)
{
    unsigned ok;
    do {
        asm volatile("{\n\t.reg .pred p;\n\t"
                     "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
                     "selp.u32 %0, 1, 0, p;\n\t}"
                     : "=r"(ok)
                     : "r"(b), "r"(parity)
                     : "memory");
    } while (!ok);
}

static __device__ __forceinline__ void bulk(void *dst, const void *src, unsigned bytes, unsigned b)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(b), "r"(bytes)
                 : "memory");
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"
                 " [%0], [%1], %2, [%3];" ::"r"(sptr(dst)),
                 "l"(src), "r"(bytes), "r"(b)
                 : "memory");
}

/* Each block pulls bytes [blk*per, (blk+1)*per) of buf through NST stages
 * of stg bytes; consume: every thread reads the stage (as a GEMV would). */
__global__ void stream_k(const unsigned char *buf, size_t per, int stg, int nst, int consume,
                         float *sink)
{
    extern __shared__ __align__(128) unsigned char sm[];
    unsigned long long *bars = (unsigned long long *)sm;
    unsigned char *ring = sm + 128;
    const unsigned char *src = buf + (size_t)blockIdx.x * per;
    int nchunks = (int)(per / stg);
    if (threadIdx.x == 0) {
        for (int i = 0; i < nst; i++)
            mb_init(sptr(&bars[i]));
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x == 0)
        for (int i = 0; i < nst && i < nchunks; i++)
            bulk(ring + (size_t)i * stg, src + (size_t)i * stg, stg, sptr(&bars[i]));
    float acc = 0.f;
    for (int c = 0; c < nchunks; c++) {
        int s = c % nst;
        mb_wait(sptr(&bars[s]), (unsigned)(c / nst) & 1);
        if (consume) {
            const float4 *p = (const float4 *)(ring + (size_t)s * stg);
            for (int i = threadIdx.x; i < stg / 16; i += THREADS) {
                float4 v = p[i];
                acc += v.x + v.y + v.z + v.w;
            }
        }
        __syncthreads(); /* the stage is free again */
        if (threadIdx.x == 0 && c + nst < nchunks)
            bulk(ring + (size_t)s * stg, src + (size_t)(c + nst) * stg, stg, sptr(&bars[s]));
    }
    if (acc == 12345.f)
        sink[threadIdx.x] = acc;
}

static __device__ __forceinline__ unsigned crank(void)
{
    unsigned r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}

static __device__ __forceinline__ void csync(void)
{
    asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
                 "barrier.cluster.wait.acquire.aligned;" ::
                     : "memory");
}

static __device__ __forceinline__ unsigned peer(const void *p, unsigned rank)
{
    unsigned out;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(out) : "r"(sptr(p)), "r"(rank));
    return out;
}

static __device__ __forceinline__ void st_remote64(unsigned addr, unsigned long long v)
{
    asm volatile("st.shared::cluster.u64 [%0], %1;" ::"r"(addr), "l"(v) : "memory");
}

static __device__ __forceinline__ unsigned long long ld_vol64(const unsigned long long *p)
{
    unsigned long long v;
    asm volatile("ld.volatile.shared.u64 %0, [%1];" : "=l"(v) : "r"(sptr(p)) : "memory");
    return v;
}

/* iters exchanges; each block sends `words` words to every block of the
 * cluster (cs blocks). mode 0: stores then a cluster barrier; mode 1: flag-in-
 * data words (iteration in the high half) polled in local shared memory, then
 * a block barrier. out[blockIdx] = clock cycles per exchange. */
__global__ void xchg_k(int iters, int words, int mode, long long *out)
{
    extern __shared__ __align__(128) unsigned long long box[]; /* [2][cs * words] */
    unsigned cs;
    asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(cs));
    const unsigned me = crank();
    const int n = (int)cs * words;
    for (int i = threadIdx.x; i < 2 * n; i += THREADS)
        box[i] = 0xffffffff00000000ull;
    csync();
    long long t0 = clock64();
    float val = 1.f;
    for (int it = 0; it < iters; it++) {
        unsigned long long *slot = box + (it & 1) * n; /* two buffers: no overwrite race */
        /* thread i sends word (i % words) to peer (i / words) */
        for (int i = threadIdx.x; i < n; i += THREADS) {
            int p = i / words, w = i - p * words;
            unsigned long long v =
                ((unsigned long long)(unsigned)it << 32) | __float_as_uint(val + (float)w);
            st_remote64(peer(slot + me * words + w, (unsigned)p), v);
        }
        if (mode == 0) {
            csync();
            for (int i = threadIdx.x; i < n; i += THREADS)
                val += __uint_as_float((unsigned)slot[i]) * 1e-9f;
        } else {
            for (int i = threadIdx.x; i < n; i += THREADS) {
                unsigned long long v;
                do
                    v = ld_vol64(slot + i);
                while ((unsigned)(v >> 32) != (unsigned)it);
                val += __uint_as_float((unsigned)v) * 1e-9f;
            }
            __syncthreads();
        }
    }
    long long t1 = clock64();
    csync(); /* nobody leaves while others still store into it */
    if (threadIdx.x == 0)
        out[blockIdx.x] = (t1 - t0) / iters + (val == 0.f);
}

static void stream(const unsigned char *buf, size_t total, int blocks, int stg, int nst,
                   int consume, float *sink, const char *what)
{
    size_t per = total / blocks / stg * stg;
    size_t smem = 128 + (size_t)stg * nst;
    CK(cudaFuncSetAttribute(stream_k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int w = 0; w < 3; w++)
        stream_k<<<blocks, THREADS, smem>>>(buf, per, stg, nst, consume, sink);
    const int reps = 20;
    CK(cudaEventRecord(e0));
    for (int r = 0; r < reps; r++)
        stream_k<<<blocks, THREADS, smem>>>(buf, per, stg, nst, consume, sink);
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    double us = ms * 1000.0 / reps, bytes = (double)per * blocks;
    printf("stream %-4s blocks %3d stage %6d x %d consume %d: %8.2f MB in %8.2f us = %7.1f GB/s"
           " (%6.1f GB/s a block)\n",
           what, blocks, stg, nst, consume, bytes / 1e6, us, bytes / us / 1e3,
           bytes / us / 1e3 / blocks);
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
}

static void xchg(int cs, int words, int mode, long long *dout)
{
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = cs, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
    cfg.gridDim = dim3(cs), cfg.blockDim = dim3(THREADS);
    cfg.dynamicSmemBytes = (size_t)2 * cs * words * 8;
    cfg.attrs = at, cfg.numAttrs = 1;
    CK(cudaFuncSetAttribute(xchg_k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    CK(cudaFuncSetAttribute(xchg_k, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    const int iters = 20000;
    CK(cudaLaunchKernelEx(&cfg, xchg_k, iters, words, mode, dout));
    CK(cudaDeviceSynchronize());
    long long h[16];
    CK(cudaMemcpy(h, dout, sizeof(long long) * cs, cudaMemcpyDeviceToHost));
    long long mx = 0;
    for (int i = 0; i < cs; i++)
        mx = h[i] > mx ? h[i] : mx;
    int clk;
    CK(cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, 0));
    printf("xchg cluster %2d words %4d %-9s: %6lld cycles = %6.3f us an exchange\n", cs, words,
           mode ? "flag-word" : "barrier", mx, (double)mx / (clk / 1e3));
}

int main(void)
{
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    printf("%s, %d SMs, L2 %d MB\n", pr.name, pr.multiProcessorCount, pr.l2CacheSize >> 20);
    size_t big = (size_t)1 << 30;
    unsigned char *buf;
    float *sink;
    long long *dout;
    CK(cudaMalloc(&buf, big));
    CK(cudaMemset(buf, 1, big));
    CK(cudaMalloc(&sink, 4096));
    CK(cudaMalloc(&dout, 4096));
    /* occupancy of clusters of 16 and 8 for a one-block-per-SM kernel */
    for (int cs = 8; cs <= 16; cs += 8) {
        cudaLaunchConfig_t cfg = {};
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = cs, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
        cfg.gridDim = dim3(cs * 16), cfg.blockDim = dim3(THREADS);
        cfg.dynamicSmemBytes = 200 * 1024;
        cfg.attrs = at, cfg.numAttrs = 1;
        CK(cudaFuncSetAttribute(xchg_k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
        CK(cudaFuncSetAttribute(xchg_k, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
        int ncl = -1;
        CK(cudaOccupancyMaxActiveClusters(&ncl, xchg_k, &cfg));
        printf("clusters of %d (200 KB a block): at most %d active\n", cs, ncl);
    }
    int bl[] = {8, 16, 32, 64, 132};
    size_t l2set[] = {(size_t)24 << 20, (size_t)40 << 20};
    for (size_t s : l2set)
        for (int b : bl) {
            char what[32];
            snprintf(what, sizeof what, "L2%zu", s >> 20);
            stream(buf, s, b, 32768, 6, 0, sink, what);
        }
    for (int b : bl)
        stream(buf, big, b, 32768, 6, 0, sink, "HBM");
    /* stage size and depth, 16 blocks from L2 */
    stream(buf, (size_t)24 << 20, 16, 16384, 12, 0, sink, "L224");
    stream(buf, (size_t)24 << 20, 16, 65536, 3, 0, sink, "L224");
    stream(buf, (size_t)24 << 20, 16, 8192, 24, 0, sink, "L224");
    stream(buf, (size_t)24 << 20, 16, 32768, 6, 1, sink, "L224");
    stream(buf, big, 16, 16384, 12, 0, sink, "HBM");
    stream(buf, big, 16, 65536, 3, 0, sink, "HBM");
    for (int cs = 8; cs <= 16; cs += 8)
        for (int mode = 0; mode < 2; mode++) {
            xchg(cs, 1, mode, dout);
            xchg(cs, 32, mode, dout);
            xchg(cs, 128, mode, dout);
        }
    return 0;
}
