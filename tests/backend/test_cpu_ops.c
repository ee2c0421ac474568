/* test_cpu_ops.c - the CPU backend's fast operations against ref.c, for
 * every SIMD variant this machine supports, one and two threads, on random
 * shapes including odd sizes. Error measure: max|fast - ref| / max(|ref|, 1)
 * per tensor, tolerance 1e-5 (the fast path sums in fp32, the ref in double). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/ref.h"
#include "check.h"

static t5_backend *be;
static t5_stream *st;
static uint64_t rng = 88172645463325252ull;

static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static int irand(int lo, int hi) /* inclusive */
{
    return lo + (int)(((frand() + 1.0f) * 0.5f) * (hi - lo + 1)) % (hi - lo + 1);
}

static float *rnd(size_t n, float scale)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

static double relerr(const float *a, const float *b, size_t n)
{
    double mx = 1, d = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
        double e = fabs((double)a[i] - b[i]);
        if (isnan(a[i]) != isnan(b[i]))
            e = INFINITY;
        d = e > d ? e : d;
    }
    return d / mx;
}

#define TOL 1e-5

static void test_bucket(void)
{
    /* transformers' _relative_position_bucket for a few distances (32 buckets,
     * max distance 128), as printed by T5Attention._relative_position_bucket. */
    static const int rel[] = {-200, -128, -64, -20, -9, -8, -7,  -1, 0,
                              1,    7,    8,   9,   20, 64, 128, 200};
    static const int bi[] = {15, 15, 14, 10, 8, 8, 7, 1, 0, 17, 23, 24, 24, 26, 30, 31, 31};
    static const int causal[] = {31, 31, 26, 17, 9, 8, 7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        CHECK_EQ_INT(t5_rel_bucket(rel[i], 1, 32, 128), bi[i]);
        CHECK_EQ_INT(t5_rel_bucket(rel[i], 0, 32, 128), causal[i]);
    }
}

static void test_gemm(void)
{
    for (int it = 0; it < 16; it++) {
        int m = it < 3 ? 1 : it < 6 ? it - 1 : irand(1, 40), n = irand(1, 300), k = irand(1, 130);
        float *a = rnd((size_t)m * k, 1), *w = rnd((size_t)n * k, 1);
        float *o1 = rnd((size_t)m * n, 1), *o2 = malloc(sizeof(float) * m * n);
        memcpy(o2, o1, sizeof(float) * m * n);
        int flags = it % 2 ? T5_GEMM_ADD_RESID : it % 4 ? T5_GEMM_OUT_F32 : T5_GEMM_RELU;
        float alpha = it % 3 ? 1.0f : 0.37f;
        void *wh = NULL;
        CHECK(be->vt->upload_weight(be, it % 4 == 3 ? T5_W_EMBED : T5_W_LINEAR, w, n, k, &wh,
                                    NULL) == 0);
        CHECK(t5__cpu_gemm(st, o1, a, wh, m, n, k, alpha, flags, NULL) == 0);
        CHECK(t5__cpu_gemm(st, o1, a, wh, m, n + 1, k, alpha, flags, NULL) == T5_EINVAL);
        be->vt->free_weight(be, wh);
        t5_ref_gemm(o2, a, w, m, n, k, alpha, flags & T5_GEMM_ADD_RESID);
        int neg = 0;
        if (flags & T5_GEMM_RELU)
            for (size_t i = 0; i < (size_t)m * n; i++) {
                neg += o2[i] < 0;
                o2[i] = o2[i] > 0 ? o2[i] : 0;
            }
        CHECK(!(flags & T5_GEMM_RELU) || m * n < 8 || neg > 0); /* the epilogue had work */
        CHECK_MSG(relerr(o1, o2, (size_t)m * n) < TOL, "gemm %dx%dx%d err %g", m, n, k,
                  relerr(o1, o2, (size_t)m * n));
        free(a), free(w), free(o1), free(o2);
    }
}

static void test_embed(void)
{
    for (int it = 0; it < 4; it++) {
        int V = irand(1, 70), d = irand(1, 90), n = irand(1, 9);
        float *tab = rnd((size_t)V * d, 1);
        void *th = NULL;
        CHECK(be->vt->upload_weight(be, T5_W_EMBED, tab, V, d, &th, NULL) == 0);
        int32_t ids[9];
        for (int i = 0; i < n; i++)
            ids[i] = irand(0, V - 1);
        float *x1 = malloc(sizeof(float) * n * d), *x2 = malloc(sizeof(float) * n * d);
        CHECK(t5__cpu_embed(st, x1, th, ids, n, d, NULL) == 0);
        t5_ref_embed(x2, tab, ids, n, d);
        CHECK(memcmp(x1, x2, sizeof(float) * n * d) == 0);
        ids[0] = V;
        CHECK(t5__cpu_embed(st, x1, th, ids, n, d, NULL) == T5_EINVAL);
        be->vt->free_weight(be, th);
        free(tab), free(x1), free(x2);
    }
}

