/*
 * spm_json.c - a tokenizer.json whose model is "Unigram", read into the
 * same spm_model as a spiece.model, so that it encodes with sp semantics.
 *
 * Read: model.vocab ([piece, score] in id order), model.unk_id,
 * model.byte_fallback; the "Precompiled" normalizer's base64 charsmap; a
 * Strip / Replace(" {2,}") normalizer or a WhitespaceSplit pre-tokenizer
 * means remove_extra_whitespaces; a Metaspace pre-tokenizer means
 * escape_whitespaces, and its add_prefix_space / prepend_scheme the dummy
 * prefix.  added_tokens marked special become CONTROL pieces, the others
 * USER_DEFINED.  Trailing "<extra_id_N>" vocabulary entries (as in the
 * Hugging Face T5 files) are dropped: the T5 layer adds the sentinels.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tokenize/spm.h"

static int b64_value(char c) {
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

/* Decodes base64 (padding optional); NULL on a bad character. */
static uint8_t *b64_decode(const char *s, size_t *out_len) {
    size_t n = strlen(s);
    uint8_t *o = malloc(n / 4 * 3 + 4);
    if (!o)
        return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(o);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = k;
    return o;
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Walks a normalizer / pre-tokenizer (or a Sequence of them). */
static t5e_status scan_step(spm_model *m, const cJSON *o, const char *path,
                            t5e_err *err) {
    const char *type = json_str(o, "type");
    if (!type)
        return T5E_OK;
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "normalizers");
    if (!seq)
        seq = cJSON_GetObjectItemCaseSensitive(o, "pretokenizers");
    if (strcmp(type, "Sequence") == 0 && cJSON_IsArray(seq)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, seq) {
            t5e_status s = scan_step(m, it, path, err);
            if (s)
                return s;
        }
    } else if (strcmp(type, "Precompiled") == 0) {
        const char *b64 = json_str(o, "precompiled_charsmap");
        size_t n = 0;
        if (!b64 || !*b64)
            return T5E_OK;
        free(m->blob);
        m->blob = b64_decode(b64, &n);
        if (!m->blob)
            return err_set(err, T5E_ERR_FORMAT, "%s: precompiled_charsmap "
                           "is not base64", path);
        m->has_charsmap = 1;
        return spm_charsmap_init(&m->charsmap, m->blob, n, path, err);
    } else if (strcmp(type, "Strip") == 0 || strcmp(type, "Replace") == 0 ||
               strcmp(type, "WhitespaceSplit") == 0) {
        m->remove_extra_ws = 1;
    } else if (strcmp(type, "Metaspace") == 0) {
        m->escape_ws = 1;
        const cJSON *add = cJSON_GetObjectItemCaseSensitive(
            o, "add_prefix_space");
        const char *scheme = json_str(o, "prepend_scheme");
        m->add_dummy_prefix = scheme ? strcmp(scheme, "never") != 0
                                     : !cJSON_IsFalse(add);
    }
    return T5E_OK;
}

static int is_sentinel(const char *s) {
    return strncmp(s, "<extra_id_", 10) == 0 &&
           s[strlen(s) - 1] == '>';
}

/* Piece types from added_tokens (special: CONTROL, else USER_DEFINED). */
static void mark_added(spm_model *m, const cJSON *added) {
    const cJSON *it;
    cJSON_ArrayForEach(it, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 ||
            id->valuedouble >= m->n)
            continue;
        int i = (int)id->valuedouble;
        if (i == m->unk_id)
            continue;
        m->type[i] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                         it, "special")) ? SPM_CONTROL : SPM_USER_DEFINED;
    }
}

static t5e_status read_vocab(spm_model *m, const cJSON *model,
                             const char *path, t5e_err *err) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsArray(vocab))
        return err_set(err, T5E_ERR_FORMAT, "%s: model.vocab is not a list",
                       path);
    int n = cJSON_GetArraySize(vocab);
    m->piece = xmalloc_array((size_t)n + 1, sizeof *m->piece);
    m->piece_len = xmalloc_array((size_t)n + 1, sizeof *m->piece_len);
    m->score = xmalloc_array((size_t)n + 1, sizeof *m->score);
    m->type = xmalloc_array((size_t)n + 1, 1);
    if (!m->piece || !m->piece_len || !m->score || !m->type)
        return err_set(err, T5E_ERR_NOMEM, "%s: %d pieces", path, n);
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, vocab) {
        const cJSON *p = cJSON_GetArrayItem(e, 0);
        const cJSON *sc = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsString(p) || !cJSON_IsNumber(sc))
            return err_set(err, T5E_ERR_FORMAT, "%s: model.vocab[%d] is not "
                           "[piece, score]", path, i);
        m->piece[i] = p->valuestring;
        m->piece_len[i] = (uint32_t)strlen(p->valuestring);
        m->score[i] = (float)sc->valuedouble;
        m->type[i] = SPM_NORMAL;
        if (m->byte_fallback && m->piece_len[i] == 6 &&
            strncmp(p->valuestring, "<0x", 3) == 0)
            m->type[i] = SPM_BYTE;
        i++;
    }
    while (i > 0 && is_sentinel(m->piece[i - 1]))
        i--;
    m->n = i;
    return T5E_OK;
}

static t5e_status read_json(spm_model *m, const cJSON *root,
                            const char *path, t5e_err *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *type = json_str(model, "type");
    if (!type || strcmp(type, "Unigram") != 0)
        return err_set(err, T5E_ERR_UNSUPPORTED, "%s: model.type is not "
                       "Unigram", path);
    m->byte_fallback = cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    t5e_status s = read_vocab(m, model, path, err);
    if (s)
        return s;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
    if (!cJSON_IsNumber(unk) || unk->valuedouble < 0 ||
        unk->valuedouble >= m->n)
        return err_set(err, T5E_ERR_FORMAT, "%s: model.unk_id is missing "
                       "or out of range", path);
    m->unk_id = (int)unk->valuedouble;
    mark_added(m, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"));
    m->type[m->unk_id] = SPM_UNKNOWN;
    m->tr_unk_id = m->unk_id;
    m->tr_bos_id = m->tr_eos_id = m->tr_pad_id = -1;
    m->add_dummy_prefix = m->remove_extra_ws = m->escape_ws = 0;
    s = scan_step(m, cJSON_GetObjectItemCaseSensitive(root, "normalizer"),
                  path, err);
    if (!s)
        s = scan_step(m, cJSON_GetObjectItemCaseSensitive(
                             root, "pre_tokenizer"), path, err);
    if (!s && !(m->unk_surface = strdup(" \xe2\x81\x87 ")))
        s = err_set(err, T5E_ERR_NOMEM, "%s: unk_surface", path);
    /* finish copies the piece texts out of the JSON tree */
    return s ? s : spm_model_finish(m, path, err);
}

t5e_status spm_model_from_json(spm_model *m, const char *path,
                               t5e_err *err) {
    memset(m, 0, sizeof *m);
    char *text;
    size_t len;
    t5e_status s = file_read_all(path, &text, &len, err);
    if (s)
        return s;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root)
        return err_set(err, T5E_ERR_FORMAT, "%s: not valid JSON", path);
    s = read_json(m, root, path, err);
    cJSON_Delete(root);
    if (s)
        spm_model_free(m);
    return s;
}
