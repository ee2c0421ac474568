/* test_tok_misc.c - ByT5 against transformers' ByT5Tokenizer, the buffer
 * contract of encode/decode, model directories, and bad input: invalid
 * UTF-8, NUL bytes, huge lines, truncated and corrupted model files. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixtures.h"
#include "t5_tokenizer.h"

#define MAXI 65536
static int32_t ids[MAXI], ref[MAXI];
static char text[1 << 20], want[1 << 20], line[1 << 20];

static t5_tokenizer *load_gz(const char *name, const char *kind)
{
    size_t len;
    char *d = fx_read(name, &len);
    t5_tokenizer *tok = NULL;
    t5_err err = {0};
    if (d && t5_tokenizer_load_mem(&tok, kind, d, len, &err) < 0)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    free(d);
    return tok;
}

static void test_byt5(void)
{
    t5_tokenizer *tok;
    t5_err err = {0};
    CHECK_EQ_INT(t5_tokenizer_byt5(&tok, 125, &err), 0);
    CHECK_EQ_INT(t5_tokenizer_vocab_size(tok), 384);
    CHECK_EQ_INT(t5_tokenizer_eos_id(tok), 1);
    CHECK_EQ_INT(t5_tokenizer_pad_id(tok), 0);
    CHECK_EQ_INT(t5_tokenizer_unk_id(tok), 2);
    CHECK(!strcmp(t5_tokenizer_piece(tok, 259), "<extra_id_0>"));
    fx_lines corpus, bids, bdec;
    CHECK(fx_lines_read(&corpus, "corpus.txt.gz") == 0);
    CHECK(fx_lines_read(&bids, "byt5.ids.gz") == 0);
    CHECK(fx_lines_read(&bdec, "byt5.dec.gz") == 0);
    int bad = 0;
    for (size_t i = 0; i < bids.n && i < corpus.n && i < bdec.n; i++) {
        size_t len = fx_unescape(corpus.line[i], line);
        int nr = fx_ids(bids.line[i], ref, MAXI);
        int n = t5_tokenizer_encode(tok, line, len, ids, MAXI, T5_TOK_ADD_EOS, &err);
        if (n != nr || memcmp(ids, ref, (size_t)nr * 4)) {
            if (bad++ < 5)
                fprintf(stderr, "byt5 ids line %zu differ\n", i + 1);
        }
        char *tab = strchr(bdec.line[i], '\t');
        if (!tab)
            continue;
        *tab = 0;
        if (!strcmp(bdec.line[i], "="))
            strcpy(want, line);
        else
            fx_unescape(bdec.line[i] + 1, want);
        t5_tokenizer_decode(tok, ref, nr, text, sizeof text, T5_TOK_SKIP_SPECIAL, &err);
        if (strcmp(text, want) && bad++ < 5)
            fprintf(stderr, "byt5 decode line %zu: \"%s\" vs \"%s\"\n", i + 1, text, want);
        char w2[8192];
        if (!strcmp(tab + 1, "="))
            strcpy(w2, want);
        else
            fx_unescape(tab + 2, w2);
        t5_tokenizer_decode(tok, ref, nr, text, sizeof text, 0, &err);
        if (strcmp(text, w2) && bad++ < 5)
            fprintf(stderr, "byt5 decode(all) line %zu: \"%s\" vs \"%s\"\n", i + 1, text, w2);
    }
    CHECK(bids.n >= 2000);
    CHECK_EQ_INT(bad, 0);
    fx_lines_free(&corpus), fx_lines_free(&bids), fx_lines_free(&bdec);
    t5_tokenizer_free(tok);
}

static void test_invalid_utf8(void)
{
    t5_tokenizer *toks[3] = {load_gz("nfkc.model.gz", "spiece"), load_gz("nfkc.json.gz", "json"),
                             NULL};
    t5_tokenizer_byt5(&toks[2], 125, NULL);
    static const char *bad[] = {"\xff",     "abc\xc3",          "\xed\xa0\x80",
                                "\xc0\xaf", "\xf4\x90\x80\x80", "ok \x80 ok",
                                "\xe2\x96"};
    for (int t = 0; t < 3; t++) {
        CHECK(toks[t] != NULL);
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            t5_err err = {0};
            int n = t5_tokenizer_encode(toks[t], bad[i], strlen(bad[i]), ids, MAXI, 0, &err);
            CHECK_EQ_INT(n, T5_EINVAL);
            CHECK(strstr(err.msg, "UTF-8") != NULL);
        }
        /* NUL bytes are characters like any other. */
        t5_err err = {0};
        CHECK(t5_tokenizer_encode(toks[t], "a\0b", 3, ids, MAXI, 0, &err) > 0);
        /* Empty input: no ids, or just </s>. */
        CHECK_EQ_INT(t5_tokenizer_encode(toks[t], "", 0, ids, MAXI, 0, &err), 0);
        CHECK_EQ_INT(t5_tokenizer_encode(toks[t], NULL, 0, ids, MAXI, T5_TOK_ADD_EOS, &err), 1);
        CHECK_EQ_INT(ids[0], t5_tokenizer_eos_id(toks[t]));
        /* Out-of-range ids are refused by decode. */
        int32_t badid[2] = {5, t5_tokenizer_vocab_size(toks[t])};
        CHECK_EQ_INT(t5_tokenizer_decode(toks[t], badid, 2, text, sizeof text, 0, &err), T5_EINVAL);
        badid[1] = -1;
        CHECK_EQ_INT(t5_tokenizer_decode(toks[t], badid, 2, text, sizeof text, 0, &err), T5_EINVAL);
        t5_tokenizer_free(toks[t]);
    }
}

