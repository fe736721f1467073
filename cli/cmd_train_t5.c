/*
 * cmd_train_t5.c - `t5e pretrain-t5` (span corruption on raw text) and
 * `t5e finetune-t5` (text-to-text pairs), both on the shared trainer.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "train/checkpoint.h"
#include "train/t5_task.h"
#include "train_args.h"

enum {
    O_MODEL = 'm', O_HELP = 'h', O_TRAIN = 300, O_DEV, O_PREFIX,
    O_CONFIG, O_VOCAB, O_IN_LEN, O_OUT_LEN, O_NOISE, O_SPAN, O_CAP,
    O_EVAL_N, O_METRIC, O_SMOOTH
};

typedef struct {
    int pretrain;
    train_args ta;
    const char *model, *dev, *prefix, *config, *vocab, *metric;
    const char *train[T2T_MAX_TASKS];
    int n_train;
    long input_len, target_len, mixing_cap, eval_examples;
    double noise, span, smoothing;
} t5_args;

static void usage(FILE *o, const t5_args *d) {
    if (d->pretrain)
        fputs("usage: t5e pretrain-t5 --train FILE... --vocab SPIECE "
              "--output-dir DIR [options]\n\nPretrains a T5 by span "
              "corruption (noise density 0.15, mean span 3) on raw\n"
              "UTF-8 text files, tokenized once into OUTPUT_DIR/train."
              "shard.\n\noptions:\n"
              "  --train FILE               raw text (repeatable; more "
              "files may follow)\n"
              "  --config C                 a T5 config.json, or tiny "
              "(default) or small\n"
              "  --vocab FILE               spiece.model (required)\n"
              "  --input-length N           encoder tokens per example "
              "(default 128)\n"
              "  --noise-density X          (default 0.15)\n"
              "  --mean-noise-span-length X (default 3)\n", o);
    else
        fputs("usage: t5e finetune-t5 -m DIR --train FILE --output-dir "
              "DIR [options]\n\nFine-tunes a T5 on (input, target) pairs "
              "from TSV or JSON lines files\nand evaluates generations on "
              "--dev (exact match and BLEU).\n\noptions:\n"
              "  -m, --model DIR            the model to start from\n"
              "  --config C, --vocab FILE   without -m: a new model of "
              "config C (tiny,\n"
              "                             small or a config.json), "
              "randomly initialised,\n"
              "                             with the spiece.model FILE\n"
              "  --train FILE               training pairs (repeatable: "
              "tasks are mixed)\n"
              "  --dev FILE                 evaluation pairs (optional)\n"
              "  --task-prefix P            prepended to every input "
              "(default none)\n"
              "  --max-input-length N       (default 128)\n"
              "  --max-target-length N      (default 64)\n"
              "  --mixing-cap K             examples-proportional mixing "
              "cap (default 0: none)\n"
              "  --eval-examples N          dev examples generated per "
              "evaluation (default 200)\n"
              "  --metric M                 bleu or exact_match selects "
              "the best model (default bleu)\n"
              "  --label-smoothing X        (default 0)\n", o);
    train_args_help(o, &d->ta);
}

static const struct option long_opts[] = {
    {"model", required_argument, 0, O_MODEL},
    {"help", no_argument, 0, O_HELP},
    {"train", required_argument, 0, O_TRAIN},
    {"dev", required_argument, 0, O_DEV},
    {"task-prefix", required_argument, 0, O_PREFIX},
    {"config", required_argument, 0, O_CONFIG},
    {"vocab", required_argument, 0, O_VOCAB},
    {"input-length", required_argument, 0, O_IN_LEN},
    {"max-input-length", required_argument, 0, O_IN_LEN},
    {"max-target-length", required_argument, 0, O_OUT_LEN},
    {"noise-density", required_argument, 0, O_NOISE},
    {"mean-noise-span-length", required_argument, 0, O_SPAN},
    {"mixing-cap", required_argument, 0, O_CAP},
    {"eval-examples", required_argument, 0, O_EVAL_N},
    {"metric", required_argument, 0, O_METRIC},
    {"label-smoothing", required_argument, 0, O_SMOOTH},
    TRAIN_ARGS_LONG_OPTIONS,
    {0, 0, 0, 0},
};

static void defaults(t5_args *a, int pretrain) {
    memset(a, 0, sizeof *a);
    a->pretrain = pretrain;
    /* the T5 paper: Adafactor, inverse square root (pretraining) or a
     * constant 1e-3 (fine-tuning) */
    if (pretrain)
        train_args_init(&a->ta, 32, 0.01, 10000, "adafactor",
                        "inverse-sqrt");
    else
        train_args_init(&a->ta, 16, 1e-3, 2000, "adafactor", "constant");
    a->ta.tc.sched.warmup = pretrain ? 10000 : 0;
    a->ta.tc.eval_steps = pretrain ? 0 : 500;
    a->config = "tiny";
    a->metric = "bleu";
    a->input_len = 128;
    a->target_len = 64;
    a->eval_examples = 200;
    a->noise = 0.15;
    a->span = 3.0;
}

