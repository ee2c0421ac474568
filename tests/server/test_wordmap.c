/* test_wordmap.c - the speller's word map (src/server/wordmap.h): the rule
 * as the header states it, case by case; and, with --lines, a filter that
 * tests/py/test_wordmap_parity.py drives to compare the C rule with
 * tools/speller/rerank.py's on random texts (each stdin line "input\x01gen"
 * becomes "model_text\x01output": the inputs hold tabs; a second argument
 * names a keep_words file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/wordmap.h"

/* The shipped speller's parameters (keep: a keep_words lexicon or NULL). */
static t5_wordmap speller_keep(const t5_lexicon *keep)
{
    t5_wordmap m;
    t5_err err = {0};
    if (t5_wordmap_init(&m, 1, "abcdefghijklmnopqrstuvwxyz'", keep, &err) < 0)
        abort();
    return m;
}

static t5_wordmap speller(void)
{
    return speller_keep(NULL);
}

static int model_is(const t5_wordmap *m, const char *in, const char *want)
{
    char buf[512];
    size_t n = t5_wordmap_model_text(m, in, strlen(in), buf);
    int ok = n == strlen(want) && !strcmp(buf, want);
    if (!ok)
        fprintf(stderr, "model text of '%s': '%s', want '%s'\n", in, buf, want);
    return ok;
}

static int output_is(const t5_wordmap *m, const char *in, const char *gen, const char *want)
{
    char *o = NULL;
    size_t n = 0;
    t5_err err = {0};
    if (t5_wordmap_output(m, in, strlen(in), gen, strlen(gen), &o, &n, &err) < 0)
        return 0;
    int ok = n == strlen(want) && !strcmp(o, want);
    if (!ok)
        fprintf(stderr, "output of '%s' / '%s': '%s', want '%s'\n", in, gen, o, want);
    free(o);
    return ok;
}

static void test_model_text(void)
{
    t5_wordmap m = speller();
    CHECK(model_is(&m, "Wirless Hedphones", "wirless hedphones"));
    CHECK(model_is(&m, "iPhone 14 Pro cse", "iphone pro cse"));
    CHECK(model_is(&m, "  usb-c\tcable \n", "cable"));
    CHECK(model_is(&m, "men's 3.5mm", "men's"));
    CHECK(model_is(&m, "caf\xc3\xa9 latte", "latte")); /* a byte >= 0x80 is not a word char */
    CHECK(model_is(&m, "123 456", ""));
    CHECK(model_is(&m, "", ""));
    t5_wordmap off;
    t5_err err = {0};
    CHECK(t5_wordmap_init(&off, 0, NULL, NULL, &err) == 0 && !t5_wordmap_active(&off));
    CHECK(model_is(&off, "  Keep  ME 12 ", "  Keep  ME 12 ")); /* untouched */
    t5_wordmap low;
    CHECK(t5_wordmap_init(&low, 1, "", NULL, &err) == 0 && t5_wordmap_active(&low));
    CHECK(model_is(&low, "Keep  ME 12", "keep me 12")); /* no kept words */
}

static void test_case_back(void)
{
    t5_wordmap m = speller();
    /* one output word per input word: each gets its input word's form */
    CHECK(output_is(&m, "Wirless Hedphones", "wireless headphones", "Wireless Headphones"));
    CHECK(output_is(&m, "WIRLESS mouse", "wireless mouse", "WIRELESS mouse"));
    CHECK(output_is(&m, "iPhone cse", "iphone case", "iPhone case")); /* unchanged: as typed */
    CHECK(output_is(&m, "iPhon cse", "iphone case", "iphone case"));  /* changed: lower */
    CHECK(output_is(&m, "I lik it", "i like it", "I like it"));
    CHECK(output_is(&m, "A wird", "a word", "A word")); /* one letter is not "upper case" */
    /* the model split or joined words */
    CHECK(output_is(&m, "WIRELESSMOUSE PAD", "wireless mouse pad", "WIRELESS MOUSE PAD"));
    CHECK(output_is(&m, "Wirelessmouse pad", "wireless mouse pad", "Wireless mouse pad"));
    CHECK(output_is(&m, "wireless Mouse pad", "wirelessmouse pad", "wirelessmouse pad"));
    CHECK(output_is(&m, "Wireless Mouse Pad", "wirelessmouse pad", "Wirelessmouse Pad"));
    CHECK(output_is(&m, "Wireless Head Phones", "wireless headphones", "Wireless Headphones"));
}

