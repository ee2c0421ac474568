/* http.c - the HTTP core: libmicrohttpd daemons, request bodies, routing,
 * responses, suspend/resume hand-off, and orderly shutdown. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "server/http.h"

t5_server_opts t5_server_default_opts(void)
{
    t5_server_opts o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.http_port = 8000;
    o.metrics_port = 8002;
    o.max_body_bytes = 16u << 20;
    o.conn_timeout_s = 60;
    o.max_conns = 1024;
    o.http_threads = 8;
    o.strict_readiness = 1;
    return o;
}

unsigned t5_http_status_of(int code)
{
    switch (code) {
    case T5_EINVAL:
    case T5_EFORMAT:
    case T5_ELIMIT:
    case T5_EUNSUP:
    case T5_ECANCELED: return MHD_HTTP_BAD_REQUEST;
    case T5_ENOTFOUND: return MHD_HTTP_NOT_FOUND;
    case T5_EBUSY: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

struct MHD_Response *t5_http_response(t5_buf *buf, const char *ctype)
{
    struct MHD_Response *r;
    if (buf->oom || !buf->p) {
        t5_buf_free(buf);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer_with_free_callback(buf->len, buf->p, free);
        if (!r)
            free(buf->p);
        memset(buf, 0, sizeof *buf);
    }
    if (r && ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return r;
}

enum MHD_Result t5_http_reply(t5_conn *c, unsigned status, const char *ctype, const void *data,
                              size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c->mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result t5_http_json(t5_conn *c, unsigned status, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s)
        return t5_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    enum MHD_Result ret = t5_http_reply(c, status, "application/json", s, strlen(s));
    free(s);
    return ret;
}

enum MHD_Result t5_http_error(t5_conn *c, unsigned status, const char *msg)
{
    t5_buf b = {0};
    t5_error_render(msg, &b);
    if (c->srv->o.verbose)
        fprintf(stderr, "t5serve: %s %s -> %u: %s\n", c->method, c->url, status, msg);
    enum MHD_Result ret =
        t5_http_reply(c, status, "application/json", b.p ? b.p : "{}", b.p ? b.len : 2);
    t5_buf_free(&b);
    return ret;
}

enum MHD_Result t5_http_errcode(t5_conn *c, int code, const char *msg)
{
    return t5_http_error(c, t5_http_status_of(code), msg);
}

void t5_http_suspend(t5_conn *c)
{
    c->waiting = 1;
    MHD_suspend_connection(c->mc);
}

void t5_http_complete(t5_conn *c, unsigned status, struct MHD_Response *resp)
{
    pthread_mutex_lock(&c->mu);
    c->status = status;
    c->resp = resp;
    c->completed = 1;
    int w = c->waiting;
    c->waiting = 0;
    if (w)
        MHD_resume_connection(c->mc);
    pthread_mutex_unlock(&c->mu);
}

/* Splits the path into at most cap segments (in place); -1 if longer. */
static int split_path(char *p, char **seg, int cap)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == cap)
            return -1;
        seg[n++] = t;
    }
    return n;
}

