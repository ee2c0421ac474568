/* engine_priv.h - the engine's state, shared by engine.c, encode.c, step.c.
 *
 * Everything an encode or a step touches is reserved here at creation for
 * the worst case (max_batch rows, max_input_len / max_output_len positions),
 * so neither allocates. Device buffers come from the backend's alloc(); the
 * *_h arrays are host staging for h2d/d2h.
 */
#ifndef T5_ENGINE_PRIV_H
#define T5_ENGINE_PRIV_H

#include "backend/backend.h"
#include "model/model.h"
#include "t5_engine.h"

#define T5__ABS_ENTRIES 4          /* at most */
#define T5__ABS_BYTES (256u << 20) /* device memory the entries may take */
#define T5__ABS_MAX_ROWS 4         /* rows a step may absorb at most (the fused step's FS_MAXM) */
#define T5__ABS_MAX_LEN 32         /* keys an entry holds (the fused step's limit) */

struct t5_engine {
    t5_model *m;
    const t5_config *cfg;
    t5_backend *be;
    t5_stream *st;  /* decoder steps */
    t5_stream *est; /* the encoder (its own stream on a GPU, so it can overlap a step; else st) */
    t5_engine_params p;
    /* t5_engine_encode_start's requests until t5_engine_encode_wait */
    int32_t *enc_pend_slots, *enc_pend_lens; /* [max_batch] */
    int enc_pend_n;

    int d;       /* d_model */
    int inner;   /* n_heads * d_kv */
    int ff_cols; /* d_ff, or 2*d_ff when gated (wi_0 | wi_1) */
    int V;       /* vocab_size */
    int kmax;    /* largest top-k a step may ask for: 2 * max_slots */
    t5_attn_shape enc_sh, dec_sh;

    /* KV caches. Both layouts have max_slots + 1 slots: the last one is a
     * scratch slot that padding rows of a step read and write, so padding
     * never touches a real sequence. */
    t5_kv_layout self_lay;   /* (dec layers, max_slots+1, heads, max_output_len, d_kv) */
    t5_kv_layout cross_lay;  /* (dec layers, max_slots+1, heads, max_input_len, d_kv) */
    void *self_k, *self_v;   /* act, self_lay */
    void *cross_k, *cross_v; /* act, cross_lay */
    int32_t *cross_len;      /* host [max_slots]: encoded length per cross slot, 0 = empty */
    int32_t *self_len;       /* host [max_slots]: positions filled per self slot */
    uint32_t *slot_mark;     /* host [max_slots]: duplicate-slot check of a step */
    uint32_t mark_gen;

    /* Encoder scratch for enc_rows padded tokens (one encode group). */
    int enc_rows;
    int enc_gemm_rows; /* rows of the buffers below (GEMM padding, encode.c) */
    float *enc_x;      /* (enc_rows, d) fp32 residual */
    void *enc_norm;    /* (enc_rows, d) act */
    void *enc_qkv;     /* (enc_rows, 3*inner) act */
    void *enc_attn;    /* (enc_rows, inner) act */
    void *enc_ff;      /* (enc_rows, ff_cols) act */
    void *enc_ff2;     /* (enc_rows, d_ff) act, gated only (else aliases enc_ff) */
    void *enc_ckv;     /* (enc_rows, dec layers * 2 * inner) act: cross K|V of all layers */
    /* device (5 * max_batch + enc_rows): a group of np requests' lengths
     * [0, np), cross slots [np, 2 np), ids [2 np, 2 np + np * L) and, where
     * the encode absorbs, (entry, slot, length) of each request after them;
     * one copy */
    int32_t *enc_in;
    int32_t *enc_in_h; /* its host twin */
    int enc_in_pinned; /* enc_in_h from host_alloc: an encoder graph copies it itself */
    void *enc_out_h;   /* host (enc_rows, d) act, only when act is not fp32 */

    /* Decoder step scratch for max_batch rows. */
    float *x;      /* (max_batch, d) fp32 residual */
    void *norm;    /* (max_batch, d) act */
    void *qkv;     /* (max_batch, 3*inner) act */
    void *attn;    /* (max_batch, inner) act */
    void *q;       /* (max_batch, inner) act: cross-attention query */
    void *ff;      /* (max_batch, ff_cols) act */
    void *ff2;     /* (max_batch, d_ff) act, gated only (else aliases ff) */
    float *logits; /* (max_batch, V) fp32 */
    /* A step's inputs and results each move in one copy. The input block
     * (tok owns it, 7 * max_batch ints) holds a step of np padded rows as
     * [tok np | no_eos np | rows 4 np | absorbed entry np]: no_eos and rows are set per step
     * (they depend only on np, part of the graph key). The top-k block
     * (top_v owns it, 2 * max_batch * kmax) holds a step's n*k values and
     * then its ids (top_i = top_v + n*k, set per step). */
    float *top_v;    /* (n, k) fp32 */
    int32_t *top_i;  /* (n, k), right after top_v's n*k */
    int32_t *tok;    /* device (np); the block ends with each row's absorbed entry (np) */
    int32_t *no_eos; /* device (np), tok + np */
    int32_t *rows;   /* device (np, 4): self_slot, cross_slot, pos, enc_len; tok + 2 np */
    int32_t *tok_h;  /* host twin of the input block */
    float *top_h;    /* host landing of the top-k block */

    /* The decoder step as one op, for backends that have decode_step
     * (filled at creation; n and k set per step). */
    t5_fused_step fused;

