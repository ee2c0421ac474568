/* warmup.c - t5_engine_warmup: pay every first-use cost before traffic does.
 *
 * A graph-capturing backend records the decoder step once per padded row
 * count and top-k (step.c), and cuBLASLt picks its algorithms on a shape's
 * first use. An in-flight scheduler meets every row count within seconds of
 * starting, so without a warm-up the first requests after a model loads pay
 * for all of those captures. This runs the encoder at every (requests,
 * length) bucket that encode.c pads to (as many as the graph budget below
 * allows, fewest requests first), one eagerly run group at every GEMM row
 * count that larger groups pad to, and one decoder step at every row count
 * the step pads to, then leaves the slots empty again.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_priv.h"

/* Encodes nb requests of len tokens (ids: all the same dummy row). */
static int warm_encode(t5_engine *e, int nb, int len, const int32_t *slots,
                       const int32_t **ids, int32_t *lens, t5_err *err)
{
    for (int b = 0; b < nb; b++)
        lens[b] = len;
    int rc = t5_engine_encode(e, nb, slots, ids, lens, NULL, err);
    return rc < 0 ? t5_err_wrap(err, rc, "warm-up encode of %d x %d tokens", nb, len) : 0;
}

int t5_engine_warmup(t5_engine *e, int max_topk, t5_err *err)
{
    if (!e)
        return t5_errf(err, T5_EINVAL, "t5_engine_warmup: NULL engine");
    int B = e->p.max_batch < e->p.max_slots ? e->p.max_batch : e->p.max_slots;
    if (max_topk < 1)
        max_topk = 1;
    if (max_topk > 2 * e->p.max_slots)
        max_topk = 2 * e->p.max_slots;
    int rc = 0, L = e->p.max_input_len;
    t5_step_row *rows = calloc((size_t)B, sizeof *rows);
    t5_step_out out = {0};
    out.logprob = malloc(sizeof(float) * (size_t)B * (size_t)max_topk);
    out.ids = malloc(sizeof(int32_t) * (size_t)B * (size_t)max_topk);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)L), *slots = malloc(sizeof(int32_t) * B);
    int32_t *lens = malloc(sizeof(int32_t) * B);
    const int32_t **ids = malloc(sizeof(int32_t *) * B);
    if (!rows || !out.logprob || !out.ids || !tok || !slots || !lens || !ids) {
        rc = t5_errf(err, T5_ENOMEM, "t5_engine_warmup: out of memory");
        goto done;
    }
    for (int t = 0; t < L; t++)
        tok[t] = e->cfg->eos_token_id;
    for (int b = 0; b < B; b++)
        slots[b] = b, ids[b] = tok;
    /* Encoder buckets, fewest requests first, up to 128 shapes (each is a
     * graph; the decoder's row counts need a few dozen more). Groups past
     * the buckets run eagerly at their exact shape (encode.c). The CPU has
     * no buckets: one encode, for the decoder steps' cross slot. */
    int shapes = 0, max_shapes = e->be->device == T5_DEVICE_CPU ? 1 : 128;
    for (int n = 1; shapes < max_shapes; n *= 2) {
        int nb = n < B ? n : B;
        for (int len = 1; len <= L && shapes < max_shapes;) {
            if (e->be->device != T5_DEVICE_CPU && !t5__enc_bucketed(e, nb, len))
                break;
            int lb = t5__enc_bucket_len(e, nb, len);
            if ((long long)t5__enc_bucket_n(e, nb, len) * lb > e->enc_rows)
                break;
            if ((rc = warm_encode(e, nb, lb, slots, ids, lens, err)) < 0)
                goto done;
            shapes++;
            if (lb >= L)
                break;
            len = lb + 1;
        }
        if (nb >= B)
            break;
    }
    /* Eager groups: one of every GEMM row count they pad to (encode.c), so
     * that serving plans no GEMM and loads no kernel. */
    for (int RG = 2 * T5__ENC_GEMM_ROWS; e->be->device != T5_DEVICE_CPU && RG <= e->enc_gemm_rows;
         RG += T5__ENC_GEMM_ROWS) {
        for (int len = 1; len <= L; len++) {
            int nb = RG / len;
            if (nb > B || (long long)nb * len > e->enc_rows || t5__enc_bucketed(e, nb, len) ||
                t5__enc_gemm_rows(e, nb, len) != RG)
                continue;
            if ((rc = warm_encode(e, nb, len, slots, ids, lens, err)) < 0)
                goto done;
            break;
        }
    }
    for (int i = 0; i < B; i++)
        rows[i] = (t5_step_row){i, 0, 0, e->cfg->decoder_start_token_id, 0};
    /* Every size step.c pads to, up to B (the CPU: powers of two). */
    for (int n = 1;; n = e->be->device == T5_DEVICE_CPU ? 2 * n : t5__step_rows(e, n) + 1) {
        n = t5__step_rows(e, n > B ? B : n);
        if (n > B)
            n = B;
        for (int k = 1;; k *= 2) {
            if (k > max_topk)
                k = max_topk;
            out.k = k;
            if ((rc = t5_engine_step(e, n, rows, &out, err)) < 0) {
                rc = t5_err_wrap(err, rc, "warm-up step of %d rows, top-%d", n, k);
                goto done;
            }
            if (k == max_topk)
                break;
        }
        if (n == B)
            break;
    }
    /* Steps with absorbed cross-attention (step.c) are graphs of their own:
     * every padded row count up to abs_rows, over one short encoded input. */
    if (e->abs_on && (rc = warm_encode(e, 1, 1, slots, ids, lens, err)) >= 0) {
        for (int n = 1; n <= e->abs_rows && n <= B && rc >= 0; n = t5__step_rows(e, n) + 1)
            for (int k = 1; rc >= 0; k *= 2) {
                out.k = k < max_topk ? k : max_topk;
                if ((rc = t5_engine_step(e, n, rows, &out, err)) < 0)
                    rc = t5_err_wrap(err, rc, "warm-up step of %d rows (absorbed), top-%d", n,
                                     out.k);
                if (out.k == max_topk)
                    break;
            }
    }
    /* t5_generate's encode of one greedy request fills its absorbed entry
     * too (generate.c): graphs of their own, one per length bucket up to the
     * lengths an entry holds. */
    for (int len = 1; rc >= 0 && e->abs_enc && len <= e->fused.abs_sa && len <= L;) {
        if (e->be->device == T5_DEVICE_CPU || !t5__enc_bucketed(e, 1, len))
            break;
        lens[0] = len;
        if ((rc = t5__encode_joined(e, 1, slots, ids, lens, 1, err)) >= 0)
            rc = e->be->vt->sync(e->st, err);
        if (rc < 0)
            rc = t5_err_wrap(err, rc, "warm-up encode of %d tokens (absorbing)", len);
        len = t5__enc_bucket_len(e, 1, len) + 1;
    }
done:
    /* Leave every slot as a new engine has it. */
    t5__abs_forget(e, -1);
    memset(e->self_len, 0, sizeof(int32_t) * (size_t)e->p.max_slots);
    memset(e->cross_len, 0, sizeof(int32_t) * (size_t)e->p.max_slots);
    free(rows);
    free(out.logprob);
    free(out.ids);
    free(tok);
    free(slots);
    free(lens);
    free(ids);
    return rc;
}
