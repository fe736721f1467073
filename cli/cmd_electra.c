/*
 * cmd_electra.c - the ELECTRA commands: detect (replaced-token detection),
 * fill-mask (generator), classify (sequence classifier) and embed
 * (hidden states of any ELECTRA checkpoint).
 *
 * They share one flow: parse options, load the model and its WordPiece
 * vocabulary, read the inputs (TEXT, or one per stdin line, a tab
 * separating a sentence pair), then run them in padded batches of
 * --batch-size and print one result per input, in input order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef enum { CMD_DETECT, CMD_FILL_MASK, CMD_CLASSIFY, CMD_EMBED } cmd_kind;
typedef enum { POOL_MEAN, POOL_CLS, POOL_NONE } pool_kind;

typedef struct {
    cmd_kind kind;
    const char *name;  /* as typed: "detect", "fill-mask", ... */
    const char *model; /* -m DIR */
    const char *text;  /* TEXT, or NULL to read stdin */
    int ids, json, threads, batch_size, top_k;
    pool_kind pool;
    t5e_dtype dtype;
} cli_opts;

/* One tokenized input: n ids and their token types. */
typedef struct {
    int32_t *ids, *types;
    int n;
} item;

/* What every batch needs. */
typedef struct {
    const cli_opts *o;
    t5e_electra *m;
    const t5e_electra_config *cfg;
    t5e_tokenizer *tok; /* NULL only with --ids and no vocabulary */
    t5e_special_ids sp;
} run_ctx;

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(const cli_opts *o, FILE *out) {
    static const char *what[] = {
        "Prints, for every token, the probability that a discriminator\n"
        "(ElectraForPreTraining) sees it as replaced.\n",
        "Predicts the tokens behind each [MASK] with a generator\n"
        "(ElectraForMaskedLM).  Every input needs at least one [MASK].\n",
        "Labels each input with a sequence classifier\n"
        "(ElectraForSequenceClassification).\n",
        "Prints the last hidden states of any ELECTRA model, pooled or\n"
        "per token.\n",
    };
    fprintf(out, "usage: t5e %s -m DIR [options] [TEXT]\n\n%s\n", o->name,
            what[o->kind]);
    fprintf(out,
        "Without TEXT, reads one input per line of stdin.  A tab in an\n"
        "input separates a sentence pair ([CLS] a [SEP] b [SEP]).\n\n"
        "options:\n"
        "  -m, --model DIR    model folder: config.json, model.safetensors,\n"
        "                     vocab.txt (detect, embed, classify: the\n"
        "                     shipped tiny models by default; see README)\n"
        "  --ids              inputs are space-separated token ids, not\n"
        "                     text; token types are 0 up to and including\n"
        "                     the first [SEP], 1 after it\n"
        "  --json             one JSON object per input, one per line\n"
        "  --batch-size N     inputs per forward pass (default 32)\n"
        "  --threads N        threads for BLAS and OpenMP (default: all)\n"
        "  --dtype T          dense weights: auto (as stored), f32, f16,\n"
        "                     bf16 or int8 (converted at load; default\n"
        "                     auto)\n");
    if (o->kind == CMD_FILL_MASK)
        fprintf(out, "  --top-k N          candidates per [MASK] "
                "(default 5)\n");
    if (o->kind == CMD_EMBED)
        fprintf(out, "  --pool P           mean: mean over the tokens "
                "(default);\n                     cls: the [CLS] state; "
                "none: every token\n");
    fprintf(out, "  -h, --help         this text\n\noutput:\n");
    static const char *outputs[] = {
        "  TOKEN<tab>PROB per token, a blank line after each input;\n"
        "  --json: {\"tokens\", \"ids\", \"logits\", \"probs\"} (special "
        "tokens included)\n",
        "  one line per [MASK]: its position, then TOKEN (PROB) per "
        "candidate;\n  --json: {\"masks\": [{\"position\", \"candidates\": "
        "[{\"id\", \"token\", \"prob\"}]}]}\n",
        "  LABEL<tab>PROB (softmax; with one label, the raw score);\n"
        "  --json: {\"label\", \"logits\", \"probs\"}\n",
        "  pooled: the vector's values on one line; none: TOKEN<tab>values "
        "per\n  token and a blank line; --json: {\"embedding\": [...]} or "
        "\n  {\"tokens\": [...], \"hidden_states\": [[...], ...]}\n",
    };
    fputs(outputs[o->kind], out);
}

