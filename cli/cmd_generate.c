/* cmd_generate.c - `t5e generate`: text (or ids) in, generated text out. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The tiny English-German T5 that t5e trained and ships. */
#define DEFAULT_MODEL "t5-tiny-ende"

static const char usage_text[] =
"usage: t5e generate -m DIR [options] [TEXT]\n"
"\n"
"Generates text with a T5 model folder (config.json, model.safetensors,\n"
"spiece.model or tokenizer.json).  With no TEXT, reads one input per\n"
"line from stdin and processes them in batches.  Defaults come from the\n"
"reference's generate() and then from DIR/generation_config.json.\n"
"\n"
"options:\n"
"  -m, --model DIR            model folder (default: the shipped\n"
"                             models/t5-tiny-ende, English to German)\n"
"  --max-new-tokens N         most tokens to generate (default 19, or\n"
"                             generation_config's max_length - 1)\n"
"  --min-new-tokens N         </s> is forbidden before N tokens (default 0)\n"
"  --num-beams N              beam search with N beams (default 1: greedy)\n"
"  --num-return-sequences N   outputs per input, <= num-beams (default 1)\n"
"  --length-penalty X         beam score = logprob / length^X (default 1.0)\n"
"  --early-stopping V         true, false or never (default false)\n"
"  --do-sample                sample instead of greedy (default off)\n"
"  --temperature X            sampling temperature (default 1.0)\n"
"  --top-k N                  sample among the N most likely (default 50;\n"
"                             0: off)\n"
"  --top-p X                  nucleus sampling mass (default 1.0: off)\n"
"  --seed N                   sampling seed (default 0)\n"
"  --batch-size N             inputs decoded together (default 8)\n"
"  --threads N                threads (default 0: all cores)\n"
CLI_DTYPE_HELP
"  --ids                      inputs are space-separated token ids\n"
"  --json                     one JSON object per input:\n"
"                             {\"outputs\": [{\"ids\", \"text\", \"score\"}]}\n"
"  -h, --help                 this help\n";

enum {
    OPT_MAX_NEW = 256, OPT_MIN_NEW, OPT_BEAMS, OPT_NRET, OPT_LP, OPT_EARLY,
    OPT_SAMPLE, OPT_TEMP, OPT_TOPK, OPT_TOPP, OPT_SEED, OPT_BATCH,
    OPT_THREADS, OPT_IDS, OPT_JSON, OPT_DTYPE
};

