/*
 * metrics.c - classification scores, ROC AUC and exact match (BLEU is in
 * metrics_bleu.c).  The definitions follow scikit-learn's so that numbers
 * printed by t5e can be compared with numbers from a Python pipeline.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/metrics.h"

double metric_accuracy(const int *pred, const int *gold, int n) {
    long hits = 0;
    for (int i = 0; i < n; i++)
        hits += pred[i] == gold[i];
    return n > 0 ? (double)hits / n : 0.0;
}

/* a / b, or 0 when b is 0 (sklearn's zero_division=0). */
static double ratio_or_zero(double a, double b) {
    return b > 0 ? a / b : 0.0;
}

void metric_prf(const int *pred, const int *gold, int n, int positive,
                double *precision, double *recall, double *f1) {
    long tp = 0, fp = 0, fn = 0;
    for (int i = 0; i < n; i++) {
        int p = pred[i] == positive, g = gold[i] == positive;
        tp += p && g;
        fp += p && !g;
        fn += !p && g;
    }
    if (precision)
        *precision = ratio_or_zero((double)tp, (double)(tp + fp));
    if (recall)
        *recall = ratio_or_zero((double)tp, (double)(tp + fn));
    if (f1)
        *f1 = ratio_or_zero(2.0 * tp, (double)(2 * tp + fp + fn));
}

double metric_f1(const int *pred, const int *gold, int n, int positive) {
    double f1;
    metric_prf(pred, gold, n, positive, NULL, NULL, &f1);
    return f1;
}

/*
 * Per-class counts: hits[c] (pred == gold == c), n_pred[c], n_gold[c], in
 * one calloc'd block of 3 * n_classes longs.  NULL when a label is out of
 * range or memory runs out.
 */
static long *class_counts(const int *pred, const int *gold, int n,
                          int n_classes) {
    if (n_classes < 1)
        return NULL;
    long *c = calloc(3 * (size_t)n_classes, sizeof *c);
    long *hits = c, *n_pred = c + n_classes, *n_gold = c + 2 * n_classes;
    for (int i = 0; c && i < n; i++) {
        if (pred[i] < 0 || pred[i] >= n_classes || gold[i] < 0 ||
            gold[i] >= n_classes) {
            free(c);
            return NULL;
        }
        hits[pred[i]] += pred[i] == gold[i];
        n_pred[pred[i]]++;
        n_gold[gold[i]]++;
    }
    return c;
}

/* F1 of class c is 2 hits / (n_pred + n_gold), as 2tp + fp + fn is the
 * number of predictions plus the number of gold labels of c. */
double metric_macro_f1(const int *pred, const int *gold, int n,
                       int n_classes) {
    long *c = class_counts(pred, gold, n, n_classes);
    if (!c)
        return NAN;
    long *hits = c, *n_pred = c + n_classes, *n_gold = c + 2 * n_classes;
    double sum = 0.0;
    int present = 0;
    for (int k = 0; k < n_classes; k++) {
        long denom = n_pred[k] + n_gold[k];
        if (denom == 0)
            continue;
        sum += 2.0 * (double)hits[k] / (double)denom;
        present++;
    }
    free(c);
    return present ? sum / present : 0.0;
}

/*
 * With s samples, c correct, t_k gold and p_k predicted counts of class k:
 *   MCC = (c s - sum_k t_k p_k)
 *         / sqrt((s^2 - sum_k p_k^2) (s^2 - sum_k t_k^2)).
 * In doubles: the products stay exact up to 2^53, i.e. n < ~9.4e7.
 */
double metric_mcc(const int *pred, const int *gold, int n, int n_classes) {
    long *c = class_counts(pred, gold, n, n_classes);
    if (!c)
        return NAN;
    long *hits = c, *n_pred = c + n_classes, *n_gold = c + 2 * n_classes;
    double s = n, correct = 0, tp_dot = 0, pp_dot = 0, tt_dot = 0;
    for (int k = 0; k < n_classes; k++) {
        double t = (double)n_gold[k], p = (double)n_pred[k];
        correct += (double)hits[k];
        tp_dot += t * p;
        pp_dot += p * p;
        tt_dot += t * t;
    }
    free(c);

    double cov_tp = correct * s - tp_dot;
    double cov_pp = s * s - pp_dot, cov_tt = s * s - tt_dot;
    if (cov_pp * cov_tt == 0.0)
        return 0.0;
    return cov_tp / sqrt(cov_tt * cov_pp);
}

typedef struct {
    float score;
    int positive;
} scored_label;

static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored_label *)a)->score;
    float y = ((const scored_label *)b)->score;
    return (x > y) - (x < y);
}

/*
 * AUC = (R - P (P + 1) / 2) / (P N), R the sum of the positives' ranks
 * (1-based, ascending score, a tie group sharing its mean rank), P and N
 * the numbers of positives and negatives.  NaN scores have no order, so
 * they make the result NAN too.
 */
double metric_auc(const float *scores, const int *labels, int n) {
    scored_label *v = malloc(((size_t)(n > 0 ? n : 0) + 1) * sizeof *v);
    if (!v)
        return NAN;
    double n_pos = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(scores[i])) {
            free(v);
            return NAN;
        }
        v[i].score = scores[i];
        v[i].positive = labels[i] == 1;
        n_pos += v[i].positive;
    }
    qsort(v, (size_t)(n > 0 ? n : 0), sizeof *v, cmp_scored);

    double rank_sum = 0;
    for (int i = 0, j; i < n; i = j) {
        int pos_in_group = 0;
        for (j = i; j < n && v[j].score == v[i].score; j++)
            pos_in_group += v[j].positive;
        rank_sum += pos_in_group * 0.5 * ((double)(i + 1) + (double)j);
    }
    free(v);

    double n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0)
        return NAN;
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

static int is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* s without leading and trailing white space: its start and *len. */
static const char *trimmed(const char *s, size_t *len) {
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        n--;
    *len = n;
    return s;
}

double metric_exact_match(const char *const *hyps, const char *const *refs,
                          int n) {
    long hits = 0;
    for (int i = 0; i < n; i++) {
        size_t nh, nr;
        const char *h = trimmed(hyps[i], &nh), *r = trimmed(refs[i], &nr);
        hits += nh == nr && !memcmp(h, r, nh);
    }
    return n > 0 ? (double)hits / n : 0.0;
}
