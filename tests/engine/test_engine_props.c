/* test_engine_props.c - engine properties that no fixture can pin down:
 *   - sampling: top_k=1 and temperature -> 0 give the greedy ids; every
 *     sampled token lies in the top-k / top-p support computed here from the
 *     step's own logits; same seed -> same output, alone or in a batch;
 *     different seeds -> different outputs;
 *   - t5_engine_step_start / _wait give what t5_engine_step gives, with an
 *     encode in between, and refuse a second step or a slot copy meanwhile;
 *   - t5_engine_steps_greedy gives what the same steps one by one give;
 *   - malformed calls to the API return errors, never crash.
 * Uses the t5_v1_1 fixture model (gated-GELU, untied head). */
#include <math.h>

#include "check.h"
#include "fixture.h"
#include "model/model.h"

static t5_model *m;
static t5_engine *e;
static const t5_config *cfg;
static int32_t in_ids[64];
static int in_len;

static void setup(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/t5_v1_1", T5_FIXTURES_DIR);
    t5_err err = {0};
    if (t5_model_load(&m, dir, NULL, &err) < 0) {
        fprintf(stderr, "load: %s\n", err.msg);
        exit(2);
    }
    cfg = t5_model_config(m);
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = 8;
    ep.max_input_len = 32;
    ep.max_output_len = 24;
    if (t5_engine_create(&e, m, &ep, &err) < 0) {
        fprintf(stderr, "engine: %s\n", err.msg);
        exit(2);
    }
    cJSON *fx = fx_load("t5_v1_1.json");
    int n;
    int32_t *ids = fx_ints(fx_get(cJSON_GetArrayItem(fx_get(fx, "cases"), 2), "input_ids"), &n);
    in_len = n < 64 ? n : 64;
    memcpy(in_ids, ids, sizeof(int32_t) * in_len);
    free(ids);
    cJSON_Delete(fx);
}

static int gen1(const t5_gen_params *p, t5_gen_result *r)
{
    const int32_t *ids[1] = {in_ids};
    int32_t lens[1] = {in_len};
    t5_err err = {0};
    int rc = t5_generate(e, 1, ids, lens, p, 0, r, &err);
    if (rc < 0)
        fprintf(stderr, "generate: %s\n", err.msg);
    return rc;
}

static int same_ids(const t5_gen_seq *a, const t5_gen_seq *b)
{
    return a->n_ids == b->n_ids && memcmp(a->ids, b->ids, sizeof(int32_t) * a->n_ids) == 0;
}

static void test_sampling_limits_equal_greedy(void)
{
    t5_gen_params gp = t5_gen_default_params();
    gp.max_new_tokens = 12;
    gp.min_new_tokens = 4;
    t5_gen_result greedy = {0}, r = {0};
    CHECK(gen1(&gp, &greedy) == 0);
    t5_gen_params sp = gp;
    sp.do_sample = 1;
    sp.top_k = 1;
    for (uint64_t seed = 0; seed < 4; seed++) {
        sp.seed = seed;
        CHECK(gen1(&sp, &r) == 0);
        CHECK_MSG(same_ids(&r.seqs[0], &greedy.seqs[0]), "top_k=1 seed %llu",
                  (unsigned long long)seed);
        t5_gen_result_clear(&r);
    }
    sp.top_k = 0;
    sp.temperature = 1e-4f;
    CHECK(gen1(&sp, &r) == 0);
    CHECK_MSG(same_ids(&r.seqs[0], &greedy.seqs[0]), "temperature 1e-4");
    t5_gen_result_clear(&r);
    t5_gen_result_clear(&greedy);
}

/* The support transformers' processors leave from a logits row: tokens kept
 * by top-k (ties with the k-th kept) then top-p over the tempered softmax. */
