/* gen.c - one request's decoding: parameters, lifecycle, greedy and sampling.
 * Beam search is in beam.c.
 *
 * Scores. Beam search reports transformers' sequences_scores. Greedy and
 * sampling report the mean, over the generated tokens (EOS included), of the
 * model's log-probability of each token: log_softmax of the raw logits, before
 * any processor (min_new_tokens, temperature, top-k, top-p). That is
 * transformers' compute_transition_scores(..., normalize_logits=True) summed
 * and divided by the length when no processor changes the distribution, and a
 * measure of the model's own confidence when one does.
 *
 * Sampling follows transformers' processor order: EOS masked while
 * min_new_tokens is not reached, then logits / temperature, then top-k (keep
 * every token at least as large as the k-th), then top-p (drop the smallest
 * tokens whose cumulative probability is <= 1 - top_p, keeping at least one),
 * then a draw from the softmax with the request's own xoshiro256** generator
 * seeded through splitmix64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gen_priv.h"
#include "model/model.h"

t5_gen_params t5_gen_default_params(void)
{
    t5_gen_params p = {0};
    p.max_new_tokens = 20;
    p.min_new_tokens = 0;
    p.num_beams = 1;
    p.num_return_sequences = 1;
    p.length_penalty = 1.0f;
    p.early_stopping = 0;
    p.do_sample = 0;
    p.temperature = 1.0f;
    p.top_k = 50;
    p.top_p = 1.0f;
    p.seed = 0;
    return p;
}

int t5_gen_slots_needed(const t5_gen_params *p)
{
    if (!p)
        return 0;
    if (p->do_sample)
        return p->num_return_sequences;
    return p->num_beams;
}

int t5_gen_params_check(const t5_gen_params *p, const t5_engine_params *ep, t5_err *err)
{
    if (!p)
        return t5_errf(err, T5_EINVAL, "generation parameters are NULL");
    if (p->max_new_tokens < 1)
        return t5_errf(err, T5_EINVAL, "max_new_tokens %d must be >= 1", p->max_new_tokens);
    if (p->min_new_tokens < 0 || p->min_new_tokens > p->max_new_tokens)
        return t5_errf(err, T5_EINVAL, "min_new_tokens %d not in 0..max_new_tokens (%d)",
                       p->min_new_tokens, p->max_new_tokens);
    if (p->num_beams < 1)
        return t5_errf(err, T5_EINVAL, "num_beams %d must be >= 1", p->num_beams);
    if (p->num_return_sequences < 1)
        return t5_errf(err, T5_EINVAL, "num_return_sequences %d must be >= 1",
                       p->num_return_sequences);
    if (!p->do_sample && p->num_return_sequences > p->num_beams)
        return t5_errf(err, T5_EINVAL,
                       "num_return_sequences %d must be <= num_beams %d without sampling",
                       p->num_return_sequences, p->num_beams);
    if (p->do_sample && p->num_beams > 1)
        return t5_errf(err, T5_EUNSUP,
                       "beam sampling (do_sample with num_beams %d) is not "
                       "supported",
                       p->num_beams);
    if (!isfinite(p->length_penalty))
        return t5_errf(err, T5_EINVAL, "length_penalty must be finite");
    if (p->early_stopping < -1 || p->early_stopping > 1)
        return t5_errf(err, T5_EINVAL, "early_stopping %d not in -1 (never), 0, 1",
                       p->early_stopping);
    if (p->do_sample) {
        if (!(p->temperature > 0) || !isfinite(p->temperature))
            return t5_errf(err, T5_EINVAL, "temperature %g must be > 0", p->temperature);
        if (p->top_k < 0)
            return t5_errf(err, T5_EINVAL, "top_k %d must be >= 0", p->top_k);
        if (!(p->top_p > 0) || p->top_p > 1)
            return t5_errf(err, T5_EINVAL, "top_p %g not in (0, 1]", p->top_p);
    }
    if (ep) {
        int need = t5_gen_slots_needed(p), slots = ep->max_slots ? ep->max_slots : ep->max_batch;
        if (p->max_new_tokens + 1 > ep->max_output_len)
            return t5_errf(err, T5_ELIMIT, "max_new_tokens %d exceeds the engine's limit %d",
                           p->max_new_tokens, ep->max_output_len - 1);
        if (need > slots || need > ep->max_batch)
            return t5_errf(err, T5_ELIMIT, "%d sequences exceed the engine's %d slots / batch %d",
                           need, slots, ep->max_batch);
    }
    return 0;
}

void t5_gen_result_clear(t5_gen_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_seqs; i++)
        free(r->seqs[i].ids);
    free(r->seqs);
    r->seqs = NULL;
    r->n_seqs = 0;
}

void t5_gen_free(t5_gen *g)
{
    if (!g)
        return;
    free(g->slots);
    free(g->tok);
    free(g->len);
    free(g->fin);
    free(g->sum_lp);
    free(g->work);
    free(g->order);
    free(g->run_score);
    free(g->run_tok);
    free(g->run_tok2);
    free(g->cand);
    free(g->fin_score);
    free(g->fin_tok);
    free(g->fin_len);
    free(g->tmp);
    free(g);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**, then 53 bits to a double in [0, 1). */
