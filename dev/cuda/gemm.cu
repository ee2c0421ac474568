/* gemm.cu - kernel lab: cuBLASLt GEMM (act out, fp32 out, fused residual add). */
#include "lab.cuh"

int main(void)
{
    static const int shapes[][3] = {{1, 512, 512},   {9, 1536, 512},  {7, 2048, 512},
                                    {64, 512, 2048}, {13, 77, 96},    {1, 32128, 512},
                                    {1024, 512, 512}, {33, 768, 3072}, {256, 1536, 512}};
    static const int flags[3] = {T5_GEMM_OUT_ACT, T5_GEMM_OUT_F32, T5_GEMM_ADD_RESID};
    static const char *fname[3] = {"gemm act", "gemm f32", "gemm +resid"};
    lab_header("gemm: out = alpha * a @ W^T");
    for (int di = 0; di < 3; di++) {
        lab L = lab_open(lab_dtypes[di]);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
            int f = flags[si % 3];
            if (n == 32128)
                f = T5_GEMM_OUT_F32;
            float alpha = (si & 1) ? 0.5f : 1.0f;
            float *a = lab_rand((size_t)m * k, 1.0f), *w = lab_rand((size_t)n * k, 0.05f);
            float *o0 = lab_rand((size_t)m * n, 1.0f);
            lab_quantize(L.dt, a, (size_t)m * k);
            lab_quantize(L.dt, w, (size_t)n * k);
            void *da = lab_up_act(&L, a, (size_t)m * k), *dw = NULL;
            LAB_OK(L.be->vt->upload_weight(L.be, T5_W_LINEAR, w, n, k, &dw, err));
            int f32out = f != T5_GEMM_OUT_ACT;
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
            double mx, rel = lab_rel(out, ref, (size_t)m * n, &mx);
            double us = lab_time_us(&L, 20, [&] {
                t5_err e2 = {};
                L.be->vt->gemm(L.s, dout, da, dw, m, n, k, alpha, f, &e2);
            });
            char sh[64];
            snprintf(sh, sizeof sh, "m=%d n=%d k=%d a=%.1f", m, n, k, alpha);
            lab_row(fname[f == T5_GEMM_OUT_ACT ? 0 : f == T5_GEMM_OUT_F32 ? 1 : 2], L.dt, sh, rel,
                    mx, lab_tol(L.dt), us);
            L.be->vt->free(L.be, da);
            L.be->vt->free(L.be, dout);
            L.be->vt->free_weight(L.be, dw);
            free(a), free(w), free(o0), free(out), free(ref);
        }
        lab_close(&L);
    }
    printf("\ngemm: %d failed\n", lab_fail);
    return lab_fail ? 1 : 0;
}
