/* load.c - a Hugging Face T5 checkpoint directory -> struct t5_model.
 *
 * Reads config.json, maps the safetensors file(s), and for every weight
 * checks its shape against the config, converts it to fp32 on the host and
 * hands it to the backend's upload_weight. Projections applied to the same
 * input are fused here (see model.h): q|k|v, wi_0|wi_1, and every decoder
 * layer's cross-attention k|v. Tensor names are transformers' own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/safetensors.h"
#include "model/util.h"

t5_model_params t5_model_default_params(void)
{
    t5_model_params p = {
        .device = T5_DEVICE_CPU,
        .dtype = T5_F32,
        .device_index = 0,
        .load_tokenizer = 1,
    };
    return p;
}

/* Loader state: what every helper needs to read and upload one tensor. */
typedef struct loader {
    const char *dir;
    const t5_config *c;
    t5_st_set *st;
    t5_backend *be;
    float *buf;     /* host scratch, grown to the largest (fused) weight */
    size_t buf_len; /* floats */
    t5_err *err;
} loader;

static void shape_str(char *out, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(out + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap)
        snprintf(out + k, cap - k, "]");
}

/* Finds name, checks it has shape (d0[, d1]) and converts it to fp32 at
 * buf[off...]. The scratch grows only after the shape matched both the config
 * and the bytes in the file, so a config claiming a huge model cannot make
 * the loader allocate more than the checkpoint holds. */
static int read_tensor(loader *ld, const char *name, int ndim, int64_t d0, int64_t d1, size_t off)
{
    const t5_st_tensor *t = t5_st_find(ld->st, name);
    if (!t)
        return t5_errf(ld->err, T5_ENOTFOUND, "%s: tensor '%s' is missing from the checkpoint",
                       ld->dir, name);
    int64_t want[2] = {d0, d1};
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char got[128], exp[64];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(exp, sizeof exp, ndim, want);
        return t5_errf(ld->err, T5_EFORMAT,
                       "%s: tensor '%s' has shape %s, but config.json implies %s", t->file, name,
                       got, exp);
    }
    size_t need = off + (size_t)t->numel;
    if (need > ld->buf_len) {
        float *nb = realloc(ld->buf, need * sizeof *nb);
        if (!nb)
            return t5_errf(ld->err, T5_ENOMEM, "%s: out of memory (%zu MB of host scratch)",
                           ld->dir, need * sizeof(float) >> 20);
        ld->buf = nb;
        ld->buf_len = need;
    }
    return t5_st_read_f32(t, ld->buf + off, (size_t)t->numel, ld->err);
}

static int upload(loader *ld, int kind, int64_t rows, int64_t cols, void **out, const char *what)
{
    int rc = ld->be->vt->upload_weight(ld->be, kind, ld->buf, rows, cols, out, ld->err);
    if (rc < 0)
        return t5_err_wrap(ld->err, rc, "%s: uploading %s", ld->dir, what);
    return 0;
}

/* One 2-D or 1-D weight, unfused. */
static int load_one(loader *ld, const char *name, int kind, int64_t rows, int64_t cols, void **out)
{
    int rc = kind == T5_W_NORM ? read_tensor(ld, name, 1, cols, 0, 0)
                               : read_tensor(ld, name, 2, rows, cols, 0);
    if (rc < 0)
        return rc;
    return upload(ld, kind, kind == T5_W_NORM ? 1 : rows, cols, out, name);
}

