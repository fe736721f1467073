/*
 * spm_proto.c - reads a serialized sentencepiece ModelProto (spiece.model)
 * with a small protobuf wire-format reader.
 *
 * Fields used (sentencepiece_model.proto):
 *   ModelProto      1 pieces (repeated), 2 trainer_spec, 3 normalizer_spec
 *   SentencePiece   1 piece, 2 score (float), 3 type (enum, default NORMAL)
 *   TrainerSpec     3 model_type (1 = UNIGRAM), 24 treat_whitespace_as_suffix,
 *                   35 byte_fallback, 40..43 unk/bos/eos/pad ids,
 *                   44 unk_surface
 *   NormalizerSpec  2 precompiled_charsmap, 3 add_dummy_prefix,
 *                   4 remove_extra_whitespaces, 5 escape_whitespaces
 * Every other field is skipped.  Every length is checked against what is
 * left of its message, so a corrupt file is an error, never a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenize/spm.h"

typedef struct {
    const uint8_t *p, *end;
    const char *path;
    t5e_err *err;
} pb_reader;

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

static t5e_status pb_fail(pb_reader *r, const char *what) {
    return err_set(r->err, T5E_ERR_FORMAT,
                   "%s: corrupt model file: %s", r->path, what);
}

static t5e_status pb_varint(pb_reader *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return pb_fail(r, "truncated varint");
        uint8_t b = *r->p++;
        if (shift < 64)
            *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return T5E_OK;
    }
    return pb_fail(r, "varint longer than 10 bytes");
}

/* Reads a field key; *field 0 and T5E_OK at the end of the message. */
static t5e_status pb_key(pb_reader *r, uint32_t *field, int *wire) {
    *field = 0;
    if (r->p >= r->end)
        return T5E_OK;
    uint64_t key;
    t5e_status s = pb_varint(r, &key);
    if (s)
        return s;
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return pb_fail(r, "field number 0 or too large");
    return T5E_OK;
}

/* A length-delimited field: its bytes as a sub-reader. */
static t5e_status pb_bytes(pb_reader *r, pb_reader *sub) {
    uint64_t n;
    t5e_status s = pb_varint(r, &n);
    if (s)
        return s;
    if (n > (uint64_t)(r->end - r->p))
        return pb_fail(r, "length runs past the end of its message");
    *sub = (pb_reader){r->p, r->p + n, r->path, r->err};
    r->p += n;
    return T5E_OK;
}

static t5e_status pb_skip(pb_reader *r, int wire) {
    uint64_t v;
    pb_reader sub;
    switch (wire) {
    case WIRE_VARINT:
        return pb_varint(r, &v);
    case WIRE_LEN:
        return pb_bytes(r, &sub);
    case WIRE_I64:
    case WIRE_I32: {
        size_t n = wire == WIRE_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return pb_fail(r, "truncated fixed-size field");
        r->p += n;
        return T5E_OK;
    }
    }
    return pb_fail(r, "unsupported wire type (group?)");
}

/* Reads a scalar of the expected wire type into *v (varint or fixed32). */
static t5e_status pb_scalar(pb_reader *r, int wire, int want, uint64_t *v) {
    if (wire != want)
        return pb_fail(r, "field has an unexpected wire type");
    if (want == WIRE_VARINT)
        return pb_varint(r, v);
    if (r->end - r->p < 4)
        return pb_fail(r, "truncated float");
    *v = (uint64_t)r->p[0] | (uint64_t)r->p[1] << 8 |
         (uint64_t)r->p[2] << 16 | (uint64_t)r->p[3] << 24;
    r->p += 4;
    return T5E_OK;
}

static int pieces_grow(spm_model *m, int *cap) {
    if (m->n < *cap)
        return 1;
    int c = *cap ? *cap * 2 : 1024;
    const char **piece = realloc(m->piece, (size_t)c * sizeof *piece);
    if (piece)
        m->piece = piece;
    uint32_t *len = realloc(m->piece_len, (size_t)c * sizeof *len);
    if (len)
        m->piece_len = len;
    float *score = realloc(m->score, (size_t)c * sizeof *score);
    if (score)
        m->score = score;
    uint8_t *type = realloc(m->type, (size_t)c);
    if (type)
        m->type = type;
    if (!piece || !len || !score || !type)
        return 0;
    *cap = c;
    return 1;
}

static t5e_status read_piece(pb_reader *r, spm_model *m) {
    int i = m->n;
    m->piece[i] = "";
    m->piece_len[i] = 0;
    m->score[i] = 0.0f;
    m->type[i] = SPM_NORMAL;
    uint32_t field;
    int wire;
    uint64_t v = 0;
    t5e_status s;
    while (!(s = pb_key(r, &field, &wire)) && field) {
        if (field == 1 && wire == WIRE_LEN) {
            pb_reader str;
            if ((s = pb_bytes(r, &str)))
                return s;
            m->piece[i] = (const char *)str.p;
            m->piece_len[i] = (uint32_t)(str.end - str.p);
        } else if (field == 2) {
            if ((s = pb_scalar(r, wire, WIRE_I32, &v)))
                return s;
            uint32_t bits = (uint32_t)v;
            memcpy(&m->score[i], &bits, 4);
        } else if (field == 3) {
            if ((s = pb_scalar(r, wire, WIRE_VARINT, &v)))
                return s;
            /* proto2 keeps the default for an enum value it does not know */
            if (v >= SPM_NORMAL && v <= SPM_BYTE)
                m->type[i] = (uint8_t)v;
        } else if ((s = pb_skip(r, wire))) {
            return s;
        }
    }
    if (!s)
        m->n++;
    return s;
}

