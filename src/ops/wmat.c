/*
 * wmat.c - linear layers over float32 / float16 / bfloat16 / int8 weights.
 * See wmat.h for the contract.  Sections: the kernels for each
 * instruction set, quantization and row lookup, the small-M streaming
 * path, the large-M block path, the entry points that choose.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/pool.h"
#include "ops/gemm_packed.h"
#include "ops/ops.h"
#include "ops/wmat.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/*
 * The streaming kernel splits its rows over the pool (core/pool.h) from
 * WMAT_PAR_MIN_BYTES of weights or WMAT_PAR_MIN_MACS multiply-adds.  The
 * pool's workers spin between the products of a decoding step, so a
 * split costs a few cache-line transfers instead of an OpenMP wake-up
 * (about 65 us here with OMP_WAIT_POLICY=passive, which made the second
 * core pay only from 2 MB); a second thread adds about half a core's
 * memory bandwidth (20.8 against ~13 GB/s).
 */
#define WMAT_PAR_MIN_BYTES (128u << 10)
#define WMAT_PAR_MIN_MACS (1 << 18)
#define WMAT_SPLIT_MAX_MACS (64.0 * (1 << 20))

/*
 * The large-M path converts blocks of up to this many bytes of float32
 * weights per sgemm call.  Each call packs x again, so bigger blocks are
 * faster: at M = 128, one thread, bf16 took 1.34x the f32 sgemm time with
 * 128 KiB blocks, 1.19x with 256 KiB, 1.10x with 1 MiB and 1.05-1.10x with
 * 4 MiB (W [2048, 512], [512, 2048], [32128, 512]).
 */
#define WMAT_BLOCK_BYTES (4 << 20)

/* ------------------------------------------------------------------ */
/* Kernels                                                              */
/* ------------------------------------------------------------------ */

/*
 * A tile is the streaming kernel's unit of work: the dot products of
 * WK_ROWS weight rows with mb input rows x[mb, K],
 *   dot[m * WK_ROWS + r] = sum_k x[m][k] * w[r][k]   (w as float32).
 * Each weight vector is converted once and used for all mb inputs, and
 * the WK_ROWS * mb sums are independent accumulators.  Every instruction
 * set has one; each tile function is compiled for a constant dtype and mb
 * (always inlined into a dispatching switch) so the accumulators stay in
 * registers.  `convert` turns one row into float32 (times scale for I8).
 */
#define WK_ROWS 4
#define WK_MB_MAX 4

#define WK_INLINE static inline __attribute__((always_inline))
/* Fully unrolled small loops let the accumulator arrays live in
 * registers (GCC otherwise keeps them on the stack). */
#if defined(__GNUC__) && !defined(__clang__)
#define WK_UNROLL _Pragma("GCC unroll 8")
#else
#define WK_UNROLL
#endif

typedef void (*wk_tile_fn)(float *dot, const char *const *rows,
                           const float *x, int K, wmat_dtype dt, int mb);
typedef void (*wk_convert_fn)(float *out, const char *row, int K,
                              wmat_dtype dt, float scale);
typedef struct {
    wmat_path path;
    int mb_max;     /* input rows per tile: bounded by the register count */
    int f32_min_m;  /* F32, f32_min_m <= M <= f32_max_m: the tile beats */
    int f32_max_m;  /* OpenBLAS (sgemv at M = 1, sgemm above) */
    int rows_max_m; /* F16/BF16/I8, M <= this: the tile beats convert+sgemm */
    wk_tile_fn tile;
    wk_convert_fn convert;
} wk_kernels;

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define WK_AVX512 1
#endif
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define WK_AVX2 1
#endif
#if defined(WK_AVX512) || defined(WK_AVX2)
#include <immintrin.h>

/*
 * Prefetch distance in bytes along each weight row, into L2.  The
 * hardware prefetcher alone leaves the four row streams short of data
 * when they come from L3 or memory (on the t5-small lm_head at M = 1,
 * 2 KiB ahead made one thread 10% (bf16) to 25% (int8) faster).  With a
 * K = 512 float32 row of 2 KiB, 2 KiB ahead is only the next row of the
 * same group; 8 KiB reaches the next group.  Into L1 (T0) the farther
 * distances lost (L1 holds 32 KiB); into L2 (T1) 8 KiB decoded t5-small
 * 25-45% faster than 2 KiB into L1 (AMD Zen 4, alternating runs: fp32
 * 7.4-8.8 -> 4.6-6.4 ms per token, bf16 5.0 -> 3.1, int8 2.7 -> 1.9-2.5;
 * t5-base fp32 21.0 -> 18.2, int8 9.5 -> 5.8).  Reads past the matrix's
 * end are harmless: prefetches do not fault.
 */