static double rng_uniform(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

int t5_gen_create(t5_gen **out, const t5_model *m, const t5_gen_params *p, int32_t cross_slot,
                  const int32_t *self_slots, t5_err *err)
{
    if (!out || !m || !p || !self_slots)
        return t5_errf(err, T5_EINVAL, "t5_gen_create: NULL argument");
    *out = NULL;
    int rc = t5_gen_params_check(p, NULL, err);
    if (rc < 0)
        return rc;
    const t5_config *c = t5_model_config(m);
    t5_gen *g = calloc(1, sizeof *g);
    if (!g)
        return t5_errf(err, T5_ENOMEM, "t5_gen_create: out of memory");
    g->p = *p;
    g->mode = p->do_sample ? GEN_SAMPLE : p->num_beams > 1 ? GEN_BEAM : GEN_GREEDY;
    g->eos = c->eos_token_id;
    g->start = c->decoder_start_token_id;
    g->V = c->vocab_size;
    g->cross_slot = cross_slot;
    g->K = t5_gen_slots_needed(p);
    g->max_new = p->max_new_tokens;
    size_t K = g->K, T = g->max_new;
    g->slots = malloc(sizeof(int32_t) * K);
    int ok = g->slots != NULL;
    if (g->mode == GEN_BEAM) {
        g->run_score = calloc(K, sizeof(float));
        g->run_tok = calloc(K * T, sizeof(int32_t));
        g->run_tok2 = calloc(K * T, sizeof(int32_t));
        g->cand = calloc(K * 2 * K, sizeof(gen_cand));
        g->fin_score = calloc(K, sizeof(float));
        g->fin_tok = calloc(K * T, sizeof(int32_t));
        g->fin_len = calloc(K, sizeof(int));
        g->tmp = calloc(4 * K, sizeof(int32_t));
        ok = ok && g->run_score && g->run_tok && g->run_tok2 && g->cand && g->fin_score &&
             g->fin_tok && g->fin_len && g->tmp;
        g->n_run = 1;
        g->unsatisfied = 1;
    } else {
        g->tok = calloc(K * T, sizeof(int32_t));
        g->len = calloc(K, sizeof(int));
        g->fin = calloc(K, sizeof(int));
        g->sum_lp = calloc(K, sizeof(double));
        ok = ok && g->tok && g->len && g->fin && g->sum_lp;
        if (g->mode == GEN_SAMPLE) {
            g->work = malloc(sizeof(double) * g->V);
            g->order = malloc(sizeof(int32_t) * g->V);
            ok = ok && g->work && g->order;
            uint64_t x = p->seed;
            for (int i = 0; i < 4; i++)
                g->rng[i] = splitmix64(&x);
        }
    }
    if (!ok) {
        t5_gen_free(g);
        return t5_errf(err, T5_ENOMEM, "t5_gen_create: out of memory");
    }
    memcpy(g->slots, self_slots, sizeof(int32_t) * K);
    *out = g;
    return 0;
}

int t5_gen_done(const t5_gen *g)
{
    return g ? g->done : 1;
}

int t5_gen_topk(const t5_gen *g)
{
    return g && g->mode == GEN_BEAM ? 2 * g->K : 1;
}

int t5__gen_greedy_left(const t5_gen *g)
{
    return g && !g->done && g->mode == GEN_GREEDY && g->K == 1 ? g->max_new - g->g : 0;
}

int t5__gen_no_eos(const t5_gen *g, int s)
{
    return g->g + s < g->p.min_new_tokens;
}

int t5_gen_rows(t5_gen *g, t5_step_row *rows)
{
    if (!g || g->done)
        return 0;
    if (g->mode == GEN_BEAM)
        return t5__beam_rows(g, rows);
    int n = 0;
    for (int i = 0; i < g->K; i++) {
        if (g->fin[i])
            continue;
        t5_step_row *r = &rows[n++];
        r->self_slot = g->slots[i];
        r->cross_slot = g->cross_slot;
        r->pos = g->g;
        r->token = g->g == 0 ? g->start : g->tok[(size_t)i * g->max_new + g->g - 1];
        r->flags = (g->g < g->p.min_new_tokens ? T5_ROW_NO_EOS : 0) |
                   (g->mode == GEN_SAMPLE ? T5_ROW_LOGITS : 0);
    }
    return n;
}

static int cmp_desc(const void *a, const void *b, void *ctx)
{
    const double *w = ctx;
    double x = w[*(const int32_t *)a], y = w[*(const int32_t *)b];
    if (x != y)
        return x > y ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

/* One draw from the processed distribution of a raw logits row; *lp gets
 * the model's log-probability of the drawn token. */
static int32_t sample_row(t5_gen *g, const float *z, double *lp)
{
    int V = g->V;
    double *w = g->work, mx = -INFINITY;
    for (int v = 0; v < V; v++)
        mx = z[v] > mx ? z[v] : mx;
    double sum = 0;
    for (int v = 0; v < V; v++)
        sum += exp(z[v] - mx);
    double lse = mx + log(sum);

    for (int v = 0; v < V; v++)
        w[v] = z[v];
    if (g->g < g->p.min_new_tokens && g->eos >= 0 && g->eos < V)
        w[g->eos] = -INFINITY;
    if (g->p.temperature != 1.0f)
        for (int v = 0; v < V; v++)
            w[v] /= g->p.temperature;
    /* o[0..keep) gets the candidate tokens, most likely first: the top_k
     * (plus ties with the k-th, which transformers keeps) found by one
     * selection pass, or the whole vocabulary sorted when top-k is off. */
    int32_t *o = g->order;
    int keep = V, k = g->p.top_k;
    if (k > 0 && k < V) {
        int have = 0;
        for (int v = 0; v < V; v++) {
            if (have == k && !(w[v] > w[o[k - 1]]))
                continue;
            int p = have < k ? have++ : k - 1;
            while (p > 0 && w[o[p - 1]] < w[v]) {
                o[p] = o[p - 1];
                p--;
            }
            o[p] = v;
        }
        double kth = w[o[k - 1]];
        int ties = 0;
        for (int v = 0; v < V; v++)
            ties += w[v] == kth;
        int in_set = 0;
        for (int i = 0; i < k; i++)
            in_set += w[o[i]] == kth;
        keep = k;
        if (ties > in_set) { /* rare: rebuild the set as every token >= kth */
            keep = 0;
            for (int v = 0; v < V; v++)
                if (w[v] >= kth)
                    o[keep++] = v;
            qsort_r(o, keep, sizeof(int32_t), cmp_desc, w);
        }
    } else {
        for (int v = 0; v < V; v++)
            o[v] = v;
        qsort_r(o, V, sizeof(int32_t), cmp_desc, w);
    }
    double top = w[o[0]];
    if (g->p.top_p < 1.0f) {
        /* transformers sorts ascending and drops the prefix whose cumulative
         * probability is <= 1 - top_p; equivalently, from the top, keep
         * tokens until the mass below them is <= 1 - top_p. */
        double z2 = 0;
        for (int i = 0; i < keep; i++)
            z2 += exp(w[o[i]] - top);
        /* below: probability of o[i] and everything less likely, i.e. the
         * ascending cumulative sum at o[i]; o[0] is always kept. */
        double below = 1.0, limit = 1.0 - g->p.top_p;
        int kp = keep;
        for (int i = 0; i < keep; i++) {
            if (i > 0 && below <= limit) {
                kp = i;
                break;
            }
            below -= exp(w[o[i]] - top) / z2;
        }
        keep = kp;
    }
    double total = 0;
    for (int i = 0; i < keep; i++)
        total += exp(w[o[i]] - top);
    double u = rng_uniform(g->rng) * total, acc = 0;
    int32_t pick = o[0];
    for (int i = 0; i < keep; i++) { /* inverse CDF over the kept tokens, most likely first */
        acc += exp(w[o[i]] - top);
        pick = o[i];
        if (u < acc)
            break;
    }
    *lp = z[pick] - lse;
    return pick;
}

int t5_gen_advance(t5_gen *g, t5_engine *e, const t5_step_out *out, int row_off, t5_err *err)
{
    if (!g || !out)
        return t5_errf(err, T5_EINVAL, "t5_gen_advance: NULL argument");
    if (g->done)
        return 0;
    if (out->k < t5_gen_topk(g))
        return t5_errf(err, T5_EINVAL, "t5_gen_advance: step returned top-%d, request needs %d",
                       out->k, t5_gen_topk(g));
    if (g->mode == GEN_BEAM)
        return t5__beam_advance(g, e, out, row_off, err);
    if (g->mode == GEN_SAMPLE && !out->logits)
        return t5_errf(err, T5_EINVAL, "t5_gen_advance: sampling needs the step's logits");
    int r = row_off, live = 0;
    for (int i = 0; i < g->K; i++) {
        if (g->fin[i])
            continue;
        int32_t id;
        double lp;
        if (g->mode == GEN_GREEDY) {
            id = out->ids[(size_t)r * out->k];
            lp = out->logprob[(size_t)r * out->k];
        } else {
            id = sample_row(g, out->logits + (size_t)r * g->V, &lp);
        }
        r++;
        g->tok[(size_t)i * g->max_new + g->len[i]] = id;
        g->len[i]++;
        g->sum_lp[i] += lp;
        if (id == g->eos || g->len[i] >= g->max_new)
            g->fin[i] = 1;
        live += !g->fin[i];
    }
    g->g++;
    g->done = live == 0;
    return 0;
}

int t5_gen_take_result(t5_gen *g, t5_gen_result *res, t5_err *err)
{
    if (!g || !res)
        return t5_errf(err, T5_EINVAL, "t5_gen_take_result: NULL argument");
    res->n_seqs = 0;
    res->seqs = NULL;
    int n = g->mode == GEN_BEAM
                ? (g->n_fin < g->p.num_return_sequences ? g->n_fin : g->p.num_return_sequences)
                : g->K;
    res->seqs = calloc(n > 0 ? n : 1, sizeof(t5_gen_seq));
    if (!res->seqs)
        return t5_errf(err, T5_ENOMEM, "t5_gen_take_result: out of memory");
    for (int i = 0; i < n; i++) {
        const int32_t *src;
        int len;
        float score;
        if (g->mode == GEN_BEAM) {
            src = g->fin_tok + (size_t)i * g->max_new;
            len = g->fin_len[i];
            score = g->fin_score[i];
        } else {
            src = g->tok + (size_t)i * g->max_new;
            len = g->len[i];
            score = len ? (float)(g->sum_lp[i] / len) : 0.0f;
        }
        t5_gen_seq *s = &res->seqs[i];
        s->ids = malloc(sizeof(int32_t) * (len > 0 ? len : 1));
        if (!s->ids) {
            res->n_seqs = i;
            t5_gen_result_clear(res);
            return t5_errf(err, T5_ENOMEM, "t5_gen_take_result: out of memory");
        }
        memcpy(s->ids, src, sizeof(int32_t) * len);
        s->n_ids = len;
        s->score = score;
    }
    res->n_seqs = n;
    return 0;
}
