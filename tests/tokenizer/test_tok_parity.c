/* test_tok_parity.c - every model, every corpus line: ids and decoded text
 * must equal what sentencepiece (spiece.model) and the tokenizers library
 * (tokenizer.json) produced, as recorded by tools/tokenizer/make_fixtures.py.
 *
 * Usage: test_tok_parity [MODEL...]   (default: nfkc bytefb ident uds) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fixtures.h"
#include "t5_tokenizer.h"

#define MAXI 65536
#define MAXT (1 << 20)

static int32_t ids[MAXI], ref[MAXI];
static char text[MAXT], want[MAXT], want2[MAXT], line[MAXT];
static int shown;

static void report(const char *what, const char *model, size_t ln, const char *detail)
{
    if (shown++ < 20)
        fprintf(stderr, "MISMATCH %s %s line %zu: %s\n", model, what, ln + 1, detail);
}

static void ids_str(const int32_t *v, int n, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n && k + 16 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%d", i ? " " : "", (int)v[i]);
}

static t5_tokenizer *load_gz(const char *name, const char *kind)
{
    size_t len;
    char *d = fx_read(name, &len);
    if (!d) {
        fprintf(stderr, "missing fixture %s\n", name);
        return NULL;
    }
    t5_tokenizer *tok = NULL;
    t5_err err = {0};
    if (t5_tokenizer_load_mem(&tok, kind, d, len, &err) < 0)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    free(d);
    return tok;
}

/* Resolves "=" (same as base), "+" (base + "</s>") or ":text". */
static void resolve(const char *field, const char *base, char *out)
{
    if (!strcmp(field, "="))
        strcpy(out, base);
    else if (!strcmp(field, "+"))
        sprintf(out, "%s</s>", base);
    else
        fx_unescape(field + 1, out);
}

/* The resolved tokenizer.json references of the first V5_LINES lines of
 * the model checked last, for the transformers-5 variant file. */
#define V5_LINES 3000
static char *base_ids[V5_LINES], *base_dec[V5_LINES];

static void keep_base(size_t i, const int32_t *v, int n, const char *dec)
{
    if (i >= V5_LINES)
        return;
    char buf[16384];
    ids_str(v, n, buf, sizeof buf);
    free(base_ids[i]);
    free(base_dec[i]);
    base_ids[i] = strdup(buf);
    base_dec[i] = strdup(dec);
}