static void test_buffers(void)
{
    t5_tokenizer *tok = load_gz("nfkc.json.gz", "json");
    CHECK(tok != NULL);
    const char *s = "the quick brown fox jumps over the lazy dog";
    t5_err err = {0};
    int n = t5_tokenizer_encode(tok, s, strlen(s), ids, MAXI, T5_TOK_ADD_EOS, &err);
    CHECK(n > 3);
    int32_t small[3];
    CHECK_EQ_INT(t5_tokenizer_encode(tok, s, strlen(s), small, 3, T5_TOK_ADD_EOS, &err), n);
    CHECK(!memcmp(small, ids, sizeof small));
    CHECK_EQ_INT(t5_tokenizer_encode(tok, s, strlen(s), NULL, 0, T5_TOK_ADD_EOS, &err), n);
    int len = t5_tokenizer_decode(tok, ids, n, text, sizeof text, T5_TOK_SKIP_SPECIAL, &err);
    CHECK_EQ_INT(len, (int)strlen(s));
    CHECK(!strcmp(text, s));
    char tiny[5];
    CHECK_EQ_INT(t5_tokenizer_decode(tok, ids, n, tiny, sizeof tiny, T5_TOK_SKIP_SPECIAL, &err),
                 len);
    CHECK(!strcmp(tiny, "the "));
    CHECK_EQ_INT(t5_tokenizer_decode(tok, ids, n, NULL, 0, T5_TOK_SKIP_SPECIAL, &err), len);
    t5_tokenizer_free(tok);
}

static void test_huge(void)
{
    static const char *models[][2] = {
        {"nfkc.model.gz", "spiece"}, {"nfkc.json.gz", "json"}, {"bytefb.model.gz", "spiece"}};
    size_t n = 4 << 20;
    char *big = malloc(n);
    int32_t *out = malloc(n * sizeof *out);
    for (size_t m = 0; m < 3; m++) {
        t5_tokenizer *tok = load_gz(models[m][0], models[m][1]);
        CHECK(tok != NULL);
        t5_err err = {0};
        /* Words, then one endless word, then an endless run of spaces. */
        for (size_t i = 0; i < n; i++)
            big[i] = "hello world, naïve café "[i % 25];
        big[n - 1] = ' ';
        CHECK(t5_tokenizer_encode(tok, big, n - 2, out, (int)n, 0, &err) > 100000);
        for (size_t i = 0; i < n; i++)
            big[i] = (char)('a' + i % 26);
        CHECK(t5_tokenizer_encode(tok, big, n, out, (int)n, 0, &err) > 1000);
        memset(big, ' ', n);
        CHECK(t5_tokenizer_encode(tok, big, n, out, (int)n, 0, &err) >= 0);
        t5_tokenizer_free(tok);
    }
    free(big);
    free(out);
}

/* Every truncation and many corruptions of a model file: an error or a
 * working tokenizer, never a crash (ASan builds check the "never"). */
static void fuzz_file(const char *name, const char *kind, size_t step)
{
    size_t len;
    char *d = fx_read(name, &len);
    CHECK(d != NULL);
    if (!d)
        return;
    int ok = 0, failed = 0;
    for (size_t l = 0; l < len; l += step) {
        t5_tokenizer *tok = NULL;
        t5_err err = {0};
        char *copy = malloc(l ? l : 1);
        memcpy(copy, d, l);
        if (t5_tokenizer_load_mem(&tok, kind, copy, l, &err) == 0) {
            ok++;
            t5_tokenizer_encode(tok, "Hello wörld ﬁ 日本", 22, ids, MAXI, T5_TOK_ADD_EOS, &err);
            t5_tokenizer_free(tok);
        } else {
            failed++;
            CHECK(err.msg[0] != 0);
        }
        free(copy);
    }
    srand(42);
    for (int trial = 0; trial < 300; trial++) {
        char *copy = malloc(len);
        memcpy(copy, d, len);
        for (int k = 0; k < 1 + trial % 8; k++)
            copy[(size_t)rand() % len] = (char)rand();
        t5_tokenizer *tok = NULL;
        if (t5_tokenizer_load_mem(&tok, kind, copy, len, NULL) == 0) {
            int n = t5_tokenizer_encode(tok, "Hello wörld ﬁ 日本 </s>", 28, ids, MAXI,
                                        T5_TOK_ADD_EOS, NULL);
            if (n > 0 && n <= MAXI)
                t5_tokenizer_decode(tok, ids, n, text, sizeof text, 0, NULL);
            t5_tokenizer_free(tok);
        }
        free(copy);
    }
    fprintf(stderr, "%s: %d truncations loaded, %d refused\n", name, ok, failed);
    CHECK(failed > 0);
    free(d);
}

