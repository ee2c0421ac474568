/* ep_repo.c - the model repository extension: POST v2/repository/index and
 * v2/repository/models/NAME/load|unload (explicit model control). Loading
 * reads weights and can take seconds, so it runs on a job thread while the
 * connection is suspended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"

static void *job_main(void *arg)
{
    t5_conn *c = arg;
    t5_server *s = c->srv;
    t5_err err = {0};
    int rc = c->job_load ? t5_repo_load(s->repo, c->job_model, &err)
                         : t5_repo_unload(s->repo, c->job_model, &err);
    t5_buf b = {0};
    unsigned st = MHD_HTTP_OK;
    if (rc < 0) {
        /* Triton answers a failed load or unload with 400 and the reason. */
        st = rc == T5_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_BAD_REQUEST;
        t5_error_render(err.msg, &b);
    }
    struct MHD_Response *resp = t5_http_response(&b, rc < 0 ? "application/json" : NULL);
    t5_http_complete(c, st, resp);
    atomic_fetch_sub(&s->jobs, 1);
    return NULL;
}

enum MHD_Result t5_ep_repository(t5_conn *c, int n, char **seg)
{
    t5_server *s = c->srv;
    if (n == 3 && !strcmp(seg[2], "index")) {
        int ready_only = 0;
        if (c->body.len) {
            cJSON *j = cJSON_ParseWithLength(c->body.p, c->body.len);
            if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return t5_http_error(c, MHD_HTTP_BAD_REQUEST,
                                     "failed to parse the request JSON buffer");
            }
            ready_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ready"));
            cJSON_Delete(j);
        }
        return t5_http_json(c, MHD_HTTP_OK, t5_repo_index(s->repo, ready_only));
    }
    if (n != 5 || strcmp(seg[2], "models") || (strcmp(seg[4], "load") && strcmp(seg[4], "unload")))
        return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
    if (!s->o.explicit_mode)
        return t5_http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                             "explicit model load / unload is not allowed if polling is enabled");
    if (atomic_load(&s->stopping))
        return t5_http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
    if (strlen(seg[3]) >= sizeof c->job_model)
        return t5_http_error(c, MHD_HTTP_BAD_REQUEST, "model name too long");
    if (c->body.len) {
        cJSON *j = cJSON_ParseWithLength(c->body.p, c->body.len);
        int ok = cJSON_IsObject(j);
        const cJSON *p = ok ? cJSON_GetObjectItemCaseSensitive(j, "parameters") : NULL;
        int has_cfg = p && cJSON_GetObjectItemCaseSensitive(p, "config");
        cJSON_Delete(j);
        if (!ok)
            return t5_http_error(c, MHD_HTTP_BAD_REQUEST,
                                 "failed to parse the request JSON buffer");
        if (has_cfg)
            return t5_http_error(c, MHD_HTTP_BAD_REQUEST,
                                 "load with a config override is not supported; edit config.pbtxt");
    }
    snprintf(c->job_model, sizeof c->job_model, "%s", seg[3]);
    c->job_load = !strcmp(seg[4], "load");
    atomic_fetch_add(&s->jobs, 1);
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&c->mu);
    int rc = pthread_create(&th, &a, job_main, c);
    if (rc == 0)
        t5_http_suspend(c);
    pthread_mutex_unlock(&c->mu);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        atomic_fetch_sub(&s->jobs, 1);
        return t5_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot start a load thread");
    }
    return MHD_YES;
}
