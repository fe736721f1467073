/*
 * data_labeled.c - classification TSVs: the GLUE SST-2, CoLA and RTE files
 * as GLUE distributes them, and generic (text, label) or (text_a, text_b,
 * label) files.  GLUE TSVs have no quoting: a field runs to the next tab.
 *
 * The file is read whole (the GLUE files are a few MB) and cut in place
 * into NUL-terminated fields that the examples point into.
 */
#include <stdlib.h>
#include <string.h>

#include "train/data.h"

typedef struct {
    const char *header; /* NULL: the format has none */
    int n_cols;
    int col_a, col_b, col_label; /* col_b -1: single text */
    int numeric;                 /* the label column holds the id */
    const char *names[2];        /* GLUE order; NULL for generic */
} labeled_layout;

static const labeled_layout LAYOUTS[] = {
    [LABELED_SST2] = {"sentence\tlabel", 2, 0, -1, 1, 1,
                      {"negative", "positive"}},
    [LABELED_COLA] = {NULL, 4, 3, -1, 1, 1,
                      {"unacceptable", "acceptable"}},
    [LABELED_RTE] = {"index\tsentence1\tsentence2\tlabel", 4, 1, 2, 3, 0,
                     {"entailment", "not_entailment"}},
    [LABELED_SINGLE] = {"text\tlabel", 2, 0, -1, 1, 0, {NULL, NULL}},
    [LABELED_PAIR] = {"text_a\ttext_b\tlabel", 3, 0, 1, 2, 0, {NULL, NULL}},
};

static const char *format_name(labeled_format f) {
    static const char *names[] = {"auto", "SST-2", "CoLA", "RTE",
                                  "text/label", "text_a/text_b/label"};
    return names[f];
}

/* Cuts the line at p (ending at '\n', '\r\n' or NUL) into at most `max`
 * tab-separated fields; returns the field count (all of them, even past
 * max) and the start of the next line in *next. */
static int split_fields(char *p, char **fields, int max, char **next) {
    char *end = p + strcspn(p, "\n");
    *next = *end ? end + 1 : end;
    if (end > p && end[-1] == '\r')
        end--;
    *end = '\0';
    int n = 0;
    for (char *f = p;; n++) {
        char *tab = strchr(f, '\t');
        if (n < max)
            fields[n] = f;
        if (!tab)
            return n + 1;
        *tab = '\0';
        f = tab + 1;
    }
}

static labeled_format labeled_detect(const char *text) {
    size_t n = strcspn(text, "\r\n");
    if (n == strlen(LAYOUTS[LABELED_SST2].header) &&
        strncmp(text, LAYOUTS[LABELED_SST2].header, n) == 0)
        return LABELED_SST2;
    if (n == strlen(LAYOUTS[LABELED_RTE].header) &&
        strncmp(text, LAYOUTS[LABELED_RTE].header, n) == 0)
        return LABELED_RTE;
    int tabs = 0;
    const char *second = NULL;
    for (size_t i = 0; i < n; i++)
        if (text[i] == '\t' && ++tabs == 1)
            second = text + i + 1;
    if (tabs == 3 && (second[0] == '0' || second[0] == '1') &&
        second[1] == '\t')
        return LABELED_COLA;
    return tabs == 1 ? LABELED_SINGLE : tabs == 2 ? LABELED_PAIR
                                                  : LABELED_AUTO;
}

static int cmp_label(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    char *ex, *ey;
    long vx = strtol(x, &ex, 10), vy = strtol(y, &ey, 10);
    if (*x && *y && !*ex && !*ey) /* both integers: numeric order */
        return (vx > vy) - (vx < vy);
    return strcmp(x, y);
}

/* Sorted distinct label strings of the set (set->ex[i].label is still an
 * index into raw[]). */
static t5e_status labels_from_data(labeled_set *set, char **raw,
                                   t5e_err *err) {
    char **sorted = xcalloc((size_t)set->n, sizeof *sorted);
    if (!sorted)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", set->name);
    memcpy(sorted, raw, (size_t)set->n * sizeof *sorted);
    qsort(sorted, (size_t)set->n, sizeof *sorted, cmp_label);
    int k = 0;
    for (int64_t i = 0; i < set->n; i++)
        if (k == 0 || strcmp(sorted[k - 1], sorted[i]) != 0)
            sorted[k++] = sorted[i];
    set->label_names = xcalloc((size_t)k, sizeof *set->label_names);
    for (int i = 0; set->label_names && i < k; i++)
        set->label_names[i] = strdup(sorted[i]);
    set->n_labels = k;
    free(sorted);
    for (int i = 0; i < k; i++)
        if (!set->label_names || !set->label_names[i])
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory",
                           set->name);
    return T5E_OK;
}

static int label_lookup(const labeled_set *set, const char *s) {
    for (int i = 0; i < set->n_labels; i++)
        if (strcmp(set->label_names[i], s) == 0)
            return i;
    return -1;
}

/* Fixed GLUE names or the caller's; NULL names means "from the data". */
static t5e_status labels_preset(labeled_set *set, const labeled_layout *L,
                                const char *const *names, int n,
                                t5e_err *err) {
    if (L->names[0]) {
        names = L->names;
        n = 2;
    }
    if (!names)
        return T5E_OK;
    set->label_names = xcalloc((size_t)n, sizeof *set->label_names);
    set->n_labels = n;
    for (int i = 0; set->label_names && i < n; i++)
        set->label_names[i] = strdup(names[i]);
    for (int i = 0; i < n; i++)
        if (!set->label_names || !set->label_names[i])
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory",
                           set->name);
    return T5E_OK;
}

