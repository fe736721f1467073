/*
 * test_metrics.c - the evaluation metrics against published sacreBLEU
 * numbers, scikit-learn values and hand computations (each written out in
 * a comment), plus the tick rule of `t5e plot`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "train/metrics.h"
#include "train/plot.h"

#define N_OF(a) (int)(sizeof(a) / sizeof((a)[0]))

static void check_near(const char *what, double got, double want,
                       double tol) {
    CHECK(fabs(got - want) <= tol, "%s: got %.12g, want %.12g", what, got,
          want);
}

/* ------------------------------------------------------------------ */
/* BLEU                                                                */
/* ------------------------------------------------------------------ */

/* The example of sacreBLEU's README: with both reference streams it
 * prints "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944
 * hyp_len = 17 ref_len = 18)"; its test_bleu.py pins 48.530827. */
static const char *readme_hyps[] = {
    "The dog bit the man.", "It wasn't surprising.",
    "The man had just bitten him."};
static const char *readme_ref1[] = {
    "The dog bit the man.", "It was not unexpected.",
    "The man bit him first."};
static const char *readme_ref2[] = {
    "The dog had bit the man.", "No one was surprised.",
    "The man had bitten the dog."};

static void test_bleu_readme_two_refs(void) {
    const char *const *refs[] = {readme_ref1, readme_ref2};
    bleu_detail d;
    double s = metric_bleu_multi(readme_hyps, refs, 2, 3, &d);
    check_near("score", s, 48.530827, 1e-6);
    check_near("p1", d.precisions[0], 82.4, 0.05);
    check_near("p2", d.precisions[1], 50.0, 0.05);
    check_near("p3", d.precisions[2], 45.5, 0.05);
    check_near("p4", d.precisions[3], 37.5, 0.05);
    check_near("bp", d.bp, 0.943, 5e-4);
    CHECK(d.sys_len == 17 && d.ref_len == 18, "lens %ld %ld", d.sys_len,
          d.ref_len);
}

/*
 * The same hypotheses against the first stream only.  13a tokens:
 *   hyp "The dog bit the man ."       ref identical        (6, 6)
 *   hyp "It wasn't surprising ."      ref "It was not unexpected ." (4, 5)
 *   hyp "The man had just bitten him ." ref "The man bit him first ." (7, 6)
 * sys_len 17 = ref_len 17, so bp = 1.  Matches per order:
 *   1: 6 + 2 (It, .) + 4 (The, man, him, .) = 12 of 6 + 4 + 7 = 17
 *   2: 5 + 0 + 1 ("The man")               =  6 of 5 + 3 + 6 = 14
 *   3: 4 + 0 + 0                           =  4 of 4 + 2 + 5 = 11
 *   4: 3 + 0 + 0                           =  3 of 3 + 1 + 4 =  8
 * BLEU = exp(mean(log(1200/17, 600/14, 400/11, 300/8))) = 45.0675063211
 */
static void test_bleu_one_ref(void) {
    bleu_detail d;
    double s = metric_bleu(readme_hyps, readme_ref1, 3, &d);
    long want_c[] = {12, 6, 4, 3}, want_t[] = {17, 14, 11, 8};
    for (int k = 0; k < 4; k++)
        CHECK(d.counts[k] == want_c[k] && d.totals[k] == want_t[k],
              "order %d: %ld/%ld, want %ld/%ld", k + 1, d.counts[k],
              d.totals[k], want_c[k], want_t[k]);
    check_near("score", s, 45.0675063211, 1e-9);
    check_near("bp", d.bp, 1.0, 0);
}

/*
 * sacreBLEU test_bleu.py's statistics case: "am I am a character
 * sequence" against "I am a symbol string sequence a a" has counts
 * [4, 2, 1, 0] of totals [6, 5, 4, 3].  With "exp" smoothing the 4-gram
 * precision is 100 / (2 * 3); bp = exp(1 - 8/6):
 *   exp(-1/3) * exp(mean(log(400/6, 200/5, 100/4, 100/6))) = 23.2634726977
 */
