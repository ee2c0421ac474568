/* lexicon.h - a word list for lexicon reranking of generated beams.
 *
 * A model may name a lexicon in config.pbtxt (parameter "lexicon": a file in
 * its version directory, one word per line, optionally followed by a tab and
 * the word's Zipf frequency). After a beam search the T5 executor then
 * returns, first, the best beam whose words are all in the lexicon (within
 * lexicon_margin of the top beam's score), or the top beam when none is: the
 * shipped speller picks real words from its five beams the way a dictionary
 * checker picks from its dictionary (bench/speller.md).
 *
 * With lexicon_prior p > 0 (which needs a frequency on every line), an input
 * holding a word the lexicon lacks gets instead, among the beams the lexicon
 * accepts within the margin, the one with the largest
 *     score * n_ids^length_penalty + p * ln(10) * sum over its words (zipf - 9)
 * (the beam's summed log-probability plus a word-frequency prior; a word
 * without a letter adds 0), the first of equals; the top beam when none is
 * accepted. An input whose words are all known is picked as without p.
 *
 * With an accept list (below) an input whose words are all in it comes first,
 * unchanged, before any of this.
 *
 * A word is a run of bytes between ASCII white space; it is in the lexicon when
 * its ASCII-lower-cased form is, or when it holds no letter at all (no ASCII
 * letter and no byte >= 0x80), so numbers such as "12" or "5.5" pass.
 * tools/speller/rerank.py is the same rule in Python.
 *
 *     t5_lexicon *lx;
 *     if (t5_lexicon_load(&lx, "models/speller/1/lexicon.txt", &err) < 0) ... err.msg ...
 *     t5_lexicon_rule rule = {INFINITY, 0.65, 1.0f, t5_lexicon_accepts(lx, in, n)};
 *     int j = t5_lexicon_pick(lx, row->seqs, row->n_seqs, &rule);
 *     t5_lexicon_free(lx);
 *
 * A loaded lexicon is immutable: any number of threads may query it.
 */
#ifndef T5_SERVER_LEXICON_H
#define T5_SERVER_LEXICON_H

#include <stddef.h>

#include "server/infer.h"
#include "t5_common.h"

#define T5_LEXICON_MAX_WORD 255          /* bytes per word */
#define T5_LEXICON_MAX_BYTES (64u << 20) /* file size */

typedef struct t5_lexicon t5_lexicon;

/* Reads a lexicon file: UTF-8 text, one word per line ('\n' or "\r\n"),
 * optionally followed by one tab and the word's Zipf frequency (a finite
 * decimal number: digits, sign, point, exponent), blank lines ignored, ASCII letters folded to
 * lower case; a word listed twice keeps its first line's frequency. A word holding a space, a tab
 * or another control byte, a frequency that is not a number, a word longer than
 * T5_LEXICON_MAX_WORD, a file larger than T5_LEXICON_MAX_BYTES or one with no word fails with a
 * message naming the file (and the line). */
int t5_lexicon_load(t5_lexicon **out, const char *path, t5_err *err);
/* The same from memory; name is used in messages. */
int t5_lexicon_parse(t5_lexicon **out, const char *data, size_t len, const char *name, t5_err *err);
void t5_lexicon_free(t5_lexicon *lx);

/* Distinct words. */
int t5_lexicon_size(const t5_lexicon *lx);
/* Whether every word has a frequency. */
int t5_lexicon_has_freqs(const t5_lexicon *lx);
/* Whether one word (len bytes) is in the lexicon, as described above. */
int t5_lexicon_has(const t5_lexicon *lx, const char *word, size_t len);
/* Whether every word of text is (an empty text is). */
int t5_lexicon_accepts(const t5_lexicon *lx, const char *text, size_t len);

typedef struct t5_lexicon_rule {
    float margin;         /* INFINITY: any beam */
    double prior;         /* p above; 0: none (a lexicon without frequencies needs 0) */
    float length_penalty; /* the beam search's, which normalized the scores */
    int input_known;      /* every word of the input is in the lexicon */
} t5_lexicon_rule;

/* Index of the sequence to return first among n beams, best first, as
 * described above: without the prior (or for a known input) the first whose
 * text the lexicon accepts and whose score is >= seqs[0].score - margin, else
 * 0. */
int t5_lexicon_pick(const t5_lexicon *lx, const t5_infer_seq *seqs, int n,
                    const t5_lexicon_rule *rule);

/* A model's accept list (parameter "accept_words", a lexicon file): an input
 * whose words are all in it comes back unchanged, the way a dictionary
 * checker leaves the words it knows. For the model's text of the input in
 * [len] and its n beams: -1 when the list does not accept the input (or
 * accept is NULL), else the index of the beam whose text equals the input,
 * or n when none does (the caller puts the input itself first). The server
 * answers a request whose every row the list takes without the model
 * (exec.h, t5_exec_t5_accepted). */
int t5_lexicon_accept_at(const t5_lexicon *accept, const char *in, size_t len,
                         const t5_infer_seq *seqs, int n);

#endif