static int load_layer(loader *ld, const char *stack, int i, int decoder, t5_layer_w *L)
{
    const t5_config *c = ld->c;
    const int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv, ff = c->d_ff;
    char n[256];
    int rc;
#define NAME(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    /* Self-attention: q, k, v stacked row-wise into one (3*inner, d) matrix. */
    static const char qkv[3] = {'q', 'k', 'v'};
    for (int j = 0; j < 3; j++)
        if ((rc = read_tensor(ld,
                              NAME("%s.block.%d.layer.0.SelfAttention.%c.weight", stack, i, qkv[j]),
                              2, inner, d, (size_t)j * inner * d)) < 0)
            return rc;
    if ((rc = upload(ld, T5_W_LINEAR, 3 * inner, d, &L->w_qkv,
                     NAME("%s.block.%d self-attention q|k|v", stack, i))) < 0 ||
        (rc = load_one(ld, NAME("%s.block.%d.layer.0.SelfAttention.o.weight", stack, i),
                       T5_W_LINEAR, d, inner, &L->w_o)) < 0 ||
        (rc = load_one(ld, NAME("%s.block.%d.layer.0.layer_norm.weight", stack, i), T5_W_NORM, 1, d,
                       &L->ln_attn)) < 0)
        return rc;
    int ffl = 1;
    if (decoder) {
        ffl = 2;
        if ((rc = load_one(ld, NAME("decoder.block.%d.layer.1.EncDecAttention.q.weight", i),
                           T5_W_LINEAR, inner, d, &L->w_cq)) < 0 ||
            (rc = load_one(ld, NAME("decoder.block.%d.layer.1.EncDecAttention.o.weight", i),
                           T5_W_LINEAR, d, inner, &L->w_co)) < 0 ||
            (rc = load_one(ld, NAME("decoder.block.%d.layer.1.layer_norm.weight", i), T5_W_NORM, 1,
                           d, &L->ln_cross)) < 0)
            return rc;
    }
    /* FFN: wi, or wi_0 (activated) over wi_1 (linear) in one (2*ff, d). */
    if (c->gated) {
        if ((rc = read_tensor(
                 ld, NAME("%s.block.%d.layer.%d.DenseReluDense.wi_0.weight", stack, i, ffl), 2, ff,
                 d, 0)) < 0 ||
            (rc = read_tensor(
                 ld, NAME("%s.block.%d.layer.%d.DenseReluDense.wi_1.weight", stack, i, ffl), 2, ff,
                 d, (size_t)ff * d)) < 0 ||
            (rc = upload(ld, T5_W_LINEAR, 2 * ff, d, &L->w_in,
                         NAME("%s.block.%d wi_0|wi_1", stack, i))) < 0)
            return rc;
    } else if ((rc = load_one(ld,
                              NAME("%s.block.%d.layer.%d.DenseReluDense.wi.weight", stack, i, ffl),
                              T5_W_LINEAR, ff, d, &L->w_in)) < 0) {
        return rc;
    }
    if ((rc = load_one(ld, NAME("%s.block.%d.layer.%d.DenseReluDense.wo.weight", stack, i, ffl),
                       T5_W_LINEAR, d, ff, &L->w_out)) < 0 ||
        (rc = load_one(ld, NAME("%s.block.%d.layer.%d.layer_norm.weight", stack, i, ffl), T5_W_NORM,
                       1, d, &L->ln_ff)) < 0)
        return rc;
#undef NAME
    return 0;
}

/* Every decoder layer's cross-attention k and v, applied once to the encoder
 * output: rows [l*2*inner, l*2*inner+inner) hold layer l's k, the next inner
 * rows its v. */
static int load_cross_kv(loader *ld, void **out)
{
    const t5_config *c = ld->c;
    const int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv;
    char n[256];
    for (int l = 0; l < c->num_decoder_layers; l++)
        for (int j = 0; j < 2; j++) {
            snprintf(n, sizeof n, "decoder.block.%d.layer.1.EncDecAttention.%c.weight", l,
                     j ? 'v' : 'k');
            int rc = read_tensor(ld, n, 2, inner, d, ((size_t)2 * l + j) * inner * d);
            if (rc < 0)
                return rc;
        }
    return upload(ld, T5_W_LINEAR, (int64_t)c->num_decoder_layers * 2 * inner, d, out,
                  "decoder cross-attention k|v");
}

static const char *first_present(const t5_st_set *st, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (t5_st_find(st, names[i]))
            return names[i];
    return names[0];
}

static int load_weights(loader *ld, t5_model *m)
{
    const t5_config *c = ld->c;
    const int64_t d = c->d_model, V = c->vocab_size;
    const int nb = c->relative_attention_num_buckets, h = c->num_heads;
    int rc;
    /* shared.weight is the canonical name; some exports keep only the
     * per-stack copies. */
    static const char *const embed_names[] = {"shared.weight", "encoder.embed_tokens.weight",
                                              "decoder.embed_tokens.weight"};
    if ((rc = load_one(ld, first_present(ld->st, embed_names, 3), T5_W_EMBED, V, d, &m->embed)) < 0)
        return rc;
    /* An lm_head.weight in the file is used as is (transformers keeps an
     * untied head whenever the checkpoint has one); without it the head is
     * the embedding. The d_model^-0.5 rescale is the config's decision. */
    if (t5_st_find(ld->st, "lm_head.weight")) {
        if ((rc = load_one(ld, "lm_head.weight", T5_W_EMBED, V, d, &m->lm_head)) < 0)
            return rc;
    } else {
        m->lm_head = m->embed;
    }
    if ((rc = load_one(ld, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                       T5_W_BIAS_TABLE, nb, h, &m->enc_bias)) < 0 ||
        (rc = load_one(ld, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                       T5_W_BIAS_TABLE, nb, h, &m->dec_bias)) < 0 ||
        (rc = load_one(ld, "encoder.final_layer_norm.weight", T5_W_NORM, 1, d, &m->enc_ln_final)) <
            0 ||
        (rc = load_one(ld, "decoder.final_layer_norm.weight", T5_W_NORM, 1, d, &m->dec_ln_final)) <
            0)
        return rc;
    for (int i = 0; i < c->num_layers; i++)
        if ((rc = load_layer(ld, "encoder", i, 0, &m->enc[i])) < 0)
            return rc;
    for (int i = 0; i < c->num_decoder_layers; i++)
        if ((rc = load_layer(ld, "decoder", i, 1, &m->dec[i])) < 0)
            return rc;
    return load_cross_kv(ld, &m->w_cross_kv);
}

