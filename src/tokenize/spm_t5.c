/*
 * spm_t5.c - T5Tokenizer (slow, transformers 4.36.2) over the unigram
 * model, and the tokenizer_ops that tokenizer.c dispatches to.
 *
 * What the reference does, and so what this file does:
 *  - 100 sentinels <extra_id_N> get ids pieces + 99 - N.
 *  - "</s>", "<pad>", "<unk>" and the sentinels are cut out of the text
 *    first (whole strings, leftmost); a sentinel strips the Unicode
 *    whitespace (Python str.isspace) of its neighbours; the other three
 *    strip nothing.  The rest is encoded piece by piece with sp.
 *  - legacy=False: sp without add_dummy_prefix; the text becomes
 *    "▁" + text with "▁" replaced by " "; a chunk that starts with " " or
 *    "▁" is encoded as "<unk>" + chunk and the pieces of "<unk>" dropped;
 *    a leading "▁" token before a special token is dropped.
 *  - Pieces map to ids with PieceToId (so an unknown run whose text is a
 *    piece gets that piece's id); </s> is appended unless already last.
 *  - decode: sentinels are joined with spaces; the rest goes through
 *    convert_tokens_to_string and clean_up_tokenization.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tokenize/spm.h"
#include "tokenize/tokenizer_impl.h"

#define N_SENTINELS 100
#define SPACE_SYMBOL "\xe2\x96\x81"

typedef struct {
    spm_model m;
    int n_sp;         /* sp pieces; the sentinels follow them */
    int eos_id, pad_id, unk_id; /* ids of "</s>", "<pad>", "<unk>" */
    int unk_pieces;   /* len(sp.encode("<unk>")) without dummy prefix */
    char sentinel[N_SENTINELS][16];
} t5_tok;

/* ------------------------------------------------------------------ */
/* Special strings                                                     */
/* ------------------------------------------------------------------ */

/* Length of the sentinel "<extra_id_N>" at s, with N in *n; 0 if none. */
static size_t sentinel_at(const char *s, size_t len, int *n) {
    static const char head[] = "<extra_id_";
    if (len < 12 || memcmp(s, head, 10) != 0)
        return 0;
    size_t i = 10;
    int v = 0, digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 3) {
        v = v * 10 + (s[i] - '0');
        i++;
        digits++;
    }
    if (digits == 0 || (digits > 1 && s[10] == '0') || v >= N_SENTINELS ||
        i >= len || s[i] != '>')
        return 0;
    *n = v;
    return i + 1;
}

/* The special token that starts at s: its length and id (0: none).
 * *strip is set for sentinels, which strip whitespace on both sides. */
static size_t special_at(const t5_tok *t, const char *s, size_t len,
                         int *id, int *strip) {
    static const char *const names[3] = {"</s>", "<pad>", "<unk>"};
    const int ids[3] = {t->eos_id, t->pad_id, t->unk_id};
    *strip = 0;
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(names[k]);
        if (len >= n && memcmp(s, names[k], n) == 0) {
            *id = ids[k];
            return n;
        }
    }
    int v;
    size_t n = sentinel_at(s, len, &v);
    if (n) {
        *id = t->n_sp + N_SENTINELS - 1 - v;
        *strip = 1;
    }
    return n;
}

/* 1 when the whole of s is a special token (all_special_tokens). */
static int is_special_text(const t5_tok *t, const char *s, size_t len) {
    int id, strip;
    return len > 0 && s[0] == '<' && special_at(t, s, len, &id, &strip) ==
                                         len;
}

static const char *id_text(const t5_tok *t, int id, size_t *len) {
    const char *s = id >= t->n_sp ? t->sentinel[t->n_sp + N_SENTINELS - 1 -
                                                id]
                                  : t->m.piece[id];
    *len = id >= t->n_sp ? strlen(s) : t->m.piece_len[id];
    return s;
}

/* ------------------------------------------------------------------ */
/* Python whitespace                                                   */
/* ------------------------------------------------------------------ */

/* str.isspace: category Zs, or bidirectional class WS, B or S. */
static int py_space(utf8proc_int32_t cp) {
    if (cp < 0x80)
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) ||
               (cp >= 0x1c && cp <= 0x1f);
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    return p->category == UTF8PROC_CATEGORY_ZS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* Bytes of the whitespace character at s (0: not whitespace; an invalid
 * UTF-8 byte is not whitespace). */
