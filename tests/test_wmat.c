/*
 * test_wmat.c - low-precision linear layers equal op_linear on the
 * float32 (for int8: dequantized) weights, on every code path (scalar,
 * AVX2, AVX-512, convert + sgemm, automatic), for many shapes with ragged
 * tails, with and without bias and accumulation, from unaligned rows; the
 * int8 quantizer rounds exactly as documented; wmat_row decodes exactly.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "harness.h"
#include "ops/gemm_packed.h"
#include "ops/ops.h"
#include "ops/wmat.h"

static uint64_t seed = 777;

static uint32_t urand(void) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(seed >> 32);
}

static float frand(void) {
    return (float)((urand() >> 8) / 16777216.0) * 2.0f - 1.0f;
}

/* ------------------------------------------------------------------ */
/* Reference decoders, written independently of wmat.c                 */
/* ------------------------------------------------------------------ */

/* IEEE half: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m when e == 0. */
static float ref_f16(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0x1f)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, e - 25);
    return (float)(h & 0x8000 ? -v : v);
}

static float ref_bf16(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* A weight matrix in one dtype, its float32 reference and, so rows are
 * not aligned, its data one element past the start of `buf`. */
typedef struct {
    wmat w;
    float *ref;  /* [N, K] */
    void *buf;
    float *scale;
} test_mat;

/* Random halves: exponents 0 (subnormal) to 16 (values below 4). */
static uint16_t rand_f16(void) {
    uint32_t r = urand();
    uint32_t e = r % 17;
    return (uint16_t)((r >> 16 & 0x8000) | e << 10 | (r >> 5 & 0x3ff));
}

/* Random bfloat16: exponents 2^-10 .. 2^1, sometimes an exact zero. */
static uint16_t rand_bf16(void) {
    uint32_t r = urand();
    if (r % 23 == 0)
        return (uint16_t)(r & 0x8000);
    uint32_t e = 117 + (r >> 8) % 12;
    return (uint16_t)((r & 0x8000) | e << 7 | (r >> 20 & 0x7f));
}

static void mat_make(test_mat *t, wmat_dtype dt, int N, int K) {
    size_t n = (size_t)N * K, es = dt == WMAT_F32 ? 4 : dt == WMAT_I8 ? 1 : 2;
    t->ref = calloc(n + 1, sizeof(float));
    t->buf = malloc((n + 1) * es);
    t->scale = malloc((size_t)N * sizeof(float));
    char *data = (char *)t->buf + (dt == WMAT_F32 ? 0 : es);
    if (dt == WMAT_F16 || dt == WMAT_BF16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = dt == WMAT_F16 ? rand_f16() : rand_bf16();
            memcpy(data + 2 * i, &h, 2);
            t->ref[i] = dt == WMAT_F16 ? ref_f16(h) : ref_bf16(h);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            t->ref[i] = frand() * 0.5f;
    }
    if (dt == WMAT_F32)
        memcpy(data, t->ref, n * sizeof(float));
    if (dt == WMAT_I8) { /* quantize, then the reference is q * scale */
        wmat_quantize_i8((int8_t *)data, t->scale, t->ref, N, K);
        for (size_t i = 0; i < n; i++)
            t->ref[i] = (float)((int8_t *)data)[i] * t->scale[i / K];
    }
    t->w = (wmat){dt, N, K, data, dt == WMAT_I8 ? t->scale : NULL, NULL};
}

static void mat_free(test_mat *t) {
    free(t->ref), free(t->buf), free(t->scale);
}

/* ------------------------------------------------------------------ */
/* wmat_linear against op_linear                                       */
/* ------------------------------------------------------------------ */

static const wmat_path all_paths[] = {WMAT_PATH_SCALAR, WMAT_PATH_AVX2,
                                      WMAT_PATH_AVX512, WMAT_PATH_BLAS,
                                      WMAT_PATH_AUTO};
static const char *path_names[] = {"auto", "scalar", "avx2", "avx512",
                                   "blas"};

/* want = (acc ? y0 : 0) + x W^T + bias, from op_linear on t->ref. */
static void reference(float *want, const float *y0, const float *x,
                      const test_mat *t, const float *bias, int M,
                      int acc) {
    int N = t->w.N;
    op_linear(want, x, t->ref, bias, M, t->w.K, N);
    if (acc)
        for (size_t i = 0; i < (size_t)M * N; i++)
            want[i] += y0[i];
}

/* One shape and dtype on every path; variant bit 0 = bias, bit 1 =
 * accumulate.  Returns the number of path checks made. */
static int run_case(wmat_dtype dt, int M, int K, int N, int variant) {
    test_mat t;
    mat_make(&t, dt, N, K);
    size_t ny = (size_t)M * N;
    float *x = malloc((size_t)M * K * 4 + 4), *bias = malloc(N * 4);
    float *y0 = malloc(ny * 4), *want = malloc(ny * 4), *got = malloc(ny * 4);
    for (size_t i = 0; i < (size_t)M * K; i++)
        x[i] = frand();
    for (int i = 0; i < N; i++)
        bias[i] = frand();
    for (size_t i = 0; i < ny; i++)
        y0[i] = frand() * 4.0f;
    int use_bias = variant & 1, acc = variant >> 1 & 1;
    const float *b = use_bias ? bias : NULL;
    reference(want, y0, x, &t, b, M, acc);
    int checks = 0;
    for (int p = 0; p < 5; p++) {
        memcpy(got, y0, ny * 4);
        wmat_linear_path(got, x, &t.w, b, M, acc, all_paths[p]);
        char what[128];
        snprintf(what, sizeof what, "%s %s M=%d K=%d N=%d bias=%d acc=%d",
                 wmat_dtype_name(dt), path_names[all_paths[p]], M, K, N,
                 use_bias, acc);
        check_close(what, got, want, (int64_t)ny, 1e-5, -1);
        checks++;
    }
    free(x), free(bias), free(y0), free(want), free(got);
    mat_free(&t);
    return checks;
}

static void test_shapes(void) {
    static const int Ms[] = {1, 2, 3, 4, 5, 8, 16, 17, 33, 100};
    static const int Ks[] = {1, 7, 16, 31, 64, 512, 513};
    static const int Ns[] = {1, 3, 64, 129};
    int checks = 0;
    for (int d = 0; d < 4; d++)
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 7; j++)
                for (int k = 0; k < 4; k++) /* variants rotate over all */
                    checks += run_case((wmat_dtype)d, Ms[i], Ks[j], Ns[k],
                                       (d + i + j + k) % 4);
    CHECK(checks == 4 * 10 * 7 * 4 * 5, "%d checks", checks);
}

