/* st_set.c - the safetensors files of a model directory (see safetensors.h).
 *
 * A Hugging Face checkpoint holds its weights in model.safetensors, or in
 * shards listed by model.safetensors.index.json ({"weight_map": {tensor:
 * file}}). Older checkpoints hold only pytorch_model.bin, a pickle we will
 * not execute: those get a message saying how to convert them.
 */
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/util.h"

struct t5_st_set {
    t5_st_file *files;
    int n_files;
};

void t5_st_index_free(char **files, int n_files)
{
    if (!files)
        return;
    for (int i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
}

int t5_st_index_parse(const char *json, size_t len, const char *label, char ***files_out,
                      int *n_out, t5_err *err)
{
    *files_out = NULL;
    *n_out = 0;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return t5_errf(err, T5_EFORMAT, "%s: not valid JSON", label);
    int rc = 0;
    char **files = NULL;
    int n = 0;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        rc = t5_errf(err, T5_EFORMAT, "%s: no \"weight_map\" object", label);
        goto out;
    }
    int cap = cJSON_GetArraySize(wm);
    files = calloc(cap > 0 ? (size_t)cap : 1, sizeof *files);
    if (!files) {
        rc = t5_errf(err, T5_ENOMEM, "%s: out of memory", label);
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, wm)
    {
        if (!cJSON_IsString(e)) {
            rc = t5_errf(err, T5_EFORMAT, "%s: weight_map entry '%s' is not a file name", label,
                         e->string ? e->string : "?");
            goto out;
        }
        const char *fn = e->valuestring;
        /* The index comes from outside: never let it reach outside the
         * model directory. */
        if (!fn[0] || strchr(fn, '/') || strchr(fn, '\\') || !strcmp(fn, ".") ||
            !strcmp(fn, "..")) {
            rc = t5_errf(err, T5_EFORMAT,
                         "%s: weight_map entry '%s' names '%.64s', not a plain "
                         "file name in the model directory",
                         label, e->string ? e->string : "?", fn);
            goto out;
        }
        int seen = 0;
        for (int i = 0; i < n && !seen; i++)
            seen = !strcmp(files[i], fn);
        if (seen)
            continue;
        if (!(files[n] = strdup(fn))) {
            rc = t5_errf(err, T5_ENOMEM, "%s: out of memory", label);
            goto out;
        }
        n++;
    }
    if (n == 0)
        rc = t5_errf(err, T5_EFORMAT, "%s: weight_map is empty", label);
out:
    cJSON_Delete(root);
    if (rc < 0) {
        t5_st_index_free(files, n);
        return rc;
    }
    *files_out = files;
    *n_out = n;
    return 0;
}

void t5_st_set_close(t5_st_set *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_files; i++)
        t5_st_file_clear(&s->files[i]);
    free(s->files);
    free(s);
}

static int open_files(t5_st_set *s, const char *dir, char **names, int n, t5_err *err)
{
    s->files = calloc((size_t)n, sizeof *s->files);
    if (!s->files)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char *path = t5__path_join(dir, names[i]);
        if (!path)
            return t5_errf(err, T5_ENOMEM, "out of memory");
        int rc = t5_st_file_open(&s->files[i], path, err);
        free(path);
        if (rc < 0)
            return rc;
        s->n_files = i + 1;
    }
    return 0;
}

int t5_st_set_open(t5_st_set **out, const char *dir, t5_err *err)
{
    *out = NULL;
    t5_st_set *s = calloc(1, sizeof *s);
    if (!s)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    int rc;
    char *single = t5__path_join(dir, "model.safetensors");
    char *index = t5__path_join(dir, "model.safetensors.index.json");
    char *bin = t5__path_join(dir, "pytorch_model.bin");
    if (!single || !index || !bin) {
        rc = t5_errf(err, T5_ENOMEM, "out of memory");
        goto out;
    }
    if (t5__file_exists(single)) {
        char *names[1] = {"model.safetensors"};
        rc = open_files(s, dir, names, 1, err);
    } else if (t5__file_exists(index)) {
        char *json = NULL;
        size_t len = 0;
        char **files = NULL;
        int n = 0;
        rc = t5__read_file(index, 16u << 20, &json, &len, err);
        if (rc == 0)
            rc = t5_st_index_parse(json, len, index, &files, &n, err);
        if (rc == 0)
            rc = open_files(s, dir, files, n, err);
        free(json);
        t5_st_index_free(files, n);
    } else if (t5__file_exists(bin)) {
        rc = t5_errf(err, T5_EUNSUP,
                     "%s holds only pytorch_model.bin; t5serve reads safetensors. Convert it "
                     "once with: python -c \"from transformers import "
                     "T5ForConditionalGeneration as M; M.from_pretrained('%s')"
                     ".save_pretrained('%s', safe_serialization=True)\"",
                     dir, dir, dir);
    } else {
        rc = t5_errf(err, T5_ENOTFOUND, "%s: no model.safetensors or model.safetensors.index.json",
                     dir);
    }
out:
    free(single);
    free(index);
    free(bin);
    if (rc < 0) {
        t5_st_set_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

const t5_st_tensor *t5_st_find(const t5_st_set *s, const char *name)
{
    for (int i = 0; i < s->n_files; i++) {
        const t5_st_tensor *t = t5_st_file_find(&s->files[i], name);
        if (t)
            return t;
    }
    return NULL;
}
