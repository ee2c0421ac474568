/* cmd_bench.c - `t5serve bench`: a load generator in the spirit of
 * perf_analyzer, against a running t5serve (or Triton) HTTP server.
 *
 *   t5serve bench --url 127.0.0.1:8000 --model speller --queries FILE
 *       [--concurrency 1,2,4,8 | --request-rate 50,100,200]
 *       [--requests N | --duration-s S] [--warmup N] [--batch-size B]
 *       [--endpoint infer|generate] [--max-new-tokens N] [--min-new-tokens N]
 *       [--num-beams K]
 *       [--max-threads N] [--event-loops N] [--seed S] [--csv FILE]
 *   t5serve bench --engine ...      the in-process engine benchmark
 *
 * Concurrency mode keeps N requests outstanding (N client threads in closed
 * loops, one keep-alive connection each). Request-rate mode sends requests
 * at Poisson arrival times (exponential gaps at the given mean rate) from a
 * pool of --max-threads connections; a request whose connection is not free
 * at its arrival time goes out late and is counted as "late" (--event-loops
 * N sends from N epoll loops instead: bench_evloop.c). Latency is
 * measured from the moment a request is written until its response is read.
 * Queries are lines of FILE, taken in order and cycled; --batch-size B puts
 * B consecutive queries in one request. A line may carry its own request
 * parameters after a TAB, as a JSON object ("text\t{\"max_new_tokens\":5}");
 * they are added to the request's parameters (the first query's, in a batch).
 *
 * In request-rate mode latency is measured from the request's scheduled
 * arrival time, not from when a free connection sent it: a server that
 * falls behind is charged for the queueing it causes (no coordinated
 * omission).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmds.h"

#include "cli/bench_priv.h"

/* ---- a minimal keep-alive HTTP/1.1 client ------------------------------- */

typedef struct conn {
    int fd;
    char buf[1 << 16];
    size_t have;
} conn;

