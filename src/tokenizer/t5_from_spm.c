/* t5_from_spm.c - a model directory with only spiece.model, tokenized as
 * transformers does it: AutoTokenizer.from_pretrained(dir) builds T5Tokenizer,
 * whose pipeline (transformers 5) is a tokenizers one, not sentencepiece's:
 *
 *   vocabulary   the model's pieces and scores, then <extra_id_99> ..
 *                <extra_id_0> (score 0); Unigram with unk_id 2, no byte fallback
 *   added        <pad> </s> <unk> and the 100 sentinels, all special
 *   normalizer   Precompiled with the model's character map
 *   pre-tokenize WhitespaceSplit, then Metaspace (U+2581, always, split)
 *   post         TemplateProcessing: $A </s>
 *   decoder      Metaspace (always)
 *
 * It is built as that tokenizer.json would be and loaded by json_load.c, so
 * one code path serves both. tests/tokenizer checks it against the
 * nfkc_v5 references, which transformers produced from the same spiece.model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tokenizer/tok_internal.h"

static char *b64encode(const unsigned char *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *q = o;
    if (!o)
        return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *q++ = tab[v >> 18];
        *q++ = tab[(v >> 12) & 63];
        *q++ = tab[(v >> 6) & 63];
        *q++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        *q++ = tab[v >> 18];
        *q++ = tab[(v >> 12) & 63];
        *q++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *q++ = '=';
    }
    *q = 0;
    return o;
}

/* The character map blob as SentencePiece stored it. */
static unsigned char *charsmap_blob(const t5__charsmap *m, size_t *len)
{
    size_t tsize = m->n_units * 4;
    *len = 4 + tsize + m->norm_len;
    unsigned char *b = malloc(*len);
    if (!b)
        return NULL;
    for (int k = 0; k < 4; k++)
        b[k] = (unsigned char)(tsize >> (8 * k));
    for (size_t i = 0; i < m->n_units; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + (size_t)k] = (unsigned char)(m->units[i] >> (8 * k));
    memcpy(b + 4 + tsize, m->norm, m->norm_len);
    return b;
}

static cJSON *added(int id, const char *content)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "id", id);
    cJSON_AddStringToObject(a, "content", content);
    cJSON_AddBoolToObject(a, "single_word", 0);
    cJSON_AddBoolToObject(a, "lstrip", 0);
    cJSON_AddBoolToObject(a, "rstrip", 0);
    cJSON_AddBoolToObject(a, "normalized", 0);
    cJSON_AddBoolToObject(a, "special", 1);
    return a;
}

static cJSON *metaspace(void)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "Metaspace");
    cJSON_AddStringToObject(m, "replacement", "\xE2\x96\x81");
    cJSON_AddStringToObject(m, "prepend_scheme", "always");
    cJSON_AddBoolToObject(m, "split", 1);
    return m;
}

int t5__t5_from_spm(t5_tokenizer **out, const t5_tokenizer *spm, t5_err *err)
{
    enum { EXTRA = 100 };
    int n = spm->n_pieces;
    cJSON *root = cJSON_CreateObject();
    cJSON *add = cJSON_AddArrayToObject(root, "added_tokens");
    static const char *names[3] = {"<pad>", "</s>", "<unk>"};
    int eos = -1;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < n; i++)
            if (!strcmp(t5__piece_str(spm, i), names[k])) {
                cJSON_AddItemToArray(add, added(i, names[k]));
                if (k == 1)
                    eos = i;
                break;
            }
    char name[32];
    for (int e = 0; e < EXTRA; e++) {
        snprintf(name, sizeof name, "<extra_id_%d>", EXTRA - 1 - e);
        cJSON_AddItemToArray(add, added(n + e, name));
    }
    char *b64 = NULL;
    if (spm->has_cmap) {
        size_t bl;
        unsigned char *blob = charsmap_blob(&spm->cmap, &bl);
        b64 = blob ? b64encode(blob, bl) : NULL;
        free(blob);
        if (!b64) {
            cJSON_Delete(root);
            return t5_errf(err, T5_ENOMEM, "spiece.model: out of memory");
        }
        cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
        cJSON_AddStringToObject(norm, "type", "Precompiled");
        cJSON_AddStringToObject(norm, "precompiled_charsmap", b64);
        free(b64);
    }
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON *ws = cJSON_CreateObject();
    cJSON_AddStringToObject(ws, "type", "WhitespaceSplit");
    cJSON_AddItemToArray(list, ws);
    cJSON_AddItemToArray(list, metaspace());
    if (eos >= 0) {
        cJSON *post = cJSON_AddObjectToObject(root, "post_processor");
        cJSON_AddStringToObject(post, "type", "TemplateProcessing");
        cJSON *single = cJSON_AddArrayToObject(post, "single");
        cJSON *seq = cJSON_CreateObject(), *sq = cJSON_AddObjectToObject(seq, "Sequence");
        cJSON_AddStringToObject(sq, "id", "A");
        cJSON_AddItemToArray(single, seq);
        cJSON *sp = cJSON_CreateObject(), *st = cJSON_AddObjectToObject(sp, "SpecialToken");
        cJSON_AddStringToObject(st, "id", "</s>");
        cJSON_AddItemToArray(single, sp);
        cJSON *specials = cJSON_AddObjectToObject(post, "special_tokens");
        cJSON *def = cJSON_AddObjectToObject(specials, "</s>");
        cJSON *ids = cJSON_AddArrayToObject(def, "ids");
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(eos));
    }
    cJSON_AddItemToObject(root, "decoder", metaspace());
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "Unigram");
    cJSON_AddNumberToObject(model, "unk_id", n > 2 ? 2 : 0);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON *vocab = cJSON_AddArrayToObject(model, "vocab");
    for (int i = 0; i < n + EXTRA; i++) {
        cJSON *e = cJSON_CreateArray();
        if (i < n) {
            cJSON_AddItemToArray(e, cJSON_CreateString(t5__piece_str(spm, i)));
            cJSON_AddItemToArray(e, cJSON_CreateNumber(spm->pieces[i].score));
        } else {
            snprintf(name, sizeof name, "<extra_id_%d>", EXTRA - 1 - (i - n));
            cJSON_AddItemToArray(e, cJSON_CreateString(name));
            cJSON_AddItemToArray(e, cJSON_CreateNumber(0.0));
        }
        cJSON_AddItemToArray(vocab, e);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return t5_errf(err, T5_ENOMEM, "spiece.model: out of memory");
    int rc = t5_tokenizer_load_mem(out, "json", text, strlen(text), err);
    cJSON_free(text);
    return rc;
}
