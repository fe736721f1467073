/*
 * metrics_bleu.c - corpus BLEU with sacreBLEU 2.x's default signature
 * (nrefs:N|case:mixed|eff:no|tok:13a|smooth:exp), written from its
 * documented behaviour: the mteval-v13a tokenizer, n-gram matches clipped
 * per segment and summed over the corpus, one brevity penalty for the
 * corpus, and the "exp" (NIST) smoothing of orders with no match.
 *
 * The tokenizer works on bytes.  That gives the same tokens as sacreBLEU's
 * regular expressions on code points because every character its rules
 * name is ASCII, and a UTF-8 byte >= 0x80 can never be one of them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/metrics.h"

/* ------------------------------------------------------------------ */
/* 13a tokenizer                                                       */
/* ------------------------------------------------------------------ */

/*
 * Length in bytes of the white-space character at p, 0 if p is not one.
 * The set is Python's str.isspace(), which sacreBLEU's rstrip() and
 * split() use: ASCII \t..\r, \x1c..\x1f and space, and the Unicode
 * spaces U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
 * U+202F, U+205F, U+3000 (here UTF-8 encoded).
 */
static int space_len(const unsigned char *p) {
    if (*p == ' ' || (*p >= 0x09 && *p <= 0x0d) ||
        (*p >= 0x1c && *p <= 0x1f))
        return 1;
    if (p[0] == 0xc2)
        return (p[1] == 0x85 || p[1] == 0xa0) ? 2 : 0;
    if (p[0] == 0xe1)
        return (p[1] == 0x9a && p[2] == 0x80) ? 3 : 0;
    if (p[0] == 0xe2 && p[1] == 0x80)
        return ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 ||
                p[2] == 0xa9 || p[2] == 0xaf) ? 3 : 0;
    if (p[0] == 0xe2 && p[1] == 0x81)
        return p[2] == 0x9f ? 3 : 0;
    if (p[0] == 0xe3)
        return (p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;
    return 0;
}

/* Drops trailing white space in place (Python's rstrip()). */
static void strip_right(char *s) {
    const unsigned char *p = (const unsigned char *)s;
    char *end = s;
    while (*p) {
        int k = space_len(p);
        if (k) {
            p += k;
        } else {
            p++;
            end = (char *)p;
        }
    }
    *end = '\0';
}

/* Replaces every `from` in s by `to` in place, left to right without
 * overlaps (Python's str.replace); `to` must not be longer. */
