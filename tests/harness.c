/* harness.c - see harness.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int harness_failed_checks;
static int tests_passed, tests_failed;

void harness_run(const char *name, void (*fn)(void)) {
    harness_failed_checks = 0;
    fn();
    if (harness_failed_checks) {
        tests_failed++;
        fprintf(stderr, "FAIL %s (%d checks)\n", name,
                harness_failed_checks);
    } else {
        tests_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

int harness_finish(void) {
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed ? 1 : 0;
}

const char *data_path(const char *rel) {
    static char buf[4096];
    const char *root = getenv("T5E_TESTDATA");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "tests/data", rel);
    return buf;
}

void golden_open(const char *rel, st_file *f) {
    t5e_err err = {0};
    if (st_open(data_path(rel), f, &err)) {
        fprintf(stderr, "cannot open golden file: %s\n", err.msg);
        exit(2);
    }
}

const st_tensor *golden_tensor(const st_file *f, const char *name) {
    const st_tensor *t = st_find(f, name);
    if (!t) {
        fprintf(stderr, "%s: golden tensor %s missing\n", f->path, name);
        exit(2);
    }
    return t;
}

float *golden_f32(const st_file *f, const char *name, int64_t *n) {
    const st_tensor *t = golden_tensor(f, name);
    float *out = malloc((size_t)t->numel * sizeof *out + 1);
    t5e_err err = {0};
    if (!out || st_to_f32(t, out, &err)) {
        fprintf(stderr, "golden %s: %s\n", name, err.msg);
        exit(2);
    }
    if (n)
        *n = t->numel;
    return out;
}

int32_t *golden_i32(const st_file *f, const char *name, int64_t *n) {
    const st_tensor *t = golden_tensor(f, name);
    int32_t *out = malloc((size_t)t->numel * sizeof *out + 1);
    t5e_err err = {0};
    if (!out || st_to_i32(t, out, &err)) {
        fprintf(stderr, "golden %s: %s\n", name, err.msg);
        exit(2);
    }
    if (n)
        *n = t->numel;
    return out;
}

static int compare(const char *what, const float *got, const float *want,
                   int64_t n, double rtol, double scale, double atol) {
    double max_err = 0;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double g = want[i], c = got[i], e = fabs(c - g);
        double tol = rtol * (fabs(g) + scale) + atol;
        if (e > max_err || isnan(e))
            max_err = isnan(e) ? INFINITY : e;
        if (!(e <= tol)) {
            if (first < 0)
                first = i;
            bad++;
        }
    }
    if (!bad)
        return 1;
    harness_failed_checks++;
    fprintf(stderr, "  FAIL %s: %lld of %lld differ, max abs error %.3g; "
            "first at [%lld]: got %.9g want %.9g\n", what, (long long)bad,
            (long long)n, max_err, (long long)first, got[first],
            want[first]);
    return 0;
}

int check_close(const char *what, const float *got, const float *want,
                int64_t n, double rtol, double scale) {
    if (scale < 0) {
        scale = 0;
        for (int64_t i = 0; i < n; i++)
            if (fabs(want[i]) > scale)
                scale = fabs(want[i]);
    }
    return compare(what, got, want, n, rtol, scale, 0);
}

int check_close_abs(const char *what, const float *got, const float *want,
                    int64_t n, double rtol, double atol) {
    return compare(what, got, want, n, rtol, 0, atol);
}

int check_ids(const char *what, const int32_t *got, const int32_t *want,
              int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            harness_failed_checks++;
            fprintf(stderr, "  FAIL %s: first difference at [%lld]: got %d "
                    "want %d\n", what, (long long)i, got[i], want[i]);
            return 0;
        }
    return 1;
}
