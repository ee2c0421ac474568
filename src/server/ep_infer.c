/* ep_infer.c - POST .../infer and .../generate (and the parsing half of
 * .../generate_stream, which ep_stream.c serves).
 *
 * The IO thread parses and validates the body, then submits the request to
 * the model version's scheduler and suspends the connection. The completion
 * callback runs on the worker: it renders the response there (keeping the IO
 * thread free), records the statistics and resumes the connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cache.h"
#include "server/exec.h"
#include "server/http.h"

static int client_gone(t5_sched_req *r)
{
    t5_conn *c = r->user;
    return t5_socket_closed(c->fd);
}

/* The response for c->ir's results (ok) or for the error msg. */
static struct MHD_Response *render(t5_conn *c, t5_mver *v, int code, const char *msg, unsigned *st,
                                   int *ok)
{
    t5_buf b = {0};
    const char *ctype = "application/json";
    size_t jlen = 0;
    int binary = 0;
    *ok = code == 0;
    *st = MHD_HTTP_OK;
    if (!*ok) {
        *st = t5_http_status_of(code);
        t5_error_render(msg && msg[0] ? msg : t5_strerror(code), &b);
    } else if (c->kind == T5_REQ_INFER) {
        if (t5_infer_render(&c->ir, v->name, v->vstr, &b, &jlen) < 0) {
            *ok = 0;
            *st = MHD_HTTP_INTERNAL_SERVER_ERROR;
            t5_buf_free(&b);
            t5_error_render("out of memory rendering the response", &b);
        }
        binary = *ok && jlen != b.len;
    } else {
        t5_generate_render(&c->ir, v->name, v->vstr, &b);
    }
    if (binary)
        ctype = "application/octet-stream";
    struct MHD_Response *resp = t5_http_response(&b, ctype);
    if (resp && binary) {
        char h[32];
        snprintf(h, sizeof h, "%zu", jlen);
        MHD_add_response_header(resp, "Inference-Header-Content-Length", h);
    }
    return resp;
}

/* Stores a computed result under the key made at lookup. */
static void cache_insert(t5_conn *c, t5_mver *v)
{
    uint64_t t0 = t5_now_ns();
    t5_buf val = {0};
    if (t5_cache_value(&c->ir, &val) == 0)
        t5_rcache_put(c->srv->cache, c->cache_key.p, c->cache_key.len, val.p, val.len);
    t5_buf_free(&val);
    t5_mstats_cache_miss(&v->stats, c->cache_lookup_ns + (t5_now_ns() - t0));
}

static void infer_done(t5_sched_req *r)
{
    t5_conn *c = r->user;
    t5_mver *v = c->mv;
    unsigned st;
    int ok;
    struct MHD_Response *resp = render(c, v, r->status, r->err.msg, &st, &ok);
    if (ok && c->cache_key.len)
        cache_insert(c, v);
    t5_mstats_request(&v->stats, ok, c->ir.rows, c->t_arrive, r->t_start_ns, r->t_input_ns,
                      r->t_infer_ns, r->t_end_ns, t5_now_ns());
    if (!ok && c->srv->o.verbose)
        fprintf(stderr, "t5serve: %s %s -> %u: %s\n", c->method, c->url, st, r->err.msg);
    c->mv = NULL;
    t5_mver_unref(v);
    t5_http_complete(c, st, resp);
}

/* Answers from the response cache if the model uses it and the result is
 * there (returns 1 with *ret set); otherwise keeps the key for insertion. */
static int cache_lookup(t5_conn *c, t5_mver *v, enum MHD_Result *ret)
{
    t5_server *s = c->srv;
    if (!s->cache || !v->cfg.response_cache)
        return 0;
    if (t5_mcfg_param_get(&v->cfg, "seed"))
        c->ir.seed_set = 1; /* the model's default seed makes sampling repeatable */
    if (!t5_cache_eligible(&c->ir))
        return 0;
    uint64_t t0 = t5_now_ns();
    if (t5_cache_key(&c->ir, v->name, v->vstr, &c->cache_key) < 0) {
        t5_buf_free(&c->cache_key);
        return 0;
    }
    void *val = NULL;
    size_t vl = 0;
    int hit = t5_rcache_get(s->cache, c->cache_key.p, c->cache_key.len, &val, &vl) == 1;
    if (hit && t5_cache_restore(&c->ir, val, vl) < 0) {
        hit = 0; /* cannot happen for values this server wrote; recompute */
        for (int i = 0; c->ir.res && i < c->ir.rows; i++) {
            for (int j = 0; j < c->ir.res[i].n_seqs; j++) {
                free(c->ir.res[i].seqs[j].text);
                free(c->ir.res[i].seqs[j].ids);
            }
            free(c->ir.res[i].seqs);
        }
        free(c->ir.res);
        c->ir.res = NULL;
    }
    free(val);
    uint64_t t1 = t5_now_ns();
    c->cache_lookup_ns = t1 - t0;
    if (!hit)
        return 0;
    unsigned st;
    int ok;
    struct MHD_Response *resp = render(c, v, 0, NULL, &st, &ok);
    t5_mstats_cache_hit(&v->stats, c->ir.rows, c->t_arrive, t5_now_ns(), t1 - t0);
    t5_buf_free(&c->cache_key);
    t5_mver_unref(v);
    *ret = resp ? MHD_queue_response(c->mc, st, resp) : MHD_NO;
    if (resp)
        MHD_destroy_response(resp);
    return 1;
}

