/* test_lexicon.c - the word set and the beam choice of lexicon reranking
 * (src/server/lexicon.c), and the config parameters that turn it on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "server/lexicon.h"
#include "server/model_config.h"

static t5_lexicon *parse(const char *text)
{
    t5_lexicon *lx = NULL;
    t5_err err = {0};
    int rc = t5_lexicon_parse(&lx, text, strlen(text), "test", &err);
    CHECK_MSG(rc == 0 && lx, "%s", err.msg);
    return lx;
}

static int has(const t5_lexicon *lx, const char *w)
{
    return t5_lexicon_has(lx, w, strlen(w));
}

static int accepts(const t5_lexicon *lx, const char *t)
{
    return t5_lexicon_accepts(lx, t, strlen(t));
}

static void test_words(void)
{
    t5_lexicon *lx = parse("\xEF\xBB\xBF"
                           "Apple\nbanana\r\n\nit's\ncaf\xC3\xA9\nbanana\n");
    if (!lx)
        return;
    CHECK_EQ_INT(t5_lexicon_size(lx), 4); /* the BOM, the blank line and the repeat are not words */
    CHECK(has(lx, "apple"));
    CHECK(has(lx, "APPLE")); /* ASCII case is folded on both sides */
    CHECK(has(lx, "Banana"));
    CHECK(has(lx, "it's"));
    CHECK(has(lx, "caf\xC3\xA9"));
    CHECK(!has(lx, "cafe"));
    CHECK(!has(lx, "cherry"));
    CHECK(!has(lx, "appl"));
    CHECK(!has(lx, "apples"));
    /* No letter: numbers and punctuation pass; a non-ASCII byte counts as a letter. */
    CHECK(has(lx, "12"));
    CHECK(has(lx, "5.5"));
    CHECK(has(lx, "-"));
    CHECK(!has(lx, "\xC3\xA9"));
    CHECK(accepts(lx, "apple banana"));
    CHECK(accepts(lx, "  apple\t12  Banana "));
    CHECK(accepts(lx, ""));
    CHECK(accepts(lx, "   "));
    CHECK(!accepts(lx, "apple cherry"));
    CHECK(!accepts(lx, "applebanana"));
    t5_lexicon_free(lx);
}

/* Enough words that the table grows well past its first size. */
static void test_many(void)
{
    size_t cap = 50000 * 12;
    char *text = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < 50000; i++)
        n += (size_t)snprintf(text + n, cap - n, "w%dx\n", i * 7);
    t5_lexicon *lx = NULL;
    t5_err err = {0};
    CHECK_MSG(t5_lexicon_parse(&lx, text, n, "many", &err) == 0, "%s", err.msg);
    free(text);
    if (!lx)
        return;
    CHECK_EQ_INT(t5_lexicon_size(lx), 50000);
    int found = 0, wrong = 0;
    for (int i = 0; i < 50000 * 7; i++) {
        char w[32];
        snprintf(w, sizeof w, "W%dX", i);
        int h = has(lx, w);
        found += h;
        wrong += h != (i % 7 == 0);
    }
    CHECK_EQ_INT(found, 50000);
    CHECK_EQ_INT(wrong, 0);
    t5_lexicon_free(lx);
}

static void bad(const char *text, size_t len, const char *want)
{
    t5_lexicon *lx = (t5_lexicon *)1;
    t5_err err = {0};
    int rc = t5_lexicon_parse(&lx, text, len, "bad.txt", &err);
    CHECK(rc < 0);
    CHECK(lx == NULL);
    CHECK_MSG(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want);
    CHECK_MSG(strstr(err.msg, "bad.txt") != NULL, "'%s' does not name the file", err.msg);
}

