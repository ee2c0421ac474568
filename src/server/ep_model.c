/* ep_model.c - per-model GETs: metadata, ready, config, stats; and
 * v2/models/stats for every model. */
#include <string.h>

#include "server/http.h"

/* KServe metadata shape: -1 for the batch dimension, then the config dims. */
static cJSON *tensor_meta(const t5_mcfg_io *io, const char *dt, int batched)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", io->name);
    cJSON_AddStringToObject(o, "datatype", dt);
    cJSON *s = cJSON_AddArrayToObject(o, "shape");
    if (batched)
        cJSON_AddItemToArray(s, cJSON_CreateNumber(-1));
    for (int i = 0; i < io->n_dims; i++)
        cJSON_AddItemToArray(s, cJSON_CreateNumber((double)io->dims[i]));
    return o;
}

static const char *kserve_type(const char *cfg_type)
{
    if (!strcmp(cfg_type, "TYPE_STRING"))
        return "BYTES";
    if (!strcmp(cfg_type, "TYPE_INT32"))
        return "INT32";
    if (!strcmp(cfg_type, "TYPE_FP32"))
        return "FP32";
    return cfg_type + (strncmp(cfg_type, "TYPE_", 5) == 0 ? 5 : 0);
}

static cJSON *metadata(const t5_mver *v)
{
    const t5_mcfg *c = &v->cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON *vs = cJSON_AddArrayToObject(o, "versions");
    cJSON_AddItemToArray(vs, cJSON_CreateString(v->vstr));
    cJSON_AddStringToObject(o, "platform", c->platform[0] ? c->platform : c->backend);
    int b = c->max_batch_size > 0;
    cJSON *in = cJSON_AddArrayToObject(o, "inputs");
    for (int i = 0; i < c->n_input; i++)
        cJSON_AddItemToArray(in, tensor_meta(&c->input[i], kserve_type(c->input[i].data_type), b));
    cJSON *out = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; i < c->n_output; i++)
        cJSON_AddItemToArray(out,
                             tensor_meta(&c->output[i], kserve_type(c->output[i].data_type), b));
    return o;
}

static void add_stats(t5_mver *v, void *user)
{
    cJSON_AddItemToArray((cJSON *)user, t5_mstats_json(&v->stats, v->name, v->vstr));
}

enum MHD_Result t5_ep_stats_all(t5_conn *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "model_stats");
    t5_repo_foreach(c->srv->repo, add_stats, a);
    return t5_http_json(c, MHD_HTTP_OK, o);
}

enum MHD_Result t5_ep_model(t5_conn *c, const char *model, const char *version, const char *action)
{
    t5_mver *v;
    t5_err err = {0};
    int rc = t5_repo_get(c->srv->repo, model, version, &v, &err);
    if (action && !strcmp(action, "ready")) {
        t5_mver_unref(v);
        return t5_http_reply(c, rc == 0 ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST, NULL, "", 0);
    }
    if (rc < 0)
        return t5_http_errcode(c, rc, err.msg);
    cJSON *o = NULL;
    if (!action) {
        o = metadata(v);
    } else if (!strcmp(action, "config")) {
        o = t5_mcfg_to_json(&v->cfg);
    } else if (!strcmp(action, "stats")) {
        o = cJSON_CreateObject();
        add_stats(v, cJSON_AddArrayToObject(o, "model_stats"));
    }
    t5_mver_unref(v);
    if (!o)
        return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
    return t5_http_json(c, MHD_HTTP_OK, o);
}
