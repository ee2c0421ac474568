/* json_load.c - reads a Hugging Face tokenizer.json (tokenizers library).
 *
 * Supported, as T5, mT5, flan-t5 and SentencePiece-converted files use them:
 *   model           Unigram (vocab [piece, score], unk_id, byte_fallback)
 *   added_tokens    id, content, special, lstrip, rstrip, single_word, normalized
 *   normalizer      Precompiled, Strip, Replace (string or regex), Prepend, Sequence
 *   pre_tokenizer   Metaspace, WhitespaceSplit, Split, Sequence
 *   post_processor  TemplateProcessing (the "single" template)
 *   decoder         Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence
 * Anything else (NFKC, Lowercase, BPE models, ByteLevel ...) is refused with
 * T5_EUNSUP and its name, never silently approximated.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tokenizer/tok_internal.h"

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 (padding optional); returns the length or -1. */
static long b64decode(const char *in, unsigned char *out)
{
    long n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p == '=')
            break;
        if (*p == '\n' || *p == '\r')
            continue;
        int v = b64val(*p);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool jbool(const cJSON *o, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    return dflt;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Escapes a literal so the regex engine matches it verbatim. */
static char *regex_escape(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(2 * n + 1), *q = d;
    if (!d)
        return NULL;
    for (; *s; s++) {
        if (strchr("\\^$.|?*+()[]{}", *s))
            *q++ = '\\';
        *q++ = *s;
    }
    *q = 0;
    return d;
}

static int one_cp(const char *s, uint32_t *cp)
{
    size_t n = strlen(s);
    int l = t5__utf8_next((const unsigned char *)s, n, cp);
    return l > 0 && (size_t)l == n ? 0 : -1;
}

static int prepend_scheme(const cJSON *o)
{
    const char *ps = jstr(o, "prepend_scheme");
    if (ps) {
        if (!strcmp(ps, "first"))
            return T5__PREPEND_FIRST;
        if (!strcmp(ps, "never"))
            return T5__PREPEND_NEVER;
        return T5__PREPEND_ALWAYS;
    }
    return jbool(o, "add_prefix_space", true) ? T5__PREPEND_ALWAYS : T5__PREPEND_NEVER;
}

/* Generic growable arrays of ops. */
#define PUSH(arr, n, item)                                                                         \
    do {                                                                                           \
        void *np_ = realloc((arr), (size_t)((n) + 1) * sizeof *(arr));                             \
        if (!np_)                                                                                  \
            return t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");                       \
        (arr) = np_;                                                                               \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

static int load_normalizer(t5_tokenizer *tok, const cJSON *o, int depth, t5_err *err)
{
    if (!o || cJSON_IsNull(o))
        return 0;
    if (depth > 16)
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: normalizers nested too deep");
    const char *type = jstr(o, "type");
    if (!type)
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: normalizer without a type");
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "normalizers"), *it;
        if (!cJSON_IsArray(arr))
            return t5_errf(err, T5_EFORMAT, "tokenizer.json: Sequence normalizer without a list");
        cJSON_ArrayForEach(it, arr)
        {
            int rc = load_normalizer(tok, it, depth + 1, err);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    t5__norm_op op = {0};
    if (!strcmp(type, "Precompiled")) {
        const char *b64 = jstr(o, "precompiled_charsmap");
        if (!b64 || !*b64)
            return 0; /* an empty map is the identity */
        if (tok->has_cmap)
            return t5_errf(err, T5_EUNSUP, "tokenizer.json: two Precompiled normalizers");
        size_t l = strlen(b64);
        unsigned char *blob = malloc(l / 4 * 3 + 4);
        if (!blob)
            return t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
        long bl = b64decode(b64, blob);
        int rc =
            bl < 0 ? t5_errf(err, T5_EFORMAT, "tokenizer.json: precompiled_charsmap is not base64")
                   : t5__charsmap_init(&tok->cmap, blob, (size_t)bl, err);
        free(blob);
        if (rc < 0)
            return t5_err_wrap(err, rc, "tokenizer.json");
        tok->has_cmap = true;
        op.kind = T5__N_PRECOMPILED;
    } else if (!strcmp(type, "Strip")) {
        op.kind = T5__N_STRIP;
        op.left = jbool(o, "strip_left", false);
        op.right = jbool(o, "strip_right", false);
    } else if (!strcmp(type, "Replace")) {
        op.kind = T5__N_REPLACE;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
        const char *content = jstr(o, "content");
        const char *lit = jstr(pat, "String"), *rx = jstr(pat, "Regex");
        if (!content || (!lit && !rx))
            return t5_errf(err, T5_EFORMAT,
                           "tokenizer.json: Replace normalizer needs pattern and content");
        op.content = dupn(content, strlen(content));
        op.content_len = strlen(content);
        if (lit) {
            op.pat = dupn(lit, strlen(lit));
            op.pat_len = strlen(lit);
            if (!op.pat_len) {
                free(op.pat);
                free(op.content);
                return 0; /* an empty pattern replaces nothing */
            }
        } else {
            int rc = t5__re_compile(&op.re, rx, err);
            if (rc < 0) {
                free(op.content);
                return t5_err_wrap(err, rc, "tokenizer.json: Replace normalizer");
            }
        }
        if (!op.content || (lit && !op.pat))
            return t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
    } else if (!strcmp(type, "Prepend")) {
        const char *pre = jstr(o, "prepend");
        if (!pre)
            return t5_errf(err, T5_EFORMAT, "tokenizer.json: Prepend normalizer without prepend");
        op.kind = T5__N_PREPEND;
        op.content = dupn(pre, strlen(pre));
        op.content_len = strlen(pre);
        if (!op.content)
            return t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
    } else {
        return t5_errf(err, T5_EUNSUP, "tokenizer.json: normalizer \"%.40s\" is not supported",
                       type);
    }
    PUSH(tok->norm, tok->n_norm, op);
    return 0;
}

/* A Metaspace pre-tokenizer's or decoder's replacement character ("replacement",
 * or the older "str_rep"; U+2581 by default): its code point, and its text
 * into *rep unless rep is NULL. */
static int metaspace_rep(const cJSON *o, const char **rep, uint32_t *cp, t5_err *err)
{
    const char *r = jstr(o, "replacement");
    if (!r)
        r = jstr(o, "str_rep");
    if (!r)
        r = "\xE2\x96\x81";
    if (one_cp(r, cp) < 0)
        return t5_errf(err, T5_EFORMAT,
                       "tokenizer.json: Metaspace replacement must be one character");
    if (rep)
        *rep = r;
    return 0;
}

static int load_pretok(t5_tokenizer *tok, const cJSON *o, int depth, t5_err *err)
{
    if (!o || cJSON_IsNull(o))
        return 0;
    if (depth > 16)
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: pre-tokenizers nested too deep");
    const char *type = jstr(o, "type");
    if (!type)
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: pre-tokenizer without a type");
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "pretokenizers"), *it;
        if (!cJSON_IsArray(arr))
            return t5_errf(err, T5_EFORMAT,
                           "tokenizer.json: Sequence pre-tokenizer without a list");
        cJSON_ArrayForEach(it, arr)
        {
            int rc = load_pretok(tok, it, depth + 1, err);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    t5__pretok_op op = {0};
    if (!strcmp(type, "Metaspace")) {
        const char *rep;
        int rc = metaspace_rep(o, &rep, &op.rep_cp, err);
        if (rc < 0)
            return rc;
        op.kind = T5__PT_METASPACE;
        op.rep_len = strlen(rep);
        memcpy(op.rep, rep, op.rep_len);
        op.prepend = prepend_scheme(o);
        op.split = jbool(o, "split", true);
    } else if (!strcmp(type, "WhitespaceSplit")) {
        op.kind = T5__PT_WSSPLIT;
    } else if (!strcmp(type, "Split")) {
        op.kind = T5__PT_SPLIT;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
        const char *lit = jstr(pat, "String"), *rx = jstr(pat, "Regex");
        const char *beh = jstr(o, "behavior");
        if ((!lit && !rx) || !beh)
            return t5_errf(err, T5_EFORMAT,
                           "tokenizer.json: Split pre-tokenizer needs pattern and behavior");
        static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                      "Contiguous"};
        op.behavior = -1;
        for (int i = 0; i < 5; i++)
            if (!strcmp(beh, names[i]))
                op.behavior = i;
        if (op.behavior < 0)
            return t5_errf(err, T5_EUNSUP, "tokenizer.json: Split behavior \"%.40s\"", beh);
        op.invert = jbool(o, "invert", false);
        if (op.invert)
            return t5_errf(err, T5_EUNSUP, "tokenizer.json: inverted Split is not supported");
        char *esc = lit ? regex_escape(lit) : NULL;
        if (lit && !esc)
            return t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
        int rc = t5__re_compile(&op.re, lit ? esc : rx, err);
        free(esc);
        if (rc < 0)
            return t5_err_wrap(err, rc, "tokenizer.json: Split pre-tokenizer");
    } else {
        return t5_errf(err, T5_EUNSUP, "tokenizer.json: pre-tokenizer \"%.40s\" is not supported",
                       type);
    }
    PUSH(tok->pretok, tok->n_pretok, op);
    return 0;
}

static int load_decoder(t5_tokenizer *tok, const cJSON *o, int depth, t5_err *err)
{
    if (!o || cJSON_IsNull(o))
        return 0;
    if (depth > 16)
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: decoders nested too deep");
    tok->has_decoder = true;
    const char *type = jstr(o, "type");
    if (!type)
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: decoder without a type");
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "decoders"), *it;
        if (!cJSON_IsArray(arr))
            return t5_errf(err, T5_EFORMAT, "tokenizer.json: Sequence decoder without a list");
        cJSON_ArrayForEach(it, arr)
        {
            int rc = load_decoder(tok, it, depth + 1, err);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    t5__dec_op op = {0};
    if (!strcmp(type, "Metaspace")) {
        int rc = metaspace_rep(o, NULL, &op.rep_cp, err);
        if (rc < 0)
            return rc;
        op.kind = T5__D_METASPACE;
        op.prepend = prepend_scheme(o);
    } else if (!strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
        const char *lit = jstr(pat, "String"), *content = jstr(o, "content");
        if (!lit || !content)
            return t5_errf(err, T5_EUNSUP,
                           "tokenizer.json: Replace decoder needs a string pattern");
        op.kind = T5__D_REPLACE;
        op.pat = dupn(lit, strlen(lit));
        op.pat_len = strlen(lit);
        op.content = dupn(content, strlen(content));
        op.content_len = strlen(content);
        if (!op.pat || !op.content)
            return t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
    } else if (!strcmp(type, "ByteFallback")) {
        op.kind = T5__D_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        op.kind = T5__D_FUSE;
    } else if (!strcmp(type, "Strip")) {
        const char *c = jstr(o, "content");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "start");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "stop");
        if (!c || one_cp(c, &op.strip_cp) < 0 || !cJSON_IsNumber(st) || !cJSON_IsNumber(sp))
            return t5_errf(err, T5_EFORMAT,
                           "tokenizer.json: Strip decoder needs content, start, stop");
        op.kind = T5__D_STRIP;
        op.strip_start = st->valuedouble < 0     ? 0
                         : st->valuedouble > 1e6 ? 1000000
                                                 : (int)st->valuedouble;
        op.strip_stop = sp->valuedouble < 0     ? 0
                        : sp->valuedouble > 1e6 ? 1000000
                                                : (int)sp->valuedouble;
    } else {
        return t5_errf(err, T5_EUNSUP, "tokenizer.json: decoder \"%.40s\" is not supported", type);
    }
    PUSH(tok->dec, tok->n_dec, op);
    return 0;
}