static t5e_status read_trainer(pb_reader *r, spm_model *m) {
    uint32_t field;
    int wire;
    uint64_t v = 0;
    t5e_status s;
    while (!(s = pb_key(r, &field, &wire)) && field) {
        if (field == 44 && wire == WIRE_LEN) {
            pb_reader str;
            if ((s = pb_bytes(r, &str)))
                return s;
            size_t n = (size_t)(str.end - str.p);
            char *u = malloc(n + 1);
            if (!u)
                return err_set(r->err, T5E_ERR_NOMEM, "%s: unk_surface",
                               r->path);
            memcpy(u, str.p, n);
            u[n] = '\0';
            free(m->unk_surface);
            m->unk_surface = u;
            continue;
        }
        int known = field == 3 || field == 24 || field == 35 ||
                    (field >= 40 && field <= 43);
        if (!known) {
            if ((s = pb_skip(r, wire)))
                return s;
            continue;
        }
        if ((s = pb_scalar(r, wire, WIRE_VARINT, &v)))
            return s;
        if (field == 3 && v != 1)
            return err_set(r->err, T5E_ERR_UNSUPPORTED,
                           "%s: model_type %llu is not UNIGRAM (1)", r->path,
                           (unsigned long long)v);
        if (field == 24 && v)
            return err_set(r->err, T5E_ERR_UNSUPPORTED,
                           "%s: treat_whitespace_as_suffix is not supported",
                           r->path);
        if (field == 35)
            m->byte_fallback = v != 0;
        int32_t id = (int32_t)(uint32_t)v;
        if (field == 40)
            m->tr_unk_id = id;
        if (field == 41)
            m->tr_bos_id = id;
        if (field == 42)
            m->tr_eos_id = id;
        if (field == 43)
            m->tr_pad_id = id;
    }
    return s;
}

static t5e_status read_normalizer(pb_reader *r, spm_model *m) {
    uint32_t field;
    int wire;
    uint64_t v = 0;
    t5e_status s;
    while (!(s = pb_key(r, &field, &wire)) && field) {
        if (field == 2 && wire == WIRE_LEN) {
            pb_reader blob;
            if ((s = pb_bytes(r, &blob)))
                return s;
            size_t n = (size_t)(blob.end - blob.p);
            m->has_charsmap = n > 0;
            if (n > 0 && (s = spm_charsmap_init(&m->charsmap, blob.p, n,
                                                r->path, r->err)))
                return s;
        } else if (field >= 3 && field <= 5) {
            if ((s = pb_scalar(r, wire, WIRE_VARINT, &v)))
                return s;
            int on = v != 0;
            if (field == 3)
                m->add_dummy_prefix = on;
            else if (field == 4)
                m->remove_extra_ws = on;
            else
                m->escape_ws = on;
        } else if ((s = pb_skip(r, wire))) {
            return s;
        }
    }
    return s;
}

/* Fills m from the ModelProto in m->arena[0..len). */
static t5e_status read_model(spm_model *m, size_t len, const char *path,
                             t5e_err *err) {
    pb_reader r = {(const uint8_t *)m->arena,
                   (const uint8_t *)m->arena + len, path, err};
    int cap = 0;
    uint32_t field;
    int wire;
    t5e_status s;
    while (!(s = pb_key(&r, &field, &wire)) && field) {
        if ((field < 1 || field > 3) || wire != WIRE_LEN) {
            if ((s = pb_skip(&r, wire)))
                return s;
            continue;
        }
        pb_reader sub;
        if ((s = pb_bytes(&r, &sub)))
            return s;
        if (field == 1) {
            if (m->n >= INT32_MAX / 2 || !pieces_grow(m, &cap))
                return err_set(err, T5E_ERR_NOMEM, "%s: %d pieces", path,
                               m->n);
            s = read_piece(&sub, m);
        } else if (field == 2) {
            s = read_trainer(&sub, m);
        } else {
            s = read_normalizer(&sub, m);
        }
        if (s)
            return s;
    }
    return s;
}

t5e_status spm_model_from_proto(spm_model *m, const uint8_t *data,
                                size_t len, const char *path, t5e_err *err) {
    memset(m, 0, sizeof *m);
    m->tr_unk_id = 0; /* TrainerSpec defaults */
    m->tr_bos_id = 1;
    m->tr_eos_id = 2;
    m->tr_pad_id = -1;
    m->add_dummy_prefix = m->remove_extra_ws = m->escape_ws = 1;
    m->arena = malloc(len ? len : 1);
    if (!m->arena)
        return err_set(err, T5E_ERR_NOMEM, "%s: %zu bytes", path, len);
    if (len)
        memcpy(m->arena, data, len);
    t5e_status s = read_model(m, len, path, err);
    if (!s && !m->unk_surface && !(m->unk_surface = strdup(" \xe2\x81\x87 ")))
        s = err_set(err, T5E_ERR_NOMEM, "%s: unk_surface", path);
    if (!s)
        s = spm_model_finish(m, path, err);
    if (s)
        spm_model_free(m);
    return s;
}