#define WK_PREFETCH 8192

WK_INLINE void prefetch_rows(const char *const *rows, size_t off) {
    WK_UNROLL
    for (int r = 0; r < WK_ROWS; r++)
        _mm_prefetch((const char *)((uintptr_t)rows[r] + off + WK_PREFETCH),
                     _MM_HINT_T1);
}
#endif

/* Calls tile(dot, rows, x, K, DT, MB) with the dtype dt as a constant DT,
 * so the always-inlined tile is compiled once per (dtype, MB). */
#define WK_BY_DTYPE(tile, dt, MB, dot, rows, x, K)                       \
    do {                                                                 \
        switch (dt) {                                                    \
        case WMAT_F32: tile(dot, rows, x, K, WMAT_F32, MB); break;       \
        case WMAT_F16: tile(dot, rows, x, K, WMAT_F16, MB); break;       \
        case WMAT_BF16: tile(dot, rows, x, K, WMAT_BF16, MB); break;     \
        case WMAT_I8: tile(dot, rows, x, K, WMAT_I8, MB); break;         \
        }                                                                \
    } while (0)

/* Bytes per element.  Not wmat_dtype_size: under -fPIC an exported
 * function may be interposed, so it would not be inlined into the loops. */
WK_INLINE size_t elem_size(wmat_dtype dt) {
    return dt == WMAT_F32 ? 4 : dt == WMAT_I8 ? 1 : 2;
}

/* --- portable --- */

/* IEEE half to float, exactly: subnormals are man * 2^-24. */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    float v;
    if (e == 0) {
        v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | man << 13;
    else
        bits = sign | (e + 112) << 23 | man << 13;
    memcpy(&v, &bits, 4);
    return v;
}

/* Element k of a row as float32; memcpy because rows may be unaligned. */
WK_INLINE float elem_f32(const char *row, int k, wmat_dtype dt) {
    float v;
    uint16_t h;
    uint32_t b;
    switch (dt) {
    case WMAT_F32:
        memcpy(&v, row + (size_t)k * 4, 4);
        return v;
    case WMAT_F16:
        memcpy(&h, row + (size_t)k * 2, 2);
        return f16_to_f32(h);
    case WMAT_BF16:
        memcpy(&h, row + (size_t)k * 2, 2);
        b = (uint32_t)h << 16;
        memcpy(&v, &b, 4);
        return v;
    case WMAT_I8:
        return (float)(int8_t)row[k];
    }
    return 0.0f;
}

WK_INLINE void tile_scalar_c(float *dot, const char *const *rows,
                             const float *x, int K, wmat_dtype dt, int mb) {
    float acc[WK_MB_MAX][WK_ROWS] = {{0}};
    for (int k = 0; k < K; k++) {
        float wv[WK_ROWS];
        for (int r = 0; r < WK_ROWS; r++)
            wv[r] = elem_f32(rows[r], k, dt);
        for (int m = 0; m < mb; m++)
            for (int r = 0; r < WK_ROWS; r++)
                acc[m][r] += wv[r] * x[(size_t)m * K + k];
    }
    for (int m = 0; m < mb; m++)
        for (int r = 0; r < WK_ROWS; r++)
            dot[m * WK_ROWS + r] = acc[m][r];
}

/* The scalar tile needs no constant mb: the compiler keeps its sums in
 * memory either way. */
static void tile_scalar(float *dot, const char *const *rows, const float *x,
                        int K, wmat_dtype dt, int mb) {
    WK_BY_DTYPE(tile_scalar_c, dt, mb, dot, rows, x, K);
}

static void convert_scalar(float *out, const char *row, int K,
                           wmat_dtype dt, float scale) {
    if (dt == WMAT_I8) {
        for (int k = 0; k < K; k++)
            out[k] = (float)(int8_t)row[k] * scale;
        return;
    }
    for (int k = 0; k < K; k++)
        out[k] = elem_f32(row, k, dt);
}

/* Without vectors even M = 1 is faster converted and sent to sgemm (the
 * scalar sums cannot be reordered into SIMD under strict float rules). */
static const wk_kernels wk_scalar = {
    .path = WMAT_PATH_SCALAR, .mb_max = WK_MB_MAX,
    .f32_min_m = 1, .f32_max_m = 0, .rows_max_m = 0,
    .tile = tile_scalar, .convert = convert_scalar};

