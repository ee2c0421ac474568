/* ep_stream.c - POST .../generate_stream: server-sent events as tokens come.
 *
 * The response (200, text/event-stream, chunked) is queued at once; its
 * body is produced by a t5_sjob that the worker feeds: one event per new
 * piece of text (from the executor's on_delta), then a final event with the
 * rest of the text and any requested scores/ids, or an error event. When the
 * IO thread has sent everything buffered it suspends the connection from the
 * content reader, and the next push resumes it.
 *
 * The job is shared by the response (freed when the request ends, possibly
 * early because the client left) and the scheduler (until on_done), so it
 * carries a reference count; the scheduler request and its payload live in
 * the job, never in the connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"

typedef struct t5_sjob {
    pthread_mutex_t mu;
    int refs;
    t5_buf q; /* bytes not yet handed to MHD, from qoff */
    size_t qoff;
    int finished;
    int gone;      /* the response was freed: the client is gone */
    int suspended; /* the content reader suspended the connection */
    struct MHD_Connection *mc;
    t5_server *srv;
    t5_mver *mv;
    uint64_t t_arrive;
    t5_infer_req ir;
    t5_sched_req sr;
} t5_sjob;

static void sjob_release(t5_sjob *j)
{
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    t5_mver_unref(j->mv);
    t5_infer_req_clear(&j->ir);
    t5_buf_free(&j->q);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* Queues bytes for the client; finish marks the end of the stream. */
static void sjob_push(t5_sjob *j, const char *data, size_t len, int finish)
{
    pthread_mutex_lock(&j->mu);
    if (!j->gone && len)
        t5_buf_append(&j->q, data, len);
    if (finish)
        j->finished = 1;
    if (j->suspended) {
        j->suspended = 0;
        MHD_resume_connection(j->mc);
    }
    pthread_mutex_unlock(&j->mu);
}

static ssize_t sjob_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    t5_sjob *j = cls;
    (void)pos;
    pthread_mutex_lock(&j->mu);
    ssize_t n;
    if (j->qoff < j->q.len && !j->q.oom) {
        size_t k = j->q.len - j->qoff;
        if (k > max)
            k = max;
        memcpy(buf, j->q.p + j->qoff, k);
        j->qoff += k;
        if (j->qoff == j->q.len)
            j->q.len = j->qoff = 0;
        n = (ssize_t)k;
    } else if (j->finished || j->q.oom) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Nothing to send yet: park the connection until the next push. */
        j->suspended = 1;
        MHD_suspend_connection(j->mc);
        n = 0;
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

static void sjob_response_freed(void *cls)
{
    t5_sjob *j = cls;
    pthread_mutex_lock(&j->mu);
    j->gone = 1;
    pthread_mutex_unlock(&j->mu);
    sjob_release(j);
}

static int sjob_gone(t5_sjob *j)
{
    pthread_mutex_lock(&j->mu);
    int g = j->gone;
    pthread_mutex_unlock(&j->mu);
    return g;
}

static int req_gone(t5_infer_req *ir)
{
    return sjob_gone(ir->stream_user);
}
static int sched_gone(t5_sched_req *r)
{
    return sjob_gone(r->user);
}

/* "data: {json}\n\n" */
static void push_event(t5_sjob *j, cJSON *o, int finish)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    t5_buf b = {0};
    t5_buf_append(&b, "data: ", 6);
    if (s)
        t5_buf_append(&b, s, strlen(s));
    t5_buf_append(&b, "\n\n", 2);
    free(s);
    sjob_push(j, b.p, b.oom ? 0 : b.len, finish);
    t5_buf_free(&b);
}

static cJSON *event(t5_sjob *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model_name", j->mv->name);
    cJSON_AddStringToObject(o, "model_version", j->mv->vstr);
    return o;
}

static void on_delta(t5_infer_req *ir, const char *text, size_t len)
{
    t5_sjob *j = ir->stream_user;
    char *t = strndup(text, len);
    if (!t)
        return;
    cJSON *o = event(j);
    cJSON_AddStringToObject(o, "text_output", t);
    free(t);
    push_event(j, o, 0);
}

static void stream_done(t5_sched_req *r)
{
    t5_sjob *j = r->user;
    t5_infer_req *ir = &j->ir;
    int ok = r->status == 0;
    if (!ok) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", r->err.msg[0] ? r->err.msg : t5_strerror(r->status));
        push_event(j, o, 1);
    } else if (ir->s_text_len == 0) {
        /* Nothing streamed (beam search, or an empty text): one event with it all. */
        t5_buf b = {0};
        t5_buf_append(&b, "data: ", 6);
        t5_generate_render(ir, j->mv->name, j->mv->vstr, &b);
        t5_buf_append(&b, "\n\n", 2);
        sjob_push(j, b.p, b.oom ? 0 : b.len, 1);
        t5_buf_free(&b);
    } else {
        const t5_infer_seq *s = ir->res && ir->res[0].n_seqs ? &ir->res[0].seqs[0] : NULL;
        const char *rest = "";
        if (s && s->text && s->text_len >= ir->s_text_len &&
            !memcmp(s->text, ir->s_text, ir->s_text_len))
            rest = s->text + ir->s_text_len;
        cJSON *o = event(j);
        cJSON_AddStringToObject(o, "text_output", rest);
        if (s && (ir->outputs & T5_OUT_SCORE))
            cJSON_AddNumberToObject(o, "sequence_score", s->score);
        if (s && (ir->outputs & T5_OUT_IDS)) {
            cJSON *a = cJSON_AddArrayToObject(o, "output_ids");
            for (int i = 0; i < s->n_ids; i++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber(s->ids[i]));
        }
        push_event(j, o, 1);
    }
    t5_mstats_request(&j->mv->stats, ok, ir->rows, j->t_arrive, r->t_start_ns, r->t_input_ns,
                      r->t_infer_ns, r->t_end_ns, t5_now_ns());
    sjob_release(j);
}

enum MHD_Result t5_ep_stream(t5_conn *c, t5_mver *v)
{
    t5_sjob *j = calloc(1, sizeof *j);
    if (!j) {
        t5_mver_unref(v);
        return t5_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    pthread_mutex_init(&j->mu, NULL);
    j->refs = 2; /* the response and the scheduler */
    j->mc = c->mc;
    j->srv = c->srv;
    j->mv = v;
    j->t_arrive = c->t_arrive;
    j->ir = c->ir; /* the job owns the request from here */
    memset(&c->ir, 0, sizeof c->ir);
    j->ir.stream = 1;
    j->ir.on_delta = on_delta;
    j->ir.gone = req_gone;
    j->ir.stream_user = j;
    t5_sched_req *r = &j->sr;
    r->rows = j->ir.rows;
    r->priority = j->ir.priority;
    r->timeout_us = j->ir.timeout_us;
    r->payload = &j->ir;
    r->user = j;
    r->on_done = stream_done;
    r->is_cancelled = sched_gone;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sjob_read,
                                                                  j, sjob_response_freed);
    if (!resp) {
        j->refs = 1;
        sjob_release(j);
        return t5_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    t5_err err = {0};
    if (t5_sched_submit(v->sched, r, &err) < 0) {
        uint64_t now = t5_now_ns();
        t5_mstats_request(&v->stats, 0, 0, c->t_arrive, now, now, now, now, now);
        j->refs = 1; /* the scheduler never took it; the response's free callback drops the rest */
        MHD_destroy_response(resp);
        return t5_http_errcode(c, err.code ? err.code : T5_EBUSY, err.msg);
    }
    enum MHD_Result ret = MHD_queue_response(c->mc, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}
