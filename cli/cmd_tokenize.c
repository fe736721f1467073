/*
 * cmd_tokenize.c - `t5e tokenize`: the token ids and pieces of text, with
 * whichever tokenizer the folder holds (SentencePiece for T5, WordPiece
 * for ELECTRA / BERT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "tokenize"

typedef struct {
    const char *model;  /* -m DIR */
    const char *text;   /* TEXT, or NULL to read stdin */
    int json, max_length, special;
} tok_opts;

static void usage(FILE *out) {
    fprintf(out,
        "usage: t5e tokenize -m DIR [options] [TEXT]\n\n"
        "Prints the token ids and pieces of TEXT or, without TEXT, of each\n"
        "line of stdin.  For a WordPiece (ELECTRA / BERT) tokenizer a tab\n"
        "in an input separates a sentence pair: [CLS] a [SEP] b [SEP].\n\n"
        "options:\n"
        "  -m, --model DIR    a model folder, a folder holding only the\n"
        "                     tokenizer (spiece.model, tokenizer.json or\n"
        "                     vocab.txt + tokenizer_config.json), or one of\n"
        "                     those files (required)\n"
        "  --json             one JSON object per input, one per line\n"
        "  --no-special       do not add special tokens (default: add\n"
        "                     </s> for T5, [CLS] ... [SEP] for WordPiece)\n"
        "  --max-length N     truncate to N ids, special tokens included\n"
        "                     (default 0: no limit)\n"
        "  -h, --help         this text\n\n"
        "output, per input:\n"
        "  a line of ids and a line of pieces, both space-separated;\n"
        "  --json: {\"ids\": [...], \"pieces\": [...]}, WordPiece adding\n"
        "  \"type_ids\": [...]\n");
}

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, tok_opts *o) {
    memset(o, 0, sizeof *o);
    o->special = 1;
    int only_text = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_text && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            usage(stdout);
            return 0;
        } else if (!only_text && (!strcmp(a, "-m") ||
                                  !strcmp(a, "--model"))) {
            if (i + 1 >= argc)
                return cli_usage_error(CMD, "%s needs a folder", a);
            o->model = argv[++i];
        } else if (!only_text && !strcmp(a, "--json")) {
            o->json = 1;
        } else if (!only_text && !strcmp(a, "--no-special")) {
            o->special = 0;
        } else if (!only_text && !strcmp(a, "--max-length")) {
            long v;
            if (i + 1 >= argc || !cli_parse_int(argv[i + 1], 0, 1L << 30, &v))
                return cli_usage_error(CMD, "--max-length needs an integer "
                                       "in [0, %ld]", 1L << 30);
            o->max_length = (int)v;
            i++;
        } else if (!only_text && !strcmp(a, "--")) {
            only_text = 1;
        } else if (!only_text && a[0] == '-' && a[1]) {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        } else if (o->text) {
            return cli_usage_error(CMD, "more than one TEXT (quote it)");
        } else {
            o->text = a;
        }
    }
    if (!o->model)
        return cli_usage_error(CMD, "-m DIR is required");
    return -1;
}

static void print_ints(const int32_t *v, int n) {
    for (int i = 0; i < n; i++)
        printf(i ? " %d" : "%d", v[i]);
}

static void print_plain(const t5e_encoding *e) {
    print_ints(e->ids, e->n);
    putchar('\n');
    for (int i = 0; i < e->n; i++)
        printf(i ? " %s" : "%s", e->pieces[i] ? e->pieces[i] : "");
    putchar('\n');
}

static void print_json(const t5e_encoding *e, int types) {
    fputs("{\"ids\": [", stdout);
    for (int i = 0; i < e->n; i++)
        printf(i ? ", %d" : "%d", e->ids[i]);
    if (types) {
        fputs("], \"type_ids\": [", stdout);
        for (int i = 0; i < e->n; i++)
            printf(i ? ", %d" : "%d", e->type_ids[i]);
    }
    fputs("], \"pieces\": [", stdout);
    for (int i = 0; i < e->n; i++) {
        if (i)
            fputs(", ", stdout);
        cli_json_string(stdout, e->pieces[i] ? e->pieces[i] : "");
    }
    fputs("]}\n", stdout);
}

/* Encodes and prints one input (a tab splits a WordPiece pair). */
static int tokenize_one(const t5e_tokenizer *tok, const tok_opts *o,
                        const char *line) {
    int wp = t5e_tokenizer_get_kind(tok) == T5E_TOKENIZER_WORDPIECE;
    const char *tab = wp ? strchr(line, '\t') : NULL;
    long la = tab ? (long)(tab - line) : (long)strlen(line);
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    opt.add_special_tokens = o->special;
    opt.max_length = o->max_length;
    t5e_encoding e;
    t5e_err err = {0};
    if (t5e_tokenizer_encode(tok, line, la, tab ? tab + 1 : NULL, -1, &opt,
                             &e, &err))
        return cli_fail(CMD, &err);
    if (o->json)
        print_json(&e, wp);
    else
        print_plain(&e);
    t5e_encoding_free(&e);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    tok_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    t5e_tokenizer *tok = NULL;
    t5e_err err = {0};
    if (t5e_tokenizer_load(o.model, &tok, &err))
        return cli_fail(CMD, &err);
    rc = 0;
    if (o.text) {
        rc = tokenize_one(tok, &o, o.text);
    } else {
        int n;
        char **lines = cli_read_lines(stdin, &n);
        if (!lines) {
            fprintf(stderr, "t5e %s: out of memory reading stdin\n", CMD);
            rc = 1;
        }
        for (int i = 0; lines && i < n && !rc; i++)
            rc = tokenize_one(tok, &o, lines[i]);
        cli_free_lines(lines, lines ? n : 0);
    }
    t5e_tokenizer_free(tok);
    if (fflush(stdout) != 0 && !rc) {
        fprintf(stderr, "t5e %s: cannot write the output\n", CMD);
        rc = 1;
    }
    return rc;
}
