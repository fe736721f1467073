/* gemm_packed.c - the packed-weight product (see gemm_packed.h). */
#include <string.h>

#include "core/pool.h"
#include "ops/gemm_packed.h"

#if defined(__AVX512F__)
#define GP_AVX512 1
#include <immintrin.h>
#endif

#define GP_MR 6                  /* rows of x per kernel call */
#define GP_CHUNK_BYTES (1 << 18) /* x rows per work item: ~L2 / 4 */
#define GP_PAR_MIN_MACS (1 << 18) /* below, one thread: see wmat.c */

size_t gemm_packed_floats(int N, int K) {
    return (size_t)((N + GP_NR - 1) / GP_NR) * GP_NR * (size_t)K;
}

void gemm_pack(float *dst, const float *w, int N, int K) {
    int panels = (N + GP_NR - 1) / GP_NR;
    for (int p = 0; p < panels; p++) {
        float *pan = dst + (size_t)p * GP_NR * K;
        for (int k = 0; k < K; k++)
            for (int c = 0; c < GP_NR; c++) {
                int n = p * GP_NR + c;
                pan[(size_t)k * GP_NR + c] = n < N ? w[(size_t)n * K + k]
                                                   : 0.0f;
            }
    }
}

#ifdef GP_AVX512

int gemm_packed_available(void) { return 1; }

/*
 * y[mr, cols] (row stride ldy) = x[mr, K] (row stride K) . pan[K][64]
 * for the panel's first `cols` columns, plus bias[cols] and, with acc,
 * the old y.  mr is a constant at every call site, so the compiler keeps
 * the 4 x mr accumulators in registers.
 */
static inline __attribute__((always_inline)) void
tile(const int mr, float *y, long ldy, const float *x, int K,
     const float *pan, int cols, const float *bias, int acc) {
    __m512 c[GP_MR][4];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < 4; j++)
            c[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = pan + (size_t)k * GP_NR;
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        __m512 b2 = _mm512_load_ps(b + 32), b3 = _mm512_load_ps(b + 48);
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(x[(size_t)i * K + k]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
            c[i][2] = _mm512_fmadd_ps(a, b2, c[i][2]);
            c[i][3] = _mm512_fmadd_ps(a, b3, c[i][3]);
        }
    }
    for (int j = 0; j < 4; j++) {
        int left = cols - 16 * j;
        if (left <= 0)
            break;
        __mmask16 m = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        __m512 bj = bias ? _mm512_maskz_loadu_ps(m, bias + 16 * j)
                         : _mm512_setzero_ps();
        for (int i = 0; i < mr; i++) {
            float *yp = y + (size_t)i * ldy + 16 * j;
            __m512 v = _mm512_add_ps(c[i][j], bj);
            if (acc)
                v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), v);
            _mm512_mask_storeu_ps(yp, m, v);
        }
    }
}

/* Rows [m0, m1) of x against one panel. */
static void rows_panel(float *y, long N, const float *x, int K,
                       const float *pan, int cols, const float *bias,
                       int acc, int m0, int m1) {
    int m = m0;
    for (; m + GP_MR <= m1; m += GP_MR)
        tile(GP_MR, y + (size_t)m * N, N, x + (size_t)m * K, K, pan, cols,
             bias, acc);
    float *yr = y + (size_t)m * N;
    const float *xr = x + (size_t)m * K;
    switch (m1 - m) {
    case 5: tile(5, yr, N, xr, K, pan, cols, bias, acc); break;
    case 4: tile(4, yr, N, xr, K, pan, cols, bias, acc); break;
    case 3: tile(3, yr, N, xr, K, pan, cols, bias, acc); break;
    case 2: tile(2, yr, N, xr, K, pan, cols, bias, acc); break;
    case 1: tile(1, yr, N, xr, K, pan, cols, bias, acc); break;
    default: break;
    }
}

typedef struct {
    float *y;
    const float *x, *packed, *bias;
    int M, N, K, acc;
    int panels, chunk_rows;
} gp_job;

/* Work items are (row chunk, panel) pairs, chunk-major, so a thread's
 * contiguous range reuses one chunk of x across its panels. */
static void items_range(void *ctx, int t0, int t1, int thread) {
    const gp_job *j = ctx;
    (void)thread;
    for (int t = t0; t < t1; t++) {
        int chunk = t / j->panels, p = t % j->panels;
        int m0 = chunk * j->chunk_rows;
        int m1 = m0 + j->chunk_rows < j->M ? m0 + j->chunk_rows : j->M;
        int n0 = p * GP_NR;
        int cols = j->N - n0 < GP_NR ? j->N - n0 : GP_NR;
        rows_panel(j->y + n0, j->N, j->x, j->K,
                   j->packed + (size_t)p * GP_NR * j->K, cols,
                   j->bias ? j->bias + n0 : NULL, j->acc, m0, m1);
    }
}

void gemm_packed(float *y, const float *x, const float *packed,
                 const float *bias, int M, int N, int K, int acc) {
    /* chunks of nearly equal rows, each at most ~GP_CHUNK_BYTES of x
     * (a short last chunk would leave one thread its tail alone) */
    int most = GP_CHUNK_BYTES / (4 * K);
    most = most < GP_MR ? GP_MR : most;
    int chunks = (M + most - 1) / most, rows = (M + chunks - 1) / chunks;
    gp_job j = {y, x, packed, bias, M, N, K, acc, (N + GP_NR - 1) / GP_NR,
                rows};
    int items = (M + rows - 1) / rows * j.panels;
    if ((double)M * N * K < GP_PAR_MIN_MACS)
        items_range(&j, 0, items, 0);
    else
        pool_for(items, items_range, &j);
}

#else /* no AVX-512: callers use sgemm */

int gemm_packed_available(void) { return 0; }

void gemm_packed(float *y, const float *x, const float *packed,
                 const float *bias, int M, int N, int K, int acc) {
    (void)y, (void)x, (void)packed, (void)bias, (void)M, (void)N, (void)K,
        (void)acc;
}

#endif
