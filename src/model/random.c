/* random.c - random-weight checkpoints of the published T5 shapes.
 *
 * Benchmarks must not depend on downloads, so `t5serve random-model` writes
 * a Hugging Face directory (config.json + model.safetensors) with the real
 * shapes and random weights that transformers, CTranslate2's converter and
 * t5serve all load. The weights are deterministic in the seed (each tensor
 * has its own stream, derived from the seed and its name) and scaled so
 * outputs are not degenerate: N(0, 1) embeddings, N(0, 1/sqrt(fan_in))
 * linears, norm scales near 1. Tensors are generated and written in chunks:
 * t5-large in fp32 is 3 GB and never sits in memory.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "model/util.h"
#include "t5_model.h"

typedef struct shape {
    const char *name;
    int vocab, d_model, d_kv, d_ff, heads, layers, dec_layers;
    int v11; /* gated-gelu, untied head (T5 v1.1, flan-t5, mT5, ByT5) */
} shape;

/* From the published config.json files. */
static const shape shapes[] = {
    {"t5-small", 32128, 512, 64, 2048, 8, 6, 6, 0},
    {"t5-base", 32128, 768, 64, 3072, 12, 12, 12, 0},
    {"t5-large", 32128, 1024, 64, 4096, 16, 24, 24, 0},
    {"flan-t5-small", 32128, 512, 64, 1024, 6, 8, 8, 1},
    {"flan-t5-base", 32128, 768, 64, 2048, 12, 12, 12, 1},
    {"flan-t5-large", 32128, 1024, 64, 2816, 16, 24, 24, 1},
    {"t5-v1_1-small", 32128, 512, 64, 1024, 6, 8, 8, 1},
    {"t5-v1_1-base", 32128, 768, 64, 2048, 12, 12, 12, 1},
    {"mt5-small", 250112, 512, 64, 1024, 6, 8, 8, 1},
    {"byt5-small", 384, 1472, 64, 3584, 6, 12, 4, 1},
    /* Not published: tiny shapes with the real vocabulary, for quick tests. */
    {"t5-tiny", 32128, 64, 16, 128, 4, 2, 2, 0},
    {"flan-t5-tiny", 32128, 64, 16, 96, 4, 2, 3, 1},
};

/* ---- deterministic normals: splitmix64 seeding xoshiro256** ------------- */

typedef struct rng {
    uint64_t s[4];
    int have_spare;
    double spare;
} rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the tensor name */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    uint64_t x = seed ^ h;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
    r->have_spare = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Box-Muller; uniforms in (0, 1]. */
static double rng_normal(rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = ((rng_next(r) >> 11) + 1) * 0x1.0p-53;
    double u2 = (rng_next(r) >> 11) * 0x1.0p-53;
    double m = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
    r->spare = m * sin(a);
    r->have_spare = 1;
    return m * cos(a);
}

/* ---- the tensor list -------------------------------------------------- */

/* INIT_OUT: the projections that write into the residual stream (o, wo).
 * They get 3x the fan-in scale: with a tied head and N(0, 1) embeddings the
 * residual stream otherwise stays close to the input token's embedding, and
 * greedy decoding of a random t5-small just repeats the decoder start token. */
enum { INIT_EMBED, INIT_LINEAR, INIT_OUT, INIT_NORM, INIT_BIAS };

typedef struct tdesc {
    char name[96];
    int64_t rows, cols; /* rows == 0: 1-D [cols] */
    int init;
    uint64_t begin, end; /* data offsets */
} tdesc;

typedef struct tlist {
    tdesc *t;
    int n, cap;
} tlist;

static int add(tlist *l, int64_t rows, int64_t cols, int init, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int add(tlist *l, int64_t rows, int64_t cols, int init, const char *fmt, ...)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        tdesc *t = realloc(l->t, (size_t)cap * sizeof *t);
        if (!t)
            return T5_ENOMEM;
        l->t = t;
        l->cap = cap;
    }
    tdesc *d = &l->t[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->name, sizeof d->name, fmt, ap);
    va_end(ap);
    d->rows = rows;
    d->cols = cols;
    d->init = init;
    return 0;
}

