/* config.c - config.json -> t5_config, with transformers' T5Config semantics.
 *
 * Defaults are T5Config's (transformers 5.x, which agree with 4.x for every
 * field read here). Two fields need care:
 *   - The activation: "dense_act_fn" wins when present; otherwise it comes
 *     from "feed_forward_proj" ("relu", "gated-gelu" -> gelu_new, the tanh
 *     approximation, "gated-silu" -> silu, ...). Gating comes from
 *     "is_gated_act" when present, else from the "gated-" prefix.
 *   - The LM head rescale by d_model^-0.5: transformers 5 stores it as
 *     "scale_decoder_outputs" (and then writes "tie_word_embeddings": true
 *     for every model); older files only have "tie_word_embeddings", whose
 *     default is true. t5_config.tie_word_embeddings holds the rescale
 *     decision; whether lm_head.weight exists is up to the checkpoint.
 * Anything outside sane bounds is refused with the field's name, so a bad
 * file fails here rather than as a giant allocation later.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "t5_model.h"

/* Generous upper bounds, far above any published T5 (t5-11b has d_ff 65536,
 * mT5 a vocabulary of 250112), that keep every size product in range. */
#define MAX_VOCAB (1 << 22)
#define MAX_DIM (1 << 16)
#define MAX_FF (1 << 20)
#define MAX_LAYERS 512
#define MAX_HEADS 1024
#define MAX_BUCKETS 4096
#define MAX_DISTANCE (1 << 24)

/* Reads an integer field. Absent or null: *out keeps its default and
 * *present (if given) is 0. Anything else must be an exact integer. */
static int get_int(const cJSON *root, const char *key, int lo, int hi, int *out, int *present,
                   t5_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (present)
        *present = 0;
    if (!j || cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble))
        return t5_errf(err, T5_EFORMAT, "config.json: \"%s\" must be an integer", key);
    double v = j->valuedouble;
    if (v < lo || v > hi)
        return t5_errf(err, T5_EFORMAT, "config.json: \"%s\" is %.0f; expected %d..%d", key, v, lo,
                       hi);
    *out = (int)v;
    if (present)
        *present = 1;
    return 0;
}

static int get_bool(const cJSON *root, const char *key, int *out, int *present, t5_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *present = 0;
    if (!j || cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsBool(j))
        return t5_errf(err, T5_EFORMAT, "config.json: \"%s\" must be true or false", key);
    *out = cJSON_IsTrue(j);
    *present = 1;
    return 0;
}

static int act_from_name(const char *s, t5_act *out)
{
    static const struct {
        const char *name;
        t5_act act;
    } tab[] = {
        {"relu", T5_ACT_RELU},
        /* All of these compute 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
        {"gelu_new", T5_ACT_GELU_TANH},
        {"gelu_pytorch_tanh", T5_ACT_GELU_TANH},
        {"gelu_fast", T5_ACT_GELU_TANH},
        {"gelu_accurate", T5_ACT_GELU_TANH},
        {"gelu_python_tanh", T5_ACT_GELU_TANH},
        {"gelu", T5_ACT_GELU},
        {"gelu_python", T5_ACT_GELU},
        {"silu", T5_ACT_SILU},
        {"swish", T5_ACT_SILU},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) {
            *out = tab[i].act;
            return 1;
        }
    return 0;
}

static int parse_act(const cJSON *root, t5_config *c, t5_err *err)
{
    const cJSON *ffp = cJSON_GetObjectItemCaseSensitive(root, "feed_forward_proj");
    const char *proj = "relu";
    if (ffp && !cJSON_IsNull(ffp)) {
        if (!cJSON_IsString(ffp))
            return t5_errf(err, T5_EFORMAT, "config.json: \"feed_forward_proj\" must be a string");
        proj = ffp->valuestring;
    }
    /* transformers accepts "ACT" or "gated-ACT" and nothing else. */
    const char *dash = strchr(proj, '-');
    const char *act_name = proj;
    c->gated = 0;
    if (dash) {
        if ((size_t)(dash - proj) != 5 || strncmp(proj, "gated", 5) || strchr(dash + 1, '-'))
            return t5_errf(err, T5_EFORMAT,
                           "config.json: feed_forward_proj \"%.64s\" is not \"ACT\" or "
                           "\"gated-ACT\"",
                           proj);
        c->gated = 1;
        act_name = dash + 1;
    }
    if (!strcmp(proj, "gated-gelu"))
        act_name = "gelu_new"; /* transformers' backwards-compatible special case */

    const cJSON *daf = cJSON_GetObjectItemCaseSensitive(root, "dense_act_fn");
    if (daf && !cJSON_IsNull(daf)) {
        if (!cJSON_IsString(daf))
            return t5_errf(err, T5_EFORMAT, "config.json: \"dense_act_fn\" must be a string");
        act_name = daf->valuestring;
    }
    if (!act_from_name(act_name, &c->act))
        return t5_errf(err, T5_EUNSUP,
                       "config.json: activation \"%.64s\" is not supported (relu, gelu_new, "
                       "gelu, silu)",
                       act_name);
    int g, present;
    int rc = get_bool(root, "is_gated_act", &g, &present, err);
    if (rc < 0)
        return rc;
    if (present)
        c->gated = g;
    return 0;
}

/* eos_token_id may be an integer or a list of them; T5 uses the first. */
static int parse_eos(const cJSON *root, t5_config *c, t5_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    if (cJSON_IsArray(j)) {
        j = cJSON_GetArrayItem(j, 0);
        if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 0 ||
            j->valuedouble >= c->vocab_size)
            return t5_errf(err, T5_EFORMAT,
                           "config.json: \"eos_token_id\" list must start with a token id");
        c->eos_token_id = (int)j->valuedouble;
        return 0;
    }
    return get_int(root, "eos_token_id", 0, c->vocab_size - 1, &c->eos_token_id, NULL, err);
}

