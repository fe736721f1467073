/*
 * wordpiece.h - the BERT / ELECTRA WordPiece tokenizer, shared between its
 * files:
 *   wordpiece_vocab.c  token -> id map and the greedy longest-match split
 *   wordpiece_basic.c  UTF-8 decoding and the "basic tokenizer" (clean,
 *                      CJK spacing, NFC, lower-casing, accent stripping,
 *                      punctuation split)
 *   wordpiece_load.c   vocab.txt + tokenizer_config.json, tokenizer.json
 *   wordpiece.c        encode / decode with specials, truncation, padding
 *
 * The reference is transformers 4.36.2 BertTokenizer (slow, pure Python).
 * Text is handled as arrays of code points (uint32_t); the vocabulary is
 * kept as UTF-8 bytes.
 */
#ifndef T5E_WORDPIECE_H
#define T5E_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* One vocabulary entry; key bytes live in the map's arena. */
typedef struct {
    uint32_t off, len;  /* key bytes in arena */
    uint32_t hash;
    int32_t id;
    int in_vocab;       /* 1: from the vocabulary, usable by WordPiece */
} wp_entry;

/* Open-addressing hash map from token bytes to an entry. */
typedef struct {
    uint32_t *slots;    /* [cap] entry index + 1, 0 when empty */
    uint32_t cap;       /* power of two */
    wp_entry *entries;  /* [n] */
    uint32_t n, n_cap;
    char *arena;        /* NUL-separated keys */
    size_t arena_len, arena_cap;
    size_t max_key;     /* longest key among in_vocab entries, bytes */
} wp_map;

/* An "added token": matched whole in the text before anything else. */
typedef struct {
    char *text;         /* UTF-8, NUL-terminated */
    uint32_t *cps;      /* [n_cps] the same as code points */
    int n_cps;
    int id;
    int special, lstrip, rstrip, normalized;
} wp_added;

typedef struct {
    wp_map map;
    const char **id_tok;    /* [n_ids] token of each id (in map arena) */
    int n_ids;              /* vocabulary lines + added tokens past them */
    int n_vocab_ids;        /* ids that came from the vocabulary */

    char prefix[32];        /* continuing-subword prefix, "##" */
    size_t prefix_len;
    int max_chars;          /* longer words become unk (100) */
    int lower;              /* do_lower_case */
    int strip_accents;      /* resolved: strip combining marks */
    int chinese;            /* tokenize_chinese_chars */
    int clean;              /* drop controls, map whitespace to ' ' */
    int cleanup;            /* decode: clean_up_tokenization_spaces */

    /* all_special_tokens in the reference's order: unk sep pad cls mask,
     * then additional_special_tokens; NULL names are absent. */
    char *unk_tok, *sep_tok, *pad_tok, *cls_tok, *mask_tok;
    char **extra_special;
    int n_extra_special;
    int unk, sep, pad, cls, mask;   /* ids, -1 when absent */

    wp_added *added;
    int n_added;
    uint8_t added_first[128];   /* ASCII first code points of added */
    int added_first_high;       /* some added token starts above ASCII */
    /* Indices into added of the tokens lower-casing leaves alone, in
     * the reference's order: the specials, then the non-special
     * "normalized" added tokens. */
    int *protect;
    int n_protect;

    char **never_split;         /* never_split of tokenizer_config.json */
    int n_never_split;
    /* What the basic tokenizer leaves whole: never_split plus the
     * special token strings (cfg says which list it came from). */
    struct wp_never {
        const char *s;
        size_t len;
        int cfg;
    } *never;
    int n_never;
} wordpiece;

/* --- wordpiece_vocab.c --- */

void wp_map_free(wp_map *m);
/* Inserts or updates key -> id; a later insert of the same key wins, as
 * in the reference's dict.  Returns the entry index or -1 (no memory). */
int wp_map_put(wp_map *m, const char *key, size_t len, int id,
               int in_vocab);
/* The entry of prefix+key (prefix may be NULL), or NULL. */
const wp_entry *wp_map_get(const wp_map *m, const char *prefix,
                           size_t plen, const char *key, size_t len);
const char *wp_map_key(const wp_map *m, const wp_entry *e);

/* The id of a whole token as convert_tokens_to_ids gives it: added
 * tokens, then the vocabulary, else unk. */
int wp_token_id(const wordpiece *wp, const char *tok, size_t len);

/* Growable id list. */
typedef struct {
    int32_t *v;
    int n, cap;
} wp_ids;
int wp_ids_push(wp_ids *ids, int32_t id);

/*
 * Greedy longest-match-first WordPiece of one word (`nb` UTF-8 bytes,
 * `nc` code points): appends the ids of its pieces, or the unk id when
 * the word is longer than max_chars or a position matches nothing.
 * Returns 0, or -1 when out of memory.
 */
int wp_split_word(const wordpiece *wp, const char *w, size_t nb, size_t nc,
                  wp_ids *out);

/* --- wordpiece_basic.c --- */

/* Decodes UTF-8; each byte of an invalid sequence becomes U+FFFD.
 * `out` must hold len code points.  Returns the count. */
size_t wp_utf8_decode(const char *s, size_t len, uint32_t *out);
/* Decodes the code point at s[0..len), len > 0: returns the bytes used,
 * 1 with *cp = U+FFFD for a byte that starts no valid sequence. */
size_t wp_utf8_next(const char *s, size_t len, uint32_t *cp);
/* Encodes one code point (<= 0x10FFFF) into out[4]; returns bytes. */
int wp_utf8_put(uint32_t cp, char *out);

/* Python's str.isspace(), which whitespace_tokenize splits on. */
int wp_is_space(uint32_t cp);

/*
 * The encode pipeline of one text: lower-casing outside special tokens,
 * the added-token split, the basic tokenizer, WordPiece.  Appends ids.
 * Returns T5E_OK, or T5E_ERR_NOMEM.
 */
t5e_status wp_tokenize(const wordpiece *wp, const char *text, size_t len,
                       wp_ids *out, t5e_err *err);

/* --- wordpiece_load.c --- */

t5e_status wp_load_vocab_txt(wordpiece *wp, const char *path, t5e_err *err);
t5e_status wp_load_tokenizer_json(wordpiece *wp, const char *path,
                                  t5e_err *err);
void wp_free(wordpiece *wp);

#endif