static const struct option long_opts[] = {
    {"model", required_argument, 0, 'm'},
    {"max-new-tokens", required_argument, 0, OPT_MAX_NEW},
    {"min-new-tokens", required_argument, 0, OPT_MIN_NEW},
    {"num-beams", required_argument, 0, OPT_BEAMS},
    {"num-return-sequences", required_argument, 0, OPT_NRET},
    {"length-penalty", required_argument, 0, OPT_LP},
    {"early-stopping", required_argument, 0, OPT_EARLY},
    {"do-sample", no_argument, 0, OPT_SAMPLE},
    {"temperature", required_argument, 0, OPT_TEMP},
    {"top-k", required_argument, 0, OPT_TOPK},
    {"top-p", required_argument, 0, OPT_TOPP},
    {"seed", required_argument, 0, OPT_SEED},
    {"batch-size", required_argument, 0, OPT_BATCH},
    {"threads", required_argument, 0, OPT_THREADS},
    {"ids", no_argument, 0, OPT_IDS},
    {"json", no_argument, 0, OPT_JSON},
    {"dtype", required_argument, 0, OPT_DTYPE},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

typedef struct {
    const char *model;
    t5e_generate_options gen;
    int set[OPT_JSON + 1]; /* which options the user gave */
    double value[OPT_JSON + 1];
    long batch, threads;
    int ids, json;
    t5e_dtype dtype;
} gen_args;

/* Numeric options are kept aside and applied over the folder's defaults. */
static int parse_value(gen_args *a, int opt, const char *arg) {
    long v;
    double x;
    switch (opt) {
    case OPT_MAX_NEW: case OPT_BEAMS: case OPT_NRET: case OPT_BATCH:
        if (!cli_parse_int(arg, 1, 16383, &v))
            return 0;
        x = (double)v;
        break;
    case OPT_MIN_NEW: case OPT_TOPK: case OPT_THREADS:
        if (!cli_parse_int(arg, 0, 1L << 30, &v))
            return 0;
        x = (double)v;
        break;
    case OPT_SEED:
        if (!cli_parse_int(arg, 0, 0x7fffffffffffffffL, &v))
            return 0;
        x = (double)v;
        break;
    case OPT_EARLY:
        x = !strcmp(arg, "true") ? 1 : !strcmp(arg, "false") ? 0
            : !strcmp(arg, "never") ? 2 : -1;
        if (x < 0)
            return 0;
        break;
    default:
        if (!cli_parse_float(arg, -1e6, 1e6, &x))
            return 0;
    }
    a->set[opt] = 1;
    a->value[opt] = x;
    return 1;
}

static void apply_values(gen_args *a) {
    t5e_generate_options *g = &a->gen;
    double *v = a->value;
    if (a->set[OPT_MAX_NEW]) g->max_new_tokens = (int)v[OPT_MAX_NEW];
    if (a->set[OPT_MIN_NEW]) g->min_new_tokens = (int)v[OPT_MIN_NEW];
    if (a->set[OPT_BEAMS]) g->num_beams = (int)v[OPT_BEAMS];
    if (a->set[OPT_NRET]) g->num_return_sequences = (int)v[OPT_NRET];
    if (a->set[OPT_LP]) g->length_penalty = (float)v[OPT_LP];
    if (a->set[OPT_EARLY]) g->early_stopping = (int)v[OPT_EARLY];
    if (a->set[OPT_SAMPLE]) g->do_sample = 1;
    if (a->set[OPT_TEMP]) g->temperature = (float)v[OPT_TEMP];
    if (a->set[OPT_TOPK]) g->top_k = (int)v[OPT_TOPK];
    if (a->set[OPT_TOPP]) g->top_p = (float)v[OPT_TOPP];
    if (a->set[OPT_SEED]) g->seed = (uint64_t)v[OPT_SEED];
    if (a->set[OPT_BATCH]) a->batch = (long)v[OPT_BATCH];
    if (a->set[OPT_THREADS]) a->threads = (long)v[OPT_THREADS];
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, gen_args *a) {
    memset(a, 0, sizeof *a);
    a->batch = 8;
    a->dtype = T5E_DTYPE_AUTO;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else if (c == 'm') {
            a->model = optarg;
        } else if (c == OPT_IDS) {
            a->ids = 1;
        } else if (c == OPT_JSON) {
            a->json = 1;
        } else if (c == OPT_DTYPE) {
            if (!cli_parse_dtype(optarg, &a->dtype))
                return cli_usage_error("generate", "unknown dtype '%s'",
                                       optarg);
        } else if (c == OPT_SAMPLE) {
            a->set[OPT_SAMPLE] = 1;
        } else if (c == '?' || !parse_value(a, c, optarg)) {
            return c == '?' ? cli_usage_error("generate", "bad option")
                : cli_usage_error("generate", "bad value '%s' for --%s",
                                  optarg, long_opts[c - OPT_MAX_NEW + 1].name);
        }
    }
    static char shipped[4096];
    if (!a->model)
        a->model = cli_default_model(DEFAULT_MODEL, shipped,
                                     sizeof shipped);
    if (!a->model)
        return cli_usage_error("generate", "-m DIR is required (the "
                               "default models/%s is not there)",
                               DEFAULT_MODEL);
    return -1;
}

typedef struct {
    t5e_t5 *model;
    t5e_tokenizer *tok; /* NULL with --ids when the folder has none */
    gen_args *args;
} gen_ctx;