static void test_rmsnorm_act(void)
{
    for (int it = 0; it < 8; it++) {
        int n = irand(1, 17), d = irand(1, 531);
        float *x = rnd((size_t)n * d, 30), *w = rnd(d, 2);
        float *o1 = malloc(sizeof(float) * n * d), *o2 = malloc(sizeof(float) * n * d);
        CHECK(t5__cpu_rmsnorm(st, o1, x, w, n, d, 1e-6f, NULL) == 0);
        t5_ref_rmsnorm(o2, x, w, n, d, 1e-6f);
        CHECK_MSG(relerr(o1, o2, (size_t)n * d) < TOL, "rmsnorm %dx%d", n, d);
        free(x), free(w), free(o1), free(o2);
    }
    for (int act = 0; act < 4; act++)
        for (int gated = 0; gated < 2; gated++) {
            int m = irand(1, 9), ff = irand(1, 300);
            float *in = rnd((size_t)m * ff * 2, gated ? 4 : 40); /* 40: saturation */
            float *o1 = malloc(sizeof(float) * m * ff), *o2 = malloc(sizeof(float) * m * ff);
            CHECK(t5__cpu_ffn_act(st, o1, in, m, ff, act, gated, NULL) == 0);
            t5_ref_ffn_act(o2, in, m, ff, act, gated);
            CHECK_MSG(relerr(o1, o2, (size_t)m * ff) < TOL, "act %d gated %d", act, gated);
            free(in), free(o1), free(o2);
        }
    CHECK(t5__cpu_ffn_act(st, NULL, NULL, 1, 1, 99, 0, NULL) == T5_EINVAL);
}

static void test_attention(void)
{
    for (int it = 0; it < 6; it++) {
        t5_attn_shape sh = {irand(1, 5), irand(1, 70), it % 2 ? 32 : 8, it % 2 ? 128 : 20};
        int H = sh.n_heads, D = sh.d_kv, inner = H * D;
        int B = irand(1, 4), L = irand(1, 40) + (it == 5 ? 60 : 0);
        int32_t lens[4];
        for (int b = 0; b < B; b++)
            lens[b] = irand(1, L);
        lens[B - 1] = L;
        float *qkv = rnd((size_t)B * L * 3 * inner, 1), *bias = rnd((size_t)sh.num_buckets * H, 2);
        float *o1 = malloc(sizeof(float) * B * L * inner),
              *o2 = malloc(sizeof(float) * B * L * inner);
        CHECK(t5__cpu_attn_encoder(st, o1, qkv, lens, B, L, bias, &sh, NULL) == 0);
        t5_ref_attn_encoder(o2, qkv, lens, B, L, bias, &sh);
        /* Padded query rows are unspecified beyond being finite: compare real rows. */
        double e = 0;
        for (int b = 0; b < B; b++) {
            double eb = relerr(o1 + (size_t)b * L * inner, o2 + (size_t)b * L * inner,
                               (size_t)lens[b] * inner);
            e = eb > e ? eb : e;
        }
        CHECK_MSG(e < TOL, "attn_encoder B%d L%d H%d D%d err %g", B, L, H, D, e);

        /* Cross K/V store for 2 decoder layers, then cross and self attention. */
        int NL = 2, slots = 6, maxlen = L + 3;
        t5_kv_layout lay = {NL, slots, H, maxlen, D};
        size_t csz = (size_t)NL * slots * H * maxlen * D;
        float *kc1 = rnd(csz, 1), *vc1 = rnd(csz, 1), *kc2 = malloc(csz * 4),
              *vc2 = malloc(csz * 4);
        memcpy(kc2, kc1, csz * 4), memcpy(vc2, vc1, csz * 4);
        float *kv = rnd((size_t)B * L * NL * 2 * inner, 1);
        int32_t sl[4] = {3, 0, 5, 1};
        CHECK(t5__cpu_cross_kv_store(st, kc1, vc1, &lay, kv, sl, lens, B, L, NULL) == 0);
        t5_ref_cross_kv_store(kc2, vc2, &lay, kv, sl, lens, B, L);
        CHECK(memcmp(kc1, kc2, csz * 4) == 0 && memcmp(vc1, vc2, csz * 4) == 0);

        int n = B;
        int32_t rows[16];
        for (int r = 0; r < n; r++) {
            rows[r * 4] = (r * 2 + 1) % slots;
            rows[r * 4 + 1] = sl[r];
            rows[r * 4 + 2] = irand(0, maxlen - 1);
            rows[r * 4 + 3] = lens[r];
        }
        float *q = rnd((size_t)n * 3 * inner, 1);
        float *a1 = malloc(sizeof(float) * n * inner), *a2 = malloc(sizeof(float) * n * inner);
        CHECK(t5__cpu_attn_cross(st, a1, q, kc1, vc1, &lay, 1, rows, n, &sh, NULL) == 0);
        t5_ref_attn_cross(a2, q, kc2, vc2, &lay, 1, rows, n, &sh);
        CHECK_MSG(relerr(a1, a2, (size_t)n * inner) < TOL, "attn_cross");
        CHECK(t5__cpu_attn_decoder_self(st, a1, q, kc1, vc1, &lay, 0, rows, n, bias, &sh, NULL) ==
              0);
        t5_ref_attn_decoder_self(a2, q, kc2, vc2, &lay, 0, rows, n, bias, &sh);
        CHECK_MSG(relerr(a1, a2, (size_t)n * inner) < TOL, "attn_decoder_self");
        CHECK(memcmp(kc1, kc2, csz * 4) == 0 && memcmp(vc1, vc2, csz * 4) == 0);

        /* A permutation (overlapping) and a plain copy. */
        int32_t dst[3] = {0, 1, 2}, src[3] = {1, 2, 0};
        CHECK(t5__cpu_copy_slots(st, kc1, vc1, &lay, dst, src, 3, maxlen - 1, NULL) == 0);
        t5_ref_copy_slots(kc2, vc2, &lay, dst, src, 3, maxlen - 1);
        CHECK(memcmp(kc1, kc2, csz * 4) == 0 && memcmp(vc1, vc2, csz * 4) == 0);
        int32_t d2[2] = {4, 5}, s2[2] = {3, 3};
        CHECK(t5__cpu_copy_slots(st, kc1, vc1, &lay, d2, s2, 2, maxlen, NULL) == 0);
        t5_ref_copy_slots(kc2, vc2, &lay, d2, s2, 2, maxlen);
        CHECK(memcmp(kc1, kc2, csz * 4) == 0 && memcmp(vc1, vc2, csz * 4) == 0);

        /* Bad rows are refused, not followed. */
        int32_t bad[4] = {slots, 0, 0, 1};
        CHECK(t5__cpu_attn_decoder_self(st, a1, q, kc1, vc1, &lay, 0, bad, 1, bias, &sh, NULL) ==
              T5_EINVAL);
        free(qkv), free(bias), free(o1), free(o2), free(kc1), free(vc1), free(kc2), free(vc2);
        free(kv), free(q), free(a1), free(a2);
    }
}