static int parse_own(t5_args *a, int c, const char *arg, const char *cmd) {
    long v;
    double x;
    switch (c) {
    case O_MODEL: a->model = arg; return 0;
    case O_DEV: a->dev = arg; return 0;
    case O_PREFIX: a->prefix = arg; return 0;
    case O_CONFIG: a->config = arg; return 0;
    case O_VOCAB: a->vocab = arg; return 0;
    case O_METRIC: a->metric = arg; return 0;
    case O_TRAIN:
        if (a->n_train == T2T_MAX_TASKS)
            return cli_usage_error(cmd, "at most %d --train files",
                                   T2T_MAX_TASKS);
        a->train[a->n_train++] = arg;
        return 0;
    case O_NOISE: case O_SPAN: case O_SMOOTH:
        if (!cli_parse_float(arg, 0, 100, &x))
            return cli_usage_error(cmd, "bad number '%s'", arg);
        *(c == O_NOISE ? &a->noise : c == O_SPAN ? &a->span
                                                 : &a->smoothing) = x;
        return 0;
    default:
        if (!cli_parse_int(arg, 0, 1L << 30, &v))
            return cli_usage_error(cmd, "bad number '%s'", arg);
        *(c == O_IN_LEN ? &a->input_len : c == O_OUT_LEN ? &a->target_len
          : c == O_CAP ? &a->mixing_cap : &a->eval_examples) = v;
        return 0;
    }
}

/* -1: go on; else the exit status. */
static int parse(int argc, char **argv, t5_args *a, const char *cmd) {
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", long_opts, NULL)) != -1) {
        if (c == O_HELP) {
            usage(stdout, a);
            return 0;
        }
        if (c == '?')
            return cli_usage_error(cmd, "bad option");
        int r = train_args_parse(&a->ta, c, optarg);
        if (r < 0)
            return cli_usage_error(cmd, "bad value '%s'", optarg);
        if (r == 0 && (r = parse_own(a, c, optarg, cmd)))
            return r;
    }
    for (; optind < argc && a->n_train < T2T_MAX_TASKS; optind++)
        a->train[a->n_train++] = argv[optind];
    if (!a->n_train)
        return cli_usage_error(cmd, "--train FILE is required");
    if (a->pretrain && !a->vocab)
        return cli_usage_error(cmd, "--vocab spiece.model is required");
    if (!a->pretrain && !a->model && !a->vocab)
        return cli_usage_error(cmd, "-m DIR (or --vocab and --config for "
                               "a randomly initialised model) is "
                               "required");
    if (a->input_len < 8 || a->target_len < 2)
        return cli_usage_error(cmd, "lengths are too short");
    if (strcmp(a->metric, "bleu") && strcmp(a->metric, "exact_match"))
        return cli_usage_error(cmd, "--metric is bleu or exact_match");
    return train_args_finish(&a->ta, cmd) ? 2 : -1;
}

/* Named sizes: tiny trains on a laptop; small is t5-small. */
static t5e_status named_config(const char *name, int vocab,
                               t5e_t5_config *c, t5e_err *err) {
    memset(c, 0, sizeof *c);
    c->vocab_size = (vocab + 127) / 128 * 128;
    c->relative_attention_num_buckets = 32;
    c->relative_attention_max_distance = 128;
    c->dense_act = T5E_ACT_RELU;
    c->tie_word_embeddings = 1;
    c->layer_norm_epsilon = 1e-6f;
    c->dropout_rate = 0.1f;
    c->eos_token_id = 1;
    if (!strcmp(name, "tiny")) {
        c->d_model = 128, c->d_kv = 32, c->num_heads = 4, c->d_ff = 512;
        c->num_layers = c->num_decoder_layers = 4;
    } else if (!strcmp(name, "small")) {
        c->d_model = 512, c->d_kv = 64, c->num_heads = 8, c->d_ff = 2048;
        c->num_layers = c->num_decoder_layers = 6;
    } else {
        return t5_read_config(name, c, err);
    }
    return T5E_OK;
}

