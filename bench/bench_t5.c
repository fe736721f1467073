/*
 * bench_t5.c - workloads W1 and W2 of ../shared/BENCH.md: T5 greedy
 * generation at batch 1, input 128 tokens, 64 new tokens with </s>
 * suppressed, random weights of t5-small or t5-base shapes.
 *
 *   bench_t5 [--model small|base] [--threads N] [--runs N]
 *            [--dtype f32|f16|bf16|int8] [--batch N]
 *
 * Prints the encoder time, the decode time per token and the whole
 * generate() call: median (min, max) over --runs runs after a warm-up,
 * and the peak resident memory.  f16 and bf16 weights are written so and
 * used in place; int8 is written by the quantizer (`t5e quantize`) and
 * used in place.  --batch N
 * (N > 1) instead decodes N requests together (inputs of 64 to 128
 * tokens, 64 new tokens each) and prints generated tokens per second.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "io/convert.h"
#include "model/t5.h"

typedef struct {
    const char *name;
    int d_model, d_kv, heads, d_ff, layers;
} t5_shape;

static const t5_shape shapes[] = {
    {"small", 512, 64, 8, 2048, 6},
    {"base", 768, 64, 12, 3072, 12},
};

#define VOCAB 32128

static void add_item(st_item *items, int *n, const char *name, long r,
                     long c, st_dtype dt, uint64_t *seed) {
    size_t numel = (size_t)r * (c ? c : 1);
    float *w = malloc(numel * sizeof *w);
    bench_fill(w, numel, c ? 0.05f : 1.0f, seed);
    if (!c) /* norm weights near 1 */
        for (size_t i = 0; i < numel; i++)
            w[i] = 1.0f + 0.1f * w[i];
    if (dt != ST_F32) { /* truncate to the top 16 bits, or to half */
        uint16_t *h = (uint16_t *)w;
        for (size_t i = 0; i < numel; i++) {
            uint32_t b;
            memcpy(&b, &w[i], 4);
            if (dt == ST_BF16) {
                h[i] = (uint16_t)(b >> 16);
            } else {
                int e = (int)((b >> 23) & 0xff) - 112;
                h[i] = e <= 0 ? (uint16_t)((b >> 16) & 0x8000)
                    : (uint16_t)(((b >> 16) & 0x8000) | e << 10 |
                                 ((b >> 13) & 0x3ff));
            }
        }
    }
    st_item *it = &items[(*n)++];
    it->name = strdup(name);
    it->dtype = dt;
    it->ndim = c ? 2 : 1;
    it->shape[0] = r;
    it->shape[1] = c;
    it->data = w;
}

static void add_block(st_item *it, int *n, const t5_shape *s,
                      const char *stack, int l, st_dtype dt, uint64_t *seed) {
    char name[160];
    int D = s->d_model, HD = s->heads * s->d_kv, dec = stack[0] == 'd';
    const char *att[2] = {"SelfAttention", "EncDecAttention"};
    for (int a = 0; a <= dec; a++) {
        const char *mats = "qkvo";
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "%s.block.%d.layer.%d.%s.%c.weight",
                     stack, l, a, att[a], mats[k]);
            add_item(it, n, name, k < 3 ? HD : D, k < 3 ? D : HD, dt, seed);
        }
        snprintf(name, sizeof name, "%s.block.%d.layer.%d.layer_norm.weight",
                 stack, l, a);
        add_item(it, n, name, D, 0, dt, seed);
    }
    int f = dec ? 2 : 1;
    snprintf(name, sizeof name, "%s.block.%d.layer.%d.DenseReluDense.wi"
             ".weight", stack, l, f);
    add_item(it, n, name, s->d_ff, D, dt, seed);
    snprintf(name, sizeof name, "%s.block.%d.layer.%d.DenseReluDense.wo"
             ".weight", stack, l, f);
    add_item(it, n, name, D, s->d_ff, dt, seed);
    snprintf(name, sizeof name, "%s.block.%d.layer.%d.layer_norm.weight",
             stack, l, f);
    add_item(it, n, name, D, 0, dt, seed);
    if (l == 0) {
        snprintf(name, sizeof name, "%s.block.0.layer.0.SelfAttention."
                 "relative_attention_bias.weight", stack);
        add_item(it, n, name, 32, s->heads, dt, seed);
    }
}

