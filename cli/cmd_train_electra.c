/*
 * cmd_train_electra.c - `t5e pretrain-electra` (replaced-token detection
 * on raw text) and `t5e train-classifier` (ElectraForSequenceClassification
 * on a GLUE-style TSV), both on the shared trainer.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "model/t5.h"
#include "train/checkpoint.h"
#include "train/electra_task.h"
#include "train_args.h"

enum {
    O_MODEL = 'm', O_HELP = 'h', O_TRAIN = 300, O_DEV, O_VOCAB, O_SIZE,
    O_DCONFIG, O_GCONFIG, O_SEQ_LEN, O_MASK_PROB, O_DISC_WEIGHT, O_EVAL_N,
    O_TASK, O_EPOCHS, O_LLRD, O_SCRATCH, O_METRIC, O_POSITION, O_LOCAL_ATTN,
    O_LOCAL_HEADS
};

#define MAX_TRAIN_FILES 64

typedef struct {
    int pretrain;
    train_args ta;
    const char *model, *dev, *vocab, *size, *dconfig, *gconfig;
    const char *position; /* --position-embedding-type, NULL: the config's */
    const char *task, *metric;
    const char *train[MAX_TRAIN_FILES];
    int n_train, from_scratch;
    long seq_len, eval_examples, epochs;
    double mask_prob, disc_weight, llrd;
    double local_attn; /* --local-attention-init, 0: the reference's */
    long local_heads;  /* --local-attention-heads, 0: all */
} electra_args;

static const struct option long_opts[] = {
    {"model", required_argument, 0, O_MODEL},
    {"help", no_argument, 0, O_HELP},
    {"train", required_argument, 0, O_TRAIN},
    {"dev", required_argument, 0, O_DEV},
    {"vocab", required_argument, 0, O_VOCAB},
    {"size", required_argument, 0, O_SIZE},
    {"discriminator-config", required_argument, 0, O_DCONFIG},
    {"generator-config", required_argument, 0, O_GCONFIG},
    {"max-seq-length", required_argument, 0, O_SEQ_LEN},
    {"mask-prob", required_argument, 0, O_MASK_PROB},
    {"disc-weight", required_argument, 0, O_DISC_WEIGHT},
    {"eval-examples", required_argument, 0, O_EVAL_N},
    {"task", required_argument, 0, O_TASK},
    {"num-epochs", required_argument, 0, O_EPOCHS},
    {"layerwise-lr-decay", required_argument, 0, O_LLRD},
    {"from-scratch", no_argument, 0, O_SCRATCH},
    {"position-embedding-type", required_argument, 0, O_POSITION},
    {"local-attention-init", required_argument, 0, O_LOCAL_ATTN},
    {"local-attention-heads", required_argument, 0, O_LOCAL_HEADS},
    {"metric", required_argument, 0, O_METRIC},
    TRAIN_ARGS_LONG_OPTIONS,
    {0, 0, 0, 0},
};

/* ------------------------------------------------------------------ */
/* Help and defaults                                                   */
/* ------------------------------------------------------------------ */