/* The value of option argv[*i] into *dst; 0 with a usage error printed. */
static int int_arg(const cli_opts *o, int argc, char **argv, int *i,
                   long lo, long hi, int *dst) {
    long v;
    const char *opt = argv[*i];
    if (*i + 1 >= argc || !cli_parse_int(argv[*i + 1], lo, hi, &v)) {
        cli_usage_error(o->name, "%s needs an integer in [%ld, %ld]", opt,
                        lo, hi);
        return 0;
    }
    *dst = (int)v;
    (*i)++;
    return 1;
}

static int parse_pool(const cli_opts *o, const char *s, pool_kind *p) {
    if (s && !strcmp(s, "mean"))
        *p = POOL_MEAN;
    else if (s && !strcmp(s, "cls"))
        *p = POOL_CLS;
    else if (s && !strcmp(s, "none"))
        *p = POOL_NONE;
    else
        return cli_usage_error(o->name, "--pool must be cls, mean or none"),
               0;
    return 1;
}

/* Returns -1 to go on, else the exit status (0 for --help). */
static int parse_opts(cli_opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int ok = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(o, stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (i + 1 >= argc)
                return cli_usage_error(o->name, "%s needs a folder", a);
            o->model = argv[++i];
        } else if (!strcmp(a, "--ids")) {
            o->ids = 1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--batch-size")) {
            ok = int_arg(o, argc, argv, &i, 1, 65536, &o->batch_size);
        } else if (!strcmp(a, "--threads")) {
            ok = int_arg(o, argc, argv, &i, 1, 1024, &o->threads);
        } else if (!strcmp(a, "--dtype")) {
            if (i + 1 >= argc || !cli_parse_dtype(argv[i + 1], &o->dtype))
                return cli_usage_error(o->name, "--dtype needs auto, f32, "
                                       "f16, bf16 or int8");
            i++;
        } else if (!strcmp(a, "--top-k") && o->kind == CMD_FILL_MASK) {
            ok = int_arg(o, argc, argv, &i, 1, 1 << 24, &o->top_k);
        } else if (!strcmp(a, "--pool") && o->kind == CMD_EMBED) {
            ok = parse_pool(o, i + 1 < argc ? argv[++i] : NULL, &o->pool);
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(o->name, "unknown option '%s'", a);
        } else if (o->text) {
            return cli_usage_error(o->name, "more than one TEXT; quote it, "
                                   "or give one input per stdin line");
        } else {
            o->text = a;
        }
        if (!ok)
            return 2;
    }
    /* the models t5e trained and ships: the pretrained tiny discriminator
     * and that discriminator fine-tuned on SST-2 (no generator) */
    static const char *const shipped[] = {
        [CMD_DETECT] = "electra-tiny-discriminator",
        [CMD_FILL_MASK] = NULL,
        [CMD_CLASSIFY] = "electra-tiny-sst2",
        [CMD_EMBED] = "electra-tiny-discriminator"};
    static char dir[4096];
    const char *def = shipped[o->kind];
    if (!o->model && def)
        o->model = cli_default_model(def, dir, sizeof dir);
    if (!o->model && !def)
        return cli_usage_error(o->name, "-m DIR is required");
    if (!o->model)
        return cli_usage_error(o->name, "-m DIR is required (the shipped "
                               "models/%s was not found)", def);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Inputs                                                              */
/* ------------------------------------------------------------------ */

static void item_free(item *it) {
    free(it->ids);
    free(it->types);
    memset(it, 0, sizeof *it);
}

/* --ids: "101 7592 102"; types follow the first [SEP]. */
static int item_from_ids(const run_ctx *c, const char *line, int no,
                         item *it) {
    it->n = cli_parse_ids(line, &it->ids);
    if (it->n < 0) {
        fprintf(stderr, "t5e %s: input %d: not a list of token ids: %s\n",
                c->o->name, no, line);
        return 0;
    }
    it->types = calloc(it->n ? (size_t)it->n : 1, sizeof *it->types);
    if (!it->types) {
        fprintf(stderr, "t5e %s: out of memory\n", c->o->name);
        return 0;
    }
    int after_sep = 0;
    for (int i = 0; i < it->n; i++) {
        it->types[i] = after_sep;
        after_sep |= c->sp.sep >= 0 && it->ids[i] == c->sp.sep;
    }
    return 1;
}