/* Writes a random-weight t5 folder (v1.0 style: ReLU, tied). */
static void write_model(const char *dir, const t5_shape *s, st_dtype dt) {
    st_item *items = calloc(1024, sizeof *items);
    int n = 0;
    uint64_t seed = 1;
    add_item(items, &n, "shared.weight", VOCAB, s->d_model, dt, &seed);
    const char *stacks[2] = {"encoder", "decoder"};
    for (int k = 0; k < 2; k++) {
        for (int l = 0; l < s->layers; l++)
            add_block(items, &n, s, stacks[k], l, dt, &seed);
        char name[64];
        snprintf(name, sizeof name, "%s.final_layer_norm.weight", stacks[k]);
        add_item(items, &n, name, s->d_model, 0, dt, &seed);
    }
    char path[512];
    t5e_err err = {0};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st_write(path, items, n, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        free((void *)items[i].name);
        free((void *)items[i].data);
    }
    free(items);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"model_type\": \"t5\", \"vocab_size\": %d, \"d_model\": %d,"
            " \"d_kv\": %d, \"num_heads\": %d, \"d_ff\": %d, \"num_layers\":"
            " %d, \"feed_forward_proj\": \"relu\"}\n", VOCAB, s->d_model,
            s->d_kv, s->heads, s->d_ff, s->layers);
    fclose(f);
}

/* int8 as `t5e quantize` writes it, so it loads without the float32
 * originals ever being resident. */
static void quantize_model(const char *dir) {
    char src[512], dst[512];
    t5e_err err = {0};
    snprintf(src, sizeof src, "%s/model.safetensors", dir);
    snprintf(dst, sizeof dst, "%s/model-int8.safetensors", dir);
    if (st_convert(src, dst, ST_I8, &err) || rename(dst, src)) {
        fprintf(stderr, "quantize: %s\n", err.msg);
        exit(1);
    }
}

#define IN_LEN 128
#define NEW_TOKENS 64

/* One run: encoder ms, then decode ms per token over NEW_TOKENS steps. */
static void run_once(t5e_t5 *m, const int32_t *ids, double *enc_ms,
                     double *tok_ms) {
    const t5e_t5_config *c = t5e_t5_get_config(m);
    float *enc = malloc((size_t)IN_LEN * c->d_model * sizeof *enc);
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits);
    t5e_err err = {0};
    double t0 = time_now();
    t5_encoder_forward(m, 1, IN_LEN, ids, NULL, enc, NULL, &err);
    double t1 = time_now();
    t5_decode_state st;
    int row = 0;
    t5_decode_init(m, &st, 1, IN_LEN, enc, NULL, 1, &row, NEW_TOKENS + 1,
                   &err);
    int32_t tok = c->decoder_start_token_id;
    for (int i = 0; i < NEW_TOKENS; i++) {
        t5_decode_step(m, &st, &tok, logits);
        logits[c->eos_token_id] = -1e30f; /* </s> suppressed */
        int best = 0;
        for (int v = 1; v < c->vocab_size; v++)
            if (logits[v] > logits[best])
                best = v;
        tok = best;
    }
    double t2 = time_now();
    t5_decode_free(&st);
    *enc_ms = (t1 - t0) * 1e3;
    *tok_ms = (t2 - t1) * 1e3 / NEW_TOKENS;
    free(enc);
    free(logits);
}

static double generate_once(t5e_t5 *m, const int32_t *ids) {
    t5e_generate_options o;
    t5e_generate_options_default(&o);
    o.max_new_tokens = NEW_TOKENS;
    o.min_new_tokens = NEW_TOKENS;
    const int32_t *rows[1] = {ids};
    int lens[1] = {IN_LEN};
    t5e_generation g;
    t5e_err err = {0};
    double t0 = time_now();
    if (t5e_t5_generate(m, 1, rows, lens, &o, &g, &err))
        fprintf(stderr, "generate: %s\n", err.msg);
    double t = (time_now() - t0) * 1e3;
    t5e_generation_free(&g);
    return t;
}

static void remove_dir(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", dir);
}

/* N requests of ragged lengths decoded together: generated tokens/s. */
static double batch_once(t5e_t5 *m, int N) {
    int32_t **rows = malloc((size_t)N * sizeof *rows);
    int *lens = malloc((size_t)N * sizeof *lens);
    t5e_generation *g = calloc((size_t)N, sizeof *g);
    for (int r = 0; r < N; r++) {
        lens[r] = IN_LEN - (r * 37) % 64;
        rows[r] = malloc((size_t)lens[r] * sizeof **rows);
        for (int i = 0; i < lens[r]; i++)
            rows[r][i] = (int32_t)(100 + (37 * i + 11 * r) % 30000);
    }
    t5e_generate_options o;
    t5e_generate_options_default(&o);
    o.max_new_tokens = o.min_new_tokens = NEW_TOKENS;
    t5e_err err = {0};
    double t0 = time_now();
    if (t5e_t5_generate(m, N, (const int32_t *const *)rows, lens, &o, g,
                        &err))
        fprintf(stderr, "generate: %s\n", err.msg);
    double t = time_now() - t0;
    for (int r = 0; r < N; r++) {
        t5e_generation_free(&g[r]);
        free(rows[r]);
    }
    free(rows), free(lens), free(g);
    return (double)N * NEW_TOKENS / t;
}

