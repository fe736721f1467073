/*
 * bench_quality.c - what low-precision weights cost in quality: each of
 * f16, bf16 and int8 against float32 on the same inputs.
 *
 *   bench_quality [--t5 DIR --pairs TSV [--prefix P]]
 *                 [--electra DIR --text FILE] [--n N] [--threads N]
 *
 * T5 (first column of TSV, after the prefix): the largest first-step
 * logit difference (as a share of max |logit|), and greedy decoding
 * (48 new tokens at most) agreeing with float32 in whole sequences and
 * token by token.  ELECTRA discriminator (lines of FILE, up to 128
 * tokens): the share of tokens whose replaced / original decision
 * (logit > 0) is the same as float32's, and the largest probability
 * difference.  Figures, not assertions: the tests bound the errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "t5e.h"

static const struct {
    const char *name;
    t5e_dtype dt;
} kinds[] = {{"f16", T5E_DTYPE_F16}, {"bf16", T5E_DTYPE_BF16},
             {"int8", T5E_DTYPE_I8}};

static char **read_lines(const char *path, int col0, int *n, int max) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        exit(1);
    }
    char **out = calloc((size_t)max, sizeof *out), buf[8192];
    int k = 0;
    while (k < max && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, col0 ? "\t\r\n" : "\r\n")] = 0;
        if (buf[0])
            out[k++] = strdup(buf);
    }
    fclose(f);
    *n = k;
    return out;
}

static void die(const t5e_err *err) {
    fprintf(stderr, "%s\n", err->msg);
    exit(1);
}

typedef struct {
    t5e_t5 *m;
    t5e_tokenizer *tok;
} t5_side;

static void t5_open(t5_side *s, const char *dir, t5e_dtype dt, int th) {
    t5e_load_options lo;
    t5e_err err = {0};
    t5e_load_options_default(&lo);
    lo.dtype = dt, lo.n_threads = th;
    if (t5e_t5_load(dir, &lo, &s->m, &err) ||
        t5e_tokenizer_load(dir, &s->tok, &err))
        die(&err);
}

/* Greedy ids of one input, and its first-step logits [V]. */
static void t5_run(t5_side *s, const t5e_encoding *e, float *logits,
                   t5e_generation *g) {
    const t5e_t5_config *c = t5e_t5_get_config(s->m);
    int32_t start = c->decoder_start_token_id;
    t5e_err err = {0};
    if (t5e_t5_forward(s->m, 1, e->n, e->ids, NULL, 1, &start, logits,
                       &err))
        die(&err);
    t5e_generate_options o;
    t5e_generate_options_default(&o);
    o.max_new_tokens = 48;
    const int32_t *rows[1] = {e->ids};
    int lens[1] = {e->n};
    if (t5e_t5_generate(s->m, 1, rows, lens, &o, g, &err))
        die(&err);
}

static double rel_diff(const float *a, const float *b, int n) {
    double d = 0, m = 0;
    for (int i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1);
}

static void t5_quality(const char *dir, const char *pairs, const char *pre,
                       int n_max, int th) {
    int n;
    char **lines = read_lines(pairs, 1, &n, n_max);
    t5_side ref, low;
    t5_open(&ref, dir, T5E_DTYPE_F32, th);
    int V = t5e_t5_get_config(ref.m)->vocab_size;
    float *la = malloc((size_t)V * 4), *lb = malloc((size_t)V * 4);
    printf("T5 %s, %d inputs of %s\n", dir, n, pairs);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        t5_open(&low, dir, kinds[k].dt, th);
        double worst = 0, mean = 0;
        long same_seq = 0, same_tok = 0, toks = 0;
        for (int i = 0; i < n; i++) {
            char text[9000];
            snprintf(text, sizeof text, "%s%s", pre, lines[i]);
            t5e_encoding e;
            t5e_err err = {0};
            if (t5e_tokenizer_encode(ref.tok, text, -1, NULL, 0, NULL, &e,
                                     &err))
                die(&err);
            t5e_generation ga, gb;
            t5_run(&ref, &e, la, &ga);
            t5_run(&low, &e, lb, &gb);
            double d = rel_diff(lb, la, V);
            worst = fmax(worst, d), mean += d / n;
            const t5e_sequence *a = &ga.seqs[0], *b = &gb.seqs[0];
            same_seq += a->n == b->n &&
                        !memcmp(a->ids, b->ids, (size_t)a->n * 4);
            for (int t = 0; t < a->n; t++, toks++)
                same_tok += t < b->n && a->ids[t] == b->ids[t];
            t5e_generation_free(&ga), t5e_generation_free(&gb);
            t5e_encoding_free(&e);
        }
        printf("  %-5s first-step logits: max diff %.4f, mean %.4f of max "
               "|logit|; greedy: %.1f%% sequences, %.1f%% tokens equal\n",
               kinds[k].name, worst, mean, 100.0 * same_seq / n,
               100.0 * same_tok / (toks ? toks : 1));
        t5e_t5_free(low.m), t5e_tokenizer_free(low.tok);
    }
    t5e_t5_free(ref.m), t5e_tokenizer_free(ref.tok);
    free(la), free(lb);
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static t5e_electra *electra_open(const char *dir, t5e_dtype dt, int th) {
    t5e_load_options lo;
    t5e_err err = {0};
    t5e_electra *m = NULL;
    t5e_load_options_default(&lo);
    lo.dtype = dt, lo.n_threads = th;
    if (t5e_electra_load(dir, &lo, &m, &err))
        die(&err);
    return m;
}

