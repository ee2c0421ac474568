/* safetensors.c - the .safetensors reader (see safetensors.h).
 *
 * The header is JSON from outside the program, so nothing in it is trusted:
 * every number is checked to be a non-negative integer that fits, products
 * are computed with overflow checks, and every tensor's byte range must lie
 * inside the data section and match its shape and dtype exactly.
 */
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fp16 / bf16 -------------------------------------------------------- */

float t5_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            /* Subnormal half: normalise it into a float32 normal. */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float t5_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t t5_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((bits >> 16) | 0x40); /* quiet NaN */
    bits += 0x7fffu + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

uint16_t t5_f32_to_f16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u)
        return sign | 0x7e00; /* NaN */
    if (abs >= 0x477ff000u)
        return sign | 0x7c00; /* rounds to >= 65520: inf */
    if (abs < 0x38800000u) {
        /* Result is a half subnormal (or zero): value = man * 2^-24. */
        if (abs < 0x33000000u)
            return sign; /* below half of the smallest subnormal */
        uint32_t e = abs >> 23;
        uint32_t man = (abs & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 + ... */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return sign | (uint16_t)q;
    }
    uint32_t r = abs - 0x38000000u; /* rebias exponent 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1);
    return sign | (uint16_t)(r >> 13);
}

/* ---- header parsing ----------------------------------------------------- */

static int dtype_info(const char *s, t5_st_dtype *dt, size_t *elem)
{
    static const struct {
        const char *name;
        t5_st_dtype dt;
        size_t size;
    } tab[] = {
        {"F32", T5_ST_F32, 4},    {"F16", T5_ST_F16, 2},       {"BF16", T5_ST_BF16, 2},
        {"F64", T5_ST_OTHER, 8},  {"I64", T5_ST_OTHER, 8},     {"U64", T5_ST_OTHER, 8},
        {"I32", T5_ST_OTHER, 4},  {"U32", T5_ST_OTHER, 4},     {"I16", T5_ST_OTHER, 2},
        {"U16", T5_ST_OTHER, 2},  {"I8", T5_ST_OTHER, 1},      {"U8", T5_ST_OTHER, 1},
        {"BOOL", T5_ST_OTHER, 1}, {"F8_E4M3", T5_ST_OTHER, 1}, {"F8_E5M2", T5_ST_OTHER, 1},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) {
            *dt = tab[i].dt;
            *elem = tab[i].size;
            return 1;
        }
    return 0;
}

/* A JSON number that is an exact integer in [0, max]. */
static int json_uint(const cJSON *j, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double v = j->valuedouble;
    if (!(v >= 0) || v > (double)max || v != floor(v) || v > 9007199254740992.0)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const t5_st_tensor *)a)->name, ((const t5_st_tensor *)b)->name);
}

void t5_st_file_clear(t5_st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->tensors);
    free(f->names);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static int parse_entry(const cJSON *e, t5_st_tensor *t, const uint8_t *data, uint64_t data_size,
                       const char *label, t5_err *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return t5_errf(err, T5_EFORMAT, "%s: tensor '%s': header entry is not an object", label,
                       name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo))
        return t5_errf(err, T5_EFORMAT,
                       "%s: tensor '%s': needs string 'dtype', array 'shape' and array "
                       "'data_offsets'",
                       label, name);
    size_t elem = 0;
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", jd->valuestring);
    if (!dtype_info(jd->valuestring, &t->dtype, &elem))
        return t5_errf(err, T5_EUNSUP, "%s: tensor '%s': unknown dtype '%.32s'", label, name,
                       jd->valuestring);
    int nd = cJSON_GetArraySize(js);
    if (nd > T5_ST_MAX_DIMS)
        return t5_errf(err, T5_EFORMAT, "%s: tensor '%s': %d dimensions (at most %d)", label, name,
                       nd, T5_ST_MAX_DIMS);
    t->ndim = nd;
    /* numel * elem must fit the data section, so bounding by it keeps every
     * product below 2^63 and catches overflow at the same time. */
    uint64_t numel = 1;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, js)
    {
        uint64_t v;
        if (!json_uint(d, INT64_MAX, &v))
            return t5_errf(err, T5_EFORMAT,
                           "%s: tensor '%s': shape entries must be non-negative integers", label,
                           name);
        t->shape[i++] = (int64_t)v;
        if (v != 0 && numel > data_size / v)
            numel = data_size + 1; /* too large whatever comes next (unless a 0 dim) */
        else
            numel *= v;
    }
    /* A zero dimension makes the tensor empty whatever the others say. */
    for (int k = 0; k < nd; k++)
        if (t->shape[k] == 0)
            numel = 0;
    uint64_t begin, end;
    if (cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, UINT64_MAX, &begin) ||
        !json_uint(jo->child->next, UINT64_MAX, &end))
        return t5_errf(err, T5_EFORMAT,
                       "%s: tensor '%s': data_offsets must be two non-negative integers", label,
                       name);
    if (begin > end || end > data_size)
        return t5_errf(err, T5_EFORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] outside the data section "
                       "(%llu bytes)",
                       label, name, (unsigned long long)begin, (unsigned long long)end,
                       (unsigned long long)data_size);
    if (numel > data_size || numel * elem != end - begin)
        return t5_errf(err, T5_EFORMAT,
                       "%s: tensor '%s': %llu bytes at data_offsets, but dtype %s and its "
                       "shape need %s%llu",
                       label, name, (unsigned long long)(end - begin), t->dtype_name,
                       numel > data_size ? "more than " : "",
                       (unsigned long long)(numel > data_size ? data_size : numel * elem));
    t->numel = (int64_t)numel;
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

