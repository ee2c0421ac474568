/* cmd_tokenize.c - `t5serve tokenize`: encode or decode lines on stdin.
 *
 *   t5serve tokenize --tokenizer FILE [--decode] [--no-eos] [--keep-special]
 *
 * Encoding writes one line of space-separated ids per input line, ending
 * with </s> as `tokenizer(text)["input_ids"]` does (the tokenizer.json
 * post-processor; appended for spiece.model and ByT5); --no-eos leaves it
 * out. Decoding reads ids (separated by spaces or commas) and writes the
 * text, skipping special tokens as `decode(ids, skip_special_tokens=True)`
 * does unless --keep-special. A line that fails (invalid UTF-8, an unknown
 * id) prints an empty line and a message on stderr, and the exit status is 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cmds.h"
#include "t5_tokenizer.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: t5serve tokenize --tokenizer FILE [--decode] [--no-eos] [--keep-special]\n"
               "\n"
               "Reads lines on stdin. Encoding prints the ids of each line, space-separated,\n"
               "ending with </s> as tokenizer(text)[\"input_ids\"] does. --decode reads lines of\n"
               "ids (spaces or commas) and prints the text.\n"
               "\n"
               "  --tokenizer FILE  spiece.model, tokenizer.json, a model directory, or \"byt5\"\n"
               "  --decode          ids -> text instead of text -> ids\n"
               "  --no-eos          encode without the trailing </s>\n"
               "  --keep-special    decode special tokens (</s>, <pad>, <extra_id_N>) as text\n");
}

/* Parses one line of ids and decodes it into *text; returns the text length. */
static int decode_line(const t5_tokenizer *tok, char *line, int32_t **ids, size_t *cap, char **text,
                       size_t *tcap, int flags, t5_err *err)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '[' || *p == ']' || *p == '\r')
            p++;
        if (!*p)
            break;
        char *e;
        errno = 0;
        long v = strtol(p, &e, 10);
        if (e == p || errno || v < INT32_MIN || v > INT32_MAX)
            return t5_errf(err, T5_EINVAL, "not an id: \"%.20s\"", p);
        if (n == *cap) {
            *cap = *cap ? *cap * 2 : 256;
            int32_t *ni = realloc(*ids, *cap * sizeof *ni);
            if (!ni)
                return t5_errf(err, T5_ENOMEM, "out of memory");
            *ids = ni;
        }
        (*ids)[n++] = (int32_t)v;
        p = e;
    }
    if (n > (size_t)INT32_MAX)
        return t5_errf(err, T5_ELIMIT, "too many ids");
    for (;;) {
        int len = t5_tokenizer_decode(tok, *ids, (int)n, *text, *tcap, flags, err);
        if (len < 0)
            return len;
        if ((size_t)len < *tcap)
            return len;
        *tcap = (size_t)len + 1;
        char *nt = realloc(*text, *tcap);
        if (!nt)
            return t5_errf(err, T5_ENOMEM, "out of memory");
        *text = nt;
    }
}

int t5_cmd_tokenize(int argc, char **argv)
{
    const char *path = NULL;
    int decode = 0, eos = 1, skip = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--decode"))
            decode = 1;
        else if (!strcmp(argv[i], "--no-eos"))
            eos = 0;
        else if (!strcmp(argv[i], "--keep-special"))
            skip = 0;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "t5serve tokenize: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    t5_tokenizer *tok = NULL;
    t5_err err = {0};
    struct stat st;
    int rc;
    if (!strcmp(path, "byt5"))
        rc = t5_tokenizer_byt5(&tok, 125, &err);
    else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        rc = t5_tokenizer_load_dir(&tok, path, &err);
    else
        rc = t5_tokenizer_load(&tok, path, &err);
    if (rc < 0) {
        fprintf(stderr, "t5serve tokenize: %s: %s\n", t5_strerror(rc), err.msg);
        return 1;
    }
    char *line = NULL, *text = NULL;
    size_t lcap = 0, tcap = 0, icap = 0;
    int32_t *ids = NULL;
    ssize_t len;
    long lineno = 0;
    int status = 0;
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        if (decode) {
            rc = decode_line(tok, line, &ids, &icap, &text, &tcap, skip ? T5_TOK_SKIP_SPECIAL : 0,
                             &err);
            if (rc > 0) /* fwrite: the text may contain NUL characters */
                fwrite(text, 1, (size_t)rc, stdout);
        } else {
            for (;;) {
                rc = t5_tokenizer_encode(tok, line, (size_t)len, ids, (int)icap,
                                         eos ? T5_TOK_ADD_EOS : 0, &err);
                if (rc < 0 || (size_t)rc <= icap)
                    break;
                icap = (size_t)rc;
                int32_t *ni = realloc(ids, icap * sizeof *ni);
                if (!ni) {
                    rc = t5_errf(&err, T5_ENOMEM, "out of memory");
                    break;
                }
                ids = ni;
            }
            for (int i = 0; i < rc; i++)
                printf(i ? " %d" : "%d", (int)ids[i]);
        }
        if (rc < 0) {
            fprintf(stderr, "t5serve tokenize: line %ld: %s\n", lineno, err.msg);
            status = 1;
        }
        putchar('\n');
    }
    free(line);
    free(text);
    free(ids);
    t5_tokenizer_free(tok);
    if (fflush(stdout) != 0)
        return 1;
    return status;
}
