/* model.h - the loaded model as the engine sees it (private).
 *
 * Weights are backend handles (see backend.h). Projections that are always
 * applied to the same input are fused at load time so one GEMM does them:
 * q|k|v of self-attention, wi_0|wi_1 of a gated FFN, and the cross-attention
 * k|v of every decoder layer (applied once to the encoder output).
 */
#ifndef T5_MODEL_PRIV_H
#define T5_MODEL_PRIV_H

#include "backend/backend.h"
#include "t5_model.h"

typedef struct t5_layer_w {
    void *ln_attn;  /* (d_model) self-attention pre-norm */
    void *w_qkv;    /* (3*inner, d_model) fused q|k|v, inner = n_heads*d_kv */
    void *w_o;      /* (d_model, inner) */
    void *ln_cross; /* (d_model) decoder only: cross-attention pre-norm */
    void *w_cq;     /* (inner, d_model) decoder only: cross-attention query */
    void *w_co;     /* (d_model, inner) decoder only: cross-attention output */
    void *ln_ff;    /* (d_model) FFN pre-norm */
    void *w_in;     /* (d_ff or 2*d_ff, d_model): wi, or wi_0|wi_1 when gated */
    void *w_out;    /* (d_model, d_ff) wo */
} t5_layer_w;

struct t5_model {
    t5_config cfg;
    t5_backend *be;     /* owned */
    t5_tokenizer *tok;  /* owned, may be NULL */
    int inner;          /* n_heads * d_kv */
    void *embed;        /* (vocab, d_model) shared input embedding */
    void *lm_head;      /* (vocab, d_model); == embed when tied (not freed twice) */
    float lm_scale;     /* d_model^-0.5 when tied, else 1 */
    void *enc_bias;     /* (num_buckets, n_heads) fp32, encoder layer 0's table */
    void *dec_bias;     /* (num_buckets, n_heads) fp32, decoder layer 0's table */
    t5_layer_w *enc;    /* [num_layers] */
    t5_layer_w *dec;    /* [num_decoder_layers] */
    void *enc_ln_final; /* (d_model) */
    void *dec_ln_final; /* (d_model) */
    void *w_cross_kv;   /* (num_decoder_layers*2*inner, d_model): per layer k|v */
};

/* t5_model_load onto a backend the caller created (tests use a recording
 * fake). Takes ownership of be, also on failure. */
int t5__model_load_backend(t5_model **out, const char *dir, t5_backend *be, int load_tokenizer,
                           t5_err *err);

#endif
