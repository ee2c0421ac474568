/* repo.h - the model repository: Triton's layout on disk, the models loaded
 * from it, and their lifetimes.
 *
 *   REPO/NAME/config.pbtxt        (optional: defaults when missing)
 *   REPO/NAME/<version>/          a Hugging Face model directory per version
 *
 * A loaded version owns its t5_model (shared by its instances), its
 * scheduler (one executor per instance) and its statistics. Requests hold a
 * reference on the version from lookup until their response is rendered;
 * unloading stops new lookups, drains the scheduler and waits for the
 * references to go before freeing.
 */
#ifndef T5_SERVER_REPO_H
#define T5_SERVER_REPO_H

#include <cjson/cJSON.h>
#include <stdatomic.h>

#include "sched/sched.h"
#include "server/model_config.h"
#include "server/stats.h"

typedef struct t5_repo t5_repo;

typedef struct t5_mver {
    int64_t version;
    char vstr[24];
    char name[T5_MCFG_NAME];
    t5_mcfg cfg;
    t5_model *model;      /* models[0]; NULL for the identity backend */
    t5_model *models[16]; /* one per device the instances run on (owned) */
    int n_models;
    t5_sched *sched;
    struct t5_t5_output *output; /* the T5 executors' output stage (lexicon), or NULL */
    t5_mstats stats;
    atomic_int refs;
} t5_mver;

enum { T5_MS_UNAVAILABLE = 0, T5_MS_LOADING, T5_MS_READY, T5_MS_UNLOADING };

typedef struct t5_repo_opts {
    const char *dir;
    int explicit_mode; /* --model-control-mode explicit: load nothing at start */
    int verbose;
} t5_repo_opts;

/* Scans dir; in "none" mode loads every model found (a model that fails to
 * load is UNAVAILABLE with its reason; the others still load). */
int t5_repo_open(t5_repo **out, const t5_repo_opts *o, t5_err *err);
/* Drains and frees every model. */
void t5_repo_close(t5_repo *r);

/* A ready version of model name (version 0/NULL: the highest ready one).
 * Returns T5_ENOTFOUND (unknown model or version) or T5_EBUSY (not ready)
 * with Triton's message. The caller releases it with t5_mver_unref. */
int t5_repo_get(t5_repo *r, const char *name, const char *version, t5_mver **out, t5_err *err);
void t5_mver_unref(t5_mver *v);

/* Explicit model control. Blocking: call from a job thread. */
int t5_repo_load(t5_repo *r, const char *name, t5_err *err);
int t5_repo_unload(t5_repo *r, const char *name, t5_err *err);

/* [{"name","version","state","reason"}] (ready_only: only READY versions). */
cJSON *t5_repo_index(t5_repo *r, int ready_only);

/* Calls fn for every ready version (holding a reference during the call). */
void t5_repo_foreach(t5_repo *r, void (*fn)(t5_mver *v, void *user), void *user);

/* Whether every model that should be loaded is ready (for v2/health/ready). */
int t5_repo_all_ready(t5_repo *r);

/* Stops and drains every scheduler (SIGTERM): accepted requests finish. */
void t5_repo_drain(t5_repo *r);

#endif
