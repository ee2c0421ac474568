/* t5_engine.h - running a loaded T5 model: encoder, step-wise decoder, search.
 *
 * Three levels, each built on the one below, so the server's request-level
 * batcher and the in-flight (iteration-level) scheduler use the same code:
 *
 *  1. t5_engine: one execution context (a CUDA stream or a CPU thread team)
 *     with preallocated buffers and two pools of sequence slots:
 *       - cross slots hold the encoder K/V of one request (computed once);
 *       - self slots hold the decoder self-attention KV cache of one
 *         hypothesis (a beam search request uses num_beams self slots that
 *         share one cross slot).
 *     t5_engine_encode() runs the encoder for a batch of requests and fills
 *     their cross slots; t5_engine_step() runs one decoder step for any set of
 *     rows (each row: a self slot, a cross slot, a position, a token) and
 *     returns per-row top-k log-probabilities (and full logits on request).
 *     Nothing is allocated inside encode/step.
 *  2. t5_gen: the decoding state machine of one request (greedy, beam search
 *     with Hugging Face semantics, or sampling). It says which rows it wants
 *     stepped, consumes their outputs, and knows when it is finished.
 *  3. t5_generate(): runs a batch of requests to completion (encode once,
 *     step until every t5_gen is done). Used by the CLI and the batcher.
 *
 * An engine is used by one thread at a time; create one engine per model
 * instance. Engines of one model share its weights.
 *
 *     t5_engine_params ep = t5_engine_default_params();
 *     t5_engine *e;
 *     t5_engine_create(&e, model, &ep, &err);
 *     t5_gen_params gp = t5_gen_default_params();
 *     gp.num_beams = 4;
 *     const int32_t *ids[1] = {input}; int32_t lens[1] = {n};
 *     t5_gen_result res[1];
 *     t5_generate(e, 1, ids, lens, &gp, res, &err);
 *     // res[0].seqs[0].ids, .n_ids, .score
 *     t5_gen_result_clear(&res[0]);
 *     t5_engine_free(e);
 */
#ifndef T5_ENGINE_H
#define T5_ENGINE_H

#include "t5_common.h"
#include "t5_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. the engine ------------------------------------------------------ */

typedef struct t5_engine t5_engine;

typedef struct t5_engine_params {
    int max_batch;      /* most rows in one step / requests in one encode (default 64) */
    int max_slots;      /* self slots; cross slots = max_slots too (default max_batch) */
    int max_input_len;  /* longest encoder input (default 512) */
    int max_output_len; /* longest decoder sequence incl. start token (default 256) */
    int n_threads;      /* CPU backend threads (0: all cores) */
} t5_engine_params;

t5_engine_params t5_engine_default_params(void);

int t5_engine_create(t5_engine **out, t5_model *m, const t5_engine_params *p, t5_err *err);
void t5_engine_free(t5_engine *e);
const t5_model *t5_engine_model(const t5_engine *e);
const t5_engine_params *t5_engine_params_of(const t5_engine *e);

/* Encodes n requests (n <= max_batch; each len in 1..max_input_len) and
 * writes each one's cross-attention K/V for every decoder layer into
 * cross_slots[i]. Inputs of different lengths are padded and masked, so each
 * request gets exactly what it would get alone. If enc_out is non-NULL it
 * receives the final (normed) encoder hidden states, fp32, request after
 * request, lens[i] x d_model each (for parity tests). */
int t5_engine_encode(t5_engine *e, int n, const int32_t *cross_slots, const int32_t *const *ids,
                     const int32_t *lens, float *enc_out, t5_err *err);

/* t5_engine_encode in two halves, for schedulers that overlap the encoder
 * with decoder steps: _start checks and issues the work (on the GPU, on the
 * engine's own encoder stream; ids and lens may be reused once it returns)
 * and _wait finishes it, after which the slots may be stepped. In between
 * the caller may run t5_engine_step on rows that use none of these cross
 * slots, and may not start another encode. On the CPU _start does all the
 * work. _wait with nothing started returns 0. */
