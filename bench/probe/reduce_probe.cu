/* reduce_probe.cu - what a chained exchange among all blocks (one per SM)
 * costs when it is a sum rather than a copy (bench/cuda.md, session 25).
 *
 * Each mode runs R dependent rounds in one launch: a block stores (or adds)
 * its words of round r only after it has read everything of round r - 1.
 * Time per round = launch time / R (R large enough that the launch is noise).
 *
 *   gather    the LL kernel's exchange: block b stores its slice of d
 *             flag-in-data words, every block reads all d
 *   group     as gather inside groups of q blocks (n words a group): the
 *             exchange of one head's q|k|v among the blocks of that head
 *   partP     P sets of d partial words (flag-in-data): P * q blocks store a
 *             slice each of their set, every block reads P * d words and sums
 *   atomP     counted words: the same P * q blocks add their slice with
 *             red.add.u64 (top byte: a count, the rest: fixed point); every
 *             block reads d words until each counts P
 *   atomall   every block adds all d words (count = grid)
 *
 * then variants of gather's polling (__nanosleep between polls, a few
 * polling warps, 16-byte polls, two staggered polls of a word, replicas of
 * the words, a line a block), gather among the first N blocks only (scale),
 * when each block finishes a round (globaltimer, per block and SM), and a
 * ping-pong of one word between two blocks (one way).
 *
 * Standalone (bench/device-probe.sh reduce builds and runs it on the GPU
 * machine); a probe, not part of the product. */
#include "probe.h"


#define THREADS 512

