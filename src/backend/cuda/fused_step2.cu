/* fused_step2.cu - the decoder step as one persistent kernel built on
 * thread-block clusters (Hopper, sm_90+): three grid barriers per layer
 * instead of fused_step.cu's six.
 *
 * Why. fused_step.cu spends ~5 us per phase (bench/cuda.md: a barrier
 * among all SMs and the dependent L2 round trips after it), and it needs
 * six phases per layer because every GEMV spreads its columns over the
 * whole grid, so each GEMV output must be gathered before the next op.
 * Here the grid is NC clusters of 8 blocks (one block per SM), and the
 * work is split so that only the residual crosses clusters:
 *
 *   self-attention sublayer, cluster c owns head h = c % H:
 *     every block: x += the previous phase's partials; norm(x)
 *     block rank j: 1/8 of the head's q|k|v rows  -> pushed into every
 *                   block of the cluster (distributed shared memory)
 *     cluster barrier; every block: the head's attention (tiny)
 *     block rank j: a slice of the o projection's output columns, from
 *                   this head only -> a partial, part[h][row][col]
 *   cross-attention sublayer: the same with the cross q and co;
 *   FFN sublayer: every block a slice of the d_ff columns: wi, the
 *     activation, and that slice's share of wo for every output column
 *     (split-K) -> reduced over the cluster through distributed shared
 *     memory -> part[c][row][col];
 *   grid barrier after each sublayer.
 *
 * Every block keeps the residual rows x [m][d] in shared memory for the
 * whole step and adds the previous phase's partials to it (the same sums
 * in the same order in every block, so every copy is identical and the
 * result does not depend on timing); nothing else about x goes through
 * global memory. Partials are double-buffered across phases. Clusters
 * that share a head (NC > H) split its output columns. The weights of the
 * phase after next are copied into shared memory (cp.async) as soon as a
 * block has finished with the buffer, so they land during the barrier and
 * the phase between; an FFN slice too large for the buffer is read from
 * global memory instead (prefetched into L2 the same way).
 *
 * The numerics are the per-op path's up to the order of fp32 sums: inputs
 * of each GEMV rounded to the act dtype as the stored tensors would be, fp32
 * accumulation and residual, the fp16 FFN product scaled (ffn_act.cu).
 * The grid barrier, the memory ordering rules (other blocks' data read with
 * ld.global.cg) and the one-fused-stream-per-device rule are fused_step.cu's;
 * this kernel has its own barrier counter because its grid size differs.
 *
 * Measured (bench/cuda.md, H200, t5-small fp16): it is correct (fixtures and
 * memcheck as the other paths) but not faster where it matters: a phase here
 * costs ~13 us against ~5.5 us for fused_step.cu's, because each phase's
 * dependent chain (gather the partials, norm, GEMV, cluster exchange, the
 * attention's cache loads, the second GEMV, the cluster reduce) is as long
 * as two of the other kernel's phases; the gather of P partials grows with
 * the rows (at 8 rows it reads P*8*d floats per block). Step at 1 / 4 / 8
 * rows: 258 / 307 / 409 us against 220 (fused_step.cu) / 333 / 322 (per-op).
 * So it is opt-in (T5_CUDA_FUSED_V2=1, rows up to T5_CUDA_FUSED_MAX_ROWS,
 * default 4), kept as the measured starting point for a multi-row fused step.
 */
#include "fused_common.cuh"

#define F2_CS 8   /* blocks per cluster (the portable maximum) */
#define F2_MAXM 8 /* rows */

struct f2_params {
    t5_fused_step a;
    unsigned long long *bar;   /* this kernel's grid-barrier count */
    unsigned long long *trace; /* T5_CUDA_FUSED_TRACE, or NULL */
    float *part;               /* top-k parts */
    float *xp;                 /* residual partials: 2 buffers of P x m x d */
    int NC, P, smax;
    int ws_bytes;   /* one weight stage buffer */
    int ffn_staged; /* the FFN slices fit the stage buffer */
    size_t off_xs, off_as, off_qx, off_loc, off_ah, off_fp, off_sc, off_qs, off_ws;
};