/* Every bias / accumulate combination on a shape with tails everywhere,
 * and on a larger one that splits into blocks and thread chunks. */
static void test_variants(void) {
    for (int d = 0; d < 4; d++)
        for (int v = 0; v < 4; v++) {
            run_case((wmat_dtype)d, 6, 37, 23, v);
            run_case((wmat_dtype)d, 40, 200, 1031, v);
        }
}

/* Thread counts that do not divide the rows (so the last block and the
 * last chunk are short), and a team that shrinks and grows again
 * (retired workers' scratch buffers must be freed: LSan). */
static void test_thread_counts(void) {
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    static const int Ts[] = {1, 3, 2, 1, 4};
    for (int i = 0; i < 5; i++) {
        omp_set_num_threads(Ts[i]);
        run_case(WMAT_BF16, 20, 100, 999, i % 4);
        run_case(WMAT_I8, 3, 100, 999, i % 4);
    }
    omp_set_num_threads(saved);
#endif
}

/* K == 0: the product is empty, so y is the bias, plus y when
 * accumulating. */
static void test_empty_k(void) {
    float bias[3] = {1, 2, 3}, y[6] = {5, 5, 5, 5, 5, 5};
    wmat w = {WMAT_BF16, 3, 0, bias, NULL, NULL};
    wmat_linear(y, NULL, &w, bias, 2, 1);
    float want[6] = {6, 7, 8, 6, 7, 8};
    check_close("acc", y, want, 6, 0, 0);
    wmat_linear(y, NULL, &w, NULL, 2, 0);
    float zero[6] = {0};
    check_close("zero", y, zero, 6, 0, 0);
}

/* The paths the build has: AVX-512 on this machine must not silently
 * fall back (the kernels would go untested). */
static void test_paths_compiled(void) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    CHECK(wmat_path_compiled(WMAT_PATH_AVX512), "avx512 not compiled");
#endif
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    CHECK(wmat_path_compiled(WMAT_PATH_AVX2), "avx2 not compiled");
#endif
    CHECK(wmat_path_compiled(WMAT_PATH_SCALAR), "scalar");
}

/* ------------------------------------------------------------------ */
/* Quantization                                                        */
/* ------------------------------------------------------------------ */

static void expect_row(const char *what, const float *w, int K,
                       float want_scale, const int8_t *want_q) {
    int8_t q[16];
    float s = -1;
    wmat_quantize_i8(q, &s, w, 1, K);
    CHECK(s == want_scale, "%s: scale %.9g, want %.9g", what, s, want_scale);
    for (int k = 0; k < K; k++)
        CHECK(q[k] == want_q[k], "%s: q[%d] = %d, want %d (w %g)", what, k,
              q[k], want_q[k], w[k]);
}

/* Ties go to the even neighbour, both signs; the maximum maps to +-127
 * whatever its sign. */
