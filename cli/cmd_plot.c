/*
 * cmd_plot.c - `t5e plot`: line charts of training logs (the JSON-lines
 * metrics files a run appends to), as SVG, or PNG through rsvg-convert.
 *
 * Each file is read whole and parsed line by line with cJSON; every
 * (file, key) pair becomes one series of (x, value) points, drawn by
 * train/plot.c.
 */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "core/core.h"
#include "train/plot.h"

#define CMD "plot"
#define PATH_MAX_LEN 4096

extern char **environ;

/* Keys a training log carries that are not worth a line by default. */
static const char *const default_skip[] = {
    "step", "time", "lr", "tokens_per_s", "grad_norm"};

typedef struct {
    const char **files;
    int n_files;
    const char *out;     /* NULL: beside the first input */
    const char *keys;    /* comma-separated, NULL: default keys */
    const char *x_key;
    const char *title;   /* NULL: from the file names */
    int log_y;
} plot_opts;

/* One parsed log: its non-blank lines as JSON objects. */
typedef struct {
    const char *path;
    cJSON **rows;
    int n_rows;
} metrics_log;

typedef struct {
    char **names;
    int n;
} key_list;

static void usage(FILE *out) {
    fprintf(out,
        "usage: t5e plot METRICS.jsonl [MORE.jsonl ...] [options]\n\n"
        "Draws a line chart of training logs: JSON objects, one per line,\n"
        "such as {\"step\": 10, \"time\": 3.2, \"gen_loss\": 4.1, ...}.\n"
        "Each key of each file is one line of the chart; with several\n"
        "files the lines are labelled by file name, so two runs can be\n"
        "compared (e.g. --keys accuracy on both).\n\n"
        "options:\n"
        "  -o, --output OUT   where to write the chart (default: the first\n"
        "                     input with its extension replaced by .svg);\n"
        "                     a name ending in .png is converted with\n"
        "                     rsvg-convert (Debian package librsvg2-bin)\n"
        "  --keys K1,K2,...   the keys to draw (default: every key with a\n"
        "                     numeric value beside a numeric x, except\n"
        "                     step, time, lr, tokens_per_s, grad_norm\n"
        "                     and the x key)\n"
        "  --x KEY            the key of the x axis (default: step)\n"
        "  --title TEXT       the chart title (default: the file names)\n"
        "  --log-y            logarithmic y axis (values <= 0 are left out)\n"
        "  -h, --help         this text\n\n"
        "Lines without a numeric x value are skipped.  A line without a\n"
        "key adds no point to that key's line; a null value breaks it.\n"
        "Blank lines are skipped, and so is a last line that has no\n"
        "newline and does not parse (a run still writing it); any other\n"
        "line that is not a JSON object is an error.  The file is written\n"
        "atomically; its path is printed on stdout.\n\n"
        "exit status: 0 ok, 1 bad input or a failed write, 2 usage error\n");
}

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, plot_opts *o) {
    memset(o, 0, sizeof *o);
    o->x_key = "step";
    o->files = calloc((size_t)argc, sizeof *o->files);
    if (!o->files)
        return cli_usage_error(CMD, "out of memory");
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **value = NULL;
        if (only_files || a[0] != '-' || !a[1]) {
            o->files[o->n_files++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_files = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--log-y")) {
            o->log_y = 1;
            continue;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            value = &o->out;
        } else if (!strcmp(a, "--keys")) {
            value = &o->keys;
        } else if (!strcmp(a, "--x")) {
            value = &o->x_key;
        } else if (!strcmp(a, "--title")) {
            value = &o->title;
        } else {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        }
        if (i + 1 >= argc || !argv[i + 1][0])
            return cli_usage_error(CMD, "%s needs a value", a);
        *value = argv[++i];
    }
    if (o->n_files == 0)
        return cli_usage_error(CMD, "no metrics file given");
    return -1;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static void log_free(metrics_log *lg) {
    for (int i = 0; i < lg->n_rows; i++)
        cJSON_Delete(lg->rows[i]);
    free(lg->rows);
    memset(lg, 0, sizeof *lg);
}

static int is_blank(const char *s) {
    return s[strspn(s, " \t\r")] == '\0';
}

/* Parses the lines of `text` (modified) into lg->rows; returns 0 or 1
 * after printing an error that names path:line. */
static int log_parse(char *text, size_t len, metrics_log *lg) {
    size_t cap = 64;
    lg->rows = malloc(cap * sizeof *lg->rows);
    if (!lg->rows)
        return fprintf(stderr, "t5e plot: out of memory\n"), 1;
    char *line = text;
    for (long no = 1; line < text + len; no++) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (nl)
            *nl = '\0';
        if (!is_blank(line)) {
            const char *end;
            cJSON *row = cJSON_ParseWithOpts(line, &end, 1);
            if (!row && !nl) {
                fprintf(stderr, "t5e plot: %s:%ld: ignoring an incomplete "
                        "last line\n", lg->path, no);
                break;
            }
            if (!cJSON_IsObject(row)) {
                cJSON_Delete(row);
                fprintf(stderr, "t5e plot: %s:%ld: not a JSON object\n",
                        lg->path, no);
                return 1;
            }
            if ((size_t)lg->n_rows == cap) {
                cJSON **g = realloc(lg->rows, 2 * cap * sizeof *g);
                if (!g) {
                    cJSON_Delete(row);
                    return fprintf(stderr, "t5e plot: out of memory\n"), 1;
                }
                lg->rows = g;
                cap *= 2;
            }
            lg->rows[lg->n_rows++] = row;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

static int log_load(const char *path, metrics_log *lg) {
    t5e_err err;
    char *text;
    size_t len;
    memset(lg, 0, sizeof *lg);
    lg->path = path;
    if (file_read_all(path, &text, &len, &err) != T5E_OK)
        return cli_fail(CMD, &err);
    int rc = log_parse(text, len, lg);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Keys and series                                                     */
/* ------------------------------------------------------------------ */

static void keys_free(key_list *k) {
    for (int i = 0; i < k->n; i++)
        free(k->names[i]);
    free(k->names);
    memset(k, 0, sizeof *k);
}

static int keys_find(const key_list *k, const char *name) {
    for (int i = 0; i < k->n; i++)
        if (!strcmp(k->names[i], name))
            return i;
    return -1;
}

/* Appends name unless present; 0 when out of memory. */
static int keys_add(key_list *k, const char *name, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, name, len);
    copy[len] = '\0';
    if (keys_find(k, copy) >= 0) {
        free(copy);
        return 1;
    }
    char **g = realloc(k->names, ((size_t)k->n + 1) * sizeof *g);
    if (!g) {
        free(copy);
        return 0;
    }
    k->names = g;
    k->names[k->n++] = copy;
    return 1;
}

static int is_default_skip(const char *name, const char *x_key) {
    if (!strcmp(name, x_key))
        return 1;
    for (size_t i = 0; i < sizeof default_skip / sizeof *default_skip; i++)
        if (!strcmp(name, default_skip[i]))
            return 1;
    return 0;
}

/* Every key with a numeric value somewhere, in order of first sight. */
static int keys_default(const metrics_log *logs, int n_logs,
                        const char *x_key, key_list *k) {
    for (int f = 0; f < n_logs; f++)
        for (int r = 0; r < logs[f].n_rows; r++) {
            const cJSON *item;
            cJSON_ArrayForEach(item, logs[f].rows[r]) {
                if (!cJSON_IsNumber(item) || !item->string ||
                    is_default_skip(item->string, x_key))
                    continue;
                if (!keys_add(k, item->string, strlen(item->string)))
                    return 0;
            }
        }
    return 1;
}

/* Splits "a,b,c" into k; 0 (after a usage error) on an empty name. */
static int keys_parse(const char *arg, key_list *k) {
    for (const char *p = arg;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 0) {
            cli_usage_error(CMD, "--keys has an empty name in '%s'", arg);
            return 0;
        }
        if (!keys_add(k, p, n)) {
            cli_usage_error(CMD, "out of memory");
            return 0;
        }
        p += n;
        if (!*p)
            return 1;
    }
}

/* A series' points: rows with a numeric x and the key present; a
 * null or non-finite value becomes NAN (a gap). */
typedef struct {
    plot_series s;
    double *x, *y;
    char *label;
    long n_numeric;  /* points with a number */
} series_buf;

static int series_fill(const metrics_log *lg, const char *key,
                       const char *x_key, series_buf *sb) {
    memset(sb, 0, sizeof *sb);
    sb->x = malloc(((size_t)lg->n_rows + 1) * sizeof *sb->x);
    sb->y = malloc(((size_t)lg->n_rows + 1) * sizeof *sb->y);
    if (!sb->x || !sb->y)
        return 0;
    int n = 0;
    for (int r = 0; r < lg->n_rows; r++) {
        const cJSON *xv = cJSON_GetObjectItemCaseSensitive(lg->rows[r],
                                                           x_key);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(lg->rows[r], key);
        if (!cJSON_IsNumber(xv) || !(cJSON_IsNumber(v) || cJSON_IsNull(v)))
            continue;
        sb->x[n] = xv->valuedouble;
        sb->y[n] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        sb->n_numeric += cJSON_IsNumber(v);
        n++;
    }
    sb->s.x = sb->x;
    sb->s.y = sb->y;
    sb->s.n = n;
    return 1;
}

static void series_clear(series_buf *sb) {
    free(sb->x);
    free(sb->y);
    free(sb->label);
    memset(sb, 0, sizeof *sb);
}

static void series_free(series_buf *sb, int n) {
    for (int i = 0; i < n; i++)
        series_clear(&sb[i]);
    free(sb);
}

/* The legend text: the key for one file, the file for one key, else
 * both. */
static char *series_label(const char *file, const char *key, int n_files,
                          int n_keys) {
    size_t n = strlen(file) + strlen(key) + 3;
    char *s = malloc(n);
    if (!s)
        return NULL;
    if (n_files == 1)
        snprintf(s, n, "%s", key);
    else if (n_keys == 1)
        snprintf(s, n, "%s", file);
    else
        snprintf(s, n, "%s: %s", file, key);
    return s;
}

/* Prints "t5e plot: FILES: <what>" naming every input; returns 1. */
static int fail_files(const plot_opts *o, const char *what) {
    fprintf(stderr, "t5e plot: ");
    for (int f = 0; f < o->n_files; f++)
        fprintf(stderr, "%s%s", f ? ", " : "", o->files[f]);
    fprintf(stderr, ": %s\n", what);
    return 1;
}

/* 1 when some row of lg has a numeric x; else prints why not, 0. */
static int log_has_x(const metrics_log *lg, const char *x_key) {
    for (int r = 0; r < lg->n_rows; r++)
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lg->rows[r],
                                                            x_key)))
            return 1;
    fprintf(stderr, "t5e plot: %s: no line has a numeric \"%s\" (the x "
            "axis key; see --x)\n", lg->path, x_key);
    return 0;
}