/* --- AVX2 + FMA + F16C: 8 lanes, 16 registers --- */
#ifdef WK_AVX2

/* Four rows times two inputs is 8 accumulators + 4 weights + 1 input of
 * the 16 ymm registers; three inputs would spill. */
#define WK_AVX2_MB 2

WK_INLINE __m256 w8_avx2(const char *row, int k, wmat_dtype dt) {
    const char *p = row + (size_t)k * elem_size(dt);
    switch (dt) {
    case WMAT_F32:
        return _mm256_loadu_ps((const float *)p);
    case WMAT_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    case WMAT_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)p);
        __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        return _mm256_castsi256_ps(v);
    }
    case WMAT_I8: {
        __m128i b = _mm_loadl_epi64((const __m128i *)p);
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    }
    }
    return _mm256_setzero_ps();
}

/* The four sums of a, b, c, d in one vector, by a tree of pairwise adds:
 * cheaper than reducing each vector on its own. */
static __m128 sum4_avx2(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(abcd),
                      _mm256_extractf128_ps(abcd, 1));
}

/* Whole vectors of 8, then the K % 8 tail one element at a time. */
WK_INLINE void tile_avx2_c(float *dot, const char *const *rows,
                           const float *x, int K, wmat_dtype dt, int mb) {
    __m256 acc[WK_AVX2_MB][WK_ROWS];
    WK_UNROLL
    for (int m = 0; m < mb; m++)
        WK_UNROLL
        for (int r = 0; r < WK_ROWS; r++)
            acc[m][r] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 wv[WK_ROWS];
        prefetch_rows(rows, (size_t)k * elem_size(dt));
        WK_UNROLL
        for (int r = 0; r < WK_ROWS; r++)
            wv[r] = w8_avx2(rows[r], k, dt);
        WK_UNROLL
        for (int m = 0; m < mb; m++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)m * K + k);
            WK_UNROLL
            for (int r = 0; r < WK_ROWS; r++)
                acc[m][r] = _mm256_fmadd_ps(wv[r], xv, acc[m][r]);
        }
    }
    WK_UNROLL
    for (int m = 0; m < mb; m++) {
        float *d = dot + m * WK_ROWS;
        _mm_storeu_ps(d, sum4_avx2(acc[m][0], acc[m][1], acc[m][2],
                                   acc[m][3]));
        for (int j = k; j < K; j++)
            WK_UNROLL
            for (int r = 0; r < WK_ROWS; r++)
                d[r] += elem_f32(rows[r], j, dt) * x[(size_t)m * K + j];
    }
}

static void tile_avx2(float *dot, const char *const *rows, const float *x,
                      int K, wmat_dtype dt, int mb) {
    if (mb == 1)
        WK_BY_DTYPE(tile_avx2_c, dt, 1, dot, rows, x, K);
    else
        WK_BY_DTYPE(tile_avx2_c, dt, 2, dot, rows, x, K);
}

static void convert_avx2(float *out, const char *row, int K, wmat_dtype dt,
                         float scale) {
    int k = 0;
    if (dt == WMAT_F16) /* the one conversion compilers do not vectorize */
        for (; k + 8 <= K; k += 8)
            _mm256_storeu_ps(out + k, w8_avx2(row, k, dt));
    convert_scalar(out + k, row + (size_t)k * elem_size(dt), K - k,
                   dt, scale);
}

/* Crossovers measured with the AVX2 code on the AVX-512 machine, against
 * OpenBLAS's AVX-512 sgemm; on an AVX2-only machine sgemm is slower, so
 * they err towards BLAS.  M = 1: on the AVX2 machine (AMD EPYC, 2 cores,
 * bench_gemv) the tile beats OpenBLAS's sgemv on every W1 shape, 26
 * against 20 GB/s on [32128, 512], 13 against 85 us on [512, 512]. */
static const wk_kernels wk_avx2 = {
    .path = WMAT_PATH_AVX2, .mb_max = WK_AVX2_MB,
    .f32_min_m = 1, .f32_max_m = 16, .rows_max_m = 24,
    .tile = tile_avx2, .convert = convert_avx2};
#endif

/* --- AVX-512 (F, BW, VL): 16 lanes, 32 registers, masked tails --- */
#ifdef WK_AVX512

/* 16 elements of a row at k as float32; with `tail`, only the lanes in
 * mask are read and the rest are zero. */
