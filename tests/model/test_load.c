/* test_load.c - loading every golden fixture checkpoint (fp32, fp16, bf16,
 * sharded; every T5 variant) and checking the loaded, fused weights against
 * values Python read from the same files (tests/fixtures/<name>.json). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_backend.h"
#include "model/model.h"
#include "model/util.h"

static cJSON *read_json(const char *path)
{
    char *s;
    size_t n;
    t5_err err = {0};
    if (t5__read_file(path, 64u << 20, &s, &n, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(s, n);
    free(s);
    return j;
}

static int jint(const cJSON *o, const char *k, int dflt)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(j) ? j->valueint : dflt;
}

/* The loaded weight holding tensor `name` and the flat offset of its first
 * element inside it (fused weights hold several tensors). */
static const fake_w *locate(const t5_model *m, const char *name, size_t *off)
{
    const t5_config *c = &m->cfg;
    size_t d = (size_t)c->d_model, inner = (size_t)m->inner;
    char last_wo[128];
    snprintf(last_wo, sizeof last_wo, "decoder.block.%d.layer.2.DenseReluDense.wo.weight",
             c->num_decoder_layers - 1);
    *off = 0;
    if (!strcmp(name, "shared.weight"))
        return m->embed;
    if (!strcmp(name, "lm_head.weight"))
        return m->lm_head;
    if (!strcmp(name, "encoder.block.0.layer.0.SelfAttention.q.weight"))
        return m->enc[0].w_qkv;
    if (!strcmp(name, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"))
        return m->enc_bias;
    if (!strcmp(name, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"))
        return m->dec_bias;
    if (!strcmp(name, "decoder.block.0.layer.1.EncDecAttention.v.weight")) {
        *off = inner * d; /* layer 0: k rows, then v rows */
        return m->w_cross_kv;
    }
    if (!strcmp(name, last_wo))
        return m->dec[c->num_decoder_layers - 1].w_out;
    if (!strcmp(name, "encoder.final_layer_norm.weight"))
        return m->enc_ln_final;
    return NULL;
}

static void check_shapes(const t5_model *m)
{
    const t5_config *c = &m->cfg;
    int gated = c->gated ? 2 : 1;
    for (int i = 0; i < c->num_layers; i++) {
        const fake_w *qkv = m->enc[i].w_qkv, *in = m->enc[i].w_in;
        CHECK(qkv && qkv->rows == 3 * m->inner && qkv->cols == c->d_model);
        CHECK(in && in->rows == gated * c->d_ff && in->cols == c->d_model);
        CHECK(m->enc[i].w_cq == NULL && m->enc[i].ln_cross == NULL);
    }
    for (int i = 0; i < c->num_decoder_layers; i++) {
        const fake_w *cq = m->dec[i].w_cq, *co = m->dec[i].w_co, *ln = m->dec[i].ln_cross;
        CHECK(cq && cq->rows == m->inner && cq->cols == c->d_model);
        CHECK(co && co->rows == c->d_model && co->cols == m->inner);
        CHECK(ln && ln->kind == T5_W_NORM && ln->rows == 1 && ln->cols == c->d_model);
    }
    const fake_w *kv = m->w_cross_kv, *eb = m->enc_bias, *e = m->embed;
    CHECK(kv && kv->rows == (int64_t)c->num_decoder_layers * 2 * m->inner);
    CHECK(eb && eb->kind == T5_W_BIAS_TABLE && eb->rows == c->relative_attention_num_buckets &&
          eb->cols == c->num_heads);
    CHECK(e && e->kind == T5_W_EMBED && e->rows == c->vocab_size && e->cols == c->d_model);
}

static void check_fixture(const char *name)
{
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s.json", T5_FIXTURES, name);
    cJSON *fx = read_json(path);
    CHECK_MSG(fx != NULL, "%s", path);
    if (!fx)
        return;
    const cJSON *mdir = cJSON_GetObjectItemCaseSensitive(fx, "model_dir");
    snprintf(dir, sizeof dir, "%s/%s", T5_FIXTURES, mdir->valuestring);
    t5_model *m = NULL;
    t5_err err = {0};
    int rc = t5__model_load_backend(&m, dir, fake_backend_new(0), 1, &err);
    CHECK_MSG(rc == 0, "%s: %s", name, err.msg);
    if (rc < 0) {
        cJSON_Delete(fx);
        return;
    }
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(fx, "config");
    const t5_config *c = t5_model_config(m);
    CHECK_EQ_INT(c->d_model, jint(cfg, "d_model", -1));
    CHECK_EQ_INT(c->vocab_size, jint(cfg, "vocab_size", -1));
    CHECK_EQ_INT(c->num_layers, jint(cfg, "num_layers", -1));
    CHECK_EQ_INT(c->num_decoder_layers, jint(cfg, "num_decoder_layers", c->num_layers));
    CHECK_EQ_INT(m->inner, jint(cfg, "num_heads", 0) * jint(cfg, "d_kv", 0));
    /* No fixture ships tokenizer files; a 384-entry vocabulary is ByT5's,
     * whose byte tokenizer needs none. */
    if (c->vocab_size == 384)
        CHECK_MSG(t5_model_tokenizer(m) != NULL, "%s: no ByT5 tokenizer", name);
    else
        CHECK_MSG(t5_model_tokenizer(m) == NULL, "%s: unexpected tokenizer", name);
    check_shapes(m);

    /* Tied checkpoints have no lm_head.weight: the head is the embedding,
     * scaled by d_model^-0.5. */
    int tied = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cfg, "tie_word_embeddings"));
    CHECK_MSG((m->lm_head == m->embed) == tied, "%s: lm_head shared %d, tied %d", name,
              m->lm_head == m->embed, tied);
    CHECK(m->lm_scale == (tied ? (float)pow(c->d_model, -0.5) : 1.0f));

    int n_checked = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(fx, "weights"))
    {
        const char *tn = cJSON_GetObjectItemCaseSensitive(w, "name")->valuestring;
        size_t off;
        const fake_w *fw = locate(m, tn, &off);
        CHECK_MSG(fw != NULL, "%s: %s not located", name, tn);
        if (!fw)
            continue;
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(w, "index");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(w, "values");
        for (int i = 0; i < cJSON_GetArraySize(idx); i++) {
            size_t k = off + (size_t)cJSON_GetArrayItem(idx, i)->valuedouble;
            float want = (float)cJSON_GetArrayItem(val, i)->valuedouble;
            CHECK_MSG(k < (size_t)(fw->rows * fw->cols), "%s: %s index", name, tn);
            if (k < (size_t)(fw->rows * fw->cols))
                CHECK_MSG(fw->data[k] == want, "%s: %s[%zu] = %.9g, expected %.9g", name, tn,
                          k - off, fw->data[k], want);
            n_checked++;
        }
    }
    CHECK_MSG(n_checked >= 20, "%s: only %d weight values checked", name, n_checked);
    t5_model_free(m);
    CHECK_EQ_INT(fake_live_count, 0);
    cJSON_Delete(fx);
}

static cJSON *fixture_names(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/index.json", T5_FIXTURES);
    cJSON *idx = read_json(path);
    CHECK(idx != NULL);
    return idx;
}

static void test_every_fixture(void)
{
    cJSON *idx = fixture_names();
    if (!idx)
        return;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(idx, "models"))
    {
        check_fixture(e->valuestring);
        n++;
    }
    CHECK(n >= 10);
    cJSON_Delete(idx);
}