static void replace_all(char *s, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to);
    char *w = s;
    const char *r = s;
    while (*r) {
        if (!strncmp(r, from, nf)) {
            memcpy(w, to, nt);
            w += nt;
            r += nf;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* The characters 13a sets apart as tokens of their own: ASCII
 * punctuation except ' , - . (those have the rules below). */
static int is_split_punct(unsigned char c) {
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') ||
           (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
           (c >= ':' && c <= '@') || c == '/';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_period_comma(unsigned char c) { return c == '.' || c == ','; }

/* The unescaping and the padding with one space each side; the result
 * is malloc'd, NULL when out of memory. */
static char *prepare_line(const char *line) {
    size_t n = strlen(line);
    char *s = malloc(n + 3);
    if (!s)
        return NULL;
    s[0] = ' ';
    memcpy(s + 1, line, n + 1);
    strip_right(s + 1);
    replace_all(s + 1, "<skipped>", "");
    replace_all(s + 1, "-\n", "");
    replace_all(s + 1, "\n", " ");
    replace_all(s + 1, "&quot;", "\"");
    replace_all(s + 1, "&amp;", "&");
    replace_all(s + 1, "&lt;", "<");
    replace_all(s + 1, "&gt;", ">");
    strcat(s, " ");
    return s;
}

/* Rule 1: " c " around every split punctuation character. */
static char *split_punct(const char *s) {
    char *out = malloc(3 * strlen(s) + 1), *w = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (is_split_punct((unsigned char)*s)) {
            *w++ = ' ';
            *w++ = *s;
            *w++ = ' ';
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
    return out;
}

enum { PAIR_PUNCT_AFTER_NONDIGIT, PAIR_PUNCT_BEFORE_NONDIGIT,
       PAIR_DASH_AFTER_DIGIT };

static int pair_matches(int rule, unsigned char a, unsigned char b) {
    switch (rule) {
    case PAIR_PUNCT_AFTER_NONDIGIT:
        return !is_digit(a) && is_period_comma(b);
    case PAIR_PUNCT_BEFORE_NONDIGIT:
        return is_period_comma(a) && !is_digit(b);
    default:
        return is_digit(a) && b == '-';
    }
}

/*
 * Rules 2-4, each a two-character pattern applied the way a regular
 * expression substitution scans: left to right, and after a match the
 * scan resumes past both characters, so matches never overlap.  Rule 3
 * writes " a b", the others "a b ".  Frees `s` (not NULL).
 */
static char *apply_pair_rule(char *s, int rule) {
    size_t n = strlen(s);
    char *out = malloc(2 * n + 1), *w = out;
    if (!out) {
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)s[i + 1];
        if (b && pair_matches(rule, a, b)) {
            if (rule == PAIR_PUNCT_BEFORE_NONDIGIT)
                *w++ = ' ';
            *w++ = (char)a;
            *w++ = ' ';
            *w++ = (char)b;
            if (rule != PAIR_PUNCT_BEFORE_NONDIGIT)
                *w++ = ' ';
            i++;
        } else {
            *w++ = (char)a;
        }
    }
    *w = '\0';
    free(s);
    return out;
}

/* Collapses white-space runs to one space, none at either end, in place
 * (Python's ' '.join(s.split())). */
static void squeeze_spaces(char *s) {
    const unsigned char *r = (const unsigned char *)s;
    char *w = s;
    int pending = 0;
    while (*r) {
        int k = space_len(r);
        if (k) {
            pending = w != s;
            r += k;
            continue;
        }
        if (pending)
            *w++ = ' ';
        pending = 0;
        *w++ = (char)*r++;
    }
    *w = '\0';
}

char *metric_tokenize_13a(const char *line) {
    char *s = prepare_line(line);
    if (!s)
        return NULL;
    char *t = split_punct(s);
    free(s);
    if (!t)
        return NULL;
    t = apply_pair_rule(t, PAIR_PUNCT_AFTER_NONDIGIT);
    if (t)
        t = apply_pair_rule(t, PAIR_PUNCT_BEFORE_NONDIGIT);
    if (t)
        t = apply_pair_rule(t, PAIR_DASH_AFTER_DIGIT);
    if (t)
        squeeze_spaces(t);
    return t;
}

/* ------------------------------------------------------------------ */
/* Segment statistics                                                  */
/* ------------------------------------------------------------------ */

/* A tokenized segment: the tokens of `text` (NUL-separated), as ids
 * that are equal exactly when the token strings are. */
typedef struct {
    char *text;
    const char **tok;  /* (len) */
    int *id;           /* (len) */
    int len;
} segment;

/* An n-gram of ids, unused trailing slots -1, so that any two n-grams
 * of one order compare as plain int tuples. */
typedef struct {
    int t[BLEU_MAX_ORDER];
} ngram;

static void segment_free(segment *s) {
    free(s->text);
    free(s->tok);
    free(s->id);
    memset(s, 0, sizeof *s);
}

/* Tokenizes `line` into s; 0 when out of memory (s is then still safe
 * to free). */
static int segment_split(const char *line, segment *s) {
    memset(s, 0, sizeof *s);
    s->text = metric_tokenize_13a(line);
    if (!s->text)
        return 0;
    int count = s->text[0] != '\0';
    for (const char *p = s->text; *p; p++)
        count += *p == ' ';
    s->tok = calloc((size_t)count + 1, sizeof *s->tok);
    s->id = calloc((size_t)count + 1, sizeof *s->id);
    if (!s->tok || !s->id)
        return 0;
    char *p = s->text;
    for (int i = 0; i < count; i++) {
        s->tok[i] = p;
        p += strcspn(p, " ");
        if (*p)
            *p++ = '\0';
    }
    s->len = count;
    return 1;
}

typedef struct {
    const char *str;
    int *slot;  /* where the token's id goes */
} token_ref;

static int cmp_token_ref(const void *a, const void *b) {
    return strcmp(((const token_ref *)a)->str, ((const token_ref *)b)->str);
}

/* Gives every token of the n segments an id, shared by equal strings, so
 * that n-grams compare as ints.  Sorting keeps it O(T log T).  0 when out
 * of memory. */
static int segments_assign_ids(segment *segs, int n) {
    size_t total = 0, k = 0;
    for (int i = 0; i < n; i++)
        total += (size_t)segs[i].len;
    token_ref *all = malloc((total + 1) * sizeof *all);
    if (!all)
        return 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < segs[i].len; j++) {
            all[k].str = segs[i].tok[j];
            all[k++].slot = &segs[i].id[j];
        }
    }
    qsort(all, total, sizeof *all, cmp_token_ref);
    int next = -1;
    for (size_t i = 0; i < total; i++) {
        if (i == 0 || strcmp(all[i].str, all[i - 1].str))
            next++;
        *all[i].slot = next;
    }
    free(all);
    return 1;
}

static int cmp_ngram(const void *a, const void *b) {
    const int *x = ((const ngram *)a)->t, *y = ((const ngram *)b)->t;
    for (int j = 0; j < BLEU_MAX_ORDER; j++)
        if (x[j] != y[j])
            return x[j] < y[j] ? -1 : 1;
    return 0;
}

/* The order-k n-grams of s, sorted, in *out (free()); returns their
 * count, -1 when out of memory. */
static int ngrams_sorted(const segment *s, int k, ngram **out) {
    int m = s->len >= k ? s->len - k + 1 : 0;
    ngram *g = malloc(((size_t)m + 1) * sizeof *g);
    if (!g)
        return -1;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < BLEU_MAX_ORDER; j++)
            g[i].t[j] = j < k ? s->id[i + j] : -1;
    qsort(g, (size_t)m, sizeof *g, cmp_ngram);
    *out = g;
    return m;
}

/* Occurrences of g in sorted[0..n): a binary search for the first. */
static int ngram_count(const ngram *sorted, int n, const ngram *g) {
    int lo = 0, hi = n, c = 0;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cmp_ngram(&sorted[mid], g) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo + c < n && !cmp_ngram(&sorted[lo + c], g))
        c++;
    return c;
}

