/*
 * wordpiece_basic.c - text to WordPiece ids, following transformers
 * 4.36.2 BertTokenizer.tokenize step by step:
 *
 *  1. UTF-8 -> code points; each byte of an invalid sequence becomes
 *     U+FFFD, which step 4 then drops (so invalid bytes vanish, and a
 *     word around them is joined: "ab\xffcd" reads as "abcd").
 *  2. With do_lower_case, every character outside special tokens (and
 *     non-special "normalized" added tokens) is lower-cased one by one,
 *     as the reference's per-character regex substitution does (so there
 *     is no final-sigma rule; U+0130 becomes "i" + U+0307).
 *  3. Added tokens are cut out whole (leftmost, then longest match); an
 *     lstrip / rstrip token eats the whitespace beside it.
 *  4. Basic tokenizer on the rest: drop U+0000, U+FFFD and every C*
 *     category character except \t \n \r; whitespace (Zs, \t \n \r) to a
 *     space; spaces around CJK ideographs; NFC; split on Python
 *     whitespace; per token (unless in never_split): lower-case, NFD and
 *     drop Mn when stripping accents, split off each punctuation char.
 *  5. WordPiece on each word (wordpiece_vocab.c).
 *
 * Steps 4 and 5 run word by word, so the work is linear in the text and
 * the scratch memory is a few times the text size.
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tokenize/wordpiece.h"

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */
/* ------------------------------------------------------------------ */

/* Length of the valid sequence at s[0..n), or 0 when it is invalid. */
static size_t utf8_valid_len(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t c = s[0];
    size_t k;
    uint32_t v, lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        v = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;   /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        v = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < k || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if (i > 1 && (s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return k;
}

size_t wp_utf8_next(const char *s, size_t len, uint32_t *cp) {
    size_t k = utf8_valid_len((const uint8_t *)s, len, cp);
    if (!k)
        *cp = 0xFFFD;
    return k ? k : 1;
}

size_t wp_utf8_decode(const char *s, size_t len, uint32_t *out) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            out[n++] = p[i++];
            continue;
        }
        uint32_t cp;
        size_t k = utf8_valid_len(p + i, len - i, &cp);
        out[n++] = k ? cp : 0xFFFD;
        i += k ? k : 1;
    }
    return n;
}

int wp_utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------ */
/* Character classes                                                   */
/* ------------------------------------------------------------------ */

static int category(uint32_t cp) {
    return utf8proc_category((utf8proc_int32_t)cp);
}

int wp_is_space(uint32_t cp) {
    if (cp < 0x80)
        return cp == ' ' || (cp >= 9 && cp <= 13) || (cp >= 0x1C &&
                                                      cp <= 0x1F);
    if (cp == 0x85 || cp == 0x2028 || cp == 0x2029)
        return 1;
    return category(cp) == UTF8PROC_CATEGORY_ZS;
}

/* BERT's _is_whitespace: space, \t \n \r, or category Zs. */
static int is_bert_space(uint32_t cp) {
    if (cp < 0x80)
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r';
    return category(cp) == UTF8PROC_CATEGORY_ZS;
}

/* BERT's _is_control: any C* category (Cc Cf Cs Co Cn) but \t \n \r. */
static int is_control(uint32_t cp) {
    if (cp < 0x80)
        return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
               cp == 0x7F;
    switch (category(cp)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
        return 1;
    default:
        return 0;
    }
}

