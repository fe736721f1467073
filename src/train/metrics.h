/*
 * metrics.h - evaluation metrics: corpus BLEU as sacreBLEU 2.x computes it
 * by default, classification scores as scikit-learn defines them, ROC AUC
 * and exact match.
 *
 * Every function is pure: no globals, no I/O, inputs untouched.  n is the
 * number of examples; label arrays hold class ids 0..n_classes-1.  Where a
 * score is undefined (no positive example, a zero denominator) the value
 * returned is the one sklearn returns with zero_division=0, said per
 * function.  Functions that allocate return NAN when memory runs out.
 */
#ifndef T5E_METRICS_H
#define T5E_METRICS_H

#define BLEU_MAX_ORDER 4

/* The sufficient statistics of corpus BLEU and what follows from them. */
typedef struct {
    long counts[BLEU_MAX_ORDER];  /* clipped n-gram matches, order 1..4 */
    long totals[BLEU_MAX_ORDER];  /* hypothesis n-grams, order 1..4 */
    long sys_len, ref_len;        /* tokens, summed over the corpus */
    double precisions[BLEU_MAX_ORDER]; /* percent, smoothed ("exp") */
    double bp;                    /* brevity penalty, 0..1 */
    double score;                 /* 0..100 */
} bleu_detail;

/*
 * Corpus BLEU of hyps[i] against refs[i], i < n, with sacreBLEU's default
 * signature: tokenize 13a, case-sensitive, orders 1..4, smooth "exp",
 * effective_order off.  Returns the score in 0..100 (NAN when out of
 * memory); `detail` (may be NULL) gets the statistics.
 */
double metric_bleu(const char *const *hyps, const char *const *refs, int n,
                   bleu_detail *detail);

/*
 * The same with several references per hypothesis: refs[r][i] is the
 * r-th reference of hyps[i], r < n_refs.  N-gram matches are clipped by
 * the largest count in any reference; the reference length is the one
 * closest to the hypothesis length, the shorter on a tie.
 */
double metric_bleu_multi(const char *const *hyps,
                         const char *const *const *refs, int n_refs, int n,
                         bleu_detail *detail);

/* Fills precisions, bp and score of `d` from its counts, totals and
 * lengths (sacreBLEU's compute_bleu with smooth "exp"); returns score. */
double metric_bleu_compute(bleu_detail *d);

/*
 * The mteval-v13a tokenization sacreBLEU applies to every segment: tokens
 * joined by single spaces, in a malloc'd string (NULL when out of memory).
 * Bytes >= 0x80 are word characters, except that Unicode white space
 * (what Python's str.split() splits on) separates tokens.
 */
char *metric_tokenize_13a(const char *line);

/* Share of i with pred[i] == gold[i], in 0..1; 0 when n == 0. */
double metric_accuracy(const int *pred, const int *gold, int n);

/*
 * Precision, recall and F1 of class `positive`: tp / (tp + fp),
 * tp / (tp + fn), 2 tp / (2 tp + fp + fn); each 0 when its denominator
 * is 0.  Any output pointer may be NULL.
 */
void metric_prf(const int *pred, const int *gold, int n, int positive,
                double *precision, double *recall, double *f1);

/* F1 of class `positive` (binary F1 with positive = 1). */
double metric_f1(const int *pred, const int *gold, int n, int positive);

/*
 * Unweighted mean of per-class F1 over the classes that occur in gold or
 * pred (sklearn's average="macro" without an explicit label list).
 * Labels outside 0..n_classes-1 give NAN; 0 when n == 0.
 */
double metric_macro_f1(const int *pred, const int *gold, int n,
                       int n_classes);

/*
 * Matthews correlation coefficient, the multi-class form (Gorodkin's R_K,
 * sklearn's matthews_corrcoef), in -1..1; 0 when undefined (one class
 * only in pred or in gold).  Labels outside 0..n_classes-1 give NAN.
 */
double metric_mcc(const int *pred, const int *gold, int n, int n_classes);

/*
 * Area under the ROC curve of `scores` for labels[i] == 1 (any other
 * label is negative), O(n log n): the Mann-Whitney statistic with tied
 * scores given their average rank, which equals sklearn's roc_auc_score.
 * NAN when there is no positive or no negative example.
 */
double metric_auc(const float *scores, const int *labels, int n);

/* Share of i whose hyps[i] equals refs[i] once leading and trailing
 * white space is trimmed from both, in 0..1; 0 when n == 0. */
double metric_exact_match(const char *const *hyps, const char *const *refs,
                          int n);

#endif