/*
 * One series per (key, file) with at least one number beside a numeric
 * x, key by key.  A key named with --keys that has none in any file is
 * an error (most likely misspelt); a default key is just left out.
 * Returns 0, or 1 after printing an error.
 */
static int series_build(const plot_opts *o, const metrics_log *logs,
                        const key_list *keys, series_buf **out,
                        int *n_out) {
    series_buf *all = calloc((size_t)o->n_files * (size_t)keys->n + 1,
                             sizeof *all);
    if (!all)
        return fail_files(o, "out of memory");
    int n = 0, rc = 0;
    for (int k = 0; !rc && k < keys->n; k++) {
        int found = 0;
        for (int f = 0; !rc && f < o->n_files; f++) {
            series_buf *sb = &all[n];
            if (!series_fill(&logs[f], keys->names[k], o->x_key, sb) ||
                !(sb->label = series_label(o->files[f], keys->names[k],
                                           o->n_files, keys->n))) {
                series_clear(sb);
                rc = fail_files(o, "out of memory");
            } else if (sb->n_numeric == 0) {
                series_clear(sb);
            } else {
                sb->s.label = sb->label;
                n++;
                found = 1;
            }
        }
        if (!rc && !found && o->keys) {
            char what[300];
            snprintf(what, sizeof what, "no line has a numeric \"%.200s\" "
                     "beside a numeric \"%.40s\"", keys->names[k],
                     o->x_key);
            rc = fail_files(o, what);
        }
    }
    if (!rc && n == 0)
        rc = fail_files(o, "no numeric key to plot beside the x key");
    if (rc) {
        series_free(all, n);
        return rc;
    }
    *out = all;
    *n_out = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* The input path with its extension (if any) replaced by ".svg". */
static int default_output(const char *in, char *buf, size_t n) {
    const char *slash = strrchr(in, '/');
    const char *base = slash ? slash + 1 : in;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - in) : strlen(in);
    return snprintf(buf, n, "%.*s.svg", (int)stem, in) < (int)n;
}

