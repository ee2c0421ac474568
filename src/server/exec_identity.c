/* exec_identity.c - the identity backend: text_output = text_input. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/exec.h"
#include "server/infer.h"

typedef struct ident {
    uint64_t delay_us;
} ident;

static int fill(t5_infer_req *ir)
{
    ir->res = calloc((size_t)ir->rows, sizeof *ir->res);
    if (!ir->res)
        return T5_ENOMEM;
    int k = ir->gp.num_return_sequences > 0 ? ir->gp.num_return_sequences : 1;
    for (int i = 0; i < ir->rows; i++) {
        t5_infer_row *row = &ir->res[i];
        row->seqs = calloc((size_t)k, sizeof *row->seqs);
        if (!row->seqs)
            return T5_ENOMEM;
        row->n_seqs = k;
        for (int j = 0; j < k; j++) {
            t5_infer_seq *s = &row->seqs[j];
            size_t n = ir->text_len[i];
            s->text = malloc(n + 1);
            s->ids = malloc((n ? n : 1) * sizeof *s->ids);
            if (!s->text || !s->ids)
                return T5_ENOMEM;
            memcpy(s->text, ir->text[i], n + 1);
            s->text_len = n;
            for (size_t q = 0; q < n; q++)
                s->ids[q] = (unsigned char)ir->text[i][q];
            s->n_ids = (int)n;
            s->score = -(float)j;
        }
    }
    return 0;
}

static int ident_run(void *ctx, t5_sched_req **reqs, int n, t5_err *err)
{
    ident *x = ctx;
    uint64_t t = t5_now_ns();
    for (int i = 0; i < n; i++)
        reqs[i]->t_input_ns = t;
    if (x->delay_us) {
        struct timespec ts = {(time_t)(x->delay_us / 1000000u),
                              (long)(x->delay_us % 1000000u) * 1000};
        nanosleep(&ts, NULL);
    }
    /* A streaming request gets its text word by word, as a model would. */
    for (int i = 0; i < n; i++) {
        t5_infer_req *ir = reqs[i]->payload;
        if (!ir->stream || ir->rows < 1)
            continue;
        const char *p = ir->text[0], *end = p + ir->text_len[0];
        while (p < end && !(ir->gone && ir->gone(ir))) {
            const char *q = memchr(p, ' ', (size_t)(end - p));
            q = q ? q + 1 : end;
            ir->on_delta(ir, p, (size_t)(q - p));
            p = q;
        }
        free(ir->s_text);
        ir->s_text_len = (size_t)(p - ir->text[0]);
        ir->s_text = malloc(ir->s_text_len + 1);
        if (ir->s_text) {
            memcpy(ir->s_text, ir->text[0], ir->s_text_len);
            ir->s_text[ir->s_text_len] = '\0';
        } else {
            ir->s_text_len = 0;
        }
    }
    t = t5_now_ns();
    for (int i = 0; i < n; i++) {
        reqs[i]->t_infer_ns = t;
        if (fill(reqs[i]->payload) < 0) {
            reqs[i]->status = T5_ENOMEM;
            t5_errf(&reqs[i]->err, T5_ENOMEM, "out of memory");
        }
        reqs[i]->t_end_ns = t5_now_ns();
    }
    (void)err;
    return 0;
}

static void ident_free(void *ctx)
{
    free(ctx);
}

int t5_exec_identity_create(t5_executor *out, const t5_mcfg *cfg, t5_err *err)
{
    ident *x = calloc(1, sizeof *x);
    if (!x)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    x->delay_us = cfg->identity_delay_us;
    out->ctx = x;
    out->run = ident_run;
    out->free = ident_free;
    return 0;
}
