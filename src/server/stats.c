/* stats.c - see stats.h. */
#include "server/stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int t5_mstats_init(t5_mstats *s, int max_batch)
{
    memset(s, 0, sizeof *s);
    if (max_batch < 1)
        max_batch = 1;
    s->batch = calloc((size_t)max_batch + 1, sizeof *s->batch);
    if (!s->batch)
        return T5_ENOMEM;
    s->max_batch = max_batch;
    pthread_mutex_init(&s->mu, NULL);
    return 0;
}

void t5_mstats_destroy(t5_mstats *s)
{
    if (!s->batch)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->batch);
    s->batch = NULL;
}

static uint64_t d(uint64_t a, uint64_t b)
{
    return b > a ? b - a : 0;
}

void t5_mstats_request(t5_mstats *s, int ok, int rows, uint64_t t_arrive, uint64_t t_start,
                       uint64_t t_input, uint64_t t_infer, uint64_t t_end, uint64_t t_done)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&s->mu);
    s->last_inference_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint64_t total = d(t_arrive, t_done);
    s->request_duration_ns += total;
    if (ok) {
        s->inference_count += (uint64_t)rows;
        s->success.count++;
        s->success.ns += total;
        s->queue.count++;
        s->queue.ns += d(t_arrive, t_start);
        s->compute_input.count++;
        s->compute_input.ns += d(t_start, t_input);
        s->compute_infer.count++;
        s->compute_infer.ns += d(t_input, t_infer);
        s->compute_output.count++;
        s->compute_output.ns += d(t_infer, t_end);
    } else {
        s->fail.count++;
        s->fail.ns += total;
    }
    pthread_mutex_unlock(&s->mu);
}

void t5_mstats_cache_hit(t5_mstats *s, int rows, uint64_t t_arrive, uint64_t t_done,
                         uint64_t lookup_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    (void)rows; /* Triton: cached requests are not inferences */
    pthread_mutex_lock(&s->mu);
    s->last_inference_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint64_t total = d(t_arrive, t_done);
    s->request_duration_ns += total;
    s->success.count++;
    s->success.ns += total;
    s->cache_hit.count++;
    s->cache_hit.ns += lookup_ns;
    pthread_mutex_unlock(&s->mu);
}

void t5_mstats_cache_miss(t5_mstats *s, uint64_t ns)
{
    pthread_mutex_lock(&s->mu);
    s->cache_miss.count++;
    s->cache_miss.ns += ns;
    pthread_mutex_unlock(&s->mu);
}

void t5_mstats_exec(t5_mstats *s, int rows, uint64_t input_ns, uint64_t infer_ns,
                    uint64_t output_ns)
{
    pthread_mutex_lock(&s->mu);
    s->execution_count++;
    if (rows > s->max_batch)
        rows = s->max_batch;
    if (rows < 0)
        rows = 0;
    t5_batch_stat *b = &s->batch[rows];
    b->count++;
    b->input_ns += input_ns;
    b->infer_ns += infer_ns;
    b->output_ns += output_ns;
    pthread_mutex_unlock(&s->mu);
}

static void add_dur(cJSON *o, const char *k, t5_dur v)
{
    cJSON *x = cJSON_AddObjectToObject(o, k);
    cJSON_AddNumberToObject(x, "count", (double)v.count);
    cJSON_AddNumberToObject(x, "ns", (double)v.ns);
}

