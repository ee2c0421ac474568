/* bench_evloop.c - `t5serve bench --request-rate ... --event-loops N`: the
 * Poisson load sent from N epoll loops instead of one thread per connection.
 *
 * With threads, a request can only go out when a thread is free, so at
 * ~40k req/s x ~25 ms the 1024 threads of the other client are all waiting
 * and the generator itself is late (bench/serving.md, session 4); more
 * threads cost more than they gave. Here each loop owns up to
 * conns_per_loop non-blocking keep-alive connections: at an arrival time it
 * writes the request on an idle connection (opening one if none is idle),
 * and it reads responses as they come. A request is late only when its loop
 * is behind (it is sent more than 1 ms after its arrival time) or every
 * connection of the loop is busy; latency is still measured from the
 * scheduled arrival. Loop i sends arrivals i, i + N, i + 2N, ... */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/bench_priv.h"

typedef struct aconn {
    int fd;
    int busy;        /* a request in flight */
    double t_sched;  /* its scheduled arrival */
    char *out;       /* the request not written yet: out[off..len) */
    size_t off, len;
    char head[4096]; /* the response's headers as they arrive */
    size_t have;     /* response bytes received so far */
    size_t need;     /* headers + body, once the headers are complete (0: not yet) */
    int status, close_after;
} aconn;

typedef struct loop {
    level *L;
    int ep;
    aconn *c;   /* [conns_per_loop] */
    int *idle;  /* stack of idle connection indices */
    int n_idle;
    int inflight; /* requests sent and not yet answered */
} loop;

static void ac_close(loop *lp, aconn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->busy = 0;
    free(c->out);
    c->out = NULL;
}

/* A request that cannot complete: an error, and its connection closed. */
static void ac_fail(loop *lp, aconn *c)
{
    if (c->busy) {
        bench_record(lp->L, -1, 0, 0);
        lp->inflight--;
    }
    ac_close(lp, c);
}

/* The response's headers are in c->head[0..have): status, length, close. */
static int parse_head(aconn *c)
{
    char *end = memmem(c->head, c->have, "\r\n\r\n", 4);
    if (!end)
        return c->have == sizeof c->head ? -1 : 0;
    size_t hdr = (size_t)(end - c->head) + 4, clen = 0;
    c->status = c->have > 12 ? atoi(c->head + 9) : -1;
    for (char *p = c->head; p < end; p++)
        if (*p == '\n' && !strncasecmp(p + 1, "content-length:", 15))
            clen = strtoul(p + 16, NULL, 10);
    c->close_after = memmem(c->head, hdr, "onnection: close", 16) != NULL;
    c->need = hdr + clen;
    return 1;
}

static void on_readable(loop *lp, aconn *c)
{
    for (;;) {
        char sink[16384];
        char *dst = c->need ? sink : c->head + c->have;
        size_t room = c->need ? sizeof sink : sizeof c->head - c->have;
        ssize_t r = recv(c->fd, dst, room, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0 || !c->busy) { /* closed, failed, or bytes nobody asked for */
            ac_fail(lp, c);
            return;
        }
        c->have += (size_t)r;
        if (!c->need && parse_head(c) < 0) {
            ac_fail(lp, c);
            return;
        }
        if (c->need && c->have >= c->need) {
            bench_record(lp->L, c->status, bench_now_s() - c->t_sched, c->t_sched);
            c->busy = 0;
            lp->inflight--;
            if (c->close_after || c->have > c->need) {
                ac_close(lp, c);
            } else {
                lp->idle[lp->n_idle++] = (int)(c - lp->c);
            }
            return;
        }
    }
}

