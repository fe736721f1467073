/*
 * bench_electra_train.c - W4: one full ELECTRA pre-training step.
 *
 *   bench_electra_train [--threads N] [--runs N] [--batch B] [--seq S]
 *                       [--wide] [--profile]
 *
 * The discriminator is electra-small (E 128, H 256, 12 layers, 4 heads,
 * F 1024, V 30522); the generator H 64, F 256, 1 head, 12 layers (--wide:
 * as wide as the discriminator, W4'), sharing the embeddings.  Random
 * weights as _init_weights, random token ids, 15% masked.  A step is
 * masking, generator and discriminator forward and backward, sampling
 * and the AdamW update.  One warm-up step, then median / min / max.
 * Results go to stdout; run with OMP_WAIT_POLICY=passive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_util.h"
#include "train/electra_pretrain.h"
#include "train/optim.h"

static void small_configs(t5e_electra_config *d, t5e_electra_config *g,
                          int wide) {
    memset(d, 0, sizeof *d);
    d->vocab_size = 30522;
    d->embedding_size = 128;
    d->hidden_size = 256;
    d->num_hidden_layers = 12;
    d->num_attention_heads = 4;
    d->intermediate_size = 1024;
    d->max_position_embeddings = 512;
    d->type_vocab_size = 2;
    d->hidden_act = T5E_ACT_GELU;
    d->layer_norm_eps = 1e-12f;
    d->hidden_dropout_prob = d->attention_probs_dropout_prob = 0.1f;
    d->classifier_dropout = -1.0f;
    d->num_labels = 2;
    d->head = T5E_ELECTRA_DISCRIMINATOR;
    *g = *d;
    g->head = T5E_ELECTRA_GENERATOR;
    if (!wide) {
        g->hidden_size = 64;
        g->intermediate_size = 256;
        g->num_attention_heads = 1;
    }
}

/* Random sentences: [CLS] words [SEP], lengths S/2 .. S, padded. */
static void make_batch(int B, int S, int32_t *ids, int32_t *mask,
                       int32_t *types, rng_state *r) {
    for (int b = 0; b < B; b++) {
        int len = S / 2 + (int)(rng_next(r) % (uint64_t)(S / 2 + 1));
        for (int s = 0; s < S; s++) {
            size_t t = (size_t)b * S + s;
            ids[t] = s == 0 ? 101 : s == len - 1 ? 102 : s < len
                     ? 1000 + (int)(rng_next(r) % 29000) : 0;
            mask[t] = s < len;
            types[t] = 0;
        }
    }
}

/*
 * --profile: the step again through its parts (the same calls
 * electra_pretrain_step makes), each timed, to stderr.
 */
static void profile_step(electra_pretrain *st, optimizer *opt, int B, int S,
                         const int32_t *ids, const int32_t *types,
                         const int32_t *mask, rng_state *r) {
    size_t BS = (size_t)B * S;
    int32_t *gen = malloc(BS * 4), *lab = malloc(BS * 4);
    int32_t *dis = malloc(BS * 4), *dl = malloc(BS * 4);
    double t[10];
    int cnt, k = 0;
    t5e_err err = {0};
    t[k++] = time_now();
    param_zero_grad(&st->ps);
    electra_pretrain_mask(&st->pc, B, S, ids, mask, r, gen, lab);
    memcpy(dis, ids, BS * 4);
    electra_net_prepare(&st->gen, B, S, gen, types, mask, &err);
    t[k++] = time_now();
    electra_net_forward(&st->gen, B, S, gen, types, mask);
    t[k++] = time_now();
    double loss;
    electra_mlm_head(&st->gen, B, S, lab, 1.0f, r, dis, &loss, &cnt, &err);
    t[k++] = time_now();
    electra_net_backward(&st->gen, B, S, gen, types, mask);
    t[k++] = time_now();
    for (size_t i = 0; i < BS; i++)
        dl[i] = dis[i] != ids[i];
    electra_net_prepare(&st->disc, B, S, dis, types, mask, &err);
    electra_net_forward(&st->disc, B, S, dis, types, mask);
    t[k++] = time_now();
    electra_disc_head(&st->disc, B, S, dl, mask, 50.0f, NULL, NULL);
    t[k++] = time_now();
    electra_net_backward(&st->disc, B, S, dis, types, mask);
    t[k++] = time_now();
    optim_clip_grad_norm(&st->ps, 1.0f);
    optim_step(opt, 2e-4f);
    t[k++] = time_now();
    static const char *const what[] = {"mask", "gen forward", "gen head",
        "gen backward", "disc forward", "disc head", "disc backward",
        "clip + AdamW"};
    for (int i = 0; i + 1 < k; i++)
        fprintf(stderr, "  %-14s %7.1f ms\n", what[i],
                1e3 * (t[i + 1] - t[i]));
    free(gen), free(lab), free(dis), free(dl);
}