static int conn_open(conn *c, const bench *b)
{
    c->have = 0;
    c->fd = bench_connect(b);
    if (c->fd < 0)
        return -1;
    struct timeval tv = {120, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return 0;
}

/* A connected TCP socket to the server with TCP_NODELAY, or -1. */
int bench_connect(const bench *b)
{
    struct addrinfo hints = {0}, *res;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", b->port);
    if (getaddrinfo(b->host, port, &hints, &res) != 0)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The request line and headers of a POST of len bytes; returns their length. */
int bench_head(const bench *b, size_t len, char *out, size_t cap)
{
    return snprintf(out, cap,
                    "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    b->path, b->host, b->port, len);
}

static void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends one POST and reads the response; returns the HTTP status, or -1 if
 * the connection failed (the caller reconnects). */
static int do_request(conn *c, const bench *b, const char *body, size_t len)
{
    if (c->fd < 0 && conn_open(c, b) < 0)
        return -1;
    char head[768];
    int hl = bench_head(b, len, head, sizeof head);
    if (write_all(c->fd, head, (size_t)hl) < 0 || write_all(c->fd, body, len) < 0) {
        conn_close(c);
        return -1;
    }
    c->have = 0;
    for (;;) {
        if (c->have == sizeof c->buf) {
            conn_close(c);
            return -1;
        }
        ssize_t r = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            conn_close(c);
            return -1;
        }
        c->have += (size_t)r;
        char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
        if (!end)
            continue;
        size_t hdr = (size_t)(end - c->buf) + 4;
        int status = atoi(c->buf + 9);
        size_t clen = 0;
        for (char *p = c->buf; p < end; p++)
            if ((*p == '\n') && !strncasecmp(p + 1, "content-length:", 15))
                clen = strtoul(p + 16, NULL, 10);
        int close_after = memmem(c->buf, hdr, "onnection: close", 16) != NULL;
        size_t total = hdr + clen;
        /* Drain the body (it may exceed the buffer: discard as it comes). */
        size_t got = c->have;
        while (got < total) {
            ssize_t r2 = recv(c->fd, c->buf, sizeof c->buf, 0);
            if (r2 < 0 && errno == EINTR)
                continue;
            if (r2 <= 0) {
                conn_close(c);
                return -1;
            }
            got += (size_t)r2;
        }
        if (close_after)
            conn_close(c);
        return status;
    }
}

/* ---- request bodies -------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static int build_bodies(bench *b)
{
    b->bodies = calloc((size_t)b->n_queries, sizeof *b->bodies);
    b->body_len = calloc((size_t)b->n_queries, sizeof *b->body_len);
    if (!b->bodies || !b->body_len)
        return -1;
    int gen = !strcmp(b->endpoint, "generate");
    for (int i = 0; i < b->n_queries; i++) {
        FILE *f = open_memstream(&b->bodies[i], &b->body_len[i]);
        if (!f)
            return -1;
        if (gen) {
            fputs("{\"text_input\":", f);
            if (b->batch > 1)
                fputc('[', f);
        } else {
            fprintf(f,
                    "{\"inputs\":[{\"name\":\"text_input\",\"datatype\":\"BYTES\",\"shape\":[%d,1],"
                    "\"data\":[",
                    b->batch);
        }
        for (int j = 0; j < b->batch; j++) {
            if (j)
                fputc(',', f);
            json_str(f, b->queries[(i + j) % b->n_queries]);
        }
        if (!gen || b->batch > 1)
            fputc(']', f);
        if (!gen)
            fputs("}]", f);
        fputs(",\"parameters\":{", f);
        int k = 0;
        if (b->max_new_tokens > 0)
            fprintf(f, "%s\"max_new_tokens\":%d", k++ ? "," : "", b->max_new_tokens);
        if (b->min_new_tokens > 0)
            fprintf(f, "%s\"min_new_tokens\":%d", k++ ? "," : "", b->min_new_tokens);
        if (b->num_beams > 0)
            fprintf(f, "%s\"num_beams\":%d", k++ ? "," : "", b->num_beams);
        if (b->qparams[i] && b->qparams[i][0])
            fprintf(f, "%s%s", k++ ? "," : "", b->qparams[i]);
        fputs("}}", f);
        fclose(f);
    }
    return 0;
}

/* ---- one level of load ----------------------------------------------------- */

void bench_record(level *L, int status, double latency, double t_start)
{
    if (status != 200) {
        atomic_fetch_add(&L->errors, 1);
        return;
    }
    long k = atomic_fetch_add(&L->n_lat, 1);
    if (k < L->cap_lat) {
        L->lat[k] = latency;
        if (L->at)
            L->at[k] = t_start - L->t0;
    }
}

static void *client_main(void *arg)
{
    level *L = arg;
    bench *b = L->b;
    conn c;
    c.fd = -1;
    for (;;) {
        long i = atomic_fetch_add(&L->next, 1);
        if (L->total && i >= L->total)
            break;
        if (L->rate_mode) {
            double at = L->t0 + L->arrivals[i];
            double wait = at - bench_now_s();
            if (wait > 0) {
                struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
                nanosleep(&ts, NULL);
            } else if (wait < -0.001) {
                atomic_fetch_add(&L->late, 1);
            }
        } else if (!L->total && bench_now_s() >= L->deadline) {
            break;
        }
        int q = (int)(((b->qnext + i) * b->batch) % b->n_queries);
        double t = L->rate_mode ? L->t0 + L->arrivals[i] : bench_now_s();
        int st = do_request(&c, b, b->bodies[q], b->body_len[q]);
        if (st < 0) /* a dropped keep-alive connection: retry once on a new one */
            st = do_request(&c, b, b->bodies[q], b->body_len[q]);
        bench_record(L, st, bench_now_s() - t, t);
    }
    conn_close(&c);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
    if (n <= 0)
        return 0;
    long i = (long)ceil(p / 100.0 * (double)n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* --time-profile: p99 of the requests due in each window of w seconds, to
 * tell a tail that comes from stalls (a few bad windows) from queueing (all
 * windows alike). */
static void print_profile(level *L, long n, double w)
{
    double *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
    if (!buf)
        return;
    int nw = (int)ceil((L->deadline - L->t0) / w) + 1;
    printf("# p99 ms per %.2f s of arrivals (max ms):", w);
    for (int k = 0; k < nw; k++) {
        long m = 0;
        double mx = 0;
        for (long i = 0; i < n; i++)
            if (L->at[i] >= k * w && L->at[i] < (k + 1) * w) {
                buf[m++] = L->lat[i];
                mx = L->lat[i] > mx ? L->lat[i] : mx;
            }
        if (!m)
            continue;
        qsort(buf, (size_t)m, sizeof *buf, cmp_d);
        printf(" %.1f (%.0f)", pct(buf, m, 99) * 1e3, mx * 1e3);
    }
    printf("\n");
    free(buf);
}

static int run_level(bench *b, int rate_mode, double value, int max_threads, int loops,
                     uint64_t seed, FILE *csv)
{
    level L;
    memset(&L, 0, sizeof L);
    L.b = b;
    L.rate_mode = rate_mode;
    L.rate = value;
    L.threads = rate_mode ? max_threads : (int)value;
    if (rate_mode && loops > 0) { /* max_threads: connections, shared by the loops */
        L.loops = L.threads = loops;
        L.conns_per_loop = max_threads / loops > 0 ? max_threads / loops : 1;
        L.preopen = (int)ceil(value * 0.05 / loops);
    }
    double dur = b->duration_s > 0 ? b->duration_s : 10;
    L.total = b->n_requests;
    if (rate_mode && !L.total)
        L.total = (long)ceil(value * dur);
    L.cap_lat = L.total ? L.total : 10000000;
    L.lat = malloc((size_t)L.cap_lat * sizeof *L.lat);
    if (rate_mode && b->profile_s > 0 && !(L.at = malloc((size_t)L.cap_lat * sizeof *L.at))) {
        fprintf(stderr, "t5serve bench: out of memory\n");
        return 1;
    }
    if (rate_mode) {
        L.arrivals = malloc((size_t)L.total * sizeof *L.arrivals);
        double t = 0;
        uint64_t s = seed;
        for (long i = 0; i < L.total; i++) {
            /* splitmix64: well mixed even for small seeds */
            uint64_t z = (s += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            double u = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
            t += -log(u) / value;
            L.arrivals[i] = t;
        }
    }
    if (!L.lat || (rate_mode && !L.arrivals)) {
        fprintf(stderr, "t5serve bench: out of memory\n");
        return 1;
    }
    /* warm-up: a few requests on one connection, not measured */
    conn wc;
    wc.fd = -1;
    for (int i = 0; i < b->warmup; i++)
        do_request(&wc, b, b->bodies[i % b->n_queries], b->body_len[i % b->n_queries]);
    conn_close(&wc);

    pthread_t *th = calloc((size_t)L.threads, sizeof *th);
    L.t0 = bench_now_s() + (L.loops ? 0.1 : 0.01); /* the loops connect first */
    L.deadline = L.t0 + dur;
    int started = 0;
    for (int i = 0; i < L.threads; i++)
        started += pthread_create(&th[i], NULL, L.loops ? bench_evloop_main : client_main, &L) == 0;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (L.loops) {
        atomic_store(&L.next, L.total);
        if (started < L.loops) /* a loop that never ran: its requests count as errors */
            for (long i = 0; i < L.total; i++)
                if (i % L.loops >= started)
                    atomic_fetch_add(&L.errors, 1);
    }
    double wall = bench_now_s() - L.t0;
    b->qnext += atomic_load(&L.next);
    long n = atomic_load(&L.n_lat);
    if (n > L.cap_lat)
        n = L.cap_lat;
    if (L.at)
        print_profile(&L, n, b->profile_s);
    qsort(L.lat, (size_t)n, sizeof *L.lat, cmp_d);
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += L.lat[i];
    double thr = wall > 0 ? (double)n / wall : 0;
    long err = atomic_load(&L.errors), late = atomic_load(&L.late);
    double us = 1e6;
    printf("%-12s %8.1f  %9.1f %9.1f  %8.0f %8.0f %8.0f %8.0f %8.0f  %6ld %6ld\n",
           rate_mode ? "rate" : "concurrency", value, thr, thr * b->batch, pct(L.lat, n, 50) * us,
           pct(L.lat, n, 90) * us, pct(L.lat, n, 95) * us, pct(L.lat, n, 99) * us,
           n ? sum / (double)n * us : 0, err, late);
    fflush(stdout);
    if (csv)
        fprintf(csv, "%s,%g,%ld,%ld,%ld,%.3f,%.3f,%.0f,%.0f,%.0f,%.0f,%.0f\n",
                rate_mode ? "request_rate" : "concurrency", value, n, err, late, thr,
                thr * b->batch, pct(L.lat, n, 50) * us, pct(L.lat, n, 90) * us,
                pct(L.lat, n, 95) * us, pct(L.lat, n, 99) * us, n ? sum / (double)n * us : 0);
    free(th);
    free(L.lat);
    free(L.at);
    free(L.arrivals);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: t5serve bench --model NAME --queries FILE [options]\n"
               "       t5serve bench --engine ...   (in-process engine benchmark)\n"
               "FILE: one query per line, optionally followed by a TAB and a JSON object of\n"
               "request parameters for that query, e.g. {\"max_new_tokens\":5}\n"
               "  --url HOST:PORT           server (default 127.0.0.1:8000; http:// optional)\n"
               "  --concurrency LIST        e.g. 1,2,4,8 (default 1): closed-loop clients\n"
               "  --request-rate LIST       e.g. 50,100: Poisson arrivals per second instead\n"
               "  --requests N              requests per level (default: run --duration-s)\n"
               "  --duration-s S            seconds per level (default 10)\n"
               "  --warmup N                unmeasured requests before each level (default 5)\n"
               "  --batch-size B            queries per request (default 1)\n"
               "  --endpoint infer|generate (default infer)\n"
               "  --max-new-tokens N, --min-new-tokens N, --num-beams K   request parameters\n"
               "  --max-threads N           connections for rate mode (default 64)\n"
               "  --event-loops N           rate mode: send from N epoll loops sharing the\n"
               "                            --max-threads connections, not a thread per\n"
               "                            connection (no lateness from busy threads)\n"
               "  --time-profile S          rate mode: also print p99 (and max) of the\n"
               "                            requests due in each S seconds of the level\n"
               "  --seed S                  arrival-time seed (default 1)\n"
               "  --csv FILE                also write the table as CSV\n");
}

static int parse_list(const char *s, double *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || v <= 0)
            return -1;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static int load_queries(bench *b, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int qcap = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (b->n_queries == qcap) {
            qcap = qcap ? qcap * 2 : 256;
            char **q = realloc(b->queries, (size_t)qcap * sizeof *q);
            if (q)
                b->queries = q;
            char **p = realloc(b->qparams, (size_t)qcap * sizeof *p);
            if (p)
                b->qparams = p;
            if (!q || !p)
                break;
        }
        char *params = NULL, *tab = strchr(line, '\t');
        if (tab) {
            *tab = '\0';
            char *o = tab + 1, *e = o + strlen(o);
            while (e > o && (e[-1] == ' ' || e[-1] == '\t'))
                *--e = '\0';
            if (*o != '{' || e == o || e[-1] != '}') {
                fprintf(stderr,
                        "t5serve bench: %s line %d: parameters after the TAB must be a "
                        "JSON object\n",
                        path, b->n_queries + 1);
                free(line);
                fclose(f);
                return -1;
            }
            e[-1] = '\0';
            params = strdup(o + 1);
        }
        b->qparams[b->n_queries] = params;
        b->queries[b->n_queries++] = strdup(line);
    }
    free(line);
    fclose(f);
    return b->n_queries > 0 ? 0 : -1;
}

int t5_cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--engine"))
            return t5_cmd_bench_engine(argc, argv);
    bench b;
    memset(&b, 0, sizeof b);
    snprintf(b.host, sizeof b.host, "127.0.0.1");
    b.port = 8000;
    b.endpoint = "infer";
    b.batch = 1;
    b.warmup = 5;
    double levels[64] = {1};
    int n_levels = 1, rate_mode = 0, max_threads = 64, loops = 0;
    uint64_t seed = 1;
    const char *qfile = NULL, *csv_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "t5serve bench: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--url")) {
            const char *u = !strncmp(v, "http://", 7) ? v + 7 : v;
            const char *colon = strrchr(u, ':');
            size_t hl = colon ? (size_t)(colon - u) : strlen(u);
            if (hl == 0 || hl >= sizeof b.host) {
                fprintf(stderr, "t5serve bench: bad --url %s\n", v);
                return 2;
            }
            memcpy(b.host, u, hl);
            b.host[hl] = '\0';
            if (colon)
                b.port = atoi(colon + 1);
        } else if (!strcmp(a, "--model")) {
            b.model = v;
        } else if (!strcmp(a, "--queries")) {
            qfile = v;
        } else if (!strcmp(a, "--concurrency") || !strcmp(a, "--request-rate")) {
            rate_mode = a[2] == 'r';
            n_levels = parse_list(v, levels, 64);
            if (n_levels <= 0) {
                fprintf(stderr, "t5serve bench: bad %s list '%s'\n", a, v);
                return 2;
            }
        } else if (!strcmp(a, "--requests")) {
            b.n_requests = atol(v);
        } else if (!strcmp(a, "--duration-s")) {
            b.duration_s = atof(v);
        } else if (!strcmp(a, "--time-profile")) {
            b.profile_s = atof(v);
        } else if (!strcmp(a, "--warmup")) {
            b.warmup = atoi(v);
        } else if (!strcmp(a, "--batch-size")) {
            b.batch = atoi(v);
        } else if (!strcmp(a, "--endpoint")) {
            b.endpoint = v;
        } else if (!strcmp(a, "--max-new-tokens")) {
            b.max_new_tokens = atoi(v);
        } else if (!strcmp(a, "--min-new-tokens")) {
            b.min_new_tokens = atoi(v);
        } else if (!strcmp(a, "--num-beams")) {
            b.num_beams = atoi(v);
        } else if (!strcmp(a, "--max-threads")) {
            max_threads = atoi(v);
        } else if (!strcmp(a, "--event-loops")) {
            loops = atoi(v);
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--csv")) {
            csv_path = v;
        } else {
            fprintf(stderr, "t5serve bench: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!b.model || !qfile) {
        usage(stderr);
        return 2;
    }
    if (b.batch < 1 || b.port <= 0 || max_threads < 1 || max_threads > 4096 || loops < 0 ||
        loops > 64 || (loops > max_threads) ||
        (strcmp(b.endpoint, "infer") && strcmp(b.endpoint, "generate"))) {
        fprintf(stderr,
                "t5serve bench: bad --batch-size, --url port, --max-threads, --event-loops "
                "(0..64, at most --max-threads) or --endpoint\n");
        return 2;
    }
    for (int i = 0; i < n_levels; i++)
        if (!rate_mode && (levels[i] < 1 || levels[i] > 4096 || levels[i] != floor(levels[i]))) {
            fprintf(stderr, "t5serve bench: concurrency must be an integer in 1..4096\n");
            return 2;
        }
    if (load_queries(&b, qfile) < 0) {
        fprintf(stderr, "t5serve bench: cannot read queries from %s (one per line)\n", qfile);
        return 2;
    }
    snprintf(b.path, sizeof b.path, "/v2/models/%s/%s", b.model, b.endpoint);
    if (build_bodies(&b) < 0) {
        fprintf(stderr, "t5serve bench: out of memory\n");
        return 1;
    }
    /* Check the server answers before measuring anything. */
    conn c;
    c.fd = -1;
    int st = do_request(&c, &b, b.bodies[0], b.body_len[0]);
    conn_close(&c);
    if (st != 200) {
        fprintf(stderr, "t5serve bench: POST http://%s:%d%s answered %d\n", b.host, b.port, b.path,
                st);
        return 1;
    }
    FILE *csv = NULL;
    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            fprintf(stderr, "t5serve bench: cannot write %s\n", csv_path);
            return 1;
        }
        fprintf(csv, "mode,level,requests,errors,late,throughput_rps,throughput_seq_s,p50_us,"
                     "p90_us,p95_us,p99_us,avg_us\n");
    }
    printf("# %s http://%s:%d%s, %d queries, batch %d\n",
           rate_mode ? "request rate" : "concurrency", b.host, b.port, b.path, b.n_queries,
           b.batch);
    printf("%-12s %8s  %9s %9s  %8s %8s %8s %8s %8s  %6s %6s\n", "mode", "level", "req/s", "seq/s",
           "p50_us", "p90_us", "p95_us", "p99_us", "avg_us", "errors", "late");
    int rc = 0;
    for (int i = 0; i < n_levels && rc == 0; i++)
        rc = run_level(&b, rate_mode, levels[i], max_threads, loops, seed, csv);
    if (csv)
        fclose(csv);
    for (int i = 0; i < b.n_queries; i++) {
        free(b.queries[i]);
        free(b.qparams[i]);
        free(b.bodies[i]);
    }
    free(b.queries);
    free(b.qparams);
    free(b.bodies);
    free(b.body_len);
    return rc;
}