static void report_shard(void *ctx, const char *file, uint64_t bytes,
                         uint64_t tokens) {
    (void)ctx;
    fprintf(stderr, "\rtokenizing %s: %.1f MB, %llu tokens", file,
            bytes / 1e6, (unsigned long long)tokens);
}

/* Tokenizes the corpus once; a resumed run reuses the shard. */
static t5e_status prepare_shard(const t5_args *a, const t5e_tokenizer *tok,
                                char *path, size_t n, t5e_err *err) {
    snprintf(path, n, "%s/train.shard", a->ta.tc.output_dir);
    if (a->ta.tc.resume && file_exists(path))
        return T5E_OK;
    if (mkdir(a->ta.tc.output_dir, 0755) && !dir_exists(a->ta.tc.output_dir))
        return err_set(err, T5E_ERR_IO, "%s: cannot create",
                       a->ta.tc.output_dir);
    t5e_status s = shard_build(a->train, a->n_train, tok, path,
                               report_shard, NULL, err);
    fputc('\n', stderr);
    return s;
}

static t5e_status setup_model(const t5_args *a, t5_trainable *m,
                              const t5e_tokenizer *tok, t5e_err *err) {
    if (a->model)
        return t5_trainable_load(m, a->model, err);
    t5e_t5_config cfg;
    t5e_status s = named_config(a->config, t5e_tokenizer_vocab_size(tok),
                                &cfg, err);
    int need = t5e_tokenizer_vocab_size(tok);
    if (!s && cfg.vocab_size < need)
        s = err_set(err, T5E_ERR_CONFIG, "%s: vocab_size %d is smaller "
                    "than the tokenizer's %d ids (%s)", a->config,
                    cfg.vocab_size, need, a->vocab);
    if (!s)
        s = t5_trainable_init(m, &cfg, err);
    if (!s)
        t5_trainable_init_random(m, a->ta.seed);
    return s;
}

/* OUTPUT_DIR/baselines.json: what trivial systems score on the dev set. */
static t5e_status write_baselines(t5_task *task, const char *out,
                                  t5e_err *err) {
    double b[4];
    char path[4096], text[512];
    t5e_status s = t5_task_baselines(task, b, err);
    if (s)
        return s;
    if (mkdir(out, 0755) && !dir_exists(out))
        return err_set(err, T5E_ERR_IO, "%s: cannot create", out);
    snprintf(text, sizeof text, "{\"copy_input\": {\"bleu\": %.4f, "
             "\"exact_match\": %.4f}, \"most_frequent_target\": {\"bleu\": "
             "%.4f, \"exact_match\": %.4f}}\n", b[0], b[1], b[2], b[3]);
    fprintf(stderr, "dev baselines: copy input BLEU %.2f EM %.3f, most "
            "frequent target BLEU %.2f EM %.3f\n", b[0], b[1], b[2], b[3]);
    snprintf(path, sizeof path, "%s/baselines.json", out);
    return write_text_file(path, text, err);
}

static int run(t5_args *a, const char *cmd) {
    t5e_err err = {0};
    t5e_tokenizer *tok = NULL;
    t5_trainable model;
    t5_task task;
    char shard[4096], cfg_path[4096], gen_path[4096], tok_path[4096];
    memset(&model, 0, sizeof model);
    const char *tdir = a->model ? a->model : a->vocab;
    t5e_status s = t5e_tokenizer_load(tdir, &tok, &err);
    if (!s && a->pretrain)
        s = prepare_shard(a, tok, shard, sizeof shard, &err);
    if (!s)
        s = setup_model(a, &model, tok, &err);
    if (s) {
        t5e_tokenizer_free(tok);
        return cli_fail(cmd, &err);
    }
    model.model.n_threads = (int)a->ta.threads;
    t5_task_options o = {
        .kind = a->pretrain ? T5_PRETRAIN : T5_FINETUNE,
        .batch_size = (int)a->ta.batch_size,
        .grad_accum = (int)a->ta.grad_accum,
        .input_len = (int)a->input_len, .target_len = (int)a->target_len,
        .label_smoothing = (float)a->smoothing, .seed = a->ta.seed,
        .train_files = a->train, .n_train = a->n_train,
        .prefix = a->prefix, .mixing_cap = a->mixing_cap,
        .dev_file = a->dev, .eval_examples = (int)a->eval_examples,
        .eval_bleu_first = !strcmp(a->metric, "bleu"),
        .shard_path = shard, .noise_density = a->noise,
        .mean_span = a->span,
    };
    if (!a->model) {
        snprintf(tok_path, sizeof tok_path, "%s", a->vocab);
    } else {
        snprintf(tok_path, sizeof tok_path, "%s/spiece.model", a->model);
        snprintf(cfg_path, sizeof cfg_path, "%s/config.json", a->model);
        snprintf(gen_path, sizeof gen_path, "%s/generation_config.json",
                 a->model);
        o.config_path = cfg_path;
        o.gen_config_path = gen_path;
    }
    o.tokenizer_path = tok_path;
    s = t5_task_init(&task, &o, &model, &err);
    if (!s && a->dev)
        s = write_baselines(&task, a->ta.tc.output_dir, &err);
    if (!s) {
        trainer_task cb = t5_task_callbacks(&task);
        s = trainer_run(&a->ta.tc, &cb, &model.ps, &err);
        t5_task_free(&task);
    }
    t5_trainable_free(&model);
    t5e_tokenizer_free(tok);
    if (s)
        return cli_fail(cmd, &err);
    fprintf(stderr, "model saved in %s\n", a->ta.tc.output_dir);
    return 0;
}