static void test_bad_files(void)
{
    bad("", 0, "no words");
    bad("\n\r\n\n", 4, "no words");
    bad("apple\ntwo words\n", 16, "line 2");
    bad("apple pie\n", 10, "line 1: not one word");
    bad("apple\tpie\n", 10, "line 1: the frequency after the tab is not a number");
    bad("apple\t\n", 7, "line 1: the frequency");
    bad("ok\napple\t4.5\t3\n", 15, "line 2: the frequency");
    bad("apple\tnan\n", 10, "the frequency");
    bad("apple\tinf\n", 10, "the frequency");
    bad("apple\t 4.5\n", 11, "the frequency");
    bad("apple\t0x10\n", 11, "the frequency");
    bad("apple\t4.5x", 10, "the frequency"); /* no newline at the end: the line ends there */
    bad("apple\t1_0\n", 10, "the frequency");
    bad("\t4.5\n", 5, "line 1: no word before the tab");
    bad("ok\n x\n", 6, "line 2");
    bad("ok\nx\0y\n", 7, "line 2");
    bad("\xff\xfe\n", 3, "not UTF-8");
    char longw[300];
    memset(longw, 'a', 256);
    bad(longw, 256, "longer than 255");
    CHECK(T5_LEXICON_MAX_BYTES >= 1u << 20);
}

