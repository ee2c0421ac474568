/* ep_server.c - GET v2 (server metadata), v2/health/live, v2/health/ready. */
#include <string.h>

#include "server/http.h"

#define T5SERVE_VERSION "0.1.0"

enum MHD_Result t5_ep_server(t5_conn *c, int n, char **seg)
{
    t5_server *s = c->srv;
    if (n == 1) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", "t5serve");
        cJSON_AddStringToObject(o, "version", T5SERVE_VERSION);
        cJSON *e = cJSON_AddArrayToObject(o, "extensions");
        static const char *const ext[] = {
            "binary_tensor_data", "statistics", "model_repository", "model_configuration",
            "schedule_policy",    "generate",   "parameters"};
        for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
            cJSON_AddItemToArray(e, cJSON_CreateString(ext[i]));
        return t5_http_json(c, MHD_HTTP_OK, o);
    }
    if (n == 3 && !strcmp(seg[2], "live"))
        return t5_http_reply(c, atomic_load(&s->stopping) ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK,
                             NULL, "", 0);
    if (n == 3 && !strcmp(seg[2], "ready")) {
        int ready =
            !atomic_load(&s->stopping) && (!s->o.strict_readiness || t5_repo_all_ready(s->repo));
        return t5_http_reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST, NULL, "", 0);
    }
    return t5_http_error(c, MHD_HTTP_NOT_FOUND, "Not Found");
}