static int ends_with_png(const char *s) {
    size_t n = strlen(s);
    return n >= 4 && !strcasecmp(s + n - 4, ".png");
}

static int write_svg(const char *path, const char *svg, size_t len) {
    t5e_err err;
    atomic_file *f;
    if (atomic_file_open(path, &f, &err) != T5E_OK)
        return cli_fail(CMD, &err);
    if (atomic_file_write(f, svg, len, &err) != T5E_OK) {
        atomic_file_abort(f);
        return cli_fail(CMD, &err);
    }
    if (atomic_file_commit(f, &err) != T5E_OK)
        return cli_fail(CMD, &err);
    return 0;
}

/* 1 when an executable `prog` is in a folder of $PATH. */
static int on_path(const char *prog) {
    const char *path = getenv("PATH");
    char buf[PATH_MAX_LEN];
    for (const char *p = path; p && *p;) {
        size_t n = strcspn(p, ":");
        if (n > 0 && n + strlen(prog) + 2 < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, prog);
            if (access(buf, X_OK) == 0)
                return 1;
        }
        p += n + (p[n] == ':');
    }
    return 0;
}

/* Runs rsvg-convert -o png svg; returns its exit status, -1 when it
 * could not be started. */
static int run_rsvg(const char *svg, const char *png) {
    char *args[] = {"rsvg-convert", "-o", (char *)png, (char *)svg, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "rsvg-convert", NULL, NULL, args, environ))
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * PNG: the SVG goes to a temporary file, rsvg-convert draws it into a
 * second one, which is renamed over `out`: a reader never sees half a
 * PNG.  rsvg-convert is looked for first, so a missing one costs nothing.
 */
