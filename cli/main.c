/* main.c - the t5e command-line tool: dispatches to a subcommand. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"generate", cmd_generate, "generate text with a T5 model"},
    {"tokenize", cmd_tokenize, "print the token ids and pieces of text"},
    {"detect", cmd_detect, "ELECTRA: probability each token was replaced"},
    {"fill-mask", cmd_fill_mask, "ELECTRA generator: fill [MASK] tokens"},
    {"classify", cmd_classify, "ELECTRA classifier: label a text"},
    {"embed", cmd_embed, "ELECTRA: hidden states or a pooled vector"},
    {"pretrain-t5", cmd_pretrain_t5, "pretrain T5 by span corruption"},
    {"finetune-t5", cmd_finetune_t5, "fine-tune T5 on text-to-text pairs"},
    {"evaluate-t5", cmd_evaluate_t5, "T5 BLEU and exact match on pairs"},
    {"convert", cmd_convert, "a model folder in f32, f16, bf16 or int8"},
    {"quantize", cmd_quantize, "a model folder with int8 linear weights"},
    {"pretrain-electra", cmd_pretrain_electra,
     "pretrain ELECTRA by replaced-token detection"},
    {"train-classifier", cmd_train_classifier,
     "fine-tune an ELECTRA sequence classifier"},
    {"plot", cmd_plot, "draw training metrics logs as an SVG chart"},
};

#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out, "usage: t5e COMMAND [options]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n't5e COMMAND --help' documents each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("t5e %s\n", T5E_VERSION);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "t5e: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_default_model(const char *name, char *buf, size_t n) {
    const char *env = getenv("T5E_MODELS");
    if (env && snprintf(buf, n, "%s/%s", env, name) < (int)n && is_dir(buf))
        return buf;
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/'); /* drop the file name */
        if (slash)
            *slash = '\0';
        if (snprintf(buf, n, "%s/../models/%s", exe, name) < (int)n &&
            is_dir(buf))
            return buf;
    }
    if (snprintf(buf, n, "models/%s", name) < (int)n && is_dir(buf))
        return buf;
    return NULL;
}

int cli_fail(const char *cmd, const t5e_err *err) {
    fprintf(stderr, "t5e %s: %s\n", cmd, err->msg);
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "t5e %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 't5e %s --help')\n", cmd);
    return 2;
}

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_dtype(const char *s, t5e_dtype *out) {
    static const struct {
        const char *name;
        t5e_dtype dt;
    } names[] = {{"auto", T5E_DTYPE_AUTO}, {"f32", T5E_DTYPE_F32},
                 {"f16", T5E_DTYPE_F16},   {"bf16", T5E_DTYPE_BF16},
                 {"int8", T5E_DTYPE_I8},   {"i8", T5E_DTYPE_I8}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].dt;
            return 1;
        }
    return 0;
}

int cli_parse_float(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

char **cli_read_lines(FILE *in, int *n) {
    char **lines = NULL, *line = NULL;
    size_t cap = 0, lcap = 0;
    int count = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if ((size_t)count == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(lines, cap * sizeof *lines);
            if (!grown)
                goto fail;
            lines = grown;
        }
        lines[count] = malloc((size_t)len + 1);
        if (!lines[count])
            goto fail;
        memcpy(lines[count++], line, (size_t)len + 1);
    }
    free(line);
    *n = count;
    if (!lines)
        lines = calloc(1, sizeof *lines);
    return lines;
fail:
    free(line);
    cli_free_lines(lines, count);
    return NULL;
}

void cli_free_lines(char **lines, int n) {
    if (!lines)
        return;
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

void cli_json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void cli_json_float(FILE *out, double v) {
    if (isnan(v) || isinf(v))
        fputs("null", out);
    else
        fprintf(out, "%.9g", v);
}

int cli_parse_ids(const char *line, int32_t **ids) {
    int cap = 16, n = 0;
    int32_t *out = malloc(cap * sizeof *out);
    const char *p = line;
    if (!out)
        return -1;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            free(out);
            return -1;
        }
        if (n == cap) {
            int32_t *g = realloc(out, 2 * cap * sizeof *out);
            if (!g) {
                free(out);
                return -1;
            }
            out = g;
            cap *= 2;
        }
        out[n++] = (int32_t)v;
        p = end;
    }
    *ids = out;
    return n;
}
