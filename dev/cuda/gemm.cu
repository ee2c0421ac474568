/* gemm.cu - kernel lab: cuBLASLt GEMM (act out, fp32 out, fused residual add). */
#include "lab.cuh"

/* Pass 0 takes the CUDA-core GEMV path up to 16 rows; pass 1 the default
 * limits, where fp16/bf16 GEMMs of 2-16 rows take the tensor-core kernel
 * (its rows are marked "mma") and fp32 ones the GEMV up to 4. */
static int lab_pass;

static const char *pass_name(const char *op, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s", op, lab_pass ? " mma" : "");
    return buf;
}

/* rmsnorm or ffn_act followed by the GEMM that consumes its output: on few
 * rows the backend fuses the two (gemv.cu); both the GEMM result and the
 * intermediate buffer must match the reference. */
static void check_fused(lab *L, int m, int n, int k, int which, int act, int gated,
                        float xscale = 3.0f)
{
    size_t kin = which == 0 ? (size_t)k : (size_t)k * (gated ? 2 : 1);
    float *x = lab_rand((size_t)m * kin, which == 0 ? 500.0f : xscale);
    float *nw = lab_rand(k, 1.0f), *w = lab_rand((size_t)n * k, 0.05f);
    float *r0 = lab_rand((size_t)m * n, 1.0f);
    lab_quantize(L->dt, w, (size_t)n * k);
    if (which == 1)
        lab_quantize(L->dt, x, (size_t)m * kin);
    void *dw = NULL, *dnw = NULL, *dx;
    LAB_OK(L->be->vt->upload_weight(L->be, T5_W_LINEAR, w, n, k, &dw, err));
    LAB_OK(L->be->vt->upload_weight(L->be, T5_W_NORM, nw, 1, k, &dnw, err));
    dx = which == 0 ? lab_up_bytes(L, x, (size_t)m * k * 4) : lab_up_act(L, x, (size_t)m * kin);
    void *dmid = L->be->vt->alloc(L->be, (size_t)m * k * lab_esz(L->dt));
    float *dout = (float *)lab_up_bytes(L, r0, (size_t)m * n * 4);
    lab_poison(L, dmid, (size_t)m * k * lab_esz(L->dt));
    auto issue = [&](t5_err *e) {
        if (which == 0)
            L->be->vt->rmsnorm(L->s, dmid, (const float *)dx, dnw, m, k, 1e-6f, e);
        else
            L->be->vt->ffn_act(L->s, dmid, dx, m, k, act, gated, e);
        return L->be->vt->gemm(L->s, dout, dmid, dw, m, n, k, 1.0f, T5_GEMM_ADD_RESID, e);
    };
    LAB_OK(issue(err));
    float *mid = lab_down_act(L, dmid, (size_t)m * k), *out = (float *)malloc((size_t)m * n * 4);
    lab_down_bytes(L, out, dout, (size_t)m * n * 4);
    float *rmid = (float *)malloc((size_t)m * k * 4), *ref = (float *)malloc((size_t)m * n * 4);
    if (which == 0)
        t5_ref_rmsnorm(rmid, x, nw, m, k, 1e-6f);
    else
        t5_ref_ffn_act(rmid, x, m, k, act, gated);
    double mx1, rel1 = lab_rel(mid, rmid, (size_t)m * k, &mx1);
    /* The GEMM sees the stored values (in fp16 past 65504: stored / 16). */
    if (xscale > 3.0f && L->dt == T5_F16)
        for (size_t i = 0; i < (size_t)m * k; i++)
            rmid[i] = __half2float(__float2half_rn(rmid[i] / 16.0f)) * 16.0f;
    else
        lab_quantize(L->dt, rmid, (size_t)m * k);
    memcpy(ref, r0, (size_t)m * n * 4);
    t5_ref_gemm(ref, rmid, w, m, n, k, 1.0f, 1);
    double mx2, rel2 = lab_rel(out, ref, (size_t)m * n, &mx2);
    double us = lab_time_us(L, 20, [&] {
        t5_err e2 = {};
        issue(&e2);
    });
    char sh[64], nm[64];
    snprintf(sh, sizeof sh, "m=%d n=%d k=%d%s", m, n, k, which ? (gated ? " gated" : "") : "");
    /* Beyond fp16's range the buffer is clamped; and in fp16 an activation
     * that cuBLASLt consumes (m > 16) is left stored divided by 16. */
    if (xscale <= 3.0f &&
        !(L->dt == T5_F16 && which == 1 && m > ((t5__cu_backend *)L->be)->gemv_max_m &&
          m > ((t5__cu_backend *)L->be)->mma_max_m))
        lab_row(pass_name(which == 0 ? "norm>gemm (mid)" : "act>gemm (mid)", nm, sizeof nm), L->dt,
                sh, rel1, mx1, lab_tol(L->dt), 0);
    lab_row(pass_name(which == 0      ? "norm>gemm +resid"
                      : xscale > 3.0f ? "act>gemm >65504"
                                      : "act>gemm +resid",
                      nm, sizeof nm),
            L->dt, sh, rel2, mx2, lab_tol(L->dt), us);
    L->be->vt->free_weight(L->be, dw);
    L->be->vt->free_weight(L->be, dnw);
    L->be->vt->free(L->be, dx);
    L->be->vt->free(L->be, dmid);
    L->be->vt->free(L->be, dout);
    free(x), free(nw), free(w), free(r0), free(mid), free(out), free(rmid), free(ref);
}

