/* gen_priv.h - one request's decoding state (t5_gen), shared by gen.c
 * (greedy, sampling, lifecycle) and beam.c (beam search). */
#ifndef T5_GEN_PRIV_H
#define T5_GEN_PRIV_H

#include "t5_engine.h"

enum { GEN_GREEDY = 0, GEN_SAMPLE = 1, GEN_BEAM = 2 };

typedef struct gen_cand {
    float score;  /* cumulative log-prob of the continuation */
    int32_t beam; /* running beam it extends */
    int32_t token;
} gen_cand;

struct t5_gen {
    t5_gen_params p;
    int mode;
    int eos, start, V;
    int32_t cross_slot;
    int K;       /* self slots: num_beams, num_return_sequences (sampling) or 1 */
    int max_new; /* max_new_tokens */
    int g;       /* tokens generated so far by every live hypothesis */
    int done;
    int32_t *slots; /* [K] self slot of hypothesis i (beam search permutes them) */

    /* greedy / sampling: K independent sequences */
    int32_t *tok;    /* [K, max_new] */
    int *len;        /* [K] */
    int *fin;        /* [K] 1 once EOS or max_new_tokens */
    double *sum_lp;  /* [K] sum of model log-probs of the generated tokens */
    uint64_t rng[4]; /* xoshiro256** state */
    double *work;    /* [V] processed logits (sampling) */
    int32_t *order;  /* [V] token order (sampling) */

    /* beam search */
    int n_run;         /* running beams (1 before the first step, then K) */
    float *run_score;  /* [K] cumulative log-prob of running beam i */
    int32_t *run_tok;  /* [K, max_new] */
    int32_t *run_tok2; /* [K, max_new] double buffer for reordering */
    gen_cand *cand;    /* [K * 2K] candidates of one step */
    int n_fin;         /* finished hypotheses kept (<= K), best first */
    float *fin_score;  /* [K] sum_logprobs / len^length_penalty */
    int32_t *fin_tok;  /* [K, max_new] */
    int *fin_len;      /* [K] */
    int unsatisfied;   /* transformers' is_early_stop_heuristic_unsatisfied */
    int32_t *tmp;      /* [4K] scratch for slot reassignment */
};

int t5__beam_rows(t5_gen *g, t5_step_row *rows);
int t5__beam_advance(t5_gen *g, t5_engine *e, const t5_step_out *out, int row_off, t5_err *err);

#endif
