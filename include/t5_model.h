/* t5_model.h - a Hugging Face T5 checkpoint, loaded onto a backend.
 *
 * A model is immutable once loaded and shared by every engine instance and
 * thread that uses it (Triton's "concurrent model instances" share weights).
 *
 *     t5_model_params mp = t5_model_default_params();
 *     mp.device = T5_DEVICE_CUDA; mp.dtype = T5_F16;
 *     t5_model *m;
 *     t5_err err = {0};
 *     if (t5_model_load(&m, "/models/t5-small", &mp, &err) < 0) ...;
 *     const t5_config *c = t5_model_config(m);
 *     ...
 *     t5_model_free(m);   // after every engine using it is freed
 */
#ifndef T5_MODEL_H
#define T5_MODEL_H

#include "t5_common.h"
#include "t5_tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum t5_act {
    T5_ACT_RELU = 0,
    T5_ACT_GELU_TANH = 1, /* "gelu_new": T5 v1.1, flan-t5, mT5, ByT5 */
    T5_ACT_GELU = 2,      /* exact erf GELU */
    T5_ACT_SILU = 3,
} t5_act;

/* config.json, the fields T5 uses (names as in transformers' T5Config). */
typedef struct t5_config {
    int vocab_size;
    int d_model;
    int d_kv;
    int d_ff;
    int num_layers;         /* encoder layers */
    int num_decoder_layers; /* defaults to num_layers */
    int num_heads;
    int relative_attention_num_buckets;  /* default 32 */
    int relative_attention_max_distance; /* default 128 */
    float layer_norm_epsilon;            /* default 1e-6 */
    t5_act act;                          /* from feed_forward_proj / dense_act_fn */
    int gated;                           /* feed_forward_proj "gated-*": wi_0, wi_1 */
    int tie_word_embeddings; /* default 1; tied => LM head input scaled by d_model^-0.5 */
    int pad_token_id;
    int eos_token_id;
    int decoder_start_token_id;
} t5_config;

typedef struct t5_model t5_model;

typedef struct t5_model_params {
    t5_device device;   /* default CPU */
    t5_dtype dtype;     /* compute dtype; CPU supports fp32 only; default fp32 */
    int device_index;   /* CUDA device ordinal */
    int load_tokenizer; /* default 1: also load the directory's tokenizer if present */
} t5_model_params;

t5_model_params t5_model_default_params(void);

/* Loads config.json + model.safetensors (or the sharded index) from dir.
 * Errors name the file and tensor; a directory holding only
 * pytorch_model.bin gets a message saying how to convert it. */
int t5_model_load(t5_model **out, const char *dir, const t5_model_params *p, t5_err *err);
void t5_model_free(t5_model *m);

const t5_config *t5_model_config(const t5_model *m);
/* The tokenizer found in the model directory, or NULL if there was none. */
const t5_tokenizer *t5_model_tokenizer(const t5_model *m);
t5_device t5_model_device(const t5_model *m);
t5_dtype t5_model_dtype(const t5_model *m);

/* Parses a config.json held in memory (exposed for tests and fuzzing). */
int t5_config_parse(t5_config *cfg, const char *json, size_t len, t5_err *err);

/* Writes a random-weight checkpoint of a known shape ("t5-small", "t5-base",
 * "t5-large", "flan-t5-small", "flan-t5-base", ...) to dir (created). The
 * tokenizer is not written (there is none to write); vocab ids are valid for
 * --input-ids. */
int t5_random_model_write(const char *shape, const char *dir, uint64_t seed, t5_dtype dtype,
                          t5_err *err);

#ifdef __cplusplus
}
#endif
#endif