WK_INLINE __m512 w16_avx512(const char *row, int k, wmat_dtype dt,
                            __mmask16 mask, int tail) {
    const char *p = row + (size_t)k * elem_size(dt);
    __m256i h;
    __m128i b;
    switch (dt) {
    case WMAT_F32:
        return tail ? _mm512_maskz_loadu_ps(mask, p) : _mm512_loadu_ps(p);
    case WMAT_F16:
    case WMAT_BF16:
        h = tail ? _mm256_maskz_loadu_epi16(mask, p)
                 : _mm256_loadu_si256((const __m256i *)p);
        if (dt == WMAT_F16)
            return _mm512_cvtph_ps(h);
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    case WMAT_I8:
        b = tail ? _mm_maskz_loadu_epi8(mask, p)
                 : _mm_loadu_si128((const __m128i *)p);
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
    }
    return _mm512_setzero_ps();
}

/* The four sums of a, b, c, d: halve each to 8 lanes, then the AVX2
 * tree. */
static __m128 sum4_avx512(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m256 h[4];
    __m512 v[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        __m512d vd = _mm512_castps_pd(v[i]);
        h[i] = _mm256_add_ps(_mm512_castps512_ps256(v[i]),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(vd, 1)));
    }
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]),
                                 _mm256_hadd_ps(h[2], h[3]));
    return _mm_add_ps(_mm256_castps256_ps128(abcd),
                      _mm256_extractf128_ps(abcd, 1));
}

/* acc[m][r] += w[r][k..k+15] * x[m][k..k+15] for one column block. */
WK_INLINE void step_avx512(__m512 acc[WK_MB_MAX][WK_ROWS],
                           const char *const *rows, const float *x, int K,
                           int k, wmat_dtype dt, int mb, __mmask16 mask,
                           int tail) {
    __m512 wv[WK_ROWS];
    if (!tail)
        prefetch_rows(rows, (size_t)k * elem_size(dt));
    WK_UNROLL
    for (int r = 0; r < WK_ROWS; r++)
        wv[r] = w16_avx512(rows[r], k, dt, mask, tail);
    WK_UNROLL
    for (int m = 0; m < mb; m++) {
        const float *xp = x + (size_t)m * K + k;
        __m512 xv = tail ? _mm512_maskz_loadu_ps(mask, xp)
                         : _mm512_loadu_ps(xp);
        WK_UNROLL
        for (int r = 0; r < WK_ROWS; r++)
            acc[m][r] = _mm512_fmadd_ps(wv[r], xv, acc[m][r]);
    }
}

WK_INLINE void tile_avx512_c(float *dot, const char *const *rows,
                             const float *x, int K, wmat_dtype dt, int mb) {
    __m512 acc[WK_MB_MAX][WK_ROWS];
    WK_UNROLL
    for (int m = 0; m < mb; m++)
        WK_UNROLL
        for (int r = 0; r < WK_ROWS; r++)
            acc[m][r] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16)
        step_avx512(acc, rows, x, K, k, dt, mb, 0xffff, 0);
    if (k < K)
        step_avx512(acc, rows, x, K, k, dt, mb,
                    (__mmask16)((1u << (K - k)) - 1), 1);
    WK_UNROLL
    for (int m = 0; m < mb; m++)
        _mm_storeu_ps(dot + m * WK_ROWS,
                      sum4_avx512(acc[m][0], acc[m][1], acc[m][2],
                                  acc[m][3]));
}

static void tile_avx512(float *dot, const char *const *rows,
                        const float *x, int K, wmat_dtype dt, int mb) {
    switch (mb) {
    case 1: WK_BY_DTYPE(tile_avx512_c, dt, 1, dot, rows, x, K); break;
    case 2: WK_BY_DTYPE(tile_avx512_c, dt, 2, dot, rows, x, K); break;
    case 3: WK_BY_DTYPE(tile_avx512_c, dt, 3, dot, rows, x, K); break;
    default: WK_BY_DTYPE(tile_avx512_c, dt, 4, dot, rows, x, K); break;
    }
}

static void convert_avx512(float *out, const char *row, int K,
                           wmat_dtype dt, float scale) {
    __m512 s = _mm512_set1_ps(dt == WMAT_I8 ? scale : 1.0f);
    for (int k = 0; k < K; k += 16) {
        int tail = K - k < 16;
        __mmask16 mask = tail ? (__mmask16)((1u << (K - k)) - 1) : 0xffff;
        __m512 v = w16_avx512(row, k, dt, mask, tail);
        if (dt == WMAT_I8)
            v = _mm512_mul_ps(v, s);
        _mm512_mask_storeu_ps(out + k, mask, v);
    }
}

