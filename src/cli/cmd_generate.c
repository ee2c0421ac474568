/* cmd_generate.c - `t5serve generate` and `t5serve logits` (DESIGN.md).
 *
 *   t5serve generate --model DIR (--text STR | --input-ids 3,14,15) [--json] ...
 *   t5serve logits --model DIR --input-ids 3,14,1 --decoder-input-ids 0,5,6
 *
 * Both load the model, size an engine for exactly this one request, and run
 * it through the same engine API the server uses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "cli/cmds.h"
#include "server/lexicon.h"
#include "server/wordmap.h"
#include "t5_engine.h"

typedef struct cli_opts {
    const char *model, *text, *ids, *dec_ids, *lexicon, *word_chars, *keep_words, *accept_words;
    int lowercase_input;
    t5_device device;
    t5_dtype dtype;
    int json, threads;
    float lexicon_margin;
    double lexicon_prior;
    t5_gen_params gp;
} cli_opts;

static void usage_generate(FILE *f)
{
    fprintf(f, "usage: t5serve generate --model DIR (--text STR | --input-ids 3,14,15)\n"
               "         [--device cpu|cuda] [--dtype fp32|fp16|bf16] [--threads N]\n"
               "         [--max-new-tokens N] [--min-new-tokens N] [--num-beams K]\n"
               "         [--num-return-sequences K] [--length-penalty F]\n"
               "         [--early-stopping true|false|never]\n"
               "         [--do-sample --temperature F --top-k K --top-p F --seed S] [--json]\n"
               "         [--lexicon FILE [--lexicon-margin F] [--lexicon-prior P]\n"
               "          [--accept-words FILE]]\n"
               "         [--lowercase-input true|false] [--word-chars CHARS] [--keep-words FILE]\n"
               "\n"
               "Prints one line per returned sequence: the text (or the ids without a\n"
               "tokenizer), or with --json {\"ids\":[...],\"score\":F,\"text\":\"...\"}.\n"
               "With --lexicon (one word per line, as a model's \"lexicon\" parameter in\n"
               "config.pbtxt) the best returned sequence whose words are all in it comes\n"
               "first, the way the server returns them (src/server/lexicon.h); --lexicon-prior\n"
               "is the parameter lexicon_prior (a FILE with a frequency on every line);\n"
               "with --accept-words (the parameter accept_words) a --text whose words are\n"
               "all in FILE is printed first, unchanged (score 0 when no beam equals it).\n"
               "--lowercase-input, --word-chars and --keep-words are the config.pbtxt\n"
               "parameters of the same names: the model sees --text lower-cased and without\n"
               "the words that hold other bytes or that FILE lists, which come back in the\n"
               "printed texts with the input's case (src/server/wordmap.h).\n"
               "ids exclude the decoder start token and include EOS when generated; score\n"
               "is Hugging Face's sequences_score for beam search and the mean log-prob\n"
               "per generated token for greedy search and sampling.\n");
}

static void usage_logits(FILE *f)
{
    fprintf(f, "usage: t5serve logits --model DIR --input-ids 3,14,1 --decoder-input-ids 0,5,6\n"
               "         [--device cpu|cuda] [--dtype fp32|fp16|bf16] [--threads N]\n"
               "\nPrints {\"logits\":[...]} for the last decoder position.\n");
}

static int parse_int(const char *s, const char *flag, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "t5serve: %s wants an integer in %ld..%ld, got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_float(const char *s, const char *flag, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s) {
        fprintf(stderr, "t5serve: %s wants a number, got '%s'\n", flag, s);
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* "3,14,15" (spaces allowed) -> malloc'd ids; returns the count or -1. */
static int parse_ids(const char *s, const char *flag, int32_t **out)
{
    size_t cap = strlen(s) / 2 + 2;
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    int n = 0;
    const char *p = s;
    while (ids) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "t5serve: %s wants comma-separated token ids, got '%s'\n", flag, s);
            free(ids);
            return -1;
        }
        ids[n++] = (int32_t)v;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (*p != ',' || (size_t)n >= cap) {
            fprintf(stderr, "t5serve: %s wants comma-separated token ids, got '%s'\n", flag, s);
            free(ids);
            return -1;
        }
        p++;
    }
    if (!ids)
        return -1;
    *out = ids;
    return n;
}