static __device__ __forceinline__ void red_word(u64 *p, u64 v)
{
    asm volatile("red.relaxed.gpu.global.add.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

enum { M_GATHER, M_GROUP, M_PART, M_ATOM, M_ATOMALL, M_SLEEP, M_FEW, M_V2, M_PING, M_STAG, M_REP, M_SCALE };

struct args {
    u64 *buf;
    int mode, d, R, P, q, n; /* n: words a group (M_GROUP); M_SLEEP: ns; M_FEW: warps */
    unsigned base;
    float *sink;
    u64 *tm; /* M_SCALE: when each block finished each round (globaltimer), or NULL */
};

__global__ void __launch_bounds__(THREADS) probe(const args a)
{
    __shared__ float red[THREADS / 32];
    const int G = gridDim.x, b = blockIdx.x, t = threadIdx.x;
    float acc = 0.0f;
    for (int r = 0; r < a.R; r++) {
        const unsigned flag = a.base + (unsigned)r;
        float s = 0.0f;
        if (a.mode == M_GATHER) {
            u64 *B = a.buf + (size_t)r * a.d;
            const int per = (a.d + G - 1) / G, c0 = b * per;
            for (int i = t; i < per && c0 + i < a.d; i += THREADS)
                st_word(B + c0 + i, ((u64)flag << 32) | __float_as_uint(acc + i));
            for (int i = t; i < a.d; i += THREADS) {
                u64 w;
                do
                    w = ld_word(B + i);
                while ((unsigned)(w >> 32) != flag);
                s += __uint_as_float((unsigned)w);
            }
        } else if (a.mode == M_GROUP) {
            const int g = b / a.q, sl = b % a.q, ng = G / a.q;
            if (g < ng) {
                u64 *B = a.buf + ((size_t)r * ng + g) * a.n;
                const int per = (a.n + a.q - 1) / a.q, c0 = sl * per;
                for (int i = t; i < per && c0 + i < a.n; i += THREADS)
                    st_word(B + c0 + i, ((u64)flag << 32) | __float_as_uint(acc + i));
                for (int i = t; i < a.n; i += THREADS) {
                    u64 w;
                    do
                        w = ld_word(B + i);
                    while ((unsigned)(w >> 32) != flag);
                    s += __uint_as_float((unsigned)w);
                }
            }
        } else if (a.mode == M_PART) {
            u64 *B = a.buf + (size_t)r * a.P * a.d;
            const int set = b / a.q, sl = b % a.q, per = (a.d + a.q - 1) / a.q, c0 = sl * per;
            if (set < a.P)
                for (int i = t; i < per && c0 + i < a.d; i += THREADS)
                    st_word(B + (size_t)set * a.d + c0 + i,
                            ((u64)flag << 32) | __float_as_uint(acc + i));
            for (int i = t; i < a.d; i += THREADS) {
                u64 w[16];
                for (int p = 0; p < a.P && p < 16; p++)
                    w[p] = ld_word(B + (size_t)p * a.d + i);
                for (int p = 0; p < a.P && p < 16; p++) {
                    while ((unsigned)(w[p] >> 32) != flag)
                        w[p] = ld_word(B + (size_t)p * a.d + i);
                    s += __uint_as_float((unsigned)w[p]);
                }
            }
        } else if (a.mode == M_SLEEP || a.mode == M_FEW || a.mode == M_V2 || a.mode == M_STAG) {
            u64 *B = a.buf + (size_t)r * a.d;
            const int per = (a.d + G - 1) / G, c0 = b * per;
            for (int i = t; i < per && c0 + i < a.d; i += THREADS)
                st_word(B + c0 + i, ((u64)flag << 32) | __float_as_uint(acc + i));
            if (a.mode == M_SLEEP) {
                for (int i = t; i < a.d; i += THREADS) {
                    u64 w = ld_word(B + i);
                    while ((unsigned)(w >> 32) != flag) {
                        __nanosleep(a.n);
                        w = ld_word(B + i);
                    }
                    s += __uint_as_float((unsigned)w);
                }
            } else if (a.mode == M_FEW) {
                /* a.n warps poll, U words a lane at once, re-reading the stale ones */
                const int nt = a.n * 32;
                if (t < nt) {
                    for (int i0 = t; i0 < a.d; i0 += 16 * nt) {
                        u64 w[16];
#pragma unroll
                        for (int u = 0; u < 16; u++)
                            w[u] = i0 + u * nt < a.d ? ld_word(B + i0 + u * nt) : 0;
                        for (;;) {
                            bool ok = true;
#pragma unroll
                            for (int u = 0; u < 16; u++)
                                if (i0 + u * nt < a.d && (unsigned)(w[u] >> 32) != flag)
                                    ok = false;
                            if (ok)
                                break;
#pragma unroll
                            for (int u = 0; u < 16; u++)
                                if (i0 + u * nt < a.d && (unsigned)(w[u] >> 32) != flag)
                                    w[u] = ld_word(B + i0 + u * nt);
                        }
#pragma unroll
                        for (int u = 0; u < 16; u++)
                            if (i0 + u * nt < a.d)
                                s += __uint_as_float((unsigned)w[u]);
                    }
                }
            } else if (a.mode == M_V2) {
                for (int i = 2 * t; i < a.d; i += 2 * THREADS) {
                    u64 w0, w1;
                    do
                        asm volatile("ld.relaxed.gpu.global.v2.u64 {%0, %1}, [%2];"
                                     : "=l"(w0), "=l"(w1)
                                     : "l"(B + i)
                                     : "memory");
                    while ((unsigned)(w0 >> 32) != flag || (unsigned)(w1 >> 32) != flag);
                    s += __uint_as_float((unsigned)w0) + __uint_as_float((unsigned)w1);
                }
            } else {
                /* staggered: a second poll of the same word issued a.n clocks after the
                 * first, so a miss costs half a round trip */
                for (int i = t; i < a.d; i += THREADS) {
                    u64 w0 = ld_word(B + i), w1;
                    long long c = clock64();
                    while (clock64() - c < a.n) {
                    }
                    w1 = ld_word(B + i);
                    for (;;) {
                        if ((unsigned)(w0 >> 32) == flag) {
                            s += __uint_as_float((unsigned)w0);
                            break;
                        }
                        w0 = ld_word(B + i);
                        if ((unsigned)(w1 >> 32) == flag) {
                            s += __uint_as_float((unsigned)w1);
                            break;
                        }
                        w1 = ld_word(B + i);
                    }
                }
            }
        } else if (a.mode == M_REP) {
            /* a.n replicas of the d words; a.P: each block's slice padded to 16 words
             * (128 bytes); block b reads replica b % a.n, words 4 a thread, 16 B loads */
            const int per = (a.d + G - 1) / G, sp = a.P ? 16 : per, rl = G * sp;
            u64 *B = a.buf + (size_t)(r % 4) * a.n * rl; /* a ring: flags differ */
            for (int i = t; i < per * a.n && b * per + i % per < a.d; i += THREADS)
                st_word(B + (size_t)(i / per) * rl + b * sp + i % per,
                        ((u64)flag << 32) | __float_as_uint(acc + i));
            const u64 *Rb = B + (size_t)(b % a.n) * rl;
            for (int i = t; i < a.d; i += THREADS) {
                const u64 *q = Rb + (i / per) * sp + i % per;
                u64 w;
                do
                    w = ld_word(q);
                while ((unsigned)(w >> 32) != flag);
                s += __uint_as_float((unsigned)w);
            }
        } else if (a.mode == M_SCALE) {
            /* only blocks < a.n take part: each stores a.P words, reads all a.n * a.P;
             * a.q: threads a block that poll (the others wait at the barrier) */
            const int dd = a.n * a.P, sp = a.d > a.P ? a.d : a.P; /* a.d: a slot's stride */
            u64 *B = a.buf + (size_t)(r % 4) * a.n * sp;
            if (b < a.n) {
                for (int i = t; i < a.P; i += THREADS)
                    st_word(B + b * sp + i, ((u64)flag << 32) | __float_as_uint(acc + i));
                for (int i = t; i < dd && t < a.q; i += a.q) {
                    u64 w;
                    do
                        w = ld_word(B + (i / a.P) * sp + i % a.P);
                    while ((unsigned)(w >> 32) != flag);
                    s += __uint_as_float((unsigned)w);
                }
            }
        } else if (a.mode == M_PING) {
            /* blocks 0 and a.n hand one word back and forth: a one-way store -> seen */
            if ((b == 0 || b == a.n) && t == 0) {
                u64 *B = a.buf + (size_t)r;
                if ((r & 1) == (b == 0 ? 0 : 1)) { /* this round's sender */
                    if (r > 0) {
                        u64 w;
                        do
                            w = ld_word(B - 1);
                        while ((unsigned)(w >> 32) != flag - 1u);
                    }
                    st_word(B, ((u64)flag << 32));
                }
            }
        } else {
            u64 *B = a.buf + (size_t)r * a.d;
            const bool all = a.mode == M_ATOMALL;
            const unsigned want = all ? (unsigned)G : (unsigned)a.P;
            const int set = all ? 0 : b / a.q, sl = all ? 0 : b % a.q;
            const int per = all ? a.d : (a.d + a.q - 1) / a.q, c0 = sl * per;
            if (set < (all ? 1 : a.P))
                for (int i = t; i < per && c0 + i < a.d; i += THREADS)
                    red_word(B + c0 + i, (1ull << 56) + (u64)(1u << 20) + (u64)(acc > 1e30f));
            for (int i = t; i < a.d; i += THREADS) {
                u64 w;
                do
                    w = ld_word(B + i);
                while ((unsigned)(w >> 56) != want);
                s += (float)(w & 0xffffffull);
            }
        }
        /* the block has read everything before its next stores */
        s = s + __shfl_xor_sync(~0u, s, 16);
        if ((t & 31) == 0)
            red[t >> 5] = s;
        __syncthreads();
        acc = red[0] * 1e-30f;
        if (a.tm && t == 0) {
            u64 g;
            asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g));
            a.tm[(size_t)r * G + b] = g;
        }
        __syncthreads();
    }
    if (t == 0) {
        unsigned sm;
        asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
        a.sink[b] = acc + (float)sm;
    }
}