static void usage_pretrain(FILE *o, const electra_args *d) {
    fprintf(o,
"usage: t5e pretrain-electra --train FILE... --vocab VOCAB --output-dir DIR\n"
"       [options]\n\n"
"Pretrains an ELECTRA discriminator and generator by replaced-token\n"
"detection (the original recipe: 15%% masked, generator samples, loss =\n"
"gen + 50 x disc) on raw UTF-8 text, tokenized once into\n"
"OUTPUT_DIR/train.shard (a --resume run reuses it).  Writes\n"
"OUTPUT_DIR/discriminator/ and OUTPUT_DIR/generator/ (Hugging Face\n"
"folders for `t5e detect` / `t5e fill-mask`), checkpoint-STEP/ folders\n"
"and metrics.jsonl.  --dev adds held-out detection figures to the log;\n"
"they are not used to pick a model (its replacements come from the\n"
"current generator, a harder test as it learns): the final folders hold\n"
"the last step's model.\n\n"
"options:\n"
"  --train FILE               raw text (repeatable; more files may follow)\n"
"  --vocab FILE               WordPiece vocab.txt, or a folder holding it\n"
"                             (required); tokenizer_config.json beside it\n"
"                             is used and copied\n"
"  --size S                   small (ELECTRA-Small: E 128, H 256, 12\n"
"                             layers, 4 heads, F 1024) or tiny (E 128,\n"
"                             H 128, 4 layers, 2 heads, F 512); the\n"
"                             generator is 1/4 wide; also picks the\n"
"                             defaults below (default %s)\n"
"  --discriminator-config F   a config.json for the discriminator instead\n"
"  --generator-config F       a config.json for the generator (default:\n"
"                             the discriminator at 1/4 width)\n"
"  --position-embedding-type T  absolute (ELECTRA's), relative_key or\n"
"                             relative_key_query (per-layer distance\n"
"                             tables, as transformers implements them),\n"
"                             for both models (default: the size's or\n"
"                             config's: absolute)\n"
"  --local-attention-init X   with relative positions: start each head\n"
"                             attending to one neighbour (head 0 the\n"
"                             previous token, 1 the next, 2 two back...),\n"
"                             X logits above the other keys; the rest of\n"
"                             the init is the reference's.  Not in the\n"
"                             ELECTRA recipe: a tiny model learns to read\n"
"                             its neighbours far sooner with it (0: off;\n"
"                             default %g)\n"
"  --local-attention-heads N  pin only the first N heads of each layer\n"
"                             (alternately to the previous and the next\n"
"                             token), the others start free (default 0:\n"
"                             all heads)\n"
"  --max-seq-length N         tokens per sequence (default %ld)\n"
"  --mask-prob X              share of tokens masked (default %g)\n"
"  --disc-weight X            weight of the discriminator loss (default %g)\n"
"  --dev FILE                 held-out raw text: replaced-token detection\n"
"                             on it (AUC, F1, precision, recall, accuracy)\n"
"                             at every evaluation, logged\n"
"  --eval-examples N          held-out sequences per evaluation, the same\n"
"                             masking and samples each time (default %ld)\n",
            d->size, d->local_attn, d->seq_len, d->mask_prob,
            d->disc_weight, d->eval_examples);
    train_args_help(o, &d->ta);
    fputs("\nDefaults of --size small are ELECTRA-Small's (lr 5e-4, batch "
          "128, warmup\n10000, 1M steps); --size tiny: lr 2e-4, batch 32, "
          "warmup 200, 1000 steps.\n", o);
}

static void usage_classifier(FILE *o, const electra_args *d) {
    train_args shown = d->ta;
    shown.tc.max_steps = shown.tc.sched.warmup = 0;
    shown.tc.eval_steps = shown.tc.save_steps = 0;
    fprintf(o,
"usage: t5e train-classifier -m DIR --train TSV --output-dir DIR [options]\n"
"\n"
"Fine-tunes an ELECTRA model (a discriminator, or any ELECTRA folder: its\n"
"encoder is loaded, the classification head initialised randomly) as\n"
"ElectraForSequenceClassification on a TSV of (text, label) or (text_a,\n"
"text_b, label), GLUE SST-2, CoLA and RTE files included.  Evaluates on\n"
"--dev every epoch; the output folder gets the best model, for\n"
"`t5e classify -m DIR`.\n\n"
"options:\n"
"  -m, --model DIR            the ELECTRA folder to start from (required)\n"
"  --from-scratch             random init of the same architecture instead\n"
"                             of the pretrained encoder\n"
"  --train TSV                training examples (required)\n"
"  --dev TSV                  evaluation examples: accuracy, F1, MCC\n"
"  --task T                   file format: auto, sst2, cola, rte, single,\n"
"                             pair (default %s)\n"
"  --metric M                 accuracy, f1 or mcc selects the best model\n"
"                             (default %s)\n"
"  --num-epochs N             passes over --train (default %ld); sets\n"
"                             --max-steps unless it is given\n"
"  --max-seq-length N         (default %ld)\n"
"  --layerwise-lr-decay X     learning rate x X^(NL + 2 - depth), depth 0\n"
"                             embeddings, i + 1 layer i, NL + 2 head; 1 off\n"
"                             (default %g, ELECTRA-Small)\n",
            d->task, d->metric, d->epochs, d->seq_len, d->llrd);
    train_args_help(o, &shown);
    fputs("\nHere a default of 0 means: --max-steps from --num-epochs, "
          "--warmup-steps 10%\nof the steps, --eval-steps and --save-steps "
          "one epoch.\n", o);
}