static int build_list(const shape *s, tlist *l)
{
    const int64_t d = s->d_model, inner = (int64_t)s->heads * s->d_kv, ff = s->d_ff;
    int rc = add(l, s->vocab, d, INIT_EMBED, "shared.weight");
    if (s->v11)
        rc |= add(l, s->vocab, d, INIT_LINEAR, "lm_head.weight");
    for (int stack = 0; stack < 2; stack++) {
        const char *st = stack ? "decoder" : "encoder";
        int nl = stack ? s->dec_layers : s->layers;
        for (int i = 0; i < nl; i++) {
            const char *qkv = "qkv";
            for (int j = 0; j < 3; j++)
                rc |= add(l, inner, d, INIT_LINEAR, "%s.block.%d.layer.0.SelfAttention.%c.weight",
                          st, i, qkv[j]);
            rc |= add(l, d, inner, INIT_OUT, "%s.block.%d.layer.0.SelfAttention.o.weight", st, i);
            if (i == 0)
                rc |= add(l, 32, s->heads, INIT_BIAS,
                          "%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight", st);
            rc |= add(l, 0, d, INIT_NORM, "%s.block.%d.layer.0.layer_norm.weight", st, i);
            int f = 1;
            if (stack) {
                f = 2;
                for (int j = 0; j < 3; j++)
                    rc |= add(l, inner, d, INIT_LINEAR,
                              "decoder.block.%d.layer.1.EncDecAttention.%c.weight", i, qkv[j]);
                rc |= add(l, d, inner, INIT_OUT,
                          "decoder.block.%d.layer.1.EncDecAttention.o.weight", i);
                rc |= add(l, 0, d, INIT_NORM, "decoder.block.%d.layer.1.layer_norm.weight", i);
            }
            if (s->v11) {
                rc |= add(l, ff, d, INIT_LINEAR, "%s.block.%d.layer.%d.DenseReluDense.wi_0.weight",
                          st, i, f);
                rc |= add(l, ff, d, INIT_LINEAR, "%s.block.%d.layer.%d.DenseReluDense.wi_1.weight",
                          st, i, f);
            } else {
                rc |= add(l, ff, d, INIT_LINEAR, "%s.block.%d.layer.%d.DenseReluDense.wi.weight",
                          st, i, f);
            }
            rc |=
                add(l, d, ff, INIT_OUT, "%s.block.%d.layer.%d.DenseReluDense.wo.weight", st, i, f);
            rc |= add(l, 0, d, INIT_NORM, "%s.block.%d.layer.%d.layer_norm.weight", st, i, f);
        }
        rc |= add(l, 0, d, INIT_NORM, "%s.final_layer_norm.weight", st);
    }
    return rc ? T5_ENOMEM : 0;
}

/* ---- writing ---------------------------------------------------------- */

