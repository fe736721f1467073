/*
 * spm.h - SentencePiece unigram tokenization, shared by the spm_*.c files.
 *
 * The behaviour is that of sentencepiece 0.1.97 (the reference):
 *   spm_proto.c    reads a serialized ModelProto (spiece.model)
 *   spm_json.c     reads a tokenizer.json whose model is "Unigram"
 *   spm_trie.c     the double-array trie of the pieces, built at load
 *   spm_norm.c     the normalizer: precompiled charsmap + whitespace rules
 *   spm_unigram.c  Viterbi, unknown merging, byte fallback, sp decode
 *   spm_t5.c       T5Tokenizer (transformers 4.36.2) on top: sentinels,
 *                  special tokens inside text, legacy, </s>, decode
 *
 * Defined behaviour on odd input (all as sentencepiece 0.1.97 does, and
 * checked against spm_encode by tests/test_spm_corpus.c):
 *   - invalid UTF-8: each byte that does not start a well-formed character
 *     becomes U+FFFD (one byte consumed); runs of them merge into one
 *     unknown piece.  The T5 layer treats such bytes as non-whitespace.
 *   - NUL bytes: texts are length-delimited; NUL is not in the nmt_nfkc
 *     charsmap, so it is kept and encodes as an unknown piece "\0".
 *   - empty or all-whitespace input: no pieces (T5: just </s>).
 *   - long lines: time and memory are linear in the length (one pass of
 *     the normalizer, one Viterbi pass with at most one trie walk per
 *     character, bounded by the longest piece).
 *
 * Byte offsets are size_t; piece ids are int32.  Nothing here keeps state
 * between calls except the model, which is read-only after loading, so one
 * model may encode from several threads with one spm_work each.
 */
#ifndef T5E_SPM_H
#define T5E_SPM_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ModelProto.SentencePiece.Type */
enum {
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4,
    SPM_UNUSED = 5,
    SPM_BYTE = 6
};

/*
 * A byte-keyed double-array trie: from state s, byte c leads to
 * t = base[s] + c when check[t] == s.  value[t] is the id stored at t
 * (-1: none).  The root is state 0.
 */
typedef struct {
    int32_t base, check, value;
} spm_da_unit;

typedef struct {
    spm_da_unit *units; /* [n] */
    int32_t n;
} spm_trie;

/* Builds a trie of n keys (bytes, lengths) with values; keys may repeat
 * (the first value wins).  Empty keys are ignored. */
t5e_status spm_trie_build(spm_trie *t, const char *const *keys,
                          const uint32_t *lens, const int32_t *values,
                          int n, t5e_err *err);
void spm_trie_free(spm_trie *t);
/* Longest key that prefixes s[0..len): its length (0: none), *value set. */
size_t spm_trie_longest(const spm_trie *t, const char *s, size_t len,
                        int32_t *value);

/*
 * The precompiled charsmap of a NormalizerSpec: a darts-clone double array
 * (units of 32 bits) followed by NUL-terminated replacement strings.
 */
typedef struct {
    const uint32_t *units; /* [n_units], little-endian words, unaligned ok */
    size_t n_units;
    const char *strings;   /* replacement strings, [n_strings] bytes */
    size_t n_strings;
} spm_charsmap;

/* Splits a charsmap blob into its parts; error on a broken blob. */
t5e_status spm_charsmap_init(spm_charsmap *cm, const uint8_t *blob,
                             size_t len, const char *path, t5e_err *err);

