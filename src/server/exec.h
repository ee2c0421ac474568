/* exec.h - the executors behind the scheduler seam (src/sched/sched.h):
 * each turns a batch of t5_infer_req payloads into results.
 *
 *  - the T5 executor: tokenizes, runs t5_generate on the instance's own
 *    engine (requests with different generation parameters share one call),
 *    detokenizes;
 *  - the identity executor (backend: "identity"): echoes each text, for tests
 *    of the server that need no model, optionally sleeping delay_us per
 *    execution to make queueing observable.
 */
#ifndef T5_SERVER_EXEC_H
#define T5_SERVER_EXEC_H

#include "sched/inflight.h"
#include "sched/sched.h"
#include "server/model_config.h"
#include "t5_engine.h"

/* One executor on a new engine over model m (shared, not owned). */
int t5_exec_t5_create(t5_executor *out, t5_model *m, const t5_mcfg *cfg, t5_err *err);
int t5_exec_identity_create(t5_executor *out, const t5_mcfg *cfg, t5_err *err);

/* For the in-flight scheduler: the T5 executor's compute input (tokenize)
 * and output (detokenize) as a t5_seq_codec over t5_infer_req payloads, and
 * an engine sized from the config. */
int t5_exec_t5_codec(t5_seq_codec *c, const t5_model *m);
int t5_exec_t5_engine(t5_engine **out, t5_model *m, const t5_mcfg *cfg, t5_err *err);

#endif
