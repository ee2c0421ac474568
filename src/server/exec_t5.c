/* exec_t5.c - the T5 executor: text in, generated text out, on one engine.
 *
 * compute_input is tokenization, compute_infer is generation (one loop for
 * the whole batch, t5_generate's over the t5_gen API: requests with
 * different parameters share the encoder pass and decoder steps), and
 * compute_output is detokenization and, when the model names a lexicon, the
 * choice among a beam search's beams (lexicon reranking, see lexicon.h).
 * Buffers for the largest batch are allocated once, when the instance is
 * created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/exec.h"
#include "server/infer.h"
#include "server/lexicon.h"
#include "server/wordmap.h"

/* The output stage shared by a version's instances and its in-flight codec. */
struct t5_t5_output {
    const t5_tokenizer *tok; /* the codec's (set by t5_exec_t5_codec) */
    t5_lexicon *lex;         /* NULL: beams are returned in their own order */
    float margin;            /* parameter lexicon_margin */
    double prior;            /* parameter lexicon_prior */
    t5_lexicon *keep;        /* parameter keep_words, or NULL */
    t5_lexicon *accept;      /* parameter accept_words, or NULL */
    int max_in;              /* parameter max_input_tokens */
    t5_wordmap words;        /* lowercase_input, word_chars, keep */
};

/* Loads the lexicon file `name` of version directory vdir for parameter key. */
static int load_words(t5_lexicon **out, const char *vdir, const char *name, const char *key,
                      t5_err *err)
{
    char path[4096];
    int rc = snprintf(path, sizeof path, "%s/%s", vdir, name) >= (int)sizeof path
                 ? t5_errf(err, T5_ELIMIT, "%s path too long", key)
                 : t5_lexicon_load(out, path, err);
    return rc < 0 ? t5_err_wrap(err, rc, "parameter %s", key) : 0;
}