/* Text: a tab splits a pair; the tokenizer adds [CLS] / [SEP]. */
static int item_from_text(const run_ctx *c, const char *line, int no,
                          item *it) {
    t5e_encode_options opt;
    t5e_encoding enc;
    t5e_err err = {0};
    t5e_encode_options_default(&opt);
    const char *tab = strchr(line, '\t');
    long len_a = tab ? (long)(tab - line) : -1;
    t5e_status s = t5e_tokenizer_encode(c->tok, line, len_a,
                                        tab ? tab + 1 : NULL, -1, &opt,
                                        &enc, &err);
    if (s) {
        fprintf(stderr, "t5e %s: input %d: %s\n", c->o->name, no, err.msg);
        return 0;
    }
    it->n = enc.n;
    it->ids = enc.ids;
    it->types = enc.type_ids;
    enc.ids = enc.type_ids = NULL;
    t5e_encoding_free(&enc);
    return 1;
}

static int item_make(const run_ctx *c, const char *line, int no, item *it) {
    int ok = c->o->ids ? item_from_ids(c, line, no, it)
                       : item_from_text(c, line, no, it);
    if (!ok)
        return 0;
    if (it->n == 0) {
        fprintf(stderr, "t5e %s: input %d is empty\n", c->o->name, no);
        return 0;
    }
    if (it->n > c->cfg->max_position_embeddings) {
        fprintf(stderr, "t5e %s: input %d has %d tokens, more than the "
                "model's limit of %d (max_position_embeddings)\n",
                c->o->name, no, it->n, c->cfg->max_position_embeddings);
        return 0;
    }
    for (int i = 0; i < it->n; i++)
        if (it->ids[i] < 0 || it->ids[i] >= c->cfg->vocab_size) {
            fprintf(stderr, "t5e %s: input %d: token id %d is out of "
                    "range [0, %d)\n", c->o->name, no, it->ids[i],
                    c->cfg->vocab_size);
            return 0;
        }
    return 1;
}

/* The piece of an id, or the id itself without a vocabulary. */
static const char *token_text(const run_ctx *c, int id, char *buf,
                              size_t n) {
    const char *p = c->tok ? t5e_tokenizer_id_to_piece(c->tok, id) : NULL;
    if (p)
        return p;
    snprintf(buf, n, "%d", id);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */
/* ------------------------------------------------------------------ */

static void json_floats(FILE *out, const float *x, int n) {
    fputc('[', out);
    for (int i = 0; i < n; i++) {
        if (i)
            fputs(", ", out);
        cli_json_float(out, x[i]);
    }
    fputc(']', out);
}

static void json_tokens(const run_ctx *c, const item *it) {
    char buf[16];
    fputs("\"tokens\": [", stdout);
    for (int i = 0; i < it->n; i++) {
        fputs(i ? ", " : "", stdout);
        cli_json_string(stdout, token_text(c, it->ids[i], buf, sizeof buf));
    }
    fputc(']', stdout);
}

static void plain_floats(const float *x, int n) {
    for (int i = 0; i < n; i++)
        printf(i ? " %.6g" : "%.6g", x[i]);
}

static double sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

/* ------------------------------------------------------------------ */
/* Per-command output of one input                                     */
/* ------------------------------------------------------------------ */

/* logits [n]: the replaced-token logit of each token. */
static void print_detect(const run_ctx *c, const item *it,
                         const float *logits) {
    char buf[16];
    if (!c->o->json) {
        for (int i = 0; i < it->n; i++)
            printf("%s\t%.4f\n", token_text(c, it->ids[i], buf, sizeof buf),
                   sigmoid(logits[i]));
        putchar('\n');
        return;
    }
    putchar('{');
    json_tokens(c, it);
    fputs(", \"ids\": [", stdout);
    for (int i = 0; i < it->n; i++)
        printf(i ? ", %d" : "%d", it->ids[i]);
    fputs("], \"logits\": ", stdout);
    json_floats(stdout, logits, it->n);
    fputs(", \"probs\": [", stdout);
    for (int i = 0; i < it->n; i++) {
        fputs(i ? ", " : "", stdout);
        cli_json_float(stdout, sigmoid(logits[i]));
    }
    fputs("]}\n", stdout);
}

/* Softmax of row z [V] into p, in double for small probabilities. */
static void softmax_row(const float *z, int V, double *p) {
    double mx = z[0], sum = 0;
    for (int i = 1; i < V; i++)
        mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < V; i++)
        sum += p[i] = exp(z[i] - mx);
    for (int i = 0; i < V; i++)
        p[i] /= sum;
}

