/* norm.cu - kernel lab: embed and RMSNorm (fp32 residual in, act out). */
#include "lab.cuh"

int main(void)
{
    static const int shapes[][2] = {{1, 512},    {9, 768},     {37, 1024},  {1024, 512},
                                    {5, 100},    {3, 4100},    {2, 6000},   {9216, 512},
                                    {1024, 768}, {67, 1000},   {300, 514},  {19, 1028}};
    lab_header("embed + rmsnorm");
    for (int di = 0; di < 3; di++) {
        lab L = lab_open(lab_dtypes[di]);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            int n = shapes[si][0], d = shapes[si][1], V = 1000;
            char sh[64];
            snprintf(sh, sizeof sh, "n=%d d=%d", n, d);
            /* embed */
            float *tab = lab_rand((size_t)V * d, 2.0f);
            lab_quantize(L.dt, tab, (size_t)V * d);
            int32_t *ids = (int32_t *)malloc(n * 4);
            for (int i = 0; i < n; i++)
                ids[i] = lab_randi(0, V - 1);
            void *dtab = NULL;
            LAB_OK(L.be->vt->upload_weight(L.be, T5_W_EMBED, tab, V, d, &dtab, err));
            int32_t *dids = (int32_t *)lab_up_bytes(&L, ids, n * 4);
            float *dx = (float *)L.be->vt->alloc(L.be, (size_t)n * d * 4);
            lab_poison(&L, dx, (size_t)n * d * 4);
            LAB_OK(L.be->vt->embed(L.s, dx, dtab, dids, n, d, err));
            float *x = (float *)malloc((size_t)n * d * 4),
                  *ref = (float *)malloc((size_t)n * d * 4);
            lab_down_bytes(&L, x, dx, (size_t)n * d * 4);
            t5_ref_embed(ref, tab, ids, n, d);
            double mx, rel = lab_rel(x, ref, (size_t)n * d, &mx);
            double us = lab_time_us(&L, 20, [&] {
                t5_err e2 = {};
                L.be->vt->embed(L.s, dx, dtab, dids, n, d, &e2);
            });
            lab_row("embed", L.dt, sh, rel, mx, 0.0, us);
            /* rmsnorm over random residuals with large values, as in flan-t5 */
            float *res = lab_rand((size_t)n * d, 3000.0f), *w = lab_rand(d, 1.0f);
            float *dres = (float *)lab_up_bytes(&L, res, (size_t)n * d * 4);
            void *dw = NULL;
            LAB_OK(L.be->vt->upload_weight(L.be, T5_W_NORM, w, 1, d, &dw, err));
            void *dout = L.be->vt->alloc(L.be, (size_t)n * d * lab_esz(L.dt));
            lab_poison(&L, dout, (size_t)n * d * lab_esz(L.dt));
            LAB_OK(L.be->vt->rmsnorm(L.s, dout, dres, dw, n, d, 1e-6f, err));
            float *out = lab_down_act(&L, dout, (size_t)n * d);
            t5_ref_rmsnorm(ref, res, w, n, d, 1e-6f);
            rel = lab_rel(out, ref, (size_t)n * d, &mx);
            us = lab_time_us(&L, 20, [&] {
                t5_err e2 = {};
                L.be->vt->rmsnorm(L.s, dout, dres, dw, n, d, 1e-6f, &e2);
            });
            lab_row("rmsnorm", L.dt, sh, rel, mx, lab_tol(L.dt), us);
            L.be->vt->free_weight(L.be, dtab);
            L.be->vt->free_weight(L.be, dw);
            L.be->vt->free(L.be, dids);
            L.be->vt->free(L.be, dx);
            L.be->vt->free(L.be, dres);
            L.be->vt->free(L.be, dout);
            free(tab), free(ids), free(x), free(ref), free(res), free(w), free(out);
        }
        lab_close(&L);
    }
    printf("\nnorm: %d failed\n", lab_fail);
    return lab_fail ? 1 : 0;
}