static void support(const float *z, int V, const t5_gen_params *p, int no_eos, char *keep)
{
    double *w = malloc(sizeof(double) * V);
    for (int v = 0; v < V; v++)
        w[v] = (no_eos && v == cfg->eos_token_id) ? -INFINITY : z[v] / p->temperature;
    for (int v = 0; v < V; v++)
        keep[v] = w[v] > -INFINITY;
    if (p->top_k > 0 && p->top_k < V) {
        /* k-th largest by repeated max (V is tiny here) */
        double kth = INFINITY;
        for (int i = 0; i < p->top_k; i++) {
            double best = -INFINITY;
            for (int v = 0; v < V; v++)
                if (w[v] < kth && w[v] > best)
                    best = w[v];
            int cnt = 0;
            for (int v = 0; v < V; v++)
                cnt += w[v] == best;
            kth = best;
            i += cnt - 1;
        }
        for (int v = 0; v < V; v++)
            keep[v] &= w[v] >= kth;
    }
    if (p->top_p < 1.0f) {
        double mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++)
            if (keep[v] && w[v] > mx)
                mx = w[v];
        for (int v = 0; v < V; v++)
            if (keep[v])
                sum += exp(w[v] - mx);
        /* A token goes when the mass of it and everything less likely is
         * <= 1 - top_p (the most likely token always stays). */
        char *drop = calloc(V, 1);
        for (int v = 0; v < V; v++) {
            if (!keep[v])
                continue;
            double below = 0;
            for (int u = 0; u < V; u++)
                if (keep[u] && (w[u] < w[v] || u == v))
                    below += exp(w[u] - mx) / sum;
            drop[v] = below <= 1.0 - p->top_p + 1e-6 && w[v] < mx;
        }
        for (int v = 0; v < V; v++)
            keep[v] &= !drop[v];
        free(drop);
    }
    free(w);
}

static void test_sampled_tokens_in_support(void)
{
    static const struct {
        int top_k;
        float top_p, temp;
    } cases[] = {
        {5, 1.0f, 1.0f}, {0, 0.5f, 1.0f}, {8, 0.7f, 0.7f}, {3, 0.9f, 2.0f}, {0, 0.3f, 1.5f}};
    int V = cfg->vocab_size;
    float *logits = malloc(sizeof(float) * V * 24);
    float lp[1];
    int32_t lid[1];
    char *keep = malloc(V);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            t5_gen_params p = t5_gen_default_params();
            p.do_sample = 1;
            p.max_new_tokens = 16;
            p.min_new_tokens = 3;
            p.top_k = cases[ci].top_k;
            p.top_p = cases[ci].top_p;
            p.temperature = cases[ci].temp;
            p.seed = seed * 7919 + ci;
            t5_err err = {0};
            int32_t cross = 1, slot = 2;
            const int32_t *ids[1] = {in_ids};
            int32_t lens[1] = {in_len};
            CHECK(t5_engine_encode(e, 1, &cross, ids, lens, NULL, &err) == 0);
            t5_gen *g;
            CHECK(t5_gen_create(&g, m, &p, cross, &slot, &err) == 0);
            int steps = 0;
            t5_step_row row;
            while (t5_gen_rows(g, &row) == 1) {
                t5_step_out out = {1, lp, lid, logits + (size_t)steps * V};
                CHECK(t5_engine_step(e, 1, &row, &out, &err) == 0);
                out.logits = logits + (size_t)steps * V;
                CHECK(t5_gen_advance(g, e, &out, 0, &err) == 0);
                steps++;
            }
            t5_gen_result r = {0};
            CHECK(t5_gen_take_result(g, &r, &err) == 0);
            CHECK(r.n_seqs == 1 && r.seqs[0].n_ids == steps);
            for (int t = 0; t < r.seqs[0].n_ids; t++) {
                support(logits + (size_t)t * V, V, &p, t < p.min_new_tokens, keep);
                int tok = r.seqs[0].ids[t];
                CHECK_MSG(tok >= 0 && tok < V && keep[tok],
                          "token %d at %d outside support (top_k %d top_p %g T %g)", tok, t,
                          p.top_k, p.top_p, p.temperature);
            }
            t5_gen_result_clear(&r);
            t5_gen_free(g);
        }
    free(logits);
    free(keep);
}