static void detect(t5e_electra *m, const t5e_encoding *e, float *logits) {
    t5e_err err = {0};
    if (t5e_electra_detect(m, 1, e->n, e->ids, e->type_ids, NULL, logits,
                           &err))
        die(&err);
}

static void electra_quality(const char *dir, const char *text, int n_max,
                            int th) {
    int n;
    char **lines = read_lines(text, 0, &n, n_max);
    t5e_tokenizer *tok;
    t5e_err err = {0};
    if (t5e_tokenizer_load(dir, &tok, &err))
        die(&err);
    t5e_electra *ref = electra_open(dir, T5E_DTYPE_F32, th);
    t5e_encode_options eo;
    t5e_encode_options_default(&eo);
    eo.max_length = 128;
    float a[128], b[128];
    printf("ELECTRA detect %s, %d lines of %s\n", dir, n, text);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        t5e_electra *low = electra_open(dir, kinds[k].dt, th);
        long same = 0, toks = 0;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            t5e_encoding e;
            if (t5e_tokenizer_encode(tok, lines[i], -1, NULL, 0, &eo, &e,
                                     &err))
                die(&err);
            detect(ref, &e, a);
            detect(low, &e, b);
            for (int t = 0; t < e.n; t++, toks++) {
                same += (a[t] > 0) == (b[t] > 0);
                double pa = 1 / (1 + exp(-a[t])), pb = 1 / (1 + exp(-b[t]));
                worst = fmax(worst, fabs(pa - pb));
            }
            t5e_encoding_free(&e);
        }
        printf("  %-5s %.3f%% of %ld token decisions equal; max probability "
               "difference %.4f\n", kinds[k].name, 100.0 * same / toks,
               toks, worst);
        t5e_electra_free(low);
    }
    t5e_electra_free(ref);
    t5e_tokenizer_free(tok);
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

int main(int argc, char **argv) {
    const char *t5 = NULL, *pairs = NULL, *pre = "", *el = NULL;
    const char *text = NULL;
    int n = 200, th = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--t5"))
            t5 = argv[i + 1];
        else if (!strcmp(argv[i], "--pairs"))
            pairs = argv[i + 1];
        else if (!strcmp(argv[i], "--prefix"))
            pre = argv[i + 1];
        else if (!strcmp(argv[i], "--electra"))
            el = argv[i + 1];
        else if (!strcmp(argv[i], "--text"))
            text = argv[i + 1];
        else if (!strcmp(argv[i], "--n"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            th = atoi(argv[i + 1]);
    }
    if ((!t5 || !pairs) && (!el || !text)) {
        fprintf(stderr, "usage: bench_quality [--t5 DIR --pairs TSV "
                "[--prefix P]] [--electra DIR --text FILE] [--n N] "
                "[--threads N]\n");
        return 2;
    }
    if (t5 && pairs)
        t5_quality(t5, pairs, pre, n, th);
    if (el && text)
        electra_quality(el, text, n, th);
    return 0;
}