static size_t space_at(const char *s, size_t len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s,
                                          (utf8proc_ssize_t)len, &cp);
    return k > 0 && py_space(cp) ? (size_t)k : 0;
}

static void py_lstrip(const char **s, size_t *n) {
    size_t k;
    while (*n > 0 && (k = space_at(*s, *n)) > 0) {
        *s += k;
        *n -= k;
    }
}

static void py_rstrip(const char *s, size_t *n) {
    while (*n > 0) {
        size_t b = *n - 1, k;
        while (b > 0 && *n - b < 4 && ((uint8_t)s[b] & 0xc0) == 0x80)
            b--;
        k = space_at(s + b, *n - b);
        if (k == 0 || b + k != *n)
            return;
        *n = b;
    }
}

/* ------------------------------------------------------------------ */
/* Encode                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *p;
    size_t n;
    int id;    /* special id, or -1 for text */
    int strip; /* sentinel: strips its neighbours */
} chunk;

/* One token: its id and where its text is. */
typedef struct {
    int32_t id;
    int32_t own; /* 1: text in side buffer at off, else id_text(id) */
    size_t off, len;
} t5_item;

typedef struct {
    t5_item *v;
    size_t n, cap;
    spm_str side; /* texts of unknown runs */
    spm_work w;
    chunk *c;
    size_t nc, ccap;
    spm_str buf;  /* the legacy=False text, and "<unk>" + chunk */
} t5_state;

static void state_free(t5_state *st) {
    free(st->v);
    free(st->side.s);
    free(st->c);
    free(st->buf.s);
    spm_work_free(&st->w);
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return 0;
    *p = q;
    *cap = c;
    return 1;
}

static const char *item_text(const t5_tok *t, const t5_state *st,
                             const t5_item *it, size_t *len) {
    if (it->own) {
        *len = it->len;
        return st->side.s + it->off;
    }
    return id_text(t, it->id, len);
}

/* Tokens trie split: leftmost special tokens cut out, empty parts
 * dropped, then the sentinels strip their neighbours. */
static int split_specials(const t5_tok *t, t5_state *st, const char *s,
                          size_t n) {
    st->nc = 0;
    size_t from = 0, i = 0;
    while (i <= n) {
        int id = -1, strip = 0;
        size_t k = i < n && s[i] == '<' ? special_at(t, s + i, n - i, &id,
                                                     &strip) : 0;
        if (!k && i < n) {
            i++;
            continue;
        }
        if (!grow((void **)&st->c, &st->ccap, st->nc + 2, sizeof *st->c))
            return 0;
        if (i > from)
            st->c[st->nc++] = (chunk){s + from, i - from, -1, 0};
        if (!k)
            break;
        st->c[st->nc++] = (chunk){s + i, k, id, strip};
        i += k;
        from = i;
    }
    for (size_t j = 0; j < st->nc; j++) {
        if (!st->c[j].strip)
            continue;
        if (j + 1 < st->nc && st->c[j + 1].n > 0)
            py_lstrip(&st->c[j + 1].p, &st->c[j + 1].n);
        if (j > 0 && st->c[j - 1].n > 0)
            py_rstrip(st->c[j - 1].p, &st->c[j - 1].n);
    }
    return 1;
}

/* Appends the sp tokens of w from index `skip` on. */
static int push_sp_tokens(const t5_tok *t, t5_state *st, size_t skip) {
    spm_work *w = &st->w;
    if (!grow((void **)&st->v, &st->cap, st->n + w->n_tok, sizeof *st->v))
        return 0;
    for (size_t i = skip; i < w->n_tok; i++) {
        const spm_token *tk = &w->tok[i];
        t5_item it = {tk->id, 0, 0, 0};
        if (tk->id == t->m.unk_id) {
            /* convert_tokens_to_ids on the unknown text */
            size_t len;
            const char *s = spm_token_text(&t->m, w, tk, &len);
            int id, strip;
            if (is_special_text(t, s, len))
                special_at(t, s, len, &id, &strip);
            else
                id = spm_piece_to_id(&t->m, s, len);
            it = (t5_item){id, 1, st->side.n, len};
            if (!spm_str_put(&st->side, s, len))
                return 0;
        }
        st->v[st->n++] = it;
    }
    return 1;
}

