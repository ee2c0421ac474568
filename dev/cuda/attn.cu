/* attn.cu - kernel lab: encoder attention (short and long paths), decoder
 * self-attention over the slot cache (with the append) and cross-attention. */
#include "lab.cuh"

static void check_encoder(lab *L, int B, int Lq, int H, int dkv)
{
    t5_attn_shape sh = {H, dkv, 32, 128};
    int inner = H * dkv;
    size_t nq = (size_t)B * Lq * 3 * inner, no = (size_t)B * Lq * inner;
    float *qkv = lab_rand(nq, 1.0f), *tab = lab_rand((size_t)32 * H, 2.0f);
    lab_quantize(L->dt, qkv, nq);
    int32_t *lens = (int32_t *)malloc(B * 4);
    for (int b = 0; b < B; b++)
        lens[b] = b == 0 ? Lq : lab_randi(1, Lq);
    void *dqkv = lab_up_act(L, qkv, nq);
    float *dtab = NULL;
    LAB_OK(L->be->vt->upload_weight(L->be, T5_W_BIAS_TABLE, tab, 32, H, (void **)&dtab, err));
    int32_t *dlens = (int32_t *)lab_up_bytes(L, lens, B * 4);
    void *dout = L->be->vt->alloc(L->be, no * lab_esz(L->dt));
    lab_poison(L, dout, no * lab_esz(L->dt));
    LAB_OK(L->be->vt->attn_encoder(L->s, dout, dqkv, dlens, B, Lq, dtab, &sh, err));
    float *out = lab_down_act(L, dout, no), *ref = (float *)malloc(no * 4);
    t5_ref_attn_encoder(ref, qkv, lens, B, Lq, tab, &sh);
    /* Compare valid query rows; padded rows need only be finite. */
    int finite = 1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Lq; t++)
            for (int i = 0; i < inner; i++) {
                size_t at = ((size_t)b * Lq + t) * inner + i;
                if (t >= lens[b]) {
                    finite &= isfinite(out[at]) ? 1 : 0;
                    out[at] = ref[at] = 0.0f;
                }
            }
    double mx, rel = lab_rel(out, ref, no, &mx);
    if (!finite)
        rel = NAN;
    double us = lab_time_us(L, 20, [&] {
        t5_err e2 = {};
        L->be->vt->attn_encoder(L->s, dout, dqkv, dlens, B, Lq, dtab, &sh, &e2);
    });
    char s[64];
    snprintf(s, sizeof s, "B=%d L=%d H=%d dkv=%d", B, Lq, H, dkv);
    lab_row(Lq <= 128 ? "attn_encoder short" : "attn_encoder long", L->dt, s, rel, mx,
            lab_tol(L->dt), us);
    L->be->vt->free(L->be, dqkv);
    L->be->vt->free(L->be, dlens);
    L->be->vt->free(L->be, dout);
    L->be->vt->free_weight(L->be, dtab);
    free(qkv), free(tab), free(lens), free(out), free(ref);
}