static int write_config(const shape *s, const char *dir, t5_err *err)
{
    char *path = t5__path_join(dir, "config.json");
    if (!path)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    FILE *f = fopen(path, "w");
    if (!f) {
        int rc = t5_errf(err, T5_EIO, "%s: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    /* The fields of the published configs that T5Config reads. */
    fprintf(f,
            "{\n"
            "  \"architectures\": [\"T5ForConditionalGeneration\"],\n"
            "  \"model_type\": \"t5\",\n"
            "  \"d_ff\": %d,\n"
            "  \"d_kv\": %d,\n"
            "  \"d_model\": %d,\n"
            "  \"decoder_start_token_id\": 0,\n"
            "  \"dropout_rate\": 0.1,\n"
            "  \"eos_token_id\": 1,\n"
            "  \"initializer_factor\": 1.0,\n"
            "  \"is_encoder_decoder\": true,\n"
            "  \"layer_norm_epsilon\": 1e-06,\n"
            "  \"n_positions\": 512,\n"
            "  \"num_decoder_layers\": %d,\n"
            "  \"num_heads\": %d,\n"
            "  \"num_layers\": %d,\n"
            "  \"pad_token_id\": 0,\n"
            "  \"relative_attention_max_distance\": 128,\n"
            "  \"relative_attention_num_buckets\": 32,\n",
            s->d_ff, s->d_kv, s->d_model, s->dec_layers, s->heads, s->layers);
    if (s->v11)
        fprintf(f, "  \"dense_act_fn\": \"gelu_new\",\n"
                   "  \"feed_forward_proj\": \"gated-gelu\",\n"
                   "  \"tie_word_embeddings\": false,\n");
    else
        fprintf(f, "  \"feed_forward_proj\": \"relu\",\n");
    fprintf(f, "  \"use_cache\": true,\n  \"vocab_size\": %d\n}\n", s->vocab);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    int rc = bad ? t5_errf(err, T5_EIO, "%s: write failed", path) : 0;
    free(path);
    return rc;
}

/* The safetensors header: every tensor with its offsets, padded with spaces
 * to a multiple of 8 bytes as safetensors' own writer does. */
static char *make_header(tlist *l, t5_dtype dt, size_t *len)
{
    size_t elem = dt == T5_F32 ? 4 : 2;
    const char *dname = dt == T5_F32 ? "F32" : dt == T5_F16 ? "F16" : "BF16";
    size_t cap = 64 + (size_t)l->n * 200, n = 0;
    char *h = malloc(cap);
    if (!h)
        return NULL;
    n += (size_t)snprintf(h + n, cap - n, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < l->n; i++) {
        tdesc *t = &l->t[i];
        uint64_t numel = (uint64_t)(t->rows ? t->rows : 1) * (uint64_t)t->cols;
        t->begin = off;
        t->end = off + numel * elem;
        off = t->end;
        char shape[64];
        if (t->rows)
            snprintf(shape, sizeof shape, "%lld,%lld", (long long)t->rows, (long long)t->cols);
        else
            snprintf(shape, sizeof shape, "%lld", (long long)t->cols);
        n += (size_t)snprintf(h + n, cap - n,
                              ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%llu,"
                              "%llu]}",
                              t->name, dname, shape, (unsigned long long)t->begin,
                              (unsigned long long)t->end);
    }
    n += (size_t)snprintf(h + n, cap - n, "}");
    while (n % 8)
        h[n++] = ' ';
    *len = n;
    return h;
}

static int write_tensor(FILE *f, const tdesc *t, uint64_t seed, t5_dtype dt, float *buf,
                        uint16_t *buf16, size_t chunk)
{
    rng r;
    rng_seed(&r, seed, t->name);
    double scale = t->init == INIT_LINEAR ? 1.0 / sqrt((double)t->cols)
                   : t->init == INIT_OUT  ? 3.0 / sqrt((double)t->cols)
                   : t->init == INIT_BIAS ? 0.5
                   : t->init == INIT_NORM ? 0.05
                                          : 1.0;
    double center = t->init == INIT_NORM ? 1.0 : 0.0;
    uint64_t numel = (uint64_t)(t->rows ? t->rows : 1) * (uint64_t)t->cols;
    for (uint64_t done = 0; done < numel;) {
        size_t n = numel - done < chunk ? (size_t)(numel - done) : chunk;
        for (size_t i = 0; i < n; i++)
            buf[i] = (float)(center + scale * rng_normal(&r));
        size_t wrote;
        if (dt == T5_F32) {
            wrote = fwrite(buf, sizeof(float), n, f); /* little-endian hosts */
        } else {
            for (size_t i = 0; i < n; i++) {
                uint16_t h = dt == T5_F16 ? t5_f32_to_f16(buf[i]) : t5_f32_to_bf16(buf[i]);
                buf16[i] = h;
            }
            wrote = fwrite(buf16, sizeof(uint16_t), n, f);
        }
        if (wrote != n)
            return T5_EIO;
        done += n;
    }
    return 0;
}

static int mkdir_p(const char *dir, t5_err *err)
{
    char *p = strdup(dir);
    if (!p)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                int rc = t5_errf(err, T5_EIO, "mkdir %s: %s", p, strerror(errno));
                free(p);
                return rc;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return t5_errf(err, T5_EIO, "%s: not a directory", dir);
    return 0;
}

int t5_random_model_write(const char *shape_name, const char *dir, uint64_t seed, t5_dtype dtype,
                          t5_err *err)
{
    if (!shape_name || !dir)
        return t5_errf(err, T5_EINVAL, "t5_random_model_write: NULL argument");
    const shape *s = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, shape_name))
            s = &shapes[i];
    if (!s) {
        char names[512];
        size_t k = 0;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "",
                                  shapes[i].name);
        return t5_errf(err, T5_EINVAL, "unknown shape '%s' (known: %s)", shape_name, names);
    }
    if (dtype != T5_F32 && dtype != T5_F16 && dtype != T5_BF16)
        return t5_errf(err, T5_EINVAL, "unknown dtype %d", (int)dtype);
    int rc = mkdir_p(dir, err);
    if (rc < 0)
        return rc;
    if ((rc = write_config(s, dir, err)) < 0)
        return rc;

    tlist l = {0};
    char *header = NULL, *tmp = NULL, *path = NULL;
    float *buf = NULL;
    uint16_t *buf16 = NULL;
    FILE *f = NULL;
    const size_t chunk = 1 << 20;
    size_t hlen = 0;
    if (build_list(s, &l) < 0 || !(header = make_header(&l, dtype, &hlen)) ||
        !(path = t5__path_join(dir, "model.safetensors")) ||
        !(tmp = t5__path_join(dir, "model.safetensors.tmp")) ||
        !(buf = malloc(chunk * sizeof *buf)) || !(buf16 = malloc(chunk * sizeof *buf16))) {
        rc = t5_errf(err, T5_ENOMEM, "out of memory");
        goto out;
    }
    /* Written under a temporary name and renamed, so an interrupted run never
     * leaves a truncated model.safetensors behind. */
    if (!(f = fopen(tmp, "wb"))) {
        rc = t5_errf(err, T5_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (fwrite(lenbuf, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen) {
        rc = t5_errf(err, T5_EIO, "%s: write failed", tmp);
        goto out;
    }
    for (int i = 0; i < l.n; i++)
        if (write_tensor(f, &l.t[i], seed, dtype, buf, buf16, chunk) < 0) {
            rc = t5_errf(err, T5_EIO, "%s: write failed (%s)", tmp, strerror(errno));
            goto out;
        }
    int bad = fclose(f) != 0;
    f = NULL;
    if (bad) {
        rc = t5_errf(err, T5_EIO, "%s: write failed (%s)", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) < 0)
        rc = t5_errf(err, T5_EIO, "rename %s: %s", tmp, strerror(errno));
out:
    if (f)
        fclose(f);
    if (rc < 0 && tmp)
        unlink(tmp);
    free(l.t);
    free(header);
    free(path);
    free(tmp);
    free(buf);
    free(buf16);
    return rc;
}
