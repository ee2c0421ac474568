/* test_safetensors.c - the safetensors reader on hand-made images, and the
 * fp16/bf16 conversions (exhaustively against the compiler's _Float16 where
 * it has one). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/safetensors.h"

/* A safetensors image: 8-byte length, header, data. */
static size_t image(uint8_t *out, size_t cap, const char *header, const void *data, size_t n)
{
    size_t h = strlen(header);
    if (8 + h + n > cap)
        return 0;
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(out + 8, header, h);
    memcpy(out + 8 + h, data, n);
    return 8 + h + n;
}

static void test_parse_and_read(void)
{
    uint8_t img[512];
    /* Offsets deliberately unaligned (the header is 1 byte past a multiple of
     * 4); a scalar; an empty tensor; metadata. */
    float f32[3] = {1.5f, -2.25f, 3e-3f};
    uint8_t data[64];
    memcpy(data, f32, sizeof f32);
    uint16_t h16[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
    uint16_t b16[2] = {0x3f80, 0x4049}; /* 1.0, 3.140625 */
    memcpy(data + 12, h16, 4);
    memcpy(data + 16, b16, 4);
    memcpy(data + 20, f32, 4);
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[12,16]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[3,1],\"data_offsets\":[0,12]},"
                      "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[16,20]},"
                      "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[20,24]},"
                      "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[24,24]},"
                      "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}} ";
    size_t n = image(img, sizeof img, hdr, data, 32);
    t5_st_file f;
    t5_err err = {0};
    CHECK_EQ_INT(t5_st_parse(&f, img, n, "mem", &err), 0);
    CHECK_EQ_INT(f.n_tensors, 6);
    float out[8];
    const t5_st_tensor *t = t5_st_file_find(&f, "a");
    CHECK(t && t->ndim == 2 && t->shape[0] == 3 && t->numel == 3);
    CHECK(t && t5_st_read_f32(t, out, 8, &err) == 0 && out[0] == 1.5f && out[1] == -2.25f &&
          out[2] == 3e-3f);
    t = t5_st_file_find(&f, "b");
    CHECK(t && t5_st_read_f32(t, out, 8, &err) == 0 && out[0] == 1.0f && out[1] == -2.0f);
    t = t5_st_file_find(&f, "c");
    CHECK(t && t5_st_read_f32(t, out, 8, &err) == 0 && out[0] == 1.0f && out[1] == 3.140625f);
    t = t5_st_file_find(&f, "s");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    t = t5_st_file_find(&f, "e");
    CHECK(t && t->numel == 0 && t5_st_read_f32(t, out, 0, &err) == 0);
    t = t5_st_file_find(&f, "i");
    CHECK(t && t5_st_read_f32(t, out, 8, &err) == T5_EUNSUP && strstr(err.msg, "I64") &&
          strstr(err.msg, "'i'"));
    t = t5_st_file_find(&f, "a");
    CHECK(t && t5_st_read_f32(t, out, 2, &err) == T5_EINVAL); /* buffer too small */
    CHECK(t5_st_file_find(&f, "zz") == NULL);
    t5_st_file_clear(&f);
    t5_st_file_clear(&f); /* idempotent */
}

static void test_index(void)
{
    char **files;
    int n;
    t5_err err = {0};
    const char *ok = "{\"metadata\":{\"total_size\":10},\"weight_map\":{\"a\":\"x.safetensors\","
                     "\"b\":\"y.safetensors\",\"c\":\"x.safetensors\"}}";
    CHECK_EQ_INT(t5_st_index_parse(ok, strlen(ok), "idx", &files, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2)
        CHECK(!strcmp(files[0], "x.safetensors") && !strcmp(files[1], "y.safetensors"));
    t5_st_index_free(files, n);
    const char *bad[] = {"{\"weight_map\":{\"a\":\"/etc/passwd\"}}",
                         "{\"weight_map\":{\"a\":\"..\"}}",
                         "{\"weight_map\":{\"a\":\"\"}}",
                         "{\"weight_map\":{\"a\":\"x\\\\y\"}}",
                         "{\"weight_map\":{}}",
                         "[]",
                         "{"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.code = 0;
        CHECK_MSG(t5_st_index_parse(bad[i], strlen(bad[i]), "idx", &files, &n, &err) ==
                          T5_EFORMAT &&
                      files == NULL && err.msg[0],
                  "%s", bad[i]);
    }
}

static void test_half_conversions(void)
{
    /* Every half converts to float and back to itself (NaNs stay NaN). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = t5_f16_to_f32((uint16_t)h);
        uint16_t back = t5_f32_to_f16(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !((back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h)
            bad++;
        uint16_t bb = t5_f32_to_bf16(t5_bf16_to_f32((uint16_t)h));
        int bnan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        if (bnan ? !((bb & 0x7f80) == 0x7f80 && (bb & 0x7f)) : bb != h)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(t5_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(t5_f32_to_f16(65519.0f) == 0x7bff);
    CHECK(t5_f32_to_f16(65520.0f) == 0x7c00); /* rounds to infinity */
    CHECK(t5_f32_to_f16(-1e9f) == 0xfc00);
    CHECK(t5_f32_to_f16(5.9604645e-8f) == 0x0001);      /* smallest subnormal */
    CHECK(t5_f32_to_f16(2.9802322e-8f) == 0x0000);      /* exactly half of it: to even */
    CHECK(t5_f32_to_f16(4.4703484e-8f) == 0x0001);      /* 0.75 of it */
    CHECK(t5_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00); /* tie to even */
    CHECK(t5_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02);
    CHECK(t5_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80); /* tie to even */
    CHECK(t5_f32_to_bf16(1.0f + 3.0f / 256) == 0x3f82);
#ifdef __FLT16_MAX__
    /* Against the compiler's conversion on a spread of floats. */
    uint32_t x = 12345;
    int mism = 0;
    for (int i = 0; i < 2000000; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t bits = (x & 0x80000000u) | (0x30000000u + (x % 0x18000000u));
        float f;
        memcpy(&f, &bits, 4);
        _Float16 r = (_Float16)f;
        uint16_t want;
        memcpy(&want, &r, 2);
        if (t5_f32_to_f16(f) != want && mism++ < 5)
            fprintf(stderr, "f16(%a): got %04x, want %04x\n", f, t5_f32_to_f16(f), want);
    }
    CHECK_EQ_INT(mism, 0);
#endif
}

int main(void)
{
    RUN(test_parse_and_read);
    RUN(test_index);
    RUN(test_half_conversions);
    return check_summary();
}