static void test_bleu_statistics(void) {
    const char *h[] = {"am I am a character sequence"};
    const char *r[] = {"I am a symbol string sequence a a"};
    bleu_detail d;
    double s = metric_bleu(h, r, 1, &d);
    long want_c[] = {4, 2, 1, 0}, want_t[] = {6, 5, 4, 3};
    for (int k = 0; k < 4; k++)
        CHECK(d.counts[k] == want_c[k] && d.totals[k] == want_t[k],
              "order %d: %ld/%ld", k + 1, d.counts[k], d.totals[k]);
    check_near("p4 smoothed", d.precisions[3], 100.0 / 6.0, 1e-12);
    check_near("score", s, 23.2634726977, 1e-9);
}

/* test_bleu.py's scoring case: counts [9,7,5,3] of [10,8,6,4], lengths
 * 11 and 11 give 83.75922397. */
static void test_bleu_from_stats(void) {
    bleu_detail d = {{9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11, {0}, 0, 0};
    check_near("score", metric_bleu_compute(&d), 83.75922397, 1e-8);
}

/* "this is a fest" vs "this is a test": counts [3,2,1,0] of [4,3,2,1];
 * p4 = 100 / (2 * 1) = 50, so exp(mean(log(75, 66.67, 50, 50))) =
 * 59.4603557501.  Identical text gives exactly 100. */
static void test_bleu_edges(void) {
    const char *h1[] = {"this is a fest"}, *h2[] = {"this is a test"};
    const char *r[] = {"this is a test"};
    check_near("fest", metric_bleu(h1, r, 1, NULL), 59.4603557501, 1e-9);
    check_near("exact", metric_bleu(h2, r, 1, NULL), 100.0, 1e-12);

    /* test_bleu.py: empty hypotheses are kept and score 0 */
    const char *empty[] = {"", "", ""};
    bleu_detail d;
    check_near("empty", metric_bleu(empty, readme_ref1, 3, &d), 0.0, 0);
    CHECK(d.sys_len == 0 && d.ref_len == 17 && d.bp == 0.0,
          "empty: sys %ld ref %ld bp %g", d.sys_len, d.ref_len, d.bp);

    /* no n-gram in common */
    const char *h3[] = {"this is a test", "another test"};
    const char *r3[] = {"ref1", "ref2"};
    check_near("no match", metric_bleu(h3, r3, 2, NULL), 0.0, 0);

    /* three tokens: no 4-gram at all, so sacreBLEU's loop stops and the
     * score is 0 although every token matches */
    const char *h4[] = {"a b c"};
    check_near("short", metric_bleu(h4, h4, 1, NULL), 0.0, 0);

    /* an empty corpus */
    check_near("n=0", metric_bleu(NULL, NULL, 0, NULL), 0.0, 0);
}

/* Clipping: "the the the the" against "the cat": unigram matches are
 * capped at 1 (the count in the reference). */
static void test_bleu_clipping(void) {
    const char *h[] = {"the the the the"}, *r[] = {"the cat"};
    bleu_detail d;
    metric_bleu(h, r, 1, &d);
    CHECK(d.counts[0] == 1 && d.totals[0] == 4, "unigrams %ld/%ld",
          d.counts[0], d.totals[0]);
}

/* Tokenizations checked against sacreBLEU's 13a regular expressions. */
static void test_tokenize_13a(void) {
    static const char *cases[][2] = {
        {"Hello, world! It's 3.14, or 1,000-2,000.",
         "Hello , world ! It's 3.14 , or 1,000 - 2,000 ."},
        {"&quot;Quoted&quot; &amp; &lt;tag&gt; &amp;lt;",
         "\" Quoted \" & < tag > <"},
        {"a<skipped>b end-\nof line\nnext", "ab endof line next"},
        {".5 and 5. and x.y and 3.x", ". 5 and 5 . and x . y and 3 . x"},
        {"e-mail: foo@bar.com (see http://x.org/a?b=c#d) ~{}[]^_`|\\",
         "e-mail : foo @ bar . com ( see http : / / x . org / a ? b = c "
         "# d ) ~ { } [ ] ^ _ ` | \\"},
        {"Z\xc3\xbcrich\xe2\x80\x99s caf\xc3\xa9 \xe2\x80\x94 "
         "\xe2\x80\x9cna\xc3\xafve\xe2\x80\x9d...  ",
         "Z\xc3\xbcrich\xe2\x80\x99s caf\xc3\xa9 \xe2\x80\x94 "
         "\xe2\x80\x9cna\xc3\xafve\xe2\x80\x9d . . ."},
        /* NBSP, ideographic and thin spaces split, as str.split() does */
        {"a\xc2\xa0" "b\xe3\x80\x80" "c\xe2\x80\x89" "d", "a b c d"},
        {"x..y,,z 1,,2 3--4 -5", "x . . y , , z 1 , , 2 3 - -4 -5"},
        {"$5.00 100% #1 *bold* +1 =2 ;)",
         "$ 5.00 100 % # 1 * bold * + 1 = 2 ; )"},
        {"", ""},
        {" \t ", ""},
    };
    for (int i = 0; i < N_OF(cases); i++) {
        char *t = metric_tokenize_13a(cases[i][0]);
        CHECK(t && !strcmp(t, cases[i][1]), "case %d: got '%s', want '%s'",
              i, t ? t : "(null)", cases[i][1]);
        free(t);
    }
}

/* ------------------------------------------------------------------ */
/* Classification                                                      */
/* ------------------------------------------------------------------ */

/*
 * pred 0 1 1 0 1 1 0 0 1 0
 * gold 0 1 0 0 1 1 1 0 0 0
 * tp 3 (i = 1, 4, 5), fp 2 (2, 8), fn 1 (6), tn 4: accuracy 7/10,
 * P 3/5, R 3/4, F1 6/9; MCC (3*4 - 2*1) / sqrt(5*4*6*5) = 0.408248290464.
 * For class 0: tp 4, fp 1, fn 2, F1 8/11; macro-F1 (6/9 + 8/11) / 2.
 */
static const int bin_pred[] = {0, 1, 1, 0, 1, 1, 0, 0, 1, 0};
static const int bin_gold[] = {0, 1, 0, 0, 1, 1, 1, 0, 0, 0};

static void test_binary(void) {
    double p, r, f;
    check_near("acc", metric_accuracy(bin_pred, bin_gold, 10), 0.7, 1e-15);
    metric_prf(bin_pred, bin_gold, 10, 1, &p, &r, &f);
    check_near("p", p, 0.6, 1e-15);
    check_near("r", r, 0.75, 1e-15);
    check_near("f", f, 2.0 / 3.0, 1e-15);
    check_near("f1", metric_f1(bin_pred, bin_gold, 10, 1), 2.0 / 3, 1e-15);
    check_near("mcc", metric_mcc(bin_pred, bin_gold, 10, 2), 0.408248290464,
               1e-12);
    check_near("macro", metric_macro_f1(bin_pred, bin_gold, 10, 2),
               (6.0 / 9 + 8.0 / 11) / 2, 1e-15);
}

/* sklearn: matthews_corrcoef and f1_score(average="macro") of
 * gold 0 1 2 0 1 2 0 1 2 2, pred 0 2 1 0 0 1 0 1 2 2 are 0.409090909091
 * and 0.587301587302. */
static void test_multiclass(void) {
    int gold[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 2};
    int pred[] = {0, 2, 1, 0, 0, 1, 0, 1, 2, 2};
    check_near("mcc", metric_mcc(pred, gold, 10, 3), 0.409090909091, 1e-12);
    check_near("macro", metric_macro_f1(pred, gold, 10, 3), 0.587301587302,
               1e-12);

    /* classes 0..3 occur, 4 does not and is left out of the mean:
     * F1 1, 4/6, 0, 0 -> 0.416666666667 (sklearn agrees) */
    int g2[] = {0, 1, 2, 0, 1, 3}, p2[] = {0, 1, 1, 0, 1, 1};
    check_near("macro absent", metric_macro_f1(p2, g2, 6, 5),
               0.416666666667, 1e-12);
    CHECK(isnan(metric_mcc(p2, g2, 6, 3)), "label 3 of 3 classes: not NAN");
}

/* sklearn's docstring example: y_true [+1 +1 +1 -1], y_pred [+1 -1 +1
 * +1] gives -0.33...; a constant prediction leaves MCC undefined -> 0. */
static void test_mcc_edges(void) {
    int gold[] = {1, 1, 1, 0}, pred[] = {1, 0, 1, 1}, ones[] = {1, 1, 1, 1};
    check_near("doc", metric_mcc(pred, gold, 4, 2), -1.0 / 3.0, 1e-15);
    check_near("constant", metric_mcc(ones, gold, 4, 2), 0.0, 0);
    check_near("empty", metric_mcc(NULL, NULL, 0, 2), 0.0, 0);
    double p = -1, r = -1, f = -1;
    int zeros[] = {0, 0, 0, 0};
    metric_prf(zeros, zeros, 4, 1, &p, &r, &f);
    CHECK(p == 0 && r == 0 && f == 0, "no positives: %g %g %g", p, r, f);
}

/*
 * sklearn's docstring: labels 0 0 1 1, scores 0.1 0.4 0.35 0.8 -> 0.75.
 * With ties, labels 0 0 1 1 1 0 and scores .1 .4 .35 .8 .4 .1: ascending
 * .1(n) .1(n) .35(p) .4(n) .4(p) .8(p) have ranks 1.5 1.5 3 4.5 4.5 6;
 * positives' rank sum 13.5, so (13.5 - 3*4/2) / (3*3) = 0.8333 (sklearn
 * agrees).
 */
static void test_auc(void) {
    float s1[] = {0.1f, 0.4f, 0.35f, 0.8f};
    int l1[] = {0, 0, 1, 1};
    check_near("doc", metric_auc(s1, l1, 4), 0.75, 1e-15);
    float s2[] = {0.1f, 0.4f, 0.35f, 0.8f, 0.4f, 0.1f};
    int l2[] = {0, 0, 1, 1, 1, 0};
    check_near("ties", metric_auc(s2, l2, 6), 0.833333333333, 1e-12);
    float same[] = {0.5f, 0.5f, 0.5f};
    int l3[] = {1, 0, 1};
    check_near("all tied", metric_auc(same, l3, 3), 0.5, 1e-15);
    int l4[] = {1, 1, 1};
    CHECK(isnan(metric_auc(same, l4, 3)), "one class only: not NAN");
}

static void test_exact_match(void) {
    const char *h[] = {"  yes\n", "No", "a b", ""};
    const char *r[] = {"yes", "no", "a  b", " "};
    /* 1 (trimmed), 0 (case), 0 (inner space kept), 1 (both empty) */
    check_near("em", metric_exact_match(h, r, 4), 0.5, 1e-15);
}

/* ------------------------------------------------------------------ */
/* Plot ticks                                                          */
/* ------------------------------------------------------------------ */

/* 0.13..0.87 with about 5 ticks: steps of 0.2 from 0.2 to 0.8. */
static void test_plot_ticks(void) {
    double ticks[32], step;
    int n = plot_ticks_nice(0.13, 0.87, 5, ticks, 32, &step);
    CHECK(n == 4, "count %d", n);
    check_near("step", step, 0.2, 1e-12);
    check_near("first", ticks[0], 0.2, 1e-12);
    n = plot_ticks_nice(0, 1000, 5, ticks, 32, &step);
    CHECK(n == 6 && step == 200 && ticks[5] == 1000, "0..1000: %d %g", n,
          step);
    n = plot_ticks_nice(-3.7, 2.2, 6, ticks, 32, &step);
    CHECK(n == 6 && step == 1 && ticks[0] == -3, "-3.7..2.2: %d %g %g", n,
          step, ticks[0]);
}

int main(void) {
    RUN(test_bleu_readme_two_refs);
    RUN(test_bleu_one_ref);
    RUN(test_bleu_statistics);
    RUN(test_bleu_from_stats);
    RUN(test_bleu_edges);
    RUN(test_bleu_clipping);
    RUN(test_tokenize_13a);
    RUN(test_binary);
    RUN(test_multiclass);
    RUN(test_mcc_edges);
    RUN(test_auc);
    RUN(test_exact_match);
    RUN(test_plot_ticks);
    return harness_finish();
}
