/*
 * cli.h - what the subcommands of the t5e tool share: the command table,
 * line reading, option parsing and JSON output helpers.
 *
 * Contract: results go to stdout, diagnostics to stderr; a command returns
 * the process exit status (0 ok, 1 runtime error, 2 usage error).
 */
#ifndef T5E_CLI_H
#define T5E_CLI_H

#include <stdio.h>

#include "t5e.h"

int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_fill_mask(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_pretrain_t5(int argc, char **argv);
int cmd_finetune_t5(int argc, char **argv);
int cmd_evaluate_t5(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_pretrain_electra(int argc, char **argv);
int cmd_train_classifier(int argc, char **argv);

/*
 * The folder of a model shipped with t5e, looked for in $T5E_MODELS, then
 * in models/ beside the folder of the executable (build/t5e ->
 * models/NAME), then in ./models.  NULL when none exists.
 */
const char *cli_default_model(const char *name, char *buf, size_t n);

/* Prints "t5e <cmd>: <msg>" to stderr; returns 1. */
int cli_fail(const char *cmd, const t5e_err *err);
/* Prints a usage error and "see --help"; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...);

/* Strict number parsing: the whole string must be a number in range. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *s, double lo, double hi, double *out);

/*
 * Reads stdin line by line (without the newline; a trailing \r is kept
 * out too).  Returns a malloc'd array of malloc'd lines; *n gets the count.
 * NULL on allocation failure.
 */
char **cli_read_lines(FILE *in, int *n);
void cli_free_lines(char **lines, int n);

/* Writes s as a JSON string literal (quotes included). */
void cli_json_string(FILE *out, const char *s);
/* Writes a float as JSON (null for NaN / infinities), %.9g precision. */
void cli_json_float(FILE *out, double v);

/* auto, f32, f16, bf16 or int8 (i8) as a load dtype; 0 if unknown. */
int cli_parse_dtype(const char *s, t5e_dtype *out);
/* The --dtype help lines every inference command shares. */
#define CLI_DTYPE_HELP \
"  --dtype T                  weights of linear layers: auto (as stored),\n" \
"                             f32, f16, bf16 or int8 (converted at load;\n" \
"                             default auto)\n"

/* Parses a line of space-separated token ids; returns count or -1. */
int cli_parse_ids(const char *line, int32_t **ids);

#endif
