/* spiece_load.c - reads a SentencePiece model (spiece.model).
 *
 * The file is a serialized ModelProto (sentencepiece_model.proto). Only the
 * fields that change encoding or decoding are kept:
 *
 *   ModelProto       1 pieces (repeated) 2 trainer_spec 3 normalizer_spec
 *                    5 denormalizer_spec
 *   SentencePiece    1 piece 2 score (float) 3 type
 *   TrainerSpec      3 model_type 24 treat_whitespace_as_suffix
 *                    35 byte_fallback 40 unk_id 41 bos_id 42 eos_id 43 pad_id
 *                    44 unk_surface
 *   NormalizerSpec   1 name 2 precompiled_charsmap 3 add_dummy_prefix
 *                    4 remove_extra_whitespaces 5 escape_whitespaces
 *
 * The protobuf wire format is read by the few functions below, each of which
 * checks every length against the bytes that remain; unknown fields are
 * skipped, as protobuf requires.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

typedef struct pb {
    const unsigned char *p, *end;
} pb;

static int pb_varint(pb *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        unsigned char b = *r->p++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Reads a field key; returns 0 and fills field/wire, 1 at the end, -1 on error. */
static int pb_key(pb *r, uint32_t *field, int *wire)
{
    if (r->p >= r->end)
        return 1;
    uint64_t k;
    if (pb_varint(r, &k) < 0 || (k >> 3) == 0 || (k >> 3) > 0x1FFFFFFF)
        return -1;
    *field = (uint32_t)(k >> 3);
    *wire = (int)(k & 7);
    return 0;
}