static enum MHD_Result route(t5_conn *c)
{
    char path[1024];
    size_t ul = strlen(c->url);
    if (ul >= sizeof path)
        return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
    memcpy(path, c->url, ul + 1);
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    char *seg[10];
    int n = split_path(path, seg, 10);
    if (n < 1 || strcmp(seg[0], "v2"))
        return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
    int get = !strcmp(c->method, "GET"), post = !strcmp(c->method, "POST");
    if (n == 1 || !strcmp(seg[1], "health")) {
        if (!get)
            return t5_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
        return t5_ep_server(c, n, seg);
    }
    if (!strcmp(seg[1], "repository")) {
        if (!post)
            return t5_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
        return t5_ep_repository(c, n, seg);
    }
    if (strcmp(seg[1], "models"))
        return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
    if (n == 3 && !strcmp(seg[2], "stats")) {
        if (!get)
            return t5_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
        return t5_ep_stats_all(c);
    }
    if (n < 3)
        return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
    const char *model = seg[2], *version = NULL, *action = NULL;
    int i = 3;
    if (n >= 5 && !strcmp(seg[3], "versions")) {
        version = seg[4];
        i = 5;
    }
    if (i < n)
        action = seg[i++];
    if (i != n)
        return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
    if (action && (!strcmp(action, "infer") || !strcmp(action, "generate") ||
                   !strcmp(action, "generate_stream"))) {
        if (!post)
            return t5_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
        int kind = !strcmp(action, "infer")      ? T5_REQ_INFER
                   : !strcmp(action, "generate") ? T5_REQ_GENERATE
                                                 : T5_REQ_STREAM;
        return t5_ep_infer(c, model, version, kind);
    }
    if (!get)
        return t5_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
    return t5_ep_model(c, model, version, action);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    t5_server *s = cls;
    t5_conn *c = *con_cls;
    (void)version;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->srv = s;
        c->mc = mc;
        c->url = url;
        c->method = method;
        c->t_arrive = t5_now_ns();
        c->fd = -1;
        pthread_mutex_init(&c->mu, NULL);
        *con_cls = c;
        atomic_fetch_add(&s->active, 1);
        const char *cl =
            MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body_bytes) {
            /* Answer before reading the body; MHD closes the connection. */
            char m[128];
            snprintf(m, sizeof m, "request body of %.20s bytes exceeds the limit of %zu bytes", cl,
                     s->o.max_body_bytes);
            return t5_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, m);
        }
        return MHD_YES;
    }
    if (c->completed) {
        /* Resumed: a worker left the response (NULL: it could not build
         * one, so close the connection rather than answer twice). */
        pthread_mutex_lock(&c->mu);
        struct MHD_Response *r = c->resp;
        unsigned st = c->status;
        c->resp = NULL;
        pthread_mutex_unlock(&c->mu);
        if (!r)
            return MHD_NO;
        enum MHD_Result ret = MHD_queue_response(mc, st, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (*upload_size) {
        if (!c->too_big) {
            if (c->body.len + *upload_size > s->o.max_body_bytes) {
                c->too_big = 1;
                t5_buf_free(&c->body);
            } else if (t5_buf_append(&c->body, upload, *upload_size) < 0) {
                c->too_big = 1;
                t5_buf_free(&c->body);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (c->too_big) {
        char m[128];
        snprintf(m, sizeof m, "request body exceeds the limit of %zu bytes", s->o.max_body_bytes);
        return t5_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, m);
    }
    if (c->waiting)
        return MHD_YES;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? ci->connect_fd : -1;
    return route(c);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    t5_server *s = cls;
    t5_conn *c = *con_cls;
    (void)mc;
    (void)toe;
    if (!c)
        return;
    /* A worker may still be inside t5_http_complete (MHD can finish a
     * resumed request whose client left without calling the handler):
     * taking the lock waits until it has let go of c. */
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&c->mu);
    if (c->resp)
        MHD_destroy_response(c->resp);
    t5_mver_unref(c->mv);
    t5_infer_req_clear(&c->ir);
    t5_buf_free(&c->body);
    t5_buf_free(&c->cache_key);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    t5_server *s = cls;
    (void)version;
    (void)upload;
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    t5_buf b = {0};
    unsigned st = MHD_HTTP_OK;
    if (strcmp(method, "GET")) {
        st = MHD_HTTP_METHOD_NOT_ALLOWED;
        t5_buf_printf(&b, "method not allowed\n");
    } else if (strcmp(url, "/metrics")) {
        st = MHD_HTTP_NOT_FOUND;
        t5_buf_printf(&b, "not found: the metrics are at /metrics\n");
    } else {
        t5_metrics_render(s, &b);
    }
    struct MHD_Response *r = t5_http_response(&b, "text/plain; version=0.0.4; charset=utf-8");
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(mc, st, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *start_daemon(t5_server *s, int port, int threads,
                                       MHD_AccessHandlerCallback h, int with_notify, t5_err *err)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, s->o.host, &sa.sin_addr) != 1) {
        t5_errf(err, T5_EINVAL, "--host %s is not an IPv4 address", s->o.host);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    /* libmicrohttpd's own messages (a client that left mid-request, ...) at
     * --log-verbose 2 and up: at scale they are noise, not errors. */
    if (s->o.verbose >= 2)
        flags |= MHD_USE_ERROR_LOG;
    /* poll(), not epoll: with epoll, libmicrohttpd 0.9.75 misses a client's
     * FIN that arrives together with a partial body, and the request stays
     * open until the idle timeout; poll notices at once, and is as fast for
     * the connection counts an inference server sees. */
    flags |= MHD_USE_POLL;
    struct MHD_OptionItem opts[8];
    int k = 0;
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sa};
    opts[k++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->o.max_conns, NULL};
    opts[k++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->o.conn_timeout_s, NULL};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
    if (threads > 1)
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
    if (with_notify)
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, h, s,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d)
        t5_errf(err, T5_EIO, "cannot listen on %s:%d (in use?)", s->o.host, port);
    return d;
}