int t5_engine_encode_start(t5_engine *e, int n, const int32_t *cross_slots,
                           const int32_t *const *ids, const int32_t *lens, t5_err *err);
int t5_engine_encode_wait(t5_engine *e, t5_err *err);

enum {
    T5_ROW_NO_EOS = 1 << 0, /* mask EOS (min_new_tokens not reached yet) */
    T5_ROW_LOGITS = 1 << 1, /* also return this row's full logits (sampling, debugging) */
};

typedef struct t5_step_row {
    int32_t self_slot;  /* decoder KV cache slot */
    int32_t cross_slot; /* encoder K/V slot filled by t5_engine_encode */
    int32_t pos;        /* position of `token` in the decoder sequence (0 = start token) */
    int32_t token;      /* the decoder input token at pos */
    int32_t flags;      /* T5_ROW_* */
} t5_step_row;

typedef struct t5_step_out {
    int k;          /* top-k per row requested by the caller (1..2*max beams) */
    float *logprob; /* [n * k] log-softmax values, best first (caller-owned) */
    int32_t *ids;   /* [n * k] their token ids */
    float *logits;  /* [n * vocab] raw logits for rows with T5_ROW_LOGITS, or NULL */
} t5_step_out;

/* One decoder step for n rows: embeds each row's token, appends its K/V at
 * `pos` in its self slot, attends over positions 0..pos and over its cross
 * slot, and returns the top-k log-probabilities (log-softmax over the whole
 * vocabulary; EOS masked to -inf after the softmax for T5_ROW_NO_EOS rows, as
 * Hugging Face's MinNewTokensLengthLogitsProcessor does in beam search). */
int t5_engine_step(t5_engine *e, int n, const t5_step_row *rows, t5_step_out *out, t5_err *err);

/* t5_engine_step in two halves, so the caller can work while the GPU steps:
 * _start checks the rows and issues the step (rows may be reused once it
 * returns; out is written by _wait, and out->logits asynchronously before
 * it), _wait finishes it. In between the caller may start or wait for an
 * encode, and may not step, copy slots or read out. On the CPU _start does
 * all the work. _wait with nothing started returns 0. */
int t5_engine_step_start(t5_engine *e, int n, const t5_step_row *rows, t5_step_out *out,
                         t5_err *err);
int t5_engine_step_wait(t5_engine *e, t5_err *err);

/* Up to T5_ENGINE_CHAIN_STEPS greedy steps of n <= T5_ENGINE_CHAIN_ROWS rows
 * issued at once, the tokens fed back on the device: step 0 runs rows as
 * given (T5_ROW_LOGITS not allowed); step s > 0 runs each row at pos + s on
 * the top-1 token of step s-1, with EOS masked where no_eos[s*n + r] is set
 * (no_eos NULL: never). ids / logprob [n_steps * n], step-major, get each
 * step's top-1. What a row gets after its first EOS is unspecified (the
 * caller stops there); a GPU skips steps in which every row has ended. One
 * host round trip for all the steps instead of one each: for latency at
 * small batches. */
#define T5_ENGINE_CHAIN_STEPS 16
#define T5_ENGINE_CHAIN_ROWS 4
int t5_engine_steps_greedy(t5_engine *e, int n, const t5_step_row *rows, int n_steps,
                           const uint8_t *no_eos, int32_t *ids, float *logprob, t5_err *err);

/* Copies self-slot caches (positions [0, len)) from src[i] to dst[i] for
 * beam-search reordering. dst and src may overlap (a permutation): the result
 * is as if every read happened before any write. */
/* Runs the encoder once and one decoder step at every row count a step is
 * padded to (top-k 1, 2, 4 ... max_topk), so that graph captures and GEMM
 * algorithm choices happen now rather than under the first requests. Leaves
 * every slot empty. Cheap on the CPU; worth calling at model load on CUDA. */
int t5_engine_warmup(t5_engine *e, int max_topk, t5_err *err);

int t5_engine_copy_slots(t5_engine *e, int n, const int32_t *dst, const int32_t *src, int len,
                         t5_err *err);

/* ---- 2. one request's decoding ------------------------------------------ */