static void on_writable(loop *lp, aconn *c)
{
    while (c->off < c->len) {
        ssize_t w = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        if (w <= 0) {
            ac_fail(lp, c);
            return;
        }
        c->off += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Connects c (non-blocking from then on, watched by the loop's epoll). */
static int open_conn(loop *lp, aconn *c)
{
    c->fd = bench_connect(lp->L->b);
    if (c->fd < 0)
        return -1;
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

/* An idle connection, opened if need be; NULL when all are busy or the
 * server cannot be reached. */
static aconn *take_conn(loop *lp)
{
    while (lp->n_idle > 0) { /* the server may have closed an idle one */
        aconn *c = &lp->c[lp->idle[--lp->n_idle]];
        if (c->fd >= 0 && !c->busy)
            return c;
    }
    for (int i = 0; i < lp->L->conns_per_loop; i++) {
        aconn *c = &lp->c[i];
        if (c->fd >= 0)
            continue;
        return open_conn(lp, c) < 0 ? NULL : c;
    }
    return NULL;
}

static int send_request(loop *lp, aconn *c, long i)
{
    level *L = lp->L;
    bench *b = L->b;
    int q = (int)(((b->qnext + i) * b->batch) % b->n_queries);
    char head[768];
    int hl = bench_head(b, b->body_len[q], head, sizeof head);
    c->out = malloc((size_t)hl + b->body_len[q]);
    if (!c->out)
        return -1;
    memcpy(c->out, head, (size_t)hl);
    memcpy(c->out + hl, b->bodies[q], b->body_len[q]);
    c->off = 0;
    c->len = (size_t)hl + b->body_len[q];
    c->busy = 1;
    lp->inflight++;
    c->t_sched = L->t0 + L->arrivals[i];
    c->have = c->need = 0;
    on_writable(lp, c);
    return 0;
}

void *bench_evloop_main(void *arg)
{
    level *L = arg;
    const int me = atomic_fetch_add(&L->loop_next, 1), step = L->loops;
    loop lp = {L, epoll_create1(0), calloc((size_t)L->conns_per_loop, sizeof(aconn)),
               calloc((size_t)L->conns_per_loop, sizeof(int)), 0, 0};
    if (lp.ep < 0 || !lp.c || !lp.idle) {
        for (long i = me; i < L->total; i += step)
            bench_record(L, -1, 0, 0);
        goto out;
    }
    for (int i = 0; i < L->conns_per_loop; i++)
        lp.c[i].fd = -1;
    /* Connections for the first ~50 ms of arrivals before t0 (run_level
     * leaves time for it), so the level does not start by connecting. */
    for (int i = 0; i < L->preopen && i < L->conns_per_loop; i++)
        if (open_conn(&lp, &lp.c[i]) == 0)
            lp.idle[lp.n_idle++] = i;
    long next = me;
    struct epoll_event evs[256];
    for (;;) {
        double now = bench_now_s();
        while (next < L->total && L->t0 + L->arrivals[next] <= now) {
            aconn *c = take_conn(&lp);
            if (!c)
                break; /* every connection busy: it waits, and will be late */
            if (now - (L->t0 + L->arrivals[next]) > 0.001)
                atomic_fetch_add(&L->late, 1);
            if (send_request(&lp, c, next) < 0) {
                bench_record(L, -1, 0, 0);
                lp.idle[lp.n_idle++] = (int)(c - lp.c);
            }
            next += step;
        }
        if (next >= L->total && lp.inflight == 0)
            break;
        double wait = next < L->total ? L->t0 + L->arrivals[next] - bench_now_s() : 0.1;
        if (wait < 0 || (next < L->total && lp.inflight == L->conns_per_loop))
            wait = 0.001; /* behind, or waiting for a connection: poll again soon */
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        int n = epoll_pwait2(lp.ep, evs, 256, &ts, NULL);
        if (n < 0 && errno == ENOSYS) /* a kernel before 5.11: millisecond timeouts */
            n = epoll_wait(lp.ep, evs, 256, (int)(wait * 1e3) + 1);
        for (int k = 0; k < n; k++) {
            aconn *c = evs[k].data.ptr;
            if (c->fd < 0)
                continue;
            if (evs[k].events & EPOLLOUT)
                on_writable(&lp, c);
            if (c->fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(&lp, c);
        }
    }
out:
    if (lp.c)
        for (int i = 0; i < L->conns_per_loop; i++)
            ac_close(&lp, &lp.c[i]);
    if (lp.ep >= 0)
        close(lp.ep);
    free(lp.c);
    free(lp.idle);
    return NULL;
}