int t5_exec_t5_output_create(t5_t5_output **out, const t5_mcfg *cfg, const char *vdir, t5_err *err)
{
    t5_t5_output *o = calloc(1, sizeof *o);
    if (!o)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    o->margin = cfg->lexicon_margin;
    o->prior = cfg->lexicon_prior;
    o->max_in = cfg->max_input_tokens;
    int rc = 0;
    if (cfg->lexicon[0])
        rc = load_words(&o->lex, vdir, cfg->lexicon, "lexicon", err);
    if (rc == 0 && o->prior > 0 && (!o->lex || !t5_lexicon_has_freqs(o->lex)))
        rc = t5_errf(err, T5_EFORMAT,
                     "parameter lexicon_prior needs a lexicon with a frequency on every line "
                     "(word, a tab, its Zipf value)");
    if (rc == 0 && cfg->keep_words[0])
        rc = load_words(&o->keep, vdir, cfg->keep_words, "keep_words", err);
    if (rc == 0 && cfg->accept_words[0])
        rc = !o->lex ? t5_errf(err, T5_EFORMAT,
                               "parameter accept_words belongs to the lexicon reranking: it needs "
                               "parameter lexicon")
                     : load_words(&o->accept, vdir, cfg->accept_words, "accept_words", err);
    if (rc == 0)
        rc = t5_wordmap_init(&o->words, cfg->lowercase_input, cfg->word_chars, o->keep, err);
    if (rc < 0) {
        t5_exec_t5_output_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

void t5_exec_t5_output_free(t5_t5_output *o)
{
    if (!o)
        return;
    t5_lexicon_free(o->lex);
    t5_lexicon_free(o->keep);
    t5_lexicon_free(o->accept);
    free(o);
}

/* Whether rows generated with gp are reranked: a lexicon and a beam search
 * (sampling returns its own draws; greedy has one sequence to return). */
static int reranks(const t5_t5_output *o, const t5_gen_params *gp)
{
    return o && o->lex && gp->num_beams > 1 && !gp->do_sample;
}

/* What the engine runs for a request's gp: when reranking, every beam comes
 * back, and finish_row keeps the requested number. */
static t5_gen_params engine_params(const t5_t5_output *o, const t5_gen_params *gp)
{
    t5_gen_params p = *gp;
    if (reranks(o, gp))
        p.num_return_sequences = p.num_beams;
    return p;
}

static void seq_free(t5_infer_seq *s)
{
    free(s->text);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

/* Each sequence's text as the client gets it: with the kept words and the
 * case of the input text in [n] back (wordmap.h). */
static int map_back(const t5_t5_output *o, const char *in, size_t n, t5_infer_row *row, t5_err *err)
{
    if (!o || !t5_wordmap_active(&o->words))
        return 0;
    for (int j = 0; j < row->n_seqs; j++) {
        t5_infer_seq *s = &row->seqs[j];
        char *t;
        size_t tl;
        int rc = t5_wordmap_output(&o->words, in, n, s->text, s->text_len, &t, &tl, err);
        if (rc < 0)
            return rc;
        free(s->text);
        s->text = t;
        s->text_len = tl;
    }
    return 0;
}

/* A malloc'd copy of the model's text of input in [n] (the input itself when
 * no word map is set), its length in *len; NULL when out of memory. */
static char *model_text(const t5_t5_output *o, const char *in, size_t n, size_t *len)
{
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    if (o && t5_wordmap_active(&o->words)) {
        *len = t5_wordmap_model_text(&o->words, in, n, t);
    } else {
        memcpy(t, in, n);
        t[n] = 0;
        *len = n;
    }
    return t;
}

/* Tokenizes input in [n] as the model sees it (wordmap.h; the text itself
 * when no word map is set) into ids [cap]: t5_tokenizer_encode's result. */
static int encode_text(const t5_t5_output *o, const t5_tokenizer *tok, const char *in, size_t n,
                       int32_t *ids, int cap, t5_err *err)
{
    if (!o || !t5_wordmap_active(&o->words))
        return t5_tokenizer_encode(tok, in, n, ids, cap, T5_TOK_ADD_EOS, err);
    size_t tl;
    char *t = model_text(o, in, n, &tl);
    if (!t)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    int rc = t5_tokenizer_encode(tok, t, tl, ids, cap, T5_TOK_ADD_EOS, err);
    free(t);
    return rc;
}

/* Appends the model's text t[n] as a sequence of row (its token ids with
 * EOS, score 0: the accept list took it, the model did not score it).
 * Returns its index, or -1 when out of memory. */
static int add_input(t5_infer_row *row, const t5_tokenizer *tok, const char *t, size_t n)
{
    t5_infer_seq *p = realloc(row->seqs, (size_t)(row->n_seqs + 1) * sizeof *p);
    if (!p)
        return -1;
    row->seqs = p;
    t5_infer_seq s = {0};
    int cap = (int)n + 8, nt = 0;
    t5_err e = {0};
    if (!(s.text = malloc(n + 1)) || !(s.ids = malloc((size_t)cap * sizeof *s.ids))) {
        seq_free(&s);
        return -1;
    }
    memcpy(s.text, t, n);
    s.text[n] = 0;
    s.text_len = n;
    if (tok && (nt = t5_tokenizer_encode(tok, t, n, s.ids, cap, T5_TOK_ADD_EOS, &e)) > cap) {
        int32_t *ids = realloc(s.ids, (size_t)nt * sizeof *ids); /* more ids than bytes + 8 */
        if (!ids) {
            seq_free(&s);
            return -1;
        }
        s.ids = ids;
        nt = t5_tokenizer_encode(tok, t, n, s.ids, nt, T5_TOK_ADD_EOS, &e);
    }
    s.n_ids = nt > 0 ? nt : 0;
    row->seqs[row->n_seqs] = s;
    return row->n_seqs++;
}

/* After a row's sequences are decoded: the input itself when the accept
 * list takes every word of it, else the lexicon's pick, goes first; the
 * other beams follow in their order, and only the requested number stays.
 * Both judge the model's text of input in [n] and the model's own words;
 * map_back comes after. */
static void finish_row(const t5_t5_output *o, const t5_tokenizer *tok, const t5_gen_params *gp,
                       const char *in, size_t n, t5_infer_row *row)
{
    if (!reranks(o, gp) || row->n_seqs < 1)
        return;
    size_t tl = 0;
    char *mt = o->accept || o->prior > 0 ? model_text(o, in, n, &tl) : NULL;
    int j = mt ? t5_lexicon_accept_at(o->accept, mt, tl, row->seqs, row->n_seqs) : -1;
    if (j == row->n_seqs)
        j = add_input(row, tok, mt, tl);
    if (j < 0) {
        t5_lexicon_rule rule = {o->margin, o->prior, gp->length_penalty, 1};
        if (o->prior > 0 && mt) /* out of memory: the rule without the prior */
            rule.input_known = t5_lexicon_accepts(o->lex, mt, tl);
        j = t5_lexicon_pick(o->lex, row->seqs, row->n_seqs, &rule);
    }
    free(mt);
    if (j > 0) {
        t5_infer_seq s = row->seqs[j];
        memmove(row->seqs + 1, row->seqs, (size_t)j * sizeof *row->seqs);
        row->seqs[0] = s;
    }
    int keep = gp->num_return_sequences < row->n_seqs ? gp->num_return_sequences : row->n_seqs;
    for (int k = keep; k < row->n_seqs; k++)
        seq_free(&row->seqs[k]);
    row->n_seqs = keep;
}

typedef struct t5x {
    t5_engine *e;
    const t5_tokenizer *tok;
    const t5_t5_output *out; /* the version's, shared */
    int max_rows;            /* texts per generation loop */
    int max_slots;           /* self slots of the engine */
    int max_in;              /* tokens per text, EOS included */
    int32_t *ids;            /* [max_rows * max_in] */
    const int32_t **ptr;
    int32_t *lens;
    t5_gen_params *gp;
    t5_gen_result *res;
    int *owner; /* [max_rows]: request index of each row */
    int *orow;  /* [max_rows]: row within its request */
} t5x;

static void t5x_free(void *ctx)
{
    t5x *x = ctx;
    if (!x)
        return;
    t5_engine_free(x->e);
    free(x->ids);
    free(x->ptr);
    free(x->lens);
    free(x->gp);
    free(x->res);
    free(x->owner);
    free(x->orow);
    free(x);
}

static void fail(t5_sched_req *r, int code, const t5_err *e, const char *fallback)
{
    if (r->status)
        return;
    r->status = code;
    t5_errf(&r->err, code, "%s", e && e->msg[0] ? e->msg : fallback);
}

/* Decodes one sequence into s. Ids the tokenizer does not know (a model's
 * vocabulary is often padded beyond the tokenizer's) are dropped. */
static int decode_seq(const t5_tokenizer *tok, const t5_gen_seq *g, t5_infer_seq *s, t5_err *err)
{
    int vocab = t5_tokenizer_vocab_size(tok);
    s->ids = malloc((size_t)(g->n_ids > 0 ? g->n_ids : 1) * sizeof *s->ids);
    int32_t *known = malloc((size_t)(g->n_ids > 0 ? g->n_ids : 1) * sizeof *known);
    if (!s->ids || !known) {
        free(known);
        return t5_errf(err, T5_ENOMEM, "out of memory");
    }
    int nk = 0;
    for (int i = 0; i < g->n_ids; i++) {
        s->ids[i] = g->ids[i];
        if (g->ids[i] >= 0 && g->ids[i] < vocab)
            known[nk++] = g->ids[i];
    }
    s->n_ids = g->n_ids;
    s->score = g->score;
    size_t cap = 64 + (size_t)nk * 8;
    for (int tries = 0; tries < 2; tries++) {
        s->text = malloc(cap);
        if (!s->text) {
            free(known);
            return t5_errf(err, T5_ENOMEM, "out of memory");
        }
        int n = t5_tokenizer_decode(tok, known, nk, s->text, cap, T5_TOK_SKIP_SPECIAL, err);
        if (n < 0) {
            free(known);
            return n;
        }
        if ((size_t)n < cap) {
            s->text_len = (size_t)n;
            free(known);
            return 0;
        }
        free(s->text);
        s->text = NULL;
        cap = (size_t)n + 1;
    }
    free(known);
    return t5_errf(err, T5_EFORMAT, "detokenization did not converge");
}

/* ---- streaming ------------------------------------------------------------ */

/* Appends a generated token to a streaming request and sends the new text.
 * SentencePiece text of a prefix is not always a prefix of the longer
 * text (a piece may change how the previous one renders), so a delta goes
 * out only when the new text extends what was sent. */
static void stream_token(const t5_tokenizer *tok, t5_infer_req *ir, int32_t id)
{
    if (ir->s_n == ir->s_cap) {
        int cap = ir->s_cap ? ir->s_cap * 2 : 32;
        int32_t *p = realloc(ir->s_ids, (size_t)cap * sizeof *p);
        if (!p)
            return;
        ir->s_ids = p;
        ir->s_cap = cap;
    }
    ir->s_ids[ir->s_n++] = id;
    t5_gen_seq g = {ir->s_ids, ir->s_n, 0};
    t5_infer_seq s = {0};
    t5_err e = {0};
    if (decode_seq(tok, &g, &s, &e) == 0 && s.text_len > ir->s_text_len &&
        (!ir->s_text_len || !memcmp(s.text, ir->s_text, ir->s_text_len))) {
        ir->on_delta(ir, s.text + ir->s_text_len, s.text_len - ir->s_text_len);
        free(ir->s_text);
        ir->s_text = s.text;
        ir->s_text_len = s.text_len;
        s.text = NULL;
    }
    free(s.text);
    free(s.ids);
}

/* The server's hooks into t5_generate_ex: after every decoder step each
 * streaming row's new token is sent (generate_stream), and rows whose client
 * left are dropped at the next step, their slots freed, so a vanished client
 * stops costing compute mid-generation. Streams learn of it from their
 * response; other requests by peeking at their socket, at most every
 * CANCEL_CHECK_NS so the syscalls stay off the step's critical path. */
#define CANCEL_CHECK_NS 2000000u

typedef struct hook_ctx {
    t5x *x;
    t5_sched_req **reqs;
    const int *owner; /* row -> request index */
    uint64_t next_check;
    int check; /* poll sockets during this step */
} hook_ctx;

static void hook_begin_step(void *user)
{
    hook_ctx *h = user;
    uint64_t now = t5_now_ns();
    h->check = now >= h->next_check;
    if (h->check)
        h->next_check = now + CANCEL_CHECK_NS;
}

static void hook_on_rows(void *user, int i, const t5_step_row *rows, int n_rows)
{
    hook_ctx *h = user;
    t5_infer_req *ir = h->reqs[h->owner[i]]->payload;
    /* with a wordmap the text comes whole at the end (its kept words are
     * placed once the output's words are known) */
    if (ir->stream && n_rows == 1 && rows[0].pos > 0 &&
        !(h->x->out && t5_wordmap_active(&h->x->out->words)))
        stream_token(h->x->tok, ir, rows[0].token);
}

static int hook_cancelled(void *user, int i)
{
    hook_ctx *h = user;
    t5_sched_req *r = h->reqs[h->owner[i]];
    t5_infer_req *ir = r->payload;
    int gone =
        r->status == T5_ECANCELED ||
        (ir->stream ? ir->gone && ir->gone(ir) : h->check && r->is_cancelled && r->is_cancelled(r));
    if (gone)
        fail(r, T5_ECANCELED, NULL, "the client closed the connection");
    return gone;
}

static int gen_loop(t5x *x, t5_sched_req **reqs, int n, const int32_t *const *ids,
                    const int32_t *lens, const t5_gen_params *params, const int *owner,
                    t5_gen_result *results, t5_err *err)
{
    hook_ctx h = {x, reqs, owner, t5_now_ns() + CANCEL_CHECK_NS, 0};
    t5_gen_hooks hooks = {&h, hook_begin_step, hook_on_rows, hook_cancelled};
    return t5_generate_ex(x->e, n, ids, lens, params, 1, results, &hooks, err);
}

static int t5x_run(void *ctx, t5_sched_req **reqs, int n, t5_err *err)
{
    t5x *x = ctx;
    const t5_engine_params *ep = t5_engine_params_of(x->e);

    /* compute input: tokenize every text of every request */
    int rows = 0;
    for (int i = 0; i < n; i++) {
        t5_sched_req *r = reqs[i];
        t5_infer_req *ir = r->payload;
        t5_err e = {0};
        if (!x->tok) {
            fail(r, T5_EUNSUP, NULL,
                 "this model has no tokenizer (spiece.model or tokenizer.json) in its directory");
            continue;
        }
        if (t5_gen_params_check(&ir->gp, ep, &e) < 0) {
            fail(r, T5_EINVAL, &e, "invalid generation parameters");
            continue;
        }
        if (rows + ir->rows > x->max_rows) {
            fail(r, T5_ELIMIT, NULL, "the batch is larger than the instance's buffers");
            continue;
        }
        for (int j = 0; j < ir->rows && !r->status; j++) {
            int32_t *dst = x->ids + (size_t)(rows + j) * (size_t)x->max_in;
            int nt = encode_text(x->out, x->tok, ir->text[j], ir->text_len[j], dst, x->max_in, &e);
            if (nt < 0) {
                fail(r, T5_EINVAL, &e, "tokenization failed");
            } else if (nt > x->max_in) {
                char m[160];
                snprintf(m, sizeof m, "text_input element %d has %d tokens; the limit is %d", j, nt,
                         x->max_in);
                fail(r, T5_ELIMIT, NULL, m);
            } else if (nt == 0) {
                fail(r, T5_EINVAL, NULL, "text_input element tokenized to nothing");
            } else {
                x->lens[rows + j] = nt;
                x->ptr[rows + j] = dst;
                x->gp[rows + j] = engine_params(x->out, &ir->gp);
                x->owner[rows + j] = i;
                x->orow[rows + j] = j;
            }
        }
        if (!r->status)
            rows += ir->rows;
    }
    uint64_t t = t5_now_ns();
    for (int i = 0; i < n; i++)
        reqs[i]->t_input_ns = t;

    /* compute infer: generation over chunks that fit the engine's slots */
    memset(x->res, 0, (size_t)rows * sizeof *x->res);
    for (int s = 0; s < rows;) {
        int e = s, slots = 0;
        while (e < rows && e - s < ep->max_batch) {
            int need = t5_gen_slots_needed(&x->gp[e]);
            if (e > s && slots + need > x->max_slots)
                break;
            slots += need;
            e++;
        }
        t5_err ge = {0};
        int rc = gen_loop(x, reqs, e - s, x->ptr + s, x->lens + s, x->gp + s, x->owner + s,
                          x->res + s, &ge);
        if (rc < 0)
            for (int q = s; q < e; q++)
                fail(reqs[x->owner[q]], rc, &ge, "generation failed");
        s = e;
    }
    t = t5_now_ns();
    for (int i = 0; i < n; i++)
        reqs[i]->t_infer_ns = t;

    /* compute output: detokenize into each request's rows */
    for (int i = 0; i < n; i++) {
        t5_infer_req *ir = reqs[i]->payload;
        if (!reqs[i]->status && !(ir->res = calloc((size_t)ir->rows, sizeof *ir->res)))
            fail(reqs[i], T5_ENOMEM, NULL, "out of memory");
    }
    for (int q = 0; q < rows; q++) {
        t5_sched_req *r = reqs[x->owner[q]];
        t5_infer_req *ir = r->payload;
        t5_gen_result *g = &x->res[q];
        if (!r->status) {
            t5_infer_row *row = &ir->res[x->orow[q]];
            row->seqs = calloc((size_t)(g->n_seqs > 0 ? g->n_seqs : 1), sizeof *row->seqs);
            if (!row->seqs) {
                fail(r, T5_ENOMEM, NULL, "out of memory");
            } else {
                row->n_seqs = g->n_seqs;
                for (int j = 0; j < g->n_seqs && !r->status; j++) {
                    t5_err de = {0};
                    int rc = decode_seq(x->tok, &g->seqs[j], &row->seqs[j], &de);
                    if (rc < 0)
                        fail(r, rc, &de, "detokenization failed");
                }
                if (!r->status) {
                    t5_err me = {0};
                    finish_row(x->out, x->tok, &ir->gp, ir->text[x->orow[q]],
                               ir->text_len[x->orow[q]], row);
                    int rc =
                        map_back(x->out, ir->text[x->orow[q]], ir->text_len[x->orow[q]], row, &me);
                    if (rc < 0)
                        fail(r, rc, &me, "output text failed");
                }
            }
        }
        t5_gen_result_clear(g);
    }
    t = t5_now_ns();
    for (int i = 0; i < n; i++)
        reqs[i]->t_end_ns = t;
    (void)err;
    return 0;
}

/* ---- the same compute input/output for the in-flight scheduler --------- */

static int codec_input(void *ctx, t5_sched_req *r, int row, int32_t *ids, int cap,
                       t5_gen_params *gp, t5_err *err)
{
    const t5_t5_output *o = ctx;
    const t5_tokenizer *tok = o->tok;
    t5_infer_req *ir = r->payload;
    if (!tok)
        return t5_errf(
            err, T5_EUNSUP,
            "this model has no tokenizer (spiece.model or tokenizer.json) in its directory");
    if (row < 0 || row >= ir->rows)
        return t5_errf(err, T5_EINVAL, "row %d out of range", row);
    int n = encode_text(o, tok, ir->text[row], ir->text_len[row], ids, cap, err);
    if (n > cap)
        return t5_errf(err, T5_ELIMIT, "text_input element %d has %d tokens; the limit is %d", row,
                       n, cap);
    *gp = engine_params(o, &ir->gp);
    return n;
}

static int codec_begin(void *ctx, t5_sched_req *r, t5_err *err)
{
    t5_infer_req *ir = r->payload;
    (void)ctx;
    if (!ir->res && !(ir->res = calloc((size_t)ir->rows, sizeof *ir->res)))
        return t5_errf(err, T5_ENOMEM, "out of memory");
    return 0;
}

static int codec_output(void *ctx, t5_sched_req *r, int row, t5_gen_result *res, t5_err *err)
{
    const t5_t5_output *o = ctx;
    const t5_tokenizer *tok = o->tok;
    t5_infer_req *ir = r->payload;
    int rc = 0;
    if (!ir->res || row < 0 || row >= ir->rows) {
        rc = t5_errf(err, T5_EINVAL, "row %d has no place for its result", row);
    } else {
        t5_infer_row *row_out = &ir->res[row];
        row_out->seqs = calloc((size_t)(res->n_seqs > 0 ? res->n_seqs : 1), sizeof *row_out->seqs);
        if (!row_out->seqs)
            rc = t5_errf(err, T5_ENOMEM, "out of memory");
        else
            row_out->n_seqs = res->n_seqs;
        for (int j = 0; rc == 0 && j < res->n_seqs; j++)
            rc = decode_seq(tok, &res->seqs[j], &row_out->seqs[j], err);
        if (rc == 0) {
            finish_row(o, tok, &ir->gp, ir->text[row], ir->text_len[row], row_out);
            rc = map_back(o, ir->text[row], ir->text_len[row], row_out, err);
        }
    }
    t5_gen_result_clear(res);
    return rc;
}

/* In-flight streaming: the same deltas as the dynamic path's hook. */
static void codec_token(void *ctx, t5_sched_req *r, int row, int32_t id)
{
    const t5_t5_output *o = ctx;
    t5_infer_req *ir = r->payload;
    if (ir->stream && row == 0 && !t5_wordmap_active(&o->words)) /* as hook_on_rows */
        stream_token(o->tok, ir, id);
}

void t5_exec_t5_output_bind(t5_t5_output *o, const t5_model *m)
{
    o->tok = t5_model_tokenizer(m);
}

/* Row i of ir as the accepted input (a sequence of its model text, mapped
 * back), when the accept list takes it and its tokens fit the limit; 0 when
 * it needs the model (or out of memory). */
static int accept_row(const t5_t5_output *o, const t5_infer_req *ir, int i, t5_infer_row *row)
{
    size_t tl;
    char *t = model_text(o, ir->text[i], ir->text_len[i], &tl);
    t5_err e = {0};
    int ok = t && t5_lexicon_accepts(o->accept, t, tl) && add_input(row, o->tok, t, tl) >= 0 &&
             row->seqs[0].n_ids > 0 && row->seqs[0].n_ids <= o->max_in &&
             map_back(o, ir->text[i], ir->text_len[i], row, &e) == 0;
    free(t);
    return ok;
}

static void rows_free(t5_infer_row *res, int n)
{
    for (int i = 0; res && i < n; i++) {
        for (int j = 0; j < res[i].n_seqs; j++)
            seq_free(&res[i].seqs[j]);
        free(res[i].seqs);
    }
    free(res);
}

int t5_exec_t5_accepted(const t5_t5_output *o, t5_infer_req *ir)
{
    if (!o || !o->accept || !o->tok || !reranks(o, &ir->gp) || ir->gp.num_return_sequences != 1 ||
        (ir->outputs & ~T5_OUT_TEXT) || ir->stream || ir->rows < 1)
        return 0;
    t5_infer_row *res = calloc((size_t)ir->rows, sizeof *res);
    int ok = res != NULL;
    for (int i = 0; ok && i < ir->rows; i++)
        ok = accept_row(o, ir, i, &res[i]);
    if (!ok) {
        rows_free(res, ir->rows);
        return 0;
    }
    ir->res = res;
    return 1;
}

int t5_exec_t5_codec(t5_seq_codec *c, const t5_model *m, t5_t5_output *o)
{
    t5_exec_t5_output_bind(o, m);
    c->ctx = o;
    c->input = codec_input;
    c->begin = codec_begin;
    c->output = codec_output;
    c->token = codec_token;
    return 0;
}

/* Creates an instance's engine. On a GPU it is warmed up at once, so graph
 * captures for every padded row count happen at model load, not under the
 * first seconds of traffic (see t5_engine_warmup). */
static int engine_new(t5_engine **out, t5_model *m, const t5_engine_params *ep, const t5_mcfg *cfg,
                      t5_err *err)
{
    int rc = t5_engine_create(out, m, ep, err);
    if (rc < 0 || t5_model_device(m) != T5_DEVICE_CUDA)
        return rc;
    int beams = cfg->max_num_beams > 0 ? cfg->max_num_beams : 1;
    if ((rc = t5_engine_warmup(*out, 2 * beams, err)) < 0) {
        t5_engine_free(*out);
        *out = NULL;
    }
    return rc;
}

int t5_exec_t5_engine(t5_engine **out, t5_model *m, const t5_mcfg *cfg, t5_err *err)
{
    int rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
    int beams = cfg->max_num_beams > 0 ? cfg->max_num_beams : 1;
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = rows * beams; /* rows stepped together: every live hypothesis */
    ep.max_slots = rows * beams;
    ep.max_input_len = cfg->max_input_tokens;
    ep.max_output_len = cfg->max_output_tokens + 1;
    ep.n_threads = cfg->n_threads;
    return engine_new(out, m, &ep, cfg, err);
}

int t5_exec_t5_create(t5_executor *out, t5_model *m, const t5_mcfg *cfg, const t5_t5_output *o,
                      t5_err *err)
{
    t5x *x = calloc(1, sizeof *x);
    if (!x)
        return t5_errf(err, T5_ENOMEM, "out of memory");
    x->out = o;
    x->max_rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
    x->max_in = cfg->max_input_tokens;
    int beams = cfg->max_num_beams > 0 ? cfg->max_num_beams : 1;
    x->max_slots = x->max_rows * beams;
    t5_engine_params ep = t5_engine_default_params();
    ep.max_batch = x->max_rows;
    ep.max_slots = x->max_slots;
    ep.max_input_len = x->max_in;
    ep.max_output_len = cfg->max_output_tokens + 1;
    ep.n_threads = cfg->n_threads;
    int rc = engine_new(&x->e, m, &ep, cfg, err);
    if (rc < 0) {
        free(x);
        return rc;
    }
    x->tok = t5_model_tokenizer(m);
    size_t R = (size_t)x->max_rows;
    x->ids = malloc(R * (size_t)x->max_in * sizeof *x->ids);
    x->ptr = calloc(R, sizeof *x->ptr);
    x->lens = calloc(R, sizeof *x->lens);
    x->gp = calloc(R, sizeof *x->gp);
    x->res = calloc(R, sizeof *x->res);
    x->owner = calloc(R, sizeof *x->owner);
    x->orow = calloc(R, sizeof *x->orow);
    if (!x->ids || !x->ptr || !x->lens || !x->gp || !x->res || !x->owner || !x->orow) {
        t5x_free(x);
        return t5_errf(err, T5_ENOMEM, "out of memory for the instance's buffers");
    }
    out->ctx = x;
    out->run = t5x_run;
    out->free = t5x_free;
    return 0;
}