static int main_common(int argc, char **argv, int pretrain) {
    const char *cmd = pretrain ? "pretrain-t5" : "finetune-t5";
    t5_args a;
    defaults(&a, pretrain);
    int rc = parse(argc, argv, &a, cmd);
    if (rc >= 0)
        return rc;
    return run(&a, cmd);
}

static const char eval_usage[] =
"usage: t5e evaluate-t5 -m DIR --dev FILE [options]\n"
"\n"
"Generates greedily for the examples of a TSV or JSON lines file of\n"
"(input, target) pairs and prints corpus BLEU (sacreBLEU's default:\n"
"13a tokenization, exp smoothing) and exact match, as JSON.\n"
"\n"
"options:\n"
"  -m, --model DIR            the model (required)\n"
"  --dev FILE                 the pairs (required)\n"
"  --task-prefix P            prepended to every input (default none)\n"
"  --eval-examples N          examples, spread over the file (default:\n"
"                             all)\n"
"  --max-input-length N       (default 128)\n"
"  --max-target-length N      most tokens generated (default 64)\n"
"  --threads N                threads (default 0: all cores)\n";

int cmd_evaluate_t5(int argc, char **argv) {
    t5_args a;
    defaults(&a, 0);
    a.eval_examples = 1L << 30;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", long_opts, NULL)) != -1) {
        if (c == O_HELP) {
            fputs(eval_usage, stdout);
            return 0;
        }
        int r = c == '?' ? -1 : train_args_parse(&a.ta, c, optarg);
        if (r < 0 || (r == 0 && parse_own(&a, c, optarg, "evaluate-t5")))
            return cli_usage_error("evaluate-t5", "bad option");
    }
    if (!a.model || !a.dev)
        return cli_usage_error("evaluate-t5", "-m DIR and --dev FILE are "
                               "required");
    t5e_err err = {0};
    t5_trainable model;
    t5_task task;
    char tok_path[4096];
    snprintf(tok_path, sizeof tok_path, "%s", a.model);
    t5_task_options o = {
        .kind = T5_FINETUNE, .batch_size = 1, .grad_accum = 1,
        .input_len = (int)a.input_len, .target_len = (int)a.target_len,
        .tokenizer_path = tok_path, .prefix = a.prefix, .dev_file = a.dev,
        .eval_examples = (int)a.eval_examples, .eval_bleu_first = 1,
    };
    double bleu = 0, em = 0;
    t5e_status s = t5_trainable_load(&model, a.model, &err);
    if (s)
        return cli_fail("evaluate-t5", &err);
    model.model.n_threads = (int)a.ta.threads;
    s = t5_task_init(&task, &o, &model, &err);
    if (!s) {
        s = t5_task_evaluate(&task, &bleu, &em, &err);
        printf("{\"examples\": %lld, \"bleu\": %.4f, \"exact_match\": "
               "%.4f}\n", (long long)(task.dev.n < a.eval_examples
                                       ? task.dev.n : a.eval_examples),
               bleu, em);
        t5_task_free(&task);
    }
    t5_trainable_free(&model);
    return s ? cli_fail("evaluate-t5", &err) : 0;
}

int cmd_pretrain_t5(int argc, char **argv) {
    return main_common(argc, argv, 1);
}

int cmd_finetune_t5(int argc, char **argv) {
    return main_common(argc, argv, 0);
}
