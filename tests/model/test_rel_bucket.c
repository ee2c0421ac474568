/* test_rel_bucket.c - t5_rel_bucket (backend.h) against transformers'
 * T5Attention._relative_position_bucket, exactly, for relative positions
 * -600..600 in both directions and several bucket counts / max distances
 * (tests/fixtures/rel_bucket.json, written by tools/gen_fixtures.py). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "check.h"
#include "model/util.h"

static void test_table(void)
{
    char *s;
    size_t n;
    t5_err err = {0};
    int rc = t5__read_file(T5_FIXTURES "/rel_bucket.json", 16u << 20, &s, &n, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc < 0)
        return;
    cJSON *j = cJSON_ParseWithLength(s, n);
    free(s);
    CHECK(j != NULL);
    int lo = cJSON_GetObjectItemCaseSensitive(j, "relative_min")->valueint;
    int tables = 0, mismatches = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tables"))
    {
        int nb = cJSON_GetObjectItemCaseSensitive(t, "num_buckets")->valueint;
        int md = cJSON_GetObjectItemCaseSensitive(t, "max_distance")->valueint;
        int bidir = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "bidirectional"));
        int i = 0;
        const cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(t, "buckets"))
        {
            int rel = lo + i++;
            int got = t5_rel_bucket(rel, bidir, nb, md);
            if (got != b->valueint && mismatches++ < 10)
                fprintf(stderr, "nb %d md %d bidir %d rel %d: got %d, transformers %d\n", nb, md,
                        bidir, rel, got, b->valueint);
        }
        CHECK_EQ_INT(i, 1201);
        tables++;
    }
    CHECK(tables >= 10);
    CHECK_EQ_INT(mismatches, 0);
    cJSON_Delete(j);
}

int main(void)
{
    RUN(test_table);
    return check_summary();
}