/* T5Tokenizer._tokenize of one text chunk. */
static t5e_status tokenize_chunk(const t5_tok *t, t5_state *st,
                                 const chunk *c, int legacy, t5e_err *err) {
    const spm_model *m = &t->m;
    t5e_status s;
    size_t skip = 0;
    int lead = c->n > 0 && (c->p[0] == ' ' ||
                            (c->n >= 3 && memcmp(c->p, SPACE_SYMBOL, 3) == 0));
    if (legacy) {
        s = spm_encode(m, c->p, c->n, m->add_dummy_prefix, 0, &st->w, err);
    } else if (!lead) {
        s = spm_encode(m, c->p, c->n, 0, 0, &st->w, err);
    } else {
        st->buf.n = 0;
        if (!spm_str_put(&st->buf, "<unk>", 5) ||
            !spm_str_put(&st->buf, c->p, c->n))
            return err_set(err, T5E_ERR_NOMEM, "encode: %zu bytes", c->n);
        s = spm_encode(m, st->buf.s, st->buf.n, 0, 0, &st->w, err);
        if (st->w.n_tok >= (size_t)t->unk_pieces)
            skip = (size_t)t->unk_pieces;
    }
    if (s)
        return s;
    if (!push_sp_tokens(t, st, skip))
        return err_set(err, T5E_ERR_NOMEM, "encode: tokens");
    return T5E_OK;
}

/* legacy=False input: "▁" + text with every "▁" written as " ". */
static int nonlegacy_text(t5_state *st, const char *s, size_t n) {
    st->buf.n = 0;
    if (!spm_str_put(&st->buf, SPACE_SYMBOL, 3))
        return 0;
    size_t from = 0;
    for (size_t i = 0; i + 3 <= n; i++) {
        if (memcmp(s + i, SPACE_SYMBOL, 3) != 0)
            continue;
        if (!spm_str_put(&st->buf, s + from, i - from) ||
            !spm_str_put(&st->buf, " ", 1))
            return 0;
        i += 2;
        from = i + 1;
    }
    return spm_str_put(&st->buf, s + from, n - from);
}

/* T5Tokenizer.tokenize + convert_tokens_to_ids into st->v. */
static t5e_status tokenize_text(const t5_tok *t, t5_state *st,
                                const char *s, size_t n, int legacy,
                                t5e_err *err) {
    st->n = 0;
    st->side.n = 0;
    if (n == 0)
        return T5E_OK;
    char *owned = NULL;
    if (!legacy) {
        if (!nonlegacy_text(st, s, n))
            return err_set(err, T5E_ERR_NOMEM, "encode: %zu bytes", n);
        /* buf is reused per chunk: keep the text in its own block */
        owned = st->buf.s;
        n = st->buf.n;
        st->buf = (spm_str){0};
        s = owned;
    }
    t5e_status r = T5E_OK;
    if (!split_specials(t, st, s, n))
        r = err_set(err, T5E_ERR_NOMEM, "encode: %zu bytes", n);
    for (size_t j = 0; j < st->nc && !r; j++) {
        const chunk *c = &st->c[j];
        if (c->n == 0)
            continue;
        if (c->id < 0) {
            r = tokenize_chunk(t, st, c, legacy, err);
        } else if (grow((void **)&st->v, &st->cap, st->n + 1,
                        sizeof *st->v)) {
            st->v[st->n++] = (t5_item){c->id, 0, 0, 0};
        } else {
            r = err_set(err, T5E_ERR_NOMEM, "encode: tokens");
        }
    }
    free(owned);
    if (r || legacy || st->n < 2)
        return r;
    size_t l0, l1;
    const char *t0 = item_text(t, st, &st->v[0], &l0);
    const char *t1 = item_text(t, st, &st->v[1], &l1);
    if (l0 == 3 && memcmp(t0, SPACE_SYMBOL, 3) == 0 &&
        is_special_text(t, t1, l1)) {
        memmove(st->v, st->v + 1, (st->n - 1) * sizeof *st->v);
        st->n--;
    }
    return T5E_OK;
}

/* Final ids: truncation (longest first), </s> unless already last,
 * padding. */
typedef struct {
    t5_item *a, *b;
    size_t na, nb;
} seq_pair;

