/* test_malformed.c - broken checkpoints give clear errors, never crashes.
 *
 * Each case copies the t5_v1_0 fixture into a temporary directory, breaks
 * one thing (the config, the safetensors header, the data, the shard index)
 * and checks the error code and that the message names what is wrong. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fake_backend.h"
#include "model/model.h"
#include "model/util.h"

#define SRC T5_FIXTURES "/models/t5_v1_0"

static char tmpdir[256];

static void write_file(const char *name, const void *data, size_t len)
{
    char *p = t5__path_join(tmpdir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
    free(p);
}

static void remove_file(const char *name)
{
    char *p = t5__path_join(tmpdir, name);
    unlink(p);
    free(p);
}

static char *slurp(const char *path, size_t *len)
{
    char *s = NULL;
    t5_err err = {0};
    if (t5__read_file(path, 64u << 20, &s, len, &err) < 0)
        fprintf(stderr, "%s\n", err.msg);
    return s;
}

/* A fresh copy of the fixture checkpoint in tmpdir. */
static void fresh_copy(void)
{
    static const char *files[] = {"config.json", "model.safetensors",
                                  "model.safetensors.index.json", "pytorch_model.bin",
                                  "model-00001-of-00002.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        remove_file(files[i]);
    size_t n;
    char *s = slurp(SRC "/config.json", &n);
    write_file("config.json", s, n);
    free(s);
    s = slurp(SRC "/model.safetensors", &n);
    write_file("model.safetensors", s, n);
    free(s);
}

/* Loads tmpdir and checks the error code and that the message holds every
 * needle (NULL-terminated list). */
static void expect_fail(const char *what, int code, ...)
{
    t5_model *m = NULL;
    t5_err err = {0};
    fake_live_count = -1;
    int rc = t5__model_load_backend(&m, tmpdir, fake_backend_new(0), 0, &err);
    CHECK_MSG(rc == code, "%s: rc %d (%s), expected %d", what, rc, err.msg, code);
    CHECK(m == NULL);
    CHECK_MSG(fake_live_count == 0, "%s: %d weights leaked", what, fake_live_count);
    va_list ap;
    va_start(ap, code);
    const char *needle;
    while ((needle = va_arg(ap, const char *)))
        CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg,
                  needle);
    va_end(ap);
}

/* Rewrites model.safetensors with its header passed through fn (the data
 * section is kept). */
static void mutate_file(const char *fname, void (*fn)(cJSON *root))
{
    size_t n;
    char *p = t5__path_join(tmpdir, fname);
    unsigned char *s = (unsigned char *)slurp(p, &n);
    free(p);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | s[i];
    cJSON *root = cJSON_ParseWithLength((char *)s + 8, hl);
    fn(root);
    char *h = cJSON_PrintUnformatted(root);
    size_t nh = strlen(h), nd = n - 8 - hl;
    unsigned char *out = malloc(8 + nh + nd);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)nh >> (8 * i));
    memcpy(out + 8, h, nh);
    memcpy(out + 8 + nh, s + 8 + hl, nd);
    write_file(fname, out, 8 + nh + nd);
    free(out);
    free(h);
    cJSON_Delete(root);
    free(s);
}

static void mutate_header(void (*fn)(cJSON *root))
{
    mutate_file("model.safetensors", fn);
}

static cJSON *entry(cJSON *root, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(root, name);
}

static void set_offsets(cJSON *root, const char *name, double b, double e)
{
    cJSON *o = cJSON_CreateArray();
    cJSON_AddItemToArray(o, cJSON_CreateNumber(b));
    cJSON_AddItemToArray(o, cJSON_CreateNumber(e));
    cJSON_ReplaceItemInObjectCaseSensitive(entry(root, name), "data_offsets", o);
}

