/*
 * harness.h - the test harness: checks that count, golden-file helpers.
 *
 * Each tests/test_*.c is one program: main() calls RUN(fn) per test and
 * returns harness_finish(), which prints "N passed, M failed" and exits
 * non-zero on any failure.  A failing check prints file:line and the first
 * differing values, so a failure says where to look.
 */
#ifndef T5E_HARNESS_H
#define T5E_HARNESS_H

#include <stdint.h>
#include <stdio.h>

#include "io/safetensors.h"
#include "t5e.h"

extern int harness_failed_checks; /* failed checks in the current test */

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            harness_failed_checks++;                                     \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__,    \
                    #cond);                                              \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
        }                                                                \
    } while (0)

/* Checks a t5e call returned T5E_OK, printing its message if not. */
#define CHECK_OK(call, errp)                                             \
    do {                                                                 \
        t5e_status s_ = (call);                                          \
        CHECK(s_ == T5E_OK, "%s", (errp)->msg);                          \
    } while (0)

#define RUN(fn) harness_run(#fn, fn)

void harness_run(const char *name, void (*fn)(void));
int harness_finish(void);

/* Path of a file under the test data folder (tests/data, or $T5E_TESTDATA).
 * Returns a static buffer: copy it before the next call. */
const char *data_path(const char *rel);

/* Loads a golden safetensors file; aborts the test program on failure. */
void golden_open(const char *rel, st_file *f);
/* A golden tensor converted to float32 / int32 (malloc'd); n gets numel. */
float *golden_f32(const st_file *f, const char *name, int64_t *n);
int32_t *golden_i32(const st_file *f, const char *name, int64_t *n);
const st_tensor *golden_tensor(const st_file *f, const char *name);

/*
 * Compares got against want elementwise with |c-g| <= rtol*(|g| + scale).
 * scale < 0 means "use max |want|" (the fixtures' forward rule).  Prints
 * the max error and the first differing index; returns 1 when equal.
 */
int check_close(const char *what, const float *got, const float *want,
                int64_t n, double rtol, double scale);
/* |c-g| <= rtol*|g| + atol, for gradients. */
int check_close_abs(const char *what, const float *got, const float *want,
                    int64_t n, double rtol, double atol);
int check_ids(const char *what, const int32_t *got, const int32_t *want,
              int64_t n);

#endif