typedef struct t5_gen_params {
    int max_new_tokens;       /* default 20 (as transformers' generate) */
    int min_new_tokens;       /* default 0 */
    int num_beams;            /* default 1 */
    int num_return_sequences; /* default 1; <= num_beams unless sampling */
    float length_penalty;     /* default 1.0 */
    int early_stopping;       /* default 0 (false); 1 true; -1 "never" */
    int do_sample;            /* default 0 */
    float temperature;        /* default 1.0 */
    int top_k;                /* default 50, 0 = off (transformers' default) */
    float top_p;              /* default 1.0 */
    uint64_t seed;            /* sampling seed */
} t5_gen_params;

t5_gen_params t5_gen_default_params(void);
/* Checks ranges against the engine's limits; message names the parameter. */
int t5_gen_params_check(const t5_gen_params *p, const t5_engine_params *ep, t5_err *err);

typedef struct t5_gen_seq {
    int32_t *ids; /* generated ids, without the decoder start token, EOS included if generated */
    int n_ids;
    float score; /* Hugging Face's sequence score (beam: sum logprob / len^penalty; greedy/sample:
                    mean logprob per token, see docs) */
} t5_gen_seq;

typedef struct t5_gen_result {
    int n_seqs;
    t5_gen_seq *seqs; /* best first */
} t5_gen_result;

void t5_gen_result_clear(t5_gen_result *r);

typedef struct t5_gen t5_gen;

/* How many self slots a request with these parameters occupies. */
int t5_gen_slots_needed(const t5_gen_params *p);

/* A request whose cross K/V is in cross_slot, decoding into self_slots[0..
 * t5_gen_slots_needed-1] (owned by the caller's slot pool). */
int t5_gen_create(t5_gen **out, const t5_model *m, const t5_gen_params *p, int32_t cross_slot,
                  const int32_t *self_slots, t5_err *err);
void t5_gen_free(t5_gen *g);
/* Fills rows for the next step (at most t5_gen_slots_needed) and returns how
 * many; 0 once finished. */
int t5_gen_rows(t5_gen *g, t5_step_row *rows);
/* Consumes the outputs of its rows (row_off: where its rows started in the
 * step's out arrays). May reorder its slots through t5_engine_copy_slots. */
int t5_gen_advance(t5_gen *g, t5_engine *e, const t5_step_out *out, int row_off, t5_err *err);
int t5_gen_done(const t5_gen *g);
/* Moves the finished sequences into res (the caller clears res later). */
int t5_gen_take_result(t5_gen *g, t5_gen_result *res, t5_err *err);
/* The top-k the next step must return for this request's rows. */
int t5_gen_topk(const t5_gen *g);

/* ---- 3. whole requests ---------------------------------------------------- */

/* Runs n requests (n <= max_batch, each with its own params; params may point
 * to one struct if per_request is 0) to completion. results[i] receives the
 * num_return_sequences best sequences of request i. */
int t5_generate(t5_engine *e, int n, const int32_t *const *ids, const int32_t *lens,
                const t5_gen_params *params, int per_request, t5_gen_result *results, t5_err *err);

/* Callbacks into t5_generate_ex's loop, for callers that stream tokens or
 * drop requests whose client went away. Any may be NULL. */
typedef struct t5_gen_hooks {
    void *user;
    /* Once per decoder step, before the rows are gathered. */
    void (*begin_step)(void *user);
    /* The rows request i is about to step (what t5_gen_rows gave). */
    void (*on_rows)(void *user, int i, const t5_step_row *rows, int n_rows);
    /* Asked once per step for every live request: nonzero drops request i
     * at once (its slots are freed; results[i] stays empty). */
    int (*cancelled)(void *user, int i);
} t5_gen_hooks;

/* t5_generate with hooks (NULL: none). */
int t5_generate_ex(t5_engine *e, int n, const int32_t *const *ids, const int32_t *lens,
                   const t5_gen_params *params, int per_request, t5_gen_result *results,
                   const t5_gen_hooks *hooks, t5_err *err);

#ifdef __cplusplus
}
#endif
#endif