static void test_load(void)
{
    t5_lexicon *lx = NULL;
    t5_err err = {0};
    int rc = t5_lexicon_load(&lx, "/nonexistent/lexicon.txt", &err);
    CHECK_EQ_INT(rc, T5_ENOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent/lexicon.txt") != NULL);
    err = (t5_err){0};
    CHECK(t5_lexicon_load(&lx, "/", &err) < 0); /* a directory */
    CHECK(strstr(err.msg, "not a regular file") != NULL);

    char path[] = "/tmp/t5lexXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    const char *words = "receive\nrelieve\n";
    CHECK(write(fd, words, strlen(words)) == (ssize_t)strlen(words));
    close(fd);
    err = (t5_err){0};
    CHECK_MSG(t5_lexicon_load(&lx, path, &err) == 0, "%s", err.msg);
    if (lx) {
        CHECK_EQ_INT(t5_lexicon_size(lx), 2);
        CHECK(has(lx, "receive"));
    }
    t5_lexicon_free(lx);
    unlink(path);
}

static t5_infer_seq seq_n(const char *text, float score, int n_ids)
{
    t5_infer_seq s = {0};
    s.text = (char *)text;
    s.text_len = strlen(text);
    s.score = score;
    s.n_ids = n_ids;
    return s;
}

static t5_infer_seq seq(const char *text, float score)
{
    return seq_n(text, score, 3);
}

static int pick(const t5_lexicon *lx, const t5_infer_seq *seqs, int n, float margin)
{
    t5_lexicon_rule rule = {margin, 0, 1.0f, 0};
    return t5_lexicon_pick(lx, seqs, n, &rule);
}

/* The rule: the first beam the lexicon accepts within the margin, else 0. */
static void test_pick(void)
{
    t5_lexicon *lx = parse("receive\nrelieve\nthe\nfor\n");
    if (!lx)
        return;
    CHECK(!t5_lexicon_has_freqs(lx));
    t5_infer_seq beams[4] = {seq("recieve", -0.1f), seq("receive", -0.5f), seq("relieve", -0.9f),
                             seq("recieves", -1.2f)};
    CHECK_EQ_INT(pick(lx, beams, 4, INFINITY), 1); /* the top beam is not a word */
    CHECK_EQ_INT(pick(lx, beams, 4, 0.5f), 1);
    CHECK_EQ_INT(pick(lx, beams, 4, 0.3f), 0); /* 0.4 below the top: too far */
    CHECK_EQ_INT(pick(lx, beams, 4, 0.0f), 0);
    CHECK_EQ_INT(pick(lx, beams, 1, INFINITY), 0);
    CHECK_EQ_INT(pick(lx, beams + 1, 3, INFINITY), 0); /* the top beam is a word */
    t5_infer_seq none[2] = {seq("recieve", -0.1f), seq("recieves", -0.2f)};
    CHECK_EQ_INT(pick(lx, none, 2, INFINITY), 0); /* no word: the top beam */
    t5_infer_seq phrase[3] = {seq("the recieve", -0.2f), seq("for the 12 relieve", -0.3f),
                              seq("the receive", -0.4f)};
    CHECK_EQ_INT(pick(lx, phrase, 3, INFINITY), 1); /* every word, numbers pass */
    t5_lexicon_free(lx);
}

/* The prior (lexicon.h): score * n_ids^length_penalty + p ln(10) sum (zipf - 9).
 * For "htis" with p = 0.65: "hits" -0.2 * 3 + 1.4967 * (4 - 9) = -8.08,
 * "this" -0.4 * 3 + 1.4967 * (6.5 - 9) = -4.94: the frequent word wins. */
static void test_prior(void)
{
    /* "this" twice: the first line's frequency counts (6.5, not 1) */
    t5_lexicon *lx = parse("this\t6.5\nhits\t4\r\nthis\t1.0\nhis\t6.0e0");
    if (!lx)
        return;
    CHECK(t5_lexicon_has_freqs(lx));
    CHECK_EQ_INT(t5_lexicon_size(lx), 3);
    CHECK(has(lx, "hits"));
    t5_infer_seq b[3] = {seq("htis", -0.1f), seq("hits", -0.2f), seq("this", -0.4f)};
    t5_lexicon_rule r = {INFINITY, 0.65, 1.0f, 0};
    CHECK_EQ_INT(t5_lexicon_pick(lx, b, 3, &r), 2);
    r.input_known = 1; /* an input of known words: the rule without the prior */
    CHECK_EQ_INT(t5_lexicon_pick(lx, b, 3, &r), 1);
    r.input_known = 0;
    r.prior = 0; /* no prior */
    CHECK_EQ_INT(t5_lexicon_pick(lx, b, 3, &r), 1);
    r.prior = 0.1; /* hits -0.6 - 1.15 = -1.75, this -1.2 - 0.58 = -1.78 */
    CHECK_EQ_INT(t5_lexicon_pick(lx, b, 3, &r), 1);
    r.prior = 0.65;
    r.margin = 0.25f; /* "this" is 0.3 below the top */
    CHECK_EQ_INT(t5_lexicon_pick(lx, b, 3, &r), 1);
    r.margin = INFINITY;
    t5_infer_seq nums[3] = {seq_n("12 htis", -0.1f, 4), seq_n("12 hits", -0.2f, 4),
                            seq_n("12 This", -0.4f, 4)}; /* a number adds 0; case folds */
    CHECK_EQ_INT(t5_lexicon_pick(lx, nums, 3, &r), 2);
    t5_infer_seq none[2] = {seq("htis", -0.1f), seq("thsi", -0.2f)};
    CHECK_EQ_INT(t5_lexicon_pick(lx, none, 2, &r), 0); /* no lexicon beam: the top beam */
    /* the generated length undoes the normalization: "this" 30 tokens long
     * is -12 - 3.74 with length_penalty 1, -0.4 - 3.74 with 0 */
    t5_infer_seq len[3] = {seq("htis", -0.1f), seq_n("hits", -0.2f, 3), seq_n("this", -0.4f, 30)};
    CHECK_EQ_INT(t5_lexicon_pick(lx, len, 3, &r), 1);
    r.length_penalty = 0.0f;
    CHECK_EQ_INT(t5_lexicon_pick(lx, len, 3, &r), 2);
    r.length_penalty = 1.0f;
    t5_infer_seq tie[3] = {seq("htis", -0.1f), seq("his this", -0.2f), seq("this his", -0.2f)};
    CHECK_EQ_INT(t5_lexicon_pick(lx, tie, 3, &r), 1); /* equal values: the first */
    t5_lexicon_free(lx);
    /* a frequency on some lines only */
    lx = parse("this\t6.5\nhits\n");
    if (lx)
        CHECK(!t5_lexicon_has_freqs(lx));
    t5_lexicon_free(lx);
}

/* The accept list (lexicon.h): -1 unless every word of the input is in it;
 * then the beam equal to the input, or n when no beam is. */
static void test_accept(void)
{
    t5_lexicon *acc = parse("scutage\nthe\nhotels\nparis\n");
    if (!acc)
        return;
    t5_infer_seq b[3] = {seq("cutage", -0.1f), seq("scutage", -0.4f), seq("stage", -0.9f)};
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "scutage", 7, b, 3), 1);
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "scutage", 7, b, 1), 1);   /* not a beam: n */
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "scutagee", 8, b, 3), -1); /* not in the list */
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "scutag", 6, b, 3), -1);   /* a prefix is not */
    CHECK_EQ_INT(t5_lexicon_accept_at(NULL, "scutage", 7, b, 3), -1); /* no list */
    t5_infer_seq p[2] = {seq("paris hotel", -0.2f), seq("paris hotels", -0.3f)};
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "paris hotels", 12, p, 2), 1);
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "Paris 2 hotels", 14, p, 2), 2); /* case, a number */
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "paris hotls", 11, p, 2), -1);   /* one word is not */
    CHECK_EQ_INT(t5_lexicon_accept_at(acc, "", 0, p, 2), 2); /* nothing for the model to see */
    t5_lexicon_free(acc);
}

