/*
 * bench_util.h - what the benchmark programs share: timing statistics,
 * peak memory, and random-weight model folders written to /tmp.
 */
#ifndef T5E_BENCH_UTIL_H
#define T5E_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "io/safetensors.h"

typedef struct {
    double median, min, max;
} bench_stats;

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, min and max of n samples (sorted in place). */
static inline bench_stats bench_summarize(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    bench_stats s = {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]),
                     v[0], v[n - 1]};
    return s;
}

/* Peak resident set size of this process, in MiB. */
static inline double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* Uniform values in [-scale, scale) from a fixed-seed generator. */
static inline void bench_fill(float *x, size_t n, float scale,
                              uint64_t *seed) {
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ((float)(*seed >> 40) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

#endif
