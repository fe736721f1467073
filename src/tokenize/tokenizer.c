/* tokenizer.c - the public tokenizer handle: finds the files, dispatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tokenize/tokenizer_impl.h"

void t5e_encode_options_default(t5e_encode_options *opt) {
    opt->add_special_tokens = 1;
    opt->max_length = 0;
    opt->pad_to = 0;
    opt->legacy = 1;
}

t5e_status encoding_alloc(t5e_encoding *enc, int n, t5e_err *err) {
    memset(enc, 0, sizeof *enc);
    size_t k = n > 0 ? (size_t)n : 1;
    enc->ids = xcalloc(k, sizeof *enc->ids);
    enc->type_ids = xcalloc(k, sizeof *enc->type_ids);
    enc->attention_mask = xcalloc(k, sizeof *enc->attention_mask);
    enc->pieces = xcalloc(k, sizeof *enc->pieces);
    if (!enc->ids || !enc->type_ids || !enc->attention_mask ||
        !enc->pieces) {
        t5e_encoding_free(enc);
        return err_set(err, T5E_ERR_NOMEM, "encoding of %d tokens", n);
    }
    enc->n = n;
    return T5E_OK;
}

void t5e_encoding_free(t5e_encoding *enc) {
    if (!enc)
        return;
    if (enc->pieces)
        for (int i = 0; i < enc->n; i++)
            free(enc->pieces[i]);
    free(enc->pieces);
    free(enc->ids);
    free(enc->type_ids);
    free(enc->attention_mask);
    memset(enc, 0, sizeof *enc);
}

/* Reads model.type of a tokenizer.json: "Unigram", "WordPiece", ... */
static t5e_status json_model_type(const char *path, char *type, size_t n,
                                  t5e_err *err) {
    char *text;
    size_t len;
    t5e_status s = file_read_all(path, &text, &len, err);
    if (s)
        return s;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root)
        return err_set(err, T5E_ERR_FORMAT, "%s: not valid JSON", path);
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    cJSON *t = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsString(t)) {
        cJSON_Delete(root);
        return err_set(err, T5E_ERR_FORMAT, "%s: no model.type", path);
    }
    snprintf(type, n, "%s", t->valuestring);
    cJSON_Delete(root);
    return T5E_OK;
}

static t5e_status open_file(const char *path, t5e_tokenizer *tok,
                            t5e_err *err) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n >= 5 && strcmp(base + n - 5, ".json") == 0) {
        char type[64];
        t5e_status s = json_model_type(path, type, sizeof type, err);
        if (s)
            return s;
        if (strcmp(type, "Unigram") == 0) {
            tok->kind = T5E_TOKENIZER_SENTENCEPIECE;
            tok->ops = &spm_tokenizer_ops;
            return spm_tokenizer_open(path, 1, &tok->impl, err);
        }
        if (strcmp(type, "WordPiece") == 0) {
            tok->kind = T5E_TOKENIZER_WORDPIECE;
            tok->ops = &wordpiece_tokenizer_ops;
            return wordpiece_tokenizer_open(path, 1, &tok->impl, err);
        }
        return err_set(err, T5E_ERR_UNSUPPORTED,
                       "%s: tokenizer model type \"%s\" is not supported "
                       "(expected Unigram or WordPiece)", path, type);
    }
    if (n >= 4 && strcmp(base + n - 4, ".txt") == 0) {
        tok->kind = T5E_TOKENIZER_WORDPIECE;
        tok->ops = &wordpiece_tokenizer_ops;
        return wordpiece_tokenizer_open(path, 0, &tok->impl, err);
    }
    tok->kind = T5E_TOKENIZER_SENTENCEPIECE;
    tok->ops = &spm_tokenizer_ops;
    return spm_tokenizer_open(path, 0, &tok->impl, err);
}

/* In a folder, the first of these that exists is the tokenizer. */
static const char *const tokenizer_files[] = {
    "spiece.model", "tokenizer.json", "vocab.txt", NULL
};