static void test_seeds(void)
{
    t5_gen_params p = t5_gen_default_params();
    p.do_sample = 1;
    p.top_k = 0;
    p.temperature = 3.0f; /* flat enough that different seeds part ways */
    p.max_new_tokens = 10;
    p.min_new_tokens = 10;
    t5_gen_result a = {0}, b = {0};
    p.seed = 42;
    CHECK(gen1(&p, &a) == 0);
    CHECK(gen1(&p, &b) == 0);
    CHECK_MSG(same_ids(&a.seqs[0], &b.seqs[0]), "same seed, different output");
    int differ = 0;
    for (uint64_t s = 100; s < 105; s++) {
        t5_gen_result c = {0};
        p.seed = s;
        CHECK(gen1(&p, &c) == 0);
        differ += !same_ids(&a.seqs[0], &c.seqs[0]);
        t5_gen_result_clear(&c);
    }
    CHECK_MSG(differ >= 4, "only %d of 5 other seeds changed the output", differ);

    /* In a batch beside other requests, a seed gives what it gives alone. */
    t5_gen_params ps[3] = {t5_gen_default_params(), p, t5_gen_default_params()};
    ps[1].seed = 42;
    ps[2].num_beams = 3;
    ps[2].max_new_tokens = 6;
    const int32_t *ids[3] = {in_ids, in_ids, in_ids + 1};
    int32_t lens[3] = {in_len, in_len, in_len - 1};
    t5_gen_result res[3];
    t5_err err = {0};
    CHECK(t5_generate(e, 3, ids, lens, ps, 1, res, &err) == 0);
    CHECK(same_ids(&res[1].seqs[0], &a.seqs[0]));
    for (int i = 0; i < 3; i++)
        t5_gen_result_clear(&res[i]);

    /* num_return_sequences draws distinct samples from one generator. */
    p.num_return_sequences = 3;
    t5_gen_result r = {0};
    CHECK(gen1(&p, &r) == 0);
    CHECK(r.n_seqs == 3);
    if (r.n_seqs == 3)
        CHECK(!same_ids(&r.seqs[0], &r.seqs[1]) || !same_ids(&r.seqs[1], &r.seqs[2]));
    t5_gen_result_clear(&r);
    t5_gen_result_clear(&a);
    t5_gen_result_clear(&b);
}

/* Two engines of model tm in the same state: slot 0 holds the test input,
 * slot 1 its first len2 tokens (inputs up to 32 tokens). */
static void twin_engines(t5_model *tm, int max_batch, int max_out, int len2, t5_engine **a,
                         t5_engine **b)
{
    t5_err err = {0};
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = max_batch;
    ep.max_input_len = 32;
    ep.max_output_len = max_out;
    CHECK(t5_engine_create(a, tm, &ep, &err) == 0);
    CHECK(t5_engine_create(b, tm, &ep, &err) == 0);
    int32_t cross[2] = {0, 1}, lens[2] = {in_len, in_len > len2 ? len2 : in_len};
    const int32_t *ids[2] = {in_ids, in_ids};
    CHECK(t5_engine_encode(*a, 2, cross, ids, lens, NULL, &err) == 0);
    CHECK(t5_engine_encode(*b, 2, cross, ids, lens, NULL, &err) == 0);
}

/* The split step: the same results as t5_engine_step for the same rows
 * (two engines in the same state), an encode of another slot allowed in
 * between, a second step and a slot copy refused until _wait. */
