/* ffn_act.cu - kernel lab: FFN activations (gated and not), plus the fp16
 * overflow case: gated products beyond 65504 must come out finite. */
#include "lab.cuh"

int main(void)
{
    static const int shapes[][2] = {{1, 2048}, {9, 1024}, {64, 2048}, {7, 333}, {1024, 2048}};
    lab_header("ffn_act");
    for (int di = 0; di < 3; di++) {
        lab L = lab_open(lab_dtypes[di]);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int act = 0; act < 4; act++)
                for (int gated = 0; gated < 2; gated++) {
                    int m = shapes[si][0], ff = shapes[si][1];
                    size_t nin = (size_t)m * ff * (gated ? 2 : 1), nout = (size_t)m * ff;
                    float *in = lab_rand(nin, 4.0f);
                    lab_quantize(L.dt, in, nin);
                    void *din = lab_up_act(&L, in, nin);
                    void *dout = L.be->vt->alloc(L.be, nout * lab_esz(L.dt));
                    lab_poison(&L, dout, nout * lab_esz(L.dt));
                    LAB_OK(L.be->vt->ffn_act(L.s, dout, din, m, ff, act, gated, err));
                    float *out = lab_down_act(&L, dout, nout);
                    float *ref = (float *)malloc(nout * 4);
                    t5_ref_ffn_act(ref, in, m, ff, act, gated);
                    double mx, rel = lab_rel(out, ref, nout, &mx);
                    double us = lab_time_us(&L, 10, [&] {
                        t5_err e2 = {};
                        L.be->vt->ffn_act(L.s, dout, din, m, ff, act, gated, &e2);
                    });
                    char sh[64], op[32];
                    snprintf(sh, sizeof sh, "m=%d ff=%d", m, ff);
                    snprintf(op, sizeof op, "act%d%s", act, gated ? " gated" : "");
                    lab_row(op, L.dt, sh, rel, mx, lab_tol(L.dt), us);
                    L.be->vt->free(L.be, din);
                    L.be->vt->free(L.be, dout);
                    free(in), free(out), free(ref);
                }
        /* Overflow: gelu(300) * 400 = 120000 > 65504 in fp16. */
        if (L.dt == T5_F16) {
            float in[4] = {300.0f, -300.0f, 400.0f, 400.0f};
            void *din = lab_up_act(&L, in, 4);
            void *dout = L.be->vt->alloc(L.be, 2 * 2);
            LAB_OK(L.be->vt->ffn_act(L.s, dout, din, 1, 2, T5_ACT_GELU_TANH, 1, err));
            float *out = lab_down_act(&L, dout, 2);
            int fin = isfinite(out[0]) && isfinite(out[1]) && out[0] > 60000.0f;
            printf("%-22s %-5s %-34s %10s %10.4g %6s\n", "fp16 overflow clamp", "fp16",
                   "gelu(300)*400", "", out[0], fin ? "ok" : "FAIL");
            lab_fail += !fin;
            free(out);
        }
        lab_close(&L);
    }
    printf("\nffn_act: %d failed\n", lab_fail);
    return lab_fail ? 1 : 0;
}
