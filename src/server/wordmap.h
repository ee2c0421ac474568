/* wordmap.h - what a model sees of a query, and how its output gets the rest
 * of the query back.
 *
 * The shipped speller was trained on lower-case words: a capital letter, a
 * digit it never saw or a hyphen is an unknown piece to its tokenizer, and its
 * output for "Wirless Hedphones" or "dyson v11" was nonsense. A model may
 * therefore declare, in config.pbtxt, the text it understands:
 *
 *     parameters: { key: "lowercase_input" value: { string_value: "true" } }
 *     parameters: { key: "word_chars" value: { string_value: "abcdefghijklmnopqrstuvwxyz'" } }
 *
 *     parameters: { key: "keep_words" value: { string_value: "keep.txt" } }
 *
 * A word is a run of bytes between ASCII white space. With word_chars set, a
 * word holding any other byte (after lower-casing: a digit, "-", "/", a
 * non-ASCII letter) is a "kept" word: it is not shown to the model and
 * comes back unchanged; so is a word that keep_words (a file of the version
 * directory, one word a line, read as a lexicon: lexicon.h) holds, e.g. the
 * brand names of a catalogue that the model would "correct" ("airpods" ->
 * "airports"). The model sees the other words, lower-cased when
 * lowercase_input is true, joined by single spaces. On the way back
 * (t5_wordmap_output), with N words shown and M words generated:
 *
 *  - case: when M == N, output word i gets input word i's form back: the
 *    input word itself when the model left it unchanged (so "iPhone" stays
 *    "iPhone"), else upper case when the input word was ("USB", two letters
 *    or more, none lower case), else a capital first letter when the input
 *    word had one. When M != N (the model split or joined words): all upper
 *    case when every letter shown was upper case (two or more), else every
 *    word capitalised when every word shown was, else the first word
 *    capitalised when the first word shown was;
 *  - kept words: one that followed k of the shown words goes after output
 *    word k when M == N, else after output word round(k * M / N); several
 *    at one place keep their order; with no word shown the output is the
 *    input's words.
 *
 * The output is its words joined by single spaces. tools/speller/rerank.py
 * (model_text, output_text) is the same rule in Python. Without any of the
 * three parameters a model's text passes untouched. A wordmap is immutable
 * once made: any number of threads may use it.
 */
#ifndef T5_SERVER_WORDMAP_H
#define T5_SERVER_WORDMAP_H

#include <stddef.h>

#include "server/lexicon.h"
#include "t5_common.h"

#define T5_WORDMAP_MAX_CHARS 127 /* bytes of word_chars */

typedef struct t5_wordmap {
    int lowercase;            /* lowercase_input */
    unsigned char known[256]; /* byte -> 1 when in word_chars */
    int has_chars;            /* word_chars was given */
    const t5_lexicon *keep;   /* keep_words, or NULL (not owned) */
} t5_wordmap;

/* Sets m from the parameters (chars NULL or "": no word kept for its bytes;
 * keep NULL: none for being listed; keep must outlive m). Fails on a chars
 * string longer than T5_WORDMAP_MAX_CHARS or holding white space. */
int t5_wordmap_init(t5_wordmap *m, int lowercase, const char *chars, const t5_lexicon *keep,
                    t5_err *err);
/* Whether m changes anything. */
int t5_wordmap_active(const t5_wordmap *m);

/* The model's text for input in [n]: written to out, which must have room
 * for n + 1 bytes (it is never longer); returns its length. */
size_t t5_wordmap_model_text(const t5_wordmap *m, const char *in, size_t n, char *out);

/* The text returned for the model's output gen [gn] of input in [n]:
 * malloc'd and NUL-terminated in *out, its length in *out_len. */
int t5_wordmap_output(const t5_wordmap *m, const char *in, size_t n, const char *gen, size_t gn,
                      char **out, size_t *out_len, t5_err *err);

#endif
