/* tokenizer_bench.c - single-threaded encode throughput of the t5serve
 * tokenizer on a file of lines. Prints one table row; bench/tokenizer_bench.py
 * runs it next to sentencepiece and tokenizers on the same corpus.
 *
 *   tokenizer_bench --tokenizer FILE --corpus FILE [--reps N] [--eos]
 *
 * Every line is encoded once per pass (ids into a reused buffer, as a server
 * would); the best of N passes is reported, after one warm-up pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t5_tokenizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *tpath = NULL, *cpath = NULL;
    int reps = 5, flags = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc)
            tpath = argv[++i];
        else if (!strcmp(argv[i], "--corpus") && i + 1 < argc)
            cpath = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--eos"))
            flags |= T5_TOK_ADD_EOS;
        else {
            fprintf(stderr,
                    "usage: tokenizer_bench --tokenizer FILE --corpus FILE [--reps N] [--eos]\n");
            return 2;
        }
    }
    if (!tpath || !cpath || reps < 1) {
        fprintf(stderr,
                "usage: tokenizer_bench --tokenizer FILE --corpus FILE [--reps N] [--eos]\n");
        return 2;
    }
    t5_tokenizer *tok;
    t5_err err = {0};
    if (t5_tokenizer_load(&tok, tpath, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(cpath, "rb");
    if (!f) {
        perror(cpath);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", cpath);
        return 1;
    }
    fclose(f);
    size_t nlines = 0, cap = 1024;
    char **line = malloc(cap * sizeof *line);
    size_t *len = malloc(cap * sizeof *len);
    for (char *p = data, *end = data + size; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (nlines == cap) {
            cap *= 2;
            line = realloc(line, cap * sizeof *line);
            len = realloc(len, cap * sizeof *len);
        }
        line[nlines] = p;
        len[nlines++] = (size_t)(nl - p);
        p = nl + 1;
    }
    int32_t ids[65536];
    long total_ids = 0, errors = 0;
    double best = 1e30;
    for (int r = -1; r < reps; r++) {
        long n_ids = 0;
        double t0 = now();
        for (size_t i = 0; i < nlines; i++) {
            int n = t5_tokenizer_encode(tok, line[i], len[i], ids, 65536, flags, NULL);
            if (n < 0)
                errors++;
            else
                n_ids += n;
        }
        double dt = now() - t0;
        if (r >= 0 && dt < best)
            best = dt;
        total_ids = n_ids;
    }
    printf(
        "t5serve\t%s\t%zu lines\t%ld bytes\t%.4f s\t%.0f lines/s\t%.2f MB/s\t%ld ids\t%ld errors\n",
        tpath, nlines, size, best, nlines / best, size / best / 1e6, total_ids, errors);
    t5_tokenizer_free(tok);
    free(line);
    free(len);
    free(data);
    return 0;
}
