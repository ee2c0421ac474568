/* test_random.c - t5_random_model_write: checkpoints that load, with the
 * requested shape and dtype, deterministic in the seed, sensibly scaled. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fake_backend.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "model/util.h"

static char root[256];

static void stats(const fake_w *w, double *mean, double *sd)
{
    size_t n = (size_t)(w->rows * w->cols);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += w->data[i];
        s2 += (double)w->data[i] * w->data[i];
    }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
}

static void write_and_load(const char *shape, t5_dtype dt, uint64_t seed, const char *sub)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    t5_err err = {0};
    int rc = t5_random_model_write(shape, dir, seed, dt, &err);
    CHECK_MSG(rc == 0, "%s: %s", shape, err.msg);
    t5_model *m = NULL;
    rc = t5__model_load_backend(&m, dir, fake_backend_new(0), 0, &err);
    CHECK_MSG(rc == 0, "%s: %s", shape, err.msg);
    if (rc < 0)
        return;
    const t5_config *c = t5_model_config(m);
    CHECK_EQ_INT(c->vocab_size, 32128);
    CHECK_EQ_INT(c->d_model, 64);
    int v11 = !strcmp(shape, "flan-t5-tiny");
    CHECK_EQ_INT(c->gated, v11);
    CHECK_EQ_INT(c->tie_word_embeddings, !v11);
    CHECK((m->lm_head == m->embed) == !v11);
    double mean, sd;
    stats(m->embed, &mean, &sd);
    CHECK_MSG(fabs(mean) < 0.01 && fabs(sd - 1) < 0.01, "embed mean %g sd %g", mean, sd);
    stats(m->enc[0].w_qkv, &mean, &sd);
    CHECK_MSG(fabs(mean) < 0.01 && fabs(sd - 1 / 8.0) < 0.01, "qkv mean %g sd %g", mean, sd);
    stats(m->dec[0].w_out, &mean, &sd);
    CHECK_MSG(fabs(sd - 3 / sqrt(c->d_ff)) < 0.02, "wo sd %g", sd);
    stats(m->enc_ln_final, &mean, &sd);
    CHECK_MSG(fabs(mean - 1) < 0.05 && sd < 0.1, "norm mean %g sd %g", mean, sd);
    t5_model_free(m);
    CHECK_EQ_INT(fake_live_count, 0);
}

static int same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t nx, ny;
    t5_err err = {0};
    if (t5__read_file(a, 1u << 30, &x, &nx, &err) < 0)
        return -1;
    if (t5__read_file(b, 1u << 30, &y, &ny, &err) < 0) {
        free(x);
        return -1;
    }
    int same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

static void test_shapes_and_dtypes(void)
{
    write_and_load("t5-tiny", T5_F32, 1, "a");
    write_and_load("t5-tiny", T5_F32, 1, "b");
    write_and_load("t5-tiny", T5_F32, 2, "c");
    write_and_load("flan-t5-tiny", T5_F16, 1, "d");
    write_and_load("flan-t5-tiny", T5_BF16, 1, "e");
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a/model.safetensors", root);
    snprintf(b, sizeof b, "%s/b/model.safetensors", root);
    snprintf(c, sizeof c, "%s/c/model.safetensors", root);
    CHECK_EQ_INT(same_file(a, b), 1);
    CHECK_EQ_INT(same_file(a, c), 0);
    /* The stored dtype is what was asked for. */
    t5_st_file f;
    t5_err err = {0};
    snprintf(a, sizeof a, "%s/e/model.safetensors", root);
    CHECK(t5_st_file_open(&f, a, &err) == 0);
    const t5_st_tensor *t = t5_st_file_find(&f, "lm_head.weight");
    CHECK(t && t->dtype == T5_ST_BF16 && t->shape[0] == 32128 && t->shape[1] == 64);
    t5_st_file_clear(&f);
}

static void test_errors(void)
{
    t5_err err = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/x", root);
    CHECK_EQ_INT(t5_random_model_write("t5-gigantic", dir, 0, T5_F32, &err), T5_EINVAL);
    CHECK(strstr(err.msg, "t5-gigantic") && strstr(err.msg, "flan-t5-base"));
    CHECK(t5_random_model_write("t5-tiny", "/proc/forbidden/x", 0, T5_F32, &err) < 0);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/t5model_random.XXXXXX");
    if (!mkdtemp(root))
        return 1;
    RUN(test_shapes_and_dtypes);
    RUN(test_errors);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_summary();
}
