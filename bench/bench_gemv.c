/*
 * bench_gemv.c - decode-sized linear layers over low-precision weights.
 *
 *   bench_gemv [--threads N] [--runs N] [--sweep]
 *
 * For W [32128, 512] (the t5-small lm_head, 66 MB in f32), [2048, 512]
 * and [512, 512], and M = 1, 4, 8 input rows, times y = x W^T with
 * f32 weights through OpenBLAS (sgemv at M = 1, sgemm above) and through
 * the own kernel, and with bf16, f16 and i8 weights through wmat_linear.
 * Each figure is the median (min, max) of --runs samples after a warm-up,
 * in ms per call and in GB/s of weight bytes streamed per call.  Weights
 * are reused call after call, so matrices that fit in the caches run from
 * them (this machine reports a large L3): read the figures against the
 * memory-bandwidth reference printed first.
 *
 * Then M = 128 on [2048, 512] (encoder-sized), where every dtype goes
 * through sgemm.  --sweep also times M = 1 .. 128 on each path, which is
 * how the crossovers in wmat.c were chosen; it prints the minimum, the
 * figure least disturbed by other work on a shared machine.
 */
#include <cblas.h>
#include <stdio.h>
#include <time.h>

#include "bench_util.h"
#include "ops/wmat.h"

#ifdef __F16C__
#include <immintrin.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Memory-bandwidth reference                                          */
/* ------------------------------------------------------------------ */

#define BW_BYTES ((size_t)256 << 20)

/* Sum of n words (a multiple of 16), split over the threads: a pure read
 * stream.  Sixteen independent lane sums let the compiler use vector adds
 * (one running sum would make it a chain of scalar adds, slower than L2). */
static uint64_t read_sum(const uint64_t *p, size_t n) {
    uint64_t total = 0;
#pragma omp parallel reduction(+ : total)
    {
        uint64_t acc[16] = {0};
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i += 16)
            for (int j = 0; j < 16; j++)
                acc[j] += p[i + j];
        for (int j = 0; j < 16; j++)
            total += acc[j];
    }
    return total;
}

/* a = b + 3 c over n floats: two read streams and one write. */
static void triad(float *a, const float *b, const float *c, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + 3.0f * c[i];
}

static void print_bw(const char *what, double *t, int runs, double bytes) {
    bench_stats s = bench_summarize(t, runs);
    printf("%-26s %7.2f GB/s  (%.2f .. %.2f)\n", what, bytes / s.median / 1e9,
           bytes / s.max / 1e9, bytes / s.min / 1e9);
}

/* Seconds per read_sum over the first `bytes` of u, `runs` samples. */
static void time_read(const uint64_t *u, size_t bytes, int runs) {
    double t[64];
    size_t n = bytes / 8;
    int reps = (int)(((size_t)256 << 20) / bytes); /* ~256 MiB a sample */
    volatile uint64_t sink = read_sum(u, n);
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        for (int i = 0; i < reps; i++)
            sink += read_sum(u, n);
        t[r] = (now_s() - t0) / reps;
    }
    (void)sink;
    char what[64];
    snprintf(what, sizeof what, "read-sum %zu MiB", bytes >> 20);
    print_bw(what, t, runs, (double)bytes);
}

/*
 * Read-sums over 1 MiB (in L2), 16 MiB (L3) and 256 MiB, and a triad over
 * three buffers of 256 MiB, first touched in parallel so pages spread
 * like the kernels' rows.  Where the GEMV figures pass the 256 MiB ones,
 * the weights are coming from a cache.
 */
static void bench_bandwidth(int runs) {
    size_t nw = BW_BYTES / 8, nf = BW_BYTES / 4;
    uint64_t *u = malloc(BW_BYTES);
    float *a = malloc(BW_BYTES), *b = malloc(BW_BYTES), *c = malloc(BW_BYTES);
    if (!u || !a || !b || !c) {
        fprintf(stderr, "bandwidth: out of memory\n");
        exit(1);
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nf; i++) {
        a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
        if (i < nw)
            u[i] = i;
    }
    time_read(u, (size_t)1 << 20, runs);
    time_read(u, (size_t)16 << 20, runs);
    time_read(u, BW_BYTES, runs);
    double t[64];
    triad(a, b, c, nf);
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        triad(a, b, c, nf);
        t[r] = now_s() - t0;
    }
    print_bw("triad 3 x 256 MiB", t, runs, 3.0 * (double)BW_BYTES);
    free(u), free(a), free(b), free(c);
}

