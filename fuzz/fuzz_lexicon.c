/* fuzz_lexicon.c - libFuzzer target for a model's lexicon file (lexicon.c):
 * the parser, then lookups and the beam pick with whatever it accepts.
 * An accepted lexicon has at least one word, each of which it finds again;
 * a rejected one carries a message. Seeds: fuzz/corpus/fuzz_lexicon.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/lexicon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    t5_lexicon *lx = NULL;
    t5_err err = {0};
    if (t5_lexicon_parse(&lx, (const char *)data, size, "fuzz", &err) < 0) {
        if (!err.msg[0] || lx)
            abort();
        return 0;
    }
    if (t5_lexicon_size(lx) < 1)
        abort();
    /* every line's word (lower-cased by the parser) is found again */
    const char *p = (const char *)data, *end = p + size;
    if (size >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) /* the parser skips a byte order mark */
        p += 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        if (n && p[n - 1] == '\r')
            n--;
        const char *tab = memchr(p, '\t', n); /* a frequency follows the word */
        if (tab)
            n = (size_t)(tab - p);
        if (n && !t5_lexicon_has(lx, p, n))
            abort();
        p = nl ? nl + 1 : end;
    }
    /* the input as text, split on white space, and a pick among beams */
    t5_lexicon_accepts(lx, (const char *)data, size < 4096 ? size : 4096);
    t5_infer_seq seqs[3];
    memset(seqs, 0, sizeof seqs);
    static const char *texts[3] = {"zzqx wrold", "the world", "12 5.5"};
    for (int i = 0; i < 3; i++) {
        seqs[i].text = (char *)texts[i];
        seqs[i].text_len = strlen(texts[i]);
        seqs[i].score = -(float)i;
        seqs[i].n_ids = 2 + i;
    }
    for (int r = 0; r < 4; r++) {
        t5_lexicon_rule rule = {r & 1 ? 0.5f : INFINITY, r & 2 ? 0.65 : 0, 1.0f, 0};
        if (rule.prior > 0 && !t5_lexicon_has_freqs(lx))
            continue;
        int j = t5_lexicon_pick(lx, seqs, 3, &rule);
        if (j < 0 || j > 2)
            abort();
    }
    t5_lexicon_free(lx);
    return 0;
}