static void test_step_start_wait(void)
{
    t5_err err = {0};
    t5_engine *a, *b;
    twin_engines(m, 4, 8, 3, &a, &b);
    int32_t start = cfg->decoder_start_token_id;
    t5_step_row rows[2] = {{0, 0, 0, start, 0}, {1, 1, 0, start, 0}};
    float lpa[8], lpb[8];
    int32_t ida[8], idb[8];
    t5_step_out oa = {4, lpa, ida, NULL}, ob = {4, lpb, idb, NULL};
    for (int pos = 0; pos < 3; pos++) {
        CHECK(t5_engine_step(a, 2, rows, &oa, &err) == 0);
        CHECK(t5_engine_step_start(b, 2, rows, &ob, &err) == 0);
        CHECK(t5_engine_step_start(b, 2, rows, &ob, &err) == T5_EINVAL);
        CHECK(strstr(err.msg, "in flight") != NULL);
        int32_t d[1] = {2}, src[1] = {0};
        CHECK(t5_engine_copy_slots(b, 1, d, src, 1, &err) == T5_EINVAL);
        if (pos == 1) { /* an encode of a slot the step does not use */
            int32_t c2[1] = {2}, l2[1] = {2};
            const int32_t *ids[1] = {in_ids};
            CHECK(t5_engine_encode_start(b, 1, c2, ids, l2, &err) == 0);
            CHECK(t5_engine_encode_wait(b, &err) == 0);
        }
        CHECK(t5_engine_step_wait(b, &err) == 0);
        CHECK(t5_engine_step_wait(b, &err) == 0); /* nothing in flight: no-op */
        CHECK(memcmp(ida, idb, sizeof ida) == 0);
        CHECK(memcmp(lpa, lpb, sizeof lpa) == 0);
        for (int r = 0; r < 2; r++) {
            rows[r].pos = pos + 1;
            rows[r].token = ida[r * 4];
        }
    }
    /* A rejected start leaves nothing in flight. */
    rows[0].pos = 7;
    CHECK(t5_engine_step_start(b, 2, rows, &ob, &err) == T5_EINVAL);
    CHECK(t5_engine_step_wait(b, &err) == 0);
    t5_engine_free(a);
    t5_engine_free(b);
}

/* t5_engine_steps_greedy of n rows gives, up to each row's first EOS, what
 * the same steps one by one give (each fed its top-1), with the EOS masks it
 * was given; a second chain continues where the first stopped. Two rows:
 * the steps replayed on a twin engine, which on CUDA has the per-op step
 * (the fused one belongs to the first stream that asks), so within 1e-5.
 * One row: replayed on the same engine after each chain, the same bits (on
 * CUDA the chain is one launch of the fused step, a single step one launch
 * of it). */
static void chain_vs_steps(t5_model *tm, int n)
{
    t5_err err = {0};
    t5_engine *a, *b;
    twin_engines(tm, 8, 12, 4, &a, &b);
    int32_t start = cfg->decoder_start_token_id, eos = cfg->eos_token_id;
    t5_step_row rows[2] = {{0, 0, 0, start, 0}, {1, 1, 0, start, 0}};
    t5_step_row one[2] = {rows[0], rows[1]};
    enum { S1 = 7, S2 = 4 };
    uint8_t no_eos[S1 * 2] = {0};
    for (int s = 0; s < 3; s++)
        no_eos[s * n + 0] = 1; /* row 0: min_new_tokens 3 */
    int32_t cid[S1 * 2];
    float clp[S1 * 2];
    int ended[2] = {0, 0}, compared = 0;
    for (int chain = 0; chain < 2; chain++) {
        int S = chain ? S2 : S1;
        CHECK(t5_engine_steps_greedy(a, n, rows, S, chain ? NULL : no_eos, cid, clp, &err) == 0);
        for (int s = 0; s < S; s++) {
            float lp[2];
            int32_t id[2];
            t5_step_out o = {1, lp, id, NULL};
            for (int r = 0; r < n; r++)
                one[r].flags = !chain && no_eos[s * n + r] ? T5_ROW_NO_EOS : 0;
            CHECK(t5_engine_step(n == 1 ? a : b, n, one, &o, &err) == 0);
            for (int r = 0; r < n; r++) {
                if (!chain && s < 3 && r == 0)
                    CHECK(id[r] != eos); /* the mask was applied to the single steps */
                if (ended[r])
                    continue;
                CHECK(cid[s * n + r] == id[r]);
                if (n == 1)
                    CHECK(clp[s] == lp[r]);
                else
                    CHECK(fabsf(clp[s * n + r] - lp[r]) <= 1e-5f * (1.0f + fabsf(lp[r])));
                compared++;
                ended[r] = id[r] == eos;
                one[r].pos++;
                one[r].token = id[r];
            }
        }
        for (int r = 0; r < n; r++)
            rows[r] = one[r];
    }
    CHECK(compared >= 2 * n); /* at least the first steps of every row */
    t5_engine_free(a);
    t5_engine_free(b);
}

