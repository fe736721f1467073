/*
 * bench_t5_train.c - workload W5 of ../shared/BENCH.md: one T5 fine-tuning
 * step (forward, backward, AdamW update) with t5-small shapes, batch 16,
 * input 128 and target 32 tokens, random weights.
 *
 *   bench_t5_train [--threads N] [--runs N] [--batch N]
 *
 * Prints the step time and tokens/s (input + target tokens per step):
 * median (min, max) over --runs steps after a warm-up, and peak memory.
 */
#include <stdio.h>

#include "bench_util.h"
#include "model/t5_train.h"
#include "train/optim.h"

int main(int argc, char **argv) {
    int threads = 2, runs = 5, B = 16, S = 128, T = 32, dropout = 1;
    for (int i = 1; i < argc; i++) /* train mode unless told otherwise */
        if (!strcmp(argv[i], "--no-dropout"))
            dropout = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            B = atoi(argv[i + 1]);
    }
    if (runs < 1 || B < 1)
        return 2;
    t5e_t5_config c = {
        .vocab_size = 32128, .d_model = 512, .d_kv = 64, .num_heads = 8,
        .d_ff = 2048, .num_layers = 6, .num_decoder_layers = 6,
        .relative_attention_num_buckets = 32,
        .relative_attention_max_distance = 128, .dense_act = T5E_ACT_RELU,
        .tie_word_embeddings = 1, .layer_norm_epsilon = 1e-6f,
        .dropout_rate = 0.1f, .eos_token_id = 1,
    };
    t5_trainable t;
    t5e_err err = {0};
    if (t5_trainable_init(&t, &c, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    t5_trainable_init_random(&t, 1);
    t.model.n_threads = threads;
    optim_config oc;
    optim_config_default(&oc, OPTIM_ADAMW);
    optimizer opt;
    optim_init(&opt, &oc, &t.ps, &err);
    int32_t *ids = malloc(sizeof(int32_t) * B * S);
    int32_t *labels = malloc(sizeof(int32_t) * B * T);
    int32_t *dec = malloc(sizeof(int32_t) * B * T);
    uint64_t seed = 7;
    for (int i = 0; i < B * S; i++)
        ids[i] = (int32_t)((seed = seed * 6364136223846793005ull + 1) >> 49)
                 % 32000 + 2;
    for (int i = 0; i < B * T; i++)
        labels[i] = (int32_t)((seed = seed * 6364136223846793005ull + 1)
                              >> 49) % 32000 + 2;
    for (int b = 0; b < B; b++) {
        dec[b * T] = 0;
        memcpy(dec + b * T + 1, labels + b * T, (T - 1) * sizeof *dec);
    }
    double *sec = malloc(runs * sizeof *sec), loss;
    int count;
    for (int r = -1; r < runs; r++) { /* r = -1: warm-up */
        double t0 = time_now();
        param_zero_grad(&t.ps);
        t.drop_on = dropout;
        t.drop_key = (uint64_t)r + 2;
        t5_train_step(&t, B, S, ids, NULL, T, dec, labels, 0, 1, &loss,
                      &count, &err);
        optim_clip_grad_norm(&t.ps, 1.0f);
        optim_step(&opt, 1e-4f);
        if (r >= 0)
            sec[r] = time_now() - t0;
    }
    bench_stats s = bench_summarize(sec, runs);
    double tok = (double)B * (S + T);
    printf("W5 t5-small train step, batch %d x (%d + %d), threads=%d, "
           "runs=%d, dropout %s\n", B, S, T, threads, runs,
           dropout ? "0.1" : "off");
    printf("step:      %8.3f s  (min %.3f, max %.3f)\n", s.median, s.min,
           s.max);
    printf("tokens/s:  %8.0f    (best %.0f)\n", tok / s.median, tok / s.min);
    printf("peak RSS:  %8.1f MiB\n", bench_peak_rss_mib());
    optim_free(&opt);
    t5_trainable_free(&t);
    free(ids), free(labels), free(dec), free(sec);
    return 0;
}
