/* cmd_serve.c - `t5serve serve`: the Triton-compatible HTTP server.
 *
 *   t5serve serve --model-repository DIR [--http-port 8000] [--metrics-port 8002]
 *                 [--model-control-mode none|explicit] [--load-model NAME]...
 *                 [--log-verbose N] [--host 127.0.0.1] [--http-thread-count N]
 *                 [--http-max-connections N]
 *                 [--max-body-bytes N] [--strict-readiness true|false]
 *                 [--cache-config local,size=BYTES]
 *
 * SIGTERM or SIGINT drains: new requests are refused, accepted ones finish
 * and their responses are sent, then the process exits 0.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "server/server.h"

static void usage(FILE *f)
{
    fprintf(
        f, "usage: t5serve serve --model-repository DIR [options]\n"
           "  --http-port N              HTTP port (default 8000; 0 picks a free port)\n"
           "  --metrics-port N           Prometheus metrics port (default 8002; -1 disables)\n"
           "  --host ADDR                address to bind (default 127.0.0.1)\n"
           "  --model-control-mode M     none (load every model at start) or explicit\n"
           "  --load-model NAME          with explicit mode: load NAME at start (repeatable)\n"
           "  --log-verbose N            1: log loads and failed requests; 2: also HTTP-level\n"
           "                             messages (clients that left mid-request, ...)\n"
           "  --http-thread-count N      HTTP IO threads (default 8, as Triton's)\n"
           "  --http-max-connections N   open HTTP connections at most (default 1024; the\n"
           "                             open-files limit is raised to fit when it can be)\n"
           "  --max-body-bytes N         largest request body (default 16777216)\n"
           "  --connection-timeout N     idle connection timeout in seconds (default 60)\n"
           "  --strict-readiness B       ready only when every model loaded (default true)\n"
           "  --cache-config local,size=BYTES   a response cache of BYTES for the models whose\n"
           "                             config.pbtxt has response_cache { enable: true }\n"
           "  --exit-timeout-secs N      how long SIGTERM waits for in-flight work (default 30)\n");
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int t5_cmd_serve(int argc, char **argv)
{
    t5_server_opts o = t5_server_default_opts();
    const char *loads[64];
    int n_loads = 0;
    long exit_timeout = 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        /* Triton spells options both "--opt VALUE" and "--opt=VALUE". */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
            if (i + 1 < argc)
                val = argv[i + 1], i++;
        }
        long v;
        if (!val) {
            fprintf(stderr, "t5serve serve: %s needs a value\n", name);
            return 2;
        }
        if (!strcmp(name, "--model-repository") || !strcmp(name, "--model-store")) {
            o.repo_dir = val;
        } else if (!strcmp(name, "--http-port") && parse_int(val, 0, 65535, &v) == 0) {
            o.http_port = (int)v;
        } else if (!strcmp(name, "--metrics-port") && parse_int(val, -1, 65535, &v) == 0) {
            o.metrics_port = (int)v;
        } else if (!strcmp(name, "--host") || !strcmp(name, "--http-address")) {
            o.host = val;
        } else if (!strcmp(name, "--model-control-mode") &&
                   (!strcmp(val, "none") || !strcmp(val, "explicit"))) {
            o.explicit_mode = !strcmp(val, "explicit");
        } else if (!strcmp(name, "--load-model")) {
            if (n_loads == 64) {
                fprintf(stderr, "t5serve serve: too many --load-model\n");
                return 2;
            }
            loads[n_loads++] = val;
        } else if (!strcmp(name, "--log-verbose") && parse_int(val, 0, 100, &v) == 0) {
            o.verbose = (int)v;
        } else if (!strcmp(name, "--http-thread-count") && parse_int(val, 1, 256, &v) == 0) {
            o.http_threads = (int)v;
        } else if (!strcmp(name, "--http-max-connections") &&
                   parse_int(val, 1, 1 << 20, &v) == 0) {
            o.max_conns = (unsigned)v;
        } else if (!strcmp(name, "--max-body-bytes") && parse_int(val, 1024, LONG_MAX, &v) == 0) {
            o.max_body_bytes = (size_t)v;
        } else if (!strcmp(name, "--connection-timeout") && parse_int(val, 1, 86400, &v) == 0) {
            o.conn_timeout_s = (unsigned)v;
        } else if (!strcmp(name, "--exit-timeout-secs") && parse_int(val, 0, 86400, &v) == 0) {
            exit_timeout = v;
        } else if (!strcmp(name, "--cache-config")) {
            /* Triton's syntax: local,size=BYTES */
            const char *sz = strstr(val, "size=");
            if (strncmp(val, "local,", 6) || !sz || parse_int(sz + 5, 1, LONG_MAX, &v) < 0) {
                fprintf(stderr, "t5serve serve: --cache-config takes local,size=BYTES\n");
                return 2;
            }
            o.cache_bytes = (size_t)v;
        } else if (!strcmp(name, "--strict-readiness") &&
                   (!strcmp(val, "true") || !strcmp(val, "false"))) {
            o.strict_readiness = !strcmp(val, "true");
        } else {
            fprintf(stderr, "t5serve serve: bad option or value: %s %s\n", name, val);
            usage(stderr);
            return 2;
        }
    }
    if (!o.repo_dir) {
        fprintf(stderr, "t5serve serve: --model-repository is required\n");
        usage(stderr);
        return 2;
    }
    o.load_models = loads;
    o.n_load_models = n_loads;

    /* Block the signals before any thread starts, so only sigwait sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    t5_server *s;
    t5_err err = {0};
    if (t5_server_start(&s, &o, &err) < 0) {
        fprintf(stderr, "t5serve serve: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "t5serve: serving HTTP on %s:%d", o.host, t5_server_http_port(s));
    if (t5_server_metrics_port(s) >= 0)
        fprintf(stderr, ", metrics on %s:%d/metrics", o.host, t5_server_metrics_port(s));
    fprintf(stderr, "\n");
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "t5serve: %s received, draining in-flight requests\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    t5_server_shutdown(s, (unsigned)exit_timeout);
    fprintf(stderr, "t5serve: stopped\n");
    return 0;
}