/* All non-alphanumeric ASCII symbols, and Unicode P* categories. */
static int is_punct(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
               (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    int c = category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

/* The CJK ideograph blocks of BERT's _is_chinese_char, exactly. */
static int is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) ||
           (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* ------------------------------------------------------------------ */
/* Scratch buffers                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} cpbuf;

static int cpbuf_reserve(cpbuf *b, size_t need) {
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint32_t *v = xmalloc_array(cap, sizeof *v);
    if (!v)
        return -1;
    if (b->n)
        memcpy(v, b->v, b->n * sizeof *v);
    free(b->v);
    b->v = v;
    b->cap = cap;
    return 0;
}

/* State of one encode call; the tokenizer itself stays read-only. */
typedef struct {
    const wordpiece *wp;
    wp_ids *out;
    cpbuf tok;      /* the current whitespace-delimited token */
    cpbuf nfc;      /* the token after NFC */
    cpbuf low;      /* ... after lower-casing */
    cpbuf nfd;      /* ... after NFD and dropping Mn */
    char *u;        /* UTF-8 of the current word */
    size_t u_cap;
} run;

static void run_free(run *r) {
    free(r->tok.v);
    free(r->nfc.v);
    free(r->low.v);
    free(r->nfd.v);
    free(r->u);
}

/* ------------------------------------------------------------------ */
/* Normalization                                                       */
/* ------------------------------------------------------------------ */

/* Python's str.lower() of one character: out gets 1 or 2 code points. */
static int lower_cp(uint32_t cp, uint32_t *out) {
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) {      /* the one unconditional two-char mapping */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    return 1;
}

static int ccc(uint32_t cp) {
    return utf8proc_get_property((utf8proc_int32_t)cp)->combining_class;
}

/* Canonical ordering: a stable sort of each run of non-starters. */
static void canonical_order(uint32_t *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int c = ccc(v[i]);
        if (!c)
            continue;
        uint32_t x = v[i];
        size_t j = i;
        while (j > 0 && ccc(v[j - 1]) > c) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* NFD of t[0..n) into b.  Below U+00C0 nothing decomposes. */
static int nfd(const uint32_t *t, size_t n, cpbuf *b) {
    b->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (cpbuf_reserve(b, b->n + 8))
            return -1;
        if (t[i] < 0xC0) {
            b->v[b->n++] = t[i];
            continue;
        }
        utf8proc_ssize_t k = utf8proc_decompose_char(
            (utf8proc_int32_t)t[i], (utf8proc_int32_t *)b->v + b->n, 8,
            UTF8PROC_DECOMPOSE, NULL);
        if (k < 1 || k > 8) {   /* cannot happen for a valid code point */
            b->v[b->n] = t[i];
            k = 1;
        }
        b->n += (size_t)k;
    }
    canonical_order(b->v, b->n);
    return 0;
}

/* NFC of t[0..n) into b.  Nothing below U+0300 composes or changes. */
static int nfc(const uint32_t *t, size_t n, cpbuf *b) {
    if (nfd(t, n, b))
        return -1;
    utf8proc_ssize_t k = utf8proc_normalize_utf32(
        (utf8proc_int32_t *)b->v, (utf8proc_ssize_t)b->n,
        UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    if (k >= 0)
        b->n = (size_t)k;
    return 0;
}

static int any_at_least(const uint32_t *t, size_t n, uint32_t lim) {
    for (size_t i = 0; i < n; i++)
        if (t[i] >= lim)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Words                                                               */
/* ------------------------------------------------------------------ */

/* UTF-8 of t[0..n) into r->u; returns its length or -1. */
static long encode_word(run *r, const uint32_t *t, size_t n) {
    if (4 * n + 1 > r->u_cap) {
        size_t cap = 4 * n + 64;
        char *u = realloc(r->u, cap);
        if (!u)
            return -1;
        r->u = u;
        r->u_cap = cap;
    }
    size_t nb = 0;
    for (size_t i = 0; i < n; i++)
        nb += (size_t)wp_utf8_put(t[i], r->u + nb);
    r->u[nb] = '\0';
    return (long)nb;
}

/* Index in wp->never of the token in r->u (nb bytes), or -1. */
static int never_index(const wordpiece *wp, const char *u, size_t nb) {
    for (int i = 0; i < wp->n_never; i++)
        if (wp->never[i].len == nb && !memcmp(wp->never[i].s, u, nb))
            return i;
    return -1;
}

/* Whether t[0..n) could be a never-split entry: a cheap filter on the
 * first character and the length, so most tokens skip the comparison. */
static int may_be_never(const wordpiece *wp, const uint32_t *t, size_t n) {
    for (int i = 0; i < wp->n_never; i++) {
        const struct wp_never *e = &wp->never[i];
        if (e->len >= n && e->len <= 4 * n &&
            (t[0] >= 0x80 || (uint8_t)e->s[0] == t[0]))
            return 1;
    }
    return 0;
}

/* One final word: never_split words map whole, others go to WordPiece. */
static int emit_word(run *r, const uint32_t *t, size_t n) {
    long nb = encode_word(r, t, n);
    if (nb < 0)
        return -1;
    const wordpiece *wp = r->wp;
    if (wp->n_never_split && may_be_never(wp, t, n)) {
        int k = never_index(wp, r->u, (size_t)nb);
        if (k >= 0 && wp->never[k].cfg)
            return wp_ids_push(r->out, wp_token_id(wp, r->u, (size_t)nb));
    }
    return wp_split_word(wp, r->u, (size_t)nb, n, r->out);
}

/* Splits off every punctuation character as a word of its own. */
static int split_punct(run *r, const uint32_t *t, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_punct(t[i]))
            continue;
        if (i > start && emit_word(r, t + start, i - start))
            return -1;
        if (emit_word(r, t + i, 1))
            return -1;
        start = i + 1;
    }
    if (n > start && emit_word(r, t + start, n - start))
        return -1;
    return 0;
}

/* Lower-cases t[0..n) into b. */
static int lower_into(const uint32_t *t, size_t n, cpbuf *b) {
    if (cpbuf_reserve(b, 2 * n))
        return -1;
    b->n = 0;
    for (size_t i = 0; i < n; i++)
        b->n += (size_t)lower_cp(t[i], b->v + b->n);
    return 0;
}

/* NFD, then drop the nonspacing marks (category Mn). */
static int strip_accents(const uint32_t *t, size_t n, cpbuf *b) {
    if (nfd(t, n, b))
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i] < 0x300 || category(b->v[i]) != UTF8PROC_CATEGORY_MN)
            b->v[m++] = b->v[i];
    b->n = m;
    return 0;
}