int main(void)
{
    for (lab_pass = 0; lab_pass < 2; lab_pass++) {
        char nm[64];
        if (lab_pass) /* the defaults */
            unsetenv("T5_CUDA_GEMV_MAX_M");
        else
            setenv("T5_CUDA_GEMV_MAX_M", "16", 1);
        static const int shapes[][3] = {{1, 512, 512},    {9, 1536, 512},  {7, 2048, 512},
                                        {64, 512, 2048},  {13, 77, 96},    {1, 32128, 512},
                                        {1024, 512, 512}, {33, 768, 3072}, {256, 1536, 512},
                                        {3, 1000, 256},   {100, 64, 64},   {4, 2048, 512},
                                        {8, 768, 3072}, /* 48 KB of fp16 rows: the opt-in's edge */
                                        {16, 6144, 512},  {5, 100, 200},   {16, 768, 3072}};
        static const int flags[4] = {T5_GEMM_OUT_ACT, T5_GEMM_OUT_F32, T5_GEMM_ADD_RESID,
                                     T5_GEMM_RELU};
        static const char *fname[4] = {"gemm act", "gemm f32", "gemm +resid", "gemm relu"};
        lab_header("gemm: out = alpha * a @ W^T");
        for (int di = 0; di < 3; di++) {
            lab L = lab_open(lab_dtypes[di]);
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
                int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
                int f = flags[si % 4];
                if (n == 32128)
                    f = T5_GEMM_OUT_F32;
                float alpha = (si & 1) ? 0.5f : 1.0f;
                float *a = lab_rand((size_t)m * k, 1.0f), *w = lab_rand((size_t)n * k, 0.05f);
                float *o0 = lab_rand((size_t)m * n, 1.0f);
                lab_quantize(L.dt, a, (size_t)m * k);
                lab_quantize(L.dt, w, (size_t)n * k);
                void *da = lab_up_act(&L, a, (size_t)m * k), *dw = NULL;
                LAB_OK(L.be->vt->upload_weight(L.be, T5_W_LINEAR, w, n, k, &dw, err));
                int f32out = f == T5_GEMM_OUT_F32 || f == T5_GEMM_ADD_RESID;
                void *dout = f32out ? lab_up_bytes(&L, o0, (size_t)m * n * 4)
                                    : L.be->vt->alloc(L.be, (size_t)m * n * lab_esz(L.dt));
                if (!f32out)
                    lab_poison(&L, dout, (size_t)m * n * lab_esz(L.dt));
                LAB_OK(L.be->vt->gemm(L.s, dout, da, dw, m, n, k, alpha, f, err));
                float *out;
                if (f32out) {
                    out = (float *)malloc((size_t)m * n * 4);
                    lab_down_bytes(&L, out, dout, (size_t)m * n * 4);
                } else {
                    out = lab_down_act(&L, dout, (size_t)m * n);
                }
                float *ref = (float *)malloc((size_t)m * n * 4);
                memcpy(ref, o0, (size_t)m * n * 4);
                t5_ref_gemm(ref, a, w, m, n, k, alpha, f == T5_GEMM_ADD_RESID);
                if (f == T5_GEMM_RELU)
                    for (size_t i = 0; i < (size_t)m * n; i++)
                        ref[i] = ref[i] > 0 ? ref[i] : 0;
                double mx, rel = lab_rel(out, ref, (size_t)m * n, &mx);
                double us = lab_time_us(&L, 20, [&] {
                    t5_err e2 = {};
                    L.be->vt->gemm(L.s, dout, da, dw, m, n, k, alpha, f, &e2);
                });
                char sh[64];
                snprintf(sh, sizeof sh, "m=%d n=%d k=%d a=%.1f", m, n, k, alpha);
                lab_row(pass_name(fname[f == T5_GEMM_OUT_ACT   ? 0
                                        : f == T5_GEMM_OUT_F32 ? 1
                                        : f == T5_GEMM_RELU    ? 3
                                                               : 2],
                                  nm, sizeof nm),
                        L.dt, sh, rel, mx, lab_tol(L.dt), us);
                L.be->vt->free(L.be, da);
                L.be->vt->free(L.be, dout);
                L.be->vt->free_weight(L.be, dw);
                free(a), free(w), free(o0), free(out), free(ref);
            }
            static const int fz[][3] = {{1, 1536, 512},  {4, 2048, 512}, {9, 768, 3072},
                                        {16, 512, 1024}, {3, 100, 200},  {64, 512, 2048},
                                        {11, 100, 200},  {16, 1536, 512}};
            for (size_t i = 0; i < sizeof fz / sizeof fz[0]; i++) {
                check_fused(&L, fz[i][0], fz[i][1], fz[i][2], 0, 0, 0);
                check_fused(&L, fz[i][0], fz[i][1], fz[i][2], 1, T5_ACT_GELU_TANH, 1);
                check_fused(&L, fz[i][0], fz[i][1], fz[i][2], 1, T5_ACT_RELU, 0);
                /* gated products up to ~2.6e5: past fp16's 65504 */
                check_fused(&L, fz[i][0], fz[i][1], fz[i][2], 1, T5_ACT_GELU_TANH, 1, 512.0f);
            }
            lab_close(&L);
        }
    }
    printf("\ngemm: %d failed\n", lab_fail);
    return lab_fail ? 1 : 0;
}
