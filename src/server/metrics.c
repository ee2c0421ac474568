/* metrics.c - Prometheus text for the metrics port, Triton's metric names. */
#include "server/http.h"

typedef struct mctx {
    int which;
    t5_buf *out;
} mctx;

static void one(t5_mver *v, void *user)
{
    mctx *m = user;
    int pending = m->which == T5_METRIC_PENDING ? t5_sched_pending(v->sched) : 0;
    t5_mstats_metric(&v->stats, m->which, v->name, v->vstr, pending, m->out);
}

void t5_metrics_render(t5_server *s, t5_buf *out)
{
    for (int w = 0; w < T5_METRIC_N; w++) {
        t5_metric_header(w, out);
        mctx m = {w, out};
        t5_repo_foreach(s->repo, one, &m);
    }
}