    /* Absorbed cross-attention (backend.h, cross_absorb): T5__ABS_ENTRIES
     * entries in fused.abs_m / abs_n, each holding one cross slot's folded
     * K/V, filled by step.c when a step of <= abs_rows rows needs
     * one and forgotten when the slot is encoded again. abs_on: the entries
     * there are (<= T5__ABS_ENTRIES, within T5__ABS_BYTES); 0 when the backend
     * has no cross_absorb or the buffers could not be had. */
    int abs_on;
    int abs_rows; /* steps of up to this many rows absorb (T5_ENGINE_ABS_ROWS,
                   * default 1; set whether or not abs_on) */
    int32_t abs_slot[T5__ABS_ENTRIES];  /* the cross slot an entry holds, -1: none */
    uint32_t abs_used[T5__ABS_ENTRIES]; /* the step that last used it (least recent goes) */
    uint32_t abs_clock;
    int32_t *slot_abs; /* host [max_slots]: the entry holding a cross slot, -1: none */
    void *abs_wx;      /* the layers' w_cqx (backend.h: absorb_weights) */
    int abs_enc;       /* t5_generate's encodes may fill entries (encode.c); 0 once the
                        * backend declines to in a graph */

    /* What the step function issues (fixed per run_cached key): the input
     * block's token array and the top-k values it writes (tok and top_v for
     * a step; per step within a chain), and with no_eos, rows, top_i above. */
    int32_t *io_tok;
    float *io_topv;
    /* t5_engine_steps_greedy: S + 1 input blocks of 7 * T5_ENGINE_CHAIN_ROWS
     * ints for S <= T5_ENGINE_CHAIN_STEPS steps (step s writes its top-1 ids
     * into block s+1's tokens), their host twin, and the steps' top-1 values
     * (chain_v, chain_vh: inside chain, chain_h, after the blocks) */
    int32_t *chain, *chain_h;
    float *chain_v, *chain_vh;
    int chain_steps; /* the chain being issued (run_cached's function) */
    /* tok_pinned, chain_pinned: tok_h, chain_h from host_alloc, so a step's
     * or chain's graph copies its input block itself (step.c): in_ints ints
     * from in_h to in_dev first thing in the run_cached function, 0 when
     * copied before */
    int tok_pinned, chain_pinned;
    size_t in_ints;
    const int32_t *in_h;
    int32_t *in_dev;
    int no_chain;    /* T5_ENGINE_NO_CHAIN: t5_generate steps one by one (A/B) */
    int no_join;     /* T5_ENGINE_NO_JOIN: t5_generate waits for its encodes (A/B) */
    int no_in_graph; /* T5_ENGINE_NO_IN_GRAPH: encoder graphs' inputs copied before them (A/B) */
    int step_n;      /* padded row count */
    int step_k;
    /* t5_engine_step_start's step until t5_engine_step_wait */
    int step_pend, pend_n;
    t5_step_out *pend_out;
};

/* For t5_generate's chained greedy steps (gen.c): the steps a request has
 * left if it decodes greedily with one sequence (else 0), and whether its
 * EOS is masked s steps from now (min_new_tokens). */
int t5__gen_greedy_left(const t5_gen *g);
int t5__gen_no_eos(const t5_gen *g, int s);

/* Forgets the absorbed entry of cross slot `slot` (if any); slot -1: all. */
void t5__abs_forget(t5_engine *e, int slot);
/* The next use of the entries (the clock absorb_rows and encodes share). */
uint32_t t5__abs_tick(t5_engine *e);
/* Frees and returns the least recently used entry not used at `now`. */
int t5__abs_take(t5_engine *e, uint32_t now);

/* x += wo(act(wi(h))) for n rows of h (gated: act(wi_0 h) * wi_1 h), with
 * ff / ff2 as scratch (engine.c). */
int t5__ffn(const t5_engine *e, t5_stream *s, float *x, const void *h, void *ff, void *ff2,
            const t5_layer_w *w, int n, t5_err *err);

/* The smallest power of two >= n (n >= 1): the padding of small batches
 * for graph-capturing backends (encode.c, step.c). */
static inline int t5__pow2_at_least(int n)
{
    int p = 1;
    while (p < n)
        p *= 2;
    return p;
}

/* The request count and length an encode group of n requests of length L
 * is padded to (encode.c; the identity on the CPU and for groups whose
 * bucket would exceed T5__ENC_GRAPH_TOKENS padded tokens). */
#define T5__ENC_GRAPH_TOKENS 1024
int t5__enc_bucketed(const t5_engine *e, int n, int L);
int t5__enc_bucket_n(const t5_engine *e, int n, int L);
int t5__enc_bucket_len(const t5_engine *e, int n, int L);
/* The GEMMs of a group encoded eagerly on a GPU run over its row count
 * rounded up to a multiple of this (encode.c says why); the encoder
 * buffers hold enc_gemm_rows >= enc_rows rows for it. */
#define T5__ENC_GEMM_ROWS 128
int t5__enc_gemm_rows(const t5_engine *e, int n, int L);

/* t5_generate's encode (encode.c): ordered before the step stream's next
 * work with no host wait where the backend can join streams (else
 * t5_engine_encode), finished by the step stream's next sync. absorb: the
 * requests' absorbed entries filled by the encoder too, where it can. */
int t5__encode_joined(t5_engine *e, int n, const int32_t *cross_slots, const int32_t *const *ids,
                      const int32_t *lens, int absorb, t5_err *err);
/* The row count a decoder step of n rows is padded to (step.c). */
int t5__step_rows(const t5_engine *e, int n);

#endif