/* Returns 0, or the exit status (2: usage, 0 after --help printed as 3). */
static int parse_opts(int argc, char **argv, cli_opts *o, int logits_cmd)
{
    memset(o, 0, sizeof *o);
    o->lexicon_margin = INFINITY;
    o->device = T5_DEVICE_CPU;
    o->dtype = T5_F32;
    o->gp = t5_gen_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            logits_cmd ? usage_logits(stdout) : usage_generate(stdout);
            return 3;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--do-sample")) {
            o->gp.do_sample = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "t5serve: %s needs a value (or is unknown)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--text") && !logits_cmd)
            o->text = v;
        else if (!strcmp(a, "--input-ids"))
            o->ids = v;
        else if (!strcmp(a, "--decoder-input-ids") && logits_cmd)
            o->dec_ids = v;
        else if (!strcmp(a, "--device")) {
            if (t5_device_parse(v, &o->device) < 0) {
                fprintf(stderr, "t5serve: --device is cpu or cuda, got '%s'\n", v);
                bad = 1;
            }
        } else if (!strcmp(a, "--dtype")) {
            if (t5_dtype_parse(v, &o->dtype) < 0) {
                fprintf(stderr, "t5serve: --dtype is fp32, fp16 or bf16, got '%s'\n", v);
                bad = 1;
            }
        } else if (!strcmp(a, "--threads"))
            bad = parse_int(v, a, 0, 4096, &o->threads) < 0;
        else if (!strcmp(a, "--max-new-tokens") && !logits_cmd)
            bad = parse_int(v, a, 1, 1 << 20, &o->gp.max_new_tokens) < 0;
        else if (!strcmp(a, "--min-new-tokens") && !logits_cmd)
            bad = parse_int(v, a, 0, 1 << 20, &o->gp.min_new_tokens) < 0;
        else if (!strcmp(a, "--num-beams") && !logits_cmd)
            bad = parse_int(v, a, 1, 1024, &o->gp.num_beams) < 0;
        else if (!strcmp(a, "--num-return-sequences") && !logits_cmd)
            bad = parse_int(v, a, 1, 1024, &o->gp.num_return_sequences) < 0;
        else if (!strcmp(a, "--lexicon") && !logits_cmd)
            o->lexicon = v;
        else if (!strcmp(a, "--word-chars") && !logits_cmd)
            o->word_chars = v;
        else if (!strcmp(a, "--keep-words") && !logits_cmd)
            o->keep_words = v;
        else if (!strcmp(a, "--accept-words") && !logits_cmd)
            o->accept_words = v;
        else if (!strcmp(a, "--lowercase-input") && !logits_cmd) {
            if (!strcmp(v, "true") || !strcmp(v, "1"))
                o->lowercase_input = 1;
            else if (!strcmp(v, "false") || !strcmp(v, "0"))
                o->lowercase_input = 0;
            else {
                fprintf(stderr, "t5serve: --lowercase-input is true or false, got '%s'\n", v);
                bad = 1;
            }
        } else if (!strcmp(a, "--lexicon-margin") && !logits_cmd)
            bad = parse_float(v, a, &o->lexicon_margin) < 0 || !(o->lexicon_margin >= 0.0f);
        else if (!strcmp(a, "--lexicon-prior") && !logits_cmd) {
            float p = 0;
            bad = parse_float(v, a, &p) < 0 || !(p >= 0.0f && p <= 100.0f);
            o->lexicon_prior = strtod(v, NULL); /* as the server reads it, in double */
        } else if (!strcmp(a, "--length-penalty") && !logits_cmd)
            bad = parse_float(v, a, &o->gp.length_penalty) < 0;
        else if (!strcmp(a, "--early-stopping") && !logits_cmd) {
            if (!strcmp(v, "true") || !strcmp(v, "1"))
                o->gp.early_stopping = 1;
            else if (!strcmp(v, "false") || !strcmp(v, "0"))
                o->gp.early_stopping = 0;
            else if (!strcmp(v, "never"))
                o->gp.early_stopping = -1;
            else {
                fprintf(stderr, "t5serve: --early-stopping is true, false or never\n");
                bad = 1;
            }
        } else if (!strcmp(a, "--temperature") && !logits_cmd)
            bad = parse_float(v, a, &o->gp.temperature) < 0;
        else if (!strcmp(a, "--top-k") && !logits_cmd)
            bad = parse_int(v, a, 0, 1 << 30, &o->gp.top_k) < 0;
        else if (!strcmp(a, "--top-p") && !logits_cmd)
            bad = parse_float(v, a, &o->gp.top_p) < 0;
        else if (!strcmp(a, "--seed") && !logits_cmd) {
            char *end;
            errno = 0;
            o->gp.seed = strtoull(v, &end, 10);
            bad = errno || *end || end == v;
            if (bad)
                fprintf(stderr, "t5serve: --seed wants an unsigned integer\n");
        } else {
            fprintf(stderr, "t5serve: unknown option %s\n", a);
            bad = 1;
        }
        if (bad)
            return 2;
    }
    if (!o->model) {
        fprintf(stderr, "t5serve: --model DIR is required\n");
        return 2;
    }
    if (logits_cmd ? (!o->ids || !o->dec_ids) : (!o->ids == !o->text)) {
        logits_cmd ? usage_logits(stderr) : usage_generate(stderr);
        return 2;
    }
    return 0;
}

