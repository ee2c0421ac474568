/* tokenizer.c - the public API: loading, encode/decode dispatch, ByT5. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "tokenizer/tok_internal.h"

/* Inputs above this are refused (ids are counted in an int). */
#define MAX_TEXT ((size_t)1 << 30)

void t5_tokenizer_free(t5_tokenizer *tok)
{
    if (!tok)
        return;
    free(tok->pieces);
    free(tok->pool);
    free(tok->unk_surface);
    t5__trie_free(&tok->trie);
    t5__trie_free(&tok->user_trie);
    t5__trie_free(&tok->added_trie);
    t5__trie_free(&tok->added_norm_trie);
    t5__charsmap_free(&tok->cmap);
    free(tok->added);
    for (int i = 0; i < tok->n_norm; i++) {
        t5__re_free(tok->norm[i].re);
        free(tok->norm[i].pat);
        free(tok->norm[i].content);
    }
    free(tok->norm);
    for (int i = 0; i < tok->n_pretok; i++)
        t5__re_free(tok->pretok[i].re);
    free(tok->pretok);
    for (int i = 0; i < tok->n_dec; i++) {
        free(tok->dec[i].pat);
        free(tok->dec[i].content);
    }
    free(tok->dec);
    free(tok->post_before);
    free(tok->post_after);
    free(tok);
}

int t5_tokenizer_load_mem(t5_tokenizer **out, const char *kind, const void *data, size_t len,
                          t5_err *err)
{
    if (!out || !kind || (!data && len))
        return t5_errf(err, T5_EINVAL, "t5_tokenizer_load_mem: bad arguments");
    *out = NULL;
    t5_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return t5_errf(err, T5_ENOMEM, "tokenizer: out of memory");
    tok->unk_id = tok->eos_id = tok->pad_id = tok->bos_id = -1;
    int rc;
    if (!strcmp(kind, "spiece"))
        rc = t5__spm_load(tok, data, len, err);
    else if (!strcmp(kind, "json"))
        rc = t5__json_load(tok, data, len, err);
    else
        rc = t5_errf(err, T5_EINVAL, "tokenizer kind \"%.20s\" (want spiece or json)", kind);
    if (rc < 0) {
        t5_tokenizer_free(tok);
        return rc;
    }
    *out = tok;
    return 0;
}

