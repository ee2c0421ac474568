/* infer_render.c - t5_infer_req results into KServe v2 / generate responses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/infer.h"

static int seqs_per_row(const t5_infer_req *r)
{
    int k = 1;
    for (int i = 0; i < r->rows; i++)
        if (r->res && r->res[i].n_seqs > k)
            k = r->res[i].n_seqs;
    return k;
}

static const t5_infer_seq *seq_at(const t5_infer_req *r, int row, int j)
{
    if (!r->res || j >= r->res[row].n_seqs)
        return NULL;
    return &r->res[row].seqs[j];
}

static int max_ids(const t5_infer_req *r, int k)
{
    int l = 0;
    for (int i = 0; i < r->rows; i++)
        for (int j = 0; j < k; j++) {
            const t5_infer_seq *s = seq_at(r, i, j);
            if (s && s->n_ids > l)
                l = s->n_ids;
        }
    return l;
}

static double score_value(const t5_infer_seq *s)
{
    if (!s || !isfinite(s->score))
        return s && s->score > 0 ? 3.0e38 : -3.0e38;
    return s->score;
}

static void put_le32(t5_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    t5_buf_append(b, p, 4);
}

static cJSON *shape(int n, int64_t a, int64_t b, int64_t c)
{
    cJSON *s = cJSON_CreateArray();
    int64_t d[3] = {a, b, c};
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(s, cJSON_CreateNumber((double)d[i]));
    return s;
}

int t5_infer_render(const t5_infer_req *r, const char *model, const char *version, t5_buf *out,
                    size_t *json_len)
{
    int k = seqs_per_row(r), L = max_ids(r, k);
    int nd = (k > 1 || r->shape2d) ? 2 : 1;
    cJSON *root = cJSON_CreateObject();
    if (r->has_id)
        cJSON_AddStringToObject(root, "id", r->id);
    cJSON_AddStringToObject(root, "model_name", model);
    cJSON_AddStringToObject(root, "model_version", version);
    cJSON *outs = cJSON_AddArrayToObject(root, "outputs");
    t5_buf bin = {0};
    if (r->outputs & T5_OUT_TEXT) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", "text_output");
        cJSON_AddStringToObject(o, "datatype", "BYTES");
        cJSON_AddItemToObject(o, "shape", shape(nd, r->rows, k, 0));
        if (r->binary & T5_OUT_TEXT) {
            size_t before = bin.len;
            for (int i = 0; i < r->rows; i++)
                for (int j = 0; j < k; j++) {
                    const t5_infer_seq *s = seq_at(r, i, j);
                    put_le32(&bin, s ? (uint32_t)s->text_len : 0);
                    if (s)
                        t5_buf_append(&bin, s->text, s->text_len);
                }
            cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "parameters"), "binary_data_size",
                                    (double)(bin.len - before));
        } else {
            cJSON *d = cJSON_AddArrayToObject(o, "data");
            for (int i = 0; i < r->rows; i++)
                for (int j = 0; j < k; j++) {
                    const t5_infer_seq *s = seq_at(r, i, j);
                    cJSON_AddItemToArray(d, cJSON_CreateString(s && s->text ? s->text : ""));
                }
        }
        cJSON_AddItemToArray(outs, o);
    }
    if (r->outputs & T5_OUT_IDS) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", "output_ids");
        cJSON_AddStringToObject(o, "datatype", "INT32");
        cJSON_AddItemToObject(o, "shape", shape(3, r->rows, k, L));
        cJSON *d = (r->binary & T5_OUT_IDS) ? NULL : cJSON_AddArrayToObject(o, "data");
        size_t before = bin.len;
        for (int i = 0; i < r->rows; i++)
            for (int j = 0; j < k; j++) {
                const t5_infer_seq *s = seq_at(r, i, j);
                for (int t = 0; t < L; t++) {
                    int32_t v = s && t < s->n_ids ? s->ids[t] : 0;
                    if (d)
                        cJSON_AddItemToArray(d, cJSON_CreateNumber(v));
                    else
                        put_le32(&bin, (uint32_t)v);
                }
            }
        if (!d)
            cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "parameters"), "binary_data_size",
                                    (double)(bin.len - before));
        cJSON_AddItemToArray(outs, o);
    }
    if (r->outputs & T5_OUT_SCORE) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", "sequence_score");
        cJSON_AddStringToObject(o, "datatype", "FP32");
        cJSON_AddItemToObject(o, "shape", shape(nd, r->rows, k, 0));
        cJSON *d = (r->binary & T5_OUT_SCORE) ? NULL : cJSON_AddArrayToObject(o, "data");
        size_t before = bin.len;
        for (int i = 0; i < r->rows; i++)
            for (int j = 0; j < k; j++) {
                double v = score_value(seq_at(r, i, j));
                if (d) {
                    cJSON_AddItemToArray(d, cJSON_CreateNumber(v));
                } else {
                    float f = (float)v;
                    uint32_t u;
                    memcpy(&u, &f, 4);
                    put_le32(&bin, u);
                }
            }
        if (!d)
            cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "parameters"), "binary_data_size",
                                    (double)(bin.len - before));
        cJSON_AddItemToArray(outs, o);
    }
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = 0;
    if (!js || bin.oom) {
        rc = T5_ENOMEM;
    } else {
        *json_len = strlen(js);
        if (t5_buf_append(out, js, *json_len) < 0 || t5_buf_append(out, bin.p, bin.len) < 0)
            rc = T5_ENOMEM;
    }
    free(js);
    t5_buf_free(&bin);
    return rc;
}

int t5_generate_render(const t5_infer_req *r, const char *model, const char *version, t5_buf *out)
{
    int k = seqs_per_row(r);
    int many = r->rows > 1 || k > 1 || r->shape2d;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model_name", model);
    cJSON_AddStringToObject(root, "model_version", version);
    cJSON *txt = many ? cJSON_AddArrayToObject(root, "text_output") : NULL;
    cJSON *sc =
        (r->outputs & T5_OUT_SCORE) && many ? cJSON_AddArrayToObject(root, "sequence_score") : NULL;
    cJSON *ids =
        (r->outputs & T5_OUT_IDS) && many ? cJSON_AddArrayToObject(root, "output_ids") : NULL;
    for (int i = 0; i < r->rows; i++)
        for (int j = 0; j < k; j++) {
            const t5_infer_seq *s = seq_at(r, i, j);
            cJSON *t = cJSON_CreateString(s && s->text ? s->text : "");
            cJSON *v = cJSON_CreateNumber(score_value(s));
            cJSON *a = cJSON_CreateArray();
            for (int q = 0; s && q < s->n_ids; q++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber(s->ids[q]));
            if (many) {
                cJSON_AddItemToArray(txt, t);
                sc ? (void)cJSON_AddItemToArray(sc, v) : cJSON_Delete(v);
                ids ? (void)cJSON_AddItemToArray(ids, a) : cJSON_Delete(a);
            } else {
                cJSON_AddItemToObject(root, "text_output", t);
                (r->outputs & T5_OUT_SCORE) ? (void)cJSON_AddItemToObject(root, "sequence_score", v)
                                            : cJSON_Delete(v);
                (r->outputs & T5_OUT_IDS) ? (void)cJSON_AddItemToObject(root, "output_ids", a)
                                          : cJSON_Delete(a);
            }
        }
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = js && t5_buf_append(out, js, strlen(js)) == 0 ? 0 : T5_ENOMEM;
    free(js);
    return rc;
}

int t5_error_render(const char *msg, t5_buf *out)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "error", msg);
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = js && t5_buf_append(out, js, strlen(js)) == 0 ? 0 : T5_ENOMEM;
    free(js);
    return rc;
}
