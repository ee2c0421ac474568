/* topk.cu - kernel lab: log-softmax + top-k per logits row, EOS masking and
 * ties (broken towards the lower id). */
#include "lab.cuh"

int main(void)
{
    static const int cfg[][3] = {/* n, V, k */
                                 {1, 32128, 1},    {1, 32128, 8}, {8, 32128, 2}, {64, 32128, 4},
                                 {256, 32128, 8},  {3, 1000, 16}, {5, 257, 32},  {2, 100, 64},
                                 {1024, 32128, 1}, {9, 250112, 8}};
    lab_header("logits_topk");
    lab L = lab_open(T5_F32); /* logits are fp32 on every backend */
    for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++) {
        int n = cfg[ci][0], V = cfg[ci][1], k = cfg[ci][2];
        float *lg = lab_rand((size_t)n * V, 10.0f);
        /* ties: copy the row's first value onto a later id in every row */
        for (int r = 0; r < n; r++)
            lg[(size_t)r * V + V - 1] = lg[(size_t)r * V + 3] = 25.0f;
        int32_t *noe = (int32_t *)malloc(n * 4);
        for (int r = 0; r < n; r++)
            noe[r] = r & 1;
        int eos = 3;
        float *dlg = (float *)lab_up_bytes(&L, lg, (size_t)n * V * 4);
        int32_t *dnoe = (int32_t *)lab_up_bytes(&L, noe, n * 4);
        float *dv = (float *)L.be->vt->alloc(L.be, (size_t)n * k * 4);
        int32_t *di = (int32_t *)L.be->vt->alloc(L.be, (size_t)n * k * 4);
        LAB_OK(L.be->vt->logits_topk(L.s, dv, di, dlg, n, V, k, dnoe, eos, err));
        float *v = (float *)malloc((size_t)n * k * 4), *rv = (float *)malloc((size_t)n * k * 4);
        int32_t *ids = (int32_t *)malloc((size_t)n * k * 4),
                *rid = (int32_t *)malloc((size_t)n * k * 4);
        lab_down_bytes(&L, v, dv, (size_t)n * k * 4);
        lab_down_bytes(&L, ids, di, (size_t)n * k * 4);
        t5_ref_logits_topk(rv, rid, lg, n, V, k, noe, eos);
        int id_bad = 0;
        for (int i = 0; i < n * k; i++)
            id_bad += ids[i] != rid[i];
        double mx, rel = lab_rel(v, rv, (size_t)n * k, &mx);
        if (id_bad)
            rel = NAN;
        double us = lab_time_us(&L, 20, [&] {
            t5_err e2 = {};
            L.be->vt->logits_topk(L.s, dv, di, dlg, n, V, k, dnoe, eos, &e2);
        });
        char s[64];
        snprintf(s, sizeof s, "n=%d V=%d k=%d (ids off %d)", n, V, k, id_bad);
        lab_row("logits_topk", L.dt, s, rel, mx, 1e-6, us);
        L.be->vt->free(L.be, dlg);
        L.be->vt->free(L.be, dnoe);
        L.be->vt->free(L.be, dv);
        L.be->vt->free(L.be, di);
        free(lg), free(noe), free(v), free(rv), free(ids), free(rid);
    }
    lab_close(&L);
    printf("\ntopk: %d failed\n", lab_fail);
    return lab_fail ? 1 : 0;
}