static void m_offsets_outside(cJSON *r)
{
    set_offsets(r, "shared.weight", 0, 1e9);
}
static void m_offsets_reversed(cJSON *r)
{
    set_offsets(r, "shared.weight", 100, 4);
}
static void m_size_mismatch(cJSON *r)
{
    set_offsets(r, "shared.weight", 0, 4);
}
static void m_offsets_negative(cJSON *r)
{
    set_offsets(r, "shared.weight", -8, 4);
}
static void m_dtype_unknown(cJSON *r)
{
    cJSON_ReplaceItemInObjectCaseSensitive(entry(r, "shared.weight"), "dtype",
                                           cJSON_CreateString("Q4_K"));
}
static void m_dtype_i32(cJSON *r)
{
    cJSON_ReplaceItemInObjectCaseSensitive(entry(r, "shared.weight"), "dtype",
                                           cJSON_CreateString("I32"));
}
static void m_drop_tensor(cJSON *r)
{
    cJSON_DeleteItemFromObjectCaseSensitive(r, "encoder.final_layer_norm.weight");
}
static void m_wrong_shape(cJSON *r)
{
    /* Same byte count, different shape: [64, 32] -> [32, 64]. */
    cJSON *e = entry(r, "encoder.block.1.layer.1.DenseReluDense.wi.weight");
    int a = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "shape"), 0)->valueint;
    int b = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "shape"), 1)->valueint;
    cJSON *s = cJSON_CreateArray();
    cJSON_AddItemToArray(s, cJSON_CreateNumber(b));
    cJSON_AddItemToArray(s, cJSON_CreateNumber(a));
    cJSON_ReplaceItemInObjectCaseSensitive(e, "shape", s);
}
static void m_huge_shape(cJSON *r)
{
    cJSON *s = cJSON_CreateArray();
    cJSON_AddItemToArray(s, cJSON_CreateNumber(1099511627776.0));
    cJSON_AddItemToArray(s, cJSON_CreateNumber(1099511627776.0));
    cJSON_AddItemToArray(s, cJSON_CreateNumber(1099511627776.0));
    cJSON_ReplaceItemInObjectCaseSensitive(entry(r, "shared.weight"), "shape", s);
}
static void m_negative_shape(cJSON *r)
{
    cJSON *s = cJSON_CreateArray();
    cJSON_AddItemToArray(s, cJSON_CreateNumber(-96));
    cJSON_AddItemToArray(s, cJSON_CreateNumber(-32));
    cJSON_ReplaceItemInObjectCaseSensitive(entry(r, "shared.weight"), "shape", s);
}
static void m_shape_string(cJSON *r)
{
    cJSON_ReplaceItemInObjectCaseSensitive(entry(r, "shared.weight"), "shape",
                                           cJSON_CreateString("96x32"));
}
static void m_entry_not_object(cJSON *r)
{
    cJSON_ReplaceItemInObjectCaseSensitive(r, "shared.weight", cJSON_CreateNumber(3));
}
static void m_duplicate(cJSON *r)
{
    cJSON_AddItemToObject(r, "shared.weight", cJSON_Duplicate(entry(r, "shared.weight"), 1));
}

static void test_config_problems(void)
{
    fresh_copy();
    remove_file("config.json");
    expect_fail("no config.json", T5_ENOTFOUND, "config.json", NULL);
    write_file("config.json", "{\"d_model\": 32,", 15);
    expect_fail("bad config JSON", T5_EFORMAT, "config.json", "not valid JSON", NULL);
    write_file("config.json", "{\"d_model\": -3}", 15);
    expect_fail("negative d_model", T5_EFORMAT, "config.json", "d_model", NULL);
    /* A config claiming a giant model over the tiny file: a shape error, not
     * an attempt to allocate for the giant. */
    const char *giant = "{\"d_model\": 65536, \"num_layers\": 512, \"d_ff\": 1048576, "
                        "\"vocab_size\": 4000000}";
    write_file("config.json", giant, strlen(giant));
    expect_fail("giant config", T5_EFORMAT, "shared.weight", "[4000000, 65536]", NULL);
    /* A valid config that does not match the weights. */
    fresh_copy();
    size_t n;
    char *s = slurp(SRC "/config.json", &n);
    char *p = strstr(s, "\"d_ff\": 64");
    CHECK(p != NULL);
    if (p) {
        memcpy(p, "\"d_ff\": 65", 10);
        write_file("config.json", s, n);
        expect_fail("d_ff mismatch", T5_EFORMAT, "model.safetensors",
                    "encoder.block.0.layer.1.DenseReluDense.wi.weight", "[64, 32]", "[65, 32]",
                    NULL);
    }
    free(s);
}

static void test_missing_weights(void)
{
    fresh_copy();
    remove_file("model.safetensors");
    expect_fail("no weights", T5_ENOTFOUND, "no model.safetensors", NULL);
    write_file("pytorch_model.bin", "PK\003\004", 4);
    expect_fail("pytorch_model.bin only", T5_EUNSUP, "pytorch_model.bin", "save_pretrained",
                "safe_serialization=True", NULL);
}

