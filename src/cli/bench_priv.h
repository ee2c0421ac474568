/* bench_priv.h - what `t5serve bench`'s HTTP load generator shares between
 * its thread-per-connection client (cmd_bench.c) and its event-loop client
 * (bench_evloop.c). Private to src/cli. */
#ifndef T5_BENCH_PRIV_H
#define T5_BENCH_PRIV_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct bench {
    char host[256];
    int port;
    const char *model, *endpoint;
    char **queries;
    char **qparams; /* per query: JSON object members without braces, or NULL */
    long qnext;     /* where the next level starts reading queries: levels do not replay
                       the same lines (that would flatter a response cache) */
    int n_queries;
    int batch, max_new_tokens, min_new_tokens, num_beams;
    long n_requests; /* per level; 0: use duration */
    double duration_s;
    int warmup;
    double profile_s; /* --time-profile: p99 per window of this many seconds of arrivals */
    char **bodies; /* one per query index (batch starting there) */
    size_t *body_len;
    char path[512];
} bench;

/* One level of load: its requests, arrival times and results. */
typedef struct level {
    bench *b;
    int rate_mode;
    double rate;
    int threads;
    double *arrivals; /* rate mode: send time of request i, seconds from t0 */
    long total;       /* requests to send (0: until the deadline) */
    double t0, deadline;
    atomic_long next;
    double *lat; /* seconds, per completed request */
    double *at;  /* its scheduled start, seconds from t0 (rate mode) */
    atomic_long n_lat;
    long cap_lat;
    atomic_long errors, late;
    int loops, conns_per_loop; /* the event-loop client (--event-loops) */
    int preopen;               /* connections each loop opens before t0 */
    atomic_int loop_next;      /* which loop index the next loop thread takes */
} level;

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bench_connect(const bench *b);
int bench_head(const bench *b, size_t len, char *out, size_t cap);
/* Records one finished request: its latency (seconds) or an error, and
 * when it was due to start (absolute, bench_now_s's clock). */
void bench_record(level *L, int status, double latency, double t_start);
/* The event-loop client: loop `index` of L->loops sends arrivals index,
 * index + loops, ... over up to L->conns_per_loop keep-alive connections. */
void *bench_evloop_main(void *arg);

#endif