int t5_st_parse(t5_st_file *f, const void *image, size_t size, const char *label, t5_err *err)
{
    memset(f, 0, sizeof *f);
    const uint8_t *p = image;
    if (!label)
        label = "<memory>";
    if (size < 8)
        return t5_errf(err, T5_EFORMAT, "%s: %zu bytes, too short for a safetensors header", label,
                       size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | p[i];
    if (n > size - 8)
        return t5_errf(err, T5_EFORMAT,
                       "%s: header length %llu runs past the end of the file (%zu bytes)", label,
                       (unsigned long long)n, size);
    if (n > T5_ST_MAX_HEADER)
        return t5_errf(err, T5_EFORMAT, "%s: header length %llu exceeds the %u-byte limit", label,
                       (unsigned long long)n, T5_ST_MAX_HEADER);
    const uint8_t *data = p + 8 + n;
    uint64_t data_size = size - 8 - n;

    cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)n);
    if (!root)
        return t5_errf(err, T5_EFORMAT, "%s: header is not valid JSON", label);
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = t5_errf(err, T5_EFORMAT, "%s: header is not a JSON object", label);
        goto out;
    }
    int count = 0;
    size_t name_bytes = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        if (!e->string) {
            rc = t5_errf(err, T5_EFORMAT, "%s: header entry without a name", label);
            goto out;
        }
        if (!strcmp(e->string, "__metadata__"))
            continue;
        count++;
        name_bytes += strlen(e->string) + 1;
    }
    f->path = strdup(label);
    f->tensors = calloc(count ? (size_t)count : 1, sizeof *f->tensors);
    f->names = malloc(name_bytes ? name_bytes : 1);
    if (!f->path || !f->tensors || !f->names) {
        rc = t5_errf(err, T5_ENOMEM, "%s: out of memory reading the header", label);
        goto out;
    }
    char *np = f->names;
    int k = 0;
    cJSON_ArrayForEach(e, root)
    {
        if (!strcmp(e->string, "__metadata__"))
            continue;
        t5_st_tensor *t = &f->tensors[k];
        size_t len = strlen(e->string) + 1;
        memcpy(np, e->string, len);
        t->name = np;
        np += len;
        t->file = f->path;
        if ((rc = parse_entry(e, t, data, data_size, label, err)) < 0)
            goto out;
        k++;
    }
    f->n_tensors = count;
    qsort(f->tensors, (size_t)count, sizeof *f->tensors, cmp_tensor);
    for (int i = 1; i < count; i++)
        if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name)) {
            rc = t5_errf(err, T5_EFORMAT, "%s: tensor '%s' appears twice in the header", label,
                         f->tensors[i].name);
            goto out;
        }
out:
    cJSON_Delete(root);
    if (rc < 0)
        t5_st_file_clear(f);
    return rc;
}

int t5_st_file_open(t5_st_file *f, const char *path, t5_err *err)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return t5_errf(err, errno == ENOENT ? T5_ENOTFOUND : T5_EIO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return t5_errf(err, T5_EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return t5_errf(err, T5_EIO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return t5_errf(err, T5_EIO, "%s: mmap: %s", path, strerror(e));
        }
    }
    close(fd);
    static const uint8_t empty[1];
    int rc = t5_st_parse(f, map ? map : (const void *)empty, size, path, err);
    if (rc < 0) {
        if (map)
            munmap(map, size);
        return rc;
    }
    f->map = map;
    f->map_size = size;
    return 0;
}

const t5_st_tensor *t5_st_file_find(const t5_st_file *f, const char *name)
{
    if (!f->n_tensors)
        return NULL;
    t5_st_tensor key;
    key.name = name;
    return bsearch(&key, f->tensors, (size_t)f->n_tensors, sizeof key, cmp_tensor);
}

/* ---- conversion ------------------------------------------------------- */

int t5_st_read_f32(const t5_st_tensor *t, float *dst, size_t n, t5_err *err)
{
    if ((uint64_t)t->numel > n)
        return t5_errf(err, T5_EINVAL, "%s: tensor '%s': %lld elements, buffer holds %zu", t->file,
                       t->name, (long long)t->numel, n);
    size_t cnt = (size_t)t->numel;
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case T5_ST_F32:
        /* memcpy: the data offset need not be 4-byte aligned. */
        memcpy(dst, p, cnt * sizeof(float));
        return 0;
    case T5_ST_F16:
        for (size_t i = 0; i < cnt; i++)
            dst[i] = t5_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    case T5_ST_BF16:
        for (size_t i = 0; i < cnt; i++)
            dst[i] = t5_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    default:
        return t5_errf(err, T5_EUNSUP,
                       "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 are supported",
                       t->file, t->name, t->dtype_name);
    }
}