/* Answers a request whose every row the accept list takes, without the
 * model (t5_exec_t5_accepted; returns 1 with *ret set). */
static int accept_now(t5_conn *c, t5_mver *v, enum MHD_Result *ret)
{
    if (!t5_exec_t5_accepted(v->output, &c->ir))
        return 0;
    unsigned st;
    int ok;
    struct MHD_Response *resp = render(c, v, 0, NULL, &st, &ok);
    uint64_t now = t5_now_ns();
    t5_mstats_request(&v->stats, ok, c->ir.rows, c->t_arrive, now, now, now, now, now);
    t5_mver_unref(v);
    *ret = resp ? MHD_queue_response(c->mc, st, resp) : MHD_NO;
    if (resp)
        MHD_destroy_response(resp);
    return 1;
}

static int header_len(t5_conn *c, size_t *out, t5_err *err)
{
    *out = 0;
    const char *h =
        MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    if (!h)
        return 0;
    char *end;
    unsigned long long v = strtoull(h, &end, 10);
    if (end == h || *end || h[0] == '-' || v > c->body.len)
        return t5_errf(
            err, T5_EINVAL,
            "Inference-Header-Content-Length '%.32s' is not a length within the body (%zu bytes)",
            h, c->body.len);
    *out = (size_t)v;
    return 0;
}

enum MHD_Result t5_ep_infer(t5_conn *c, const char *model, const char *version, int kind)
{
    t5_server *s = c->srv;
    if (atomic_load(&s->stopping))
        return t5_http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
    const char *enc =
        MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (enc && strcmp(enc, "identity"))
        return t5_http_error(c, MHD_HTTP_BAD_REQUEST,
                             "Content-Encoding is not supported; send the body uncompressed");
    t5_mver *v;
    t5_err err = {0};
    int rc = t5_repo_get(s->repo, model, version, &v, &err);
    if (rc < 0)
        return t5_http_errcode(c, rc, err.msg);
    const t5_mcfg *cfg = &v->cfg;
    t5_infer_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
    lim.max_text_bytes = (size_t)cfg->max_input_tokens * 32u;
    lim.max_new_tokens = cfg->max_output_tokens;
    lim.max_num_beams = cfg->max_num_beams;
    lim.priority_levels = cfg->sched.priority_levels;
    lim.model_name = v->name;
    lim.defaults = cfg->gen;
    size_t hlen = 0;
    if (kind == T5_REQ_INFER)
        rc = header_len(c, &hlen, &err);
    if (rc == 0)
        rc = kind == T5_REQ_INFER
                 ? t5_infer_parse(&c->ir, c->body.p ? c->body.p : "", c->body.len, hlen, &lim, &err)
                 : t5_generate_parse(&c->ir, c->body.p ? c->body.p : "", c->body.len, &lim, &err);
    if (rc < 0) {
        uint64_t now = t5_now_ns();
        t5_mstats_request(&v->stats, 0, 0, c->t_arrive, now, now, now, now, now);
        t5_mver_unref(v);
        return t5_http_errcode(c, rc, err.msg);
    }
    /* The body is parsed into c->ir; free it now rather than at the end. */
    t5_buf_free(&c->body);
    enum MHD_Result cached;
    c->kind = kind;
    if (kind != T5_REQ_STREAM && (accept_now(c, v, &cached) || cache_lookup(c, v, &cached)))
        return cached;
    if (kind == T5_REQ_STREAM) {
        if (c->ir.rows != 1) {
            t5_mver_unref(v);
            return t5_http_error(c, MHD_HTTP_BAD_REQUEST,
                                 "generate_stream takes one text_input (a string)");
        }
        return t5_ep_stream(c, v);
    }
    t5_sched_req *r = &c->sr;
    memset(r, 0, sizeof *r);
    r->rows = c->ir.rows;
    r->priority = c->ir.priority;
    r->timeout_us = c->ir.timeout_us;
    r->payload = &c->ir;
    r->user = c;
    r->on_done = infer_done;
    r->is_cancelled = client_gone;
    c->mv = v;
    c->kind = kind;
    pthread_mutex_lock(&c->mu);
    rc = t5_sched_submit(v->sched, r, &err);
    if (rc == 0)
        t5_http_suspend(c);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
        return MHD_YES;
    uint64_t now = t5_now_ns();
    t5_mstats_request(&v->stats, 0, 0, c->t_arrive, now, now, now, now, now);
    c->mv = NULL;
    t5_mver_unref(v);
    return t5_http_errcode(c, rc, err.msg);
}