/* ------------------------------------------------------------------ */
/* Weights in each dtype                                               */
/* ------------------------------------------------------------------ */

/* float to bf16 / f16 by rounding to nearest even (finite, normal-range
 * inputs: the random weights are in [-0.05, 0.05)). */
static uint16_t to_bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);
}

static uint16_t to_f16(float f) {
#if defined(__F16C__)
    return (uint16_t)_cvtss_sh(f, 0);
#else
    uint32_t b;
    memcpy(&b, &f, 4);
    int e = (int)((b >> 23) & 0xff) - 112;
    uint16_t s = (uint16_t)((b >> 16) & 0x8000);
    return e <= 0 ? s : (uint16_t)(s | e << 10 | ((b >> 13) & 0x3ff));
#endif
}

typedef struct {
    wmat w[4];            /* indexed by wmat_dtype */
    float *f32, *scale;
    uint16_t *bf16, *f16;
    int8_t *i8;
} weights;

static void weights_make(weights *ws, int N, int K, uint64_t *seed) {
    size_t n = (size_t)N * K;
    ws->f32 = malloc(n * 4);
    ws->bf16 = malloc(n * 2);
    ws->f16 = malloc(n * 2);
    ws->i8 = malloc(n);
    ws->scale = malloc((size_t)N * 4);
    if (!ws->f32 || !ws->bf16 || !ws->f16 || !ws->i8 || !ws->scale) {
        fprintf(stderr, "weights: out of memory\n");
        exit(1);
    }
    bench_fill(ws->f32, n, 0.05f, seed);
    for (size_t i = 0; i < n; i++) {
        ws->bf16[i] = to_bf16(ws->f32[i]);
        ws->f16[i] = to_f16(ws->f32[i]);
    }
    wmat_quantize_i8(ws->i8, ws->scale, ws->f32, N, K);
    const void *data[4] = {ws->f32, ws->f16, ws->bf16, ws->i8};
    for (int d = 0; d < 4; d++)
        ws->w[d] = (wmat){(wmat_dtype)d, N, K, data[d],
                          d == WMAT_I8 ? ws->scale : NULL, NULL};
}

static void weights_free(weights *ws) {
    free(ws->f32), free(ws->bf16), free(ws->f16), free(ws->i8);
    free(ws->scale);
}

/* ------------------------------------------------------------------ */
/* Timing one configuration                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *label;
    wmat_dtype dt;
    wmat_path path;
} variant;

/* Median (min, max) seconds per call over `runs` samples; a sample
 * repeats the call until it lasts about 5 ms, so small matrices are not
 * timed at clock resolution. */
static bench_stats time_call(float *y, const float *x, const wmat *w,
                             int M, wmat_path path, int runs) {
    double t0 = now_s();
    wmat_linear_path(y, x, w, NULL, M, 0, path); /* warm-up */
    double once = now_s() - t0;
    int reps = once > 5e-3 ? 1 : (int)(5e-3 / (once + 1e-7)) + 1;
    double t[64];
    for (int r = 0; r < runs; r++) {
        t0 = now_s();
        for (int i = 0; i < reps; i++)
            wmat_linear_path(y, x, w, NULL, M, 0, path);
        t[r] = (now_s() - t0) / reps;
    }
    return bench_summarize(t, runs);
}

static void print_row(const char *label, const wmat *w, int M,
                      bench_stats s) {
    double gb = (double)wmat_bytes(w) / 1e9;
    printf("  %-14s M=%-3d %8.3f ms (%.3f .. %.3f)  %6.2f GB/s\n", label, M,
           s.median * 1e3, s.min * 1e3, s.max * 1e3, gb / s.median);
}

static const variant variants[] = {
    {"f32 openblas", WMAT_F32, WMAT_PATH_BLAS},
    {"f32 own", WMAT_F32, WMAT_PATH_AVX512},
    {"bf16", WMAT_BF16, WMAT_PATH_AUTO},
    {"f16", WMAT_F16, WMAT_PATH_AUTO},
    {"i8", WMAT_I8, WMAT_PATH_AUTO},
};
#define NVARIANTS ((int)(sizeof variants / sizeof variants[0]))

