/* infer.h - one inference request as the server sees it: what the client
 * sent (texts, generation parameters, which outputs in which encoding) and
 * what the executor produced. Parsed from the KServe v2 infer body (JSON,
 * optionally followed by binary tensor data) or from the generate
 * extension's body; rendered back into the matching response.
 *
 *     t5_infer_req r;
 *     t5_infer_limits lim = {...};
 *     if (t5_infer_parse(&r, body, len, header_len, &lim, &err) < 0) ... 400 ...
 *     ... executor fills r.res ...
 *     t5_infer_render(&r, "speller", "1", &out, &json_len);  // binary if asked
 *     t5_infer_req_clear(&r);
 */
#ifndef T5_SERVER_INFER_H
#define T5_SERVER_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "server/util.h"
#include "t5_engine.h"

enum {
    T5_OUT_TEXT = 1 << 0,  /* text_output, BYTES [B, K] */
    T5_OUT_IDS = 1 << 1,   /* output_ids, INT32 [B, K, L] (padded with 0) */
    T5_OUT_SCORE = 1 << 2, /* sequence_score, FP32 [B, K] */
};

typedef struct t5_infer_limits {
    int max_rows;          /* most texts per request (max_batch_size, or 1) */
    size_t max_text_bytes; /* longest text */
    int max_new_tokens;    /* limit on the max_new_tokens parameter */
    int max_num_beams;
    int priority_levels;
    const char *model_name; /* for messages */
    t5_gen_params defaults; /* the model's generation defaults */
} t5_infer_limits;

typedef struct t5_infer_seq {
    char *text; /* NUL-terminated, malloc'd */
    size_t text_len;
    int32_t *ids; /* malloc'd */
    int n_ids;
    float score;
} t5_infer_seq;

typedef struct t5_infer_row {
    int n_seqs;
    t5_infer_seq *seqs; /* malloc'd */
} t5_infer_row;

typedef struct t5_infer_req t5_infer_req;
struct t5_infer_req {
    char id[256];
    int has_id;
    int rows;          /* texts */
    const char **text; /* [rows], pointers into arena */
    size_t *text_len;  /* [rows] */
    char *arena;
    int shape2d; /* the input was [B, 1] rather than [B] */
    t5_gen_params gp;
    int seed_set; /* the request named its seed (sampling is cacheable) */
    int priority;
    uint64_t timeout_us;
    int outputs;       /* T5_OUT_* requested */
    int binary;        /* T5_OUT_* to send as binary tensor data */
    int generate;      /* from the generate extension */
    t5_infer_row *res; /* [rows], filled by the executor */

    /* generate_stream: set by the server. The executor calls on_delta from
     * its thread with each new piece of text of row 0 (greedy or sampled,
     * one sequence), and polls gone() between decoder steps to drop a
     * request whose client left. */
    int stream;
    void (*on_delta)(struct t5_infer_req *r, const char *text, size_t len);
    int (*gone)(struct t5_infer_req *r);
    void *stream_user;
    /* streaming state, owned by the executor, freed by t5_infer_req_clear */
    int32_t *s_ids;
    int s_n, s_cap;
    char *s_text; /* the text sent so far (NUL-terminated) */
    size_t s_text_len;
};

/* Parses a v2 infer body. header_len: the Inference-Header-Content-Length
 * (the JSON part), or 0 if the whole body is JSON. Errors (T5_EINVAL,
 * T5_ELIMIT) carry Triton-style messages. */
int t5_infer_parse(t5_infer_req *r, const char *body, size_t len, size_t header_len,
                   const t5_infer_limits *lim, t5_err *err);

/* Parses a generate / generate_stream body: {"text_input": "..." or [...],
 * "parameters": {...}, ...}. */
int t5_generate_parse(t5_infer_req *r, const char *body, size_t len, const t5_infer_limits *lim,
                      t5_err *err);

/* Renders the v2 infer response. *json_len receives the JSON part's length
 * (== out->len unless binary outputs follow). */
int t5_infer_render(const t5_infer_req *r, const char *model, const char *version, t5_buf *out,
                    size_t *json_len);

/* Renders the generate response object (one JSON object, no newline). */
int t5_generate_render(const t5_infer_req *r, const char *model, const char *version, t5_buf *out);

/* Renders {"error": msg} with JSON escaping. */
int t5_error_render(const char *msg, t5_buf *out);

void t5_infer_req_clear(t5_infer_req *r);

#endif