static void bench_batch(t5e_t5 *m, int N, int runs) {
    double *tps = malloc((size_t)runs * sizeof *tps);
    batch_once(m, N); /* warm-up */
    for (int r = 0; r < runs; r++)
        tps[r] = batch_once(m, N);
    bench_stats b = bench_summarize(tps, runs);
    printf("batch %2d x 64 new tokens: %8.1f tokens/s  (min %.1f, max "
           "%.1f)\n", N, b.median, b.min, b.max);
    free(tps);
}

int main(int argc, char **argv) {
    const t5_shape *s = &shapes[0];
    int threads = 2, runs = 5, batch = 1;
    st_dtype dt = ST_F32;
    t5e_dtype load_dt = T5E_DTYPE_AUTO;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model"))
            s = !strcmp(argv[i + 1], "base") ? &shapes[1] : &shapes[0];
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dtype")) {
            dt = !strcmp(argv[i + 1], "f16") ? ST_F16
                : !strcmp(argv[i + 1], "bf16") ? ST_BF16 : ST_F32;
            if (!strcmp(argv[i + 1], "int8"))
                load_dt = T5E_DTYPE_I8; /* the file is int8: loads as is */
        }
    }
    if (runs < 1)
        runs = 1;
    char dir[] = "/tmp/t5e-bench-t5-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    /* The model is written by a child process, so that the weights it
     * builds in memory do not count in this process's peak RSS. */
    pid_t pid = fork();
    if (pid == 0) {
        write_model(dir, s, dt);
        if (load_dt == T5E_DTYPE_I8)
            quantize_model(dir);
        _exit(0);
    }
    int status = 1;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0) {
        fprintf(stderr, "could not write the model\n");
        return 1;
    }
    t5e_load_options lo = {threads, load_dt};
    t5e_t5 *m = NULL;
    t5e_err err = {0};
    if (t5e_t5_load(dir, &lo, &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const char *dt_name = load_dt == T5E_DTYPE_I8 ? "int8"
                                                  : st_dtype_name(dt);
    if (batch > 1) {
        printf("W%d t5-%s %s threads=%d runs=%d\n", s == shapes ? 1 : 2,
               s->name, dt_name, threads, runs);
        bench_batch(m, batch, runs);
        printf("peak RSS:           %8.1f MiB\n", bench_peak_rss_mib());
        t5e_t5_free(m);
        remove_dir(dir);
        return 0;
    }
    int32_t ids[IN_LEN];
    for (int i = 0; i < IN_LEN; i++)
        ids[i] = (int32_t)(100 + 37 * i % 30000);
    double e, t, *enc = malloc(runs * sizeof *enc);
    double *tok = malloc(runs * sizeof *tok), *gen = malloc(runs * 8);
    run_once(m, ids, &e, &t); /* warm-up */
    for (int r = 0; r < runs; r++) {
        run_once(m, ids, &enc[r], &tok[r]);
        gen[r] = generate_once(m, ids);
    }
    bench_stats se = bench_summarize(enc, runs);
    bench_stats st = bench_summarize(tok, runs);
    bench_stats sg = bench_summarize(gen, runs);
    printf("W%d t5-%s %s threads=%d runs=%d\n", s == shapes ? 1 : 2,
           s->name, dt_name, threads, runs);
    printf("encoder 128 tokens: %8.1f ms  (min %.1f, max %.1f)\n",
           se.median, se.min, se.max);
    printf("decode per token:   %8.2f ms  (min %.2f, max %.2f)\n",
           st.median, st.min, st.max);
    printf("generate 64 tokens: %8.1f ms  (min %.1f, max %.1f)\n",
           sg.median, sg.min, sg.max);
    printf("peak RSS:           %8.1f MiB\n", bench_peak_rss_mib());
    t5e_t5_free(m);
    remove_dir(dir);
    free(enc), free(tok), free(gen);
    return 0;
}
