/*
 * tokenizer_impl.h - what a tokenizer implementation provides to the
 * public t5e_tokenizer handle (tokenizer.c dispatches through it).
 *
 * SentencePiece unigram lives in spm_*.c, WordPiece in wordpiece*.c.
 */
#ifndef T5E_TOKENIZER_IMPL_H
#define T5E_TOKENIZER_IMPL_H

#include "core/core.h"

typedef struct {
    /* Encodes with the options (specials, truncation, padding) applied. */
    t5e_status (*encode)(const void *impl, const char *text, size_t len,
                         const char *text_b, size_t len_b,
                         const t5e_encode_options *opt, t5e_encoding *out,
                         t5e_err *err);
    t5e_status (*decode)(const void *impl, const int32_t *ids, int n,
                         int skip_special, char **out, t5e_err *err);
    int (*vocab_size)(const void *impl);
    const char *(*id_to_piece)(const void *impl, int id);
    int (*piece_to_id)(const void *impl, const char *piece);
    t5e_special_ids (*special_ids)(const void *impl);
    void (*free)(void *impl);
} tokenizer_ops;

struct t5e_tokenizer {
    t5e_tokenizer_kind kind;
    const tokenizer_ops *ops;
    void *impl;
};

extern const tokenizer_ops spm_tokenizer_ops;
extern const tokenizer_ops wordpiece_tokenizer_ops;

/* Opens a SentencePiece model: `path` is a spiece.model (serialized
 * ModelProto) or, when from_json, a tokenizer.json with a Unigram model. */
t5e_status spm_tokenizer_open(const char *path, int from_json, void **impl,
                              t5e_err *err);

/* Opens a WordPiece vocabulary: `path` is a vocab.txt (tokenizer_config.json
 * beside it read when present) or, when from_json, a tokenizer.json with a
 * WordPiece model. */
t5e_status wordpiece_tokenizer_open(const char *path, int from_json,
                                    void **impl, t5e_err *err);

/* Allocates the arrays of `enc` for n tokens (pieces zeroed). */
t5e_status encoding_alloc(t5e_encoding *enc, int n, t5e_err *err);

#endif