/* chain_vs_steps of one and two rows; bad calls fail. */
static void test_steps_greedy(void)
{
    t5_err err = {0};
    /* T5_TEST_DEVICE=cuda (T5_TEST_DTYPE): this test on that backend, where
     * chained steps run as one graph with the token fed on the device */
    t5_model *tm = m;
    const char *dev = getenv("T5_TEST_DEVICE"), *dt = getenv("T5_TEST_DTYPE");
    t5_model_params mp = {0};
    if (dev && t5_device_parse(dev, &mp.device) == 0 && mp.device != T5_DEVICE_CPU) {
        if (dt)
            CHECK(t5_dtype_parse(dt, &mp.dtype) == 0);
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/models/t5_v1_1", T5_FIXTURES_DIR);
        CHECK(t5_model_load(&tm, dir, &mp, &err) == 0);
        if (!tm)
            return;
    }
    chain_vs_steps(tm, 2);
    chain_vs_steps(tm, 1);
    t5_engine *a, *b;
    twin_engines(tm, 8, 12, 4, &a, &b);
    int32_t start = cfg->decoder_start_token_id;
    int32_t cid[T5_ENGINE_CHAIN_STEPS * 5];
    float clp[T5_ENGINE_CHAIN_STEPS * 5];
    /* Bad calls: too many rows or steps, past max_output_len, logits, NULL. */
    t5_step_row r5[5];
    for (int i = 0; i < 5; i++)
        r5[i] = (t5_step_row){i, 0, 0, start, 0};
    CHECK(t5_engine_steps_greedy(a, 5, r5, 2, NULL, cid, clp, &err) == T5_ELIMIT);
    CHECK(t5_engine_steps_greedy(a, 1, r5, 0, NULL, cid, clp, &err) == T5_EINVAL);
    CHECK(t5_engine_steps_greedy(a, 1, r5, T5_ENGINE_CHAIN_STEPS + 1, NULL, cid, clp, &err) ==
          T5_EINVAL);
    CHECK(t5_engine_steps_greedy(a, 1, r5, 13, NULL, cid, clp, &err) == T5_ELIMIT);
    CHECK(strstr(err.msg, "chain") != NULL);
    r5[0].flags = T5_ROW_LOGITS;
    CHECK(t5_engine_steps_greedy(a, 1, r5, 2, NULL, cid, clp, &err) == T5_EINVAL);
    r5[0].flags = 0;
    CHECK(t5_engine_steps_greedy(a, 1, r5, 2, NULL, NULL, clp, &err) == T5_EINVAL);
    /* and the engine still steps after them */
    CHECK(t5_engine_steps_greedy(a, 1, r5, 2, NULL, cid, clp, &err) == 0);
    t5_engine_free(a);
    t5_engine_free(b);
    if (tm != m)
        t5_model_free(tm);
}