static void test_topk(void)
{
    for (int it = 0; it < 8; it++) {
        int n = irand(1, 5), V = irand(2, 5000), k = irand(1, V < 40 ? V : 40);
        float *z = rnd((size_t)n * V, 10);
        if (it == 0) /* ties: lower id first */
            for (int i = 0; i < n * V; i++)
                z[i] = (float)(i % 7);
        int32_t no_eos[5] = {1, 0, 1, 0, 1};
        float *v1 = malloc(sizeof(float) * n * k), *v2 = malloc(sizeof(float) * n * k);
        int32_t *i1 = malloc(sizeof(int32_t) * n * k), *i2 = malloc(sizeof(int32_t) * n * k);
        int eos = irand(0, V - 1);
        CHECK(t5__cpu_logits_topk(st, v1, i1, z, n, V, k, no_eos, eos, NULL) == 0);
        t5_ref_logits_topk(v2, i2, z, n, V, k, no_eos, eos);
        CHECK_MSG(memcmp(i1, i2, sizeof(int32_t) * n * k) == 0, "topk ids V%d k%d", V, k);
        double e = 0;
        for (int i = 0; i < n * k; i++)
            e = fmax(e, fabs((double)v1[i] - v2[i]));
        CHECK_MSG(e < 1e-5, "topk vals err %g", e);
        free(z), free(v1), free(v2), free(i1), free(i2);
    }
}

int main(int argc, char **argv)
{
    /* A second pass with row-major weights (OpenBLAS path): "nopack". */
    if (argc > 1 && !strcmp(argv[1], "nopack"))
        setenv("T5_CPU_PACK", "0", 1);
    CHECK(t5_backend_cpu_create(&be, T5_F16, NULL) == T5_EUNSUP);
    CHECK(t5_backend_cpu_create(&be, T5_F32, NULL) == 0);
    fprintf(stderr, "-- weights %s\n", ((t5__cpu_backend *)be)->pack ? "packed" : "row-major");
    RUN(test_bucket);
    static const char *variants[] = {"scalar", "avx2", "avx512"};
    for (int threads = 1; threads <= 2; threads++)
        for (int vi = 0; vi < 3; vi++) {
            const t5__simd *v = t5__simd_by_name(variants[vi]);
            if (!v)
                continue;
            CHECK(be->vt->stream_create(be, threads, &st, NULL) == 0);
            st->simd = v;
            fprintf(stderr, "-- %s, %d thread(s)\n", v->name, threads);
            RUN(test_gemm);
            RUN(test_embed);
            RUN(test_rmsnorm_act);
            RUN(test_attention);
            RUN(test_topk);
            be->vt->stream_destroy(st);
        }
    be->vt->destroy(be);
    return check_summary();
}
