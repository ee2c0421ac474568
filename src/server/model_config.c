/* model_config.c - config.pbtxt onto t5_mcfg, and t5_mcfg back to JSON. */
#include "server/model_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/pbtxt.h"
#include "server/wordmap.h"

static void set_io(t5_mcfg_io *io, const char *name, const char *type, int n_dims, int64_t d0,
                   int64_t d1)
{
    memset(io, 0, sizeof *io);
    snprintf(io->name, sizeof io->name, "%s", name);
    snprintf(io->data_type, sizeof io->data_type, "%s", type);
    io->n_dims = n_dims;
    io->dims[0] = d0;
    io->dims[1] = d1;
}

void t5_mcfg_default(t5_mcfg *c, const char *name)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->backend, sizeof c->backend, "t5serve");
    c->max_batch_size = 8;
    c->dynamic_batching = 1;
    c->sched = t5_sched_default_config();
    c->n_input = 1;
    set_io(&c->input[0], "text_input", "TYPE_STRING", 1, 1, 0);
    c->n_output = 3;
    set_io(&c->output[0], "text_output", "TYPE_STRING", 1, -1, 0);
    set_io(&c->output[1], "output_ids", "TYPE_INT32", 2, -1, -1);
    set_io(&c->output[2], "sequence_score", "TYPE_FP32", 1, -1, 0);
    c->n_group = 1;
    c->group[0].count = 1;
    c->group[0].kind = T5_KIND_AUTO;
    snprintf(c->group[0].name, sizeof c->group[0].name, "%.120s_0", name);
    c->vp_latest_n = 1;
    c->gen = t5_gen_default_params();
    c->max_input_tokens = 128;
    c->max_output_tokens = 128;
    c->max_num_beams = 4;
    c->lexicon_margin = INFINITY;
    snprintf(c->scheduler, sizeof c->scheduler, "inflight"); /* see derive_params */
}

static int copy_str(const pb_node *n, char *dst, size_t cap, t5_err *err)
{
    if (n->kind != PB_SCALAR)
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s must be a string", n->line,
                       n->name);
    if (n->value_len >= cap || memchr(n->value, '\0', n->value_len))
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s is too long (max %zu bytes)",
                       n->line, n->name, cap - 1);
    memcpy(dst, n->value, n->value_len + 1);
    return 0;
}

static int want_msg(const pb_node *n, t5_err *err)
{
    if (n->kind != PB_MESSAGE)
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s must be a message { ... }",
                       n->line, n->name);
    return 0;
}

static int parse_io(const pb_node *n, t5_mcfg_io *io, t5_err *err)
{
    int rc = want_msg(n, err);
    if (rc < 0)
        return rc;
    memset(io, 0, sizeof *io);
    for (int i = 0; i < n->n_kids; i++) {
        const pb_node *k = &n->kids[i];
        int64_t v;
        if (!strcmp(k->name, "name")) {
            rc = copy_str(k, io->name, sizeof io->name, err);
        } else if (!strcmp(k->name, "data_type")) {
            rc = copy_str(k, io->data_type, sizeof io->data_type, err);
        } else if (!strcmp(k->name, "dims")) {
            if (io->n_dims >= 8)
                return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: too many dims", k->line);
            rc = pb_int(k, -1, INT32_MAX, &v, err);
            if (rc == 0)
                io->dims[io->n_dims++] = v;
        } else if (!strcmp(k->name, "optional")) {
            rc = pb_bool(k, &io->optional, err);
        }
        if (rc < 0)
            return rc;
    }
    if (!io->name[0])
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: %s needs a name", n->line, n->name);
    return 0;
}

