/* beam.c - beam search with transformers' semantics (generation/utils.py,
 * _beam_search and its helpers, transformers 5).
 *
 * Each step, for one request of K beams:
 *  1. candidates: every running beam's top 2K tokens, scored by the beam's
 *     cumulative log-prob plus the token's log-softmax (EOS at -inf while
 *     min_new_tokens is not reached). The best 2K over all beams are the
 *     step's candidates; the global top 2K is always inside the union of the
 *     per-beam top 2K. (Before the first step only beam 0 is live, as
 *     transformers' -1e9 initial scores for beams 1.. make it.)
 *  2. a candidate "hits" when its token is EOS or the sequence reaches
 *     max_new_tokens.
 *  3. among the first K candidates, hits become finished hypotheses with
 *     score sum_logprobs / (generated_len ** length_penalty), generated_len
 *     counting the EOS; they enter the K best finished kept so far unless
 *     early_stopping is true and K are already finished, or the early-stop
 *     heuristic was already satisfied.
 *  4. the best K candidates that did not hit continue as the running beams.
 *  5. the heuristic: with K finished, stop improving once the best running
 *     beam's score / (len ** length_penalty) cannot beat the worst finished,
 *     len being the current length, or max_new_tokens when early_stopping is
 *     "never" and length_penalty > 0.
 *  Search ends when the heuristic is satisfied, when early_stopping is true
 *  and K hypotheses are finished, or when every candidate hit.
 * Scores are float32 throughout, as transformers keeps them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gen_priv.h"

int t5__beam_rows(t5_gen *g, t5_step_row *rows)
{
    for (int i = 0; i < g->n_run; i++) {
        t5_step_row *r = &rows[i];
        r->self_slot = g->slots[i];
        r->cross_slot = g->cross_slot;
        r->pos = g->g;
        r->token = g->g == 0 ? g->start : g->run_tok[(size_t)i * g->max_new + g->g - 1];
        r->flags = g->g < g->p.min_new_tokens ? T5_ROW_NO_EOS : 0;
    }
    return g->n_run;
}

/* Candidates in torch.topk order over the flattened (beam, token) scores:
 * larger score first, then the lower flat index. */
static int cand_cmp(const void *a, const void *b)
{
    const gen_cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->beam != y->beam)
        return x->beam - y->beam;
    return x->token - y->token;
}

/* Inserts a finished hypothesis into the best-first list of at most K,
 * after any equal score (the kept ones came first in transformers' merge). */
static void add_finished(t5_gen *g, float score, const int32_t *prefix, int plen, int32_t last)
{
    int K = g->K, T = g->max_new;
    if (g->n_fin == K && !(score > g->fin_score[K - 1]))
        return;
    int p = g->n_fin < K ? g->n_fin++ : K - 1;
    while (p > 0 && g->fin_score[p - 1] < score) {
        g->fin_score[p] = g->fin_score[p - 1];
        g->fin_len[p] = g->fin_len[p - 1];
        memcpy(g->fin_tok + (size_t)p * T, g->fin_tok + (size_t)(p - 1) * T,
               sizeof(int32_t) * g->fin_len[p]);
        p--;
    }
    g->fin_score[p] = score;
    g->fin_len[p] = plen + 1;
    memcpy(g->fin_tok + (size_t)p * T, prefix, sizeof(int32_t) * plen);
    g->fin_tok[(size_t)p * T + plen] = last;
}