/* This block's share of the work. */
struct f2_geo {
    int c, rk, h, rr, R;
    int r0, r1; /* self: rows r0..r1 of the head's q|k|v (0 .. 3*dkv) */
    int q0, q1; /* cross: rows of the head's q (0 .. dkv) */
    int j0, j1; /* o / co: output columns */
    int f0, nf; /* FFN: intermediate columns f0 .. f0+nf */
};

/* The device pieces exist for sm_90+ only (the kernel body is empty below
   that; its host launcher checks the device first). */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
static __device__ inline f2_geo f2_geometry(int b, int NC, int G, int H, int dkv, int d, int d_ff,
                                            int vn)
{
    f2_geo g;
    g.c = b / F2_CS;
    g.rk = b % F2_CS;
    g.h = g.c % H;
    g.rr = g.c / H;
    g.R = (NC - g.h + H - 1) / H;
    int n3 = 3 * dkv;
    g.r0 = g.rk * n3 / F2_CS;
    g.r1 = (g.rk + 1) * n3 / F2_CS;
    g.q0 = g.rk * dkv / F2_CS;
    g.q1 = (g.rk + 1) * dkv / F2_CS;
    int o0 = g.rr * d / g.R, o1 = (g.rr + 1) * d / g.R;
    g.j0 = o0 + g.rk * (o1 - o0) / F2_CS;
    g.j1 = o0 + (g.rk + 1) * (o1 - o0) / F2_CS;
    int nch = d_ff / vn, ch0 = b * nch / G, ch1 = (b + 1) * nch / G;
    g.f0 = ch0 * vn;
    g.nf = (ch1 - ch0) * vn;
    return g;
}

/* The generic address of the same shared-memory variable in block `rank`
 * of this cluster. */
template <typename P> static __device__ __forceinline__ P *f2_peer(P *p, unsigned rank)
{
    unsigned long long out;
    asm volatile("mapa.u64 %0, %1, %2;" : "=l"(out) : "l"(p), "r"(rank));
    return (P *)out;
}

static __device__ __forceinline__ void f2_cluster_sync(void)
{
    asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
                 "barrier.cluster.wait.acquire.aligned;" ::
                     : "memory");
}

/* Copies rows of 16-byte chunks: n rows of `bytes` each, row i from
 * src(i) to dst + i*bytes. */
template <typename F>
static __device__ __forceinline__ void f2_copy_rows(unsigned char *dst, int n, int bytes, F src)
{
    int cpr = bytes / 16;
    for (int idx = threadIdx.x; idx < n * cpr; idx += FS_THREADS) {
        int i = idx / cpr, ch = idx - i * cpr;
        t5__cp16(dst + (size_t)i * bytes + ch * 16, src(i) + ch * 16);
    }
}

/* Starts the weight copies of phase ph (3 per layer, then the LM head)
 * into buf; always one cp.async group, possibly empty. Inlined: it reads
 * the kernel's parameters by reference. */
template <typename T>
static __device__ __forceinline__ void f2_stage(const f2_params &p, const f2_geo &g, int ph,
                                                unsigned char *buf)
{
    const t5_fused_step &a = p.a;
    const int d = a.d, dkv = a.sh.d_kv, inner = a.sh.n_heads * dkv, es = (int)sizeof(T);
    const int l = ph / 3, t = ph - 3 * l;
    if (l < a.n_layers && t < 2) {
        const t5_fused_layer &w = a.layers[l];
        const char *wq = (const char *)(t == 0 ? w.w_qkv : w.w_cq);
        const char *wo = (const char *)(t == 0 ? w.w_o : w.w_co);
        int r0 = t == 0 ? g.r0 : g.q0, nr = (t == 0 ? g.r1 : g.q1) - r0, h = g.h;
        f2_copy_rows(buf, nr, d * es, [&](int i) {
            int row = r0 + i, part = row / dkv;
            return wq + ((size_t)part * inner + h * dkv + (row - part * dkv)) * d * es;
        });
        f2_copy_rows(buf + (size_t)nr * d * es, g.j1 - g.j0, dkv * es,
                     [&](int i) { return wo + ((size_t)(g.j0 + i) * inner + h * dkv) * es; });
    } else if (l < a.n_layers) {
        const t5_fused_layer &w = a.layers[l];
        const char *wi = (const char *)w.w_in, *wo = (const char *)w.w_out;
        const int nrows = a.gated ? 2 : 1, nf = g.nf, f0 = g.f0;
        if (p.ffn_staged) {
            f2_copy_rows(buf, nrows * nf, d * es, [&](int i) {
                int row = i < nf ? f0 + i : a.d_ff + f0 + (i - nf);
                return wi + (size_t)row * d * es;
            });
            if (nf > 0)
                f2_copy_rows(buf + (size_t)nrows * nf * d * es, d, nf * es,
                             [&](int j) { return wo + ((size_t)j * a.d_ff + f0) * es; });
        } else {
            fs_prefetch_bytes(wi + (size_t)f0 * d * es, (size_t)nf * d * es);
            if (a.gated)
                fs_prefetch_bytes(wi + (size_t)(a.d_ff + f0) * d * es, (size_t)nf * d * es);
            for (int j = threadIdx.x; nf > 0 && j < d; j += FS_THREADS)
                asm volatile("prefetch.global.L2 [%0];" ::"l"(wo + ((size_t)j * a.d_ff + f0) * es));
        }
    } else if (ph == 3 * a.n_layers) {
        fs_prefetch(a.lm_head, a.V, d, es);
    }
    t5__cp_commit();
}