typedef struct {
    /* pieces: text (NUL-terminated once loaded; may hold NULs), score,
     * type */
    const char **piece; /* [n] */
    uint32_t *piece_len; /* [n] */
    float *score;        /* [n] */
    uint8_t *type;       /* [n] */
    int n;

    int unk_id;          /* the UNKNOWN piece */
    int byte_fallback;   /* trainer_spec.byte_fallback */
    int32_t byte_id[256]; /* id of <0xXX>, when byte_fallback */
    float min_score, max_score; /* over NORMAL pieces, as sp computes */

    char *unk_surface;   /* decode text of <unk> (owned, NUL-terminated) */

    /* trainer_spec ids, informational (-1: none) */
    int tr_unk_id, tr_bos_id, tr_eos_id, tr_pad_id;

    /* normalizer_spec */
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    int has_charsmap;
    spm_charsmap charsmap;

    spm_trie trie;       /* NORMAL, USER_DEFINED, UNUSED pieces */
    spm_trie user_trie;  /* USER_DEFINED pieces only (n == 0: none) */

    /* piece -> id: open addressing over ids, reserved pieces first */
    int32_t *hash;       /* [hash_cap], -1 empty */
    size_t hash_cap;

    char *arena;         /* the model file; the charsmap points into it */
    char *text;          /* owns the NUL-terminated piece texts */
    uint8_t *blob;       /* owned charsmap copy (may be NULL) */
} spm_model;

/* Reads a serialized ModelProto from memory into m (copies what it needs).
 * `path` names the source in messages. */
t5e_status spm_model_from_proto(spm_model *m, const uint8_t *data,
                                size_t len, const char *path, t5e_err *err);
/* Reads a tokenizer.json (Unigram) into m; see spm_json.c. */
t5e_status spm_model_from_json(spm_model *m, const char *path,
                               t5e_err *err);
/* Finishes loading once pieces and specs are set: checks the pieces as
 * sp's InitializePieces does, builds tries and the piece map. */
t5e_status spm_model_finish(spm_model *m, const char *path, t5e_err *err);
void spm_model_free(spm_model *m);

/* PieceToId: reserved pieces first, then normal ones; unk_id if absent. */
int spm_piece_to_id(const spm_model *m, const char *s, size_t len);

/* One result piece: its id and, for ids without a fixed piece text (merged
 * unknowns), its text inside the normalized buffer. */
typedef struct {
    int32_t id;
    uint32_t off, len; /* piece text in spm_work.norm */
} spm_token;

/* Reusable buffers for encoding (free with spm_work_free). */
typedef struct {
    char *norm;
    size_t norm_len, norm_cap;
    void *best;           /* Viterbi nodes, [norm_len + 1] */
    size_t best_cap;
    spm_token *tok;
    size_t n_tok, tok_cap;
} spm_work;

void spm_work_free(spm_work *w);

/* Normalizes text into w->norm (sp Normalizer::Normalize). */
t5e_status spm_normalize(const spm_model *m, const char *text, size_t len,
                         int add_dummy_prefix, spm_work *w, t5e_err *err);

/*
 * sp Encode: normalize, Viterbi, merge runs of unknowns (or split them into
 * bytes with byte fallback).  Results go to w->tok[0..n_tok); with
 * append, they are added after the tokens already there.
 */
t5e_status spm_encode(const spm_model *m, const char *text, size_t len,
                      int add_dummy_prefix, int append, spm_work *w,
                      t5e_err *err);

/* The text of token i of w (the model's piece, or the unknown surface). */
const char *spm_token_text(const spm_model *m, const spm_work *w,
                           const spm_token *t, size_t *len);

/* A growable byte string. */
typedef struct {
    char *s;
    size_t n, cap;
} spm_str;

int spm_str_put(spm_str *b, const char *s, size_t n); /* 0 on NOMEM */

/*
 * sp Decode of piece strings (DecodePieces): each piece is looked up with
 * PieceToId first, as the reference does.  Appends to out.
 */
t5e_status spm_decode_pieces(const spm_model *m, const char *const *pieces,
                             const size_t *lens, int n, spm_str *out,
                             t5e_err *err);

/* sp IsValidDecodeUTF8: 1 when s starts with a well-formed character
 * (its length in *n); else 0 with *n = 1. */
int spm_utf8_valid(const char *s, size_t len, size_t *n);

/* Length of the UTF-8 character that starts with byte c (sp OneCharLen). */
static inline int spm_char_len(unsigned char c) {
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                          1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

#endif
