/* fixture.h - reading tests/fixtures/ (format: tools/gen_fixtures.py) for
 * the engine tests. Header-only; every function aborts the test on a
 * malformed fixture, which is the test's input, not the library's. */
#ifndef T5_TEST_FIXTURE_H
#define T5_TEST_FIXTURE_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t5_engine.h"

#ifndef T5_FIXTURES_DIR
#error "T5_FIXTURES_DIR must name tests/fixtures"
#endif

static inline cJSON *fx_load(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", T5_FIXTURES_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n + 1);
    if (fread(buf, 1, n, f) != (size_t)n)
        exit(2);
    buf[n] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j) {
        fprintf(stderr, "fixture %s is not JSON\n", path);
        exit(2);
    }
    return j;
}

static inline cJSON *fx_get(const cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        fprintf(stderr, "fixture: missing key %s\n", key);
        exit(2);
    }
    return v;
}

/* An array of numbers as a malloc'd int32 array; *n gets its length. */
static inline int32_t *fx_ints(const cJSON *a, int *n)
{
    int len = cJSON_GetArraySize(a);
    int32_t *p = malloc(sizeof(int32_t) * (len ? len : 1));
    for (int i = 0; i < len; i++)
        p[i] = (int32_t)cJSON_GetArrayItem(a, i)->valuedouble;
    *n = len;
    return p;
}

static inline float *fx_floats(const cJSON *a, int *n)
{
    int len = cJSON_GetArraySize(a);
    float *p = malloc(sizeof(float) * (len ? len : 1));
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) p[i++] = (float)x->valuedouble;
    *n = len;
    return p;
}

static inline int fx_int(const cJSON *o, const char *key)
{
    return (int)fx_get(o, key)->valuedouble;
}

/* early_stopping: true, false or "never". */
static inline int fx_early(const cJSON *o)
{
    const cJSON *v = fx_get(o, "early_stopping");
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "never") == 0 ? -1 : 0;
    return cJSON_IsTrue(v) ? 1 : 0;
}

/* The fixtures' relative error: max|a - b| / max(max|b|, 1e-6). */
static inline double fx_relerr(const float *a, const float *b, size_t n)
{
    double mb = 1e-6, d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        e = e < 0 ? -e : e;
        if (a[i] != a[i])
            e = 1e30;
        d = e > d ? e : d;
        double m = b[i] < 0 ? -b[i] : b[i];
        mb = m > mb ? m : mb;
    }
    return d / mb;
}

#endif
