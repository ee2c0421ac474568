/* inflight.h - iteration-level ("in-flight") batching for encoder-decoder
 * models, behind the same t5_sched seam as the request-level batcher.
 *
 * Each model instance has a worker thread that owns a t5_engine. Between
 * two decoder steps the worker admits queued requests whose rows fit the
 * free sequence slots (their encoders run together as one batch and their
 * cross K/V land in free slots), steps every live sequence of every request
 * together, and retires sequences as soon as they finish: a request is
 * answered the moment its last row is done, and its slots serve the next
 * request at the following step. A short request never waits for a long one.
 *
 * The scheduler does not know what a request's payload is: a codec turns a
 * row into token ids and generation parameters (compute input) and takes
 * each finished row's sequences (compute output).
 *
 *     t5_seq_codec codec = {.ctx = c, .input = my_tokenize, .output = my_detok};
 *     t5_sched *s;
 *     t5_sched_inflight_create(&s, &cfg, engines, n_instances, &codec, NULL, NULL, &err);
 *     t5_sched_submit(s, req, &err);   // as with the batcher
 */
#ifndef T5_SCHED_INFLIGHT_H
#define T5_SCHED_INFLIGHT_H

#include "sched/sched.h"
#include "t5_engine.h"

typedef struct t5_seq_codec {
    void *ctx;
    /* Compute input for row `row` of r: writes at most cap token ids and the
     * row's generation parameters. Returns the number of ids (> cap or < 1
     * fails the request with a limit error), or a negative code with err. */
    int (*input)(void *ctx, t5_sched_req *r, int row, int32_t *ids, int cap, t5_gen_params *gp,
                 t5_err *err);
    /* Called once per request, before its first output, after all its rows
     * were accepted (e.g. to allocate the result rows). May be NULL. */
    int (*begin)(void *ctx, t5_sched_req *r, t5_err *err);
    /* Compute output for a finished row; takes over res's contents (the
     * codec clears it). */
    int (*output)(void *ctx, t5_sched_req *r, int row, t5_gen_result *res, t5_err *err);
    /* Optional, for streaming: the token a one-hypothesis row (greedy or
     * one sampled sequence) generated at the previous step, delivered just
     * before it is fed back in. The last token of a row reaches only
     * output(). May be NULL. */
    void (*token)(void *ctx, t5_sched_req *r, int row, int32_t token);
} t5_seq_codec;

/* One worker per engine; takes ownership of the engines (freed with the
 * scheduler, also on failure). cfg supplies the queue policy and priorities;
 * max_batch_size bounds a request's rows. Each engine's max_batch bounds the
 * rows stepped together and its max_slots the live sequences. */
int t5_sched_inflight_create(t5_sched **out, const t5_sched_config *cfg, t5_engine **engines,
                             int n_engines, const t5_seq_codec *codec, t5_sched_exec_cb on_exec,
                             void *exec_user, t5_err *err);

#endif
