/*
 * wmat.h - linear layers whose weights are stored in low precision.
 *
 * A wmat describes a weight matrix W[N, K] in the Hugging Face layout
 * (N outputs, K inputs, y = x W^T) whose elements are float32, float16,
 * bfloat16 or int8 with one scale per output row.  The data is only
 * borrowed: it may point into a memory-mapped checkpoint, so F16/BF16 rows
 * need not be aligned (a row is K * 2 bytes).  Element bytes are read in
 * the host's order, which for safetensors means a little-endian host.
 *
 * How wmat_linear computes, by the number of input rows M:
 *   - small M (decoding): every weight row is streamed from memory once
 *     and dotted with all M input rows, converting to float32 on the fly
 *     and accumulating in float32.  This is bound by memory bandwidth, so
 *     half-size weights run up to twice as fast as float32 and int8 up to
 *     four times, as far as the conversion keeps up (int8's is the
 *     dearest).  Rows are split across OpenMP threads in contiguous
 *     chunks; called inside a parallel region it runs on the caller alone.
 *   - large M (encoder, batches): blocks of weight rows are converted to
 *     float32 into a per-thread scratch buffer and multiplied with
 *     cblas_sgemm, so the cost is near that of a float32 sgemm.
 *   - F32 uses the streaming kernel at small M, where OpenBLAS's sgemm is
 *     weak, and sgemm at large M.  At M = 1 it uses the AVX-512 kernel
 *     (faster than sgemv from L3) or else sgemv.
 *   The crossovers were measured per instruction set (see wmat.c).
 * Results equal op_linear on the float32 (for I8: dequantized) weights up
 * to float32 rounding of a different summation order.
 *
 * The large-M path keeps one scratch buffer per thread (at most about
 * 4 MiB), grown to the largest block seen and freed when the thread
 * exits: the only memory this module holds between calls, and the only
 * allocation.  Calls from several threads at once are safe.
 *
 * Dimension names: M input rows, K inputs per row, N outputs.
 */
#ifndef T5E_WMAT_H
#define T5E_WMAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { WMAT_F32 = 0, WMAT_F16, WMAT_BF16, WMAT_I8 } wmat_dtype;

typedef struct {
    wmat_dtype dtype;
    int N, K;            /* out rows, in columns: W[N, K], y = x W^T */
    const void *data;    /* [N, K] elements of dtype, row-major */
    const float *scale;  /* [N], I8 only: w[n][k] = data[n][k] * scale[n] */
    /* F32 only, or NULL: the same matrix rearranged by gemm_pack (an
     * owner's copy made at load).  When set, wmat_linear multiplies with
     * it at every M, and data is needed only by the explicit paths of
     * wmat_linear_path. */
    const float *packed;
} wmat;

/*
 * y[M, N] = x[M, K] W^T (+ bias[N] when not NULL).  With accumulate != 0,
 * y += x W^T, and bias (when given) is added as well.  y must not overlap
 * x.  M <= 0 or N <= 0 does nothing; K == 0 gives the bias (or zeros).
 */
void wmat_linear(float *y, const float *x, const wmat *w, const float *bias,
                 int M, int accumulate);

/*
 * Several products over the same number of input rows M, y_i[M, N_i] =
 * x_i[M, K_i] W_i^T (no bias, y_i overwritten): decoding's q, k and v,
 * or a gated feed-forward's two branches.  When every product takes the
 * streaming kernel (small M), they share one parallel region, the row
 * groups of all matrices split over the threads, so that small matrices
 * together use every core for the price of one thread wake-up.  The
 * results are those of one wmat_linear call per product.
 */
typedef struct {
    float *y;
    const float *x;
    const wmat *w;
} wmat_job;

#define WMAT_MAX_JOBS 8
void wmat_linear_jobs(const wmat_job *jobs, int n, int M);

/*
 * Per-output-row symmetric int8 quantization of w[N, K] into q[N, K] and
 * scale[N]:
 *   scale[n] = max_k |w[n][k]| / 127       (float32 division)
 *   q[n][k]  = clamp(round_half_even(w[n][k] / scale[n]), -127, 127)
 * A row whose scale is 0 (all zeros, or a maximum so small that /127
 * underflows) gets q = 0 and scale = 0, which dequantizes to exactly 0.
 * Weights must be finite; a NaN quantizes to 0.
 */
void wmat_quantize_i8(int8_t *q, float *scale, const float *w, int N,
                      int K);

/* out[K] = row n of W as float32 (for I8: q * scale[n]).  For embedding
 * lookups from a half-precision or quantized table. */
void wmat_row(float *out, const wmat *w, int n);

/* Bytes of one element of dtype (4, 2, 2, 1). */
size_t wmat_dtype_size(wmat_dtype dt);
/* "f32", "f16", "bf16", "i8". */
const char *wmat_dtype_name(wmat_dtype dt);
/* Bytes that w's data and scale occupy: N * K * element + N * 4 for I8. */
size_t wmat_bytes(const wmat *w);

/*
 * For tests and benchmarks: run one code path whatever the sizes.
 *   AUTO    what wmat_linear picks
 *   SCALAR  the portable streaming kernel (F32 too)
 *   AVX2    the 8-wide streaming kernel, or SCALAR if not compiled in
 *   AVX512  the 16-wide one, or else AVX2, or else SCALAR
 *   BLAS    convert blocks + sgemm; F32 goes to op_linear directly
 */
typedef enum {
    WMAT_PATH_AUTO = 0,
    WMAT_PATH_SCALAR,
    WMAT_PATH_AVX2,
    WMAT_PATH_AVX512,
    WMAT_PATH_BLAS
} wmat_path;

void wmat_linear_path(float *y, const float *x, const wmat *w,
                      const float *bias, int M, int accumulate,
                      wmat_path path);
/* 1 if `path` runs its own code in this build, 0 if it falls back. */
int wmat_path_compiled(wmat_path path);

#endif