static void truncate_pair(seq_pair *p, int has_b, int n_special,
                          int max_length) {
    if (max_length <= 0)
        return;
    size_t total = p->na + p->nb + (size_t)n_special;
    if (total <= (size_t)max_length)
        return;
    size_t remove = total - (size_t)max_length;
    if (remove > p->na + p->nb)
        return; /* the reference logs an error and leaves them */
    while (remove-- > 0) {
        if (!has_b || p->na > p->nb)
            p->na--;
        else
            p->nb--;
    }
}

static int put_item(const t5_tok *t, const t5_state *st, const t5_item *it,
                    t5e_encoding *e, int k) {
    size_t len;
    const char *s = it ? item_text(t, st, it, &len) : "</s>";
    if (!it)
        len = 4;
    e->ids[k] = it ? it->id : t->eos_id;
    e->attention_mask[k] = 1;
    e->pieces[k] = malloc(len + 1);
    if (!e->pieces[k])
        return 0;
    memcpy(e->pieces[k], s, len);
    e->pieces[k][len] = '\0';
    return 1;
}

/* Writes one sequence (and its </s>) at e->ids[*k...]. */
static int put_seq(const t5_tok *t, const t5_state *st, const t5_item *v,
                   size_t n, int eos, t5e_encoding *e, int *k) {
    for (size_t i = 0; i < n; i++)
        if (!put_item(t, st, &v[i], e, (*k)++))
            return 0;
    if (eos && (n == 0 || v[n - 1].id != t->eos_id))
        if (!put_item(t, st, NULL, e, (*k)++))
            return 0;
    return 1;
}

static t5e_status build_encoding(const t5_tok *t, const t5_state *sa,
                                 const t5_state *sb, seq_pair p,
                                 const t5e_encode_options *opt,
                                 t5e_encoding *out, t5e_err *err) {
    int eos = opt->add_special_tokens;
    /* </s> is not added again after a sequence that ends with it */
    size_t total = p.na + p.nb;
    if (eos && (p.na == 0 || p.a[p.na - 1].id != t->eos_id))
        total++;
    if (eos && sb && (p.nb == 0 || p.b[p.nb - 1].id != t->eos_id))
        total++;
    size_t n = total;
    if (opt->pad_to > 0 && (size_t)opt->pad_to > n)
        n = (size_t)opt->pad_to;
    if (n > INT32_MAX)
        return err_set(err, T5E_ERR_ARG, "encode: %zu tokens", n);
    t5e_status s = encoding_alloc(out, (int)n, err);
    if (s)
        return s;
    int k = 0;
    int ok = put_seq(t, sa, p.a, p.na, eos, out, &k);
    if (ok && sb)
        ok = put_seq(t, sb, p.b, p.nb, eos, out, &k);
    for (; ok && k < (int)n; k++) {
        out->ids[k] = t->pad_id;
        out->attention_mask[k] = 0;
        size_t len;
        const char *ps = id_text(t, t->pad_id, &len);
        ok = (out->pieces[k] = strdup(ps)) != NULL;
    }
    if (!ok) {
        t5e_encoding_free(out);
        return err_set(err, T5E_ERR_NOMEM, "encode: pieces");
    }
    return T5E_OK;
}

static t5e_status t5_encode(const void *impl, const char *text, size_t len,
                            const char *text_b, size_t len_b,
                            const t5e_encode_options *opt, t5e_encoding *out,
                            t5e_err *err) {
    const t5_tok *t = impl;
    t5_state sa = {0}, sb = {0};
    t5e_status s = tokenize_text(t, &sa, text, len, opt->legacy, err);
    if (!s && text_b)
        s = tokenize_text(t, &sb, text_b, len_b, opt->legacy, err);
    if (!s) {
        seq_pair p = {sa.v, sb.v, sa.n, sb.n};
        int n_special = opt->add_special_tokens ? 1 + (text_b != NULL) : 0;
        truncate_pair(&p, text_b != NULL, n_special, opt->max_length);
        s = build_encoding(t, &sa, text_b ? &sb : NULL, p, opt, out, err);
    }
    state_free(&sa);
    state_free(&sb);
    return s;
}

/* ------------------------------------------------------------------ */
/* Decode                                                              */
/* ------------------------------------------------------------------ */