static void test_corrupt(void)
{
    fuzz_file("ident.model.gz", "spiece", 1);
    fuzz_file("nfkc.model.gz", "spiece", 997);
    fuzz_file("ident.json.gz", "json", 7);
    t5_tokenizer *tok = NULL;
    t5_err err = {0};
    CHECK(t5_tokenizer_load_mem(&tok, "spiece", "", 0, &err) < 0);
    CHECK(t5_tokenizer_load_mem(&tok, "json", "{}", 2, &err) < 0);
    CHECK(t5_tokenizer_load_mem(&tok, "bogus", "{}", 2, &err) == T5_EINVAL);
    CHECK(t5_tokenizer_load(&tok, "/nonexistent/spiece.model", &err) == T5_EIO);
}

static void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static void test_load_dir(void)
{
    char dir[] = "/tmp/t5tokdirXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[512];
    t5_tokenizer *tok = NULL;
    t5_err err = {0};
    CHECK_EQ_INT(t5_tokenizer_load_dir(&tok, dir, &err), T5_ENOTFOUND);
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_file(p, "{\"vocab_size\": 384}", 19);
    CHECK_EQ_INT(t5_tokenizer_load_dir(&tok, dir, &err), 0);
    CHECK_EQ_INT(t5_tokenizer_vocab_size(tok), 384);
    t5_tokenizer_free(tok);
    size_t len;
    char *d = fx_read("ident.model.gz", &len);
    snprintf(p, sizeof p, "%s/spiece.model", dir);
    write_file(p, d, len);
    free(d);
    /* A bare spiece.model gets T5Tokenizer's pipeline: + 100 sentinels. */
    CHECK_EQ_INT(t5_tokenizer_load_dir(&tok, dir, &err), 0);
    CHECK_EQ_INT(t5_tokenizer_vocab_size(tok), 900);
    CHECK(!strcmp(t5_tokenizer_piece(tok, 800), "<extra_id_99>"));
    int32_t sent[4];
    CHECK_EQ_INT(t5_tokenizer_encode(tok, "<extra_id_0>", 12, sent, 4, T5_TOK_ADD_EOS, &err), 2);
    CHECK_EQ_INT(sent[0], 899);
    t5_tokenizer_free(tok);
    d = fx_read("ident.json.gz", &len);
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    write_file(p, d, len);
    free(d);
    CHECK_EQ_INT(t5_tokenizer_load_dir(&tok, dir, &err), 0);
    CHECK_EQ_INT(t5_tokenizer_vocab_size(tok), 900); /* + 100 sentinels */
    CHECK(!strcmp(t5_tokenizer_piece(tok, 899), "<extra_id_0>"));
    t5_tokenizer_free(tok);
    const char *names[] = {"config.json", "spiece.model", "tokenizer.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* Every supported tokenizer.json component against the tokenizers library
 * (tools/tokenizer/make_component_refs.py). */
static void test_components(void)
{
    t5_tokenizer *tok = NULL;
    t5_err err = {0};
    CHECK_EQ_INT(t5_tokenizer_load(&tok, T5_TOK_DATA "/components.json", &err), 0);
    if (!tok) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    fx_lines L;
    CHECK(fx_lines_read(&L, "components.ref.gz") == 0);
    int bad = 0;
    for (size_t i = 0; i < L.n; i++) {
        char *f[4] = {L.line[i], NULL, NULL, NULL};
        for (int k = 1; k < 4; k++) {
            f[k] = f[k - 1] ? strchr(f[k - 1], '\t') : NULL;
            if (f[k])
                *f[k]++ = 0;
        }
        if (!f[3])
            continue;
        size_t len = fx_unescape(f[0], line);
        int nr = fx_ids(f[1], ref, MAXI);
        int n = t5_tokenizer_encode(tok, line, len, ids, MAXI, T5_TOK_ADD_EOS, &err);
        if (n != nr || memcmp(ids, ref, (size_t)nr * 4)) {
            if (bad++ < 10)
                fprintf(stderr, "components ids row %zu \"%s\": got %d ids, want [%s]\n", i, f[0],
                        n, f[1]);
            continue;
        }
        for (int k = 0; k < 2; k++) {
            fx_unescape(f[2 + k], want);
            t5_tokenizer_decode(tok, ref, nr, text, sizeof text, k ? 0 : T5_TOK_SKIP_SPECIAL, &err);
            if (strcmp(text, want) && bad++ < 10)
                fprintf(stderr, "components decode%d row %zu: \"%s\" vs \"%s\"\n", k, i, text,
                        want);
        }
    }
    CHECK(L.n > 2000);
    CHECK_EQ_INT(bad, 0);
    fx_lines_free(&L);
    t5_tokenizer_free(tok);
}

int main(void)
{
    RUN(test_components);
    RUN(test_byt5);
    RUN(test_invalid_utf8);
    RUN(test_buffers);
    RUN(test_huge);
    RUN(test_corrupt);
    RUN(test_load_dir);
    return check_summary();
}
