/* probe.h - what the standalone probes in bench/probe share: CK, which
 * exits with the failing call's message (a probe, not the product: the
 * product returns errors instead). */
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

#endif
