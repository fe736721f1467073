/*
 * bench_tokenize.c - throughput of T5 SentencePiece encoding.
 *
 * Usage: bench_tokenize FILE [MODEL] [RUNS]
 * Encodes every line of FILE (MODEL: tests/data/tokenizers/t5/spiece.model)
 * after one warm-up pass, RUNS times (default 7, at least 5), and prints
 * the median MB/s of input text for two paths:
 *   sp ids   spm_encode() of each line: normalize + Viterbi (what
 *            `spm_encode --output_format=id` computes)
 *   T5 API   t5e_tokenizer_encode() with the defaults (</s>, pieces text
 *            allocated per token, as the public API returns them)
 * Results go to stdout, one "name value" per line, for scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/spm.h"

typedef struct {
    const char *p;
    size_t n;
} line;

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static line *split_lines(char *text, size_t len, size_t *n_lines) {
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    line *v = malloc(n * sizeof *v);
    size_t k = 0, at = 0;
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t m = nl ? (size_t)(nl - (text + at)) : len - at;
        v[k++] = (line){text + at, m};
        at += m + 1;
    }
    *n_lines = k;
    return v;
}

/* One pass over the lines; returns seconds, adds the tokens to *tokens. */
static double pass_sp(const spm_model *m, const line *v, size_t n,
                      spm_work *w, size_t *tokens) {
    double t0 = time_now();
    t5e_err err;
    for (size_t i = 0; i < n; i++) {
        if (spm_encode(m, v[i].p, v[i].n, m->add_dummy_prefix, 0, w, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        *tokens += w->n_tok;
    }
    return time_now() - t0;
}

static double pass_api(const t5e_tokenizer *tok, const line *v, size_t n,
                       size_t *tokens) {
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    double t0 = time_now();
    t5e_err err;
    for (size_t i = 0; i < n; i++) {
        t5e_encoding e;
        if (t5e_tokenizer_encode(tok, v[i].p, (long)v[i].n, NULL, 0, &opt,
                                 &e, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        *tokens += (size_t)e.n;
        t5e_encoding_free(&e);
    }
    return time_now() - t0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [MODEL] [RUNS]\n", argv[0]);
        return 2;
    }
    const char *model = argc > 2 ? argv[2]
                                 : "tests/data/tokenizers/t5/spiece.model";
    int runs = argc > 3 ? atoi(argv[3]) : 7;
    if (runs < 5)
        runs = 5;
    t5e_err err;
    char *text, *data;
    size_t len, dlen;
    spm_model m;
    double t0 = time_now();
    if (file_read_all(argv[1], &text, &len, &err) ||
        file_read_all(model, &data, &dlen, &err) ||
        spm_model_from_proto(&m, (const uint8_t *)data, dlen, model,
                             &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    double load = time_now() - t0;
    free(data);
    t5e_tokenizer *tok;
    if (t5e_tokenizer_load(model, &tok, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    size_t n;
    line *v = split_lines(text, len, &n);
    spm_work w = {0};
    size_t tokens = 0;
    pass_sp(&m, v, n, &w, &tokens); /* warm-up */
    pass_api(tok, v, n, &tokens);
    double *ts = malloc(sizeof *ts * (size_t)runs);
    double *ta = malloc(sizeof *ta * (size_t)runs);
    size_t sp_tokens = 0, api_tokens = 0;
    for (int r = 0; r < runs; r++) {
        sp_tokens = api_tokens = 0;
        ts[r] = pass_sp(&m, v, n, &w, &sp_tokens);
        ta[r] = pass_api(tok, v, n, &api_tokens);
    }
    qsort(ts, (size_t)runs, sizeof *ts, compare_double);
    qsort(ta, (size_t)runs, sizeof *ta, compare_double);
    double mb = (double)len / 1e6;
    printf("file %s\nbytes %zu\nlines %zu\nruns %d\n", argv[1], len, n,
           runs);
    printf("model_load_s %.4f\n", load);
    printf("sp_ids_tokens %zu\nsp_ids_median_s %.4f\nsp_ids_mb_s %.2f\n",
           sp_tokens, ts[runs / 2], mb / ts[runs / 2]);
    printf("t5_api_tokens %zu\nt5_api_median_s %.4f\nt5_api_mb_s %.2f\n",
           api_tokens, ta[runs / 2], mb / ta[runs / 2]);
    free(ts);
    free(ta);
    free(v);
    free(text);
    spm_work_free(&w);
    spm_model_free(&m);
    t5e_tokenizer_free(tok);
    return 0;
}