/* Python str.strip() of b->s[from..]. */
static void py_strip_tail(spm_str *b, size_t from) {
    const char *s = b->s + from;
    size_t n = b->n - from;
    py_lstrip(&s, &n);
    py_rstrip(s, &n);
    memmove(b->s + from, s, n);
    b->n = from + n;
    b->s[b->n] = '\0';
}

/* T5Tokenizer.convert_tokens_to_string of ids[0..n), appended to out. */
static t5e_status tokens_to_string(const t5_tok *t, const int32_t *ids,
                                   int n, spm_str *out, t5e_err *err) {
    const char **pieces = xmalloc_array((size_t)n + 1, sizeof *pieces);
    size_t *lens = xmalloc_array((size_t)n + 1, sizeof *lens);
    size_t from = out->n;
    t5e_status s = T5E_OK;
    if (!pieces || !lens || !spm_str_put(out, "", 0))
        s = err_set(err, T5E_ERR_NOMEM, "decode of %d ids", n);
    int cur = 0, prev_special = 0;
    for (int i = 0; i < n && !s; i++) {
        pieces[cur] = id_text(t, ids[i], &lens[cur]);
        if (i == 0) /* tokens[0].lstrip("▁") */
            while (lens[0] >= 3 && memcmp(pieces[0], SPACE_SYMBOL, 3) == 0) {
                pieces[0] += 3;
                lens[0] -= 3;
            }
        if (!is_special_text(t, pieces[cur], lens[cur])) {
            cur++;
            prev_special = 0;
            continue;
        }
        if (!prev_special && !spm_str_put(out, " ", 1))
            s = err_set(err, T5E_ERR_NOMEM, "decode");
        if (!s)
            s = spm_decode_pieces(&t->m, pieces, lens, cur, out, err);
        if (!s && !spm_str_put(out, pieces[cur], lens[cur]))
            s = err_set(err, T5E_ERR_NOMEM, "decode");
        prev_special = 1;
        cur = 0;
    }
    if (!s)
        s = spm_decode_pieces(&t->m, pieces, lens, cur, out, err);
    free(pieces);
    free(lens);
    if (!s)
        py_strip_tail(out, from);
    return s;
}

/* clean_up_tokenization: the reference's fixed str.replace chain. */
static int clean_up(spm_str *b) {
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ",
                                       " n't", " 'm", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'",
                                     "n't", "'m", "'s", "'ve", "'re"};
    for (int r = 0; r < 10; r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]), o = 0;
        for (size_t i = 0; i < b->n;) {
            if (i + fl <= b->n && memcmp(b->s + i, from[r], fl) == 0) {
                memmove(b->s + o, to[r], tl); /* tl < fl: o stays <= i */
                o += tl;
                i += fl;
            } else {
                b->s[o++] = b->s[i++];
            }
        }
        b->n = o;
        b->s[o] = '\0';
    }
    return 1;
}

static int is_skipped(const t5_tok *t, int id) {
    return id == t->pad_id || id == t->eos_id || id == t->unk_id ||
           id >= t->n_sp;
}

static t5e_status t5_decode(const void *impl, const int32_t *ids, int n,
                            int skip_special, char **out, t5e_err *err) {
    const t5_tok *t = impl;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_sp + N_SENTINELS)
            return err_set(err, T5E_ERR_ARG, "decode: id %d at %d is out "
                           "of range [0, %d)", ids[i], i,
                           t->n_sp + N_SENTINELS);
    int32_t *kept = xmalloc_array((size_t)n + 1, sizeof *kept);
    spm_str b = {0};
    if (!kept || !spm_str_put(&b, "", 0)) {
        free(kept);
        return err_set(err, T5E_ERR_NOMEM, "decode of %d ids", n);
    }
    int nk = 0, subs = 0;
    t5e_status s = T5E_OK;
    for (int i = 0; i < n; i++)
        if (!skip_special || !is_skipped(t, ids[i]))
            kept[nk++] = ids[i];
    /* sub_texts joined by " ": sentinels alone, runs between them
     * through convert_tokens_to_string (empty ones dropped, except the
     * last run) */
    int run = 0;
    for (int i = 0; i <= nk && !s; i++) {
        int sentinel = i < nk && kept[i] >= t->n_sp;
        if (i < nk && !sentinel)
            continue;
        if (i > run) {
            size_t mark = b.n;
            if (subs > 0 && !spm_str_put(&b, " ", 1))
                s = err_set(err, T5E_ERR_NOMEM, "decode");
            size_t start = b.n;
            if (!s)
                s = tokens_to_string(t, kept + run, i - run, &b, err);
            if (!s && b.n == start && i < nk)
                b.n = mark; /* an empty run before a sentinel is dropped */
            else if (!s)
                subs++;
        }
        if (!s && sentinel) {
            size_t len;
            const char *st = id_text(t, kept[i], &len);
            if ((subs > 0 && !spm_str_put(&b, " ", 1)) ||
                !spm_str_put(&b, st, len))
                s = err_set(err, T5E_ERR_NOMEM, "decode");
            subs++;
        }
        run = i + 1;
    }
    free(kept);
    if (s) {
        free(b.s);
        return s;
    }
    b.s[b.n] = '\0';
    clean_up(&b);
    *out = b.s;
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* Vocabulary and loading                                              */
/* ------------------------------------------------------------------ */