/* Length of the run of equal n-grams starting at h[i]. */
static int run_length(const ngram *h, int n, int i) {
    int c = 1;
    while (i + c < n && !cmp_ngram(&h[i], &h[i + c]))
        c++;
    return c;
}

/*
 * Adds the order-k statistics of one segment: every hypothesis n-gram to
 * *total, and to *correct each distinct one as often as it occurs but at
 * most as often as the reference holding it most often.  0 when out of
 * memory.
 */
static int order_matches(const segment *hyp, const segment *refs,
                         int n_refs, int k, long *correct, long *total) {
    ngram *h = NULL, *g = NULL;
    int nh = ngrams_sorted(hyp, k, &h);
    int *best = nh >= 0 ? calloc((size_t)nh + 1, sizeof *best) : NULL;
    int ok = best != NULL;
    for (int r = 0; ok && r < n_refs; r++) {
        g = NULL;
        int ng = ngrams_sorted(&refs[r], k, &g);
        ok = ng >= 0;
        for (int i = 0; ok && i < nh; i += run_length(h, nh, i)) {
            int c = ngram_count(g, ng, &h[i]);
            if (c > best[i])
                best[i] = c;
        }
        free(g);
    }
    for (int i = 0; ok && i < nh; i += run_length(h, nh, i)) {
        int c = run_length(h, nh, i);
        *correct += c < best[i] ? c : best[i];
    }
    if (ok)
        *total += nh;
    free(h);
    free(best);
    return ok;
}

