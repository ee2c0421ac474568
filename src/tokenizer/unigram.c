/* unigram.c - the Viterbi search over the piece lattice of a unigram model.
 *
 * Both references run the same "optimized" search (SentencePiece's
 * Model::EncodeOptimized, which the tokenizers library ported): walk the
 * string one character at a time; from each start, follow the piece trie and
 * relax best_path_ends_at[end] for every piece found; if no piece covers just
 * the one character, relax an unknown node with score min_score - 10. Ties
 * keep the first candidate (strict >), i.e. the earliest start and, for a
 * start, the shortest piece. The two differ in details that decide ties and
 * must be reproduced exactly:
 *
 *   SentencePiece  float arithmetic throughout (path scores, candidates,
 *                  comparisons), as sentencepiece 0.2.x computes them; an
 *                  exact tie such as g+gg versus gg+g is decided by float
 *                  rounding, so doubles here would pick the other split.
 *                  (Releases whose user-defined bonus was the double
 *                  expression length * max_score - 0.1 compared candidates
 *                  in double; the fixtures pin the behaviour we match.)
 *                  User-defined pieces score length * max_score - 0.1f;
 *                  UNUSED pieces are skipped.
 *   tokenizers     doubles throughout, every vocabulary entry is a
 *                  candidate, no user-defined bonus.
 *
 * Unknowns: SentencePiece merges a run of unknown pieces into one <unk> (or
 * spells each as <0xNN> byte pieces with byte_fallback); tokenizers fuses the
 * run into one string and, with byte_fallback, spells it as byte pieces when
 * all exist.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define UNK_PENALTY 10.0

/* best[e]: the best path ending at byte e. After the search, next links
 * the chosen pieces forward so they are emitted without a second buffer. */
typedef struct node_f {
    float score;
    int32_t start; /* -1: not reached */
    int32_t id;
    int32_t next;
} node_f;

typedef struct node_d {
    double score;
    int32_t start;
    int32_t id;
    int32_t next;
} node_d;

#define LINK_FORWARD(best, n, first)                                                               \
    do {                                                                                           \
        int32_t nx_ = -1;                                                                          \
        for (int32_t e_ = (int32_t)(n); e_ > 0;) {                                                 \
            int32_t st_ = best[e_].start;                                                          \
            best[e_].next = nx_;                                                                   \
            nx_ = e_;                                                                              \
            e_ = st_;                                                                              \
        }                                                                                          \
        (first) = nx_;                                                                             \
    } while (0)

static inline int char_len(unsigned char c)
{
    return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[c >> 4];
}

static int emit_spm(const t5_tokenizer *tok, const char *s, node_f *best, size_t n, t5__ids *out)
{
    int32_t first;
    LINK_FORWARD(best, n, first);
    bool prev_unk = false;
    size_t pos = 0;
    for (int32_t e = first; e != -1; pos = (size_t)e, e = best[e].next) {
        int32_t id = best[e].id;
        bool unk = id == tok->unk_id;
        if (unk && tok->byte_fallback) {
            for (size_t b = pos; b < (size_t)e; b++)
                if (t5__ids_push(out, tok->byte_id[(unsigned char)s[b]]) < 0)
                    return T5_ENOMEM;
        } else if (!(unk && prev_unk)) {
            if (t5__ids_push(out, id) < 0)
                return T5_ENOMEM;
        }
        prev_unk = unk;
    }
    return 0;
}

static int viterbi_spm(const t5_tokenizer *tok, const char *s, size_t n, node_f *best, t5__ids *out)
{
    const t5__trie *t = &tok->trie;
    const float unk_score = (float)tok->min_score - (float)UNK_PENALTY;
    const float max_score = (float)tok->max_score;
    for (size_t i = 0; i <= n; i++) {
        best[i].start = -1;
        best[i].score = 0;
        best[i].id = -1;
    }
    size_t st = 0;
    while (st < n) {
        const float till_here = best[st].score;
        size_t mblen = (size_t)char_len((unsigned char)s[st]);
        if (mblen > n - st)
            mblen = n - st;
        bool single = false;
        int32_t state = 0;
        for (size_t kp = st; kp < n && t->size;) {
            state = t5__trie_step(t, state, (unsigned char)s[kp]);
            if (state < 0)
                break;
            kp++;
            int32_t id = t->value[state];
            if (id < 0)
                continue;
            const t5__piece *p = &tok->pieces[id];
            if (p->type == T5__P_UNUSED)
                continue;
            size_t length = kp - st;
            float score =
                p->type == T5__P_USER ? (float)length * max_score - 0.1f : (float)p->score;
            float cand = score + till_here;
            node_f *tn = &best[kp];
            if (tn->start == -1 || cand > tn->score) {
                tn->score = (float)cand;
                tn->start = (int32_t)st;
                tn->id = id;
            }
            if (length == mblen)
                single = true;
        }
        if (!single) {
            node_f *tn = &best[st + mblen];
            float cand = unk_score + till_here;
            if (tn->start == -1 || cand > tn->score) {
                tn->score = cand;
                tn->start = (int32_t)st;
                tn->id = tok->unk_id;
            }
        }
        st += mblen;
    }
    return emit_spm(tok, s, best, n, out);
}