static int parse_policy(const pb_node *n, t5_queue_policy *p, t5_err *err)
{
    int rc = want_msg(n, err);
    for (int i = 0; rc == 0 && i < n->n_kids; i++) {
        const pb_node *k = &n->kids[i];
        int64_t v;
        if (!strcmp(k->name, "timeout_action")) {
            if (!strcmp(k->value ? k->value : "", "REJECT"))
                p->timeout_action = T5_TIMEOUT_REJECT;
            else if (!strcmp(k->value ? k->value : "", "DELAY"))
                p->timeout_action = T5_TIMEOUT_DELAY;
            else
                rc = t5_errf(err, T5_EFORMAT,
                             "config.pbtxt line %d: timeout_action must be REJECT or DELAY",
                             k->line);
        } else if (!strcmp(k->name, "default_timeout_microseconds")) {
            if ((rc = pb_int(k, 0, INT64_MAX / 1000, &v, err)) == 0)
                p->default_timeout_us = (uint64_t)v;
        } else if (!strcmp(k->name, "allow_timeout_override")) {
            rc = pb_bool(k, &p->allow_timeout_override, err);
        } else if (!strcmp(k->name, "max_queue_size")) {
            if ((rc = pb_int(k, 0, UINT32_MAX, &v, err)) == 0)
                p->max_queue_size = (uint32_t)v;
        }
    }
    return rc;
}

static int parse_batching(const pb_node *n, t5_mcfg *c, t5_err *err)
{
    int rc = want_msg(n, err);
    t5_sched_config *s = &c->sched;
    for (int i = 0; rc == 0 && i < n->n_kids; i++) {
        const pb_node *k = &n->kids[i];
        int64_t v;
        if (!strcmp(k->name, "preferred_batch_size")) {
            if (s->n_preferred >= T5_SCHED_MAX_PREFERRED)
                return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: too many preferred sizes",
                               k->line);
            if ((rc = pb_int(k, 1, 1 << 20, &v, err)) == 0)
                s->preferred[s->n_preferred++] = (int)v;
        } else if (!strcmp(k->name, "max_queue_delay_microseconds")) {
            if ((rc = pb_int(k, 0, 60000000, &v, err)) == 0)
                s->max_queue_delay_us = (uint64_t)v;
        } else if (!strcmp(k->name, "priority_levels")) {
            if ((rc = pb_int(k, 0, T5_SCHED_MAX_LEVELS, &v, err)) == 0)
                s->priority_levels = (int)v;
        } else if (!strcmp(k->name, "default_priority_level")) {
            if ((rc = pb_int(k, 0, T5_SCHED_MAX_LEVELS, &v, err)) == 0)
                s->default_priority_level = (int)v;
        } else if (!strcmp(k->name, "default_queue_policy")) {
            rc = parse_policy(k, &s->policy, err);
        } else if (!strcmp(k->name, "priority_queue_policy")) {
            /* a map entry: { key: LEVEL value: { ModelQueuePolicy } } */
            const pb_node *key = k->kind == PB_MESSAGE ? pb_child(k, "key", 0) : NULL;
            const pb_node *val = k->kind == PB_MESSAGE ? pb_child(k, "value", 0) : NULL;
            if (!key || !val) {
                rc = t5_errf(err, T5_EFORMAT,
                             "config.pbtxt line %d: priority_queue_policy needs a key and a value",
                             k->line);
            } else if ((rc = pb_int(key, 1, T5_SCHED_MAX_LEVELS, &v, err)) == 0) {
                /* Unset fields take their defaults, not default_queue_policy's. */
                t5_queue_policy *lp = &s->level_policy[v - 1];
                memset(lp, 0, sizeof *lp);
                if ((rc = parse_policy(val, lp, err)) == 0)
                    s->level_policy_set |= 1u << (v - 1);
            }
        }
    }
    return rc;
}

static int parse_group(const pb_node *n, t5_mcfg_group *g, t5_err *err)
{
    int rc = want_msg(n, err);
    g->count = 1;
    g->kind = T5_KIND_AUTO;
    for (int i = 0; rc == 0 && i < n->n_kids; i++) {
        const pb_node *k = &n->kids[i];
        int64_t v;
        if (!strcmp(k->name, "name")) {
            rc = copy_str(k, g->name, sizeof g->name, err);
        } else if (!strcmp(k->name, "count")) {
            if ((rc = pb_int(k, 1, 64, &v, err)) == 0)
                g->count = (int)v;
        } else if (!strcmp(k->name, "kind")) {
            const char *s = k->value ? k->value : "";
            if (!strcmp(s, "KIND_CPU"))
                g->kind = T5_KIND_CPU;
            else if (!strcmp(s, "KIND_GPU"))
                g->kind = T5_KIND_GPU;
            else if (!strcmp(s, "KIND_AUTO"))
                g->kind = T5_KIND_AUTO;
            else
                rc = t5_errf(err, T5_EFORMAT,
                             "config.pbtxt line %d: kind must be KIND_CPU, KIND_GPU or KIND_AUTO",
                             k->line);
        } else if (!strcmp(k->name, "gpus")) {
            if (g->n_gpus >= T5_MCFG_MAX_GPUS)
                return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: too many gpus", k->line);
            if ((rc = pb_int(k, 0, 1024, &v, err)) == 0)
                g->gpus[g->n_gpus++] = (int)v;
        }
    }
    return rc;
}

