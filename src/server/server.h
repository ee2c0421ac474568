/* server.h - the Triton-compatible HTTP server (KServe v2 REST + Triton's
 * extensions) and its Prometheus metrics endpoint.
 *
 *   GET  v2, v2/health/live, v2/health/ready
 *   GET  v2/models/M[/versions/V]            metadata
 *   GET  v2/models/M[/versions/V]/ready|config|stats, v2/models/stats
 *   POST v2/models/M[/versions/V]/infer      JSON or binary tensors
 *   POST v2/models/M[/versions/V]/generate   {"text_input": ..., params}
 *   POST v2/models/M[/versions/V]/generate_stream   server-sent events
 *   POST v2/repository/index, v2/repository/models/M/load|unload (explicit)
 *   GET  /metrics on the metrics port (nv_inference_* counters)
 *
 * Errors are {"error": "..."} with 400 (bad request), 404 (unknown model or
 * version), 413 (body too large), 503 (queue full, timeout, not ready,
 * shutting down) or 500.
 *
 *     t5_server_opts o = t5_server_default_opts();
 *     o.repo_dir = "models";
 *     t5_server *s;
 *     if (t5_server_start(&s, &o, &err) < 0) ...
 *     ... wait for SIGTERM ...
 *     t5_server_shutdown(s, 30);   // drains in-flight work, then stops
 */
#ifndef T5_SERVER_SERVER_H
#define T5_SERVER_SERVER_H

#include <stddef.h>

#include "t5_common.h"

typedef struct t5_server_opts {
    const char *repo_dir;
    const char *host;               /* default 127.0.0.1 */
    int http_port;                  /* default 8000; 0 picks a free one */
    int metrics_port;               /* default 8002; -1 disables metrics */
    int explicit_mode;              /* --model-control-mode explicit */
    const char *const *load_models; /* --load-model names (explicit mode) */
    int n_load_models;
    int verbose;             /* --log-verbose */
    size_t max_body_bytes;   /* largest request body (default 16 MiB) */
    unsigned conn_timeout_s; /* idle connection timeout (default 60) */
    unsigned max_conns;      /* default 1024 */
    int http_threads;        /* IO threads (default 8, as Triton) */
    int strict_readiness;    /* ready only if every model loaded (default 1) */
    size_t cache_bytes;      /* response cache size (0: no cache; models opt in) */
} t5_server_opts;

t5_server_opts t5_server_default_opts(void);

typedef struct t5_server t5_server;

int t5_server_start(t5_server **out, const t5_server_opts *o, t5_err *err);
int t5_server_http_port(const t5_server *s);
int t5_server_metrics_port(const t5_server *s);
/* Stops accepting work, lets accepted requests finish and their responses
 * go out (waiting at most grace_s seconds), then frees everything. */
void t5_server_shutdown(t5_server *s, unsigned grace_s);

#endif