/* Every upload failing in turn: the error comes back and nothing leaks. */
static void test_upload_failures(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/byt5_like", T5_FIXTURES);
    int failures = 0;
    for (int k = 1; k < 200; k++) {
        t5_model *m = NULL;
        t5_err err = {0};
        fake_live_count = -1;
        int rc = t5__model_load_backend(&m, dir, fake_backend_new(k), 0, &err);
        if (rc == 0) {
            t5_model_free(m);
            break;
        }
        failures++;
        CHECK_EQ_INT(rc, T5_ENOMEM);
        CHECK(m == NULL);
        CHECK_EQ_INT(fake_live_count, 0);
        CHECK_MSG(strstr(err.msg, "fake upload failure") && strstr(err.msg, "uploading"), "%s",
                  err.msg);
    }
    CHECK(failures > 20);
}

/* The real CPU backend accepts every fixture (smoke test of the public API). */
static void test_cpu_backend(void)
{
    cJSON *idx = fixture_names();
    if (!idx)
        return;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(idx, "models"))
    {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/models/%s", T5_FIXTURES, e->valuestring);
        t5_model_params p = t5_model_default_params();
        p.load_tokenizer = 0;
        t5_model *m = NULL;
        t5_err err = {0};
        int rc = t5_model_load(&m, dir, &p, &err);
        CHECK_MSG(rc == 0, "%s: %s", e->valuestring, err.msg);
        if (rc == 0) {
            CHECK(t5_model_device(m) == T5_DEVICE_CPU);
            CHECK(t5_model_dtype(m) == T5_F32);
            t5_model_free(m);
        }
    }
    cJSON_Delete(idx);
}

int main(void)
{
    RUN(test_every_fixture);
    RUN(test_upload_failures);
    RUN(test_cpu_backend);
    return check_summary();
}