/* Indices of the k largest p, best first, ties to the lower id. */
static void top_k(const double *p, int V, int k, int *best) {
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (n == k && p[i] <= p[best[k - 1]])
            continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && p[best[j - 1]] < p[i]) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = i;
    }
}

static void print_mask(const run_ctx *c, int pos, const double *p,
                       const int *best, int k, int first) {
    char buf[16];
    if (c->o->json) {
        printf("%s{\"position\": %d, \"candidates\": [", first ? "" : ", ",
               pos);
        for (int j = 0; j < k; j++) {
            printf("%s{\"id\": %d, \"token\": ", j ? ", " : "", best[j]);
            cli_json_string(stdout, token_text(c, best[j], buf, sizeof buf));
            fputs(", \"prob\": ", stdout);
            cli_json_float(stdout, p[best[j]]);
            putchar('}');
        }
        fputs("]}", stdout);
        return;
    }
    printf("position %d:", pos);
    for (int j = 0; j < k; j++)
        printf(" %s (%.4f)", token_text(c, best[j], buf, sizeof buf),
               p[best[j]]);
    putchar('\n');
}

/* logits [n, V]; p [V] and best [k] are work buffers. */
static void print_fill_mask(const run_ctx *c, const item *it,
                            const float *logits, double *p, int *best) {
    int V = c->cfg->vocab_size, k = c->o->top_k < V ? c->o->top_k : V;
    int first = 1;
    if (c->o->json)
        fputs("{\"masks\": [", stdout);
    for (int i = 0; i < it->n; i++) {
        if (it->ids[i] != c->sp.mask)
            continue;
        softmax_row(logits + (size_t)i * V, V, p);
        top_k(p, V, k, best);
        print_mask(c, i, p, best, k, first);
        first = 0;
    }
    if (c->o->json)
        fputs("]}\n", stdout);
}

/* logits [L]; probs [L] is a work buffer. */
static void print_classify(const run_ctx *c, const float *logits,
                           double *probs) {
    int L = c->cfg->num_labels, arg = 0;
    double mx, sum = 0;
    for (int i = 1; i < L; i++)
        if (logits[i] > logits[arg])
            arg = i;
    mx = logits[arg];
    for (int i = 0; i < L; i++)
        sum += probs[i] = exp(logits[i] - mx);
    for (int i = 0; i < L; i++)
        probs[i] /= sum;
    const char *label = t5e_electra_label_name(c->m, arg);
    /* One label is regression in the reference: the score is the output. */
    double shown = L == 1 ? logits[0] : probs[arg];
    if (!c->o->json) {
        printf("%s\t%.4f\n", label, shown);
        return;
    }
    fputs("{\"label\": ", stdout);
    cli_json_string(stdout, label);
    fputs(", \"logits\": ", stdout);
    json_floats(stdout, logits, L);
    fputs(L == 1 ? ", \"score\": " : ", \"probs\": [", stdout);
    for (int i = 0; i < L; i++) {
        fputs(i ? ", " : "", stdout);
        cli_json_float(stdout, L == 1 ? logits[0] : probs[i]);
    }
    fputs(L == 1 ? "}\n" : "]}\n", stdout);
}

/* hidden [n, H] of one input; vec [H] is a work buffer. */
static void print_embed(const run_ctx *c, const item *it,
                        const float *hidden, float *vec) {
    int H = c->cfg->hidden_size;
    char buf[16];
    if (c->o->pool == POOL_NONE) {
        if (c->o->json) {
            putchar('{');
            json_tokens(c, it);
            fputs(", \"hidden_states\": [", stdout);
        }
        for (int i = 0; i < it->n; i++) {
            const float *h = hidden + (size_t)i * H;
            if (c->o->json) {
                fputs(i ? ", " : "", stdout);
                json_floats(stdout, h, H);
                continue;
            }
            printf("%s\t", token_text(c, it->ids[i], buf, sizeof buf));
            plain_floats(h, H);
            putchar('\n');
        }
        fputs(c->o->json ? "]}\n" : "\n", stdout);
        return;
    }
    /* Mean over the input's own tokens: padding is not part of it. */
    int rows = c->o->pool == POOL_CLS ? 1 : it->n;
    for (int d = 0; d < H; d++) {
        double s = 0;
        for (int i = 0; i < rows; i++)
            s += hidden[(size_t)i * H + d];
        vec[d] = (float)(s / rows);
    }
    if (c->o->json) {
        fputs("{\"embedding\": ", stdout);
        json_floats(stdout, vec, H);
        fputs("}\n", stdout);
    } else {
        plain_floats(vec, H);
        putchar('\n');
    }
}