static int write_png(const char *out, const char *svg, size_t len) {
    if (!on_path("rsvg-convert")) {
        fprintf(stderr, "t5e plot: %s: writing PNG needs rsvg-convert, "
                "which is not on PATH (Debian: apt-get install "
                "librsvg2-bin); or write an .svg\n", out);
        return 1;
    }
    char svg_tmp[PATH_MAX_LEN], png_tmp[PATH_MAX_LEN];
    long pid = (long)getpid();
    if (snprintf(svg_tmp, sizeof svg_tmp, "%s.tmp.%ld.svg", out, pid) >=
            (int)sizeof svg_tmp ||
        snprintf(png_tmp, sizeof png_tmp, "%s.tmp.%ld.png", out, pid) >=
            (int)sizeof png_tmp) {
        fprintf(stderr, "t5e plot: %s: path too long\n", out);
        return 1;
    }
    if (write_svg(svg_tmp, svg, len))
        return 1;
    int rc = run_rsvg(svg_tmp, png_tmp);
    unlink(svg_tmp);
    if (rc != 0) {
        unlink(png_tmp);
        fprintf(stderr, "t5e plot: %s: rsvg-convert failed (%s %d)\n", out,
                rc < 0 ? "could not run it, status" : "exit", rc);
        return 1;
    }
    if (rename(png_tmp, out) != 0) {
        fprintf(stderr, "t5e plot: %s: rename failed: %s\n", out,
                strerror(errno));
        unlink(png_tmp);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

/* The default title: the file names, joined by " vs ". */
static char *default_title(const plot_opts *o) {
    size_t n = 1;
    for (int f = 0; f < o->n_files; f++)
        n += strlen(o->files[f]) + 4;
    char *t = malloc(n);
    if (!t)
        return NULL;
    t[0] = '\0';
    for (int f = 0; f < o->n_files; f++) {
        if (f)
            strcat(t, " vs ");
        strcat(t, o->files[f]);
    }
    return t;
}

/* Renders the series and writes the chart; returns the exit status. */
static int plot_write(const plot_opts *o, const key_list *keys,
                      const series_buf *sb, int n_series) {
    char out[PATH_MAX_LEN], *svg = NULL, *title = NULL;
    size_t len;
    if (o->out)
        snprintf(out, sizeof out, "%s", o->out);
    else if (!default_output(o->files[0], out, sizeof out))
        return fprintf(stderr, "t5e plot: %s: path too long\n",
                       o->files[0]), 1;
    plot_series *series = calloc((size_t)n_series + 1, sizeof *series);
    if (!o->title)
        title = default_title(o);
    if (!series || (!o->title && !title)) {
        free(series);
        free(title);
        return fprintf(stderr, "t5e plot: out of memory\n"), 1;
    }
    for (int i = 0; i < n_series; i++)
        series[i] = sb[i].s;
    plot_chart chart = {o->title ? o->title : title, o->x_key,
                        keys->n == 1 ? keys->names[0] : NULL, o->log_y,
                        series, n_series};
    t5e_err err;
    int rc = 0;
    if (plot_render_svg(&chart, &svg, &len, &err) != T5E_OK)
        rc = fail_files(o, err.msg);
    else if (ends_with_png(out))
        rc = write_png(out, svg, len);
    else
        rc = write_svg(out, svg, len);
    if (rc == 0)
        printf("%s\n", out);
    free(svg);
    free(series);
    free(title);
    return rc;
}

static int plot_run(const plot_opts *o, metrics_log *logs, key_list *keys) {
    for (int f = 0; f < o->n_files; f++)
        if (log_load(o->files[f], &logs[f]) || !log_has_x(&logs[f],
                                                          o->x_key))
            return 1;
    if (!o->keys) {
        if (!keys_default(logs, o->n_files, o->x_key, keys))
            return fprintf(stderr, "t5e plot: out of memory\n"), 1;
        if (keys->n == 0)
            return fail_files(o, "no numeric key to plot (step, time, lr, "
                              "tokens_per_s, grad_norm are left out unless "
                              "named with --keys)");
    }
    series_buf *sb;
    int n_series;
    if (series_build(o, logs, keys, &sb, &n_series))
        return 1;
    int rc = plot_write(o, keys, sb, n_series);
    series_free(sb, n_series);
    return rc;
}

int cmd_plot(int argc, char **argv) {
    plot_opts o;
    key_list keys = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc < 0 && o.keys && !keys_parse(o.keys, &keys))
        rc = 2;
    if (rc >= 0) {
        keys_free(&keys);
        free(o.files);
        return rc;
    }
    metrics_log *logs = calloc((size_t)o.n_files, sizeof *logs);
    if (logs) {
        rc = plot_run(&o, logs, &keys);
    } else {
        fprintf(stderr, "t5e plot: out of memory\n");
        rc = 1;
    }
    for (int f = 0; logs && f < o.n_files; f++)
        log_free(&logs[f]);
    free(logs);
    keys_free(&keys);
    free(o.files);
    return rc;
}