/* One whitespace-delimited token of the basic tokenizer. */
static int process_token(run *r, const uint32_t *t, size_t n) {
    const wordpiece *wp = r->wp;
    if (!wp->strip_accents && any_at_least(t, n, 0x300)) {
        if (nfc(t, n, &r->nfc))
            return -1;
        t = r->nfc.v;
        n = r->nfc.n;
    }
    if (may_be_never(wp, t, n)) {
        long nb = encode_word(r, t, n);
        if (nb < 0)
            return -1;
        if (never_index(wp, r->u, (size_t)nb) >= 0)
            return emit_word(r, t, n);
    }
    if (wp->lower) {
        if (lower_into(t, n, &r->low))
            return -1;
        t = r->low.v;
        n = r->low.n;
    }
    if (wp->strip_accents && any_at_least(t, n, 0xC0)) {
        if (strip_accents(t, n, &r->nfd))
            return -1;
        t = r->nfd.v;
        n = r->nfd.n;
    }
    return split_punct(r, t, n);
}

static int flush_token(run *r) {
    int rc = r->tok.n ? process_token(r, r->tok.v, r->tok.n) : 0;
    r->tok.n = 0;
    return rc;
}

/* The basic tokenizer over a stretch of text without added tokens. */
static int basic_segment(run *r, const uint32_t *s, size_t n) {
    const wordpiece *wp = r->wp;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (wp->clean) {
            if (c == 0 || c == 0xFFFD || is_control(c))
                continue;
            if (is_bert_space(c))
                c = ' ';
        }
        if (wp->chinese && c >= 0x3400 && is_cjk(c)) {
            if (flush_token(r) || process_token(r, &c, 1))
                return -1;
            continue;
        }
        if (wp_is_space(c)) {
            if (flush_token(r))
                return -1;
            continue;
        }
        if (cpbuf_reserve(&r->tok, r->tok.n + 1))
            return -1;
        r->tok.v[r->tok.n++] = c;
    }
    return flush_token(r);
}

/* ------------------------------------------------------------------ */
/* Added tokens                                                        */
/* ------------------------------------------------------------------ */

static int could_start_added(const wordpiece *wp, uint32_t c) {
    return c < 0x80 ? wp->added_first[c] : wp->added_first_high;
}

static int added_matches(const wp_added *a, const uint32_t *s, size_t n) {
    return a->n_cps > 0 && (size_t)a->n_cps <= n &&
           !memcmp(a->cps, s, (size_t)a->n_cps * sizeof *s);
}

/* The first protected token (reference order) at s, or -1. */
static int protect_match(const wordpiece *wp, const uint32_t *s, size_t n) {
    for (int i = 0; i < wp->n_protect; i++)
        if (added_matches(&wp->added[wp->protect[i]], s, n))
            return wp->protect[i];
    return -1;
}

/* The longest added token at s, or -1. */
static int added_longest(const wordpiece *wp, const uint32_t *s, size_t n) {
    int best = -1;
    for (int i = 0; i < wp->n_added; i++)
        if (added_matches(&wp->added[i], s, n) &&
            (best < 0 || wp->added[i].n_cps > wp->added[best].n_cps))
            best = i;
    return best;
}