int t5__beam_advance(t5_gen *g, t5_engine *e, const t5_step_out *out, int row_off, t5_err *err)
{
    const int K = g->K, kk = 2 * K, T = g->max_new, k = out->k;
    const float lpen = g->p.length_penalty;

    /* 1. candidates */
    int nc = 0;
    for (int j = 0; j < g->n_run; j++) {
        const float *lp = out->logprob + (size_t)(row_off + j) * k;
        const int32_t *id = out->ids + (size_t)(row_off + j) * k;
        for (int c = 0; c < kk && c < k; c++) {
            if (id[c] < 0)
                continue;
            g->cand[nc++] = (gen_cand){g->run_score[j] + lp[c], j, id[c]};
        }
    }
    qsort(g->cand, nc, sizeof(gen_cand), cand_cmp);
    int ntop = nc < kk ? nc : kk;
    int last_step = g->g + 1 >= g->max_new; /* every candidate reaches max length */

    /* 3. finished hypotheses (reads the old running tokens) */
    int beams_full = g->n_fin == K && g->p.early_stopping == 1;
    float denom = (float)pow((double)(g->g + 1), (double)lpen);
    for (int i = 0; i < ntop && i < K; i++) {
        const gen_cand *c = &g->cand[i];
        int hit = c->token == g->eos || last_step;
        if (hit && !beams_full && g->unsatisfied)
            add_finished(g, c->score / denom, g->run_tok + (size_t)c->beam * T, g->g, c->token);
    }

    /* 4. the next running beams, and their caches */
    int nr = 0;
    int32_t *child_of = g->tmp;     /* [K] first new beam of each old beam, or -1 */
    int32_t *new_slot = g->tmp + K; /* [K] */
    int32_t *dst = g->tmp + 2 * K, *src = g->tmp + 3 * K;
    for (int j = 0; j < K; j++)
        child_of[j] = -1;
    float new_score[K];
    int32_t parent[K];
    for (int i = 0; i < ntop && nr < K; i++) {
        const gen_cand *c = &g->cand[i];
        if (c->token == g->eos || last_step)
            continue;
        int32_t *row = g->run_tok2 + (size_t)nr * T;
        memcpy(row, g->run_tok + (size_t)c->beam * T, sizeof(int32_t) * g->g);
        row[g->g] = c->token;
        new_score[nr] = c->score;
        parent[nr] = c->beam;
        nr++;
    }
    if (nr == K) {
        /* A beam's first child keeps its slot; further children get the
         * slots of beams left without children and a copy of the parent's
         * cache. Copies only write slots nobody reads, so order is free. */
        int taken[K];
        memset(taken, 0, sizeof taken);
        for (int j = 0; j < K; j++) {
            new_slot[j] = -1;
            if (child_of[parent[j]] < 0) {
                child_of[parent[j]] = j;
                new_slot[j] = g->slots[parent[j]];
                taken[parent[j]] = 1;
            }
        }
        int ncopy = 0, free_i = 0;
        for (int j = 0; j < K; j++) {
            if (new_slot[j] >= 0)
                continue;
            while (taken[free_i])
                free_i++;
            taken[free_i] = 1;
            new_slot[j] = g->slots[free_i];
            dst[ncopy] = new_slot[j];
            src[ncopy] = g->slots[parent[j]];
            ncopy++;
        }
        int rc = t5_engine_copy_slots(e, ncopy, dst, src, g->g + 1, err);
        if (rc < 0)
            return t5_err_wrap(err, rc, "beam reorder");
        memcpy(g->slots, new_slot, sizeof(int32_t) * K);
        memcpy(g->run_score, new_score, sizeof(float) * K);
        int32_t *t = g->run_tok;
        g->run_tok = g->run_tok2;
        g->run_tok2 = t;
        g->n_run = K;
    }
    g->g++;

    /* 5. stopping */
    if (nr < K) {
        g->done = 1;
        return 0;
    }
    int best_len = (g->p.early_stopping == -1 && lpen > 0) ? g->max_new : g->g;
    float best = g->run_score[0] / (float)pow((double)best_len, (double)lpen);
    g->unsatisfied = g->unsatisfied && (g->n_fin < K || best > g->fin_score[g->n_fin - 1]);
    if (!g->unsatisfied || (g->n_fin == K && g->p.early_stopping == 1) || g->g >= g->max_new)
        g->done = 1;
    return 0;
}