static int viterbi_hf(const t5_tokenizer *tok, const char *s, size_t n, node_d *best, t5__ids *out)
{
    const t5__trie *t = &tok->trie;
    const double unk_score = tok->min_score - UNK_PENALTY;
    for (size_t i = 0; i <= n; i++) {
        best[i].start = -1;
        best[i].score = 0;
        best[i].id = -1;
    }
    size_t st = 0;
    while (st < n) {
        const double till_here = best[st].score;
        size_t mblen = (size_t)char_len((unsigned char)s[st]);
        if (mblen > n - st)
            mblen = n - st;
        bool single = false;
        int32_t state = 0;
        for (size_t kp = st; kp < n && t->size;) {
            state = t5__trie_step(t, state, (unsigned char)s[kp]);
            if (state < 0)
                break;
            kp++;
            int32_t id = t->value[state];
            if (id < 0)
                continue;
            double cand = tok->pieces[id].score + till_here;
            node_d *tn = &best[kp];
            if (tn->start == -1 || cand > tn->score) {
                tn->score = cand;
                tn->start = (int32_t)st;
                tn->id = id;
            }
            if (kp - st == mblen)
                single = true;
        }
        if (!single) {
            node_d *tn = &best[st + mblen];
            double cand = unk_score + till_here;
            if (tn->start == -1 || cand > tn->score) {
                tn->score = cand;
                tn->start = (int32_t)st;
                tn->id = tok->unk_id;
            }
        }
        st += mblen;
    }
    int32_t first;
    LINK_FORWARD(best, n, first);
    size_t pos = 0;
    int32_t e = first;
    while (e != -1) {
        int32_t id = best[e].id;
        if (id != tok->unk_id || tok->unk_id < 0) {
            if (t5__ids_push(out, id) < 0)
                return T5_ENOMEM;
            pos = (size_t)e;
            e = best[e].next;
            continue;
        }
        /* A run of unknown nodes, fused into one string. */
        size_t rs = pos, re = (size_t)e;
        e = best[e].next;
        while (e != -1 && best[e].id == tok->unk_id) {
            re = (size_t)e;
            e = best[e].next;
        }
        pos = re;
        int32_t v = -1;
        size_t l = t5__trie_longest(t, s + rs, re - rs, &v);
        int rc = 0;
        if (l == re - rs && v >= 0) {
            rc = t5__ids_push(out, v);
        } else {
            bool all = tok->byte_fallback;
            for (size_t b = rs; all && b < re; b++)
                all = tok->byte_id[(unsigned char)s[b]] >= 0;
            if (all) {
                for (size_t b = rs; b < re && rc == 0; b++)
                    rc = t5__ids_push(out, tok->byte_id[(unsigned char)s[b]]);
            } else {
                rc = t5__ids_push(out, tok->unk_id);
            }
        }
        if (rc < 0)
            return T5_ENOMEM;
    }
    return 0;
}

int t5__unigram(const t5_tokenizer *tok, const char *s, size_t n, bool hf, t5__ids *out)
{
    if (n == 0)
        return 0;
    if (n >= (size_t)INT32_MAX)
        return T5_ELIMIT;
    /* Short inputs (the common case) use the stack; long ones one malloc. */
    enum { STACK_NODES = 512 };
    int rc;
    if (hf) {
        node_d stack[STACK_NODES],
            *best = n + 1 <= STACK_NODES ? stack : malloc((n + 1) * sizeof *best);
        if (!best)
            return T5_ENOMEM;
        rc = viterbi_hf(tok, s, n, best, out);
        if (best != stack)
            free(best);
    } else {
        node_f stack[STACK_NODES],
            *best = n + 1 <= STACK_NODES ? stack : malloc((n + 1) * sizeof *best);
        if (!best)
            return T5_ENOMEM;
        rc = viterbi_spm(tok, s, n, best, out);
        if (best != stack)
            free(best);
    }
    return rc;
}