/* xs [n] += sum over q < P of xin[q][n], in q order (identical in every
 * block). */
static __device__ __noinline__ void f2_gather(float *xs, const float *xin, int P, int n)
{
    for (int i = threadIdx.x * 4; i < n; i += FS_THREADS * 4) {
        float4 s = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 16
        for (int q = 0; q < P; q++) {
            float4 v = __ldcg((const float4 *)(xin + (size_t)q * n + i));
            s.x += v.x;
            s.y += v.y;
            s.z += v.z;
            s.w += v.w;
        }
        float4 *x4 = (float4 *)(xs + i);
        float4 x = *x4;
        x.x += s.x;
        x.y += s.y;
        x.z += s.z;
        x.w += s.w;
        *x4 = x;
    }
    __syncthreads();
}

#endif

template <typename T, int K>
__global__ void __launch_bounds__(FS_THREADS, 1) fused_step2_kernel(const f2_params p)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    const t5_fused_step &a = p.a;
    extern __shared__ __align__(16) unsigned char f2_sm[];
    float *xs = (float *)(f2_sm + p.off_xs);
    T *as = (T *)(f2_sm + p.off_as);
    T *qx = (T *)(f2_sm + p.off_qx);   /* [m][3*dkv]: the head's q|k|v (cross: q) */
    T *loc = (T *)(f2_sm + p.off_loc); /* this block's GEMV outputs */
    T *ah = (T *)(f2_sm + p.off_ah);   /* the head's attention; FFN: the activation */
    float *fp = (float *)(f2_sm + p.off_fp);
    float *sc = (float *)(f2_sm + p.off_sc);
    float *qs = (float *)(f2_sm + p.off_qs);
    unsigned char *ws0 = f2_sm + p.off_ws, *ws1 = ws0 + p.ws_bytes;
    __shared__ float red[F2_MAXM];
    const int m = a.n, d = a.d, H = a.sh.n_heads, dkv = a.sh.d_kv, L = a.n_layers;
    const int G = gridDim.x, nph = 3 * L, md = m * d, es = (int)sizeof(T);
    const float act_scale = fs_act_scale<T>();
    const f2_geo g = f2_geometry(blockIdx.x, p.NC, G, H, dkv, d, a.d_ff, 16 / es);
    fs_clock clk = {p.trace, 0, 0};
    if (p.trace && blockIdx.x == 0 && threadIdx.x == 0)
        clk.t = clk.t2 = fs_now();

    f2_stage<T>(p, g, 0, ws0);
    f2_stage<T>(p, g, 1, ws1);
    for (int idx = threadIdx.x; idx < md; idx += FS_THREADS) {
        int r = idx / d, c = idx - r * d, id = a.tok[r];
        id = id < 0 ? 0 : id >= a.V ? a.V - 1 : id;
        xs[idx] = t5__ld((const T *)a.embed + (size_t)id * d + c);
    }
    __syncthreads();

    for (int ph = 0; ph < nph; ph++) {
        const int l = ph / 3, t = ph - 3 * l;
        const t5_fused_layer &w = a.layers[l];
        unsigned char *wb = (ph & 1) ? ws1 : ws0;
        float *xout = p.xp + (size_t)(ph & 1) * p.P * md;
        if (ph > 0)
            f2_gather(xs, p.xp + (size_t)((ph - 1) & 1) * p.P * md, t == 0 ? p.NC : H, md);
        const float *ln = (const float *)(t == 0 ? w.ln_attn : t == 1 ? w.ln_cross : w.ln_ff);
        fs_norm<T>(as, xs, ln, m, d, a.eps, red);
        t5__cp_wait<1>(); /* this phase's weights */
        __syncthreads();
        clk.sub(0);
        const T *wst = (const T *)wb;
        if (t < 2) {
            /* the head's q|k|v (cross: q) rows of this block, to every block */
            const int row0 = t == 0 ? g.r0 : g.q0, nr = (t == 0 ? g.r1 : g.q1) - row0;
            const int qw = t == 0 ? 3 * dkv : dkv;
            fs_gemv_cols<T, 1, F2_MAXM>(as, m, d, wst, d, 0, nr, 0, nr, FS_OUT_ACT, loc, 1.0f,
                                        NULL);
            __syncthreads();
            const int mn = m * nr;
            for (int idx = threadIdx.x; idx < mn * F2_CS; idx += FS_THREADS) {
                int q = idx / mn, e = idx - q * mn, r = e / nr;
                *f2_peer(qx + r * qw + row0 + (e - r * nr), q) = loc[e];
            }
            f2_cluster_sync();
            clk.sub(1);
            fs_attn_args ga;
            ga.rows = a.rows;
            ga.kc = t == 0 ? a.self_k : a.cross_k;
            ga.vc = t == 0 ? a.self_v : a.cross_v;
            ga.kw = t == 0 && g.rr == 0 && g.rk == 0 ? a.self_k : NULL; /* one block appends */
            ga.vw = t == 0 && g.rr == 0 && g.rk == 0 ? a.self_v : NULL;
            ga.q = qx;
            ga.bias = a.bias;
            ga.n_slots = t == 0 ? a.self_lay.n_slots : a.cross_lay.n_slots;
            ga.max_len = t == 0 ? a.self_lay.max_len : a.cross_lay.max_len;
            ga.H = H;
            ga.dkv = dkv;
            ga.nb = a.sh.num_buckets;
            ga.maxd = a.sh.max_distance;
            ga.m = m;
            ga.smax = p.smax;
            ga.layer = l;
            ga.h0 = g.h;
            ga.nh = 1;
            ga.q_rs = qw;
            ga.q_hs = 0;
            ga.kv_off = dkv;
            ga.o_rs = dkv;
            ga.o_hs = 0;
            if (t == 0)
                fs_attn<T, true, false>(ah, ga, sc, qs);
            else
                fs_attn<T, false, false>(ah, ga, sc, qs);
            /* this head's share of the output columns j0..j1 */
            fs_gemv_small<T, F2_MAXM>(ah, dkv, m, dkv, wst + (size_t)nr * d, dkv, g.j1 - g.j0, 1.0f,
                                      xout + (size_t)g.h * md + g.j0, d);
        } else {
            const int nf = g.nf, nrows = a.gated ? 2 : 1, lw = nrows * nf;
            const T *wi = (const T *)w.w_in;
            if (p.ffn_staged) {
                fs_gemv_cols<T, 1, F2_MAXM>(as, m, d, wst, d, 0, lw, 0, lw, FS_OUT_ACT, loc, 1.0f,
                                            NULL);
            } else {
                fs_gemv_cols<T, 1, F2_MAXM>(as, m, d, wi + (size_t)g.f0 * d, d, 0, lw, 0, nf,
                                            FS_OUT_ACT, loc, 1.0f, NULL);
                if (a.gated)
                    fs_gemv_cols<T, 1, F2_MAXM>(as, m, d, wi + (size_t)(a.d_ff + g.f0) * d, d, 0,
                                                lw, 0, nf, FS_OUT_ACT, loc + nf, 1.0f, NULL);
            }
            __syncthreads();
            const float inv = 1.0f / act_scale;
            for (int idx = threadIdx.x; idx < m * nf; idx += FS_THREADS) {
                int r = idx / nf, i = idx - r * nf;
                float y = fs_act(fs_fin<T>(t5__ld(loc + r * lw + i)), a.act);
                if (a.gated)
                    y *= fs_fin<T>(t5__ld(loc + r * lw + nf + i));
                ah[idx] = t5__dt<T>::store(fs_fin<T>(y * inv));
            }
            __syncthreads();
            clk.sub(1);
            const T *wo = p.ffn_staged ? wst + (size_t)lw * d : (const T *)w.w_out + g.f0;
            fs_gemv_small<T, F2_MAXM>(ah, nf, m, nf, wo, p.ffn_staged ? nf : a.d_ff, d, act_scale,
                                      fp, d);
            f2_cluster_sync();
            /* the cluster's sum of columns c0..c1, in rank order */
            const int c0 = g.rk * d / F2_CS, c1 = (g.rk + 1) * d / F2_CS, nc = c1 - c0;
            for (int idx = threadIdx.x; idx < m * nc; idx += FS_THREADS) {
                int r = idx / nc, j = c0 + (idx - r * nc);
                float v[F2_CS], s = 0.0f;
#pragma unroll
                for (int q = 0; q < F2_CS; q++)
                    v[q] = *f2_peer(fp + r * d + j, q);
#pragma unroll
                for (int q = 0; q < F2_CS; q++)
                    s += v[q];
                xout[(size_t)g.c * md + r * d + j] = s;
            }
        }
        clk.sub(2);
        unsigned long long tgt = fs_arrive(p.bar);
        f2_stage<T>(p, g, ph + 2, wb); /* wb is free: the block passed its reads */
        clk.sub(3);
        fs_wait(p.bar, tgt);
        clk.mark(t);
    }
    /* Every distributed-shared-memory access happened before the last grid
     * barrier, so blocks may leave at any point from here. */
    t5__cp_wait<0>();
    f2_gather(xs, p.xp + (size_t)((nph - 1) & 1) * p.P * md, p.NC, md);
    fs_norm<T>(as, xs, (const float *)a.ln_final, m, d, a.eps, red);
    if (p.trace && blockIdx.x == 0 && threadIdx.x == 0)
        p.trace[14] = 2; /* the report's labels */
    fs_head<T, K, F2_MAXM>(a, as, m, p.part, p.bar, clk);
