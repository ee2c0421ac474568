/* repo.c - see repo.h. */
#include "server/repo.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/exec.h"

#define MAX_VERS 16
#define MAX_CONFIG_BYTES (1 << 20)

typedef struct entry {
    char name[T5_MCFG_NAME];
    int state;
    char reason[512];
    int busy; /* a load or unload is under way */
    t5_mver *vers[MAX_VERS];
    int n_vers;
    struct entry *next;
} entry;

struct t5_repo {
    t5_repo_opts o;
    char dir[PATH_MAX];
    pthread_mutex_t mu;
    entry *head;
    int closing;
};

static const char *state_name(int s)
{
    switch (s) {
    case T5_MS_READY: return "READY";
    case T5_MS_LOADING: return "LOADING";
    case T5_MS_UNLOADING: return "UNLOADING";
    default: return "UNAVAILABLE";
    }
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= T5_MCFG_NAME || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || (unsigned char)s[i] < 0x20)
            return 0;
    return 1;
}

/* dst = a + "/" + b; 0, or -1 (and dst empty) if it does not fit. */
static int join(char *dst, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb + 1 > cap) {
        dst[0] = '\0';
        return -1;
    }
    memcpy(dst, a, la);
    dst[la] = '/';
    memcpy(dst + la + 1, b, lb + 1);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static entry *find(t5_repo *r, const char *name)
{
    for (entry *e = r->head; e; e = e->next)
        if (!strcmp(e->name, name))
            return e;
    return NULL;
}

static entry *add_entry(t5_repo *r, const char *name)
{
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->reason, sizeof e->reason, "unloaded");
    /* keep the list sorted by name, as the repository index is */
    entry **pp = &r->head;
    while (*pp && strcmp((*pp)->name, name) < 0)
        pp = &(*pp)->next;
    e->next = *pp;
    *pp = e;
    return e;
}

static void on_exec(void *user, int rows, uint64_t in_ns, uint64_t infer_ns, uint64_t out_ns)
{
    t5_mver *v = user;
    t5_mstats_exec(&v->stats, rows, in_ns, infer_ns, out_ns);
}

static void free_version(t5_mver *v)
{
    if (!v)
        return;
    if (v->sched) {
        t5_sched_drain(v->sched);
        /* Responses already computed still hold references until their
         * completion callbacks return; those never block. */
        for (int i = 0; atomic_load(&v->refs) > 0 && i < 600000; i++) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        t5_sched_free(v->sched);
    }
    t5_exec_t5_output_free(v->output);
    for (int i = 0; i < v->n_models; i++)
        t5_model_free(v->models[i]);
    t5_mstats_destroy(&v->stats);
    free(v);
}

