/* test_config.c - config.json parsing against transformers' T5Config.
 *
 * Expected values are what transformers 5.24 reports for the same JSON
 * (T5Config.from_dict(...)): defaults, the activation rules
 * (feed_forward_proj / dense_act_fn / is_gated_act), the LM-head rescale
 * (tie_word_embeddings / scale_decoder_outputs), and refusal of nonsense. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "t5_model.h"

static int parse(const char *json, t5_config *c, t5_err *err)
{
    memset(err, 0, sizeof *err);
    return t5_config_parse(c, json, strlen(json), err);
}

static void test_defaults(void)
{
    t5_config c;
    t5_err err;
    CHECK_EQ_INT(parse("{}", &c, &err), 0);
    CHECK_EQ_INT(c.vocab_size, 32128);
    CHECK_EQ_INT(c.d_model, 512);
    CHECK_EQ_INT(c.d_kv, 64);
    CHECK_EQ_INT(c.d_ff, 2048);
    CHECK_EQ_INT(c.num_layers, 6);
    CHECK_EQ_INT(c.num_decoder_layers, 6);
    CHECK_EQ_INT(c.num_heads, 8);
    CHECK_EQ_INT(c.relative_attention_num_buckets, 32);
    CHECK_EQ_INT(c.relative_attention_max_distance, 128);
    CHECK(c.layer_norm_epsilon == 1e-6f);
    CHECK_EQ_INT(c.act, T5_ACT_RELU);
    CHECK_EQ_INT(c.gated, 0);
    CHECK_EQ_INT(c.tie_word_embeddings, 1);
    CHECK_EQ_INT(c.pad_token_id, 0);
    CHECK_EQ_INT(c.eos_token_id, 1);
    CHECK_EQ_INT(c.decoder_start_token_id, 0);
}

/* The published configs, trimmed to the fields T5 reads. */
static void test_published(void)
{
    t5_config c;
    t5_err err;
    /* t5-small: no feed_forward_proj, no tie_word_embeddings. */
    CHECK_EQ_INT(parse("{\"d_ff\":2048,\"d_kv\":64,\"d_model\":512,\"decoder_start_token_id\":0,"
                       "\"eos_token_id\":1,\"layer_norm_epsilon\":1e-06,\"n_positions\":512,"
                       "\"num_heads\":8,\"num_layers\":6,\"pad_token_id\":0,"
                       "\"relative_attention_num_buckets\":32,\"vocab_size\":32128,"
                       "\"task_specific_params\":{\"summarization\":{\"prefix\":\"x\"}}}",
                       &c, &err),
                 0);
    CHECK_EQ_INT(c.act, T5_ACT_RELU);
    CHECK_EQ_INT(c.gated, 0);
    CHECK_EQ_INT(c.tie_word_embeddings, 1);
    /* flan-t5-small. */
    CHECK_EQ_INT(parse("{\"d_ff\":1024,\"d_kv\":64,\"d_model\":512,\"decoder_start_token_id\":0,"
                       "\"dense_act_fn\":\"gelu_new\",\"eos_token_id\":1,"
                       "\"feed_forward_proj\":\"gated-gelu\",\"is_encoder_decoder\":true,"
                       "\"layer_norm_epsilon\":1e-06,\"model_type\":\"t5\",\"n_positions\":512,"
                       "\"num_decoder_layers\":8,\"num_heads\":6,\"num_layers\":8,"
                       "\"pad_token_id\":0,\"relative_attention_max_distance\":128,"
                       "\"relative_attention_num_buckets\":32,\"tie_word_embeddings\":false,"
                       "\"vocab_size\":32128}",
                       &c, &err),
                 0);
    CHECK_EQ_INT(c.act, T5_ACT_GELU_TANH);
    CHECK_EQ_INT(c.gated, 1);
    CHECK_EQ_INT(c.tie_word_embeddings, 0);
    CHECK_EQ_INT(c.num_heads * c.d_kv, 384);
    CHECK_EQ_INT(c.num_decoder_layers, 8);
    /* byt5-small: different layer counts, byte vocabulary. */
    CHECK_EQ_INT(parse("{\"d_ff\":3584,\"d_kv\":64,\"d_model\":1472,\"feed_forward_proj\":"
                       "\"gated-gelu\",\"num_decoder_layers\":4,\"num_heads\":6,\"num_layers\":12,"
                       "\"tie_word_embeddings\":false,\"vocab_size\":384,\"eos_token_id\":1,"
                       "\"pad_token_id\":0,\"model_type\":\"t5\"}",
                       &c, &err),
                 0);
    CHECK_EQ_INT(c.num_layers, 12);
    CHECK_EQ_INT(c.num_decoder_layers, 4);
    CHECK_EQ_INT(c.vocab_size, 384);
    CHECK_EQ_INT(c.act, T5_ACT_GELU_TANH);
}