static int read_file(const char *path, char **data, size_t *len, t5_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return t5_errf(err, T5_EIO, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            if (cap > ((size_t)1 << 31)) {
                free(buf);
                fclose(f);
                return t5_errf(err, T5_ELIMIT, "%s: larger than 2 GiB", path);
            }
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return t5_errf(err, T5_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return t5_errf(err, T5_EIO, "read error on %s", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int t5_tokenizer_load(t5_tokenizer **out, const char *path, t5_err *err)
{
    if (!out || !path)
        return t5_errf(err, T5_EINVAL, "t5_tokenizer_load: bad arguments");
    char *data;
    size_t len;
    int rc = read_file(path, &data, &len, err);
    if (rc < 0)
        return rc;
    /* By name; a file named otherwise is sniffed (JSON starts with '{'). */
    size_t pl = strlen(path);
    bool json = pl >= 5 && !strcmp(path + pl - 5, ".json");
    if (!json && !(pl >= 6 && !strcmp(path + pl - 6, ".model"))) {
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r'))
            i++;
        json = i < len && data[i] == '{';
    }
    rc = t5_tokenizer_load_mem(out, json ? "json" : "spiece", data, len, err);
    free(data);
    if (rc < 0)
        return t5_err_wrap(err, rc, "%s", path);
    return 0;
}

/* ---- ByT5 ------------------------------------------------------------------------ */

int t5_tokenizer_byt5(t5_tokenizer **out, int extra_ids, t5_err *err)
{
    if (!out || extra_ids < 0 || extra_ids > 100000)
        return t5_errf(err, T5_EINVAL, "t5_tokenizer_byt5: extra_ids %d", extra_ids);
    *out = NULL;
    t5_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return t5_errf(err, T5_ENOMEM, "tokenizer: out of memory");
    tok->kind = T5__KIND_BYT5;
    tok->extra_ids = extra_ids;
    tok->n_pieces = tok->n_model = 259 + extra_ids;
    tok->pad_id = 0;
    tok->eos_id = 1;
    tok->unk_id = 2;
    tok->bos_id = -1;
    size_t pool = 6 + 5 + 6 + 256 * 2 + (size_t)extra_ids * 20;
    tok->pieces = calloc((size_t)tok->n_pieces, sizeof *tok->pieces);
    tok->pool = malloc(pool);
    if (!tok->pieces || !tok->pool) {
        t5_tokenizer_free(tok);
        return t5_errf(err, T5_ENOMEM, "tokenizer: out of memory");
    }
    size_t off = 0;
    for (int id = 0; id < tok->n_pieces; id++) {
        char s[32];
        int l;
        if (id < 3) {
            l = snprintf(s, sizeof s, "%s", id == 0 ? "<pad>" : id == 1 ? "</s>" : "<unk>");
            tok->pieces[id].type = id == 2 ? T5__P_UNKNOWN : T5__P_CONTROL;
            tok->pieces[id].special = 1;
        } else if (id < 259) {
            s[0] = (char)(id - 3);
            s[1] = 0;
            l = 1;
            tok->pieces[id].type = T5__P_BYTE;
        } else {
            l = snprintf(s, sizeof s, "<extra_id_%d>", id - 259);
            tok->pieces[id].type = T5__P_CONTROL;
            tok->pieces[id].special = 1;
        }
        memcpy(tok->pool + off, s, (size_t)l + 1);
        tok->pieces[id].off = (uint32_t)off;
        tok->pieces[id].len = (uint32_t)l;
        off += (size_t)l + 1;
    }
    tok->pool_len = off;
    *out = tok;
    return 0;
}

/* A special token spelled at s: its id and length, or 0. As transformers'
 * ByT5Tokenizer splits added tokens out of the text before taking bytes. */
static size_t byt5_special(const t5_tokenizer *tok, const char *s, size_t n, int32_t *id)
{
    static const char *names[3] = {"<pad>", "</s>", "<unk>"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(names[i]);
        if (n >= l && !memcmp(s, names[i], l)) {
            *id = i;
            return l;
        }
    }
    if (n >= 12 && !memcmp(s, "<extra_id_", 10)) {
        size_t i = 10;
        long v = 0;
        while (i < n && i < 18 && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        /* "<extra_id_07>" is not a token; digits must be canonical. */
        if (i > 10 && i < n && s[i] == '>' && v < tok->extra_ids && !(s[10] == '0' && i > 11)) {
            *id = (int32_t)(259 + v);
            return i + 1;
        }
    }
    return 0;
}

/* Python's str.isspace(), which transformers uses to strip around tokens. */
static bool py_isspace(uint32_t c)
{
    return t5__is_whitespace(c) || (c >= 0x1C && c <= 0x1F);
}

static int push_bytes(t5__ids *out, const char *s, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (t5__ids_push(out, (unsigned char)s[i] + 3) < 0)
            return T5_ENOMEM;
    return 0;
}

/* transformers' ByT5Tokenizer: special tokens are split out of the text
 * first; <pad>, </s> and <unk> also eat the whitespace around them (their
 * AddedToken has lstrip and rstrip), the <extra_id_N> sentinels do not. The
 * rest becomes UTF-8 bytes + 3. */
static int byt5_encode(const t5_tokenizer *tok, const char *s, size_t n, int flags, t5__ids *out)
{
    size_t seg = 0;
    for (size_t i = 0; i < n;) {
        int32_t id;
        size_t l = s[i] == '<' ? byt5_special(tok, s + i, n - i, &id) : 0;
        if (!l) {
            i++;
            continue;
        }
        size_t end = i;
        bool strip = id < 3;
        uint32_t cp;
        while (strip && end > seg) {
            size_t p = end - 1;
            while (p > seg && ((unsigned char)s[p] & 0xC0) == 0x80)
                p--;
            if (t5__utf8_next((const unsigned char *)s + p, end - p, &cp) <= 0 || !py_isspace(cp))
                break;
            end = p;
        }
        if (push_bytes(out, s, seg, end) < 0 || t5__ids_push(out, id) < 0)
            return T5_ENOMEM;
        i += l;
        while (strip && i < n) {
            int cl = t5__utf8_next((const unsigned char *)s + i, n - i, &cp);
            if (cl <= 0 || !py_isspace(cp))
                break;
            i += (size_t)cl;
        }
        seg = i;
    }
    if (push_bytes(out, s, seg, n) < 0)
        return T5_ENOMEM;
    /* transformers adds </s> unless the ids already end with it. */
    if ((flags & T5_TOK_ADD_EOS) && !(out->n && out->v[out->n - 1] == 1))
        if (t5__ids_push(out, 1) < 0)
            return T5_ENOMEM;
    return 0;
}

static int byt5_decode(const t5_tokenizer *tok, const int32_t *ids, int n, int flags, t5__buf *out)
{
    t5__buf raw = {0};
    for (int i = 0; i < n; i++) {
        const t5__piece *p = &tok->pieces[ids[i]];
        if (p->special && (flags & T5_TOK_SKIP_SPECIAL))
            continue;
        if (t5__buf_put(&raw, tok->pool + p->off, p->len) < 0) {
            t5__buf_free(&raw);
            return T5_ENOMEM;
        }
    }
    /* bytes.decode("utf-8", errors="ignore"): invalid bytes vanish. */
    size_t i = 0;
    int rc = 0;
    while (i < raw.n && rc == 0) {
        uint32_t cp;
        int l = t5__utf8_next((const unsigned char *)raw.p + i, raw.n - i, &cp);
        if (l <= 0) {
            i++;
            continue;
        }
        rc = t5__buf_put(out, raw.p + i, (size_t)l);
        i += (size_t)l;
    }
    t5__buf_free(&raw);
    return rc < 0 ? T5_ENOMEM : 0;
}

/* ---- encode / decode ------------------------------------------------------------- */

int t5_tokenizer_encode(const t5_tokenizer *tok, const char *text, size_t len, int32_t *ids,
                        int cap, int flags, t5_err *err)
{
    if (!tok || (!text && len) || cap < 0 || (!ids && cap))
        return t5_errf(err, T5_EINVAL, "t5_tokenizer_encode: bad arguments");
    if (len > MAX_TEXT)
        return t5_errf(err, T5_ELIMIT, "encode: input of %zu bytes exceeds the %zu-byte limit", len,
                       MAX_TEXT);
    size_t bad = t5__utf8_check(text, len);
    if (bad != (size_t)-1)
        return t5_errf(err, T5_EINVAL, "encode: invalid UTF-8 at byte %zu (0x%02X)", bad,
                       (unsigned char)text[bad]);
    /* Ids go straight into the caller's buffer while they fit. */
    int32_t small[1];
    t5__ids out = {cap ? ids : small, 0, cap ? (size_t)cap : 1, true};
    int rc;
    switch (tok->kind) {
    case T5__KIND_SPM:
        rc = t5__spm_encode(tok, text, len, &out, err);
        if (rc == 0 && (flags & T5_TOK_ADD_EOS) && tok->eos_id >= 0 &&
            t5__ids_push(&out, tok->eos_id) < 0)
            rc = t5_errf(err, T5_ENOMEM, "encode: out of memory");
        break;
    case T5__KIND_HF: rc = t5__hf_encode(tok, text, len, flags, &out, err); break;
    default:
        rc = byt5_encode(tok, text, len, flags, &out);
        if (rc < 0)
            t5_errf(err, rc, "encode: out of memory");
        break;
    }
    if (rc == 0 && out.n > (size_t)INT_MAX)
        rc = t5_errf(err, T5_ELIMIT, "encode: more than INT_MAX ids");
    if (rc == 0 && !out.ext && cap)
        memcpy(ids, out.v, (out.n < (size_t)cap ? out.n : (size_t)cap) * sizeof *ids);
    if (!out.ext)
        free(out.v);
    return rc < 0 ? rc : (int)out.n;
}

int t5_tokenizer_decode(const t5_tokenizer *tok, const int32_t *ids, int n, char *text, size_t cap,
                        int flags, t5_err *err)
{
    if (!tok || n < 0 || (!ids && n) || (!text && cap))
        return t5_errf(err, T5_EINVAL, "t5_tokenizer_decode: bad arguments");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= tok->n_pieces)
            return t5_errf(err, T5_EINVAL,
                           "decode: id %d at position %d is outside the vocabulary (0..%d)",
                           (int)ids[i], i, tok->n_pieces - 1);
    char stack[512];
    t5__buf out = {stack, 0, sizeof stack, true};
    int rc;
    switch (tok->kind) {
    case T5__KIND_SPM: rc = t5__spm_decode(tok, ids, n, flags, &out, err); break;
    case T5__KIND_HF: rc = t5__hf_decode(tok, ids, n, flags, &out, err); break;
    default:
        rc = byt5_decode(tok, ids, n, flags, &out);
        if (rc < 0)
            t5_errf(err, rc, "decode: out of memory");
        break;
    }
    if (rc == 0 && out.n > (size_t)INT_MAX)
        rc = t5_errf(err, T5_ELIMIT, "decode: text longer than INT_MAX");
    if (rc == 0 && cap) {
        size_t k = out.n < cap - 1 ? out.n : cap - 1;
        memcpy(text, out.p, k);
        text[k] = 0;
    }
    size_t total = out.n;
    t5__buf_free(&out);
    return rc < 0 ? rc : (int)total;
}

int t5_tokenizer_vocab_size(const t5_tokenizer *tok)
{
    return tok ? tok->n_pieces : 0;
}
int t5_tokenizer_eos_id(const t5_tokenizer *tok)
{
    return tok ? tok->eos_id : -1;
}
int t5_tokenizer_pad_id(const t5_tokenizer *tok)
{
    return tok ? tok->pad_id : -1;
}
int t5_tokenizer_unk_id(const t5_tokenizer *tok)
{
    return tok ? tok->unk_id : -1;
}

const char *t5_tokenizer_piece(const t5_tokenizer *tok, int id)
{
    if (!tok || id < 0 || id >= tok->n_pieces)
        return NULL;
    return t5__piece_str(tok, id);
}

/* ---- model directories ----------------------------------------------------------- */

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether the directory's configuration names the ByT5 tokenizer. */
static bool looks_byt5(const char *dir)
{
    char p[4096];
    bool yes = false;
    const char *files[2] = {"tokenizer_config.json", "config.json"};
    for (int f = 0; f < 2 && !yes; f++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[f]);
        char *data;
        size_t len;
        if (!exists(p) || read_file(p, &data, &len, NULL) < 0)
            continue;
        cJSON *j = cJSON_ParseWithLength(data, len);
        free(data);
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(j, "tokenizer_class");
        const cJSON *vs = cJSON_GetObjectItemCaseSensitive(j, "vocab_size");
        if (cJSON_IsString(tc) && !strcmp(tc->valuestring, "ByT5Tokenizer"))
            yes = true;
        if (f == 1 && cJSON_IsNumber(vs) && vs->valuedouble == 384)
            yes = true;
        cJSON_Delete(j);
    }
    return yes;
}

int t5_tokenizer_load_dir(t5_tokenizer **out, const char *dir, t5_err *err)
{
    if (!out || !dir)
        return t5_errf(err, T5_EINVAL, "t5_tokenizer_load_dir: bad arguments");
    char p[4096];
    if (strlen(dir) > sizeof p - 32)
        return t5_errf(err, T5_EINVAL, "model directory path too long");
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    if (exists(p))
        return t5_tokenizer_load(out, p, err);
    snprintf(p, sizeof p, "%s/spiece.model", dir);
    if (exists(p)) {
        /* As AutoTokenizer would: T5Tokenizer's pipeline around the model. */
        t5_tokenizer *spm;
        int rc = t5_tokenizer_load(&spm, p, err);
        if (rc < 0)
            return rc;
        rc = t5__t5_from_spm(out, spm, err);
        t5_tokenizer_free(spm);
        return rc < 0 ? t5_err_wrap(err, rc, "%s", p) : 0;
    }
    if (looks_byt5(dir))
        return t5_tokenizer_byt5(out, 125, err);
    return t5_errf(err, T5_ENOTFOUND,
                   "%s: no tokenizer.json or spiece.model, and config.json is not ByT5's", dir);
}