static int parse_args(int argc, char **argv, int *threads, int *runs,
                      int *batch, int *seq, int *wide, int *profile,
                      int *no_dropout) {
    for (int i = 1; i < argc; i++) {
        int *dst = !strcmp(argv[i], "--threads") ? threads
                   : !strcmp(argv[i], "--runs")  ? runs
                   : !strcmp(argv[i], "--batch") ? batch
                   : !strcmp(argv[i], "--seq")   ? seq
                                                 : NULL;
        if (!strcmp(argv[i], "--wide") || !strcmp(argv[i], "--profile")) {
            *(argv[i][2] == 'w' ? wide : profile) = 1;
            continue;
        }
        if (!strcmp(argv[i], "--no-dropout")) {
            *no_dropout = 1;
            continue;
        }
        if (!dst || i + 1 >= argc || atoi(argv[i + 1]) < 1) {
            fprintf(stderr, "usage: bench_electra_train [--threads N] "
                    "[--runs N] [--batch B] [--seq S] [--wide] [--profile]\n"
                    "       [--no-dropout]\n"
                    "  defaults: 2 threads, 5 runs, batch 32, seq 128; "
                    "train mode\n  (dropout 0.1, as pretraining runs)\n");
            return 0;
        }
        *dst = atoi(argv[++i]);
    }
    return 1;
}

int main(int argc, char **argv) {
    int threads = 2, runs = 5, B = 32, S = 128, wide = 0, profile = 0;
    int no_dropout = 0;
    if (!parse_args(argc, argv, &threads, &runs, &B, &S, &wide, &profile,
                    &no_dropout))
        return 2;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);

    t5e_electra_config dc, gc;
    electra_pretrain_config pc;
    electra_pretrain st;
    optimizer opt;
    optim_config oc;
    t5e_err err = {0};
    small_configs(&dc, &gc, wide);
    electra_pretrain_config_default(&pc);
    if (electra_pretrain_init(&st, &dc, &gc, &pc, &err)) {
        fprintf(stderr, "bench_electra_train: %s\n", err.msg);
        return 1;
    }
    electra_pretrain_init_random(&st, 1);
    optim_config_default(&oc, OPTIM_ADAMW);
    oc.weight_decay = 0.01f;
    if (optim_init(&opt, &oc, &st.ps, &err)) {
        fprintf(stderr, "bench_electra_train: %s\n", err.msg);
        return 1;
    }

    size_t BS = (size_t)B * S;
    int32_t *ids = malloc(BS * sizeof *ids), *mask = malloc(BS * 4);
    int32_t *types = malloc(BS * 4);
    double *t = malloc((size_t)(runs + 1) * sizeof *t);
    rng_state r;
    rng_seed(&r, 7);
    make_batch(B, S, ids, mask, types, &r);
    electra_pretrain_stats ps;
    for (int i = 0; i <= runs; i++) {
        double t0 = time_now();
        param_zero_grad(&st.ps);
        st.drop_on = !no_dropout;
        st.drop_key = rng_next(&r);
        if (electra_pretrain_step(&st, B, S, ids, types, mask, &r, 1.0f,
                                  &ps, &err)) {
            fprintf(stderr, "bench_electra_train: %s\n", err.msg);
            return 1;
        }
        optim_clip_grad_norm(&st.ps, 1.0f);
        optim_step(&opt, 2e-4f);
        t[i] = time_now() - t0;
        fprintf(stderr, "step %d: %.3f s  loss %.4f (gen %.4f, disc %.4f, "
                "acc %.3f, masked %d, replaced %d)\n", i, t[i], ps.loss,
                ps.gen_loss, ps.disc_loss, ps.disc_acc, ps.n_masked,
                ps.n_replaced);
    }
    if (profile)
        profile_step(&st, &opt, B, S, ids, types, mask, &r);
    bench_stats s = bench_summarize(t + 1, runs);
    printf("W4%s electra pretrain step  B=%d S=%d  gen H=%d F=%d NH=%d  "
           "threads %d  dropout %s\n", wide ? "'" : "", B, S, gc.hidden_size,
           gc.intermediate_size, gc.num_attention_heads, threads,
           no_dropout ? "off" : "0.1");
    printf("  step s: median %.3f  min %.3f  max %.3f  (%d runs after "
           "1 warm-up)\n", s.median, s.min, s.max, runs);
    printf("  tokens/s: median %.0f  best %.0f\n", (double)BS / s.median,
           (double)BS / s.min);
    printf("  params %zu  peak RSS %.0f MiB\n", st.ps.total,
           bench_peak_rss_mib());
    free(ids);
    free(mask);
    free(types);
    free(t);
    optim_free(&opt);
    electra_pretrain_free(&st);
    return 0;
}
