/* infer_parse.c - KServe v2 infer bodies (JSON and binary tensor data) and
 * generate bodies into t5_infer_req. Everything here comes from the network:
 * lengths are checked before every read and nothing is trusted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/infer.h"

#define MAX_JSON_DEPTH 8

void t5_infer_req_clear(t5_infer_req *r)
{
    if (r->res) {
        for (int i = 0; i < r->rows; i++) {
            for (int j = 0; j < r->res[i].n_seqs; j++) {
                free(r->res[i].seqs[j].text);
                free(r->res[i].seqs[j].ids);
            }
            free(r->res[i].seqs);
        }
        free(r->res);
    }
    free(r->text);
    free(r->text_len);
    free(r->arena);
    free(r->s_ids);
    free(r->s_text);
    memset(r, 0, sizeof *r);
}

/* Texts are gathered as offsets into one arena, then turned into pointers. */
typedef struct texts {
    t5_buf arena;
    size_t *off, *len;
    int n, cap;
} texts;

static int texts_add(texts *t, const char *s, size_t n, const t5_infer_limits *lim, t5_err *err)
{
    if (t->n >= t->cap)
        return t5_errf(err, T5_EINVAL, "unexpected number of string elements in 'text_input'");
    if (n > lim->max_text_bytes)
        return t5_errf(err, T5_ELIMIT,
                       "text_input element %d is %zu bytes, longer than the limit of %zu", t->n, n,
                       lim->max_text_bytes);
    if (!t5_utf8_valid(s, n))
        return t5_errf(err, T5_EINVAL, "text_input element %d is not valid UTF-8", t->n);
    t->off[t->n] = t->arena.len;
    t->len[t->n] = n;
    if (t5_buf_append(&t->arena, s, n) < 0 || t5_buf_append(&t->arena, "", 1) < 0)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    t->n++;
    return 0;
}

static int texts_init(texts *t, int cap, t5_err *err)
{
    memset(t, 0, sizeof *t);
    t->off = calloc((size_t)cap, sizeof *t->off);
    t->len = calloc((size_t)cap, sizeof *t->len);
    t->cap = cap;
    if (!t->off || !t->len)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    return 0;
}

static void texts_free(texts *t)
{
    free(t->off);
    free(t->len);
    t5_buf_free(&t->arena);
}

/* Moves the texts into r (r->rows = t->n). */
static int texts_take(texts *t, t5_infer_req *r, t5_err *err)
{
    r->rows = t->n;
    r->text = calloc((size_t)t->n, sizeof *r->text);
    r->text_len = t->len;
    t->len = NULL;
    if (!r->text)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    r->arena = t->arena.p ? t->arena.p : calloc(1, 1);
    t->arena.p = NULL;
    if (!r->arena)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    for (int i = 0; i < t->n; i++)
        r->text[i] = r->arena + t->off[i];
    return 0;
}

