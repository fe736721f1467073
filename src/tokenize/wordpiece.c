/*
 * wordpiece.c - the WordPiece tokenizer behind the public t5e_tokenizer:
 * [CLS] a [SEP] (b [SEP]) assembly, truncation, padding, decoding.
 *
 * Truncation follows the reference's default 'longest_first' strategy:
 * a single text loses tokens from its end, but is left whole when that
 * would remove all of it (the reference logs an error and keeps it);
 * a pair first trims the longer text down to the shorter one, then
 * both alternately, the second text losing the odd token.
 *
 * Decoding is the reference's: ids to tokens (an unknown id reads as the
 * unk token), " "-joined, " ##" glued, stripped, then
 * clean_up_tokenization (" ." -> "." ...).  skip_special drops the ids of
 * all special tokens, [UNK] included, as skip_special_tokens does.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokenizer_impl.h"
#include "tokenize/wordpiece.h"

static const char *wp_piece(const wordpiece *wp, int id) {
    if (id < 0 || id >= wp->n_ids)
        return NULL;
    return wp->id_tok[id] ? wp->id_tok[id] : wp->unk_tok;
}

static void truncate_pair(wp_ids *a, wp_ids *b, long remove) {
    long la = a->n, lb = b->n;
    long first = labs(la - lb) < remove ? labs(la - lb) : remove;
    long second = remove - first;
    long ra, rb;
    if (la > lb) {
        ra = first + second / 2;
        rb = second - second / 2;
    } else {
        ra = second / 2;
        rb = first + second - second / 2;
    }
    a->n = (int)(ra < la ? la - ra : 0);
    b->n = (int)(rb < lb ? lb - rb : 0);
}

static void truncate_ids(wp_ids *a, wp_ids *b, int specials, int max_len) {
    if (max_len <= 0)
        return;
    long total = (long)a->n + (b ? b->n : 0) +
                 (specials ? (b ? 3 : 2) : 0);
    long remove = total - max_len;
    if (remove <= 0)
        return;
    if (b)
        truncate_pair(a, b, remove);
    else if (a->n > remove)
        a->n -= (int)remove;
}

/* Fills out with [CLS] a [SEP] b [SEP] (or a b), then the padding. */
static t5e_status assemble(const wordpiece *wp, const wp_ids *a,
                           const wp_ids *b, const t5e_encode_options *opt,
                           t5e_encoding *out, t5e_err *err) {
    int sp = opt->add_special_tokens;
    long n = (long)a->n + (b ? b->n : 0) + (sp ? (b ? 3 : 2) : 0);
    long total = opt->pad_to > n ? opt->pad_to : n;
    if (total > INT32_MAX / 8)
        return err_set(err, T5E_ERR_ARG, "wordpiece: %ld tokens", total);
    t5e_status s = encoding_alloc(out, (int)total, err);
    if (s)
        return s;
    int k = 0;
    if (sp)
        out->ids[k++] = wp->cls;
    if (a->n)
        memcpy(out->ids + k, a->v, (size_t)a->n * sizeof *a->v);
    k += a->n;
    if (sp)
        out->ids[k++] = wp->sep;
    int first_end = k;  /* type ids: 0 up to here, 1 after (with specials) */
    if (b) {
        if (b->n)
            memcpy(out->ids + k, b->v, (size_t)b->n * sizeof *b->v);
        k += b->n;
        if (sp)
            out->ids[k++] = wp->sep;
    }
    for (int i = 0; i < (int)total; i++) {
        int real = i < k;
        if (!real)
            out->ids[i] = wp->pad;
        out->type_ids[i] = real && sp && b && i >= first_end;
        out->attention_mask[i] = real;
        const char *p = wp_piece(wp, out->ids[i]);
        out->pieces[i] = strdup(p ? p : "");
        if (!out->pieces[i]) {
            t5e_encoding_free(out);
            return err_set(err, T5E_ERR_NOMEM, "wordpiece: out of memory");
        }
    }
    return T5E_OK;
}

static t5e_status wp_encode(const void *impl, const char *text, size_t len,
                            const char *text_b, size_t len_b,
                            const t5e_encode_options *opt, t5e_encoding *out,
                            t5e_err *err) {
    const wordpiece *wp = impl;
    wp_ids a = {0}, b = {0};
    t5e_status s = wp_tokenize(wp, text, len, &a, err);
    if (!s && text_b)
        s = wp_tokenize(wp, text_b, len_b, &b, err);
    if (!s) {
        truncate_ids(&a, text_b ? &b : NULL, opt->add_special_tokens,
                     opt->max_length);
        s = assemble(wp, &a, text_b ? &b : NULL, opt, out, err);
    }
    free(a.v);
    free(b.v);
    return s;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

/* A growable string. */
typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p)
            return -1;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 0;
}

/* Replaces every `from` by the shorter-or-equal `to`, left to right, in
 * place: one pass of Python's str.replace. */
