/* cpu_engine_bench.c - times t5_generate on one engine for bench/cpu_engine.py.
 *
 *   bench_cpu_engine --model DIR --ids-file F --batch B --new-tokens N
 *                    [--iters I] [--warmup W] [--threads T] [--serve]
 *
 * F holds one request per line (comma-separated ids); the first B lines are
 * one batch. Each iteration runs the whole batch through t5_generate (greedy,
 * min_new_tokens = max_new_tokens = N, so every sequence is exactly N tokens)
 * and the program prints one JSON line: every iteration's latency, its
 * percentiles, sequences per second, and the first sequence's ids.
 * With --serve it stays up after the warm-up: each line "N" on stdin runs N
 * more iterations and prints their JSON line, so a driver can interleave
 * engines round by round on a machine whose load changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t5_engine.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *ids_file = NULL;
    int batch = 1, new_tokens = 11, iters = 10, warmup = 2, threads = 0, serve = 0;
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--serve")) {
            serve = 1;
            i--;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--ids-file"))
            ids_file = argv[i + 1];
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--new-tokens"))
            new_tokens = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup"))
            warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!model || !ids_file || batch < 1 || iters < 1) {
        fprintf(stderr, "usage: bench_cpu_engine --model DIR --ids-file F --batch B ...\n");
        return 2;
    }
    FILE *f = fopen(ids_file, "r");
    if (!f) {
        perror(ids_file);
        return 1;
    }
    int32_t **ids = calloc(batch, sizeof *ids), *lens = calloc(batch, sizeof *lens), maxlen = 1;
    char line[65536];
    for (int b = 0; b < batch; b++) {
        if (!fgets(line, sizeof line, f)) {
            fprintf(stderr, "%s: fewer than %d lines\n", ids_file, batch);
            return 1;
        }
        ids[b] = malloc(sizeof(int32_t) * (strlen(line) / 2 + 2));
        for (char *p = strtok(line, ", \n"); p; p = strtok(NULL, ", \n"))
            ids[b][lens[b]++] = atoi(p);
        maxlen = lens[b] > maxlen ? lens[b] : maxlen;
    }
    fclose(f);

    t5_err err = {0};
    t5_model *m;
    if (t5_model_load(&m, model, NULL, &err) < 0) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = ep.max_slots = batch;
    ep.max_input_len = maxlen;
    ep.max_output_len = new_tokens + 1;
    ep.n_threads = threads;
    t5_engine *e;
    if (t5_engine_create(&e, m, &ep, &err) < 0) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return 1;
    }
    t5_gen_params gp = t5_gen_default_params();
    gp.max_new_tokens = gp.min_new_tokens = new_tokens;
    t5_gen_result *res = calloc(batch, sizeof *res);
    int cap = iters > 1000 ? iters : 1000;
    double *lat = calloc(cap, sizeof(double));
    for (int round = 0;; round++) {
        int warm = round == 0 ? warmup : 0;
        for (int it = -warm; it < iters; it++) {
            for (int b = 0; b < batch; b++)
                t5_gen_result_clear(&res[b]);
            double t0 = now_ms();
            if (t5_generate(e, batch, (const int32_t *const *)ids, lens, &gp, 0, res, &err) < 0) {
                fprintf(stderr, "generate: %s\n", err.msg);
                return 1;
            }
            double dt = now_ms() - t0;
            if (it >= 0)
                lat[it] = dt;
        }
        if (!(serve && round == 0)) {
            double total = 0;
            printf("{\"lat_ms\":[");
            for (int i = 0; i < iters; i++) {
                total += lat[i];
                printf(i ? ",%.3f" : "%.3f", lat[i]);
            }
            qsort(lat, iters, sizeof(double), cmp_d);
            int i99 = (int)(0.99 * (iters - 1) + 0.5);
            printf("],\"batch\":%d,\"iters\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                   "\"mean_ms\":%.3f,\"seq_per_s\":%.2f,\"ids0\":[",
                   batch, iters, lat[(iters - 1) / 2], lat[i99], total / iters,
                   batch * iters / (total / 1e3));
            for (int i = 0; i < res[0].seqs[0].n_ids; i++)
                printf(i ? ",%d" : "%d", res[0].seqs[0].ids[i]);
            printf("]}\n");
        } else {
            printf("{\"ready\":true}\n");
        }
        fflush(stdout);
        if (!serve)
            break;
        char cmd[64];
        if (!fgets(cmd, sizeof cmd, stdin))
            break;
        iters = atoi(cmd);
        if (iters < 1 || iters > cap)
            break;
    }
    for (int b = 0; b < batch; b++)
        t5_gen_result_clear(&res[b]);
    free(lat);
    free(res);
    t5_engine_free(e);
    t5_model_free(m);
    return 0;
}