/*
 * The reference lower-cases the text one character at a time, except
 * where a special token (or non-special normalized added token) starts:
 * those are copied unchanged.  out must hold 2 * n code points.
 */
static size_t lower_protected(const wordpiece *wp, const uint32_t *s,
                              size_t n, uint32_t *out) {
    size_t i = 0, m = 0;
    while (i < n) {
        int k = could_start_added(wp, s[i]) ? protect_match(wp, s + i, n - i)
                                            : -1;
        if (k >= 0) {
            size_t len = (size_t)wp->added[k].n_cps;
            memcpy(out + m, s + i, len * sizeof *s);
            m += len;
            i += len;
            continue;
        }
        m += (size_t)lower_cp(s[i++], out + m);
    }
    return m;
}

typedef struct {
    size_t a, b;    /* [a, b) in the text */
    int added;      /* index in wp->added, or -1 for plain text */
} segment;

typedef struct {
    segment *v;
    size_t n, cap;
} segments;

static int seg_push(segments *g, size_t a, size_t b, int added) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        segment *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return -1;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = (segment){a, b, added};
    return 0;
}

/* Cuts the text into plain stretches and added tokens. */
static int split_added(const wordpiece *wp, const uint32_t *s, size_t n,
                       segments *g) {
    size_t start = 0, i = 0;
    while (i < n) {
        int k = could_start_added(wp, s[i]) ? added_longest(wp, s + i, n - i)
                                            : -1;
        if (k < 0) {
            i++;
            continue;
        }
        if (i > start && seg_push(g, start, i, -1))
            return -1;
        if (seg_push(g, i, i + (size_t)wp->added[k].n_cps, k))
            return -1;
        i += (size_t)wp->added[k].n_cps;
        start = i;
    }
    if (n > start && seg_push(g, start, n, -1))
        return -1;
    return 0;
}

/* An added token with rstrip / lstrip eats the whitespace after /
 * before it (Python's str.lstrip / rstrip of the neighbour). */
static void strip_around_added(const wordpiece *wp, const uint32_t *s,
                               segments *g) {
    for (size_t i = 0; i < g->n; i++) {
        if (g->v[i].added < 0)
            continue;
        const wp_added *t = &wp->added[g->v[i].added];
        segment *right = i + 1 < g->n ? &g->v[i + 1] : NULL;
        segment *left = i > 0 ? &g->v[i - 1] : NULL;
        if (t->rstrip && right && right->added < 0)
            while (right->a < right->b && wp_is_space(s[right->a]))
                right->a++;
        if (t->lstrip && left && left->added < 0)
            while (left->b > left->a && wp_is_space(s[left->b - 1]))
                left->b--;
    }
}

static int run_segments(run *r, const uint32_t *s, const segments *g) {
    for (size_t i = 0; i < g->n; i++) {
        const segment *sg = &g->v[i];
        if (sg->a >= sg->b)
            continue;
        int rc = sg->added >= 0
                     ? wp_ids_push(r->out, r->wp->added[sg->added].id)
                     : basic_segment(r, s + sg->a, sg->b - sg->a);
        if (rc)
            return -1;
    }
    return 0;
}

t5e_status wp_tokenize(const wordpiece *wp, const char *text, size_t len,
                       wp_ids *out, t5e_err *err) {
    run r = {.wp = wp, .out = out};
    segments g = {0};
    uint32_t *low = NULL;
    uint32_t *cps = xmalloc_array(len ? len : 1, sizeof *cps);
    int rc = -1;
    if (!cps)
        goto done;
    size_t n = wp_utf8_decode(text, len, cps);
    const uint32_t *s = cps;
    if (wp->lower) {
        low = xmalloc_array(n ? 2 * n : 1, sizeof *low);
        if (!low)
            goto done;
        n = lower_protected(wp, cps, n, low);
        s = low;
    }
    if (split_added(wp, s, n, &g))
        goto done;
    strip_around_added(wp, s, &g);
    rc = run_segments(&r, s, &g);
done:
    free(cps);
    free(low);
    free(g.v);
    run_free(&r);
    if (rc)
        return err_set(err, T5E_ERR_NOMEM,
                       "wordpiece: out of memory encoding %zu bytes", len);
    return T5E_OK;
}