/* The reference length closest to hyp_len, the shorter on a tie. */
static int closest_ref_len(int hyp_len, const segment *refs, int n_refs) {
    int best = refs[0].len;
    for (int r = 1; r < n_refs; r++) {
        int d = abs(hyp_len - refs[r].len), bd = abs(hyp_len - best);
        if (d < bd || (d == bd && refs[r].len < best))
            best = refs[r].len;
    }
    return best;
}

/* Adds one segment's statistics to d; 0 when out of memory. */
static int segment_stats(const char *hyp, const char *const *refs,
                         int n_refs, bleu_detail *d) {
    segment *segs = calloc((size_t)n_refs + 1, sizeof *segs);
    int ok = segs != NULL;
    for (int i = 0; ok && i <= n_refs; i++)
        ok = segment_split(i ? refs[i - 1] : hyp, &segs[i]);
    if (ok)
        ok = segments_assign_ids(segs, n_refs + 1);
    for (int k = 1; ok && k <= BLEU_MAX_ORDER; k++)
        ok = order_matches(&segs[0], segs + 1, n_refs, k,
                           &d->counts[k - 1], &d->totals[k - 1]);
    if (ok) {
        d->sys_len += segs[0].len;
        d->ref_len += closest_ref_len(segs[0].len, segs + 1, n_refs);
    }
    for (int i = 0; segs && i <= n_refs; i++)
        segment_free(&segs[i]);
    free(segs);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Corpus score                                                        */
/* ------------------------------------------------------------------ */

/*
 * sacreBLEU's rule: with no match at any order the score is 0.  Else an
 * order with n-grams but no match gets precision 100 / (2^j * total), j
 * counting such orders so far ("exp" smoothing, from mteval-v13a); an
 * order without any n-gram stops the loop and leaves its precision 0,
 * which makes the geometric mean, and the score, 0.
 */
double metric_bleu_compute(bleu_detail *d) {
    d->bp = 1.0;
    if (d->sys_len < d->ref_len)
        d->bp = d->sys_len > 0
                    ? exp(1.0 - (double)d->ref_len / (double)d->sys_len)
                    : 0.0;
    d->score = 0.0;
    long any = 0;
    for (int k = 0; k < BLEU_MAX_ORDER; k++) {
        d->precisions[k] = 0.0;
        any |= d->counts[k];
    }
    if (!any)
        return 0.0;

    double smooth = 1.0, log_sum = 0.0;
    for (int k = 0; k < BLEU_MAX_ORDER; k++) {
        double total = (double)d->totals[k];
        if (d->totals[k] == 0)
            return 0.0;
        if (d->counts[k] == 0) {
            smooth *= 2.0;
            d->precisions[k] = 100.0 / (smooth * total);
        } else {
            d->precisions[k] = 100.0 * (double)d->counts[k] / total;
        }
        log_sum += log(d->precisions[k]);
    }
    d->score = d->bp * exp(log_sum / BLEU_MAX_ORDER);
    return d->score;
}

double metric_bleu_multi(const char *const *hyps,
                         const char *const *const *refs, int n_refs, int n,
                         bleu_detail *detail) {
    bleu_detail d;
    memset(&d, 0, sizeof d);
    if (n_refs < 1)
        return NAN;
    const char **seg_refs = malloc((size_t)n_refs * sizeof *seg_refs);
    int ok = seg_refs != NULL;
    for (int i = 0; ok && i < n; i++) {
        for (int r = 0; r < n_refs; r++)
            seg_refs[r] = refs[r][i];
        ok = segment_stats(hyps[i], seg_refs, n_refs, &d);
    }
    free(seg_refs);
    if (!ok)
        return NAN;
    metric_bleu_compute(&d);
    if (detail)
        *detail = d;
    return d.score;
}

double metric_bleu(const char *const *hyps, const char *const *refs, int n,
                   bleu_detail *detail) {
    return metric_bleu_multi(hyps, &refs, 1, n, detail);
}
