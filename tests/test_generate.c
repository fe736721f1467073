/* test_generate.c - greedy and beam search against the reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *const models[] = {"t5-tiny-v1.0", "t5-tiny-v1.1"};

static t5e_t5 *load(const char *name) {
    t5e_err err = {0};
    t5e_t5 *m = NULL;
    if (t5e_t5_load(data_path(name), NULL, &m, &err)) {
        fprintf(stderr, "load %s: %s\n", name, err.msg);
        exit(2);
    }
    return m;
}

/* The reference's row without the start token, up to and with </s>. */
static int expected_ids(const int32_t *row, int L, int eos, int32_t *out) {
    int n = 0;
    for (int t = 1; t < L; t++) {
        out[n++] = row[t];
        if (row[t] == eos)
            break;
    }
    return n;
}

/* Runs generation on a golden case (prefix "greedy.batch", ...). */
static void check_case(t5e_t5 *m, const st_file *g, const char *prefix,
                       const t5e_generate_options *opt) {
    char name[128];
    snprintf(name, sizeof name, "%s.input_ids", prefix);
    const st_tensor *ti = golden_tensor(g, name);
    int B = (int)ti->shape[0], S = (int)ti->shape[1];
    int32_t *ids = golden_i32(g, name, NULL);
    snprintf(name, sizeof name, "%s.attention_mask", prefix);
    int32_t *mask = golden_i32(g, name, NULL);
    snprintf(name, sizeof name, "%s.sequences", prefix);
    const st_tensor *ts = golden_tensor(g, name);
    int L = (int)ts->shape[1];
    int32_t *seqs = golden_i32(g, name, NULL);
    float *scores = NULL;
    if (opt->num_beams > 1) {
        snprintf(name, sizeof name, "%s.sequences_scores", prefix);
        scores = golden_f32(g, name, NULL);
    }
    const int32_t **rows = malloc(B * sizeof *rows);
    int *lens = malloc(B * sizeof *lens);
    for (int b = 0; b < B; b++) {
        rows[b] = ids + b * S;
        lens[b] = 0;
        while (lens[b] < S && mask[b * S + lens[b]])
            lens[b]++;
    }
    t5e_generation *out = calloc(B, sizeof *out);
    t5e_err err = {0};
    CHECK_OK(t5e_t5_generate(m, B, rows, lens, opt, out, &err), &err);
    int R = opt->num_return_sequences, eos = t5e_t5_get_config(m)->eos_token_id;
    int32_t *want = malloc(L * sizeof *want);
    for (int b = 0; b < B && out[b].n == R; b++)
        for (int k = 0; k < R; k++) {
            int i = b * R + k, n = expected_ids(seqs + i * L, L, eos, want);
            const t5e_sequence *q = &out[b].seqs[k];
            CHECK(q->n == n, "%s item %d seq %d: %d ids, want %d", prefix, b,
                  k, q->n, n);
            if (q->n == n) {
                snprintf(name, sizeof name, "%s item %d seq %d", prefix, b,
                         k);
                check_ids(name, q->ids, want, n);
            }
            if (scores)
                CHECK(fabs(q->score - scores[i]) <= 1e-4 * (fabs(scores[i]) + 1),
                      "%s item %d seq %d: score %.9g want %.9g", prefix, b, k,
                      q->score, scores[i]);
            else
                CHECK(isnan(q->score), "greedy score should be NaN");
        }
    for (int b = 0; b < B; b++)
        t5e_generation_free(&out[b]);
    free(out), free(want), free(rows), free(lens), free(ids), free(mask);
    free(seqs), free(scores);
}

static void golden(const char *model, st_file *g) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/golden.safetensors", model);
    golden_open(rel, g);
}

static void test_greedy(void) {
    t5e_generate_options opt;
    t5e_generate_options_default(&opt);
    opt.max_new_tokens = 24;
    for (int k = 0; k < 2; k++) {
        t5e_t5 *m = load(models[k]);
        st_file g;
        golden(models[k], &g);
        check_case(m, &g, "greedy.batch", &opt);
        check_case(m, &g, "greedy.single", &opt);
        st_close(&g);
        t5e_t5_free(m);
    }
}

static void test_beam(void) {
    t5e_generate_options opt;
    t5e_generate_options_default(&opt);
    opt.max_new_tokens = 24;
    opt.num_beams = 4;
    opt.num_return_sequences = 2;
    for (int k = 0; k < 2; k++) {
        t5e_t5 *m = load(models[k]);
        st_file g;
        golden(models[k], &g);
        check_case(m, &g, "beam.batch", &opt);
        check_case(m, &g, "beam.single", &opt);
        st_close(&g);
        t5e_t5_free(m);
    }
}