static int json_strings(texts *t, const cJSON *a, int depth, const t5_infer_limits *lim,
                        t5_err *err)
{
    if (depth > MAX_JSON_DEPTH)
        return t5_errf(err, T5_EINVAL, "text_input data is nested too deeply");
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        int rc;
        if (cJSON_IsArray(e))
            rc = json_strings(t, e, depth + 1, lim, err);
        else if (cJSON_IsString(e))
            rc = texts_add(t, e->valuestring, strlen(e->valuestring), lim, err);
        else
            rc = t5_errf(
                err, T5_EINVAL,
                "unable to parse 'data': expected a string for the BYTES input 'text_input'");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int bool_param(const cJSON *v, const char *key, int *out, t5_err *err)
{
    if (!cJSON_IsBool(v))
        return t5_errf(err, T5_EINVAL, "parameter '%s' must be a boolean", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int int_param(const cJSON *v, const char *key, int64_t lo, int64_t hi, int64_t *out,
                     t5_err *err)
{
    if (t5_json_int(v, lo, hi, out) < 0)
        return t5_errf(err, T5_EINVAL, "parameter '%s' must be an integer in [%lld, %lld]", key,
                       (long long)lo, (long long)hi);
    return 0;
}

static int float_param(const cJSON *v, const char *key, double lo, double hi, float *out,
                       t5_err *err)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return t5_errf(err, T5_EINVAL, "parameter '%s' must be a number in [%g, %g]", key, lo, hi);
    *out = (float)v->valuedouble;
    return 0;
}

/* Request parameters: Triton's (priority, timeout, binary_data_output) and
 * the generation parameters. Unknown keys are ignored, as Triton passes
 * them on to backends that may not use them. */
static int parse_params(t5_infer_req *r, const cJSON *params, const t5_infer_limits *lim,
                        t5_err *err)
{
    if (!params)
        return 0;
    if (!cJSON_IsObject(params))
        return t5_errf(err, T5_EINVAL, "'parameters' must be an object");
    t5_gen_params *g = &r->gp;
    const cJSON *v;
    cJSON_ArrayForEach(v, params)
    {
        const char *k = v->string;
        int64_t i;
        int rc = 0, b = 0;
        if (!strcmp(k, "priority")) {
            if ((rc = int_param(v, k, 0, lim->priority_levels, &i, err)) == 0)
                r->priority = (int)i;
        } else if (!strcmp(k, "timeout")) {
            if ((rc = int_param(v, k, 0, INT64_MAX / 2000, &i, err)) == 0)
                r->timeout_us = (uint64_t)i;
        } else if (!strcmp(k, "binary_data_output")) {
            if ((rc = bool_param(v, k, &b, err)) == 0 && b)
                r->binary = T5_OUT_TEXT | T5_OUT_IDS | T5_OUT_SCORE;
        } else if (!strcmp(k, "max_new_tokens") || !strcmp(k, "max_tokens")) {
            if ((rc = int_param(v, k, 1, lim->max_new_tokens, &i, err)) == 0)
                g->max_new_tokens = (int)i;
        } else if (!strcmp(k, "min_new_tokens")) {
            if ((rc = int_param(v, k, 0, lim->max_new_tokens, &i, err)) == 0)
                g->min_new_tokens = (int)i;
        } else if (!strcmp(k, "num_beams")) {
            if ((rc = int_param(v, k, 1, lim->max_num_beams, &i, err)) == 0)
                g->num_beams = (int)i;
        } else if (!strcmp(k, "num_return_sequences")) {
            if ((rc = int_param(v, k, 1, 64, &i, err)) == 0)
                g->num_return_sequences = (int)i;
        } else if (!strcmp(k, "length_penalty")) {
            rc = float_param(v, k, -100, 100, &g->length_penalty, err);
        } else if (!strcmp(k, "temperature")) {
            if ((rc = float_param(v, k, 0, 100, &g->temperature, err)) == 0 && g->temperature <= 0)
                rc = t5_errf(err, T5_EINVAL, "parameter 'temperature' must be > 0");
        } else if (!strcmp(k, "top_k")) {
            if ((rc = int_param(v, k, 0, 1 << 20, &i, err)) == 0)
                g->top_k = (int)i;
        } else if (!strcmp(k, "top_p")) {
            if ((rc = float_param(v, k, 0, 1, &g->top_p, err)) == 0 && g->top_p <= 0)
                rc = t5_errf(err, T5_EINVAL, "parameter 'top_p' must be in (0, 1]");
        } else if (!strcmp(k, "do_sample")) {
            rc = bool_param(v, k, &g->do_sample, err);
        } else if (!strcmp(k, "early_stopping")) {
            if (cJSON_IsBool(v))
                g->early_stopping = cJSON_IsTrue(v);
            else if (cJSON_IsString(v) && !strcmp(v->valuestring, "never"))
                g->early_stopping = -1;
            else
                rc = t5_errf(err, T5_EINVAL,
                             "parameter 'early_stopping' must be true, false or \"never\"");
        } else if (!strcmp(k, "seed")) {
            if ((rc = int_param(v, k, 0, (int64_t)1 << 53, &i, err)) == 0) {
                g->seed = (uint64_t)i;
                r->seed_set = 1;
            }
        } else if (!strcmp(k, "return_scores")) {
            if ((rc = bool_param(v, k, &b, err)) == 0 && b)
                r->outputs |= T5_OUT_SCORE;
        } else if (!strcmp(k, "return_ids")) {
            if ((rc = bool_param(v, k, &b, err)) == 0 && b)
                r->outputs |= T5_OUT_IDS;
        }
        if (rc < 0)
            return rc;
    }
    if (g->min_new_tokens > g->max_new_tokens)
        return t5_errf(err, T5_EINVAL, "min_new_tokens (%d) exceeds max_new_tokens (%d)",
                       g->min_new_tokens, g->max_new_tokens);
    if (!g->do_sample && g->num_return_sequences > g->num_beams)
        return t5_errf(
            err, T5_EINVAL,
            "num_return_sequences (%d) must be <= num_beams (%d) unless do_sample is true",
            g->num_return_sequences, g->num_beams);
    return 0;
}

static int output_bit(const char *name)
{
    if (!strcmp(name, "text_output"))
        return T5_OUT_TEXT;
    if (!strcmp(name, "output_ids"))
        return T5_OUT_IDS;
    if (!strcmp(name, "sequence_score"))
        return T5_OUT_SCORE;
    return 0;
}

static uint32_t rd_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int parse_input(t5_infer_req *r, const cJSON *in, const char *bin, size_t bin_len,
                       size_t *bin_off, const t5_infer_limits *lim, t5_err *err)
{
    const char *m = lim->model_name ? lim->model_name : "";
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    if (!cJSON_IsString(name))
        return t5_errf(err, T5_EINVAL, "an input has no 'name'");
    if (strcmp(name->valuestring, "text_input"))
        return t5_errf(err, T5_EINVAL, "unexpected inference input '%.64s' for model '%s'",
                       name->valuestring, m);
    if (!cJSON_IsString(dt))
        return t5_errf(err, T5_EINVAL, "input 'text_input' has no 'datatype'");
    if (strcmp(dt->valuestring, "BYTES"))
        return t5_errf(
            err, T5_EINVAL,
            "inference input 'text_input' data-type is '%.16s', but model '%s' expects 'BYTES'",
            dt->valuestring, m);
    if (!cJSON_IsArray(shape))
        return t5_errf(err, T5_EINVAL, "input 'text_input' has no 'shape'");
    int nd = cJSON_GetArraySize(shape);
    int64_t dims[2] = {0, 1};
    if (nd < 1 || nd > 2)
        return t5_errf(err, T5_EINVAL,
                       "unexpected shape for input 'text_input' for model '%s': expected [-1,1] or "
                       "[-1], got %d dimensions",
                       m, nd);
    for (int i = 0; i < nd; i++)
        if (t5_json_int(cJSON_GetArrayItem(shape, i), 0, INT32_MAX, &dims[i]) < 0)
            return t5_errf(err, T5_EINVAL,
                           "input 'text_input': shape must hold non-negative integers");
    if (nd == 2 && dims[1] != 1)
        return t5_errf(err, T5_EINVAL,
                       "unexpected shape for input 'text_input' for model '%s'. Expected [-1,1], "
                       "got [%lld,%lld]",
                       m, (long long)dims[0], (long long)dims[1]);
    if (dims[0] < 1)
        return t5_errf(err, T5_EINVAL, "input 'text_input' has an empty batch");
    if (dims[0] > lim->max_rows)
        return t5_errf(err, T5_ELIMIT,
                       "inference request batch-size must be <= %d for '%s', got %lld",
                       lim->max_rows, m, (long long)dims[0]);
    r->shape2d = nd == 2;
    int n = (int)dims[0];
    texts t;
    int rc = texts_init(&t, n, err);
    if (rc < 0)
        goto out;
    const cJSON *bds = params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_size") : NULL;
    if (bds) {
        int64_t sz;
        if (data) {
            rc = t5_errf(err, T5_EINVAL, "input 'text_input' has both 'data' and binary data");
            goto out;
        }
        if (t5_json_int(bds, 0, INT64_MAX, &sz) < 0 || (uint64_t)sz > bin_len - *bin_off) {
            rc = t5_errf(
                err, T5_EINVAL,
                "unexpected binary_data_size for input 'text_input': the body holds %zu more bytes",
                bin_len - *bin_off);
            goto out;
        }
        const unsigned char *p = (const unsigned char *)bin + *bin_off;
        size_t left = (size_t)sz;
        *bin_off += (size_t)sz;
        while (left > 0) {
            if (left < 4) {
                rc = t5_errf(err, T5_EINVAL,
                             "binary data of input 'text_input' ends inside an element length");
                goto out;
            }
            uint32_t el = rd_le32(p);
            p += 4;
            left -= 4;
            if (el > left) {
                rc = t5_errf(
                    err, T5_EINVAL,
                    "binary data of input 'text_input': element %d claims %u bytes, %zu remain",
                    t.n, el, left);
                goto out;
            }
            if ((rc = texts_add(&t, (const char *)p, el, lim, err)) < 0)
                goto out;
            p += el;
            left -= el;
        }
    } else {
        if (!cJSON_IsArray(data)) {
            rc = t5_errf(err, T5_EINVAL,
                         "input 'text_input' has no 'data' array and no binary data");
            goto out;
        }
        if ((rc = json_strings(&t, data, 0, lim, err)) < 0)
            goto out;
    }
    if (t.n != n) {
        rc = t5_errf(err, T5_EINVAL,
                     "unexpected number of string elements %d for inference input 'text_input', "
                     "expecting %d",
                     t.n, n);
        goto out;
    }
    rc = texts_take(&t, r, err);
out:
    texts_free(&t);
    return rc;
}

static void init_req(t5_infer_req *r, const t5_infer_limits *lim)
{
    memset(r, 0, sizeof *r);
    r->gp = lim->defaults;
}

int t5_infer_parse(t5_infer_req *r, const char *body, size_t len, size_t header_len,
                   const t5_infer_limits *lim, t5_err *err)
{
    init_req(r, lim);
    if (header_len > len)
        return t5_errf(err, T5_EINVAL,
                       "Inference-Header-Content-Length (%zu) exceeds the body length (%zu)",
                       header_len, len);
    size_t jlen = header_len ? header_len : len;
    cJSON *root = cJSON_ParseWithLength(body, jlen);
    if (!root)
        return t5_errf(err, T5_EINVAL,
                       "failed to parse the request JSON buffer: malformed JSON near byte %ld",
                       (long)(cJSON_GetErrorPtr() && cJSON_GetErrorPtr() >= body &&
                                      cJSON_GetErrorPtr() <= body + jlen
                                  ? cJSON_GetErrorPtr() - body
                                  : 0));
    int rc = 0;
    const char *bin = body + jlen;
    size_t bin_len = len - jlen, bin_off = 0;
    if (!cJSON_IsObject(root)) {
        rc = t5_errf(err, T5_EINVAL, "the request body must be a JSON object");
        goto out;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id) {
        if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof r->id) {
            rc = t5_errf(err, T5_EINVAL, "'id' must be a string shorter than %zu bytes",
                         sizeof r->id);
            goto out;
        }
        snprintf(r->id, sizeof r->id, "%s", id->valuestring);
        r->has_id = 1;
    }
    if ((rc = parse_params(r, cJSON_GetObjectItemCaseSensitive(root, "parameters"), lim, err)) < 0)
        goto out;
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) == 0) {
        rc = t5_errf(err, T5_EINVAL, "the request needs an 'inputs' array with 'text_input'");
        goto out;
    }
    if (cJSON_GetArraySize(inputs) > 1) {
        rc = t5_errf(err, T5_EINVAL, "expected 1 input ('text_input') for model '%s', got %d",
                     lim->model_name ? lim->model_name : "", cJSON_GetArraySize(inputs));
        goto out;
    }
    if (!cJSON_IsObject(inputs->child)) {
        rc = t5_errf(err, T5_EINVAL, "each input must be an object");
        goto out;
    }
    if ((rc = parse_input(r, inputs->child, bin, bin_len, &bin_off, lim, err)) < 0)
        goto out;
    if (bin_off != bin_len) {
        rc = t5_errf(err, T5_EINVAL, "the body holds %zu bytes of binary data that no input claims",
                     bin_len - bin_off);
        goto out;
    }
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (outs) {
        if (!cJSON_IsArray(outs)) {
            rc = t5_errf(err, T5_EINVAL, "'outputs' must be an array");
            goto out;
        }
        int binary_all = r->binary;
        r->binary = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, outs)
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
            int bit = cJSON_IsString(nm) ? output_bit(nm->valuestring) : 0;
            if (!bit) {
                rc = t5_errf(err, T5_EINVAL, "unexpected inference output '%.64s' for model '%s'",
                             cJSON_IsString(nm) ? nm->valuestring : "?",
                             lim->model_name ? lim->model_name : "");
                goto out;
            }
            r->outputs |= bit;
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "parameters");
            const cJSON *bd = op ? cJSON_GetObjectItemCaseSensitive(op, "binary_data") : NULL;
            if (bd && !cJSON_IsBool(bd)) {
                rc = t5_errf(err, T5_EINVAL, "output parameter 'binary_data' must be a boolean");
                goto out;
            }
            if (bd ? cJSON_IsTrue(bd) : (binary_all & bit))
                r->binary |= bit;
        }
    } else {
        r->outputs |= T5_OUT_TEXT;
        r->binary &= r->outputs;
    }