static int cfg_parse(const char *params, t5_mcfg *c, t5_err *err)
{
    char text[1024];
    snprintf(text, sizeof text, "name: \"m\"\nmax_batch_size: 4\n%s", params);
    return t5_mcfg_parse(text, strlen(text), "m", c, err);
}

static void test_config(void)
{
    t5_mcfg c;
    t5_err err = {0};
    CHECK_MSG(cfg_parse("", &c, &err) == 0, "%s", err.msg);
    CHECK(c.lexicon[0] == '\0');
    CHECK(isinf(c.lexicon_margin));
    CHECK_MSG(cfg_parse("parameters { key: \"lexicon\" value: { string_value: \"lexicon.txt\" } }\n"
                        "parameters { key: \"lexicon_margin\" value: { string_value: \"0.5\" } }\n",
                        &c, &err) == 0,
              "%s", err.msg);
    CHECK(!strcmp(c.lexicon, "lexicon.txt"));
    CHECK_NEAR(c.lexicon_margin, 0.5, 1e-7);
    CHECK_MSG(cfg_parse("parameters { key: \"lexicon_margin\" value: { string_value: \"inf\" } }\n",
                        &c, &err) == 0,
              "%s", err.msg);
    CHECK(isinf(c.lexicon_margin));
    const char *bad[] = {"../words.txt", "/etc/passwd", "a/b.txt", "..", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char p[256];
        snprintf(p, sizeof p, "parameters { key: \"lexicon\" value: { string_value: \"%s\" } }\n",
                 bad[i]);
        err = (t5_err){0};
        CHECK_MSG(cfg_parse(p, &c, &err) < 0, "lexicon '%s' was accepted", bad[i]);
        CHECK(strstr(err.msg, "parameter lexicon") != NULL);
    }
    err = (t5_err){0};
    CHECK(cfg_parse("parameters { key: \"lexicon_margin\" value: { string_value: \"-1\" } }\n", &c,
                    &err) < 0);
    CHECK(strstr(err.msg, "lexicon_margin") != NULL);
    CHECK(c.lexicon_prior == 0);
    CHECK_MSG(cfg_parse("parameters { key: \"lexicon_prior\" value: { string_value: \"0.65\" } }\n",
                        &c, &err) == 0,
              "%s", err.msg);
    CHECK(c.lexicon_prior == 0.65); /* read as a double, as rerank.py's 1 - 0.35 */
    const char *badp[] = {"-1", "101", "x", "nan"};
    for (size_t i = 0; i < sizeof badp / sizeof *badp; i++) {
        char p[256];
        snprintf(p, sizeof p,
                 "parameters { key: \"lexicon_prior\" value: { string_value: \"%s\" } }\n",
                 badp[i]);
        err = (t5_err){0};
        CHECK_MSG(cfg_parse(p, &c, &err) < 0, "lexicon_prior '%s' was accepted", badp[i]);
        CHECK(strstr(err.msg, "lexicon_prior") != NULL);
    }
    CHECK(c.accept_words[0] == '\0');
    CHECK_MSG(cfg_parse("parameters { key: \"accept_words\" value: { string_value: \"a.txt\" } }\n",
                        &c, &err) == 0,
              "%s", err.msg);
    CHECK(!strcmp(c.accept_words, "a.txt"));
    err = (t5_err){0};
    CHECK(cfg_parse("parameters { key: \"accept_words\" value: { string_value: \"../a.txt\" } }\n",
                    &c, &err) < 0);
    CHECK(strstr(err.msg, "parameter accept_words") != NULL);
}

int main(void)
{
    RUN(test_words);
    RUN(test_many);
    RUN(test_bad_files);
    RUN(test_load);
    RUN(test_pick);
    RUN(test_prior);
    RUN(test_accept);
    RUN(test_config);
    return check_summary();
}
