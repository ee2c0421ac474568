/* http.h - private to src/server: the connection state shared by the HTTP
 * core (http.c) and the endpoint groups (ep_*.c).
 *
 * The IO thread (libmicrohttpd's) reads a request and either answers it at
 * once (health, metadata, config, statistics) or hands it to a worker (infer
 * and generate go to the model's scheduler; repository load/unload to a job
 * thread) and suspends the connection. The worker renders the response and
 * resumes the connection; the IO thread then sends it.
 */
#ifndef T5_SERVER_HTTP_H
#define T5_SERVER_HTTP_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "sched/rcache.h"
#include "sched/sched.h"
#include "server/infer.h"
#include "server/repo.h"
#include "server/server.h"
#include "server/util.h"

struct t5_server {
    t5_server_opts o;
    t5_repo *repo;
    t5_rcache *cache; /* response cache, or NULL */
    struct MHD_Daemon *http, *metrics;
    int http_port, metrics_port;
    atomic_int active;   /* requests between first byte and completion */
    atomic_int jobs;     /* load/unload threads running */
    atomic_int stopping; /* SIGTERM: refuse new work */
};

enum { T5_REQ_OTHER = 0, T5_REQ_INFER, T5_REQ_GENERATE, T5_REQ_STREAM };

typedef struct t5_conn {
    t5_server *srv;
    struct MHD_Connection *mc;
    const char *url, *method;
    uint64_t t_arrive;
    t5_buf body;
    int too_big;
    int fd;
    /* async hand-off: set under mu by the worker, read by the IO thread */
    pthread_mutex_t mu;
    int waiting;
    int completed; /* a worker handed over the outcome (resp may be NULL on OOM) */
    struct MHD_Response *resp;
    unsigned status;
    /* an inference in flight */
    int kind;
    t5_mver *mv;
    t5_infer_req ir;
    t5_sched_req sr;
    t5_buf cache_key; /* set when the result should be cached */
    uint64_t cache_lookup_ns;
    /* a repository job */
    char job_model[T5_MCFG_NAME];
    int job_load;
} t5_conn;

/* Responses. Each returns the MHD result for the access handler. */
enum MHD_Result t5_http_reply(t5_conn *c, unsigned status, const char *ctype, const void *data,
                              size_t len);
enum MHD_Result t5_http_json(t5_conn *c, unsigned status, cJSON *j); /* frees j */
enum MHD_Result t5_http_error(t5_conn *c, unsigned status, const char *msg);
enum MHD_Result t5_http_errcode(t5_conn *c, int code, const char *msg);
unsigned t5_http_status_of(int code);

/* Builds a response object (takes buf) for the async path. */
struct MHD_Response *t5_http_response(t5_buf *buf, const char *ctype);
/* From a worker or job thread: hands the response over and resumes. */
void t5_http_complete(t5_conn *c, unsigned status, struct MHD_Response *resp);
/* From the IO thread: marks c as waiting and suspends it; call with c->mu
 * held, right after handing c to a worker. */
void t5_http_suspend(t5_conn *c);

/* Endpoint groups. path segments: seg[0] == "v2". */
enum MHD_Result t5_ep_server(t5_conn *c, int n, char **seg); /* v2, v2/health/... */
enum MHD_Result t5_ep_model(t5_conn *c, const char *model, const char *version,
                            const char *action); /* metadata, ready, config, stats */
enum MHD_Result t5_ep_stats_all(t5_conn *c);
enum MHD_Result t5_ep_infer(t5_conn *c, const char *model, const char *version, int kind);
enum MHD_Result t5_ep_repository(t5_conn *c, int n, char **seg);
/* generate_stream after parsing: takes the reference on v and c->ir. */
enum MHD_Result t5_ep_stream(t5_conn *c, t5_mver *v);

/* The metrics endpoint's body. */
void t5_metrics_render(t5_server *s, t5_buf *out);

#endif
