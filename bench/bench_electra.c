/*
 * bench_electra.c - W3 of docs BENCH.md: the ELECTRA-small discriminator
 * forward (hidden 256, embedding 128, 12 layers, 4 heads, intermediate
 * 1024, vocab 30522) on batch 32 x 128 and 1 x 128 tokens.
 *
 * The model has random weights (speed does not depend on values): they
 * are written as config.json + model.safetensors to a temporary folder
 * and loaded through the normal path, so the load code is what is timed
 * against.  Prints median, min and max of --runs timed runs after one
 * warm-up run, and the peak RSS.
 *
 *   bench_electra [--threads N] [--runs N] [--batch B] [--seq S]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "t5e.h"

/* electra-small (google/electra-small-discriminator). */
enum { V = 30522, E = 128, H = 256, NL = 12, NH = 4, F = 1024, P = 512 };

static uint64_t rng = 88172645463325252ull;

static float frand_normal(void) {
    /* xorshift64 + Box-Muller: enough for weights nobody reads. */
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        u[i] = ((rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* The tensors to write; their data lives until bench_free_items. */
typedef struct {
    st_item items[16 * NL + 16];
    char names[16 * NL + 16][96];
    float *data[16 * NL + 16];
    int n;
} item_list;

/* Adds tensor [d0] (d1 = 0) or [d0, d1]: ones, zeros or N(0, 0.02). */
static int add(item_list *l, const char *name, int d0, int d1, int fill) {
    size_t n = (size_t)d0 * (d1 ? d1 : 1);
    float *x = malloc(n * sizeof *x);
    if (!x)
        return 0;
    for (size_t i = 0; i < n; i++)
        x[i] = fill == 1 ? 1.0f : fill == 0 ? 0.0f : 0.02f * frand_normal();
    st_item *it = &l->items[l->n];
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    it->name = l->names[l->n];
    it->dtype = ST_F32;
    it->ndim = d1 ? 2 : 1;
    it->shape[0] = d0;
    it->shape[1] = d1;
    it->data = x;
    l->data[l->n++] = x;
    return 1;
}

#define RAND 2

static int add_layer(item_list *l, int i) {
    static const struct {
        const char *name;
        int d0, d1, fill;
    } t[] = {
        {"attention.self.query.weight", H, H, RAND},
        {"attention.self.query.bias", H, 0, 0},
        {"attention.self.key.weight", H, H, RAND},
        {"attention.self.key.bias", H, 0, 0},
        {"attention.self.value.weight", H, H, RAND},
        {"attention.self.value.bias", H, 0, 0},
        {"attention.output.dense.weight", H, H, RAND},
        {"attention.output.dense.bias", H, 0, 0},
        {"attention.output.LayerNorm.weight", H, 0, 1},
        {"attention.output.LayerNorm.bias", H, 0, 0},
        {"intermediate.dense.weight", F, H, RAND},
        {"intermediate.dense.bias", F, 0, 0},
        {"output.dense.weight", H, F, RAND},
        {"output.dense.bias", H, 0, 0},
        {"output.LayerNorm.weight", H, 0, 1},
        {"output.LayerNorm.bias", H, 0, 0},
    };
    char name[96];
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        snprintf(name, sizeof name, "electra.encoder.layer.%d.%s", i,
                 t[k].name);
        if (!add(l, name, t[k].d0, t[k].d1, t[k].fill))
            return 0;
    }
    return 1;
}

static int build_items(item_list *l) {
    int ok = add(l, "electra.embeddings.word_embeddings.weight", V, E, RAND)
          && add(l, "electra.embeddings.position_embeddings.weight", P, E,
                 RAND)
          && add(l, "electra.embeddings.token_type_embeddings.weight", 2, E,
                 RAND)
          && add(l, "electra.embeddings.LayerNorm.weight", E, 0, 1)
          && add(l, "electra.embeddings.LayerNorm.bias", E, 0, 0)
          && add(l, "electra.embeddings_project.weight", H, E, RAND)
          && add(l, "electra.embeddings_project.bias", H, 0, 0)
          && add(l, "discriminator_predictions.dense.weight", H, H, RAND)
          && add(l, "discriminator_predictions.dense.bias", H, 0, 0)
          && add(l, "discriminator_predictions.dense_prediction.weight", 1,
                 H, RAND)
          && add(l, "discriminator_predictions.dense_prediction.bias", 1, 0,
                 0);
    for (int i = 0; ok && i < NL; i++)
        ok = add_layer(l, i);
    return ok;
}

static int write_model(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fprintf(f, "{\"architectures\": [\"ElectraForPreTraining\"], "
            "\"model_type\": \"electra\", \"vocab_size\": %d, "
            "\"embedding_size\": %d, \"hidden_size\": %d, "
            "\"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
            "\"intermediate_size\": %d, \"max_position_embeddings\": %d, "
            "\"hidden_act\": \"gelu\", \"type_vocab_size\": 2}\n",
            V, E, H, NL, NH, F, P);
    fclose(f);

    item_list *l = calloc(1, sizeof *l);
    t5e_err err = {0};
    int ok = l && build_items(l);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (ok && st_write(path, l->items, l->n, &err)) {
        fprintf(stderr, "bench_electra: %s\n", err.msg);
        ok = 0;
    }
    for (int i = 0; l && i < l->n; i++)
        free(l->data[i]);
    free(l);
    return ok;
}

static void remove_model(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times `runs` forwards of [B, S] after one warm-up; prints a line. */
static int bench_shape(t5e_electra *m, int B, int S, int runs) {
    int32_t *ids = malloc((size_t)B * S * sizeof *ids);
    int32_t *types = malloc((size_t)B * S * sizeof *types);
    float *logits = malloc((size_t)B * S * sizeof *logits);
    double *t = malloc((size_t)runs * sizeof *t);
    t5e_err err = {0};
    int ok = ids && types && logits && t;
    for (int i = 0; ok && i < B * S; i++) {
        ids[i] = 1000 + (int32_t)((i * 2654435761u) % 29000);
        types[i] = (i % S) >= S / 2;
    }
    for (int r = -1; ok && r < runs; r++) {
        double t0 = time_now();
        ok = t5e_electra_detect(m, B, S, ids, types, NULL, logits, &err)
             == T5E_OK;
        if (r >= 0)
            t[r] = time_now() - t0;
    }
    if (ok) {
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        double med = runs % 2 ? t[runs / 2]
                              : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
        printf("W3 batch %2d x %d: median %8.1f ms  min %8.1f  max %8.1f"
               "  (%.1f seq/s, %d runs)\n", B, S, 1e3 * med, 1e3 * t[0],
               1e3 * t[runs - 1], B / med, runs);
    } else {
        fprintf(stderr, "bench_electra: %s\n", err.msg[0] ? err.msg
                                                          : "out of memory");
    }
    free(ids);
    free(types);
    free(logits);
    free(t);
    return ok;
}

static int parse_args(int argc, char **argv, int *threads, int *runs,
                      int *batch, int *seq) {
    for (int i = 1; i < argc; i++) {
        int *dst = !strcmp(argv[i], "--threads") ? threads
                   : !strcmp(argv[i], "--runs")  ? runs
                   : !strcmp(argv[i], "--batch") ? batch
                   : !strcmp(argv[i], "--seq")   ? seq
                                                 : NULL;
        if (!dst || i + 1 >= argc || (*dst = atoi(argv[++i])) <= 0) {
            fprintf(stderr, "usage: bench_electra [--threads N] [--runs N]"
                    " [--batch B] [--seq S]\n  defaults: 2 threads, 7 "
                    "runs, batch 32 and 1, 128 tokens\n");
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    int threads = 2, runs = 7, batch = 0, seq = 128;
    if (!parse_args(argc, argv, &threads, &runs, &batch, &seq))
        return 2;
    char dir[] = "/tmp/t5e_bench_electra_XXXXXX";
    if (!mkdtemp(dir) || !write_model(dir)) {
        fprintf(stderr, "bench_electra: cannot write the model to %s\n",
                dir);
        return 1;
    }
    t5e_load_options opt = {.n_threads = threads};
    t5e_electra *m = NULL;
    t5e_err err = {0};
    t5e_status s = t5e_electra_load(dir, &opt, &m, &err);
    if (s) {
        fprintf(stderr, "bench_electra: %s\n", err.msg);
        remove_model(dir);
        return 1;
    }
    printf("electra-small discriminator, random weights, %d thread(s)\n",
           threads);
    int ok = 1;
    if (batch)
        ok = bench_shape(m, batch, seq, runs);
    else
        ok = bench_shape(m, 32, seq, runs) && bench_shape(m, 1, seq, runs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
    t5e_electra_free(m);
    remove_model(dir);
    return ok ? 0 : 1;
}
