/* cmd_bench_engine.c - the engine benchmark: t5_generate timed in-process.
 *
 *   t5serve bench --engine --model DIR [--device cuda] [--dtype fp16]
 *       [--batch 1,8,64,256,1024] [--beams 1] [--in-tokens 9] [--new-tokens 11]
 *       [--iters 50] [--warmup 3] [--instances 1] [--breakdown] [--seed 1]
 *
 * (`t5_cmd_bench_engine` is what `t5serve bench --engine` calls; the
 * kernel lab also builds it as the standalone program t5bench_engine.)
 *
 * Every request has exactly --in-tokens random input ids and produces
 * exactly --new-tokens tokens (min_new_tokens = max_new_tokens, so EOS is
 * masked). One iteration is one t5_generate call for the whole batch: the
 * encoder, every decoder step, and every host-device copy. Prints one line
 * per batch size: p50/p99 latency of an iteration and sequences per second
 * (batch / mean latency, times the number of instances running at once).
 *
 * --instances N runs N engines on one model (one weight copy), each on its
 * own thread and CUDA stream, as Triton's concurrent model instances do.
 * --breakdown also times an iteration with one new token, so that
 * (T(N) - T(1)) / (N - 1) is the cost of one decoder step and T(1) minus
 * that step is the encoder plus fixed overhead. Each line ends with the
 * first request's ids and score (its bits, %a), so that two builds or
 * settings can be compared on the same input (--seed picks the ids).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmds.h"
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

typedef struct bench_job {
    t5_engine *e;
    int batch, iters, warmup;
    const int32_t *const *ids;
    const int32_t *lens;
    t5_gen_params gp;
    double *lat; /* [iters] */
    int rc;
    t5_err err;
    int32_t first_ids[64];
    int n_first;
    float first_score;
} bench_job;

static void *bench_thread(void *arg)
{
    bench_job *j = arg;
    t5_gen_result *res = calloc(j->batch, sizeof *res);
    if (!res) {
        j->rc = t5_errf(&j->err, T5_ENOMEM, "out of memory");
        return NULL;
    }
    for (int it = -j->warmup; it < j->iters && j->rc == 0; it++) {
        double t0 = now_ms();
        j->rc = t5_generate(j->e, j->batch, j->ids, j->lens, &j->gp, 0, res, &j->err);
        double t1 = now_ms();
        if (it >= 0)
            j->lat[it] = t1 - t0;
        if (j->rc == 0 && res[0].n_seqs > 0) {
            j->n_first = res[0].seqs[0].n_ids < 64 ? res[0].seqs[0].n_ids : 64;
            memcpy(j->first_ids, res[0].seqs[0].ids, sizeof(int32_t) * j->n_first);
            j->first_score = res[0].seqs[0].score;
        }
        for (int b = 0; b < j->batch; b++)
            t5_gen_result_clear(&res[b]);
    }
    free(res);
    return NULL;
}

/* Runs `instances` engines at once; returns 0 and fills p50/p99/mean. */
static int run_batch(t5_model *m, int instances, int batch, int beams, int in_tokens,
                     int new_tokens, int iters, int warmup, uint64_t seed, double *p50, double *p99,
                     double *seqs, int32_t *first, int *n_first, float *score, t5_err *err)
{
    const t5_config *c = t5_model_config(m);
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = batch * beams;
    ep.max_slots = batch * beams;
    ep.max_input_len = in_tokens;
    ep.max_output_len = new_tokens + 1;
    int rc = 0;
    t5_engine **es = calloc(instances, sizeof *es);
    bench_job *jobs = calloc(instances, sizeof *jobs);
    pthread_t *th = calloc(instances, sizeof *th);
    int32_t *flat = malloc(sizeof(int32_t) * batch * in_tokens);
    int32_t **ids = malloc(sizeof(int32_t *) * batch);
    int32_t *lens = malloc(sizeof(int32_t) * batch);
    double *lat = malloc(sizeof(double) * (size_t)instances * iters);
    if (!es || !jobs || !th || !flat || !ids || !lens || !lat) {
        rc = t5_errf(err, T5_ENOMEM, "out of memory");
        goto done;
    }
    /* Random ids above the special tokens (0 pad, 1 eos, 2 unk). */
    uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int i = 0; i < batch * in_tokens; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        flat[i] = 3 + (int32_t)((x >> 33) % (uint64_t)(c->vocab_size - 3));
    }
    for (int b = 0; b < batch; b++) {
        ids[b] = flat + (size_t)b * in_tokens;
        lens[b] = in_tokens;
    }
    for (int i = 0; i < instances; i++)
        if ((rc = t5_engine_create(&es[i], m, &ep, err)) < 0)
            goto done;
    for (int i = 0; i < instances; i++) {
        bench_job *j = &jobs[i];
        j->e = es[i];
        j->batch = batch;
        j->iters = iters;
        j->warmup = warmup;
        j->ids = (const int32_t *const *)ids;
        j->lens = lens;
        j->gp = t5_gen_default_params();
        j->gp.max_new_tokens = new_tokens;
        j->gp.min_new_tokens = new_tokens;
        j->gp.num_beams = beams;
        j->gp.num_return_sequences = 1;
        j->lat = lat + (size_t)i * iters;
    }
    if (instances == 1) {
        bench_thread(&jobs[0]);
    } else {
        for (int i = 0; i < instances; i++)
            pthread_create(&th[i], NULL, bench_thread, &jobs[i]);
        for (int i = 0; i < instances; i++)
            pthread_join(th[i], NULL);
    }
    for (int i = 0; i < instances; i++)
        if (jobs[i].rc < 0) {
            *err = jobs[i].err;
            rc = jobs[i].rc;
            goto done;
        }
    {
        int n = instances * iters;
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += lat[i];
        qsort(lat, n, sizeof(double), cmp_d);
        *p50 = lat[n / 2];
        *p99 = lat[(int)(0.99 * (n - 1) + 0.5)];
        *seqs = instances * batch / (sum / n / 1e3);
        *n_first = jobs[0].n_first;
        *score = jobs[0].first_score;
        memcpy(first, jobs[0].first_ids, sizeof(int32_t) * jobs[0].n_first);
    }