static int parse_param(const pb_node *n, t5_mcfg *c, t5_err *err)
{
    int rc = want_msg(n, err);
    if (rc < 0)
        return rc;
    if (c->n_param >= T5_MCFG_MAX_PARAMS)
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: too many parameters", n->line);
    t5_mcfg_param *p = &c->param[c->n_param];
    memset(p, 0, sizeof *p);
    const pb_node *key = pb_child(n, "key", 0), *val = pb_child(n, "value", 0);
    if (!key || !val)
        return t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: parameters need a key and a value",
                       n->line);
    if ((rc = copy_str(key, p->key, sizeof p->key, err)) < 0)
        return rc;
    const pb_node *sv = val->kind == PB_MESSAGE ? pb_child(val, "string_value", 0) : NULL;
    if (!sv)
        return t5_errf(err, T5_EFORMAT,
                       "config.pbtxt line %d: parameter %s needs value { string_value: \"...\" }",
                       val->line, p->key);
    if ((rc = copy_str(sv, p->value, sizeof p->value, err)) < 0)
        return rc;
    c->n_param++;
    return 0;
}

static int parse_version_policy(const pb_node *n, t5_mcfg *c, t5_err *err)
{
    int rc = want_msg(n, err);
    const pb_node *k;
    if (rc < 0)
        return rc;
    if ((k = pb_child(n, "latest", 0))) {
        c->vp_kind = 0;
        const pb_node *nv = pb_child(k, "num_versions", 0);
        int64_t v = 1;
        if (nv && (rc = pb_int(nv, 1, 1024, &v, err)) < 0)
            return rc;
        c->vp_latest_n = (int)v;
    } else if ((k = pb_child(n, "all", 0))) {
        c->vp_kind = 1;
    } else if ((k = pb_child(n, "specific", 0))) {
        c->vp_kind = 2;
        int nv = pb_count(k, "versions");
        for (int i = 0; i < nv; i++) {
            int64_t v;
            if (c->n_vp_versions >= 16)
                return t5_errf(err, T5_EFORMAT, "config.pbtxt: too many specific versions");
            if ((rc = pb_int(pb_child(k, "versions", i), 0, INT64_MAX, &v, err)) < 0)
                return rc;
            c->vp_versions[c->n_vp_versions++] = v;
        }
    }
    return 0;
}