/* ------------------------------------------------------------------ */
/* Batches                                                             */
/* ------------------------------------------------------------------ */

/* Output floats per token (or per input for classify). */
static size_t out_width(const run_ctx *c) {
    switch (c->o->kind) {
    case CMD_DETECT: return 1;
    case CMD_FILL_MASK: return (size_t)c->cfg->vocab_size;
    case CMD_CLASSIFY: return (size_t)c->cfg->num_labels;
    case CMD_EMBED: break;
    }
    return (size_t)c->cfg->hidden_size;
}

static t5e_status forward(const run_ctx *c, int B, int S, const int32_t *ids,
                          const int32_t *types, const int32_t *mask,
                          float *out, t5e_err *err) {
    switch (c->o->kind) {
    case CMD_DETECT:
        return t5e_electra_detect(c->m, B, S, ids, types, mask, out, err);
    case CMD_FILL_MASK:
        return t5e_electra_mlm(c->m, B, S, ids, types, mask, out, err);
    case CMD_CLASSIFY:
        return t5e_electra_classify(c->m, B, S, ids, types, mask, out, err);
    case CMD_EMBED: break;
    }
    return t5e_electra_hidden(c->m, B, S, ids, types, mask, out, err);
}

static void print_item(const run_ctx *c, const item *it, const float *out,
                       double *p, int *best, float *vec) {
    switch (c->o->kind) {
    case CMD_DETECT: print_detect(c, it, out); break;
    case CMD_FILL_MASK: print_fill_mask(c, it, out, p, best); break;
    case CMD_CLASSIFY: print_classify(c, out, p); break;
    case CMD_EMBED: print_embed(c, it, out, vec); break;
    }
}

/* Pads the B items to the longest, runs them and prints each; 0 on
 * failure (message printed). */
static int run_batch(const run_ctx *c, const item *its, int B) {
    int S = 0;
    for (int b = 0; b < B; b++)
        S = its[b].n > S ? its[b].n : S;
    size_t BS = (size_t)B * S, w = out_width(c);
    size_t nout = c->o->kind == CMD_CLASSIFY ? B * w : BS * w;
    int32_t *ids = malloc(BS * sizeof *ids);
    int32_t *types = calloc(BS, sizeof *types);
    int32_t *mask = calloc(BS, sizeof *mask);
    float *out = malloc(nout * sizeof *out);
    /* p: softmax of a vocabulary row (fill-mask) or of the labels. */
    int np = c->cfg->vocab_size > c->cfg->num_labels ? c->cfg->vocab_size
                                                      : c->cfg->num_labels;
    double *p = malloc((size_t)np * sizeof *p);
    int *best = malloc((size_t)c->cfg->vocab_size * sizeof *best);
    float *vec = malloc((size_t)c->cfg->hidden_size * sizeof *vec);
    t5e_err err = {0};
    int ok = ids && types && mask && out && p && best && vec;
    if (!ok)
        snprintf(err.msg, sizeof err.msg, "out of memory");
    for (size_t i = 0; ok && i < BS; i++)
        ids[i] = c->cfg->pad_token_id;
    for (int b = 0; ok && b < B; b++)
        for (int i = 0; i < its[b].n; i++) {
            size_t o = (size_t)b * S + i;
            ids[o] = its[b].ids[i];
            types[o] = its[b].types[i];
            mask[o] = 1;
        }
    if (ok)
        ok = forward(c, B, S, ids, types, mask, out, &err) == T5E_OK;
    for (int b = 0; ok && b < B; b++) {
        size_t o = c->o->kind == CMD_CLASSIFY ? b * w : (size_t)b * S * w;
        print_item(c, &its[b], out + o, p, best, vec);
    }
    if (!ok)
        cli_fail(c->o->name, &err);
    free(ids);
    free(types);
    free(mask);
    free(out);
    free(p);
    free(best);
    free(vec);
    return ok;
}

/* fill-mask: every input must hold a [MASK]; checked before any run. */
static int check_masks(const run_ctx *c, const item *it, int no) {
    if (c->o->kind != CMD_FILL_MASK)
        return 1;
    for (int i = 0; i < it->n; i++)
        if (it->ids[i] == c->sp.mask)
            return 1;
    fprintf(stderr, "t5e %s: input %d has no [MASK] token (id %d) to "
            "fill\n", c->o->name, no, c->sp.mask);
    return 0;
}