static void check_model(const char *m, const fx_lines *corpus)
{
    char name[256], a[4096], b[4096];
    snprintf(name, sizeof name, "%s.model.gz", m);
    t5_tokenizer *spm = load_gz(name, "spiece");
    snprintf(name, sizeof name, "%s.json.gz", m);
    t5_tokenizer *hf = load_gz(name, "json");
    CHECK(spm && hf);
    if (!spm || !hf)
        return;
    fx_lines sids, sdec, hids, hdec, rids, rspm, rhf;
    snprintf(name, sizeof name, "%s.spm.ids.gz", m);
    CHECK(fx_lines_read(&sids, name) == 0);
    snprintf(name, sizeof name, "%s.spm.dec.gz", m);
    CHECK(fx_lines_read(&sdec, name) == 0);
    snprintf(name, sizeof name, "%s.hf.ids.gz", m);
    CHECK(fx_lines_read(&hids, name) == 0);
    snprintf(name, sizeof name, "%s.hf.dec.gz", m);
    CHECK(fx_lines_read(&hdec, name) == 0);
    snprintf(name, sizeof name, "%s.rand.ids.gz", m);
    CHECK(fx_lines_read(&rids, name) == 0);
    snprintf(name, sizeof name, "%s.rand.spm.dec.gz", m);
    CHECK(fx_lines_read(&rspm, name) == 0);
    snprintf(name, sizeof name, "%s.rand.hf.gz", m);
    CHECK(fx_lines_read(&rhf, name) == 0);
    CHECK_EQ_INT(sids.n, corpus->n);
    CHECK_EQ_INT(hids.n, corpus->n);
    int bad_sids = 0, bad_sdec = 0, bad_hids = 0, bad_hdec = 0, bad_eos = 0, bad_r = 0;
    int eos = t5_tokenizer_eos_id(spm);
    t5_err err = {0};
    for (size_t i = 0; i < corpus->n && i < sids.n && i < hids.n; i++) {
        size_t len = fx_unescape(corpus->line[i], line);
        /* sentencepiece ids */
        int nr = fx_ids(sids.line[i], ref, MAXI);
        int n = t5_tokenizer_encode(spm, line, len, ids, MAXI, 0, &err);
        if (n != nr || memcmp(ids, ref, (size_t)nr * 4)) {
            bad_sids++;
            ids_str(ids, n, a, sizeof a), ids_str(ref, nr, b, sizeof b);
            snprintf(text, 8192, "got [%.3000s] want [%.3000s] (%.200s)", a, b,
                     n < 0 ? err.msg : "");
            report("spm ids", m, i, text);
        }
        int ne = t5_tokenizer_encode(spm, line, len, ids, MAXI, T5_TOK_ADD_EOS, &err);
        if (ne != nr + 1 || ids[nr] != eos)
            bad_eos++;
        /* sentencepiece decode of the reference ids */
        resolve(sdec.line[i], line, want);
        int tl = t5_tokenizer_decode(spm, ref, nr, text, MAXT, 0, &err);
        if (tl < 0 || strcmp(text, want)) {
            bad_sdec++;
            snprintf(a, sizeof a, "got \"%.200s\" want \"%.200s\"", text, want);
            report("spm decode", m, i, a);
        }
        /* tokenizers ids (with </s>) */
        int nh;
        if (!strcmp(hids.line[i], "=")) {
            nh = nr + 1;
            ref[nr] = eos;
        } else {
            nh = fx_ids(hids.line[i], ref, MAXI);
        }
        n = t5_tokenizer_encode(hf, line, len, ids, MAXI, T5_TOK_ADD_EOS, &err);
        if (n != nh || memcmp(ids, ref, (size_t)nh * 4)) {
            bad_hids++;
            ids_str(ids, n, a, sizeof a), ids_str(ref, nh, b, sizeof b);
            snprintf(text, 8192, "got [%.3000s] want [%.3000s] (%.200s)", a, b,
                     n < 0 ? err.msg : "");
            report("hf ids", m, i, text);
        }
        /* tokenizers decode, skipping special tokens and not */
        char *tab = strchr(hdec.line[i], '\t');
        CHECK(tab != NULL);
        if (!tab)
            continue;
        *tab = 0;
        char sdtext[8192];
        resolve(sdec.line[i], line, sdtext);
        resolve(hdec.line[i], sdtext, want);
        resolve(tab + 1, want, want2);
        keep_base(i, ref, nh, want);
        tl = t5_tokenizer_decode(hf, ref, nh, text, MAXT, T5_TOK_SKIP_SPECIAL, &err);
        if (tl < 0 || strcmp(text, want)) {
            bad_hdec++;
            snprintf(a, sizeof a, "skip: got \"%.200s\" want \"%.200s\"", text, want);
            report("hf decode", m, i, a);
        }
        tl = t5_tokenizer_decode(hf, ref, nh, text, MAXT, 0, &err);
        if (tl < 0 || strcmp(text, want2)) {
            bad_hdec++;
            snprintf(a, sizeof a, "all: got \"%.200s\" want \"%.200s\"", text, want2);
            report("hf decode", m, i, a);
        }
    }
    /* Random id sequences. */
    for (size_t i = 0; i < rids.n && i < rspm.n && i < rhf.n; i++) {
        int nr = fx_ids(rids.line[i], ref, MAXI);
        char *tab = strchr(rspm.line[i], '\t');
        if (!tab)
            continue;
        *tab = 0;
        resolve(rspm.line[i], "", want);
        resolve(tab + 1, want, want2);
        int tl = t5_tokenizer_decode(spm, ref, nr, text, MAXT, 0, &err);
        if (tl < 0 || strcmp(text, want)) {
            bad_r++;
            snprintf(a, sizeof a, "spm all [%s]: got \"%.200s\" want \"%.200s\"", rids.line[i],
                     text, want);
            report("rand", m, i, a);
        }
        tl = t5_tokenizer_decode(spm, ref, nr, text, MAXT, T5_TOK_SKIP_SPECIAL, &err);
        if (tl < 0 || strcmp(text, want2)) {
            bad_r++;
            snprintf(a, sizeof a, "spm skip [%s]: got \"%.200s\" want \"%.200s\"", rids.line[i],
                     text, want2);
            report("rand", m, i, a);
        }
        char *t1 = strchr(rhf.line[i], '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        *t1 = *t2 = 0;
        nr = fx_ids(rhf.line[i], ref, MAXI);
        resolve(t1 + 1, "", want);
        resolve(t2 + 1, want, want2);
        tl = t5_tokenizer_decode(hf, ref, nr, text, MAXT, T5_TOK_SKIP_SPECIAL, &err);
        if (tl < 0 || strcmp(text, want)) {
            bad_r++;
            snprintf(a, sizeof a, "hf skip [%s]: got \"%.200s\" want \"%.200s\"", rhf.line[i], text,
                     want);
            report("rand", m, i, a);
        }
        tl = t5_tokenizer_decode(hf, ref, nr, text, MAXT, 0, &err);
        if (tl < 0 || strcmp(text, want2)) {
            bad_r++;
            snprintf(a, sizeof a, "hf all [%s]: got \"%.200s\" want \"%.200s\"", rhf.line[i], text,
                     want2);
            report("rand", m, i, a);
        }
    }
    fprintf(stderr,
            "%-7s lines %zu: spm ids %d bad, spm eos %d bad, spm decode %d bad, hf ids %d bad, "
            "hf decode %d bad, random decode %d bad\n",
            m, corpus->n, bad_sids, bad_eos, bad_sdec, bad_hids, bad_hdec, bad_r);
    CHECK_EQ_INT(bad_sids, 0);
    CHECK_EQ_INT(bad_eos, 0);
    CHECK_EQ_INT(bad_sdec, 0);
    CHECK_EQ_INT(bad_hids, 0);
    CHECK_EQ_INT(bad_hdec, 0);
    CHECK_EQ_INT(bad_r, 0);
    fx_lines_free(&sids), fx_lines_free(&sdec), fx_lines_free(&hids), fx_lines_free(&hdec);
    fx_lines_free(&rids), fx_lines_free(&rspm), fx_lines_free(&rhf);
    t5_tokenizer_free(spm);
    t5_tokenizer_free(hf);
}

/* tokenizer.json as transformers 5's T5Tokenizer.save_pretrained writes it
 * (Precompiled; WhitespaceSplit + Metaspace), against the tokenizers library;
 * "=" in its references means "as the T5Converter file of the same model". */
static void check_v5_with(const char *m, t5_tokenizer *hf, const fx_lines *corpus);

/* The same references serve t5_tokenizer_load_dir on a directory holding
 * only the spiece.model: transformers made them from exactly that. */
static t5_tokenizer *load_dir_with_spiece(const char *m)
{
    char dir[] = "/tmp/t5tokv5XXXXXX", path[512], name[256];
    if (!mkdtemp(dir))
        return NULL;
    snprintf(name, sizeof name, "%s.model.gz", m);
    size_t len;
    char *d = fx_read(name, &len);
    snprintf(path, sizeof path, "%s/spiece.model", dir);
    FILE *f = fopen(path, "wb");
    if (f && d)
        fwrite(d, 1, len, f);
    if (f)
        fclose(f);
    free(d);
    t5_tokenizer *tok = NULL;
    t5_err err = {0};
    if (t5_tokenizer_load_dir(&tok, dir, &err) < 0)
        fprintf(stderr, "load_dir: %s\n", err.msg);
    remove(path);
    remove(dir);
    return tok;
}

static void check_v5(const char *m, const fx_lines *corpus)
{
    char name[256];
    snprintf(name, sizeof name, "%s_v5.json.gz", m);
    t5_tokenizer *hf = load_gz(name, "json");
    CHECK(hf != NULL);
    if (hf)
        check_v5_with(m, hf, corpus);
    t5_tokenizer *dir = load_dir_with_spiece(m);
    CHECK(dir != NULL);
    if (dir)
        check_v5_with(m, dir, corpus);
}

static void check_v5_with(const char *m, t5_tokenizer *hf, const fx_lines *corpus)
{
    char name[256], a[4096];
    fx_lines ids_l, dec_l;
    snprintf(name, sizeof name, "%s_v5.hf.ids.gz", m);
    CHECK(fx_lines_read(&ids_l, name) == 0);
    snprintf(name, sizeof name, "%s_v5.hf.dec.gz", m);
    CHECK(fx_lines_read(&dec_l, name) == 0);
    int bad = 0;
    t5_err err = {0};
    for (size_t i = 0; i < ids_l.n && i < dec_l.n && i < V5_LINES && base_ids[i]; i++) {
        size_t len = fx_unescape(corpus->line[i], line);
        int nr = fx_ids(strcmp(ids_l.line[i], "=") ? ids_l.line[i] : base_ids[i], ref, MAXI);
        int n = t5_tokenizer_encode(hf, line, len, ids, MAXI, T5_TOK_ADD_EOS, &err);
        if (n != nr || memcmp(ids, ref, (size_t)nr * 4)) {
            bad++;
            ids_str(ids, n, a, sizeof a);
            snprintf(text, 8192, "got [%.3000s] want [%.3000s]", a, ids_l.line[i]);
            report("v5 ids", m, i, text);
        }
        char *tab = strchr(dec_l.line[i], '\t');
        if (!tab)
            continue;
        *tab = 0;
        resolve(dec_l.line[i], base_dec[i], want);
        resolve(tab + 1, want, want2);
        t5_tokenizer_decode(hf, ref, nr, text, MAXT, T5_TOK_SKIP_SPECIAL, &err);
        if (strcmp(text, want)) {
            bad++;
            report("v5 decode", m, i, text);
        }
        t5_tokenizer_decode(hf, ref, nr, text, MAXT, 0, &err);
        if (strcmp(text, want2)) {
            bad++;
            report("v5 decode all", m, i, text);
        }
    }
    fprintf(stderr, "%s_v5 lines %zu: %d bad\n", m, ids_l.n, bad);
    CHECK(ids_l.n == V5_LINES);
    CHECK_EQ_INT(bad, 0);
    fx_lines_free(&ids_l), fx_lines_free(&dec_l);
    t5_tokenizer_free(hf);
}

static const char *only[16];
static int n_only;

static void test_parity(void)
{
    fx_lines corpus;
    CHECK(fx_lines_read(&corpus, "corpus.txt.gz") == 0);
    if (!corpus.data)
        return;
    CHECK(corpus.n >= 10000);
    static const char *models[] = {"nfkc", "bytefb", "ident", "uds"};
    if (n_only)
        for (int i = 0; i < n_only; i++)
            check_model(only[i], &corpus);
    else {
        check_model("nfkc", &corpus);
        check_v5("nfkc", &corpus); /* uses what check_model kept */
        for (size_t i = 1; i < sizeof models / sizeof *models; i++)
            check_model(models[i], &corpus);
    }
    for (int i = 0; i < V5_LINES; i++)
        free(base_ids[i]), free(base_dec[i]);
    fx_lines_free(&corpus);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc && n_only < 16; i++)
        only[n_only++] = argv[i];
    RUN(test_parity);
    return check_summary();
}