static void bench_shape(int N, int K, int runs, uint64_t *seed) {
    static const int Ms[] = {1, 4, 8};
    weights ws;
    weights_make(&ws, N, K, seed);
    float *x = malloc((size_t)8 * K * 4), *y = malloc((size_t)8 * N * 4);
    bench_fill(x, (size_t)8 * K, 1.0f, seed);
    printf("W [%d, %d]: %.1f MB f32\n", N, K, (double)N * K * 4 / 1e6);
    for (int v = 0; v < NVARIANTS; v++)
        for (int i = 0; i < 3; i++) {
            const wmat *w = &ws.w[variants[v].dt];
            bench_stats s = time_call(y, x, w, Ms[i], variants[v].path, runs);
            print_row(variants[v].label, w, Ms[i], s);
        }
    free(x), free(y);
    weights_free(&ws);
}

/* Encoder-sized M: converting blocks for sgemm should cost little more
 * than sgemm on float32 weights. */
static void bench_large_m(int N, int K, int M, int runs, uint64_t *seed) {
    weights ws;
    weights_make(&ws, N, K, seed);
    float *x = malloc((size_t)M * K * 4), *y = malloc((size_t)M * N * 4);
    bench_fill(x, (size_t)M * K, 1.0f, seed);
    printf("W [%d, %d], M = %d (convert + sgemm)\n", N, K, M);
    for (int d = 0; d < 4; d++) {
        const wmat *w = &ws.w[d];
        bench_stats s = time_call(y, x, w, M, WMAT_PATH_AUTO, runs);
        double gflops = 2.0 * M * N * K / s.median / 1e9;
        printf("  %-14s M=%-3d %8.3f ms (%.3f .. %.3f)  %6.1f GFLOP/s\n",
               wmat_dtype_name((wmat_dtype)d), M, s.median * 1e3,
               s.min * 1e3, s.max * 1e3, gflops);
    }
    free(x), free(y);
    weights_free(&ws);
}

/* Every path at M = 1 .. 128: where the streaming kernel stops winning. */
static void bench_sweep(int N, int K, int runs, uint64_t *seed) {
    static const int Ms[] = {1, 2, 4, 8, 12, 16, 24, 32, 64, 128};
    static const wmat_path paths[] = {WMAT_PATH_SCALAR, WMAT_PATH_AVX2,
                                      WMAT_PATH_AVX512, WMAT_PATH_BLAS};
    static const char *pnames[] = {"scalar", "avx2", "avx512", "blas"};
    weights ws;
    weights_make(&ws, N, K, seed);
    float *x = malloc((size_t)128 * K * 4), *y = malloc((size_t)128 * N * 4);
    bench_fill(x, (size_t)128 * K, 1.0f, seed);
    printf("sweep W [%d, %d], ms per call (min)\n%-6s %-5s", N, K,
           "dtype", "M");
    for (int p = 0; p < 4; p++)
        printf(" %9s", pnames[p]);
    printf("\n");
    for (int d = 0; d < 4; d++)
        for (int i = 0; i < (int)(sizeof Ms / sizeof Ms[0]); i++) {
            printf("%-6s %-5d", wmat_dtype_name((wmat_dtype)d), Ms[i]);
            for (int p = 0; p < 4; p++) {
                if (paths[p] == WMAT_PATH_SCALAR && Ms[i] > 8) {
                    printf(" %9s", "-");
                    continue;
                }
                bench_stats s =
                    time_call(y, x, &ws.w[d], Ms[i], paths[p], runs);
                printf(" %9.4f", s.min * 1e3);
            }
            printf("\n");
            fflush(stdout);
        }
    free(x), free(y);
    weights_free(&ws);
}

int main(int argc, char **argv) {
    int threads = 2, runs = 7, sweep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sweep"))
            sweep = 1;
        else {
            fprintf(stderr, "usage: bench_gemv [--threads N] [--runs N] "
                            "[--sweep]\n");
            return 2;
        }
    }
    runs = runs < 5 ? 5 : runs > 64 ? 64 : runs;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);
    printf("bench_gemv threads=%d runs=%d avx2=%d avx512=%d\n", threads, runs,
           wmat_path_compiled(WMAT_PATH_AVX2),
           wmat_path_compiled(WMAT_PATH_AVX512));
    bench_bandwidth(runs);
    uint64_t seed = 42;
    bench_shape(32128, 512, runs, &seed);
    bench_shape(2048, 512, runs, &seed);
    bench_shape(512, 512, runs, &seed);
    bench_large_m(2048, 512, 128, runs, &seed);
    if (sweep) {
        bench_sweep(2048, 512, runs, &seed);
        bench_sweep(512, 2048, runs, &seed);
    }
    return 0;
}