static void test_quantize_exact(void) {
    float w1[8] = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f};
    int8_t q1[8] = {127, 0, 2, 2, 0, -2, -2, 126};
    expect_row("scale 1", w1, 8, 1.0f, q1);

    float w2[7] = {-254, 3, 5, -3, 1, 253, -7};
    int8_t q2[7] = {-127, 2, 2, -2, 0, 126, -4};
    expect_row("negative max", w2, 7, 2.0f, q2);

    float w3[4] = {0, -0.0f, 0, 0};
    int8_t q3[4] = {0};
    expect_row("zero row", w3, 4, 0.0f, q3);

    float w4[3] = {1e-44f, -1e-45f, 0}; /* max / 127 underflows to 0 */
    int8_t q4[3] = {0};
    expect_row("underflow", w4, 3, 0.0f, q4);

    float w5[3] = {-1, NAN, 0.25f}; /* NaN skipped by the max, gives 0 */
    int8_t q5[3] = {-127, 0, 32};
    expect_row("nan", w5, 3, 1.0f / 127.0f, q5);
}

/* Random rows: the documented formula, error at most half a step, the
 * extreme value at +-127; a zero row dequantizes to exact zeros. */
static void test_quantize_random(void) {
    enum { N = 9, K = 77 };
    float w[N * K], s[N];
    int8_t q[N * K];
    for (int i = 0; i < N * K; i++)
        w[i] = frand() * (float)(1 + i / K * 10);
    memset(w + 4 * K, 0, K * sizeof(float));
    wmat_quantize_i8(q, s, w, N, K);
    for (int n = 0; n < N; n++) {
        float mx = 0;
        for (int k = 0; k < K; k++)
            mx = fmaxf(mx, fabsf(w[n * K + k]));
        CHECK(s[n] == mx / 127.0f, "row %d scale", n);
        int top = 0;
        for (int k = 0; k < K; k++) {
            int i = n * K + k;
            float want = s[n] ? nearbyintf(w[i] / s[n]) : 0.0f;
            want = fminf(fmaxf(want, -127.0f), 127.0f);
            CHECK(q[i] == (int8_t)want, "q[%d][%d] %d want %g", n, k, q[i],
                  want);
            CHECK(fabsf(q[i] * s[n] - w[i]) <= 0.5001f * s[n],
                  "error past half a step at [%d][%d]", n, k);
            top |= abs(q[i]) == 127;
        }
        CHECK(top || mx == 0, "row %d has no +-127", n);
    }
    for (int k = 0; k < K; k++)
        CHECK(q[4 * K + k] * s[4] == 0.0f, "zero row");
}

/* ------------------------------------------------------------------ */
/* wmat_row and wmat_bytes                                             */
/* ------------------------------------------------------------------ */

/* Row n decodes bit for bit like the reference, for every dtype and row
 * length around the vector widths. */
static void test_row_random(void) {
    static const int Ks[] = {1, 7, 8, 15, 16, 17, 33, 512};
    for (int d = 0; d < 4; d++)
        for (int i = 0; i < 8; i++) {
            test_mat t;
            int N = 3, K = Ks[i];
            mat_make(&t, (wmat_dtype)d, N, K);
            float out[512];
            for (int n = 0; n < N; n++) {
                wmat_row(out, &t.w, n);
                CHECK(!memcmp(out, t.ref + (size_t)n * K, K * 4),
                      "%s K=%d row %d", wmat_dtype_name((wmat_dtype)d), K, n);
            }
            mat_free(&t);
        }
}

/* Half-precision edge values: zeros, subnormals, the largest finite,
 * infinities. */
static void test_row_f16_special(void) {
    uint16_t h[19] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400,
                      0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x7c00, 0xfc00,
                      0x3555, 0x0200, 0x8200, 0x4000, 0x1234, 0x5678,
                      0x2e66};
    float out[19];
    wmat w = {WMAT_F16, 1, 19, h, NULL, NULL};
    wmat_row(out, &w, 0);
    for (int k = 0; k < 19; k++) {
        float want = ref_f16(h[k]);
        CHECK(!memcmp(&out[k], &want, 4), "f16 0x%04x: got %.9g want %.9g",
              h[k], out[k], want);
    }
}

/* wmat_linear_jobs equals one wmat_linear per job, bit for bit, at the
 * small M that share a region and the large M that fall back; any dtype
 * mix, row counts not a multiple of the 4-row group. */