static int read_config(const char *dir, t5_config *cfg, t5_err *err)
{
    char *path = t5__path_join(dir, "config.json");
    if (!path)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    char *json = NULL;
    size_t len = 0;
    int rc = t5__read_file(path, 4u << 20, &json, &len, err);
    if (rc == 0 && (rc = t5_config_parse(cfg, json, len, err)) < 0)
        t5_err_wrap(err, rc, "%s", path);
    free(json);
    free(path);
    return rc;
}

int t5__model_load_backend(t5_model **out, const char *dir, t5_backend *be, int load_tokenizer,
                           t5_err *err)
{
    *out = NULL;
    t5_model *m = calloc(1, sizeof *m);
    if (!m) {
        be->vt->destroy(be);
        return t5_errf(err, T5_ENOMEM, "out of memory");
    }
    m->be = be;
    loader ld = {.dir = dir, .c = &m->cfg, .be = be, .err = err};
    int rc = read_config(dir, &m->cfg, err);
    if (rc < 0)
        goto fail;
    const t5_config *c = &m->cfg;
    m->inner = c->num_heads * c->d_kv;
    /* transformers multiplies by d_model**-0.5, a Python float rounded to
     * float32 when it meets the tensor. */
    m->lm_scale = c->tie_word_embeddings ? (float)pow((double)c->d_model, -0.5) : 1.0f;
    m->enc = calloc((size_t)c->num_layers, sizeof *m->enc);
    m->dec = calloc((size_t)c->num_decoder_layers, sizeof *m->dec);
    if (!m->enc || !m->dec) {
        rc = t5_errf(err, T5_ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    if ((rc = t5_st_set_open(&ld.st, dir, err)) < 0)
        goto fail;
    if ((rc = load_weights(&ld, m)) < 0)
        goto fail;
    if (load_tokenizer) {
        rc = t5_tokenizer_load_dir(&m->tok, dir, err);
        if (rc == T5_ENOTFOUND) {
            /* A checkpoint without a tokenizer still serves --input-ids. */
            m->tok = NULL;
            rc = 0;
            if (err) {
                err->code = 0;
                err->msg[0] = '\0';
            }
        } else if (rc < 0) {
            t5_err_wrap(err, rc, "%s: tokenizer", dir);
            goto fail;
        }
    }
    t5_st_set_close(ld.st);
    free(ld.buf);
    *out = m;
    return 0;
fail:
    t5_st_set_close(ld.st);
    free(ld.buf);
    t5_model_free(m);
    return rc;
}

int t5_model_load(t5_model **out, const char *dir, const t5_model_params *p, t5_err *err)
{
    if (!out || !dir)
        return t5_errf(err, T5_EINVAL, "t5_model_load: NULL argument");
    *out = NULL;
    t5_model_params defp = t5_model_default_params();
    if (!p)
        p = &defp;
    t5_backend *be;
    int rc = t5_backend_create(&be, p->device, p->dtype, p->device_index, err);
    if (rc < 0)
        return rc;
    return t5__model_load_backend(out, dir, be, p->load_tokenizer, err);
}

static void free_w(t5_backend *be, void *w)
{
    if (w)
        be->vt->free_weight(be, w);
}

static void free_layer(t5_backend *be, t5_layer_w *L)
{
    free_w(be, L->ln_attn);
    free_w(be, L->w_qkv);
    free_w(be, L->w_o);
    free_w(be, L->ln_cross);
    free_w(be, L->w_cq);
    free_w(be, L->w_co);
    free_w(be, L->ln_ff);
    free_w(be, L->w_in);
    free_w(be, L->w_out);
}

void t5_model_free(t5_model *m)
{
    if (!m)
        return;
    t5_backend *be = m->be;
    if (be) {
        if (m->lm_head != m->embed)
            free_w(be, m->lm_head);
        free_w(be, m->embed);
        free_w(be, m->enc_bias);
        free_w(be, m->dec_bias);
        free_w(be, m->enc_ln_final);
        free_w(be, m->dec_ln_final);
        free_w(be, m->w_cross_kv);
        for (int i = 0; m->enc && i < m->cfg.num_layers; i++)
            free_layer(be, &m->enc[i]);
        for (int i = 0; m->dec && i < m->cfg.num_decoder_layers; i++)
            free_layer(be, &m->dec[i]);
        be->vt->destroy(be);
    }
    if (m->tok)
        t5_tokenizer_free(m->tok);
    free(m->enc);
    free(m->dec);
    free(m);
}

const t5_config *t5_model_config(const t5_model *m)
{
    return &m->cfg;
}
const t5_tokenizer *t5_model_tokenizer(const t5_model *m)
{
    return m->tok;
}
t5_device t5_model_device(const t5_model *m)
{
    return m->be->device;
}
t5_dtype t5_model_dtype(const t5_model *m)
{
    return m->be->act_dtype;
}
