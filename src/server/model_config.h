/* model_config.h - Triton's ModelConfig, the fields t5serve uses.
 *
 * Parsed from REPO/NAME/config.pbtxt (protobuf text format); a model with no
 * config.pbtxt gets t5_mcfg_default() (max_batch_size 8, dynamic batching
 * with no delay, one instance, text_input -> text_output / output_ids /
 * sequence_score). Rendered back as Triton's JSON form for
 * GET v2/models/NAME/config.
 *
 * Fields: name, backend ("t5serve"; "identity" echoes for tests), platform,
 * max_batch_size, input, output, dynamic_batching { preferred_batch_size,
 * max_queue_delay_microseconds, priority_levels, default_priority_level,
 * default_queue_policy, priority_queue_policy }, instance_group [ { count,
 * kind, gpus } ], version_policy, response_cache { enable }, and
 * parameters { key: K value: { string_value: V } } with these keys:
 *   generation defaults: max_new_tokens, min_new_tokens, num_beams,
 *     num_return_sequences, length_penalty, early_stopping, do_sample,
 *     temperature, top_k, top_p, seed
 *   limits: max_input_tokens (per text, default 128), max_output_tokens
 *     (bound on max_new_tokens, default 128), max_num_beams (default 4)
 *   placement: device (cpu|cuda), dtype (fp32|fp16|bf16), n_threads
 *   scheduler: inflight (default for T5 models) or dynamic (default for identity)
 *   delay_us: the identity backend's execution time (tests)
 *
 *     t5_mcfg cfg;
 *     if (t5_mcfg_parse(text, len, "speller", &cfg, &err) < 0) ...
 *     cJSON *j = t5_mcfg_to_json(&cfg);
 */
#ifndef T5_SERVER_MODEL_CONFIG_H
#define T5_SERVER_MODEL_CONFIG_H

#include <cjson/cJSON.h>

#include "sched/sched.h"
#include "t5_engine.h"

#define T5_MCFG_NAME 128
#define T5_MCFG_MAX_IO 8
#define T5_MCFG_MAX_GROUPS 8
#define T5_MCFG_MAX_GPUS 16
#define T5_MCFG_MAX_PARAMS 32

enum { T5_KIND_AUTO = 0, T5_KIND_CPU = 1, T5_KIND_GPU = 2 };

typedef struct t5_mcfg_io {
    char name[64];
    char data_type[24]; /* "TYPE_STRING", "TYPE_INT32", "TYPE_FP32" */
    int64_t dims[8];
    int n_dims;
    int optional;
} t5_mcfg_io;

typedef struct t5_mcfg_group {
    char name[T5_MCFG_NAME];
    int count;
    int kind; /* T5_KIND_* */
    int gpus[T5_MCFG_MAX_GPUS];
    int n_gpus;
} t5_mcfg_group;

typedef struct t5_mcfg_param {
    char key[64];
    char value[256];
} t5_mcfg_param;

typedef struct t5_mcfg {
    char name[T5_MCFG_NAME];
    char backend[64];
    char platform[64];
    int max_batch_size;
    t5_mcfg_io input[T5_MCFG_MAX_IO];
    int n_input;
    t5_mcfg_io output[T5_MCFG_MAX_IO];
    int n_output;
    int dynamic_batching;  /* the block is present */
    t5_sched_config sched; /* max_batch_size, preferred sizes, delay, priorities, policy */
    t5_mcfg_group group[T5_MCFG_MAX_GROUPS];
    int n_group;
    t5_mcfg_param param[T5_MCFG_MAX_PARAMS];
    int n_param;
    int response_cache;
    /* version_policy: latest { num_versions } (default 1), all, specific */
    int vp_kind; /* 0 latest, 1 all, 2 specific */
    int vp_latest_n;
    int64_t vp_versions[16];
    int n_vp_versions;

    /* Derived from parameters { key: ... value: { string_value: ... } }. */
    t5_gen_params gen;          /* generation defaults for requests */
    int max_input_tokens;       /* limit per text (default 128) */
    int max_output_tokens;      /* limit on max_new_tokens (default 128) */
    int max_num_beams;          /* limit (default 4) */
    char device[16];            /* "" (from instance kind), "cpu", "cuda" */
    char dtype[16];             /* "" (fp16 on GPU, fp32 on CPU) */
    int n_threads;              /* CPU threads per instance (0: let the backend choose) */
    char scheduler[16];         /* "inflight" (default for T5) or "dynamic"; see repo.c */
    char lexicon[128];          /* "" or a file name in the version directory (reranking) */
    float lexicon_margin;       /* score margin of the reranking (default INFINITY) */
    double lexicon_prior;       /* word-frequency prior of the reranking (default 0: none) */
    int lowercase_input;        /* the model sees lower case (wordmap.h) */
    char word_chars[128];       /* "" or the bytes of the words the model sees (wordmap.h) */
    char keep_words[128];       /* "" or a file name in the version directory (wordmap.h) */
    char accept_words[128];     /* "" or a file name in the version directory: inputs of these
                                   words come back unchanged from a reranked beam search */
    uint64_t identity_delay_us; /* the identity test backend sleeps this long per execution */
} t5_mcfg;

/* Defaults for a model directory without config.pbtxt. */
void t5_mcfg_default(t5_mcfg *c, const char *name);

/* Parses config.pbtxt text. A name in the file must match dir_name (as
 * Triton requires). Errors name the field and line. */
int t5_mcfg_parse(const char *text, size_t len, const char *dir_name, t5_mcfg *c, t5_err *err);

/* Triton's JSON form of the config. */
cJSON *t5_mcfg_to_json(const t5_mcfg *c);

/* A parameter's string value, or NULL. */
const char *t5_mcfg_param_get(const t5_mcfg *c, const char *key);

/* Total instances over all instance groups (>= 1). */
int t5_mcfg_instances(const t5_mcfg *c);

#endif