/* One row's label: a 0/1 id for SST-2 / CoLA, else a name to look up. */
static t5e_status row_label(labeled_set *set, const labeled_layout *L,
                            const char *s, unsigned long long line_no,
                            int *label, t5e_err *err) {
    if (L->numeric) {
        *label = (s[0] == '0' || s[0] == '1') && !s[1] ? s[0] - '0' : -1;
    } else if (set->label_names) {
        *label = label_lookup(set, s);
    } else {
        *label = 0; /* resolved once all names are known */
        return T5E_OK;
    }
    if (*label < 0)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s:%llu: label \"%s\" is not one of the %s labels",
                       set->name, line_no, s,
                       L->numeric ? "0/1" : "expected");
    return T5E_OK;
}

static t5e_status labeled_parse(labeled_set *set, const labeled_layout *L,
                                char **raw_label, t5e_err *err) {
    char *p = set->buf, *next, *f[4];
    unsigned long long line_no = 0;
    if (L->header && strncmp(p, L->header, strlen(L->header)) == 0 &&
        strchr("\r\n", p[strlen(L->header)])) {
        split_fields(p, f, 4, &next);
        p = next;
        line_no++;
    }
    for (set->n = 0; *p; p = next) {
        line_no++;
        int cols = split_fields(p, f, 4, &next);
        if (cols == 1 && f[0][0] == '\0')
            continue; /* blank line */
        if (cols != L->n_cols)
            return err_set(err, T5E_ERR_FORMAT,
                           "%s:%llu: %d tab-separated columns, the %s "
                           "format has %d", set->name, line_no, cols,
                           format_name(set->format), L->n_cols);
        labeled_example *ex = &set->ex[set->n];
        ex->text_a = f[L->col_a];
        ex->text_b = L->col_b >= 0 ? f[L->col_b] : NULL;
        raw_label[set->n] = f[L->col_label];
        t5e_status st = row_label(set, L, f[L->col_label], line_no,
                                  &ex->label, err);
        if (st)
            return st;
        set->n++;
    }
    if (set->n == 0)
        return err_set(err, T5E_ERR_FORMAT, "%s: no examples", set->name);
    return T5E_OK;
}

static t5e_status labeled_load(labeled_set *set, labeled_format format,
                               const char *const *labels, int n_labels,
                               t5e_err *err) {
    size_t len;
    t5e_status st = file_read_all(set->name, &set->buf, &len, err);
    if (st)
        return st;
    if (format == LABELED_AUTO && (format = labeled_detect(set->buf)) ==
                                      LABELED_AUTO)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s:1: cannot tell the format (expected an SST-2 or "
                       "RTE header, or 2-4 tab-separated columns)",
                       set->name);
    if (format < LABELED_SST2 || format > LABELED_PAIR)
        return err_set(err, T5E_ERR_ARG, "%s: unknown format %d", set->name,
                       (int)format);
    set->format = format;
    const labeled_layout *L = &LAYOUTS[format];
    uint64_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += set->buf[i] == '\n';
    set->ex = xcalloc(cap, sizeof *set->ex);
    char **raw = xcalloc(cap, sizeof *raw);
    if (!set->ex || !raw)
        st = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", set->name);
    if (!st)
        st = labels_preset(set, L, labels, n_labels, err);
    if (!st)
        st = labeled_parse(set, L, raw, err);
    if (!st && !set->label_names) {
        st = labels_from_data(set, raw, err);
        for (int64_t i = 0; !st && i < set->n; i++)
            set->ex[i].label = label_lookup(set, raw[i]);
    }
    free(raw);
    return st;
}

t5e_status labeled_open(const char *path, labeled_format format,
                        const char *const *labels, int n_labels,
                        labeled_set *set, t5e_err *err) {
    memset(set, 0, sizeof *set);
    set->name = strdup(path);
    if (!set->name)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    t5e_status st = labeled_load(set, format, labels, n_labels, err);
    if (st)
        labeled_free(set);
    return st;
}

void labeled_free(labeled_set *set) {
    for (int i = 0; set->label_names && i < set->n_labels; i++)
        free(set->label_names[i]);
    free(set->label_names);
    free(set->ex);
    free(set->buf);
    free(set->name);
    memset(set, 0, sizeof *set);
}

t5e_status labeled_encode_batch(const labeled_set *set,
                                const t5e_tokenizer *tok,
                                const int64_t *idx, int B, int S,
                                int32_t *ids, int32_t *type_ids,
                                int32_t *mask, int32_t *labels,
                                t5e_err *err) {
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    opt.add_special_tokens = 1;
    opt.max_length = S;
    int32_t pad = t5e_tokenizer_special_ids(tok).pad;
    for (int b = 0; b < B; b++) {
        if (idx[b] < 0 || idx[b] >= set->n)
            return err_set(err, T5E_ERR_ARG, "%s: example %lld of %lld",
                           set->name, (long long)idx[b], (long long)set->n);
        const labeled_example *ex = &set->ex[idx[b]];
        t5e_encoding enc = {0};
        t5e_status st = t5e_tokenizer_encode(tok, ex->text_a, -1,
                                             ex->text_b, -1, &opt, &enc,
                                             err);
        if (st)
            return err_prefix(err, st, "%s: example %lld", set->name,
                              (long long)idx[b]);
        size_t row = (size_t)b * (size_t)S;
        for (int i = 0; i < S; i++) {
            int tok_here = i < enc.n;
            ids[row + i] = tok_here ? enc.ids[i] : pad;
            type_ids[row + i] = tok_here && enc.type_ids ? enc.type_ids[i]
                                                         : 0;
            mask[row + i] = tok_here;
        }
        labels[b] = ex->label;
        t5e_encoding_free(&enc);
    }
    return T5E_OK;
}