#endif
}

/* ---- the op ------------------------------------------------------------------------ */

static size_t f2_al16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

static int f2_ceil(int a, int b)
{
    return (a + b - 1) / b;
}

/* Shared-memory layout for NC clusters; 0 when it does not fit. */
static size_t f2_layout(const t5__cu_backend *be, const t5_fused_step *a, int NC, f2_params *p)
{
    const int es = (int)be->base.act_size, m = a->n, d = a->d, dkv = a->sh.d_kv, H = a->sh.n_heads;
    const int G = NC * F2_CS, vn = 16 / es, nrows = a->gated ? 2 : 1;
    const int nr = f2_ceil(3 * dkv, F2_CS), nq = f2_ceil(dkv, F2_CS);
    const int nj = f2_ceil(f2_ceil(d, NC / H), F2_CS);
    const int nf = f2_ceil(a->d_ff / vn, G) * vn;
    const size_t b_self = ((size_t)nr * d + (size_t)nj * dkv) * es;
    const size_t b_cross = ((size_t)nq * d + (size_t)nj * dkv) * es;
    const size_t b_ffn = ((size_t)nrows * nf * d + (size_t)d * nf) * es;
    const int nloc = nr > nrows * nf ? nr : nrows * nf, nah = dkv > nf ? dkv : nf;
    p->smax =
        a->self_lay.max_len > a->cross_lay.max_len ? a->self_lay.max_len : a->cross_lay.max_len;
    size_t off = 0;
    p->off_xs = off, off += f2_al16((size_t)m * d * 4);
    p->off_as = off, off += f2_al16((size_t)m * d * es);
    p->off_qx = off, off += f2_al16((size_t)m * 3 * dkv * es);
    p->off_loc = off, off += f2_al16((size_t)m * nloc * es);
    p->off_ah = off, off += f2_al16((size_t)m * nah * es);
    p->off_fp = off, off += f2_al16((size_t)m * d * 4);
    p->off_sc = off, off += f2_al16((size_t)FS_WARPS * p->smax * 4);
    p->off_qs = off, off += f2_al16((size_t)FS_WARPS * dkv * 4);
    p->off_ws = off;
    const size_t statics = 4096; /* red + the top-k helpers' static shared memory */
    size_t ws = b_self > b_cross ? b_self : b_cross;
    if (off + 2 * f2_al16(ws) + statics > be->smem_optin)
        return 0;
    p->ffn_staged = off + 2 * f2_al16(b_ffn > ws ? b_ffn : ws) + statics <= be->smem_optin;
    if (p->ffn_staged && b_ffn > ws)
        ws = b_ffn;
    p->ws_bytes = (int)f2_al16(ws);
    return off + 2 * (size_t)p->ws_bytes;
}