/* Same seed, same samples; min_new_tokens keeps </s> away. */
static void test_sampling(void) {
    t5e_t5 *m = load("t5-tiny-v1.1");
    t5e_generate_options opt;
    t5e_generate_options_default(&opt);
    opt.do_sample = 1;
    opt.seed = 42;
    opt.top_k = 20;
    opt.top_p = 0.9f;
    opt.temperature = 0.7f;
    opt.min_new_tokens = 10;
    opt.max_new_tokens = 12;
    opt.num_return_sequences = 3;
    int32_t in[] = {279, 388, 15, 1099, 3, 59, 41, 36, 11, 1098, 3, 6, 1};
    const int32_t *rows[] = {in};
    int lens[] = {13};
    t5e_generation a = {0}, b = {0};
    t5e_err err = {0};
    CHECK_OK(t5e_t5_generate(m, 1, rows, lens, &opt, &a, &err), &err);
    CHECK_OK(t5e_t5_generate(m, 1, rows, lens, &opt, &b, &err), &err);
    CHECK(a.n == 3 && b.n == 3, "3 sequences each");
    for (int k = 0; k < a.n && k < b.n; k++) {
        CHECK(a.seqs[k].n >= 10, "min_new_tokens: only %d", a.seqs[k].n);
        CHECK(a.seqs[k].n == b.seqs[k].n, "same length for the same seed");
        if (a.seqs[k].n == b.seqs[k].n)
            check_ids("same seed", a.seqs[k].ids, b.seqs[k].ids,
                      a.seqs[k].n);
        for (int t = 0; t < 9 && t < a.seqs[k].n; t++)
            CHECK(a.seqs[k].ids[t] != 1, "</s> before min_new_tokens");
    }
    t5e_generation_free(&a);
    t5e_generation_free(&b);
    t5e_t5_free(m);
}

/* top_k 1 leaves only the argmax, so sampling must equal greedy; top_p
 * tiny does the same. */
static void test_sampling_filters(void) {
    t5e_t5 *m = load("t5-tiny-v1.0");
    int32_t in[] = {3, 507, 36, 162, 241, 30, 23, 189, 1};
    const int32_t *rows[] = {in};
    int lens[] = {9};
    t5e_generate_options g, s;
    t5e_generate_options_default(&g);
    g.max_new_tokens = 12;
    s = g;
    s.do_sample = 1;
    s.seed = 3;
    t5e_generation a = {0}, b = {0}, c = {0};
    t5e_err err = {0};
    CHECK_OK(t5e_t5_generate(m, 1, rows, lens, &g, &a, &err), &err);
    s.top_k = 1;
    CHECK_OK(t5e_t5_generate(m, 1, rows, lens, &s, &b, &err), &err);
    s.top_k = 0;
    s.top_p = 1e-6f;
    CHECK_OK(t5e_t5_generate(m, 1, rows, lens, &s, &c, &err), &err);
    CHECK(a.seqs[0].n == b.seqs[0].n && a.seqs[0].n == c.seqs[0].n,
          "lengths %d %d %d", a.seqs[0].n, b.seqs[0].n, c.seqs[0].n);
    if (a.seqs[0].n == b.seqs[0].n && a.seqs[0].n == c.seqs[0].n) {
        check_ids("top_k 1 vs greedy", b.seqs[0].ids, a.seqs[0].ids,
                  a.seqs[0].n);
        check_ids("top_p tiny vs greedy", c.seqs[0].ids, a.seqs[0].ids,
                  a.seqs[0].n);
    }
    t5e_generation_free(&a), t5e_generation_free(&b);
    t5e_generation_free(&c);
    t5e_t5_free(m);
}

static void test_bad_options(void) {
    t5e_t5 *m = load("t5-tiny-v1.0");
    t5e_generate_options opt;
    t5e_generate_options_default(&opt);
    int32_t in[] = {5, 6, 1}, bad[] = {5, 99999, 1};
    const int32_t *rows[] = {in}, *bad_rows[] = {bad};
    int lens[] = {3};
    t5e_generation out = {0};
    t5e_err err = {0};
    opt.num_return_sequences = 2; /* greedy returns one */
    CHECK(t5e_t5_generate(m, 1, rows, lens, &opt, &out, &err) ==
          T5E_ERR_ARG, "num_return_sequences > num_beams accepted");
    t5e_generate_options_default(&opt);
    opt.max_new_tokens = 0;
    CHECK(t5e_t5_generate(m, 1, rows, lens, &opt, &out, &err) ==
          T5E_ERR_ARG, "max_new_tokens 0 accepted");
    t5e_generate_options_default(&opt);
    CHECK(t5e_t5_generate(m, 1, bad_rows, lens, &opt, &out, &err) ==
          T5E_ERR_ARG, "out-of-vocabulary id accepted");
    CHECK(strstr(err.msg, "99999") != NULL, "message names the id: %s",
          err.msg);
    t5e_t5_free(m);
}

int main(void) {
    RUN(test_greedy);
    RUN(test_beam);
    RUN(test_sampling);
    RUN(test_sampling_filters);
    RUN(test_bad_options);
    return harness_finish();
}