t5e_status t5e_tokenizer_load(const char *path, t5e_tokenizer **out,
                              t5e_err *err) {
    *out = NULL;
    char file[4096];
    const char *chosen = NULL;
    if (dir_exists(path)) {
        for (int i = 0; tokenizer_files[i] && !chosen; i++)
            if (path_join(file, sizeof file, path, tokenizer_files[i]) &&
                file_exists(file))
                chosen = file;
        if (!chosen)
            return err_set(err, T5E_ERR_IO,
                           "%s: no tokenizer (looked for spiece.model, "
                           "tokenizer.json, vocab.txt)", path);
    } else if (file_exists(path)) {
        chosen = path;
    } else {
        return err_set(err, T5E_ERR_IO, "%s: no such file or folder", path);
    }
    t5e_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", chosen);
    t5e_status s = open_file(chosen, tok, err);
    if (s) {
        free(tok);
        return s;
    }
    *out = tok;
    return T5E_OK;
}

void t5e_tokenizer_free(t5e_tokenizer *tok) {
    if (!tok)
        return;
    if (tok->impl)
        tok->ops->free(tok->impl);
    free(tok);
}

t5e_tokenizer_kind t5e_tokenizer_get_kind(const t5e_tokenizer *tok) {
    return tok->kind;
}

int t5e_tokenizer_vocab_size(const t5e_tokenizer *tok) {
    return tok->ops->vocab_size(tok->impl);
}

const char *t5e_tokenizer_id_to_piece(const t5e_tokenizer *tok, int id) {
    return tok->ops->id_to_piece(tok->impl, id);
}

int t5e_tokenizer_piece_to_id(const t5e_tokenizer *tok, const char *piece) {
    return tok->ops->piece_to_id(tok->impl, piece);
}

t5e_special_ids t5e_tokenizer_special_ids(const t5e_tokenizer *tok) {
    return tok->ops->special_ids(tok->impl);
}

t5e_status t5e_tokenizer_encode(const t5e_tokenizer *tok, const char *text,
                                long len, const char *text_b, long len_b,
                                const t5e_encode_options *opt,
                                t5e_encoding *out, t5e_err *err) {
    t5e_encode_options def;
    if (!opt) {
        t5e_encode_options_default(&def);
        opt = &def;
    }
    memset(out, 0, sizeof *out);
    if (!text)
        return err_set(err, T5E_ERR_ARG, "encode: text is NULL");
    size_t n = len < 0 ? strlen(text) : (size_t)len;
    size_t nb = 0;
    if (text_b)
        nb = len_b < 0 ? strlen(text_b) : (size_t)len_b;
    return tok->ops->encode(tok->impl, text, n, text_b, nb, opt, out, err);
}

t5e_status t5e_tokenizer_encode_batch(const t5e_tokenizer *tok, int n,
                                      const char *const *texts,
                                      const char *const *texts_b,
                                      const t5e_encode_options *opt,
                                      int pad_to_longest, t5e_encoding *out,
                                      t5e_err *err) {
    t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
    int longest = 0;
    for (int i = 0; i < n; i++) {
        const char *b = texts_b ? texts_b[i] : NULL;
        t5e_status s = t5e_tokenizer_encode(tok, texts[i], -1, b, -1, opt,
                                            &out[i], err);
        if (s) {
            for (int j = 0; j < i; j++)
                t5e_encoding_free(&out[j]);
            return err_prefix(err, s, "batch item %d", i);
        }
        if (out[i].n > longest)
            longest = out[i].n;
    }
    if (!pad_to_longest)
        return T5E_OK;
    for (int i = 0; i < n; i++) {
        t5e_encoding *e = &out[i];
        int old = e->n;
        if (old == longest)
            continue;
        t5e_encoding grown;
        t5e_status s = encoding_alloc(&grown, longest, err);
        if (s) {
            for (int j = 0; j < n; j++)
                t5e_encoding_free(&out[j]);
            return s;
        }
        for (int t = 0; t < longest; t++) {
            int real = t < old;
            grown.ids[t] = real ? e->ids[t] : (sp.pad >= 0 ? sp.pad : 0);
            grown.type_ids[t] = real ? e->type_ids[t] : 0;
            grown.attention_mask[t] = real ? e->attention_mask[t] : 0;
            grown.pieces[t] = real ? e->pieces[t] : NULL;
            if (real)
                e->pieces[t] = NULL;
        }
        t5e_encoding_free(e);
        *e = grown;
    }
    return T5E_OK;
}

t5e_status t5e_tokenizer_decode(const t5e_tokenizer *tok, const int32_t *ids,
                                int n, int skip_special, char **out,
                                t5e_err *err) {
    *out = NULL;
    if (n < 0 || (n > 0 && !ids))
        return err_set(err, T5E_ERR_ARG, "decode: bad id array");
    return tok->ops->decode(tok->impl, ids, n, skip_special, out, err);
}