static int read_file(const char *path, char **out, size_t *len, t5_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? T5_ENOTFOUND : t5_errf(err, T5_EIO, "cannot open %s", path);
    char *buf = malloc(MAX_CONFIG_BYTES + 1);
    if (!buf) {
        fclose(f);
        return t5_errf(err, T5_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, MAX_CONFIG_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > MAX_CONFIG_BYTES) {
        free(buf);
        return t5_errf(err, bad ? T5_EIO : T5_ELIMIT, "%s: %s", path,
                       bad ? "read error" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int cmp_i64_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The version folders of a model, highest first. */
static int list_versions(const char *mdir, int64_t *vers, int cap)
{
    DIR *d = opendir(mdir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < cap) {
        const char *s = de->d_name;
        size_t len = strlen(s);
        if (len == 0 || len > 18)
            continue;
        int digits = 1;
        for (size_t i = 0; i < len; i++)
            digits &= isdigit((unsigned char)s[i]) != 0;
        char p[PATH_MAX];
        if (!digits || join(p, sizeof p, mdir, s) < 0 || !is_dir(p))
            continue;
        int64_t v = strtoll(s, NULL, 10);
        if (v > 0)
            vers[n++] = v;
    }
    closedir(d);
    qsort(vers, (size_t)n, sizeof *vers, cmp_i64_desc);
    return n;
}

/* The scheduler seam (src/sched/sched.h): parameter "scheduler" in
 * config.pbtxt picks the implementation per model: "dynamic" (Triton's
 * request-level dynamic batcher; the default for the identity backend) runs
 * the executors; "inflight" (iteration-level batching, src/sched/inflight.c,
 * the default for T5 models) creates its own engines,
 * one per instance, and uses the executors' tokenizer through a codec.
 * Takes ownership of ex[0..n). */
static int create_scheduler(t5_mver *v, t5_executor *ex, t5_model **im, int n, t5_err *err)
{
    const t5_mcfg *cfg = &v->cfg;
    if (!strcmp(cfg->scheduler, "dynamic"))
        return t5_sched_batcher_create(&v->sched, &cfg->sched, ex, n, on_exec, v, err);
    for (int i = 0; i < n; i++)
        if (ex[i].free)
            ex[i].free(ex[i].ctx);
    if (strcmp(cfg->scheduler, "inflight"))
        return t5_errf(err, T5_EUNSUP, "parameter scheduler: '%s' is not one of dynamic, inflight",
                       cfg->scheduler);
    if (!v->model)
        return t5_errf(err, T5_EUNSUP, "scheduler inflight needs a T5 model (not backend %s)",
                       cfg->backend);
    t5_engine **eng = calloc((size_t)n, sizeof *eng);
    if (!eng)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = t5_exec_t5_engine(&eng[i], im[i], cfg, err);
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            t5_engine_free(eng[i]);
        free(eng);
        return rc;
    }
    t5_seq_codec codec;
    t5_exec_t5_codec(&codec, v->model, v->output);
    rc = t5_sched_inflight_create(&v->sched, &cfg->sched, eng, n, &codec, on_exec, v, err);
    free(eng);
    return rc;
}

#define MAX_INSTANCES 256

typedef struct place {
    int cuda;
    int index;    /* CUDA device ordinal */
    int may_fall; /* KIND_AUTO: the CPU will do if the GPU does not load */
} place;

/* Where each instance runs, from the instance groups (Triton: count
 * instances on each GPU listed in gpus, or on GPU 0) and the device
 * parameter. KIND_AUTO means a GPU when this build has CUDA. */
static int plan_instances(const t5_mcfg *cfg, place *inst, t5_err *err)
{
    int n = 0;
    for (int g = 0; g < cfg->n_group; g++) {
        const t5_mcfg_group *G = &cfg->group[g];
        int cuda = cfg->device[0]
                       ? !strcmp(cfg->device, "cuda")
                       : G->kind == T5_KIND_GPU || (G->kind == T5_KIND_AUTO && t5_have_cuda());
        if (cuda && !t5_have_cuda())
            return t5_errf(err, T5_EUNSUP,
                           "instance_group kind KIND_GPU (or device cuda) needs a build with the "
                           "CUDA backend");
        int n_dev = cuda && G->n_gpus > 0 ? G->n_gpus : 1;
        for (int d = 0; d < n_dev; d++)
            for (int c = 0; c < G->count; c++) {
                if (n == MAX_INSTANCES)
                    return t5_errf(err, T5_ELIMIT, "more than %d instances", MAX_INSTANCES);
                inst[n].cuda = cuda;
                inst[n].may_fall = cuda && G->kind == T5_KIND_AUTO && !cfg->device[0];
                inst[n].index = cuda && G->n_gpus > 0 ? G->gpus[d] : 0;
                n++;
            }
    }
    if (n == 0) {
        inst[0].cuda = cfg->device[0] ? !strcmp(cfg->device, "cuda") : t5_have_cuda();
        inst[0].index = 0;
        n = 1;
    }
    return n;
}

/* The model on the instance's device, loaded once per device. */
static int model_for(t5_mver *v, const char *vdir, place *pl, t5_model **out, place *loaded,
                     t5_err *err)
{
    for (int i = 0; i < v->n_models; i++)
        if (loaded[i].cuda == pl->cuda && loaded[i].index == pl->index) {
            *out = v->models[i];
            return 0;
        }
    if (v->n_models == 16)
        return t5_errf(err, T5_ELIMIT, "instances on more than 16 devices");
    const t5_mcfg *cfg = &v->cfg;
    t5_model_params mp = t5_model_default_params();
    mp.device = pl->cuda ? T5_DEVICE_CUDA : T5_DEVICE_CPU;
    mp.dtype = pl->cuda ? T5_F16 : T5_F32;
    mp.device_index = pl->index;
    if (cfg->dtype[0])
        t5_dtype_parse(cfg->dtype, &mp.dtype);
    int rc = t5_model_load(out, vdir, &mp, err);
    if (rc < 0)
        return rc;
    loaded[v->n_models] = *pl;
    v->models[v->n_models++] = *out;
    if (!v->model)
        v->model = *out;
    return 0;
}

static int make_version(t5_repo *r, const t5_mcfg *cfg, const char *mdir, int64_t ver,
                        t5_mver **out, t5_err *err)
{
    t5_mver *v = calloc(1, sizeof *v);
    if (!v)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    v->cfg = *cfg;
    v->version = ver;
    snprintf(v->vstr, sizeof v->vstr, "%lld", (long long)ver);
    snprintf(v->name, sizeof v->name, "%s", cfg->name);
    if (t5_mstats_init(&v->stats, cfg->max_batch_size) < 0) {
        free(v);
        return t5_errf(err, T5_ENOMEM, "out of memory");
    }
    place *inst = calloc(MAX_INSTANCES, sizeof *inst);
    place loaded[16];
    t5_executor *ex = calloc(MAX_INSTANCES, sizeof *ex);
    t5_model **im = calloc(MAX_INSTANCES, sizeof *im);
    int n = 0, rc = 0;
    if (!inst || !ex || !im)
        rc = t5_errf(err, T5_ENOMEM, "out of memory");
    else if ((n = rc = plan_instances(cfg, inst, err)) > 0)
        rc = 0;
    char vdir[PATH_MAX];
    char vname[24];
    snprintf(vname, sizeof vname, "%lld", (long long)ver);
    join(vdir, sizeof vdir, mdir, vname);
    if (rc == 0 && !strcmp(cfg->backend, "identity")) {
        for (int i = 0; i < n && rc == 0; i++)
            rc = t5_exec_identity_create(&ex[i], cfg, err);
    } else if (rc == 0) {
        rc = t5_exec_t5_output_create(&v->output, cfg, vdir, err);
        for (int i = 0; i < n && rc == 0; i++) {
            rc = model_for(v, vdir, &inst[i], &im[i], loaded, err);
            if (rc < 0 && inst[i].may_fall) {
                /* KIND_AUTO and no usable GPU: run on the CPU. */
                inst[i].cuda = 0;
                inst[i].index = 0;
                rc = model_for(v, vdir, &inst[i], &im[i], loaded, err);
            }
            if (rc == 0)
                rc = t5_exec_t5_create(&ex[i], im[i], cfg, v->output, err);
        }
    }
    if (rc < 0) {
        for (int i = 0; ex && i < n; i++)
            if (ex[i].free)
                ex[i].free(ex[i].ctx);
        free(ex);
        free(im);
        free(inst);
        free_version(v);
        return rc;
    }
    rc = create_scheduler(v, ex, im, n, err);
    if (rc == 0 && v->output && v->model)
        t5_exec_t5_output_bind(v->output, v->model);
    free(ex);
    free(im);
    if (rc < 0) {
        free(inst);
        free_version(v);
        return rc;
    }
    if (r->o.verbose) {
        int gpus = 0;
        for (int i = 0; i < n; i++)
            gpus += inst[i].cuda;
        fprintf(stderr,
                "t5serve: loaded model '%s' version %lld (%d instance%s: %d on CUDA, %d on CPU; "
                "backend %s, scheduler %s)\n",
                cfg->name, (long long)ver, n, n == 1 ? "" : "s", gpus, n - gpus, cfg->backend,
                cfg->scheduler);
    }
    free(inst);
    *out = v;
    return 0;
}

/* Builds every version the policy selects; on failure nothing is kept. */
static int build_model(t5_repo *r, const char *name, t5_mver **vers, int *n_vers, t5_err *err)
{
    char mdir[PATH_MAX], cpath[PATH_MAX];
    join(mdir, sizeof mdir, r->dir, name);
    join(cpath, sizeof cpath, mdir, "config.pbtxt");
    *n_vers = 0;
    if (!is_dir(mdir))
        return t5_errf(err, T5_ENOTFOUND,
                       "failed to load '%s': no such model directory in the repository", name);
    t5_mcfg *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(cpath, &text, &len, err);
    if (rc == T5_ENOTFOUND) {
        t5_mcfg_default(cfg, name);
        rc = 0;
    } else if (rc == 0) {
        rc = t5_mcfg_parse(text, len, name, cfg, err);
        free(text);
    }
    if (rc < 0) {
        t5_err_wrap(err, rc, "failed to load '%s'", name);
        free(cfg);
        return rc;
    }
    int64_t found[64];
    int nf = list_versions(mdir, found, 64);
    int64_t pick[MAX_VERS];
    int np = 0;
    for (int i = 0; i < nf && np < MAX_VERS; i++) {
        int take = cfg->vp_kind == 1 || (cfg->vp_kind == 0 && i < cfg->vp_latest_n);
        for (int j = 0; cfg->vp_kind == 2 && j < cfg->n_vp_versions; j++)
            take |= cfg->vp_versions[j] == found[i];
        if (take)
            pick[np++] = found[i];
    }
    if (np == 0) {
        free(cfg);
        return t5_errf(err, T5_ENOTFOUND,
                       "failed to load '%s': no version folder (a number, e.g. %s/1) holds a model",
                       name, name);
    }
    for (int i = 0; i < np; i++) {
        rc = make_version(r, cfg, mdir, pick[i], &vers[i], err);
        if (rc < 0) {
            t5_err_wrap(err, rc, "failed to load '%s' version %lld", name, (long long)pick[i]);
            for (int j = 0; j < i; j++)
                free_version(vers[j]);
            free(cfg);
            return rc;
        }
    }
    *n_vers = np;
    free(cfg);
    return 0;
}

int t5_repo_load(t5_repo *r, const char *name, t5_err *err)
{
    if (!valid_name(name))
        return t5_errf(err, T5_EINVAL, "invalid model name '%.64s'", name);
    pthread_mutex_lock(&r->mu);
    entry *e = find(r, name);
    if (!e) {
        char mdir[PATH_MAX];
        join(mdir, sizeof mdir, r->dir, name);
        if (!is_dir(mdir)) {
            pthread_mutex_unlock(&r->mu);
            return t5_errf(err, T5_ENOTFOUND,
                           "failed to load '%s', failed to poll from model repository", name);
        }
        if (!(e = add_entry(r, name))) {
            pthread_mutex_unlock(&r->mu);
            return t5_errf(err, T5_ENOMEM, "out of memory");
        }
    }
    if (e->busy || r->closing) {
        pthread_mutex_unlock(&r->mu);
        return t5_errf(err, T5_EBUSY, "model '%s' is being loaded or unloaded", name);
    }
    e->busy = 1;
    if (e->state != T5_MS_READY)
        e->state = T5_MS_LOADING;
    pthread_mutex_unlock(&r->mu);

    t5_mver *nv[MAX_VERS];
    int n = 0;
    t5_err le = {0};
    int rc = build_model(r, name, nv, &n, &le);

    t5_mver *old[MAX_VERS];
    int n_old = 0;
    pthread_mutex_lock(&r->mu);
    if (rc == 0) {
        n_old = e->n_vers;
        memcpy(old, e->vers, sizeof old);
        memcpy(e->vers, nv, (size_t)n * sizeof *nv);
        e->n_vers = n;
        e->state = T5_MS_READY;
        e->reason[0] = '\0';
    } else if (e->n_vers == 0) {
        /* A failed reload keeps the versions that were serving. */
        e->state = T5_MS_UNAVAILABLE;
        snprintf(e->reason, sizeof e->reason, "%s", le.msg);
    }
    e->busy = 0;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n_old; i++)
        free_version(old[i]);
    if (rc < 0) {
        if (err)
            *err = le;
        fprintf(stderr, "t5serve: %s\n", le.msg);
    }
    return rc;
}

int t5_repo_unload(t5_repo *r, const char *name, t5_err *err)
{
    pthread_mutex_lock(&r->mu);
    entry *e = find(r, name);
    if (!e) {
        pthread_mutex_unlock(&r->mu);
        return t5_errf(err, T5_ENOTFOUND, "failed to unload '%.64s', no version is available",
                       name);
    }
    if (e->busy) {
        pthread_mutex_unlock(&r->mu);
        return t5_errf(err, T5_EBUSY, "model '%s' is being loaded or unloaded", name);
    }
    t5_mver *old[MAX_VERS];
    int n_old = e->n_vers;
    memcpy(old, e->vers, sizeof old);
    e->n_vers = 0;
    e->busy = 1;
    e->state = T5_MS_UNLOADING;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n_old; i++)
        free_version(old[i]);
    pthread_mutex_lock(&r->mu);
    e->busy = 0;
    e->state = T5_MS_UNAVAILABLE;
    snprintf(e->reason, sizeof e->reason, "unloaded");
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int t5_repo_open(t5_repo **out, const t5_repo_opts *o, t5_err *err)
{
    *out = NULL;
    if (!o->dir || !is_dir(o->dir))
        return t5_errf(err, T5_EIO, "model repository '%s' is not a directory",
                       o->dir ? o->dir : "(none)");
    t5_repo *r = calloc(1, sizeof *r);
    if (!r)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    r->o = *o;
    if (!realpath(o->dir, r->dir))
        snprintf(r->dir, sizeof r->dir, "%s", o->dir);
    r->o.dir = r->dir;
    pthread_mutex_init(&r->mu, NULL);
    DIR *d = opendir(r->dir);
    if (!d) {
        t5_repo_close(r);
        return t5_errf(err, T5_EIO, "cannot read model repository '%s'", o->dir);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[PATH_MAX];
        if (valid_name(de->d_name) && join(p, sizeof p, r->dir, de->d_name) == 0 && is_dir(p) &&
            !add_entry(r, de->d_name)) {
            closedir(d);
            t5_repo_close(r);
            return t5_errf(err, T5_ENOMEM, "out of memory");
        }
    }
    closedir(d);
    if (!o->explicit_mode) {
        for (entry *e = r->head; e; e = e->next) {
            t5_err le = {0};
            t5_repo_load(r, e->name, &le); /* failures are recorded in the entry */
        }
    }
    *out = r;
    return 0;
}

void t5_repo_drain(t5_repo *r)
{
    pthread_mutex_lock(&r->mu);
    r->closing = 1;
    t5_sched *s[256];
    int n = 0;
    for (entry *e = r->head; e; e = e->next)
        for (int i = 0; i < e->n_vers && n < 256; i++)
            s[n++] = e->vers[i]->sched;
    pthread_mutex_unlock(&r->mu);
    /* Drain all at once: each drain stops its queue from accepting, and the
     * workers of every model finish in parallel. */
    for (int i = 0; i < n; i++)
        t5_sched_drain(s[i]);
}

void t5_repo_close(t5_repo *r)
{
    if (!r)
        return;
    t5_repo_drain(r);
    entry *e = r->head;
    while (e) {
        entry *next = e->next;
        for (int i = 0; i < e->n_vers; i++)
            free_version(e->vers[i]);
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int t5_repo_get(t5_repo *r, const char *name, const char *version, t5_mver **out, t5_err *err)
{
    *out = NULL;
    int64_t want = 0;
    if (version && *version) {
        char *end;
        errno = 0;
        long long v = strtoll(version, &end, 10);
        if (errno || *end || v <= 0)
            return t5_errf(err, T5_ENOTFOUND,
                           "Request for unknown model: '%.64s' version %.32s is not found", name,
                           version);
        want = v;
    }
    pthread_mutex_lock(&r->mu);
    entry *e = find(r, name);
    int rc = 0;
    if (!e) {
        rc = t5_errf(err, T5_ENOTFOUND, "Request for unknown model: '%.64s' is not found", name);
    } else if (e->state != T5_MS_READY || e->n_vers == 0) {
        rc = t5_errf(err, T5_EBUSY, "Request for unknown model: '%s' is not ready (%s: %.300s)",
                     name, state_name(e->state), e->reason);
    } else {
        t5_mver *best = NULL;
        for (int i = 0; i < e->n_vers; i++)
            if (want ? e->vers[i]->version == want : (!best || e->vers[i]->version > best->version))
                best = e->vers[i];
        if (!best)
            rc = t5_errf(err, T5_ENOTFOUND,
                         "Request for unknown model: '%s' version %lld is not found", name,
                         (long long)want);
        else {
            atomic_fetch_add(&best->refs, 1);
            *out = best;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void t5_mver_unref(t5_mver *v)
{
    if (v)
        atomic_fetch_sub(&v->refs, 1);
}

cJSON *t5_repo_index(t5_repo *r, int ready_only)
{
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&r->mu);
    for (entry *e = r->head; e; e = e->next) {
        if (e->n_vers == 0) {
            if (ready_only)
                continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", e->name);
            cJSON_AddStringToObject(o, "version", "");
            cJSON_AddStringToObject(o, "state", state_name(e->state));
            cJSON_AddStringToObject(o, "reason", e->reason);
            cJSON_AddItemToArray(a, o);
            continue;
        }
        for (int i = 0; i < e->n_vers; i++) {
            if (ready_only && e->state != T5_MS_READY)
                continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", e->name);
            cJSON_AddStringToObject(o, "version", e->vers[i]->vstr);
            cJSON_AddStringToObject(o, "state", state_name(e->state));
            cJSON_AddStringToObject(o, "reason", e->state == T5_MS_READY ? "" : e->reason);
            cJSON_AddItemToArray(a, o);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return a;
}

void t5_repo_foreach(t5_repo *r, void (*fn)(t5_mver *v, void *user), void *user)
{
    t5_mver *vs[512];
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (entry *e = r->head; e; e = e->next)
        for (int i = 0; i < e->n_vers && n < 512; i++) {
            atomic_fetch_add(&e->vers[i]->refs, 1);
            vs[n++] = e->vers[i];
        }
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n; i++) {
        fn(vs[i], user);
        t5_mver_unref(vs[i]);
    }
}

int t5_repo_all_ready(t5_repo *r)
{
    int ok = 1;
    pthread_mutex_lock(&r->mu);
    if (r->closing)
        ok = 0;
    for (entry *e = r->head; e && ok; e = e->next) {
        /* In explicit mode only models asked for count; an unloaded model
         * (reason "unloaded") is not a failure either way. */
        if (e->state == T5_MS_LOADING || e->state == T5_MS_UNLOADING)
            ok = 0;
        else if (e->state == T5_MS_UNAVAILABLE && strcmp(e->reason, "unloaded") != 0)
            ok = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}