static size_t replace_all(char *s, size_t n, const char *from,
                          const char *to) {
    size_t fl = strlen(from), tl = strlen(to), r = 0, w = 0;
    while (r < n) {
        if (r + fl <= n && !memcmp(s + r, from, fl)) {
            memcpy(s + w, to, tl);
            w += tl;
            r += fl;
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = '\0';
    return w;
}

/* The reference's clean_up_tokenization, one replacement after another. */
static size_t cleanup_spaces(char *s, size_t n) {
    static const char *const rules[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","},
        {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"},
        {" 've", "'ve"}, {" 're", "'re"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        n = replace_all(s, n, rules[i][0], rules[i][1]);
    return n;
}

/* Python's str.strip(): whitespace off both ends (an invalid byte
 * counts as a non-space and stops the stripping). */
static size_t py_strip(char *s, size_t n) {
    uint32_t cp;
    size_t a = 0;
    while (a < n) {
        size_t k = wp_utf8_next(s + a, n - a, &cp);
        if (!wp_is_space(cp))
            break;
        a += k;
    }
    while (n > a) {
        size_t k = 1;
        while (k < 4 && n - k > a && ((uint8_t)s[n - k] & 0xC0) == 0x80)
            k++;
        if (wp_utf8_next(s + n - k, k, &cp) != k || !wp_is_space(cp))
            break;
        n -= k;
    }
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
    return n - a;
}

/* convert_tokens_to_string: join with spaces, glue " ##" pieces, strip;
 * appended to out as one sub-text. */
static int flush_group(const wordpiece *wp, sbuf *group, sbuf *out) {
    if (!group->n)
        return 0;
    char glue[sizeof wp->prefix + 1] = " ";
    memcpy(glue + 1, wp->prefix, wp->prefix_len + 1);
    size_t n = wp->prefix_len ? replace_all(group->s, group->n, glue, "")
                              : group->n;
    n = py_strip(group->s, n);
    group->n = 0;
    if (!n)
        return 0;
    if (out->n && sb_put(out, " ", 1))
        return -1;
    return sb_put(out, group->s, n);
}

static int is_special_id(const wordpiece *wp, int id) {
    if (id == wp->unk || id == wp->sep || id == wp->pad || id == wp->cls ||
        id == wp->mask)
        return 1;
    for (int i = 0; i < wp->n_extra_special; i++)
        if (id == wp_token_id(wp, wp->extra_special[i],
                              strlen(wp->extra_special[i])))
            return 1;
    return 0;
}

/* The reference decodes added tokens that are not special ("legacy"
 * added tokens) on their own, outside the " ##" gluing. */
static int is_legacy_added(const wordpiece *wp, int id) {
    for (int i = 0; i < wp->n_added; i++) {
        const wp_added *a = &wp->added[i];
        if (a->id != id)
            continue;
        if (!a->special)
            return 1;
        for (int j = 0; j < wp->n_extra_special; j++)
            if (!strcmp(a->text, wp->extra_special[j]))
                return id >= wp->n_vocab_ids;
    }
    return 0;
}

static int decode_into(const wordpiece *wp, const int32_t *ids, int n,
                       int skip, sbuf *group, sbuf *out) {
    for (int i = 0; i < n; i++) {
        if (skip && is_special_id(wp, ids[i]))
            continue;
        const char *tok = wp_piece(wp, ids[i]);
        if (!tok)
            tok = wp->unk_tok;
        if (wp->n_added && is_legacy_added(wp, ids[i])) {
            if (flush_group(wp, group, out) ||
                (out->n && sb_put(out, " ", 1)) ||
                sb_put(out, tok, strlen(tok)))
                return -1;
            continue;
        }
        if ((group->n && sb_put(group, " ", 1)) ||
            sb_put(group, tok, strlen(tok)))
            return -1;
    }
    return flush_group(wp, group, out);
}

static t5e_status wp_decode(const void *impl, const int32_t *ids, int n,
                            int skip_special, char **out, t5e_err *err) {
    const wordpiece *wp = impl;
    sbuf group = {0}, text = {0};
    int rc = decode_into(wp, ids, n, skip_special, &group, &text);
    free(group.s);
    if (!rc && !text.s)
        rc = sb_put(&text, "", 0);
    if (rc) {
        free(text.s);
        return err_set(err, T5E_ERR_NOMEM, "wordpiece: out of memory "
                       "decoding %d ids", n);
    }
    if (wp->cleanup)
        text.n = cleanup_spaces(text.s, text.n);
    *out = text.s;
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* The tokenizer_ops table                                             */
/* ------------------------------------------------------------------ */

static int wp_vocab_size(const void *impl) {
    return ((const wordpiece *)impl)->n_ids;
}

static const char *wp_id_to_piece(const void *impl, int id) {
    return wp_piece(impl, id);
}

static int wp_piece_to_id(const void *impl, const char *piece) {
    const wordpiece *wp = impl;
    const wp_entry *e = wp_map_get(&wp->map, NULL, 0, piece, strlen(piece));
    return e ? e->id : -1;
}

static t5e_special_ids wp_special_ids(const void *impl) {
    const wordpiece *wp = impl;
    t5e_special_ids s = {.pad = wp->pad, .unk = wp->unk, .eos = -1,
                         .bos = -1, .cls = wp->cls, .sep = wp->sep,
                         .mask = wp->mask};
    return s;
}

static void wp_release(void *impl) {
    wp_free(impl);
}

const tokenizer_ops wordpiece_tokenizer_ops = {
    .encode = wp_encode,
    .decode = wp_decode,
    .vocab_size = wp_vocab_size,
    .id_to_piece = wp_id_to_piece,
    .piece_to_id = wp_piece_to_id,
    .special_ids = wp_special_ids,
    .free = wp_release,
};

t5e_status wordpiece_tokenizer_open(const char *path, int from_json,
                                    void **impl, t5e_err *err) {
    *impl = NULL;
    wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    t5e_status s = from_json ? wp_load_tokenizer_json(wp, path, err)
                             : wp_load_vocab_txt(wp, path, err);
    if (s) {
        wp_free(wp);
        return s;
    }
    *impl = wp;
    return T5E_OK;
}
