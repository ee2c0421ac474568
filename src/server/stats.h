/* stats.h - per model-version counters behind Triton's statistics extension
 * and its Prometheus metrics (nv_inference_*). Updated from worker threads,
 * read by the IO thread; one mutex per model version. */
#ifndef T5_SERVER_STATS_H
#define T5_SERVER_STATS_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>

#include "server/util.h"
#include "t5_common.h"

typedef struct t5_dur {
    uint64_t count, ns;
} t5_dur;

typedef struct t5_batch_stat {
    uint64_t count;
    uint64_t input_ns, infer_ns, output_ns;
} t5_batch_stat;

typedef struct t5_mstats {
    pthread_mutex_t mu;
    uint64_t last_inference_ms; /* wall clock, ms since the epoch */
    uint64_t inference_count;   /* rows (texts) inferred successfully */
    uint64_t execution_count;   /* executions (batches) */
    t5_dur success, fail, queue, compute_input, compute_infer, compute_output;
    t5_dur cache_hit, cache_miss;
    uint64_t request_duration_ns; /* all requests, for nv_inference_request_duration_us */
    t5_batch_stat *batch;         /* [max_batch + 1], by batch size */
    int max_batch;
} t5_mstats;

int t5_mstats_init(t5_mstats *s, int max_batch);
void t5_mstats_destroy(t5_mstats *s);

/* One finished request: ok or not, its rows and its timestamps (monotonic
 * ns: arrival at the server, queue exit, compute phases, response ready). */
void t5_mstats_request(t5_mstats *s, int ok, int rows, uint64_t t_arrive, uint64_t t_start,
                       uint64_t t_input, uint64_t t_infer, uint64_t t_end, uint64_t t_done);
/* A request answered from the response cache (lookup_ns: the lookup). */
void t5_mstats_cache_hit(t5_mstats *s, int rows, uint64_t t_arrive, uint64_t t_done,
                         uint64_t lookup_ns);
/* A cacheable request that missed: lookup plus insertion time. */
void t5_mstats_cache_miss(t5_mstats *s, uint64_t ns);
/* One execution of a batch. */
void t5_mstats_exec(t5_mstats *s, int rows, uint64_t input_ns, uint64_t infer_ns,
                    uint64_t output_ns);

/* Triton's $model_stat object. */
cJSON *t5_mstats_json(t5_mstats *s, const char *name, const char *version);

/* Appends this version's samples of each nv_inference_* family. which
 * selects the family (0..T5_METRIC_N-1), so families stay contiguous. */
enum { T5_METRIC_PENDING = 9, T5_METRIC_N = 14 };
void t5_mstats_metric(t5_mstats *s, int which, const char *name, const char *version, int pending,
                      t5_buf *out);
/* The # HELP / # TYPE lines of family which. */
void t5_metric_header(int which, t5_buf *out);

#endif