static void test_api_errors(void)
{
    t5_err err = {0};
    int32_t cross = 0, bad_tok[2] = {1, 100000};
    const int32_t *ids[2] = {in_ids, bad_tok};
    int32_t lens[2] = {in_len, 2};
    CHECK(t5_engine_encode(e, 0, &cross, ids, lens, NULL, &err) == T5_ELIMIT);
    CHECK(t5_engine_encode(e, 9, &cross, ids, lens, NULL, &err) == T5_ELIMIT);
    int32_t two[2] = {0, 1};
    CHECK(t5_engine_encode(e, 2, two, ids, lens, NULL, &err) == T5_EINVAL);
    CHECK(strstr(err.msg, "outside vocab") != NULL);
    int32_t dup[2] = {1, 1};
    const int32_t *ids2[2] = {in_ids, in_ids};
    CHECK(t5_engine_encode(e, 2, dup, ids2, lens, NULL, &err) == T5_EINVAL);
    int32_t zero_len[1] = {0}, long_len[1] = {33};
    CHECK(t5_engine_encode(e, 1, &cross, ids, zero_len, NULL, &err) == T5_ELIMIT);
    CHECK(t5_engine_encode(e, 1, &cross, ids, long_len, NULL, &err) == T5_ELIMIT);
    int32_t bad_slot = 8;
    CHECK(t5_engine_encode(e, 1, &bad_slot, ids, lens, NULL, &err) == T5_EINVAL);
    CHECK(t5_engine_encode(e, 1, NULL, ids, lens, NULL, &err) == T5_EINVAL);

    /* Steps. */
    t5_engine *fresh;
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = 2;
    ep.max_input_len = 16;
    ep.max_output_len = 8;
    CHECK(t5_engine_create(&fresh, m, &ep, &err) == 0);
    float lp[8];
    int32_t lid[8];
    t5_step_out out = {1, lp, lid, NULL};
    t5_step_row row = {0, 0, 0, 0, 0};
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == T5_EINVAL); /* cross slot never encoded */
    CHECK(strstr(err.msg, "never encoded") != NULL);
    CHECK(t5_engine_encode(fresh, 1, &cross, ids, lens, NULL, &err) == 0);
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == 0);
    row.pos = 3;
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == T5_EINVAL); /* skips positions */
    row.pos = 8;
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == T5_ELIMIT);
    row.pos = 1;
    row.token = -1;
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == T5_EINVAL);
    row.token = 0;
    row.flags = T5_ROW_LOGITS;
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == T5_EINVAL); /* no logits buffer */
    row.flags = 0;
    t5_step_row rows2[2] = {row, row};
    CHECK(t5_engine_step(fresh, 2, rows2, &out, &err) == T5_EINVAL); /* one slot twice */
    CHECK(t5_engine_step(fresh, 3, rows2, &out, &err) == T5_ELIMIT);
    out.k = 5; /* kmax = 2 * max_slots = 4 */
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == T5_EINVAL);
    out.k = 1;
    CHECK(t5_engine_step(fresh, 1, &row, &out, &err) == 0);
    int32_t d[1] = {1}, s[1] = {2};
    CHECK(t5_engine_copy_slots(fresh, 1, d, s, 1, &err) == T5_EINVAL);
    CHECK(t5_engine_copy_slots(fresh, 1, d, d, 9, &err) == T5_EINVAL);

    /* Generation parameters. */
    t5_gen_params p = t5_gen_default_params();
    p.max_new_tokens = 0;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EINVAL);
    p = t5_gen_default_params();
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_ELIMIT); /* 20 new tokens > 7 */
    CHECK(strstr(err.msg, "max_new_tokens") != NULL);
    p.max_new_tokens = 5;
    p.num_beams = 2;
    p.num_return_sequences = 3;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EINVAL);
    p.num_return_sequences = 1;
    p.num_beams = 3;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_ELIMIT); /* 3 beams > 2 slots */
    p.num_beams = 2;
    p.do_sample = 1;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EUNSUP);
    p.num_beams = 1;
    p.temperature = 0;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EINVAL);
    p.temperature = 1;
    p.top_p = 0;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EINVAL);
    p.top_p = 1;
    p.top_k = -1;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EINVAL);
    p.top_k = 50;
    p.min_new_tokens = 6;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EINVAL);
    p.min_new_tokens = 0;
    p.early_stopping = 2;
    CHECK(t5_gen_params_check(&p, &ep, &err) == T5_EINVAL);
    p.early_stopping = 0;
    CHECK(t5_gen_params_check(&p, &ep, &err) == 0);

    t5_gen_result r[3];
    CHECK(t5_generate(fresh, 3, ids2, lens, &p, 0, r, &err) == T5_ELIMIT);
    int32_t too_long[1] = {17};
    CHECK(t5_generate(fresh, 1, ids2, too_long, &p, 0, r, &err) == T5_ELIMIT);
    CHECK(t5_generate(fresh, 1, NULL, lens, &p, 0, r, &err) == T5_EINVAL);
    t5_engine_free(fresh);

    ep.max_batch = 0;
    CHECK(t5_engine_create(&fresh, m, &ep, &err) == T5_EINVAL);
    CHECK(t5_engine_create(&fresh, NULL, NULL, &err) == T5_EINVAL);
}

int main(void)
{
    setup();
    RUN(test_sampling_limits_equal_greedy);
    RUN(test_sampled_tokens_in_support);
    RUN(test_seeds);
    RUN(test_step_start_wait);
    RUN(test_steps_greedy);
    RUN(test_api_errors);
    t5_engine_free(e);
    t5_model_free(m);
    return check_summary();
}