static float run(args a, int grid, size_t words, int reps)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float best = 1e30f;
    for (int k = 0; k < reps; k++) {
        CK(cudaMemset(a.buf, 0, words * sizeof(u64)));
        a.base = 1u + (unsigned)k * (unsigned)a.R;
        CK(cudaEventRecord(e0));
        probe<<<grid, THREADS>>>(a);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaGetLastError());
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (ms < best)
            best = ms;
    }
    return best * 1000.0f / (float)a.R;
}

int main(void)
{
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    const int grid = pr.multiProcessorCount, R = 400, reps = 5;
    const size_t words = (size_t)R * 16 * 1024;
    u64 *buf;
    float *sink;
    CK(cudaMalloc(&buf, words * sizeof(u64)));
    CK(cudaMalloc(&sink, grid * sizeof(float)));
    printf("%s, %d SMs, %d threads a block, %d rounds, best of %d; us a round\n", pr.name, grid,
           THREADS, R, reps);
    const int ds[2] = {512, 768};
    for (int di = 0; di < 2; di++) {
        const int d = ds[di], heads = d == 512 ? 8 : 12, q = grid / heads;
        args a = {buf, M_GATHER, d, R, 1, q, 0, 1u, sink, NULL};
        printf("d %d (%d heads, %d blocks a head)\n", d, heads, q);
        printf("  gather %-4d words            %.3f\n", d, run(a, grid, words, reps));
        a.mode = M_GROUP;
        a.n = 192 / 2; /* q|k|v of one head, two 16-bit values a word */
        printf("  group  %-4d words, q %-3d     %.3f\n", a.n, q, run(a, grid, words, reps));
        a.n = 192;
        printf("  group  %-4d words, q %-3d     %.3f\n", a.n, q, run(a, grid, words, reps));
        a.mode = M_PART;
        a.P = heads;
        printf("  part%-2d (%d x %d words)      %.3f\n", heads, heads, d,
               run(a, grid, words, reps));
        a.mode = M_ATOM;
        printf("  atom%-2d                      %.3f\n", heads, run(a, grid, words, reps));
        a.mode = M_ATOMALL;
        printf("  atomall (%d adds a word)    %.3f\n", grid, run(a, grid, words, reps));
        a.mode = M_SLEEP;
        for (int ns = 32; ns <= 256; ns *= 2) {
            a.n = ns;
            printf("  gather, nanosleep(%-3d) polls   %.3f\n", ns, run(a, grid, words, reps));
        }
        a.mode = M_FEW;
        for (int wp = 1; wp <= 16; wp *= 4) {
            a.n = wp;
            printf("  gather, %-2d polling warps       %.3f\n", wp, run(a, grid, words, reps));
        }
        a.mode = M_V2;
        printf("  gather, 16-byte polls          %.3f\n", run(a, grid, words, reps));
        a.mode = M_STAG;
        for (int cl = 100; cl <= 400; cl *= 2) {
            a.n = cl;
            printf("  gather, 2 polls %-3d clk apart  %.3f\n", cl, run(a, grid, words, reps));
        }
        a.mode = M_REP;
        for (int pad = 0; pad < 2; pad++)
            for (int rp = 1; rp <= 16; rp *= 2) {
                a.n = rp;
                a.P = pad;
                printf("  gather, %-2d replicas%s   %.3f\n", rp, pad ? ", padded" : "        ",
                       run(a, grid, words, reps));
            }
        a.mode = M_GATHER;
        a.d = 132;
        printf("  gather 132 words (one a block) %.3f\n", run(a, grid, words, reps));
        a.d = d;
        a.mode = M_GATHER;
        a.R = 1;
        printf("  (one gather round, launch included: %.3f)\n", run(a, grid, words, reps));
        a.R = R;
    }
    {
        args a = {buf, M_SCALE, 0, R, 4, THREADS, 2, 1u, sink, NULL};
        const int gs[8] = {2, 4, 8, 16, 33, 66, 100, 132};
        const int wpb[3] = {1, 4, 16};
        for (int wi = 0; wi < 3; wi++) {
            a.P = wpb[wi];
            a.q = THREADS;
            printf("blocks taking part, %d words each, %d polling threads:\n   ", a.P, THREADS);
            for (int k = 0; k < 8; k++) {
                a.n = gs[k];
                printf(" %d:%.3f", gs[k], run(a, grid, words, reps));
            }
            printf("\n");
        }
        a.P = 4;
        for (int q = 32; q <= THREADS; q *= 4) {
            printf("blocks taking part, 4 words each, %d polling threads:\n   ", q);
            for (int k = 0; k < 8; k++) {
                a.n = gs[k];
                a.q = q;
                printf(" %d:%.3f", gs[k], run(a, grid, words, reps));
            }
            printf("\n");
        }
    }
    {
        /* the same exchange through each mode's code: 128 or 132 blocks, 4 words each */
        const int dd[2] = {512, 528};
        for (int k = 0; k < 2; k++) {
            args a = {buf, M_GATHER, dd[k], R, 4, THREADS, dd[k] / 4, 1u, sink, NULL};
            float g = run(a, grid, words, reps);
            a.mode = M_REP;
            a.n = 1;
            a.P = 0;
            float rp = run(a, grid, words, reps);
            a.mode = M_SCALE;
            a.n = dd[k] / 4;
            a.P = 4;
            a.d = 0;
            float sc = run(a, grid, words, reps);
            a.d = 16;
            float sp = run(a, grid, words, reps);
            printf("%d words: gather %.3f, rep %.3f, scale %.3f, scale a line a block %.3f\n",
                   dd[k], g, rp, sc, sp);
        }
    }
    {
        /* which blocks finish a round last: per block, the mean lag behind the round's
         * first finisher (globaltimer), 132 blocks of 4 words */
        u64 *tm;
        CK(cudaMalloc(&tm, (size_t)R * grid * sizeof(u64)));
        args a = {buf, M_SCALE, 0, R, 4, THREADS, grid, 1u, sink, tm};
        run(a, grid, words, 1);
        u64 *h = (u64 *)malloc((size_t)R * grid * sizeof(u64));
        float *sm = (float *)malloc(grid * sizeof(float));
        CK(cudaMemcpy(h, tm, (size_t)R * grid * sizeof(u64), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(sm, sink, grid * sizeof(float), cudaMemcpyDeviceToHost));
        double lag[1024] = {0};
        int last[1024] = {0};
        for (int r = 10; r < R; r++) {
            u64 mn = ~0ull, mx = 0;
            int bl = 0;
            for (int b = 0; b < grid; b++) {
                u64 v = h[(size_t)r * grid + b];
                if (v < mn)
                    mn = v;
                if (v > mx) {
                    mx = v;
                    bl = b;
                }
            }
            for (int b = 0; b < grid; b++)
                lag[b] += (double)(h[(size_t)r * grid + b] - mn) / (R - 10);
            last[bl]++;
        }
        printf("per block (sm): mean ns behind the first finisher of a round, times last\n");
        for (int b = 0; b < grid; b++)
            printf("%3d(%3d):%4.0f/%d%s", b, (int)sm[b], lag[b], last[b], b % 8 == 7 ? "\n" : " ");
        printf("\n");
        free(h);
        free(sm);
        CK(cudaFree(tm));
    }
    {
        args a = {buf, M_PING, 1, R, 1, 1, 1, 1u, sink, NULL};
        const int peers[3] = {1, 66, 131};
        for (int k = 0; k < 3; k++) {
            a.n = peers[k];
            printf("ping-pong blocks 0 and %-3d: one way %.3f\n", peers[k],
                   run(a, grid, words, reps));
        }
    }
    return 0;
}
