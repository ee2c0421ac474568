/* cache.c - see cache.h. Values are little-endian: for each row, the number
 * of sequences, then per sequence its text length and bytes, its id count
 * and ids, and its score. Restoring checks every length against the value. */
#include "server/cache.h"

#include <stdlib.h>
#include <string.h>

int t5_cache_eligible(const t5_infer_req *r)
{
    return !r->stream && (!r->gp.do_sample || r->seed_set);
}

static void put32(t5_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    t5_buf_append(b, p, 4);
}

static void put_str(t5_buf *b, const char *s, size_t n)
{
    put32(b, (uint32_t)n);
    t5_buf_append(b, s, n);
}

int t5_cache_key(const t5_infer_req *r, const char *model, const char *version, t5_buf *key)
{
    put_str(key, model, strlen(model));
    put_str(key, version, strlen(version));
    const t5_gen_params *g = &r->gp;
    /* Field by field, so struct padding never reaches the key. */
    int32_t iv[7] = {g->max_new_tokens, g->min_new_tokens, g->num_beams, g->num_return_sequences,
                     g->early_stopping, g->do_sample,      g->top_k};
    for (int i = 0; i < 7; i++)
        put32(key, (uint32_t)iv[i]);
    float fv[3] = {g->length_penalty, g->temperature, g->top_p};
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &fv[i], 4);
        put32(key, u);
    }
    put32(key, (uint32_t)g->seed);
    put32(key, (uint32_t)(g->seed >> 32));
    put32(key, (uint32_t)r->rows);
    for (int i = 0; i < r->rows; i++)
        put_str(key, r->text[i], r->text_len[i]);
    return key->oom ? T5_ENOMEM : 0;
}

int t5_cache_value(const t5_infer_req *r, t5_buf *val)
{
    for (int i = 0; i < r->rows; i++) {
        const t5_infer_row *row = &r->res[i];
        put32(val, (uint32_t)row->n_seqs);
        for (int j = 0; j < row->n_seqs; j++) {
            const t5_infer_seq *s = &row->seqs[j];
            put_str(val, s->text ? s->text : "", s->text ? s->text_len : 0);
            put32(val, (uint32_t)s->n_ids);
            for (int k = 0; k < s->n_ids; k++)
                put32(val, (uint32_t)s->ids[k]);
            uint32_t u;
            memcpy(&u, &s->score, 4);
            put32(val, u);
        }
    }
    return val->oom ? T5_ENOMEM : 0;
}

typedef struct rd {
    const unsigned char *p;
    size_t left;
} rd;

static int get32(rd *d, uint32_t *v)
{
    if (d->left < 4)
        return -1;
    *v = (uint32_t)d->p[0] | (uint32_t)d->p[1] << 8 | (uint32_t)d->p[2] << 16 |
         (uint32_t)d->p[3] << 24;
    d->p += 4;
    d->left -= 4;
    return 0;
}

int t5_cache_restore(t5_infer_req *r, const void *val, size_t len)
{
    rd d = {val, len};
    r->res = calloc((size_t)r->rows, sizeof *r->res);
    if (!r->res)
        return T5_ENOMEM;
    for (int i = 0; i < r->rows; i++) {
        uint32_t ns, n;
        if (get32(&d, &ns) < 0 || ns > 64)
            return T5_EFORMAT;
        t5_infer_row *row = &r->res[i];
        row->seqs = calloc(ns ? ns : 1, sizeof *row->seqs);
        if (!row->seqs)
            return T5_ENOMEM;
        row->n_seqs = (int)ns;
        for (uint32_t j = 0; j < ns; j++) {
            t5_infer_seq *s = &row->seqs[j];
            if (get32(&d, &n) < 0 || n > d.left)
                return T5_EFORMAT;
            s->text = malloc((size_t)n + 1);
            if (!s->text)
                return T5_ENOMEM;
            memcpy(s->text, d.p, n);
            s->text[n] = '\0';
            s->text_len = n;
            d.p += n;
            d.left -= n;
            if (get32(&d, &n) < 0 || n > d.left / 4)
                return T5_EFORMAT;
            s->ids = malloc((size_t)(n ? n : 1) * sizeof *s->ids);
            if (!s->ids)
                return T5_ENOMEM;
            s->n_ids = (int)n;
            for (uint32_t k = 0; k < n; k++) {
                uint32_t u = 0;
                get32(&d, &u);
                s->ids[k] = (int32_t)u;
            }
            uint32_t u;
            if (get32(&d, &u) < 0)
                return T5_EFORMAT;
            memcpy(&s->score, &u, 4);
        }
    }
    return d.left == 0 ? 0 : T5_EFORMAT;
}
