/* exec.h - the executors behind the scheduler seam (src/sched/sched.h):
 * each turns a batch of t5_infer_req payloads into results.
 *
 *  - the T5 executor: tokenizes, runs t5_generate on the instance's own
 *    engine (requests with different generation parameters share one call),
 *    detokenizes, and reranks beams by a lexicon when the model names one;
 *  - the identity executor (backend: "identity"): echoes each text, for tests
 *    of the server that need no model, optionally sleeping delay_us per
 *    execution to make queueing observable.
 */
#ifndef T5_SERVER_EXEC_H
#define T5_SERVER_EXEC_H

#include "sched/inflight.h"
#include "sched/sched.h"
#include "server/infer.h"
#include "server/model_config.h"
#include "t5_engine.h"

/* The T5 executor's output stage, one per model version, shared by its
 * executors and its in-flight codec: the lexicon of parameter "lexicon" (a
 * file in vdir, loaded once; see lexicon.h), lexicon_margin and lexicon_prior. A bad
 * lexicon file fails with a message naming it. */
typedef struct t5_t5_output t5_t5_output;
int t5_exec_t5_output_create(t5_t5_output **out, const t5_mcfg *cfg, const char *vdir, t5_err *err);
/* After every executor and scheduler using it is freed. */
void t5_exec_t5_output_free(t5_t5_output *o);

/* One executor on a new engine over model m (shared, not owned); o (shared,
 * may be NULL: no reranking) outlives it. */
int t5_exec_t5_create(t5_executor *out, t5_model *m, const t5_mcfg *cfg, const t5_t5_output *o,
                      t5_err *err);
int t5_exec_identity_create(t5_executor *out, const t5_mcfg *cfg, t5_err *err);

/* For the in-flight scheduler: the T5 executor's compute input (tokenize)
 * and output (detokenize, rerank) as a t5_seq_codec over t5_infer_req
 * payloads, with o (which records m's tokenizer) as its context, and an
 * engine sized from the config. */
int t5_exec_t5_codec(t5_seq_codec *c, const t5_model *m, t5_t5_output *o);
int t5_exec_t5_engine(t5_engine **out, t5_model *m, const t5_mcfg *cfg, t5_err *err);

/* Records m's tokenizer in o (the codec does too), for t5_exec_t5_accepted. */
void t5_exec_t5_output_bind(t5_t5_output *o, const t5_model *m);
/* A request that needs no model: it is reranked (a lexicon and a beam
 * search), asks for one sequence a row and its text only, and the accept
 * list takes every row (whose tokens are within max_input_tokens). Then
 * ir->res holds each input as compute output would return it (the accepted
 * input first) and this returns 1; otherwise (also when out of memory) 0,
 * and ir is as it was. */
int t5_exec_t5_accepted(const t5_t5_output *o, t5_infer_req *ir);

#endif