static void test_kept_words(void)
{
    t5_wordmap m = speller();
    CHECK(output_is(&m, "iPhone 14 Pro cse", "iphone pro case", "iPhone 14 Pro case"));
    CHECK(output_is(&m, "2 pack coffe filters", "pack coffee filters", "2 pack coffee filters"));
    CHECK(output_is(&m, "nike airmax 90", "nike airmax", "nike airmax 90"));
    CHECK(output_is(&m, "usb-c 3.5mm cable", "cable", "usb-c 3.5mm cable")); /* order kept */
    CHECK(output_is(&m, "123", "anything", "123"));                          /* nothing shown */
    CHECK(output_is(&m, "", "anything", ""));
    /* k = 1 of N = 2 shown words, M = 3 generated: after round(1 * 3 / 2) = 2 */
    CHECK(output_is(&m, "wirelessheadphones 2 pack", "wireless headphones pack",
                    "wireless headphones 2 pack"));
    /* k = 1 of N = 3, M = 2: after round(2 / 3) = 1 */
    CHECK(output_is(&m, "blue 4k smart tv", "blue smarttv", "blue 4k smarttv"));
    /* single spaces out */
    CHECK(output_is(&m, "  a   b  ", " a  b ", "a b"));
}

static void test_keep_words(void)
{
    t5_lexicon *keep = NULL;
    t5_err err = {0};
    const char *list = "airpods\nGarmin\n";
    CHECK(t5_lexicon_parse(&keep, list, strlen(list), "keep", &err) == 0);
    t5_wordmap m;
    CHECK(t5_wordmap_init(&m, 1, "abcdefghijklmnopqrstuvwxyz'", keep, &err) == 0);
    CHECK(model_is(&m, "AirPods pro cse", "pro cse"));
    CHECK(model_is(&m, "garmin forerunner 245", "forerunner"));
    CHECK(output_is(&m, "AirPods Pro cse", "pro case", "AirPods Pro case"));
    CHECK(output_is(&m, "garmin forerunnr 245", "forerunner", "garmin forerunner 245"));
    t5_wordmap only;
    CHECK(t5_wordmap_init(&only, 0, NULL, keep, &err) == 0 && t5_wordmap_active(&only));
    CHECK(model_is(&only, "Garmin Watch", "Watch")); /* a listed word alone is kept */
    t5_lexicon_free(keep);
}

static void test_bad_chars(void)
{
    t5_wordmap m;
    t5_err err = {0};
    CHECK(t5_wordmap_init(&m, 0, "ab c", NULL, &err) < 0 && strstr(err.msg, "white space"));
    char big[200];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    err.msg[0] = 0;
    CHECK(t5_wordmap_init(&m, 0, big, NULL, &err) < 0 && strstr(err.msg, "longer"));
}

static int lines(const char *keep_path)
{
    t5_lexicon *keep = NULL;
    t5_err kerr = {0};
    if (keep_path && t5_lexicon_load(&keep, keep_path, &kerr) < 0)
        return 5;
    t5_wordmap m = speller_keep(keep);
    static char line[1 << 16];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\n");
        line[n] = 0;
        char *sep = strchr(line, '\x01');
        if (!sep)
            return 2;
        *sep = 0;
        const char *in = line, *gen = sep + 1;
        char *mt = malloc(strlen(in) + 1), *o = NULL;
        size_t on = 0;
        t5_err err = {0};
        if (!mt)
            return 3;
        t5_wordmap_model_text(&m, in, strlen(in), mt);
        if (t5_wordmap_output(&m, in, strlen(in), gen, strlen(gen), &o, &on, &err) < 0)
            return 4;
        printf("%s\x01%s\n", mt, o);
        free(mt);
        free(o);
    }
    t5_lexicon_free(keep);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--lines")) /* [KEEP_WORDS_FILE] */
        return lines(argc > 2 ? argv[2] : NULL);
    RUN(test_model_text);
    RUN(test_case_back);
    RUN(test_kept_words);
    RUN(test_keep_words);
    RUN(test_bad_chars);
    return check_summary();
}