/* --size as given on the command line, before the other options. */
static const char *prescan_size(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], "--size=", 7))
            return argv[i] + 7;
    }
    return "small";
}

static void defaults(electra_args *a, int pretrain, const char *size) {
    memset(a, 0, sizeof *a);
    a->pretrain = pretrain;
    a->seq_len = 128;
    if (pretrain) {
        int tiny = !strcmp(size, "tiny");
        a->size = size;
        a->mask_prob = 0.15;
        a->disc_weight = 50;
        a->eval_examples = tiny ? 128 : 512;
        /* ELECTRA-Small: Adam without bias correction, eps 1e-6, decay
         * 0.01, warmup then linear decay, clipping at 1 */
        /* tiny: at 1e-3 with a short warmup the post-LN discriminator
         * collapsed to a constant output within 250 steps; 2e-4 with a
         * 200-step warmup learns (held-out AUC 0.77 at step 200) */
        train_args_init(&a->ta, tiny ? 32 : 128, tiny ? 2e-4 : 5e-4,
                        tiny ? 1000 : 1000000, "adamw-electra", "electra");
        a->ta.tc.sched.warmup = tiny ? 200 : 10000;
        a->ta.tc.save_steps = tiny ? 250 : 10000;
        a->ta.tc.eval_steps = tiny ? 250 : 10000;
        a->ta.tc.log_steps = tiny ? 10 : 100;
    } else {
        /* the ELECTRA paper's GLUE settings for Small: lr 3e-4, batch 32,
         * 3 epochs, 10% warmup, layer-wise decay 0.8 */
        train_args_init(&a->ta, 32, 3e-4, -1, "adamw-electra", "electra");
        a->ta.tc.sched.warmup = -1;
        a->ta.tc.eval_steps = a->ta.tc.save_steps = -1;
        a->task = "auto";
        a->metric = "accuracy";
        a->epochs = 3;
        a->llrd = 0.8;
    }
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static int parse_own(electra_args *a, int c, const char *arg,
                     const char *cmd) {
    long v;
    double x;
    switch (c) {
    case O_MODEL: a->model = arg; return 0;
    case O_DEV: a->dev = arg; return 0;
    case O_VOCAB: a->vocab = arg; return 0;
    case O_SIZE: a->size = arg; return 0;
    case O_DCONFIG: a->dconfig = arg; return 0;
    case O_GCONFIG: a->gconfig = arg; return 0;
    case O_TASK: a->task = arg; return 0;
    case O_METRIC: a->metric = arg; return 0;
    case O_SCRATCH: a->from_scratch = 1; return 0;
    case O_POSITION: a->position = arg; return 0;
    case O_TRAIN:
        if (a->n_train == MAX_TRAIN_FILES)
            return cli_usage_error(cmd, "at most %d --train files",
                                   MAX_TRAIN_FILES);
        a->train[a->n_train++] = arg;
        return 0;
    case O_LOCAL_HEADS:
        if (!cli_parse_int(arg, 0, 1 << 20, &v))
            return cli_usage_error(cmd, "--local-attention-heads is a "
                                   "count of heads, not '%s'", arg);
        a->local_heads = v;
        return 0;
    case O_LOCAL_ATTN:
        if (!cli_parse_float(arg, 0, 30, &x))
            return cli_usage_error(cmd, "--local-attention-init is a "
                                   "number of logits in 0..30, not '%s'",
                                   arg);
        a->local_attn = x;
        return 0;
    case O_MASK_PROB: case O_DISC_WEIGHT: case O_LLRD:
        if (!cli_parse_float(arg, c == O_MASK_PROB ? 0.001 : 0,
                             c == O_MASK_PROB ? 1 : 1000, &x))
            return cli_usage_error(cmd, "bad number '%s'", arg);
        *(c == O_MASK_PROB ? &a->mask_prob : c == O_DISC_WEIGHT
                                                 ? &a->disc_weight
                                                 : &a->llrd) = x;
        return 0;
    default:
        if (!cli_parse_int(arg, 1, 1L << 30, &v))
            return cli_usage_error(cmd, "bad number '%s'", arg);
        *(c == O_SEQ_LEN ? &a->seq_len : c == O_EVAL_N ? &a->eval_examples
                                                       : &a->epochs) = v;
        return 0;
    }
}

static int check_args(electra_args *a, const char *cmd) {
    if (!a->n_train)
        return cli_usage_error(cmd, "--train FILE is required");
    if (a->seq_len < 8 || a->seq_len > 4096)
        return cli_usage_error(cmd, "--max-seq-length must be in 8..4096");
    if (a->pretrain) {
        if (!a->vocab)
            return cli_usage_error(cmd, "--vocab vocab.txt is required");
        if (strcmp(a->size, "small") && strcmp(a->size, "tiny"))
            return cli_usage_error(cmd, "--size is small or tiny");
        if (a->gconfig && !a->dconfig)
            return cli_usage_error(cmd, "--generator-config needs "
                                   "--discriminator-config");
        t5e_position_embedding pt;
        if (a->position && !electra_position_from_name(a->position, &pt))
            return cli_usage_error(cmd, "--position-embedding-type is "
                                   "absolute, relative_key or "
                                   "relative_key_query, not '%s'",
                                   a->position);
        return -1;
    }
    if (!a->model)
        return cli_usage_error(cmd, "-m DIR is required");
    if (strcmp(a->metric, "accuracy") && strcmp(a->metric, "f1") &&
        strcmp(a->metric, "mcc"))
        return cli_usage_error(cmd, "--metric is accuracy, f1 or mcc");
    return -1;
}

/* -1: go on; else the exit status.  Shared options are finished here for
 * pretraining, after the data is read for the classifier. */
static int parse(int argc, char **argv, electra_args *a, const char *cmd) {
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", long_opts, NULL)) != -1) {
        if (c == O_HELP) {
            (a->pretrain ? usage_pretrain : usage_classifier)(stdout, a);
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
    for (; optind < argc && a->n_train < MAX_TRAIN_FILES; optind++)
        a->train[a->n_train++] = argv[optind];
    int rc = check_args(a, cmd);
    if (rc >= 0 || !a->pretrain)
        return rc;
    return train_args_finish(&a->ta, cmd) ? 2 : -1;
}

/* ------------------------------------------------------------------ */
/* pretrain-electra                                                    */
/* ------------------------------------------------------------------ */

static void report_shard(void *ctx, const char *file, uint64_t bytes,
                         uint64_t tokens) {
    (void)ctx;
    fprintf(stderr, "\rtokenizing %s: %.1f MB, %llu tokens", file,
            bytes / 1e6, (unsigned long long)tokens);
}

/* Tokenizes text files once into OUTPUT_DIR/name; a resumed run reuses
 * the shard. */
static t5e_status prepare_shard(const electra_args *a,
                                const char *const *files, int n,
                                const char *name, const t5e_tokenizer *tok,
                                char *path, size_t len, t5e_err *err) {
    const char *out = a->ta.tc.output_dir;
    snprintf(path, len, "%s/%s", out, name);
    if (a->ta.tc.resume && file_exists(path))
        return T5E_OK;
    if (mkdir(out, 0755) && !dir_exists(out))
        return err_set(err, T5E_ERR_IO, "%s: cannot create", out);
    t5e_status s = shard_build(files, n, tok, path, report_shard, NULL, err);
    fputc('\n', stderr);
    return s;
}

/* The two configurations: named, or from config.json files. */
static t5e_status pretrain_configs(const electra_args *a,
                                   const t5e_tokenizer *tok,
                                   t5e_electra_config *dc,
                                   t5e_electra_config *gc, float *range,
                                   t5e_err *err) {
    int V = t5e_tokenizer_vocab_size(tok);
    *range = 0.02f;
    t5e_position_embedding pt = T5E_POSITION_ABSOLUTE;
    if (a->position)
        electra_position_from_name(a->position, &pt); /* checked */
    if (!a->dconfig) {
        electra_task_named_config(a->size, V, 512, dc, gc);
        if (a->position)
            dc->position_embedding_type = gc->position_embedding_type = pt;
        return T5E_OK;
    }
    t5e_status s = electra_task_read_config(a->dconfig, dc, range, err);
    dc->head = T5E_ELECTRA_DISCRIMINATOR;
    if (!s && a->gconfig)
        s = electra_task_read_config(a->gconfig, gc, NULL, err);
    else if (!s)
        electra_task_generator_of(dc, gc);
    gc->head = T5E_ELECTRA_GENERATOR;
    if (a->position)
        dc->position_embedding_type = gc->position_embedding_type = pt;
    if (!s && dc->vocab_size < V)
        s = err_set(err, T5E_ERR_CONFIG, "%s: vocab_size %d is smaller "
                    "than the %d ids of %s", a->dconfig, dc->vocab_size, V,
                    a->vocab);
    if (!s && dc->max_position_embeddings < a->seq_len)
        s = err_set(err, T5E_ERR_CONFIG, "%s: max_position_embeddings %d "
                    "is below --max-seq-length %ld", a->dconfig,
                    dc->max_position_embeddings, a->seq_len);
    return s;
}

static t5e_status pretrain_model(const electra_args *a,
                                 const t5e_tokenizer *tok,
                                 electra_pretrain *m, t5e_err *err) {
    t5e_electra_config dc, gc;
    electra_pretrain_config pc;
    float range;
    electra_pretrain_config_default(&pc);
    pc.mask_prob = (float)a->mask_prob;
    pc.disc_weight = (float)a->disc_weight;
    t5e_status s = pretrain_configs(a, tok, &dc, &gc, &range, err);
    /* the prior lives in the distance tables: absolute models have none */
    if (!s && a->local_attn > 0 &&
        (dc.position_embedding_type == T5E_POSITION_ABSOLUTE ||
         gc.position_embedding_type == T5E_POSITION_ABSOLUTE))
        s = err_set(err, T5E_ERR_CONFIG, "--local-attention-init needs "
                    "relative positions (--position-embedding-type "
                    "relative_key or relative_key_query)");
    if (!s)
        s = electra_pretrain_init(m, &dc, &gc, &pc, err);
    if (!s) {
        m->initializer_range = range;
        electra_pretrain_init_random(m, a->ta.seed);
        if (a->local_attn > 0)
            electra_pretrain_init_local_attention(m, (float)a->local_attn,
                                                  (int)a->local_heads);
    }
    return s;
}

static int run_pretrain(electra_args *a, const char *cmd) {
    t5e_err err = {0};
    t5e_tokenizer *tok = NULL;
    electra_pretrain model;
    electra_pretrain_task task;
    char shard[4096], dev_shard[4096];
    memset(&model, 0, sizeof model);
    if (a->ta.threads > 0)
        t5e_apply_threads((int)a->ta.threads);
    t5e_status s = t5e_tokenizer_load(a->vocab, &tok, &err);
    if (!s && t5e_tokenizer_get_kind(tok) != T5E_TOKENIZER_WORDPIECE)
        s = err_set(&err, T5E_ERR_ARG, "%s: not a WordPiece vocab.txt",
                    a->vocab);
    if (!s)
        s = pretrain_model(a, tok, &model, &err);
    if (!s)
        s = prepare_shard(a, a->train, a->n_train, "train.shard", tok, shard,
                          sizeof shard, &err);
    if (!s && a->dev)
        s = prepare_shard(a, &a->dev, 1, "dev.shard", tok, dev_shard,
                          sizeof dev_shard, &err);
    t5e_tokenizer_free(tok);
    electra_pretrain_task_options o = {
        .batch_size = (int)a->ta.batch_size,
        .grad_accum = (int)a->ta.grad_accum, .seq_len = (int)a->seq_len,
        .seed = a->ta.seed, .shard_path = shard,
        .dev_shard_path = a->dev ? dev_shard : NULL,
        .eval_examples = (int)a->eval_examples, .vocab_path = a->vocab,
    };
    if (!s)
        s = electra_pretrain_task_init(&task, &o, &model, &err);
    if (!s) {
        trainer_task cb = electra_pretrain_task_callbacks(&task);
        s = trainer_run(&a->ta.tc, &cb, &model.ps, &err);
        electra_pretrain_task_free(&task);
    }
    if (model.ps.p)
        electra_pretrain_free(&model);
    if (s)
        return cli_fail(cmd, &err);
    fprintf(stderr, "models saved in %s/discriminator and %s/generator\n",
            a->ta.tc.output_dir, a->ta.tc.output_dir);
    return 0;
}

/* ------------------------------------------------------------------ */
/* train-classifier                                                    */
/* ------------------------------------------------------------------ */

static int task_format(const char *name, labeled_format *f) {
    static const struct {
        const char *name;
        labeled_format f;
    } formats[] = {
        {"auto", LABELED_AUTO}, {"sst2", LABELED_SST2},
        {"cola", LABELED_COLA}, {"rte", LABELED_RTE},
        {"single", LABELED_SINGLE}, {"pair", LABELED_PAIR},
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(name, formats[i].name)) {
            *f = formats[i].f;
            return 1;
        }
    return 0;
}

/* Steps, warmup and evaluation period from the data unless given. */
static int derive_steps(electra_args *a, const electra_cls_task *t,
                        const char *cmd) {
    trainer_config *c = &a->ta.tc;
    long epoch = electra_cls_steps_per_epoch(t);
    if (c->max_steps < 0)
        c->max_steps = epoch * a->epochs;
    if (c->sched.warmup < 0)
        c->sched.warmup = c->max_steps / 10;
    if (c->eval_steps < 0)
        c->eval_steps = epoch;
    if (c->save_steps < 0)
        c->save_steps = epoch;
    fprintf(stderr, "%lld training examples, %d labels, %ld steps per "
            "epoch, %ld steps\n", (long long)t->train.n, t->train.n_labels,
            epoch, c->max_steps);
    return train_args_finish(&a->ta, cmd) ? 2 : -1;
}

static int run_classifier(electra_args *a, const char *cmd) {
    t5e_err err = {0};
    electra_trainable model;
    electra_cls_task task;
    labeled_format fmt;
    if (!task_format(a->task, &fmt))
        return cli_usage_error(cmd, "unknown --task '%s'", a->task);
    if (a->ta.threads > 0)
        t5e_apply_threads((int)a->ta.threads);
    electra_cls_task_options o = {
        .batch_size = (int)a->ta.batch_size,
        .grad_accum = (int)a->ta.grad_accum, .seq_len = (int)a->seq_len,
        .seed = a->ta.seed, .format = fmt, .train_path = a->train[0],
        .dev_path = a->dev, .tokenizer_dir = a->model,
        .metric = !strcmp(a->metric, "f1") ? CLS_METRIC_F1
                  : !strcmp(a->metric, "mcc") ? CLS_METRIC_MCC
                                              : CLS_METRIC_ACCURACY,
    };
    if (a->n_train > 1)
        return cli_usage_error(cmd, "one --train file");
    if (a->ta.batch_size > 65536)
        return cli_usage_error(cmd, "batch size out of range");
    t5e_status s = electra_cls_task_init(&task, &o, &err);
    if (s)
        return cli_fail(cmd, &err);
    int rc = derive_steps(a, &task, cmd);
    if (rc >= 0) {
        electra_cls_task_free(&task);
        return rc;
    }
    s = electra_cls_model(&model, a->model, task.train.label_names,
                          task.train.n_labels, a->from_scratch, a->ta.seed,
                          &err);
    if (!s) {
        model.net.model.n_threads = (int)a->ta.threads;
        electra_cls_layerwise_lr(&model.ps,
                                 model.net.model.cfg.num_hidden_layers,
                                 a->llrd);
        trainer_task cb = electra_cls_task_callbacks(&task, &model);
        s = trainer_run(&a->ta.tc, &cb, &model.ps, &err);
        electra_trainable_free(&model);
    }
    electra_cls_task_free(&task);
    if (s)
        return cli_fail(cmd, &err);
    fprintf(stderr, "model saved in %s\n", a->ta.tc.output_dir);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

int cmd_pretrain_electra(int argc, char **argv) {
    const char *cmd = "pretrain-electra";
    electra_args a;
    defaults(&a, 1, prescan_size(argc, argv));
    int rc = parse(argc, argv, &a, cmd);
    return rc >= 0 ? rc : run_pretrain(&a, cmd);
}

int cmd_train_classifier(int argc, char **argv) {
    const char *cmd = "train-classifier";
    electra_args a;
    defaults(&a, 0, "small");
    int rc = parse(argc, argv, &a, cmd);
    return rc >= 0 ? rc : run_classifier(&a, cmd);
}