cJSON *t5_mstats_json(t5_mstats *s, const char *name, const char *version)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "version", version);
    pthread_mutex_lock(&s->mu);
    cJSON_AddNumberToObject(o, "last_inference", (double)s->last_inference_ms);
    cJSON_AddNumberToObject(o, "inference_count", (double)s->inference_count);
    cJSON_AddNumberToObject(o, "execution_count", (double)s->execution_count);
    cJSON *is = cJSON_AddObjectToObject(o, "inference_stats");
    add_dur(is, "success", s->success);
    add_dur(is, "fail", s->fail);
    add_dur(is, "queue", s->queue);
    add_dur(is, "compute_input", s->compute_input);
    add_dur(is, "compute_infer", s->compute_infer);
    add_dur(is, "compute_output", s->compute_output);
    add_dur(is, "cache_hit", s->cache_hit);
    add_dur(is, "cache_miss", s->cache_miss);
    cJSON *bs = cJSON_AddArrayToObject(o, "batch_stats");
    for (int i = 1; i <= s->max_batch; i++) {
        const t5_batch_stat *b = &s->batch[i];
        if (!b->count)
            continue;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "batch_size", i);
        add_dur(x, "compute_input", (t5_dur){b->count, b->input_ns});
        add_dur(x, "compute_infer", (t5_dur){b->count, b->infer_ns});
        add_dur(x, "compute_output", (t5_dur){b->count, b->output_ns});
        cJSON_AddItemToArray(bs, x);
    }
    pthread_mutex_unlock(&s->mu);
    cJSON_AddArrayToObject(o, "memory_usage");
    return o;
}

static const struct {
    const char *name, *type, *help;
} families[T5_METRIC_N] = {
    {"nv_inference_request_success", "counter",
     "Number of successful inference requests, all batch sizes"},
    {"nv_inference_request_failure", "counter",
     "Number of failed inference requests, all batch sizes"},
    {"nv_inference_count", "counter",
     "Number of inferences performed (does not include cached requests)"},
    {"nv_inference_exec_count", "counter",
     "Number of model executions performed (does not include cached requests)"},
    {"nv_inference_request_duration_us", "counter",
     "Cumulative inference request duration in microseconds (includes cached requests)"},
    {"nv_inference_queue_duration_us", "counter",
     "Cumulative inference queuing duration in microseconds (includes cached requests)"},
    {"nv_inference_compute_input_duration_us", "counter",
     "Cumulative compute input duration in microseconds (does not include cached requests)"},
    {"nv_inference_compute_infer_duration_us", "counter",
     "Cumulative compute inference duration in microseconds (does not include cached requests)"},
    {"nv_inference_compute_output_duration_us", "counter",
     "Cumulative inference compute output duration in microseconds (does not include cached "
     "requests)"},
    {"nv_inference_pending_request_count", "gauge",
     "Instantaneous number of pending requests awaiting execution per-model."},
    {"nv_cache_num_hits_per_model", "counter", "Number of cache hits per model"},
    {"nv_cache_num_misses_per_model", "counter", "Number of cache misses per model"},
    {"nv_cache_hit_duration_per_model", "counter",
     "Total cache hit duration per model, in microseconds"},
    {"nv_cache_miss_duration_per_model", "counter",
     "Total cache miss (insert + lookup) duration per model, in microseconds"},
};

void t5_metric_header(int which, t5_buf *out)
{
    t5_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[which].name, families[which].help,
                  families[which].name, families[which].type);
}

void t5_mstats_metric(t5_mstats *s, int which, const char *name, const char *version, int pending,
                      t5_buf *out)
{
    uint64_t v = 0;
    pthread_mutex_lock(&s->mu);
    switch (which) {
    case 0: v = s->success.count; break;
    case 1: v = s->fail.count; break;
    case 2: v = s->inference_count; break;
    case 3: v = s->execution_count; break;
    case 4: v = s->request_duration_ns / 1000u; break;
    case 5: v = s->queue.ns / 1000u; break;
    case 6: v = s->compute_input.ns / 1000u; break;
    case 7: v = s->compute_infer.ns / 1000u; break;
    case 8: v = s->compute_output.ns / 1000u; break;
    case 9: v = (uint64_t)(pending > 0 ? pending : 0); break;
    case 10: v = s->cache_hit.count; break;
    case 11: v = s->cache_miss.count; break;
    case 12: v = s->cache_hit.ns / 1000u; break;
    case 13: v = s->cache_miss.ns / 1000u; break;
    }
    pthread_mutex_unlock(&s->mu);
    /* Model names come from directory names: escape what Prometheus needs. */
    t5_buf_printf(out, "%s{model=\"", families[which].name);
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            t5_buf_append(out, "\\", 1);
        if (*p == '\n')
            t5_buf_append(out, "\\n", 2);
        else
            t5_buf_append(out, p, 1);
    }
    t5_buf_printf(out, "\",version=\"%s\"} %llu\n", version, (unsigned long long)v);
}