static void test_truncated(void)
{
    fresh_copy();
    write_file("model.safetensors", "\x10\0\0", 3);
    expect_fail("3-byte file", T5_EFORMAT, "model.safetensors", "too short", NULL);
    write_file("model.safetensors", "", 0);
    expect_fail("empty file", T5_EFORMAT, "too short", NULL);
    write_file("model.safetensors", "\xff\xff\0\0\0\0\0\0{}", 10);
    expect_fail("header past end", T5_EFORMAT, "header length 65535", "past the end", NULL);
    write_file("model.safetensors", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    expect_fail("header length 2^64-1", T5_EFORMAT, "past the end", NULL);
    write_file("model.safetensors", "\x04\0\0\0\0\0\0\0{\"a\"", 12);
    expect_fail("header not JSON", T5_EFORMAT, "not valid JSON", NULL);
    write_file("model.safetensors", "\x02\0\0\0\0\0\0\0[]", 10);
    expect_fail("header not an object", T5_EFORMAT, "not a JSON object", NULL);
    write_file("model.safetensors", "\x02\0\0\0\0\0\0\0{}", 10);
    expect_fail("no tensors", T5_ENOTFOUND, "shared.weight", "missing", NULL);

    /* The data section cut short: the last tensors point past the end. */
    size_t n;
    char *s = slurp(SRC "/model.safetensors", &n);
    write_file("model.safetensors", s, n - 100);
    free(s);
    expect_fail("data truncated", T5_EFORMAT, "outside the data section", NULL);
}

static void test_header_fields(void)
{
    static const struct {
        const char *what;
        void (*fn)(cJSON *);
        int code;
        const char *n1, *n2;
    } cases[] = {
        {"offsets outside", m_offsets_outside, T5_EFORMAT, "shared.weight", "outside"},
        {"offsets reversed", m_offsets_reversed, T5_EFORMAT, "shared.weight", "outside"},
        {"offsets negative", m_offsets_negative, T5_EFORMAT, "shared.weight", "data_offsets"},
        {"size mismatch", m_size_mismatch, T5_EFORMAT, "shared.weight", "need"},
        {"unknown dtype", m_dtype_unknown, T5_EUNSUP, "shared.weight", "Q4_K"},
        {"unsupported dtype", m_dtype_i32, T5_EUNSUP, "shared.weight", "I32"},
        {"missing tensor", m_drop_tensor, T5_ENOTFOUND, "encoder.final_layer_norm.weight",
         "missing"},
        {"wrong shape", m_wrong_shape, T5_EFORMAT,
         "encoder.block.1.layer.1.DenseReluDense.wi.weight", "[32, 64]"},
        {"huge shape", m_huge_shape, T5_EFORMAT, "shared.weight", "need more than"},
        {"negative shape", m_negative_shape, T5_EFORMAT, "shared.weight", "non-negative"},
        {"shape not array", m_shape_string, T5_EFORMAT, "shared.weight", "shape"},
        {"entry not object", m_entry_not_object, T5_EFORMAT, "shared.weight", "not an object"},
        {"duplicate name", m_duplicate, T5_EFORMAT, "shared.weight", "twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fresh_copy();
        mutate_header(cases[i].fn);
        expect_fail(cases[i].what, cases[i].code, cases[i].n1, cases[i].n2, NULL);
    }
}

static void test_sharded(void)
{
    fresh_copy();
    remove_file("model.safetensors");
    const char *evil = "{\"weight_map\": {\"shared.weight\": \"../model.safetensors\"}}";
    write_file("model.safetensors.index.json", evil, strlen(evil));
    expect_fail("index escapes the directory", T5_EFORMAT, "plain file name", NULL);
    const char *missing = "{\"weight_map\": {\"shared.weight\": "
                          "\"model-00001-of-00002.safetensors\"}}";
    write_file("model.safetensors.index.json", missing, strlen(missing));
    expect_fail("missing shard", T5_ENOTFOUND, "model-00001-of-00002.safetensors", NULL);
    write_file("model.safetensors.index.json", "{\"weight_map\": [", 16);
    expect_fail("index not JSON", T5_EFORMAT, "index.json", NULL);
    write_file("model.safetensors.index.json", "{\"metadata\": {}}", 16);
    expect_fail("index without weight_map", T5_EFORMAT, "weight_map", NULL);
    write_file("model.safetensors.index.json", "{\"weight_map\": {}}", 18);
    expect_fail("empty weight_map", T5_EFORMAT, "empty", NULL);
    const char *num = "{\"weight_map\": {\"shared.weight\": 3}}";
    write_file("model.safetensors.index.json", num, strlen(num));
    expect_fail("weight_map value not a string", T5_EFORMAT, "shared.weight", NULL);
    /* A shard that lacks a tensor the model needs. */
    size_t n;
    char *s = slurp(SRC "/model.safetensors", &n);
    write_file("model-00001-of-00002.safetensors", s, n);
    free(s);
    write_file("model.safetensors.index.json", missing, strlen(missing));
    t5_model *m = NULL;
    t5_err err = {0};
    int rc = t5__model_load_backend(&m, tmpdir, fake_backend_new(0), 0, &err);
    CHECK_MSG(rc == 0, "one shard holding everything: %s", err.msg);
    t5_model_free(m);
    mutate_file("model-00001-of-00002.safetensors", m_drop_tensor);
    expect_fail("shard lacks a tensor", T5_ENOTFOUND, "encoder.final_layer_norm.weight", NULL);
}

static void test_no_directory(void)
{
    t5_model *m = NULL;
    t5_err err = {0};
    int rc = t5__model_load_backend(&m, "/nonexistent/t5", fake_backend_new(0), 0, &err);
    CHECK_EQ_INT(rc, T5_ENOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent/t5/config.json") != NULL);
    t5_model_params p = t5_model_default_params();
    p.load_tokenizer = 0;
    rc = t5_model_load(&m, "/nonexistent/t5", &p, &err);
    CHECK_EQ_INT(rc, T5_ENOTFOUND);
    CHECK(t5_model_load(NULL, "/x", &p, &err) == T5_EINVAL);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/t5model_malformed.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_config_problems);
    RUN(test_missing_weights);
    RUN(test_truncated);
    RUN(test_header_fields);
    RUN(test_sharded);
    RUN(test_no_directory);
    static const char *files[] = {"config.json", "model.safetensors",
                                  "model.safetensors.index.json", "pytorch_model.bin",
                                  "model-00001-of-00002.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        remove_file(files[i]);
    rmdir(tmpdir);
    return check_summary();
}