/* Tokenizes and runs the lines in batches; returns the exit status. */
static int run_lines(const run_ctx *c, char **lines, int n) {
    int bs = c->o->batch_size, status = 0;
    item *its = calloc((size_t)bs, sizeof *its);
    if (!its) {
        fprintf(stderr, "t5e %s: out of memory\n", c->o->name);
        return 1;
    }
    for (int start = 0; start < n && !status; start += bs) {
        int B = n - start < bs ? n - start : bs, made = 0;
        for (; made < B && !status; made++) {
            int no = start + made + 1;
            if (!item_make(c, lines[start + made], no, &its[made]) ||
                !check_masks(c, &its[made], no))
                status = 1;
        }
        if (!status && !run_batch(c, its, B))
            status = 1;
        for (int i = 0; i < made; i++)
            item_free(&its[i]);
        fflush(stdout);
    }
    free(its);
    return status;
}

static t5e_electra_head head_needed(cmd_kind k) {
    return k == CMD_DETECT      ? T5E_ELECTRA_DISCRIMINATOR
           : k == CMD_FILL_MASK ? T5E_ELECTRA_GENERATOR
                                : T5E_ELECTRA_CLASSIFIER;
}

static const char *head_name(t5e_electra_head h) {
    static const char *names[] = {
        "an encoder without a head (ElectraModel)",
        "a discriminator (ElectraForPreTraining)",
        "a generator (ElectraForMaskedLM)",
        "a classifier (ElectraForSequenceClassification)",
    };
    return (unsigned)h < 4 ? names[h] : "unknown";
}

/* Model, head check and vocabulary; returns -1 on success. */
static int open_model(run_ctx *c) {
    const cli_opts *o = c->o;
    t5e_load_options lo;
    t5e_err err = {0};
    t5e_load_options_default(&lo);
    lo.n_threads = o->threads;
    lo.dtype = o->dtype;
    if (t5e_electra_load(o->model, &lo, &c->m, &err))
        return cli_fail(o->name, &err);
    c->cfg = t5e_electra_get_config(c->m);
    if (o->kind != CMD_EMBED && c->cfg->head != head_needed(o->kind)) {
        fprintf(stderr, "t5e %s: %s is %s; %s needs %s\n", o->name, o->model,
                head_name(c->cfg->head), o->name,
                head_name(head_needed(o->kind)));
        return 1;
    }
    memset(&c->sp, -1, sizeof c->sp);
    if (t5e_tokenizer_load(o->model, &c->tok, &err)) {
        /* Ids need no vocabulary, except to find [SEP] and [MASK]. */
        if (!o->ids || o->kind == CMD_FILL_MASK)
            return cli_fail(o->name, &err);
        c->tok = NULL;
        return -1;
    }
    c->sp = t5e_tokenizer_special_ids(c->tok);
    if (o->kind == CMD_FILL_MASK && c->sp.mask < 0) {
        fprintf(stderr, "t5e %s: the vocabulary of %s has no [MASK]\n",
                o->name, o->model);
        return 1;
    }
    return -1;
}

static int run_command(cmd_kind kind, const char *name, int argc,
                       char **argv) {
    cli_opts o = {.kind = kind, .name = name, .batch_size = 32, .top_k = 5,
                  .pool = POOL_MEAN, .dtype = T5E_DTYPE_AUTO};
    int status = parse_opts(&o, argc, argv);
    if (status >= 0)
        return status;
    run_ctx c = {.o = &o};
    status = open_model(&c);
    if (status < 0) {
        char *one[1] = {(char *)o.text};
        int n = 1;
        char **lines = o.text ? one : cli_read_lines(stdin, &n);
        if (!lines) {
            fprintf(stderr, "t5e %s: cannot read stdin\n", name);
            status = 1;
        } else {
            status = run_lines(&c, lines, n);
        }
        if (lines != one)
            cli_free_lines(lines, n);
    }
    t5e_tokenizer_free(c.tok);
    t5e_electra_free(c.m);
    return status;
}

int cmd_detect(int argc, char **argv) {
    return run_command(CMD_DETECT, "detect", argc, argv);
}

int cmd_fill_mask(int argc, char **argv) {
    return run_command(CMD_FILL_MASK, "fill-mask", argc, argv);
}

int cmd_classify(int argc, char **argv) {
    return run_command(CMD_CLASSIFY, "classify", argc, argv);
}

int cmd_embed(int argc, char **argv) {
    return run_command(CMD_EMBED, "embed", argc, argv);
}