static int find_id(const t5_tokenizer *tok, const char *s)
{
    /* Added tokens first, as the tokenizers library resolves a token. */
    size_t l = strlen(s);
    for (int i = 0; i < tok->n_added; i++)
        if (tok->added[i].len == l && !memcmp(tok->pool + tok->added[i].off, s, l))
            return tok->added[i].id;
    int32_t v = -1;
    if (tok->trie.size && t5__trie_longest(&tok->trie, s, l, &v) == l)
        return v;
    return -1;
}

static int load_post(t5_tokenizer *tok, const cJSON *o, t5_err *err)
{
    if (!o || cJSON_IsNull(o))
        return 0;
    const char *type = jstr(o, "type");
    if (!type || strcmp(type, "TemplateProcessing"))
        return t5_errf(err, T5_EUNSUP, "tokenizer.json: post-processor \"%.40s\" is not supported",
                       type ? type : "?");
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(o, "single"), *it;
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(o, "special_tokens");
    if (!cJSON_IsArray(single))
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: TemplateProcessing without \"single\"");
    bool seen_seq = false;
    cJSON_ArrayForEach(it, single)
    {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        if (seq) {
            if (seen_seq)
                return t5_errf(err, T5_EFORMAT, "tokenizer.json: template has two sequences");
            seen_seq = true;
            continue;
        }
        const char *name = jstr(sp, "id");
        if (!name)
            return t5_errf(err, T5_EFORMAT,
                           "tokenizer.json: template item is neither Sequence nor SpecialToken");
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids"), *idv;
        if (!cJSON_IsArray(ids))
            return t5_errf(err, T5_EFORMAT, "tokenizer.json: template token \"%.40s\" has no ids",
                           name);
        cJSON_ArrayForEach(idv, ids)
        {
            if (!cJSON_IsNumber(idv) || idv->valuedouble < 0 || idv->valuedouble >= tok->n_pieces)
                return t5_errf(err, T5_EFORMAT,
                               "tokenizer.json: template token \"%.40s\" has a bad id", name);
            int32_t id = (int32_t)idv->valuedouble;
            if (seen_seq)
                PUSH(tok->post_after, tok->n_post_after, id);
            else
                PUSH(tok->post_before, tok->n_post_before, id);
        }
    }
    tok->has_post = true;
    return 0;
}