template <typename T, int K> static int f2_launch(t5_stream *s, f2_params &p, t5_err *err)
{
    t5__cu_backend *be = s->be;
    const t5_fused_step *a = &p.a;
    void (*kern)(const f2_params) = fused_step2_kernel<T, K>;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = F2_CS;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.blockDim = dim3(FS_THREADS);
    cfg.stream = s->st;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    /* The cluster count is fixed per stream at its first launch (the
     * barrier count must stay a multiple of the grid size). */
    int NC = s->fs2_nc;
    size_t smem = f2_layout(be, a, NC ? NC : be->n_sm / F2_CS, &p);
    if (!smem)
        return 1;
    CU_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    if (!NC) {
        cfg.gridDim = dim3(F2_CS * (be->n_sm / F2_CS));
        cfg.dynamicSmemBytes = smem;
        int nc = 0;
        if (cudaOccupancyMaxActiveClusters(&nc, kern, &cfg) != cudaSuccess) {
            cudaGetLastError();
            nc = 0;
        }
        if (nc > be->n_sm / F2_CS)
            nc = be->n_sm / F2_CS;
        if (nc < a->sh.n_heads || nc < 1) {
            s->fs2_nc = -1; /* this device cannot: fused_step.cu's kernel instead */
            return 1;
        }
        s->fs2_nc = NC = nc;
        smem = f2_layout(be, a, NC, &p);
        if (!smem)
            return 1;
        CU_CHECK(
            cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    }
    if (NC < a->sh.n_heads)
        return 1;
    p.NC = NC;
    p.P = NC > a->sh.n_heads ? NC : a->sh.n_heads;
    if ((size_t)2 * p.P * a->n * a->d * sizeof(float) > T5__FS2_XP_BYTES)
        return 1;
    if ((size_t)a->n * NC * F2_CS * (2 + 2 * a->k) > 2 * (size_t)T5__TOPK_PARTIALS)
        return 1;
    cfg.gridDim = dim3(F2_CS * NC);
    cfg.dynamicSmemBytes = smem;
    CU_CHECK(cudaLaunchKernelEx(&cfg, kern, p));
    CU_CHECK_LAUNCH("fused decoder step (clusters)");
    return 0;
}

/* Called by t5__cu_decode_step (fused_step.cu) once the stream owns the
 * fused path and the shape passed the common checks; 1: not handled here. */
int t5__cu_decode_step2(t5_stream *s, const t5_fused_step *a, t5_err *err)
{
    t5__cu_backend *be = s->be;
    if (!be->fused_v2 || s->fs2_nc < 0 || a->n > F2_MAXM || !s->fs2_xp)
        return 1;
    f2_params p;
    memset(&p, 0, sizeof p);
    p.a = *a;
    p.bar = (unsigned long long *)s->fs_bar + 1;
    p.trace = s->fs_trace;
    p.part = s->topk_part;
    p.xp = s->fs2_xp;
    int rc = 1;
    if (a->k == 1) {
        T5__DISPATCH(be->base.act_dtype, T, rc = f2_launch<T, 1>(s, p, err));
    } else {
        T5__DISPATCH(be->base.act_dtype, T, rc = f2_launch<T, FS_MAXK>(s, p, err));
    }
    return rc;
}