static int bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : -1;
}

int t5_server_start(t5_server **out, const t5_server_opts *o, t5_err *err)
{
    *out = NULL;
    t5_server *s = calloc(1, sizeof *s);
    if (!s)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    s->o = *o;
    if (!s->o.host)
        s->o.host = "127.0.0.1";
    if (s->o.http_threads < 1)
        s->o.http_threads = 1;
    /* Every connection is a file descriptor: raise the soft open-files limit
     * to fit max_conns (and 256 for models, logs and the metrics port), up
     * to the hard limit; past that, serve fewer connections and say so. */
    struct rlimit rl;
    rlim_t want = (rlim_t)s->o.max_conns + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < want) {
            s->o.max_conns = rl.rlim_cur > 512 ? (unsigned)(rl.rlim_cur - 256)
                                               : (unsigned)(rl.rlim_cur / 2);
            fprintf(stderr, "t5serve: the open-files limit (%llu) allows %u HTTP connections\n",
                    (unsigned long long)rl.rlim_cur, s->o.max_conns);
        }
    }
    if (o->cache_bytes && t5_rcache_create(&s->cache, o->cache_bytes) < 0) {
        free(s);
        return t5_errf(err, T5_ENOMEM, "cannot create a response cache of %zu bytes",
                       o->cache_bytes);
    }
    t5_repo_opts ro = {o->repo_dir, o->explicit_mode, o->verbose};
    int rc = t5_repo_open(&s->repo, &ro, err);
    if (rc < 0) {
        t5_rcache_free(s->cache);
        free(s);
        return rc;
    }
    for (int i = 0; i < o->n_load_models; i++) {
        t5_err le = {0};
        t5_repo_load(s->repo, o->load_models[i], &le);
    }
    s->http = start_daemon(s, o->http_port, s->o.http_threads, on_request, 1, err);
    if (s->http && o->metrics_port >= 0)
        s->metrics = start_daemon(s, o->metrics_port, 1, on_metrics, 0, err);
    if (!s->http || (o->metrics_port >= 0 && !s->metrics)) {
        if (s->http)
            MHD_stop_daemon(s->http);
        t5_repo_close(s->repo);
        t5_rcache_free(s->cache);
        free(s);
        return err ? err->code : T5_EIO;
    }
    s->http_port = bound_port(s->http);
    s->metrics_port = s->metrics ? bound_port(s->metrics) : -1;
    *out = s;
    return 0;
}

int t5_server_http_port(const t5_server *s)
{
    return s->http_port;
}
int t5_server_metrics_port(const t5_server *s)
{
    return s->metrics_port;
}

void t5_server_shutdown(t5_server *s, unsigned grace_s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    /* Finish what was accepted: every queued request is computed and its
     * connection resumed with the response. */
    t5_repo_drain(s->repo);
    uint64_t deadline = t5_now_ns() + (uint64_t)grace_s * 1000000000u;
    while ((atomic_load(&s->active) > 0 || atomic_load(&s->jobs) > 0) && t5_now_ns() < deadline) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->active) > 0)
        fprintf(stderr, "t5serve: %d request%s still open after %u s; closing them\n",
                atomic_load(&s->active), atomic_load(&s->active) == 1 ? "" : "s", grace_s);
    /* Jobs (load/unload) hold suspended connections; wait them out. */
    while (atomic_load(&s->jobs) > 0) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->http);
    if (s->metrics)
        MHD_stop_daemon(s->metrics);
    t5_repo_close(s->repo);
    t5_rcache_free(s->cache);
    free(s);
}