/*
 * Crossovers from bench_gemv --sweep (W [2048, 512], one thread; [512,
 * 2048] agrees): f32 tile 0.39 ms vs sgemm 0.59 at M = 16, even at 32;
 * bf16 tile 0.84 ms vs convert+sgemm 1.03 at M = 32, 1.70 vs 1.46 at 64.
 * At M = 1 the f32 tile ties sgemv on matrices in L2 and beats it from
 * L3 (lm_head: 2.5 ms vs 3.3 median, faster in 6 of 7 runs): the
 * prefetch.
 */
static const wk_kernels wk_avx512 = {
    .path = WMAT_PATH_AVX512, .mb_max = WK_MB_MAX,
    .f32_min_m = 1, .f32_max_m = 16, .rows_max_m = 32,
    .tile = tile_avx512, .convert = convert_avx512};
#endif

/* The kernels of `path`, or the best compiled in for AUTO / BLAS; a path
 * not compiled in falls back to the next narrower one. */
static const wk_kernels *wk_kernel(wmat_path path) {
#ifdef WK_AVX512
    if (path != WMAT_PATH_SCALAR && path != WMAT_PATH_AVX2)
        return &wk_avx512;
#endif
#ifdef WK_AVX2
    if (path != WMAT_PATH_SCALAR)
        return &wk_avx2;
#endif
    (void)path;
    return &wk_scalar;
}

/* ------------------------------------------------------------------ */
/* Small facts                                                          */
/* ------------------------------------------------------------------ */

size_t wmat_dtype_size(wmat_dtype dt) {
    return (unsigned)dt < 4 ? elem_size(dt) : 0;
}

const char *wmat_dtype_name(wmat_dtype dt) {
    static const char *names[] = {"f32", "f16", "bf16", "i8"};
    return (unsigned)dt < 4 ? names[dt] : "?";
}

size_t wmat_bytes(const wmat *w) {
    size_t n = (size_t)w->N * (size_t)w->K * wmat_dtype_size(w->dtype);
    if (w->dtype == WMAT_I8)
        n += (size_t)w->N * sizeof(float);
    return n;
}

int wmat_path_compiled(wmat_path path) {
    if (path == WMAT_PATH_AVX2 || path == WMAT_PATH_AVX512)
        return wk_kernel(path)->path == path;
    return 1;
}


/* ------------------------------------------------------------------ */
/* Quantization and row lookup                                          */
/* ------------------------------------------------------------------ */

/* round_half_even(v / s) clamped to [-127, 127]; s == 0 and NaN give 0.
 * nearbyintf rounds ties to even in the default rounding mode. */
static int8_t quantize_one(float v, float s) {
    if (s == 0.0f)
        return 0;
    float t = nearbyintf(v / s);
    if (t != t)
        return 0;
    if (t > 127.0f)
        t = 127.0f;
    if (t < -127.0f)
        t = -127.0f;
    return (int8_t)t;
}

void wmat_quantize_i8(int8_t *q, float *scale, const float *w, int N,
                      int K) {
    for (int n = 0; n < N; n++) {
        const float *row = w + (size_t)n * K;
        float mx = 0.0f;
        for (int k = 0; k < K; k++)
            if (fabsf(row[k]) > mx) /* false for NaN: it is skipped */
                mx = fabsf(row[k]);
        float s = mx / 127.0f;
        scale[n] = s;
        for (int k = 0; k < K; k++)
            q[(size_t)n * K + k] = quantize_one(row[k], s);
    }
}

static const char *row_ptr(const wmat *w, int n) {
    return (const char *)w->data + (size_t)n * w->K * elem_size(w->dtype);
}

void wmat_row(float *out, const wmat *w, int n) {
    float s = w->dtype == WMAT_I8 ? w->scale[n] : 1.0f;
    wk_kernel(WMAT_PATH_AUTO)->convert(out, row_ptr(w, n), w->K, w->dtype,
                                       s);
}

/* ------------------------------------------------------------------ */
/* Small M: stream each weight row once                                 */
/* ------------------------------------------------------------------ */

/*
 * Writes the tile sums dot[mb][WK_ROWS] into y[mb, N] at column n0 (nr
 * valid columns): y = (accumulate ? y : 0) + dot * scale + bias, the
 * order op_linear_acc then a bias add would use.
 */