int t5__json_load(t5_tokenizer *tok, const char *data, size_t len, t5_err *err)
{
    tok->kind = T5__KIND_HF;
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!root)
        return t5_errf(err, T5_EFORMAT, "tokenizer.json: not valid JSON");
    int rc = 0;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *mtype = jstr(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!model || (mtype && strcmp(mtype, "Unigram")) || !cJSON_IsArray(vocab)) {
        rc = t5_errf(err, mtype && strcmp(mtype, "Unigram") ? T5_EUNSUP : T5_EFORMAT,
                     "tokenizer.json: model must be Unigram with a vocab list (got %.40s)",
                     mtype ? mtype : "none");
        goto out;
    }
    int nv = cJSON_GetArraySize(vocab);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), *it;
    int na = cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0;
    if (nv <= 0 || nv > (1 << 24) || na > (1 << 20)) {
        rc = t5_errf(err, T5_EFORMAT, "tokenizer.json: vocabulary of %d entries", nv);
        goto out;
    }
    /* Sizes: pieces, then added-token contents, in one pool. */
    size_t pool = 0;
    int max_id = nv - 1;
    cJSON_ArrayForEach(it, vocab)
    {
        const cJSON *p = cJSON_GetArrayItem(it, 0), *s = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || !cJSON_IsString(p) || !cJSON_IsNumber(s)) {
            rc = t5_errf(err, T5_EFORMAT, "tokenizer.json: vocab entries must be [piece, score]");
            goto out;
        }
        pool += strlen(p->valuestring) + 1;
    }
    cJSON_ArrayForEach(it, added)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const char *c = jstr(it, "content");
        if (!cJSON_IsNumber(id) || !c || id->valuedouble < 0 || id->valuedouble > (1 << 24)) {
            rc = t5_errf(err, T5_EFORMAT, "tokenizer.json: added token without id/content");
            goto out;
        }
        if ((int)id->valuedouble > max_id)
            max_id = (int)id->valuedouble;
        pool += strlen(c) + 1;
    }
    tok->n_model = nv;
    tok->n_pieces = max_id + 1;
    tok->pieces = calloc((size_t)tok->n_pieces, sizeof *tok->pieces);
    tok->pool = malloc(pool + 1);
    tok->added = calloc(na ? (size_t)na : 1, sizeof *tok->added);
    if (!tok->pieces || !tok->pool || !tok->added) {
        rc = t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
        goto out;
    }
    size_t off = 0;
    int i = 0;
    double mn = 0;
    cJSON_ArrayForEach(it, vocab)
    {
        const char *p = cJSON_GetArrayItem(it, 0)->valuestring;
        size_t l = strlen(p);
        memcpy(tok->pool + off, p, l + 1);
        tok->pieces[i].off = (uint32_t)off;
        tok->pieces[i].len = (uint32_t)l;
        tok->pieces[i].score = cJSON_GetArrayItem(it, 1)->valuedouble;
        tok->pieces[i].type = T5__P_NORMAL;
        if (i == 0 || tok->pieces[i].score < mn)
            mn = tok->pieces[i].score;
        off += l + 1;
        i++;
    }
    tok->pool[off] = 0;
    for (int k = nv; k < tok->n_pieces; k++) {
        tok->pieces[k].off = (uint32_t)off; /* the empty string: an id nobody defines */
        tok->pieces[k].type = 0;
    }
    off++;
    tok->min_score = mn;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
    tok->unk_id = cJSON_IsNumber(unk) && unk->valuedouble >= 0 && unk->valuedouble < nv
                      ? (int)unk->valuedouble
                      : -1;
    tok->byte_fallback = jbool(model, "byte_fallback", false);
    rc = t5__vocab_finish(tok, err);
    if (rc < 0)
        goto out;

    /* Added tokens: their content replaces the model's string for decoding. */
    cJSON_ArrayForEach(it, added)
    {
        const char *c = jstr(it, "content");
        size_t l = strlen(c);
        t5__added *a = &tok->added[tok->n_added++];
        memcpy(tok->pool + off, c, l + 1);
        a->off = (uint32_t)off;
        a->len = (uint32_t)l;
        a->id = (int32_t)cJSON_GetObjectItemCaseSensitive(it, "id")->valuedouble;
        a->special = jbool(it, "special", false);
        a->lstrip = jbool(it, "lstrip", false);
        a->rstrip = jbool(it, "rstrip", false);
        a->single_word = jbool(it, "single_word", false);
        a->normalized = jbool(it, "normalized", !a->special);
        off += l + 1;
        tok->pieces[a->id].off = a->off;
        tok->pieces[a->id].len = a->len;
        tok->pieces[a->id].special = a->special;
        if (a->id >= nv)
            tok->pieces[a->id].type = T5__P_CONTROL;
    }
    tok->pool_len = off;
    if ((rc = load_normalizer(tok, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), 0, err)) <
        0)
        goto out;
    /* A "normalized" added token is matched, and decoded, in its normalized
     * form (the tokenizers library normalizes its content when adding it). */
    for (int k = 0; k < tok->n_added; k++) {
        t5__added *a = &tok->added[k];
        if (!a->normalized || !tok->n_norm)
            continue;
        t5__buf nb = {0};
        if (t5__hf_normalize(tok, tok->pool + a->off, a->len, &nb) < 0 || nb.n > UINT32_MAX / 2 ||
            tok->pool_len + nb.n + 1 > UINT32_MAX) {
            t5__buf_free(&nb);
            rc = t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
            goto out;
        }
        char *np = realloc(tok->pool, tok->pool_len + nb.n + 1);
        if (!np) {
            t5__buf_free(&nb);
            rc = t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
            goto out;
        }
        tok->pool = np;
        if (nb.n)
            memcpy(np + tok->pool_len, nb.p, nb.n);
        np[tok->pool_len + nb.n] = 0;
        a->off = (uint32_t)tok->pool_len;
        a->len = (uint32_t)nb.n;
        tok->pieces[a->id].off = a->off;
        tok->pieces[a->id].len = a->len;
        tok->pool_len += nb.n + 1;
        t5__buf_free(&nb);
    }
    {
        t5__trie_key *keys = malloc((na ? (size_t)na : 1) * sizeof *keys);
        if (!keys) {
            rc = t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
            goto out;
        }
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
            size_t nk = 0;
            for (int k = 0; k < tok->n_added; k++)
                if (tok->added[k].normalized == (pass == 1) && tok->added[k].len)
                    keys[nk++] =
                        (t5__trie_key){tok->pool + tok->added[k].off, tok->added[k].len, k};
            if (!nk)
                continue;
            t5__trie *t = pass ? &tok->added_norm_trie : &tok->added_trie;
            if (t5__trie_build(t, keys, nk) < 0)
                rc = t5_errf(err, T5_ENOMEM, "tokenizer.json: out of memory");
            else if (pass)
                tok->has_added_norm = true;
            else
                tok->has_added = true;
        }
        free(keys);
        if (rc < 0)
            goto out;
    }
    /* Decoding skips a token because its *string* is a special added token
     * (tokenizers' is_special_token), so a model piece spelled like one is
     * skipped too. */
    for (int k = 0; k < tok->n_added; k++) {
        const t5__added *a = &tok->added[k];
        if (!a->special)
            continue;
        for (int id = 0; id < tok->n_pieces; id++)
            if (tok->pieces[id].len == a->len &&
                !memcmp(tok->pool + tok->pieces[id].off, tok->pool + a->off, a->len))
                tok->pieces[id].special = 1;
    }
    tok->eos_id = find_id(tok, "</s>");
    tok->pad_id = find_id(tok, "<pad>");
    tok->bos_id = -1;

    if ((rc = load_pretok(tok, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), 0, err)) <
            0 ||
        (rc = load_post(tok, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), err)) < 0 ||
        (rc = load_decoder(tok, cJSON_GetObjectItemCaseSensitive(root, "decoder"), 0, err)) < 0)
        goto out;
out:
    cJSON_Delete(root);
    return rc;
}