static int pb_bytes(pb *r, const unsigned char **s, size_t *n)
{
    uint64_t len;
    if (pb_varint(r, &len) < 0 || len > (uint64_t)(r->end - r->p))
        return -1;
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

static int pb_fixed32(pb *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
         (uint32_t)r->p[3] << 24;
    r->p += 4;
    return 0;
}

static int pb_skip(pb *r, int wire)
{
    uint64_t v;
    const unsigned char *s;
    size_t n;
    switch (wire) {
    case 0: return pb_varint(r, &v);
    case 1:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 0;
    case 2: return pb_bytes(r, &s, &n);
    case 5:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 0;
    default: /* groups (3, 4) are not used by this schema */ return -1;
    }
}

/* Reads an int32 field (varint, negative values sign-extended to 64 bits). */
static int pb_int32(pb *r, int wire, int32_t *out)
{
    uint64_t v;
    if (wire != 0 || pb_varint(r, &v) < 0)
        return -1;
    *out = (int32_t)(uint32_t)v;
    return 0;
}

typedef struct spm_spec {
    int32_t model_type, unk_id, bos_id, eos_id, pad_id;
    bool byte_fallback, ws_suffix;
    const unsigned char *unk_surface;
    size_t unk_surface_len;
    bool has_unk_surface;
    const unsigned char *charsmap;
    size_t charsmap_len;
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
    size_t denorm_charsmap_len;
} spm_spec;

static int read_trainer(const unsigned char *s, size_t n, spm_spec *sp)
{
    pb r = {s, s + n};
    uint32_t f;
    int w, rc;
    while ((rc = pb_key(&r, &f, &w)) == 0) {
        uint64_t v;
        switch (f) {
        case 3:
            if (pb_int32(&r, w, &sp->model_type) < 0)
                return -1;
            break;
        case 24:
        case 35:
            if (w != 0 || pb_varint(&r, &v) < 0)
                return -1;
            if (f == 24)
                sp->ws_suffix = v != 0;
            else
                sp->byte_fallback = v != 0;
            break;
        case 40:
            if (pb_int32(&r, w, &sp->unk_id) < 0)
                return -1;
            break;
        case 41:
            if (pb_int32(&r, w, &sp->bos_id) < 0)
                return -1;
            break;
        case 42:
            if (pb_int32(&r, w, &sp->eos_id) < 0)
                return -1;
            break;
        case 43:
            if (pb_int32(&r, w, &sp->pad_id) < 0)
                return -1;
            break;
        case 44:
            if (w != 2 || pb_bytes(&r, &sp->unk_surface, &sp->unk_surface_len) < 0)
                return -1;
            sp->has_unk_surface = true;
            break;
        default:
            if (pb_skip(&r, w) < 0)
                return -1;
        }
    }
    return rc < 0 ? -1 : 0;
}

static int read_normalizer(const unsigned char *s, size_t n, spm_spec *sp, bool denorm)
{
    pb r = {s, s + n};
    uint32_t f;
    int w, rc;
    while ((rc = pb_key(&r, &f, &w)) == 0) {
        uint64_t v;
        const unsigned char *b;
        size_t bl;
        if (f == 2 && w == 2) {
            if (pb_bytes(&r, &b, &bl) < 0)
                return -1;
            if (denorm) {
                sp->denorm_charsmap_len = bl;
            } else {
                sp->charsmap = b;
                sp->charsmap_len = bl;
            }
        } else if (f >= 3 && f <= 5 && !denorm) {
            if (w != 0 || pb_varint(&r, &v) < 0)
                return -1;
            if (f == 3)
                sp->add_dummy_prefix = v != 0;
            else if (f == 4)
                sp->remove_extra_ws = v != 0;
            else
                sp->escape_ws = v != 0;
        } else if (pb_skip(&r, w) < 0) {
            return -1;
        }
    }
    return rc < 0 ? -1 : 0;
}

/* One SentencePiece message: piece, score, type. */
static int read_piece(const unsigned char *s, size_t n, const unsigned char **str, size_t *len,
                      float *score, int *type)
{
    pb r = {s, s + n};
    uint32_t f;
    int w, rc;
    *str = NULL;
    *len = 0;
    *score = 0;
    *type = T5__P_NORMAL;
    while ((rc = pb_key(&r, &f, &w)) == 0) {
        if (f == 1 && w == 2) {
            if (pb_bytes(&r, str, len) < 0)
                return -1;
        } else if (f == 2 && w == 5) {
            uint32_t u;
            if (pb_fixed32(&r, &u) < 0)
                return -1;
            memcpy(score, &u, 4);
        } else if (f == 3 && w == 0) {
            uint64_t v;
            if (pb_varint(&r, &v) < 0)
                return -1;
            *type = (int)(v & 0xFF) == (int)v ? (int)v : 0;
        } else if (pb_skip(&r, w) < 0) {
            return -1;
        }
    }
    return rc < 0 ? -1 : 0;
}

int t5__spm_load(t5_tokenizer *tok, const unsigned char *data, size_t len, t5_err *err)
{
    spm_spec sp = {.model_type = 1,
                   .unk_id = 0,
                   .bos_id = 1,
                   .eos_id = 2,
                   .pad_id = -1,
                   .add_dummy_prefix = true,
                   .remove_extra_ws = true,
                   .escape_ws = true};
    pb r = {data, data + len};
    uint32_t f;
    int w, rc;
    size_t n_pieces = 0, pool = 0;

    /* Pass 1: the specs, and how much room the pieces need. */
    while ((rc = pb_key(&r, &f, &w)) == 0) {
        const unsigned char *b;
        size_t bl;
        if (w == 2 && (f == 1 || f == 2 || f == 3 || f == 5)) {
            if (pb_bytes(&r, &b, &bl) < 0) {
                rc = -1;
                break;
            }
            if (f == 1) {
                const unsigned char *ps;
                size_t pl;
                float sc;
                int ty;
                if (read_piece(b, bl, &ps, &pl, &sc, &ty) < 0)
                    return t5_errf(err, T5_EFORMAT, "spiece.model: piece %zu is malformed",
                                   n_pieces);
                n_pieces++;
                pool += pl + 1;
            } else if (f == 2) {
                if (read_trainer(b, bl, &sp) < 0)
                    return t5_errf(err, T5_EFORMAT, "spiece.model: trainer_spec is malformed");
            } else if (read_normalizer(b, bl, &sp, f == 5) < 0) {
                return t5_errf(err, T5_EFORMAT, "spiece.model: %s is malformed",
                               f == 3 ? "normalizer_spec" : "denormalizer_spec");
            }
        } else if (pb_skip(&r, w) < 0) {
            rc = -1;
            break;
        }
    }
    if (rc < 0)
        return t5_errf(err, T5_EFORMAT,
                       "spiece.model: not a SentencePiece model (bad protobuf at byte %zu of %zu)",
                       (size_t)(r.p - data), len);
    if (n_pieces == 0)
        return t5_errf(err, T5_EFORMAT, "spiece.model: no pieces");
    if (n_pieces > (size_t)INT32_MAX / 2)
        return t5_errf(err, T5_ELIMIT, "spiece.model: %zu pieces", n_pieces);
    if (sp.model_type != 1)
        return t5_errf(err, T5_EUNSUP, "spiece.model: model_type %d is not unigram (1)",
                       sp.model_type);
    if (sp.denorm_charsmap_len)
        return t5_errf(err, T5_EUNSUP, "spiece.model: denormalizer rules are not supported");

    tok->pieces = calloc(n_pieces, sizeof *tok->pieces);
    tok->pool = malloc(pool ? pool : 1);
    if (!tok->pieces || !tok->pool)
        return t5_errf(err, T5_ENOMEM, "spiece.model: out of memory");

    /* Pass 2: the pieces. */
    r.p = data;
    size_t i = 0, off = 0;
    while (pb_key(&r, &f, &w) == 0) {
        const unsigned char *b;
        size_t bl;
        if (f == 1 && w == 2) {
            const unsigned char *ps;
            size_t pl;
            float sc;
            int ty;
            /* Pass 1 validated all of this; checked again all the same. */
            if (pb_bytes(&r, &b, &bl) < 0 || read_piece(b, bl, &ps, &pl, &sc, &ty) < 0 ||
                i >= n_pieces || off + pl + 1 > pool)
                return t5_errf(err, T5_EFORMAT, "spiece.model: piece %zu is malformed", i);
            if (pl == 0)
                return t5_errf(err, T5_EFORMAT, "spiece.model: piece %zu is empty", i);
            if (ty < T5__P_NORMAL || ty > T5__P_BYTE)
                return t5_errf(err, T5_EFORMAT, "spiece.model: piece %zu has unknown type %d", i,
                               ty);
            memcpy(tok->pool + off, ps, pl);
            tok->pool[off + pl] = 0;
            tok->pieces[i].off = (uint32_t)off;
            tok->pieces[i].len = (uint32_t)pl;
            tok->pieces[i].score = sc;
            tok->pieces[i].type = (uint8_t)ty;
            off += pl + 1;
            i++;
        } else if (pb_skip(&r, w) < 0) {
            return t5_errf(err, T5_EFORMAT, "spiece.model: malformed field");
        }
    }
    tok->n_pieces = tok->n_model = (int)n_pieces;
    tok->pool_len = off;
    tok->kind = T5__KIND_SPM;

    /* As SentencePiece: the unknown piece is the one typed UNKNOWN. */
    tok->unk_id = -1;
    for (int k = 0; k < tok->n_pieces; k++)
        if (tok->pieces[k].type == T5__P_UNKNOWN) {
            if (tok->unk_id >= 0)
                return t5_errf(err, T5_EFORMAT, "spiece.model: more than one unknown piece");
            tok->unk_id = k;
        }
    if (tok->unk_id < 0)
        return t5_errf(err, T5_EFORMAT, "spiece.model: no piece of type UNKNOWN");
    tok->eos_id = sp.eos_id >= 0 && sp.eos_id < tok->n_pieces ? sp.eos_id : -1;
    tok->pad_id = sp.pad_id >= 0 && sp.pad_id < tok->n_pieces ? sp.pad_id : -1;
    tok->bos_id = sp.bos_id >= 0 && sp.bos_id < tok->n_pieces ? sp.bos_id : -1;
    tok->byte_fallback = sp.byte_fallback;
    tok->add_dummy_prefix = sp.add_dummy_prefix;
    tok->remove_extra_ws = sp.remove_extra_ws;
    tok->escape_ws = sp.escape_ws;
    tok->ws_suffix = sp.ws_suffix;
    const char *us = sp.has_unk_surface ? (const char *)sp.unk_surface : " \xE2\x81\x87 ";
    size_t ul = sp.has_unk_surface ? sp.unk_surface_len : 5;
    tok->unk_surface = malloc(ul + 1);
    if (!tok->unk_surface)
        return t5_errf(err, T5_ENOMEM, "spiece.model: out of memory");
    memcpy(tok->unk_surface, us, ul);
    tok->unk_surface[ul] = 0;

    if (sp.charsmap_len) {
        int e = t5__charsmap_init(&tok->cmap, sp.charsmap, sp.charsmap_len, err);
        if (e < 0)
            return t5_err_wrap(err, e, "spiece.model");
        tok->has_cmap = true;
    }

    /* Scores as SentencePiece sees them: min and max over NORMAL pieces,
     * max starting from FLT_MIN (the smallest positive float), which is
     * what the user-defined-symbol bonus multiplies. */
    double mn = FLT_MAX, mx = FLT_MIN;
    for (int k = 0; k < tok->n_pieces; k++)
        if (tok->pieces[k].type == T5__P_NORMAL) {
            if (tok->pieces[k].score < mn)
                mn = tok->pieces[k].score;
            if (tok->pieces[k].score > mx)
                mx = tok->pieces[k].score;
        }
    tok->min_score = mn;
    tok->max_score = mx;
    return t5__vocab_finish(tok, err);
}