static int param_int(const t5_mcfg *c, const char *key, int lo, int hi, int *out, t5_err *err)
{
    const char *s = t5_mcfg_param_get(c, key);
    if (!s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return t5_errf(err, T5_EFORMAT, "parameter %s: '%s' is not an integer in [%d, %d]", key, s,
                       lo, hi);
    *out = (int)v;
    return 0;
}

static int param_double(const t5_mcfg *c, const char *key, double lo, double hi, double *out,
                        t5_err *err)
{
    const char *s = t5_mcfg_param_get(c, key);
    if (!s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return t5_errf(err, T5_EFORMAT, "parameter %s: '%s' is not a number in [%g, %g]", key, s,
                       lo, hi);
    *out = v;
    return 0;
}

static int param_float(const t5_mcfg *c, const char *key, float lo, float hi, float *out,
                       t5_err *err)
{
    double v = *out;
    int rc = param_double(c, key, lo, hi, &v, err);
    *out = (float)v;
    return rc;
}

static int param_bool(const t5_mcfg *c, const char *key, int *out, t5_err *err)
{
    const char *s = t5_mcfg_param_get(c, key);
    if (!s)
        return 0;
    if (!strcmp(s, "true") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0"))
        *out = 0;
    else
        return t5_errf(err, T5_EFORMAT, "parameter %s: '%s' is not true or false", key, s);
    return 0;
}

/* A parameter naming a file of the version directory: no path, so a config
 * cannot point the server at files outside the model. */
static int param_file(const t5_mcfg *c, const char *key, char *dst, size_t size, t5_err *err)
{
    const char *s = t5_mcfg_param_get(c, key);
    if (!s)
        return 0;
    if (!s[0] || strchr(s, '/') || strchr(s, '\\') || !strcmp(s, ".") || !strcmp(s, "..") ||
        strlen(s) >= size)
        return t5_errf(err, T5_EFORMAT,
                       "parameter %s: '%.64s' is not a file name in the version directory (no '/')",
                       key, s);
    snprintf(dst, size, "%s", s);
    return 0;
}

/* Generation defaults and limits from the parameters block. */
static int derive_params(t5_mcfg *c, t5_err *err)
{
    t5_gen_params *g = &c->gen;
    int rc = 0, seed = -1, delay = 0;
    if ((rc = param_int(c, "max_input_tokens", 1, 1 << 16, &c->max_input_tokens, err)) < 0 ||
        (rc = param_int(c, "max_output_tokens", 1, 1 << 16, &c->max_output_tokens, err)) < 0 ||
        (rc = param_int(c, "max_num_beams", 1, 64, &c->max_num_beams, err)) < 0 ||
        (rc = param_int(c, "n_threads", 0, 1024, &c->n_threads, err)) < 0 ||
        (rc = param_int(c, "max_new_tokens", 1, 1 << 16, &g->max_new_tokens, err)) < 0 ||
        (rc = param_int(c, "min_new_tokens", 0, 1 << 16, &g->min_new_tokens, err)) < 0 ||
        (rc = param_int(c, "num_beams", 1, 64, &g->num_beams, err)) < 0 ||
        (rc = param_int(c, "num_return_sequences", 1, 64, &g->num_return_sequences, err)) < 0 ||
        (rc = param_int(c, "top_k", 0, 1 << 20, &g->top_k, err)) < 0 ||
        (rc = param_int(c, "early_stopping", -1, 1, &g->early_stopping, err)) < 0 ||
        (rc = param_int(c, "seed", 0, INT32_MAX, &seed, err)) < 0 ||
        (rc = param_int(c, "delay_us", 0, 60000000, &delay, err)) < 0 ||
        (rc = param_float(c, "length_penalty", -100, 100, &g->length_penalty, err)) < 0 ||
        (rc = param_float(c, "temperature", 1e-6f, 100, &g->temperature, err)) < 0 ||
        (rc = param_float(c, "top_p", 0, 1, &g->top_p, err)) < 0 ||
        (rc = param_float(c, "lexicon_margin", 0, INFINITY, &c->lexicon_margin, err)) < 0 ||
        (rc = param_double(c, "lexicon_prior", 0, 100, &c->lexicon_prior, err)) < 0 ||
        (rc = param_bool(c, "do_sample", &g->do_sample, err)) < 0 ||
        (rc = param_bool(c, "lowercase_input", &c->lowercase_input, err)) < 0)
        return rc;
    if (seed >= 0)
        g->seed = (uint64_t)seed;
    c->identity_delay_us = (uint64_t)delay;
    const char *s;
    if ((s = t5_mcfg_param_get(c, "device"))) {
        if (strcmp(s, "cpu") && strcmp(s, "cuda"))
            return t5_errf(err, T5_EFORMAT, "parameter device: '%s' is not cpu or cuda", s);
        snprintf(c->device, sizeof c->device, "%s", s);
    }
    /* T5 models default to the in-flight scheduler: on an H200 it held ~2x
     * the load of the request-level batcher at the same p99, with the lower
     * median and tail at every load (bench/serving.md). */
    snprintf(c->scheduler, sizeof c->scheduler, "%s",
             strcmp(c->backend, "identity") ? "inflight" : "dynamic");
    if ((s = t5_mcfg_param_get(c, "scheduler"))) {
        if (strlen(s) >= sizeof c->scheduler)
            return t5_errf(err, T5_EFORMAT, "parameter scheduler: '%.32s' is too long", s);
        snprintf(c->scheduler, sizeof c->scheduler, "%s", s);
    }
    if ((s = t5_mcfg_param_get(c, "dtype"))) {
        t5_dtype dt;
        if (t5_dtype_parse(s, &dt) < 0)
            return t5_errf(err, T5_EFORMAT, "parameter dtype: '%s' is not fp32, fp16 or bf16", s);
        snprintf(c->dtype, sizeof c->dtype, "%s", s);
    }
    if ((rc = param_file(c, "lexicon", c->lexicon, sizeof c->lexicon, err)) < 0 ||
        (rc = param_file(c, "keep_words", c->keep_words, sizeof c->keep_words, err)) < 0 ||
        (rc = param_file(c, "accept_words", c->accept_words, sizeof c->accept_words, err)) < 0)
        return rc;
    if ((s = t5_mcfg_param_get(c, "word_chars"))) {
        t5_wordmap wm;
        if ((rc = t5_wordmap_init(&wm, 0, s, NULL, err)) < 0)
            return rc;
        snprintf(c->word_chars, sizeof c->word_chars, "%s", s);
    }
    if (g->max_new_tokens > c->max_output_tokens)
        return t5_errf(err, T5_EFORMAT, "parameter max_new_tokens %d exceeds max_output_tokens %d",
                       g->max_new_tokens, c->max_output_tokens);
    if (g->num_beams > c->max_num_beams)
        return t5_errf(err, T5_EFORMAT, "parameter num_beams %d exceeds max_num_beams %d",
                       g->num_beams, c->max_num_beams);
    return 0;
}

int t5_mcfg_parse(const char *text, size_t len, const char *dir_name, t5_mcfg *c, t5_err *err)
{
    t5_mcfg_default(c, dir_name);
    pb_node *root;
    int rc = pb_parse(text, len, &root, err);
    if (rc < 0)
        return rc;
    int have_input = 0, have_output = 0, have_group = 0;
    c->dynamic_batching = 0;
    c->max_batch_size = 0;
    for (int i = 0; rc == 0 && i < root->n_kids; i++) {
        const pb_node *k = &root->kids[i];
        int64_t v;
        if (!strcmp(k->name, "name")) {
            char nm[T5_MCFG_NAME];
            if ((rc = copy_str(k, nm, sizeof nm, err)) == 0 && dir_name && strcmp(nm, dir_name))
                rc = t5_errf(err, T5_EFORMAT,
                             "config.pbtxt: name '%s' does not match the model directory '%s'", nm,
                             dir_name);
        } else if (!strcmp(k->name, "backend")) {
            rc = copy_str(k, c->backend, sizeof c->backend, err);
        } else if (!strcmp(k->name, "platform")) {
            rc = copy_str(k, c->platform, sizeof c->platform, err);
        } else if (!strcmp(k->name, "max_batch_size")) {
            if ((rc = pb_int(k, 0, 1 << 16, &v, err)) == 0)
                c->max_batch_size = (int)v;
        } else if (!strcmp(k->name, "input") || !strcmp(k->name, "output")) {
            int is_in = k->name[0] == 'i';
            if (is_in && !have_input) {
                c->n_input = 0;
                have_input = 1;
            }
            if (!is_in && !have_output) {
                c->n_output = 0;
                have_output = 1;
            }
            int *n = is_in ? &c->n_input : &c->n_output;
            if (*n >= T5_MCFG_MAX_IO)
                rc = t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: too many %ss", k->line,
                             k->name);
            else if ((rc = parse_io(k, is_in ? &c->input[*n] : &c->output[*n], err)) == 0)
                (*n)++;
        } else if (!strcmp(k->name, "dynamic_batching")) {
            c->dynamic_batching = 1;
            rc = parse_batching(k, c, err);
        } else if (!strcmp(k->name, "instance_group")) {
            if (!have_group) {
                c->n_group = 0;
                have_group = 1;
            }
            if (c->n_group >= T5_MCFG_MAX_GROUPS)
                rc = t5_errf(err, T5_EFORMAT, "config.pbtxt line %d: too many instance groups",
                             k->line);
            else if ((rc = parse_group(k, &c->group[c->n_group], err)) == 0) {
                if (!c->group[c->n_group].name[0]) {
                    char nm[T5_MCFG_NAME];
                    memcpy(nm, c->name, sizeof nm);
                    snprintf(c->group[c->n_group].name, sizeof c->group[0].name, "%.100s_%d", nm,
                             c->n_group);
                }
                c->n_group++;
            }
        } else if (!strcmp(k->name, "parameters")) {
            rc = parse_param(k, c, err);
        } else if (!strcmp(k->name, "response_cache")) {
            const pb_node *e = k->kind == PB_MESSAGE ? pb_child(k, "enable", 0) : NULL;
            if ((rc = want_msg(k, err)) == 0 && e)
                rc = pb_bool(e, &c->response_cache, err);
        } else if (!strcmp(k->name, "version_policy")) {
            rc = parse_version_policy(k, c, err);
        }
        /* Other ModelConfig fields (optimization, model_warmup, ...) do not
         * apply to this backend and are ignored. */
    }
    pb_free(root);
    if (rc < 0)
        return rc;

    if (c->backend[0] && strcmp(c->backend, "t5serve") && strcmp(c->backend, "t5") &&
        strcmp(c->backend, "identity"))
        return t5_errf(err, T5_EUNSUP,
                       "backend '%s' is not supported (t5serve serves backend \"t5serve\"; "
                       "\"identity\" echoes its input for tests)",
                       c->backend);
    if (!c->backend[0])
        snprintf(c->backend, sizeof c->backend, "t5serve");
    t5_sched_config *s = &c->sched;
    s->max_batch_size = c->max_batch_size;
    s->dynamic = c->dynamic_batching;
    if (c->dynamic_batching && c->max_batch_size == 0)
        return t5_errf(err, T5_EFORMAT, "dynamic_batching needs max_batch_size > 0");
    for (int i = 0; i < s->n_preferred; i++)
        if (s->preferred[i] > c->max_batch_size)
            return t5_errf(err, T5_EFORMAT, "preferred_batch_size %d exceeds max_batch_size %d",
                           s->preferred[i], c->max_batch_size);
    if (s->priority_levels > 0 &&
        (s->default_priority_level < 1 || s->default_priority_level > s->priority_levels))
        return t5_errf(err, T5_EFORMAT, "default_priority_level must be in 1..%d",
                       s->priority_levels);
    for (int l = 0; l < T5_SCHED_MAX_LEVELS; l++)
        if ((s->level_policy_set >> l & 1u) && l + 1 > s->priority_levels)
            return t5_errf(err, T5_EFORMAT,
                           "priority_queue_policy for level %d, but priority_levels is %d", l + 1,
                           s->priority_levels);
    if (s->priority_levels == 0) {
        s->priority_levels = 1;
        s->default_priority_level = 1;
    }
    for (int i = 0; i < c->n_input; i++)
        if (strcmp(c->input[i].name, "text_input"))
            return t5_errf(
                err, T5_EFORMAT,
                "input '%s' is not supported: the only input is text_input (TYPE_STRING)",
                c->input[i].name);
    return derive_params(c, err);
}

const char *t5_mcfg_param_get(const t5_mcfg *c, const char *key)
{
    for (int i = c->n_param - 1; i >= 0; i--)
        if (!strcmp(c->param[i].key, key))
            return c->param[i].value;
    return NULL;
}

int t5_mcfg_instances(const t5_mcfg *c)
{
    int n = 0;
    for (int i = 0; i < c->n_group; i++)
        n += c->group[i].count *
             (c->group[i].kind == T5_KIND_GPU && c->group[i].n_gpus > 1 ? c->group[i].n_gpus : 1);
    return n > 0 ? n : 1;
}

static cJSON *io_json(const t5_mcfg_io *io, int is_in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", io->name);
    cJSON_AddStringToObject(o, "data_type", io->data_type);
    if (is_in)
        cJSON_AddStringToObject(o, "format", "FORMAT_NONE");
    cJSON *d = cJSON_AddArrayToObject(o, "dims");
    for (int i = 0; i < io->n_dims; i++)
        cJSON_AddItemToArray(d, cJSON_CreateNumber((double)io->dims[i]));
    cJSON_AddBoolToObject(o, "is_shape_tensor", 0);
    if (is_in) {
        cJSON_AddBoolToObject(o, "allow_ragged_batch", 0);
        cJSON_AddBoolToObject(o, "optional", io->optional);
    } else {
        cJSON_AddStringToObject(o, "label_filename", "");
    }
    return o;
}

static void policy_json(cJSON *qp, const t5_queue_policy *p)
{
    cJSON_AddStringToObject(qp, "timeout_action",
                            p->timeout_action == T5_TIMEOUT_DELAY ? "DELAY" : "REJECT");
    cJSON_AddNumberToObject(qp, "default_timeout_microseconds", (double)p->default_timeout_us);
    cJSON_AddBoolToObject(qp, "allow_timeout_override", p->allow_timeout_override);
    cJSON_AddNumberToObject(qp, "max_queue_size", p->max_queue_size);
}

static const char *kind_name(int k)
{
    return k == T5_KIND_CPU ? "KIND_CPU" : k == T5_KIND_GPU ? "KIND_GPU" : "KIND_AUTO";
}

cJSON *t5_mcfg_to_json(const t5_mcfg *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddStringToObject(o, "platform", c->platform);
    cJSON_AddStringToObject(o, "backend", c->backend);
    cJSON *vp = cJSON_AddObjectToObject(o, "version_policy");
    if (c->vp_kind == 1) {
        cJSON_AddObjectToObject(vp, "all");
    } else if (c->vp_kind == 2) {
        cJSON *sp = cJSON_AddObjectToObject(vp, "specific");
        cJSON *a = cJSON_AddArrayToObject(sp, "versions");
        for (int i = 0; i < c->n_vp_versions; i++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c->vp_versions[i]));
    } else {
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(vp, "latest"), "num_versions",
                                c->vp_latest_n);
    }
    cJSON_AddNumberToObject(o, "max_batch_size", c->max_batch_size);
    cJSON *in = cJSON_AddArrayToObject(o, "input");
    for (int i = 0; i < c->n_input; i++)
        cJSON_AddItemToArray(in, io_json(&c->input[i], 1));
    cJSON *out = cJSON_AddArrayToObject(o, "output");
    for (int i = 0; i < c->n_output; i++)
        cJSON_AddItemToArray(out, io_json(&c->output[i], 0));
    if (c->dynamic_batching) {
        const t5_sched_config *s = &c->sched;
        cJSON *db = cJSON_AddObjectToObject(o, "dynamic_batching");
        cJSON *pb = cJSON_AddArrayToObject(db, "preferred_batch_size");
        for (int i = 0; i < s->n_preferred; i++)
            cJSON_AddItemToArray(pb, cJSON_CreateNumber(s->preferred[i]));
        cJSON_AddNumberToObject(db, "max_queue_delay_microseconds", (double)s->max_queue_delay_us);
        cJSON_AddBoolToObject(db, "preserve_ordering", 0);
        cJSON_AddNumberToObject(db, "priority_levels",
                                s->priority_levels > 1 ? s->priority_levels : 0);
        cJSON_AddNumberToObject(db, "default_priority_level",
                                s->priority_levels > 1 ? s->default_priority_level : 0);
        policy_json(cJSON_AddObjectToObject(db, "default_queue_policy"), &s->policy);
        cJSON *pq = cJSON_AddObjectToObject(db, "priority_queue_policy");
        for (int l = 0; l < T5_SCHED_MAX_LEVELS; l++) {
            if (!(s->level_policy_set >> l & 1u))
                continue;
            char key[8];
            snprintf(key, sizeof key, "%d", l + 1);
            policy_json(cJSON_AddObjectToObject(pq, key), &s->level_policy[l]);
        }
    }
    cJSON *ig = cJSON_AddArrayToObject(o, "instance_group");
    for (int i = 0; i < c->n_group; i++) {
        const t5_mcfg_group *g = &c->group[i];
        cJSON *go = cJSON_CreateObject();
        cJSON_AddStringToObject(go, "name", g->name);
        cJSON_AddStringToObject(go, "kind", kind_name(g->kind));
        cJSON_AddNumberToObject(go, "count", g->count);
        cJSON *gp = cJSON_AddArrayToObject(go, "gpus");
        for (int j = 0; j < g->n_gpus; j++)
            cJSON_AddItemToArray(gp, cJSON_CreateNumber(g->gpus[j]));
        cJSON_AddItemToArray(ig, go);
    }
    cJSON *pr = cJSON_AddObjectToObject(o, "parameters");
    for (int i = 0; i < c->n_param; i++)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(pr, c->param[i].key), "string_value",
                                c->param[i].value);
    if (!t5_mcfg_param_get(c, "scheduler")) /* the default in effect */
        cJSON_AddStringToObject(cJSON_AddObjectToObject(pr, "scheduler"), "string_value",
                                c->scheduler);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(o, "response_cache"), "enable",
                          c->response_cache);
    return o;
}
