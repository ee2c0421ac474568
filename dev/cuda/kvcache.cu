/* kvcache.cu - kernel lab: cross_kv_store and copy_slots (beam reorders,
 * including swaps and cycles that must read before they write). */
#include "lab.cuh"

int main(void)
{
    lab_header("kv cache");
    static const int cfg[][5] = {/* n_layers, n_slots, H, max_len, dkv */
                                 {6, 16, 8, 24, 64},
                                 {2, 9, 3, 7, 48},
                                 {12, 64, 12, 16, 64}};
    for (int di = 0; di < 3; di++) {
        lab L = lab_open(lab_dtypes[di]);
        for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++) {
            t5_kv_layout lay = {cfg[ci][0], cfg[ci][1], cfg[ci][2], cfg[ci][3], cfg[ci][4]};
            int inner = lay.n_heads * lay.d_kv;
            size_t nc = (size_t)lay.n_layers * lay.n_slots * lay.n_heads * lay.max_len * lay.d_kv;
            float *kc = lab_rand(nc, 1.0f), *vc = lab_rand(nc, 1.0f);
            lab_quantize(L.dt, kc, nc);
            lab_quantize(L.dt, vc, nc);
            void *dkc = lab_up_act(&L, kc, nc), *dvc = lab_up_act(&L, vc, nc);
            /* cross_kv_store */
            int B = lay.n_slots / 2 > 5 ? 5 : lay.n_slots / 2, Lq = lay.max_len - 1;
            size_t nkv = (size_t)B * Lq * lay.n_layers * 2 * inner;
            float *kv = lab_rand(nkv, 1.0f);
            lab_quantize(L.dt, kv, nkv);
            int32_t slots[8], lens[8];
            for (int b = 0; b < B; b++) {
                slots[b] = lay.n_slots - 1 - 2 * b;
                lens[b] = lab_randi(1, Lq);
            }
            void *dkv = lab_up_act(&L, kv, nkv);
            int32_t *dsl = (int32_t *)lab_up_bytes(&L, slots, B * 4);
            int32_t *dln = (int32_t *)lab_up_bytes(&L, lens, B * 4);
            LAB_OK(L.be->vt->cross_kv_store(L.s, dkc, dvc, &lay, dkv, dsl, dln, B, Lq, err));
            t5_ref_cross_kv_store(kc, vc, &lay, kv, slots, lens, B, Lq);
            float *k2 = lab_down_act(&L, dkc, nc), *v2 = lab_down_act(&L, dvc, nc);
            double mx, mx2, rel = lab_rel(k2, kc, nc, &mx) + lab_rel(v2, vc, nc, &mx2);
            double us = lab_time_us(&L, 10, [&] {
                t5_err e2 = {};
                L.be->vt->cross_kv_store(L.s, dkc, dvc, &lay, dkv, dsl, dln, B, Lq, &e2);
            });
            char s[80];
            snprintf(s, sizeof s, "Ly=%d H=%d dkv=%d B=%d L=%d", lay.n_layers, lay.n_heads,
                     lay.d_kv, B, Lq);
            lab_row("cross_kv_store", L.dt, s, rel, mx > mx2 ? mx : mx2, 0.0, us);
            free(k2), free(v2);
            /* copy_slots: a random permutation of some slots plus duplicates
             * (two beams from one parent) and identity pairs. */
            int n = lay.n_slots / 2, len = lab_randi(1, lay.max_len);
            int32_t dst[64], src[64], perm[64];
            for (int i = 0; i < lay.n_slots; i++)
                perm[i] = i;
            for (int i = lay.n_slots - 1; i > 0; i--) {
                int j = lab_randi(0, i), t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            for (int i = 0; i < n; i++) {
                dst[i] = perm[i];
                src[i] = i % 3 == 2 ? perm[0] : perm[(i + 1) % n]; /* a cycle, with repeats */
            }
            if (n > 3) {
                src[3] = dst[3]; /* an identity pair */
            }
            LAB_OK(L.be->vt->copy_slots(L.s, dkc, dvc, &lay, dst, src, n, len, err));
            t5_ref_copy_slots(kc, vc, &lay, dst, src, n, len);
            k2 = lab_down_act(&L, dkc, nc);
            v2 = lab_down_act(&L, dvc, nc);
            rel = lab_rel(k2, kc, nc, &mx) + lab_rel(v2, vc, nc, &mx2);
            us = lab_time_us(&L, 10, [&] {
                t5_err e2 = {};
                L.be->vt->copy_slots(L.s, dkc, dvc, &lay, dst, src, n, len, &e2);
            });
            snprintf(s, sizeof s, "Ly=%d H=%d dkv=%d n=%d len=%d", lay.n_layers, lay.n_heads,
                     lay.d_kv, n, len);
            lab_row("copy_slots", L.dt, s, rel, mx > mx2 ? mx : mx2, 0.0, us);
            free(k2), free(v2), free(kc), free(vc), free(kv);
            L.be->vt->free(L.be, dkc);
            L.be->vt->free(L.be, dvc);
            L.be->vt->free(L.be, dkv);
            L.be->vt->free(L.be, dsl);
            L.be->vt->free(L.be, dln);
        }
        lab_close(&L);
    }
    printf("\nkvcache: %d failed\n", lab_fail);
    return lab_fail ? 1 : 0;
}