out:
    cJSON_Delete(root);
    if (rc < 0)
        t5_infer_req_clear(r);
    return rc;
}

int t5_generate_parse(t5_infer_req *r, const char *body, size_t len, const t5_infer_limits *lim,
                      t5_err *err)
{
    init_req(r, lim);
    r->generate = 1;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return t5_errf(err, T5_EINVAL, "failed to parse the request JSON buffer: malformed JSON");
    int rc = 0;
    texts t;
    memset(&t, 0, sizeof t);
    if (!cJSON_IsObject(root)) {
        rc = t5_errf(err, T5_EINVAL, "the request body must be a JSON object");
        goto out;
    }
    const cJSON *ti = cJSON_GetObjectItemCaseSensitive(root, "text_input");
    if (!ti) {
        rc = t5_errf(err, T5_EINVAL, "the generate request needs 'text_input'");
        goto out;
    }
    /* Triton maps other top-level keys to inputs or parameters; generation
     * parameters may sit at the top level or in "parameters". */
    if ((rc = parse_params(r, root, lim, err)) < 0 ||
        (rc = parse_params(r, cJSON_GetObjectItemCaseSensitive(root, "parameters"), lim, err)) < 0)
        goto out;
    int n = cJSON_IsArray(ti) ? cJSON_GetArraySize(ti) : 1;
    if (n < 1 || n > lim->max_rows) {
        rc = t5_errf(err, T5_ELIMIT, "text_input holds %d texts; this model takes 1..%d", n,
                     lim->max_rows);
        goto out;
    }
    if ((rc = texts_init(&t, n, err)) < 0)
        goto out;
    if (cJSON_IsString(ti))
        rc = texts_add(&t, ti->valuestring, strlen(ti->valuestring), lim, err);
    else if (cJSON_IsArray(ti))
        rc = json_strings(&t, ti, 1, lim, err);
    else
        rc = t5_errf(err, T5_EINVAL, "'text_input' must be a string or an array of strings");
    if (rc < 0)
        goto out;
    if (t.n != n) {
        rc = t5_errf(err, T5_EINVAL, "'text_input' must be a flat array of strings");
        goto out;
    }
    r->shape2d = cJSON_IsArray(ti);
    r->outputs |= T5_OUT_TEXT;
    rc = texts_take(&t, r, err);
out:
    texts_free(&t);
    cJSON_Delete(root);
    if (rc < 0)
        t5_infer_req_clear(r);
    return rc;
}