static int load(const cli_opts *o, t5_model **m, const char *cmd)
{
    t5_model_params mp = t5_model_default_params();
    mp.device = o->device;
    mp.dtype = o->dtype;
    t5_err err = {0};
    if (t5_model_load(m, o->model, &mp, &err) < 0) {
        fprintf(stderr, "t5serve %s: %s: %s\n", cmd, t5_strerror(err.code), err.msg);
        return 1;
    }
    return 0;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Decodes ids to a malloc'd string, or NULL without a tokenizer. */
static char *decode(const t5_tokenizer *tok, const int32_t *ids, int n)
{
    if (!tok)
        return NULL;
    size_t cap = 64 + (size_t)n * 16;
    for (int tries = 0; tries < 2; tries++) {
        char *s = malloc(cap);
        if (!s)
            return NULL;
        t5_err err = {0};
        int len = t5_tokenizer_decode(tok, ids, n, s, cap, T5_TOK_SKIP_SPECIAL, &err);
        if (len >= 0 && (size_t)len < cap)
            return s;
        free(s);
        if (len < 0)
            return NULL;
        cap = (size_t)len + 1;
    }
    return NULL;
}

/* One printed sequence: its text, or its ids without one; with --json both and
 * the score. */
static void print_seq(int json, const int32_t *ids, int n_ids, float score, const char *text)
{
    if (json) {
        printf("{\"ids\":[");
        for (int i = 0; i < n_ids; i++)
            printf(i ? ",%d" : "%d", ids[i]);
        printf("],\"score\":%.9g", score);
        if (text) {
            printf(",\"text\":");
            json_string(stdout, text);
        }
        printf("}\n");
    } else if (text) {
        printf("%s\n", text);
    } else {
        for (int i = 0; i < n_ids; i++)
            printf(i ? ",%d" : "%d", ids[i]);
        printf("\n");
    }
}

int t5_cmd_generate(int argc, char **argv)
{
    cli_opts o;
    int rc = parse_opts(argc, argv, &o, 0);
    if (rc)
        return rc == 3 ? 0 : rc;
    t5_lexicon *lx = NULL, *keep = NULL, *acc = NULL;
    t5_err lerr = {0};
    t5_wordmap wm;
    if ((o.lexicon && t5_lexicon_load(&lx, o.lexicon, &lerr) < 0) ||
        (o.keep_words && t5_lexicon_load(&keep, o.keep_words, &lerr) < 0) ||
        (o.accept_words && t5_lexicon_load(&acc, o.accept_words, &lerr) < 0)) {
        fprintf(stderr, "t5serve generate: %s\n", lerr.msg);
        t5_lexicon_free(lx);
        t5_lexicon_free(keep);
        t5_lexicon_free(acc);
        return 1;
    }
    if (acc && !lx) {
        fprintf(stderr, "t5serve generate: --accept-words belongs to the lexicon reranking: it "
                        "needs --lexicon\n");
        t5_lexicon_free(keep);
        t5_lexicon_free(acc);
        return 2;
    }
    if (o.lexicon_prior > 0 && (!lx || !t5_lexicon_has_freqs(lx))) {
        fprintf(stderr, "t5serve generate: --lexicon-prior needs a --lexicon with a frequency on "
                        "every line (word, a tab, its Zipf value)\n");
        t5_lexicon_free(lx);
        t5_lexicon_free(keep);
        t5_lexicon_free(acc);
        return 2;
    }
    if (t5_wordmap_init(&wm, o.lowercase_input, o.word_chars, keep, &lerr) < 0) {
        fprintf(stderr, "t5serve generate: --word-chars: %s\n", lerr.msg);
        t5_lexicon_free(lx);
        t5_lexicon_free(keep);
        t5_lexicon_free(acc);
        return 2;
    }
    char *mtext = NULL; /* what the model sees of --text */
    size_t mtext_len = 0;
    t5_model *m = NULL;
    if (load(&o, &m, "generate")) {
        t5_lexicon_free(lx);
        t5_lexicon_free(keep);
        t5_lexicon_free(acc);
        return 1;
    }
    const t5_tokenizer *tok = t5_model_tokenizer(m);
    int32_t *ids = NULL;
    int n = 0, status = 1;
    t5_engine *e = NULL;
    t5_err err = {0};
    if (o.ids) {
        if ((n = parse_ids(o.ids, "--input-ids", &ids)) < 0) {
            status = 2;
            goto out;
        }
    } else {
        if (!tok) {
            fprintf(stderr,
                    "t5serve generate: %s has no tokenizer (spiece.model or "
                    "tokenizer.json); pass --input-ids instead of --text\n",
                    o.model);
            goto out;
        }
        size_t tl = strlen(o.text);
        if (!(mtext = malloc(tl + 1)))
            goto out;
        tl = mtext_len = t5_wordmap_model_text(&wm, o.text, tl, mtext);
        int cap = 64;
        for (;;) {
            ids = malloc(sizeof(int32_t) * cap);
            if (!ids)
                goto out;
            n = t5_tokenizer_encode(tok, mtext, tl, ids, cap, T5_TOK_ADD_EOS, &err);
            if (n < 0) {
                fprintf(stderr, "t5serve generate: --text: %s\n", err.msg);
                goto out;
            }
            if (n <= cap)
                break;
            free(ids);
            cap = n;
        }
    }
    if (n < 1) {
        fprintf(stderr, "t5serve generate: the input has no tokens\n");
        goto out;
    }
    t5_engine_params ep = t5_engine_default_params();
    int need = t5_gen_slots_needed(&o.gp);
    ep.max_batch = ep.max_slots = need > 0 ? need : 1;
    ep.max_input_len = n;
    ep.max_output_len = o.gp.max_new_tokens + 1;
    ep.n_threads = o.threads;
    if (t5_gen_params_check(&o.gp, &ep, &err) < 0) {
        fprintf(stderr, "t5serve generate: %s\n", err.msg);
        status = 2;
        goto out;
    }
    if (t5_engine_create(&e, m, &ep, &err) < 0) {
        fprintf(stderr, "t5serve generate: %s: %s\n", t5_strerror(err.code), err.msg);
        goto out;
    }
    const int32_t *in[1] = {ids};
    int32_t lens[1] = {n};
    t5_gen_result res = {0};
    if (t5_generate(e, 1, in, lens, &o.gp, 0, &res, &err) < 0) {
        fprintf(stderr, "t5serve generate: %s: %s\n", t5_strerror(err.code), err.msg);
        goto out;
    }
    /* texts first: with a lexicon, the sequence it picks is printed first */
    char **texts = calloc(res.n_seqs > 0 ? (size_t)res.n_seqs : 1, sizeof *texts);
    t5_infer_seq *cand = calloc(res.n_seqs > 0 ? (size_t)res.n_seqs : 1, sizeof *cand);
    if (!texts || !cand) {
        fprintf(stderr, "t5serve generate: out of memory\n");
        free(texts);
        free(cand);
        t5_gen_result_clear(&res);
        goto out;
    }
    int first = 0;
    for (int s = 0; s < res.n_seqs; s++) {
        texts[s] = decode(tok, res.seqs[s].ids, res.seqs[s].n_ids);
        cand[s].text = texts[s] ? texts[s] : (char *)"";
        cand[s].text_len = strlen(cand[s].text);
        cand[s].score = res.seqs[s].score;
        cand[s].n_ids = res.seqs[s].n_ids;
    }
    int as_is = 0; /* the accept list takes --text, and no beam equals it */
    if (lx && res.n_seqs > 1) {
        int a = mtext ? t5_lexicon_accept_at(acc, mtext, mtext_len, cand, res.n_seqs) : -1;
        as_is = a == res.n_seqs;
        if (a >= 0) {
            first = as_is ? 0 : a;
        } else {
            t5_lexicon_rule rule = {o.lexicon_margin, o.lexicon_prior, o.gp.length_penalty, 1};
            if (rule.prior > 0 && mtext)
                rule.input_known = t5_lexicon_accepts(lx, mtext, mtext_len);
            first = t5_lexicon_pick(lx, cand, res.n_seqs, &rule);
        }
    }
    char *in_text = NULL; /* --text as the first line when as_is */
    if (as_is && t5_wordmap_active(&wm) &&
        t5_wordmap_output(&wm, o.text, strlen(o.text), mtext, mtext_len, &in_text, &(size_t){0},
                          &err) < 0)
        in_text = NULL;
    for (int s = 0; s < res.n_seqs && mtext && t5_wordmap_active(&wm); s++) {
        char *t = NULL;
        size_t tl = 0;
        if (texts[s] && t5_wordmap_output(&wm, o.text, strlen(o.text), texts[s], strlen(texts[s]),
                                          &t, &tl, &err) == 0) {
            free(texts[s]);
            texts[s] = t;
        }
    }
    if (as_is)
        print_seq(o.json, ids, n, 0.0f, in_text ? in_text : mtext);
    for (int k = 0; k < res.n_seqs - as_is; k++) {
        int s = k == 0 ? first : k <= first ? k - 1 : k;
        print_seq(o.json, res.seqs[s].ids, res.seqs[s].n_ids, res.seqs[s].score, texts[s]);
    }
    free(in_text);
    for (int s = 0; s < res.n_seqs; s++)
        free(texts[s]);
    free(texts);
    free(cand);
    t5_gen_result_clear(&res);
    status = 0;
out:
    free(mtext);
    free(ids);
    t5_engine_free(e);
    t5_model_free(m);
    t5_lexicon_free(lx);
    t5_lexicon_free(keep);
    t5_lexicon_free(acc);
    return status;
}

int t5_cmd_logits(int argc, char **argv)
{
    cli_opts o;
    int rc = parse_opts(argc, argv, &o, 1);
    if (rc)
        return rc == 3 ? 0 : rc;
    int32_t *ids = NULL, *dec = NULL;
    int n = parse_ids(o.ids, "--input-ids", &ids);
    int T = n < 0 ? -1 : parse_ids(o.dec_ids, "--decoder-input-ids", &dec);
    if (n < 1 || T < 1) {
        free(ids);
        free(dec);
        return 2;
    }
    t5_model *m = NULL;
    if (load(&o, &m, "logits")) {
        free(ids);
        free(dec);
        return 1;
    }
    int status = 1, V = t5_model_config(m)->vocab_size;
    t5_engine *e = NULL;
    t5_err err = {0};
    float *logits = malloc(sizeof(float) * V);
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = ep.max_slots = 1;
    ep.max_input_len = n;
    ep.max_output_len = T > 1 ? T : 2;
    ep.n_threads = o.threads;
    if (!logits || t5_engine_create(&e, m, &ep, &err) < 0)
        goto fail;
    const int32_t *in[1] = {ids};
    int32_t lens[1] = {n}, slot = 0;
    if (t5_engine_encode(e, 1, &slot, in, lens, NULL, &err) < 0)
        goto fail;
    float lp[1];
    int32_t lid[1];
    for (int t = 0; t < T; t++) {
        t5_step_row row = {0, 0, t, dec[t], t == T - 1 ? T5_ROW_LOGITS : 0};
        t5_step_out out = {1, lp, lid, logits};
        if (t5_engine_step(e, 1, &row, &out, &err) < 0)
            goto fail;
    }
    printf("{\"logits\":[");
    for (int v = 0; v < V; v++)
        printf(v ? ",%.9g" : "%.9g", logits[v]);
    printf("]}\n");
    status = 0;
    goto out;
fail:
    fprintf(stderr, "t5serve logits: %s: %s\n", t5_strerror(err.code ? err.code : T5_ENOMEM),
            err.msg);
out:
    free(logits);
    free(ids);
    free(dec);
    t5_engine_free(e);
    t5_model_free(m);
    return status;
}