static void tile_store(float *y, int N, const float *dot, int mb, int nr,
                       const float *scale, const float *bias, int acc) {
    for (int m = 0; m < mb; m++) {
        float *yr = y + (size_t)m * N;
        for (int r = 0; r < nr; r++) {
            float v = dot[m * WK_ROWS + r];
            if (scale)
                v *= scale[r];
            if (acc)
                v += yr[r];
            if (bias)
                v += bias[r];
            yr[r] = v;
        }
    }
}

/* Rows n0 .. n0+3 of W against all M inputs.  Past the last row the
 * pointers repeat it, so the tile always has four rows; those extra
 * results are dropped. */
static void rows_group(float *y, const float *x, const wmat *w,
                       const float *bias, int M, int acc, int n0,
                       const wk_kernels *kk) {
    int N = w->N, K = w->K, nr = N - n0 < WK_ROWS ? N - n0 : WK_ROWS;
    const char *rows[WK_ROWS];
    for (int r = 0; r < WK_ROWS; r++)
        rows[r] = row_ptr(w, n0 + (r < nr ? r : nr - 1));
    const float *scale = w->dtype == WMAT_I8 ? w->scale + n0 : NULL;
    const float *b = bias ? bias + n0 : NULL;

    float dot[WK_MB_MAX * WK_ROWS];
    for (int m0 = 0; m0 < M; m0 += kk->mb_max) {
        int mb = M - m0 < kk->mb_max ? M - m0 : kk->mb_max;
        kk->tile(dot, rows, x + (size_t)m0 * K, K, w->dtype, mb);
        tile_store(y + (size_t)m0 * N + n0, N, dot, mb, nr, scale, b, acc);
    }
}

typedef struct {
    float *y;
    const float *x;
    const wmat *w;
    const float *bias;
    int M, acc;
    const wk_kernels *kk;
} rows_job;

static void rows_range(void *ctx, int g0, int g1, int thread) {
    const rows_job *j = ctx;
    for (int g = g0; g < g1; g++)
        rows_group(j->y, j->x, j->w, j->bias, j->M, j->acc, g * WK_ROWS,
                   j->kk);
}

static int worth_threads(double bytes, double macs) {
    return bytes >= WMAT_PAR_MIN_BYTES || macs >= WMAT_PAR_MIN_MACS;
}

/* Contiguous runs of row groups per thread keep each thread's loads one
 * sequential stream, which the hardware prefetcher follows. */
static void linear_rows(float *y, const float *x, const wmat *w,
                        const float *bias, int M, int acc,
                        const wk_kernels *kk) {
    int G = (w->N + WK_ROWS - 1) / WK_ROWS;
    rows_job j = {y, x, w, bias, M, acc, kk};
    if (worth_threads((double)wmat_bytes(w), (double)M * w->N * w->K))
        pool_for(G, rows_range, &j);
    else
        rows_range(&j, 0, G, 0);
}

/* ------------------------------------------------------------------ */
/* Large M: convert blocks of rows, multiply with sgemm                 */
/* ------------------------------------------------------------------ */

/*
 * One float buffer per thread, grown as needed.  The pthread key frees a
 * thread's buffer when the thread exits (OpenMP may retire workers); the
 * thread-local pointer keeps it reachable meanwhile.
 */
static _Thread_local float *scratch_buf;
static _Thread_local size_t scratch_cap;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_key_init(void) {
    scratch_key_ok = pthread_key_create(&scratch_key, free) == 0;
}

/* A buffer of at least n floats for this thread, or NULL (then the
 * caller does without). */
static float *scratch_get(size_t n) {
    if (n <= scratch_cap)
        return scratch_buf;
    pthread_once(&scratch_once, scratch_key_init);
    if (!scratch_key_ok)
        return NULL;
    free(scratch_buf);
    scratch_cap = 0;
    scratch_buf = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    /* The key always holds the live pointer (NULL included), so the
     * destructor never sees a freed one.  Only a thread's first set can
     * fail, when no older pointer is held. */
    if (pthread_setspecific(scratch_key, scratch_buf)) {
        free(scratch_buf);
        scratch_buf = NULL;
    }
    if (scratch_buf)
        scratch_cap = n;
    return scratch_buf;
}

/* y[M, nb] (row stride N) = x[M, K] Wb^T for rows n0 .. n0+nb-1 of W,
 * converted to float32 in s[nb, K] first. */