static int t5_vocab_size(const void *impl) {
    const t5_tok *t = impl;
    return t->n_sp + N_SENTINELS;
}

static const char *t5_id_to_piece(const void *impl, int id) {
    const t5_tok *t = impl;
    if (id < 0 || id >= t->n_sp + N_SENTINELS)
        return NULL;
    size_t len;
    return id_text(t, id, &len);
}

static int t5_piece_to_id(const void *impl, const char *piece) {
    const t5_tok *t = impl;
    size_t len = strlen(piece);
    int v;
    if (sentinel_at(piece, len, &v) == len && len > 0)
        return t->n_sp + N_SENTINELS - 1 - v;
    int id = spm_piece_to_id(&t->m, piece, len);
    if (t->m.piece_len[id] != len || memcmp(t->m.piece[id], piece, len))
        return -1;
    return id;
}

static t5e_special_ids t5_special_ids(const void *impl) {
    const t5_tok *t = impl;
    t5e_special_ids s = {t->pad_id, t->unk_id, t->eos_id, -1, -1, -1, -1};
    return s;
}

static void t5_free(void *impl) {
    t5_tok *t = impl;
    if (!t)
        return;
    spm_model_free(&t->m);
    free(t);
}

const tokenizer_ops spm_tokenizer_ops = {
    t5_encode,      t5_decode,      t5_vocab_size, t5_id_to_piece,
    t5_piece_to_id, t5_special_ids, t5_free,
};

/* The T5Tokenizer facts that depend on the model. */
static t5e_status t5_setup(t5_tok *t, t5e_err *err) {
    const spm_model *m = &t->m;
    t->n_sp = m->n;
    if (m->n > INT32_MAX - N_SENTINELS)
        return err_set(err, T5E_ERR_FORMAT, "%d pieces", m->n);
    t->eos_id = spm_piece_to_id(m, "</s>", 4);
    t->pad_id = spm_piece_to_id(m, "<pad>", 5);
    t->unk_id = spm_piece_to_id(m, "<unk>", 5);
    for (int i = 0; i < N_SENTINELS; i++)
        snprintf(t->sentinel[i], sizeof t->sentinel[i], "<extra_id_%d>", i);
    spm_work w = {0};
    t5e_status s = spm_encode(m, "<unk>", 5, 0, 0, &w, err);
    t->unk_pieces = (int)w.n_tok;
    spm_work_free(&w);
    return s;
}

t5e_status spm_tokenizer_open(const char *path, int from_json, void **impl,
                              t5e_err *err) {
    *impl = NULL;
    t5_tok *t = calloc(1, sizeof *t);
    if (!t)
        return err_set(err, T5E_ERR_NOMEM, "%s: tokenizer", path);
    t5e_status s;
    if (from_json) {
        s = spm_model_from_json(&t->m, path, err);
    } else {
        char *data;
        size_t len;
        s = file_read_all(path, &data, &len, err);
        if (!s) {
            s = spm_model_from_proto(&t->m, (const uint8_t *)data, len,
                                     path, err);
            free(data);
        }
    }
    if (!s)
        s = t5_setup(t, err);
    if (s) {
        t5_free(t);
        return s;
    }
    *impl = t;
    return T5E_OK;
}