static void test_activations(void)
{
    static const struct {
        const char *json;
        int act, gated;
    } cases[] = {
        {"{\"feed_forward_proj\":\"relu\"}", T5_ACT_RELU, 0},
        {"{\"feed_forward_proj\":\"gated-gelu\"}", T5_ACT_GELU_TANH, 1},
        {"{\"feed_forward_proj\":\"gelu\"}", T5_ACT_GELU, 0},
        {"{\"feed_forward_proj\":\"gated-silu\"}", T5_ACT_SILU, 1},
        {"{\"feed_forward_proj\":\"gated-relu\"}", T5_ACT_RELU, 1},
        {"{\"feed_forward_proj\":\"gated-gelu_new\"}", T5_ACT_GELU_TANH, 1},
        {"{\"feed_forward_proj\":\"silu\"}", T5_ACT_SILU, 0},
        {"{\"feed_forward_proj\":\"gated-gelu_pytorch_tanh\"}", T5_ACT_GELU_TANH, 1},
        /* dense_act_fn, when present, wins (transformers sets it after
         * deriving it from feed_forward_proj). */
        {"{\"feed_forward_proj\":\"gated-gelu\",\"dense_act_fn\":\"relu\"}", T5_ACT_RELU, 1},
        {"{\"feed_forward_proj\":\"gated-silu\",\"dense_act_fn\":\"gelu_new\"}", T5_ACT_GELU_TANH,
         1},
        /* So does is_gated_act, which transformers 5 writes into configs. */
        {"{\"feed_forward_proj\":\"relu\",\"is_gated_act\":true}", T5_ACT_RELU, 1},
        {"{\"feed_forward_proj\":\"gated-gelu\",\"is_gated_act\":false}", T5_ACT_GELU_TANH, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t5_config c;
        t5_err err;
        int rc = parse(cases[i].json, &c, &err);
        CHECK_MSG(rc == 0, "%s: %s", cases[i].json, err.msg);
        CHECK_MSG((int)c.act == cases[i].act && c.gated == cases[i].gated, "%s: act %d gated %d",
                  cases[i].json, c.act, c.gated);
    }
}

static void test_rescale(void)
{
    static const struct {
        const char *json;
        int scale;
    } cases[] = {
        {"{}", 1},
        {"{\"tie_word_embeddings\":true}", 1},
        {"{\"tie_word_embeddings\":false}", 0},
        /* transformers 5 writes tie_word_embeddings true for every model and
         * keeps the rescale decision in scale_decoder_outputs. */
        {"{\"tie_word_embeddings\":true,\"scale_decoder_outputs\":false}", 0},
        {"{\"scale_decoder_outputs\":false}", 0},
        {"{\"tie_word_embeddings\":false,\"scale_decoder_outputs\":true}", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t5_config c;
        t5_err err;
        CHECK_EQ_INT(parse(cases[i].json, &c, &err), 0);
        CHECK_MSG(c.tie_word_embeddings == cases[i].scale, "%s", cases[i].json);
    }
}

static void test_tokens_and_misc(void)
{
    t5_config c;
    t5_err err;
    CHECK_EQ_INT(parse("{\"num_layers\":3}", &c, &err), 0);
    CHECK_EQ_INT(c.num_decoder_layers, 3);
    CHECK_EQ_INT(parse("{\"num_layers\":3,\"num_decoder_layers\":null}", &c, &err), 0);
    CHECK_EQ_INT(c.num_decoder_layers, 3);
    CHECK_EQ_INT(parse("{\"pad_token_id\":5}", &c, &err), 0);
    CHECK_EQ_INT(c.decoder_start_token_id, 5); /* defaults to pad */
    CHECK_EQ_INT(parse("{\"pad_token_id\":5,\"decoder_start_token_id\":7}", &c, &err), 0);
    CHECK_EQ_INT(c.decoder_start_token_id, 7);
    CHECK_EQ_INT(parse("{\"eos_token_id\":[3,4]}", &c, &err), 0);
    CHECK_EQ_INT(c.eos_token_id, 3);
    CHECK_EQ_INT(parse("{\"layer_norm_epsilon\":0.001,\"relative_attention_num_buckets\":16,"
                       "\"relative_attention_max_distance\":20}",
                       &c, &err),
                 0);
    CHECK(c.layer_norm_epsilon == 0.001f);
    CHECK_EQ_INT(c.relative_attention_num_buckets, 16);
    CHECK_EQ_INT(c.relative_attention_max_distance, 20);
    CHECK_EQ_INT(parse("{\"d_model\":512.0}", &c, &err), 0); /* an integral float is fine */
}

static void test_rejects(void)
{
    static const struct {
        const char *json;
        int code;
        const char *needle;
    } cases[] = {
        {"", T5_EFORMAT, "not valid JSON"},
        {"{\"d_model\":", T5_EFORMAT, "not valid JSON"},
        {"[1,2]", T5_EFORMAT, "not a JSON object"},
        {"{\"d_model\":0}", T5_EFORMAT, "d_model"},
        {"{\"d_model\":-4}", T5_EFORMAT, "d_model"},
        {"{\"d_model\":\"512\"}", T5_EFORMAT, "d_model"},
        {"{\"d_model\":512.5}", T5_EFORMAT, "d_model"},
        {"{\"d_model\":1e12}", T5_EFORMAT, "d_model"},
        {"{\"vocab_size\":0}", T5_EFORMAT, "vocab_size"},
        {"{\"vocab_size\":1e300}", T5_EFORMAT, "vocab_size"},
        {"{\"num_heads\":0}", T5_EFORMAT, "num_heads"},
        {"{\"num_layers\":100000}", T5_EFORMAT, "num_layers"},
        {"{\"num_decoder_layers\":0}", T5_EFORMAT, "num_decoder_layers"},
        {"{\"d_ff\":-1}", T5_EFORMAT, "d_ff"},
        {"{\"num_heads\":1000,\"d_kv\":1000}", T5_EFORMAT, "num_heads * d_kv"},
        {"{\"relative_attention_num_buckets\":2}", T5_EFORMAT, "relative_attention_num_buckets"},
        {"{\"relative_attention_max_distance\":16}", T5_EFORMAT, "relative_attention_max_distance"},
        {"{\"layer_norm_epsilon\":0}", T5_EFORMAT, "layer_norm_epsilon"},
        {"{\"layer_norm_epsilon\":1e-60}", T5_EFORMAT, "layer_norm_epsilon"},
        {"{\"vocab_size\":1}", T5_EFORMAT, "eos_token_id 1 is outside"},
        {"{\"layer_norm_epsilon\":\"x\"}", T5_EFORMAT, "layer_norm_epsilon"},
        {"{\"feed_forward_proj\":\"gated-gelu-fast\"}", T5_EFORMAT, "feed_forward_proj"},
        {"{\"feed_forward_proj\":\"double-gelu\"}", T5_EFORMAT, "feed_forward_proj"},
        {"{\"feed_forward_proj\":42}", T5_EFORMAT, "feed_forward_proj"},
        {"{\"feed_forward_proj\":\"gated-tanh\"}", T5_EUNSUP, "tanh"},
        {"{\"dense_act_fn\":\"mish\"}", T5_EUNSUP, "mish"},
        {"{\"tie_word_embeddings\":1}", T5_EFORMAT, "tie_word_embeddings"},
        {"{\"vocab_size\":100,\"eos_token_id\":100}", T5_EFORMAT, "eos_token_id"},
        {"{\"pad_token_id\":-1}", T5_EFORMAT, "pad_token_id"},
        {"{\"eos_token_id\":[]}", T5_EFORMAT, "eos_token_id"},
        {"{\"decoder_start_token_id\":40000}", T5_EFORMAT, "decoder_start_token_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t5_config c;
        t5_err err;
        int rc = parse(cases[i].json, &c, &err);
        CHECK_MSG(rc == cases[i].code && err.code == rc, "%s: rc %d", cases[i].json, rc);
        CHECK_MSG(strstr(err.msg, cases[i].needle) != NULL, "%s: message '%s' lacks '%s'",
                  cases[i].json, err.msg, cases[i].needle);
    }
    /* A length shorter than the string: only the prefix is parsed. */
    t5_config c;
    t5_err err = {0};
    CHECK(t5_config_parse(&c, "{\"d_model\": 5}", 5, &err) < 0);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_published);
    RUN(test_activations);
    RUN(test_rescale);
    RUN(test_tokens_and_misc);
    RUN(test_rejects);
    return check_summary();
}