done:
    for (int i = 0; es && i < instances; i++)
        t5_engine_free(es[i]);
    free(es), free(jobs), free(th), free(flat), free(ids), free(lens), free(lat);
    return rc;
}

int t5_cmd_bench_engine(int argc, char **argv)
{
    const char *model = NULL, *batches = "1,8,64,256,1024", *label = "";
    t5_model_params mp = t5_model_default_params();
    int beams = 1, in_tokens = 9, new_tokens = 11, iters = 50, warmup = 3, instances = 1;
    int breakdown = 0, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--engine"))
            continue;
        if (!strcmp(a, "--breakdown")) {
            breakdown = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench --engine: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--device")) {
            if (t5_device_parse(v, &mp.device) < 0) {
                fprintf(stderr, "bench --engine: bad --device %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--dtype")) {
            if (t5_dtype_parse(v, &mp.dtype) < 0) {
                fprintf(stderr, "bench --engine: bad --dtype %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--batch"))
            batches = v;
        else if (!strcmp(a, "--beams"))
            beams = atoi(v);
        else if (!strcmp(a, "--in-tokens"))
            in_tokens = atoi(v);
        else if (!strcmp(a, "--new-tokens"))
            new_tokens = atoi(v);
        else if (!strcmp(a, "--iters"))
            iters = atoi(v);
        else if (!strcmp(a, "--warmup"))
            warmup = atoi(v);
        else if (!strcmp(a, "--instances"))
            instances = atoi(v);
        else if (!strcmp(a, "--label"))
            label = v;
        else if (!strcmp(a, "--seed"))
            seed = atoi(v);
        else {
            fprintf(stderr, "bench --engine: unknown option %s\n", a);
            return 2;
        }
    }
    if (!model || beams < 1 || in_tokens < 1 || new_tokens < 1 || iters < 1 || warmup < 0 ||
        instances < 1) {
        fprintf(stderr,
                "usage: t5serve bench --engine --model DIR [--device cuda] [--dtype fp16]\n"
                "       [--batch 1,8,64] [--beams K] [--in-tokens 9] [--new-tokens 11]\n"
                "       [--iters 50] [--warmup 3] [--instances N] [--breakdown] [--label S]\n"
                "       [--seed N]\n");
        return 2;
    }
    mp.load_tokenizer = 0;
    t5_err err = {0};
    t5_model *m = NULL;
    if (t5_model_load(&m, model, &mp, &err) < 0) {
        fprintf(stderr, "bench --engine: %s\n", err.msg);
        return 1;
    }
    printf("%-10s %-5s %-5s %5s %5s %4s %10s %10s %12s%s\n", "label", "dev", "dtype", "batch",
           "beams", "inst", "p50_ms", "p99_ms", "seq_per_s",
           breakdown ? "   step_ms  enc+fixed_ms" : "");
    int status = 0;
    char *list = strdup(batches);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int batch = atoi(tok);
        if (batch < 1)
            continue;
        double p50, p99, seqs;
        int32_t first[64];
        int nf = 0;
        float score = 0.0f;
        if (run_batch(m, instances, batch, beams, in_tokens, new_tokens, iters, warmup,
                      (uint64_t)seed, &p50, &p99, &seqs, first, &nf, &score, &err) < 0) {
            fprintf(stderr, "bench --engine: batch %d: %s\n", batch, err.msg);
            status = 1;
            break;
        }
        printf("%-10s %-5s %-5s %5d %5d %4d %10.3f %10.3f %12.0f", label,
               mp.device == T5_DEVICE_CUDA ? "cuda" : "cpu", t5_dtype_name(mp.dtype), batch, beams,
               instances, p50, p99, seqs);
        if (breakdown && new_tokens > 1) {
            double q50, q99, qs;
            int32_t f2[64];
            int n2;
            float s2;
            if (run_batch(m, 1, batch, beams, in_tokens, 1, iters, warmup, (uint64_t)seed, &q50,
                          &q99, &qs, f2, &n2, &s2, &err) == 0) {
                double step = (p50 - q50) / (new_tokens - 1);
                printf(" %9.4f %13.4f", step, q50 - step);
            }
        }
        printf("   ids:");
        for (int i = 0; i < nf && i < 11; i++)
            printf("%s%d", i ? "," : "", first[i]);
        printf(" score:%a\n", score);
        fflush(stdout);
    }
    free(list);
    t5_model_free(m);
    return status;
}