static void check_decoder(lab *L, int n, int H, int dkv, int max_len, int self)
{
    t5_attn_shape sh = {H, dkv, 32, 128};
    t5_kv_layout lay = {2, n + 3, H, max_len, dkv};
    int inner = H * dkv, layer = 1;
    size_t nc = (size_t)lay.n_layers * lay.n_slots * H * max_len * dkv;
    float *kc = lab_rand(nc, 1.0f), *vc = lab_rand(nc, 1.0f);
    lab_quantize(L->dt, kc, nc);
    lab_quantize(L->dt, vc, nc);
    size_t nq = (size_t)n * (self ? 3 : 1) * inner, no = (size_t)n * inner;
    float *qin = lab_rand(nq, 1.0f), *tab = lab_rand((size_t)32 * H, 2.0f);
    lab_quantize(L->dt, qin, nq);
    int32_t *rows = (int32_t *)malloc(n * 16);
    for (int r = 0; r < n; r++) {
        rows[4 * r + 0] = (r + 2) % lay.n_slots; /* distinct self slots */
        rows[4 * r + 1] = lab_randi(0, lay.n_slots - 1);
        rows[4 * r + 2] = r == 0 ? max_len - 1 : lab_randi(0, max_len - 1);
        rows[4 * r + 3] = r == 0 ? max_len : lab_randi(1, max_len);
    }
    void *dkc = lab_up_act(L, kc, nc), *dvc = lab_up_act(L, vc, nc), *dq = lab_up_act(L, qin, nq);
    float *dtab = NULL;
    LAB_OK(L->be->vt->upload_weight(L->be, T5_W_BIAS_TABLE, tab, 32, H, (void **)&dtab, err));
    int32_t *drows = (int32_t *)lab_up_bytes(L, rows, n * 16);
    void *dout = L->be->vt->alloc(L->be, no * lab_esz(L->dt));
    lab_poison(L, dout, no * lab_esz(L->dt));
    float *ref = (float *)malloc(no * 4);
    if (self) {
        LAB_OK(L->be->vt->attn_decoder_self(L->s, dout, dq, dkc, dvc, &lay, layer, drows, n, dtab,
                                            &sh, err));
        t5_ref_attn_decoder_self(ref, qin, kc, vc, &lay, layer, rows, n, tab, &sh);
    } else {
        LAB_OK(L->be->vt->attn_cross(L->s, dout, dq, dkc, dvc, &lay, layer, drows, n, &sh, err));
        t5_ref_attn_cross(ref, qin, kc, vc, &lay, layer, rows, n, &sh);
    }
    float *out = lab_down_act(L, dout, no);
    double mx, rel = lab_rel(out, ref, no, &mx);
    if (self) { /* the appended k/v must be in the cache too */
        float *k2 = lab_down_act(L, dkc, nc), *v2 = lab_down_act(L, dvc, nc);
        double m2, r2 = lab_rel(k2, kc, nc, &m2) + lab_rel(v2, vc, nc, &m2);
        if (r2 > 0)
            rel = NAN;
        free(k2), free(v2);
    }
    double us = lab_time_us(L, 20, [&] {
        t5_err e2 = {};
        if (self)
            L->be->vt->attn_decoder_self(L->s, dout, dq, dkc, dvc, &lay, layer, drows, n, dtab, &sh,
                                         &e2);
        else
            L->be->vt->attn_cross(L->s, dout, dq, dkc, dvc, &lay, layer, drows, n, &sh, &e2);
    });
    char s[64];
    snprintf(s, sizeof s, "n=%d H=%d dkv=%d max_len=%d", n, H, dkv, max_len);
    /* which kernel: w64 (16-bit, d_kv 64), the warp kernel, the block kernel */
    const char *kn = L->dt != T5_F32 && dkv == 64 ? "w64"
                     : max_len <= 128 && dkv <= 128                ? "warp"
                                                                   : "block";
    char op[40];
    snprintf(op, sizeof op, "%s (%s)", self ? "attn_dec_self" : "attn_cross", kn);
    lab_row(op, L->dt, s, rel, mx, lab_tol(L->dt), us);
    L->be->vt->free(L->be, dkc);
    L->be->vt->free(L->be, dvc);
    L->be->vt->free(L->be, dq);
    L->be->vt->free(L->be, drows);
    L->be->vt->free(L->be, dout);
    L->be->vt->free_weight(L->be, dtab);
    free(kc), free(vc), free(qin), free(tab), free(rows), free(out), free(ref);
}

int main(void)
{
    /* Check the warp kernel at every size (the backend picks it from 256
     * (row, head) pairs on) and the block kernel where the cache is long. */
    setenv("T5_CUDA_WARP_ATTN", "1", 0);
    /* L <= 16 takes two queries a warp; dkv 20 and 24 (not 16-byte rows in
     * one dtype or another) the scalar staging loads */
    static const int enc[][4] = {{1, 9, 8, 64},   {4, 13, 12, 64}, {2, 100, 8, 64}, {2, 300, 6, 64},
                                 {3, 17, 4, 32},  {1, 5, 3, 80},   {64, 9, 8, 64},  {5, 37, 7, 48},
                                 {1024, 9, 8, 64}, {1, 16, 8, 64}, {2, 16, 4, 128}, {7, 3, 5, 24},
                                 {3, 11, 4, 20}};
    static const int dec[][4] = {{1, 8, 64, 12},  {8, 12, 64, 16}, {64, 8, 64, 32},
                                 {3, 5, 48, 300}, {7, 4, 80, 9},   {256, 8, 64, 12},
                                 {5, 8, 64, 64},  {3, 6, 64, 100}, {2, 3, 128, 33},
                                 {3, 20, 64, 9},  {33, 32, 64, 40}, {300, 8, 64, 20},
                                 {1024, 8, 64, 9}, {1024, 12, 64, 12}, {17, 8, 64, 32},
                                 {40, 8, 64, 129}, {9, 8, 64, 300}};
    lab_header("attention");
    for (int di = 0; di < 3; di++) {
        lab L = lab_open(lab_dtypes[di]);
        for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++)
            check_encoder(&L, enc[i][0], enc[i][1], enc[i][2], enc[i][3]);
        for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
            check_decoder(&L, dec[i][0], dec[i][1], dec[i][2], dec[i][3], 1);
            check_decoder(&L, dec[i][0], dec[i][1], dec[i][2], dec[i][3], 0);
        }
        lab_close(&L);
    }
    printf("\nattn: %d failed\n", lab_fail);
    return lab_fail ? 1 : 0;
}