static void block_sgemm(float *y, const float *x, const wmat *w,
                        const float *bias, int M, int acc, int n0, int nb,
                        float *s) {
    int N = w->N, K = w->K;
    const wk_kernels *kk = wk_kernel(WMAT_PATH_AUTO);
    for (int r = 0; r < nb; r++) {
        float sc = w->dtype == WMAT_I8 ? w->scale[n0 + r] : 1.0f;
        kk->convert(s + (size_t)r * K, row_ptr(w, n0 + r), K, w->dtype, sc);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, nb, K, 1.0f, x,
                K, s, K, acc ? 1.0f : 0.0f, y + n0, N);
    if (!bias)
        return;
    for (int m = 0; m < M; m++)
        for (int r = 0; r < nb; r++)
            y[(size_t)m * N + n0 + r] += bias[n0 + r];
}

/* The rows of one block, when no scratch could be had: the streaming
 * kernel needs none. */
static void block_rows(float *y, const float *x, const wmat *w,
                       const float *bias, int M, int acc, int n0, int nb) {
    const wk_kernels *kk = wk_kernel(WMAT_PATH_AUTO);
    for (int n = n0; n < n0 + nb; n += WK_ROWS) {
        wmat part = *w; /* the group must not reach past this block */
        part.N = n0 + nb;
        rows_group(y, x, &part, bias, M, acc, n, kk);
    }
}

/*
 * Blocks of at most WMAT_BLOCK_BYTES, their count a multiple of the
 * thread count so static scheduling gives every thread the same work.
 * Each thread calls sgemm on its own blocks; OpenBLAS runs single-threaded
 * inside an OpenMP parallel region.
 */
static void linear_blocks(float *y, const float *x, const wmat *w,
                          const float *bias, int M, int acc) {
    int N = w->N, K = w->K > 0 ? w->K : 1, T = core_max_threads();
    long nb_max = WMAT_BLOCK_BYTES / ((long)K * 4);
    nb_max = nb_max < 16 ? 16 : nb_max;
    long per_thread = (N + (long)T * nb_max - 1) / ((long)T * nb_max);
    long nblocks = per_thread * T;
    int nb = (int)((N + nblocks - 1) / nblocks);
    nb = (nb + 3) / 4 * 4;
    int B = (N + nb - 1) / nb;
    (void)B; /* unused without OpenMP */
#pragma omp parallel for schedule(static) if (B > 1)
    for (int b = 0; b < B; b++) {
        int n0 = b * nb, rows = N - n0 < nb ? N - n0 : nb;
        float *s = scratch_get((size_t)nb * K);
        if (s)
            block_sgemm(y, x, w, bias, M, acc, n0, rows, s);
        else
            block_rows(y, x, w, bias, M, acc, n0, rows);
    }
}

typedef struct {
    float *y;
    const float *x;
    const wmat *w;
    const float *bias;
    int M, acc;
} split_job;

/* Output columns [16 c0, 16 c1) of a float32 product, one sgemm; a bias
 * is written first and the product added (see op_linear). */
static void split_range(void *ctx, int c0, int c1, int thread) {
    const split_job *j = ctx;
    int N = j->w->N, K = j->w->K, n0 = c0 * 16;
    int nb = (c1 * 16 < N ? c1 * 16 : N) - n0;
    const float *wf = (const float *)j->w->data + (size_t)n0 * K;
    int pre = j->bias && !j->acc;
    for (int m = 0; pre && m < j->M; m++)
        memcpy(j->y + (size_t)m * N + n0, j->bias + n0, nb * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->M, nb, K, 1.0f,
                j->x, K, wf, K, j->acc || pre ? 1.0f : 0.0f, j->y + n0, N);
    for (int m = 0; j->bias && !pre && m < j->M; m++)
        for (int n = n0; n < n0 + nb; n++)
            j->y[(size_t)m * N + n] += j->bias[n];
}

/*
 * Float32 weights through OpenBLAS.  Up to WMAT_SPLIT_MAX_MACS the output
 * columns are split over the pool, one single-threaded sgemm per thread:
 * OpenBLAS's own threads would cost an OpenMP wake-up per product, about
 * what a [128, 256] x [256, 256] product takes.  Beyond, OpenBLAS's
 * threading (which shares the packing of x) is the better one.
 */