int t5_config_parse(t5_config *cfg, const char *json, size_t len, t5_err *err)
{
    if (!cfg || (!json && len))
        return t5_errf(err, T5_EINVAL, "t5_config_parse: NULL argument");
    t5_config c = {
        .vocab_size = 32128,
        .d_model = 512,
        .d_kv = 64,
        .d_ff = 2048,
        .num_layers = 6,
        .num_decoder_layers = 6,
        .num_heads = 8,
        .relative_attention_num_buckets = 32,
        .relative_attention_max_distance = 128,
        .layer_norm_epsilon = 1e-6f,
        .act = T5_ACT_RELU,
        .gated = 0,
        .tie_word_embeddings = 1,
        .pad_token_id = 0,
        .eos_token_id = 1,
        .decoder_start_token_id = 0,
    };
    cJSON *root = cJSON_ParseWithLength(json ? json : "", len);
    if (!root)
        return t5_errf(err, T5_EFORMAT, "config.json: not valid JSON");
    int rc = 0, present;
    if (!cJSON_IsObject(root)) {
        rc = t5_errf(err, T5_EFORMAT, "config.json: not a JSON object");
        goto out;
    }
    if ((rc = get_int(root, "vocab_size", 1, MAX_VOCAB, &c.vocab_size, NULL, err)) < 0 ||
        (rc = get_int(root, "d_model", 1, MAX_DIM, &c.d_model, NULL, err)) < 0 ||
        (rc = get_int(root, "d_kv", 1, MAX_DIM, &c.d_kv, NULL, err)) < 0 ||
        (rc = get_int(root, "d_ff", 1, MAX_FF, &c.d_ff, NULL, err)) < 0 ||
        (rc = get_int(root, "num_layers", 1, MAX_LAYERS, &c.num_layers, NULL, err)) < 0 ||
        (rc = get_int(root, "num_heads", 1, MAX_HEADS, &c.num_heads, NULL, err)) < 0 ||
        (rc = get_int(root, "relative_attention_num_buckets", 4, MAX_BUCKETS,
                      &c.relative_attention_num_buckets, NULL, err)) < 0 ||
        (rc = get_int(root, "relative_attention_max_distance", 1, MAX_DISTANCE,
                      &c.relative_attention_max_distance, NULL, err)) < 0)
        goto out;
    c.num_decoder_layers = c.num_layers;
    if ((rc = get_int(root, "num_decoder_layers", 1, MAX_LAYERS, &c.num_decoder_layers, NULL,
                      err)) < 0)
        goto out;
    if ((long long)c.num_heads * c.d_kv > MAX_DIM) {
        rc = t5_errf(err, T5_EFORMAT, "config.json: num_heads * d_kv = %lld exceeds %d",
                     (long long)c.num_heads * c.d_kv, MAX_DIM);
        goto out;
    }
    /* Buckets are split in two (bidirectional), then half of those are
     * exact; the logarithmic part needs max_distance above that. */
    if (c.relative_attention_max_distance <= c.relative_attention_num_buckets / 2) {
        rc = t5_errf(err, T5_EFORMAT,
                     "config.json: relative_attention_max_distance (%d) must exceed "
                     "relative_attention_num_buckets / 2 (%d)",
                     c.relative_attention_max_distance, c.relative_attention_num_buckets / 2);
        goto out;
    }

    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
    if (eps && !cJSON_IsNull(eps)) {
        /* Checked after rounding to float: 1e-60 is positive as a double
         * but 0 as the float the kernels use. */
        if (!cJSON_IsNumber(eps) || !((float)eps->valuedouble > 0) || !(eps->valuedouble < 1)) {
            rc = t5_errf(err, T5_EFORMAT,
                         "config.json: \"layer_norm_epsilon\" must be a number in (0, 1)");
            goto out;
        }
        c.layer_norm_epsilon = (float)eps->valuedouble;
    }
    if ((rc = parse_act(root, &c, err)) < 0)
        goto out;

    int tie = 1, scale = 1, has_scale;
    if ((rc = get_bool(root, "tie_word_embeddings", &tie, &present, err)) < 0 ||
        (rc = get_bool(root, "scale_decoder_outputs", &scale, &has_scale, err)) < 0)
        goto out;
    c.tie_word_embeddings = has_scale ? scale : tie;

    if ((rc = get_int(root, "pad_token_id", 0, c.vocab_size - 1, &c.pad_token_id, NULL, err)) < 0 ||
        (rc = parse_eos(root, &c, err)) < 0)
        goto out;
    c.decoder_start_token_id = c.pad_token_id;
    if ((rc = get_int(root, "decoder_start_token_id", 0, c.vocab_size - 1,
                      &c.decoder_start_token_id, NULL, err)) < 0)
        goto out;
    /* Defaults too must fit the vocabulary (eos 1 does not when vocab_size is 1). */
    static const char *const tok_names[3] = {"pad_token_id", "eos_token_id",
                                             "decoder_start_token_id"};
    const int toks[3] = {c.pad_token_id, c.eos_token_id, c.decoder_start_token_id};
    for (int i = 0; i < 3; i++)
        if (toks[i] >= c.vocab_size) {
            rc = t5_errf(err, T5_EFORMAT,
                         "config.json: %s %d is outside the vocabulary "
                         "(vocab_size %d)",
                         tok_names[i], toks[i], c.vocab_size);
            goto out;
        }
    *cfg = c;
out:
    cJSON_Delete(root);
    return rc;
}