static void test_jobs(void) {
    const int Ms[] = {1, 3, 16, 100};
    const wmat_dtype dts[] = {WMAT_F32, WMAT_BF16, WMAT_I8};
    for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
        int M = Ms[mi], K = 67, Ns[3] = {130, 5, 64};
        test_mat t[3];
        wmat_job jobs[3];
        float *x = malloc((size_t)M * K * sizeof *x), *y[3], *want[3];
        for (size_t i = 0; i < (size_t)M * K; i++)
            x[i] = frand();
        for (int j = 0; j < 3; j++) {
            mat_make(&t[j], dts[j], Ns[j], K);
            y[j] = calloc((size_t)M * Ns[j], sizeof(float));
            want[j] = calloc((size_t)M * Ns[j], sizeof(float));
            wmat_linear(want[j], x, &t[j].w, NULL, M, 0);
            jobs[j] = (wmat_job){y[j], x, &t[j].w};
        }
        wmat_linear_jobs(jobs, 3, M);
        for (int j = 0; j < 3; j++) {
            CHECK(memcmp(y[j], want[j], (size_t)M * Ns[j] * 4) == 0,
                  "M %d, job %d differs from its own call", M, j);
            free(y[j]), free(want[j]);
            mat_free(&t[j]);
        }
        free(x);
    }
}

static void test_bytes(void) {
    wmat w = {WMAT_F32, 10, 7, NULL, NULL, NULL};
    CHECK(wmat_bytes(&w) == 280, "f32");
    w.dtype = WMAT_BF16;
    CHECK(wmat_bytes(&w) == 140, "bf16");
    w.dtype = WMAT_F16;
    CHECK(wmat_bytes(&w) == 140, "f16");
    w.dtype = WMAT_I8;
    CHECK(wmat_bytes(&w) == 70 + 40, "i8");
    w = (wmat){WMAT_BF16, 32128, 512, NULL, NULL, NULL};
    CHECK(wmat_bytes(&w) == (size_t)32128 * 1024, "lm_head");
}

/* A float32 matrix with its packed copy (ops/gemm_packed.h) goes through
 * the packed kernel: M with every tail of the 6-row blocks, N with
 * partial panels, K odd; every bias / accumulate variant; one and two
 * threads give the same bits (each element is summed by one thread in
 * a fixed order). */
static void packed_case(int M, int K, int N, int variant) {
    test_mat t;
    mat_make(&t, WMAT_F32, N, K);
    size_t ny = (size_t)M * N, np = gemm_packed_floats(N, K);
    float *x = malloc((size_t)M * K * 4), *bias = malloc(N * 4);
    float *y0 = malloc(ny * 4), *want = malloc(ny * 4);
    float *got = malloc(ny * 4), *got1 = malloc(ny * 4);
    float *pk = aligned_alloc(64, (np * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < (size_t)M * K; i++)
        x[i] = frand();
    for (int i = 0; i < N; i++)
        bias[i] = frand();
    for (size_t i = 0; i < ny; i++)
        y0[i] = frand() * 4.0f;
    int acc = variant >> 1 & 1;
    const float *b = variant & 1 ? bias : NULL;
    reference(want, y0, x, &t, b, M, acc);
    gemm_pack(pk, t.ref, N, K);
    wmat w = t.w;
    w.packed = pk;
    char what[96];
    snprintf(what, sizeof what, "packed M=%d K=%d N=%d bias=%d acc=%d", M,
             K, N, b != NULL, acc);
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    memcpy(got1, y0, ny * 4);
    wmat_linear(got1, x, &w, b, M, acc);
    omp_set_num_threads(2);
#endif
    memcpy(got, y0, ny * 4);
    wmat_linear(got, x, &w, b, M, acc);
    check_close(what, got, want, (int64_t)ny, 1e-5, -1);
#ifdef _OPENMP
    omp_set_num_threads(saved);
    CHECK(!memcmp(got, got1, ny * 4), "%s: 1 and 2 threads differ", what);
#endif
    free(x), free(bias), free(y0), free(want), free(got), free(got1);
    free(pk);
    mat_free(&t);
}

static void test_packed(void) {
    if (!gemm_packed_available()) {
        printf("     (no packed kernel in this build)\n");
        return;
    }
    static const int Ms[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 128, 300};
    static const int Ks[] = {1, 7, 64, 513};
    static const int Ns[] = {1, 17, 64, 65, 200};
    for (int i = 0; i < 12; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 5; k++)
                packed_case(Ms[i], Ks[j], Ns[k], (i + j + k) % 4);
    /* large enough to split into several row chunks and threads */
    for (int v = 0; v < 4; v++)
        packed_case(700, 1024, 192, v);
}

int main(void) {
    RUN(test_paths_compiled);
    RUN(test_shapes);
    RUN(test_variants);
    RUN(test_thread_counts);
    RUN(test_empty_k);
    RUN(test_jobs);
    RUN(test_packed);
    RUN(test_quantize_exact);
    RUN(test_quantize_random);
    RUN(test_row_random);
    RUN(test_row_f16_special);
    RUN(test_bytes);
    return harness_finish();
}
