/*
 * test_spm_corpus.c - our SentencePiece ids against the reference program,
 * `spm_encode --output_format=id` (Debian sentencepiece 0.1.97), line by
 * line: on a real corpus (tests/data/corpus/moby_dick.txt) and on lines of
 * random bytes (invalid UTF-8, NUL, controls, runs of punctuation).
 *
 * Usage: test_spm_corpus [corpus.txt [model ...]]
 * Prints the number of differing lines per (file, model); exits non-zero
 * when any line differs or spm_encode cannot be run.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tokenize/spm.h"

static const char *corpus_arg;
static const char *model_args[8];
static int n_model_args;

/* Our ids of one line, as spm_encode prints them. */
static void format_ids(const spm_work *w, spm_str *out) {
    out->n = 0;
    spm_str_put(out, "", 0);
    char num[16];
    for (size_t i = 0; i < w->n_tok; i++) {
        int k = snprintf(num, sizeof num, i ? " %d" : "%d", w->tok[i].id);
        spm_str_put(out, num, (size_t)k);
    }
}

/* Compares every line of `file`; returns the number of differing lines,
 * or -1 when spm_encode could not be run. */
static long compare_file(const char *model_path, const char *file,
                         long *n_lines) {
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "spm_encode --model='%s' --output_format=id "
             "< '%s'", model_path, file);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char *text;
    size_t len;
    t5e_err err = {0};
    spm_model m;
    char *data = NULL;
    size_t dlen;
    if (file_read_all(file, &text, &len, &err) ||
        file_read_all(model_path, &data, &dlen, &err) ||
        spm_model_from_proto(&m, (const uint8_t *)data, dlen, model_path,
                             &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    free(data);
    spm_work w = {0};
    spm_str ours = {0};
    char *ref = NULL;
    size_t ref_cap = 0;
    long diff = 0, lines = 0;
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        ssize_t got = getline(&ref, &ref_cap, p);
        if (got < 0) {
            diff++;
            fprintf(stderr, "  %s: spm_encode ended early at line %ld\n",
                    file, lines + 1);
            break;
        }
        if (got > 0 && ref[got - 1] == '\n')
            ref[--got] = '\0';
        spm_encode(&m, text + at, n, m.add_dummy_prefix, 0, &w, &err);
        format_ids(&w, &ours);
        if (strcmp(ours.s, ref) != 0 && diff++ < 3)
            fprintf(stderr, "  %s line %ld:\n    ours %s\n    spm  %s\n",
                    file, lines + 1, ours.s, ref);
        lines++;
        at += n + 1;
    }
    int rc = pclose(p);
    free(ref);
    free(ours.s);
    free(text);
    spm_work_free(&w);
    spm_model_free(&m);
    *n_lines = lines;
    return rc == 0 ? diff : -1;
}

/* Lines of random bytes: ASCII, spaces, controls, UTF-8 characters and
 * stray high bytes, from a fixed seed. */
static void write_random_lines(const char *path, int n_lines) {
    static const char *const pieces[] = {
        "a", "e", "the", " ", "  ", "\t", "!", "!!!", ".", "\xe2\x80\x99",
        "\xe2\x80\x94", "\xef\xbd\x86", "\xef\xac\x81", "\xe2\x91\xa0",
        "\xc3\xa9", "e\xcc\x81", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
        "\xc2\xa0", "\xe2\x80\x8b", "\x01", "\x7f", "\x00", "\xff", "\xc3",
        "\xe2\x96\x81", "<extra_id_0>", "</s>", "1", "99", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "\xc0\xaf", "\r"};
    const int n_pieces = (int)(sizeof pieces / sizeof *pieces);
    FILE *f = fopen(path, "wb");
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int l = 0; l < n_lines; l++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)(state >> 33) % 40;
        for (int i = 0; i < k; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const char *s = pieces[(state >> 33) % (uint64_t)n_pieces];
            fwrite(s, 1, s[0] ? strlen(s) : 1, f);
        }
        fputc('\n', f);
    }
    fclose(f);
}

static void check_models_on(const char *file, const char *label) {
    static const char *const defaults[2] = {"tokenizers/t5/spiece.model",
                                            "tokenizers/t5/small_spm.model"};
    int n = n_model_args ? n_model_args : 2;
    for (int i = 0; i < n; i++) {
        char model[4096];
        snprintf(model, sizeof model, "%s",
                 n_model_args ? model_args[i] : data_path(defaults[i]));
        long lines = 0;
        double t0 = time_now();
        long diff = compare_file(model, file, &lines);
        printf("  %s, %s: %ld of %ld lines differ from spm_encode "
               "(%.2f s)\n", label, model, diff, lines, time_now() - t0);
        CHECK(diff == 0, "%s: %ld differing lines (-1: spm_encode failed)",
              label, diff);
    }
}

static void test_corpus(void) {
    char file[4096];
    snprintf(file, sizeof file, "%s",
             corpus_arg ? corpus_arg
                        : data_path("corpus/moby_dick.txt"));
    check_models_on(file, corpus_arg ? corpus_arg : "moby_dick.txt");
}

static void test_random_lines(void) {
    char path[] = "/tmp/t5e_spm_random_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    close(fd);
    write_random_lines(path, 5000);
    check_models_on(path, "5000 random lines");
    remove(path);
}

int main(int argc, char **argv) {
    if (argc > 1)
        corpus_arg = argv[1];
    for (int i = 2; i < argc && n_model_args < 8; i++)
        model_args[n_model_args++] = argv[i];
    RUN(test_corpus);
    if (!corpus_arg)
        RUN(test_random_lines);
    return harness_finish();
}
