/* lexicon.h - a word list for lexicon reranking of generated beams.
 *
 * A model may name a lexicon in config.pbtxt (parameter "lexicon": a file in
 * its version directory, one word per line). After a beam search the T5
 * executor then returns, first, the best beam whose words are all in the
 * lexicon (within lexicon_margin of the top beam's score), or the top beam
 * when none is: the shipped speller picks real words from its five beams the
 * way a dictionary checker picks from its dictionary (bench/speller.md).
 *
 * A word is a run of bytes between ASCII white space; it is in the lexicon when
 * its ASCII-lower-cased form is, or when it holds no letter at all (no ASCII
 * letter and no byte >= 0x80), so numbers such as "12" or "5.5" pass.
 * tools/speller/rerank.py is the same rule in Python.
 *
 *     t5_lexicon *lx;
 *     if (t5_lexicon_load(&lx, "models/speller/1/lexicon.txt", &err) < 0) ... err.msg ...
 *     int j = t5_lexicon_pick(lx, row->seqs, row->n_seqs, INFINITY);
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
 * blank lines ignored, ASCII letters folded to lower case. A line holding a
 * space, a tab or another control byte, a word longer than
 * T5_LEXICON_MAX_WORD, a file larger than T5_LEXICON_MAX_BYTES or one with no
 * word fails with a message naming the file (and the line). */
int t5_lexicon_load(t5_lexicon **out, const char *path, t5_err *err);
/* The same from memory; name is used in messages. */
int t5_lexicon_parse(t5_lexicon **out, const char *data, size_t len, const char *name, t5_err *err);
void t5_lexicon_free(t5_lexicon *lx);

/* Distinct words. */
int t5_lexicon_size(const t5_lexicon *lx);
/* Whether one word (len bytes) is in the lexicon, as described above. */
int t5_lexicon_has(const t5_lexicon *lx, const char *word, size_t len);
/* Whether every word of text is (an empty text is). */
int t5_lexicon_accepts(const t5_lexicon *lx, const char *text, size_t len);
/* Index of the sequence to return first among n beams, best first: the first
 * whose text the lexicon accepts and whose score is >= seqs[0].score -
 * margin (INFINITY: any), else 0. */
int t5_lexicon_pick(const t5_lexicon *lx, const t5_infer_seq *seqs, int n, float margin);

#endif