static void print_output(const gen_ctx *g, const t5e_generation *out) {
    FILE *o = stdout;
    if (g->args->json)
        fputs("{\"outputs\": [", o);
    for (int k = 0; k < out->n; k++) {
        const t5e_sequence *q = &out->seqs[k];
        char *text = NULL;
        t5e_err err = {0};
        if (g->tok && t5e_tokenizer_decode(g->tok, q->ids, q->n, 1, &text,
                                           &err))
            fprintf(stderr, "t5e generate: %s\n", err.msg);
        if (!g->args->json) {
            if (text) {
                fprintf(o, "%s\n", text);
            } else {
                for (int i = 0; i < q->n; i++)
                    fprintf(o, "%s%d", i ? " " : "", q->ids[i]);
                fputc('\n', o);
            }
            free(text);
            continue;
        }
        fprintf(o, "%s{\"ids\": [", k ? ", " : "");
        for (int i = 0; i < q->n; i++)
            fprintf(o, "%s%d", i ? ", " : "", q->ids[i]);
        fputs("], \"text\": ", o);
        if (text)
            cli_json_string(o, text);
        else
            fputs("null", o);
        fputs(", \"score\": ", o);
        cli_json_float(o, q->score);
        fputc('}', o);
        free(text);
    }
    if (g->args->json)
        fputs("]}\n", o);
}

/* Turns one input line into ids: parsed, or tokenized with </s>. */
static int input_ids(const gen_ctx *g, const char *line, int32_t **ids,
                     t5e_err *err) {
    if (g->args->ids) {
        int n = cli_parse_ids(line, ids);
        if (n < 0)
            snprintf(err->msg, sizeof err->msg, "bad token id list: %.60s",
                     line);
        return n;
    }
    t5e_encoding enc;
    if (t5e_tokenizer_encode(g->tok, line, -1, NULL, 0, NULL, &enc, err))
        return -1;
    *ids = enc.ids;
    enc.ids = NULL;
    int n = enc.n;
    t5e_encoding_free(&enc);
    return n;
}

static int run_batch(const gen_ctx *g, char **lines, int n) {
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    int *lens = calloc((size_t)n, sizeof *lens);
    t5e_generation *out = calloc((size_t)n, sizeof *out);
    t5e_err err = {0};
    int rc = (!ids || !lens || !out) ? 1 : 0;
    for (int i = 0; i < n && !rc; i++) {
        lens[i] = input_ids(g, lines[i], &ids[i], &err);
        if (lens[i] < 0)
            rc = 1;
        else if (lens[i] == 0)
            snprintf(err.msg, sizeof err.msg, "input %d has no ids", i),
            rc = 1;
    }
    if (!rc && t5e_t5_generate(g->model, n, (const int32_t *const *)ids,
                               lens, &g->args->gen, out, &err))
        rc = 1;
    if (rc)
        cli_fail("generate", &err);
    for (int i = 0; i < n && !rc; i++)
        print_output(g, &out[i]);
    for (int i = 0; i < n; i++) {
        if (out)
            t5e_generation_free(&out[i]);
        if (ids)
            free(ids[i]);
    }
    free(ids), free(lens), free(out);
    return rc;
}

static int open_model(gen_ctx *g) {
    t5e_err err = {0};
    t5e_load_options lo;
    t5e_load_options_default(&lo);
    lo.n_threads = (int)g->args->threads;
    lo.dtype = g->args->dtype;
    if (t5e_generate_options_from_folder(g->args->model, &g->args->gen,
                                         &err) ||
        t5e_t5_load(g->args->model, &lo, &g->model, &err))
        return cli_fail("generate", &err);
    apply_values(g->args);
    if (t5e_tokenizer_load(g->args->model, &g->tok, &err) && !g->args->ids)
        return cli_fail("generate", &err);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    gen_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    t5e_generate_options_default(&a.gen);
    gen_ctx g = {NULL, NULL, &a};
    a.threads = 0;
    apply_values(&a); /* --threads is needed before loading */
    rc = open_model(&g);
    char **lines = NULL;
    int n = 0;
    if (!rc && optind < argc) {
        rc = run_batch(&g, &argv[optind], 1);
    } else if (!rc) {
        lines = cli_read_lines(stdin, &n);
        if (!lines)
            rc = 1, fprintf(stderr, "t5e generate: out of memory\n");
        for (int i = 0; i < n && !rc; i += (int)a.batch)
            rc = run_batch(&g, lines + i,
                           n - i < a.batch ? n - i : (int)a.batch);
    }
    cli_free_lines(lines, n);
    t5e_tokenizer_free(g.tok);
    t5e_t5_free(g.model);
    return rc;
}
