/* vocab.c - the derived lookup structures of a loaded vocabulary: the byte
 * piece table, the piece trie the Viterbi search walks and, for SentencePiece,
 * the user-defined-symbol matcher of the normalizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* "<0xNN>" with two upper- or lower-case hex digits -> NN, else -1. */
static int byte_piece_value(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

int t5__vocab_finish(t5_tokenizer *tok, t5_err *err)
{
    bool hf = tok->kind == T5__KIND_HF;
    int n = tok->n_pieces;
    for (int b = 0; b < 256; b++)
        tok->byte_id[b] = -1;
    for (int i = 0; i < (hf ? tok->n_model : n); i++) {
        const t5__piece *p = &tok->pieces[i];
        /* SentencePiece knows byte pieces by type; tokenizers by the
         * "<0xNN>" spelling (upper case, as SentencePiece writes them). */
        if (!hf && p->type != T5__P_BYTE)
            continue;
        int v = byte_piece_value(t5__piece_str(tok, i), p->len);
        if (v < 0) {
            if (!hf)
                return t5_errf(err, T5_EFORMAT, "piece %d is typed BYTE but is not <0xNN>", i);
            continue;
        }
        if (hf) {
            char want[16];
            snprintf(want, sizeof want, "<0x%02X>", (unsigned)v & 0xFFu);
            if (memcmp(want, t5__piece_str(tok, i), 6))
                continue;
        }
        tok->byte_id[v] = i; /* later duplicates win, as a map insert */
    }
    if (tok->byte_fallback && !hf)
        for (int b = 0; b < 256; b++)
            if (tok->byte_id[b] < 0)
                return t5_errf(err, T5_EFORMAT, "byte_fallback is on but piece <0x%02X> is missing",
                               b);

    t5__trie_key *keys = malloc((n ? (size_t)n : 1) * sizeof *keys);
    if (!keys)
        return t5_errf(err, T5_ENOMEM, "vocabulary: out of memory");
    size_t nk = 0, nu = 0;
    int nm = hf ? tok->n_model : n;
    for (int i = 0; i < nm; i++) {
        const t5__piece *p = &tok->pieces[i];
        if (!hf && !(p->type == T5__P_NORMAL || p->type == T5__P_USER || p->type == T5__P_UNUSED))
            continue;
        keys[nk++] = (t5__trie_key){t5__piece_str(tok, i), p->len, i};
    }
    int rc = t5__trie_build(&tok->trie, keys, nk);
    if (rc == 0 && !hf) {
        /* SentencePiece refuses a model that defines a piece twice. */
        for (size_t k = 0; k < nk; k++) {
            int32_t v = -1;
            size_t l = t5__trie_longest(&tok->trie, keys[k].s, keys[k].len, &v);
            if (l != keys[k].len || v != keys[k].value) {
                int id = keys[k].value;
                free(keys);
                return t5_errf(err, T5_EFORMAT, "piece %d (\"%.100s\") is defined twice", id,
                               t5__piece_str(tok, id));
            }
        }
        for (int i = 0; i < n; i++)
            if (tok->pieces[i].type == T5__P_USER)
                keys[nu++] = (t5__trie_key){t5__piece_str(tok, i), tok->pieces[i].len, i};
        if (nu) {
            rc = t5__trie_build(&tok->user_trie, keys, nu);
            tok->has_user = rc == 0;
        }
    }
    free(keys);
    if (rc < 0)
        return t5_errf(err, T5_ENOMEM, "vocabulary: out of memory building the trie");
    return 0;
}