static void linear_f32_blas(float *y, const float *x, const wmat *w,
                            const float *bias, int M, int acc) {
    const float *wf = w->data;
    double macs = (double)M * w->N * w->K;
    if (M > 1 && macs >= WMAT_PAR_MIN_MACS && macs <= WMAT_SPLIT_MAX_MACS) {
        split_job j = {y, x, w, bias, M, acc};
        pool_for((w->N + 15) / 16, split_range, &j);
        return;
    }
    if (!acc) {
        op_linear(y, x, wf, bias, M, w->K, w->N);
        return;
    }
    op_linear_acc(y, x, wf, M, w->K, w->N);
    if (bias)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < w->N; n++)
                y[(size_t)m * w->N + n] += bias[n];
}

/* ------------------------------------------------------------------ */
/* Entry points                                                         */
/* ------------------------------------------------------------------ */

/* K == 0: the product is empty, y is the bias (or unchanged / zero). */
static void linear_empty(float *y, const wmat *w, const float *bias, int M,
                         int acc) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < w->N; n++) {
            float *v = &y[(size_t)m * w->N + n];
            *v = (acc ? *v : 0.0f) + (bias ? bias[n] : 0.0f);
        }
}

/* The streaming kernel where it measured faster (see the crossovers in
 * each wk_kernels), OpenBLAS elsewhere. */
static wmat_path auto_path(const wmat *w, int M) {
    const wk_kernels *kk = wk_kernel(WMAT_PATH_AUTO);
    int own = w->dtype == WMAT_F32
                  ? M >= kk->f32_min_m && M <= kk->f32_max_m
                  : M <= kk->rows_max_m;
    return own ? kk->path : WMAT_PATH_BLAS;
}

void wmat_linear_path(float *y, const float *x, const wmat *w,
                      const float *bias, int M, int accumulate,
                      wmat_path path) {
    if (M <= 0 || w->N <= 0)
        return;
    if (w->K <= 0) {
        linear_empty(y, w, bias, M, accumulate);
        return;
    }
    if (path == WMAT_PATH_AUTO && w->packed && w->dtype == WMAT_F32) {
        gemm_packed(y, x, w->packed, bias, M, w->N, w->K, accumulate);
        return;
    }
    if (path == WMAT_PATH_AUTO)
        path = auto_path(w, M);
    if (path != WMAT_PATH_BLAS)
        linear_rows(y, x, w, bias, M, accumulate, wk_kernel(path));
    else if (w->dtype == WMAT_F32)
        linear_f32_blas(y, x, w, bias, M, accumulate);
    else
        linear_blocks(y, x, w, bias, M, accumulate);
}

typedef struct {
    const wmat_job *jobs;
    const int *first; /* first row group of each job, then the total */
    int M;
    const wk_kernels *kk;
} jobs_ctx;

static void jobs_range(void *ctx, int g0, int g1, int thread) {
    const jobs_ctx *j = ctx;
    int i = 0;
    for (int g = g0; g < g1; g++) {
        while (g >= j->first[i + 1])
            i++;
        rows_group(j->jobs[i].y, j->jobs[i].x, j->jobs[i].w, NULL, j->M, 0,
                   (g - j->first[i]) * WK_ROWS, j->kk);
    }
}

void wmat_linear_jobs(const wmat_job *jobs, int n, int M) {
    const wk_kernels *kk = wk_kernel(WMAT_PATH_AUTO);
    int first[WMAT_MAX_JOBS + 1], G = 0, fused = n <= WMAT_MAX_JOBS;
    double bytes = 0, macs = 0;
    for (int i = 0; fused && i < n; i++) {
        const wmat *w = jobs[i].w;
        fused = w->N > 0 && w->K > 0 && !w->packed &&
                auto_path(w, M) != WMAT_PATH_BLAS;
        first[i] = G;
        G += (w->N + WK_ROWS - 1) / WK_ROWS;
        bytes += (double)wmat_bytes(w);
        macs += (double)M * w->N * w->K;
    }
    if (!fused || M <= 0) {
        for (int i = 0; i < n; i++)
            wmat_linear(jobs[i].y, jobs[i].x, jobs[i].w, NULL, M, 0);
        return;
    }
    first[n] = G;
    jobs_ctx j = {jobs, first, M, kk};
    if (worth_threads(bytes, macs))
        pool_for(G, jobs_range, &j);
    else
        jobs_range(&j, 0, G, 0);
}

void wmat_linear(float *y, const float *x, const wmat *w, const float *bias,
                 int M, int accumulate) {
    wmat_linear_path(y, x, w, bias, M, accumulate, WMAT_PATH_AUTO);
}
