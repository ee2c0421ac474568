/* fake_backend.h - a backend that only records uploads, for loader tests.
 *
 * upload_weight keeps a copy of what the loader produced (fp32, after the
 * loader's fusion) with its kind and shape, so tests can check fused layouts
 * against values read from the safetensors files by Python.
 */
#ifndef T5_TEST_FAKE_BACKEND_H
#define T5_TEST_FAKE_BACKEND_H

#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

typedef struct fake_w {
    int kind;
    int64_t rows, cols;
    float data[]; /* rows * cols */
} fake_w;

typedef struct fake_backend {
    t5_backend base;
    int live; /* weights uploaded and not yet freed */
    int uploads;
    int fail_at; /* make the n-th upload fail (1-based), 0: never */
} fake_backend;

static int fake_upload(t5_backend *be, int kind, const float *host, int64_t rows, int64_t cols,
                       void **out, t5_err *err)
{
    fake_backend *f = (fake_backend *)be;
    if (f->fail_at && ++f->uploads == f->fail_at)
        return t5_errf(err, T5_ENOMEM, "fake upload failure");
    fake_w *w = malloc(sizeof *w + (size_t)(rows * cols) * sizeof(float));
    if (!w)
        return t5_errf(err, T5_ENOMEM, "fake: out of memory");
    w->kind = kind;
    w->rows = rows;
    w->cols = cols;
    memcpy(w->data, host, (size_t)(rows * cols) * sizeof(float));
    f->live++;
    *out = w;
    return 0;
}

static void fake_free_weight(t5_backend *be, void *w)
{
    ((fake_backend *)be)->live--;
    free(w);
}

static int fake_live_count;

static void fake_destroy(t5_backend *be)
{
    fake_live_count = ((fake_backend *)be)->live;
    free(be);
}

static const t5_backend_vt fake_vt = {
    .name = "fake",
    .destroy = fake_destroy,
    .upload_weight = fake_upload,
    .free_weight = fake_free_weight,
};

static t5_backend *fake_backend_new(int fail_at)
{
    fake_backend *f = calloc(1, sizeof *f);
    f->base.vt = &fake_vt;
    f->base.device = T5_DEVICE_CPU;
    f->base.act_dtype = T5_F32;
    f->base.act_size = 4;
    f->fail_at = fail_at;
    return &f->base;
}

#endif
