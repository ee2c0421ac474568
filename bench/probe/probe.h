/* probe.h - what the standalone probes in bench/probe share: CK, which
 * exits with the failing call's message (a probe, not the product: the
 * product returns errors instead), and the flag-in-data word's store and
 * load (fused_common.cuh's fs_ll_st / fs_ll_ld). */
#ifndef T5_BENCH_PROBE_H
#define T5_BENCH_PROBE_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef unsigned long long u64;

static __device__ __forceinline__ void st_word(u64 *p, u64 w)
{
    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(w) : "memory");
}

static __device__ __forceinline__ u64 ld_word(const u64 *p)
{
    u64 w;
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(w) : "l"(p) : "memory");
    return w;
}

#endif
