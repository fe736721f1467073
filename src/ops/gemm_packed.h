/*
 * gemm_packed.h - float32 products with weights rearranged once, at load.
 *
 * An encoder multiplies the same weight matrices W[N, K] by a new x[M, K]
 * on every call.  sgemm must copy W into its blocked layout each time;
 * at M = 128 (one ELECTRA sequence) that copy is about a sixth of the
 * product's time.  Here W is copied once into panels of GP_NR = 64 output
 * columns, each stored k-major ([K][64], zero-padded past N), which is
 * the order the AVX-512 kernel reads: per k, four vectors of the panel
 * and a broadcast of x[i][k] for each of 6 rows, 24 fused multiply-adds.
 * A panel (64 KB at K = 256) stays in L2 while every row block of x
 * passes over it.
 *
 * Threads: the pool splits (row chunk, panel) pairs; each output element
 * is computed by one thread in a fixed k order, so results do not depend
 * on the thread count.
 *
 * Without AVX-512 at compile time gemm_packed_available() is 0 and
 * callers keep their sgemm path; the functions then do nothing useful
 * and must not be called.
 */
#ifndef T5E_GEMM_PACKED_H
#define T5E_GEMM_PACKED_H

#include <stddef.h>

#define GP_NR 64 /* output columns per panel */

/* 1 if this build has the kernel. */
int gemm_packed_available(void);

/* Floats the packed form of W[N, K] takes: ceil(N / 64) * 64 * K. */
size_t gemm_packed_floats(int N, int K);

/* dst[gemm_packed_floats(N, K)] (64-byte aligned) = w[N, K] in panels. */
void gemm_pack(float *dst, const float *w, int N, int K);

/*
 * y[M, N] = x[M, K] W^T (+ bias[N] when not NULL), W given packed.  With
 * acc != 0, y += x W^T (+ bias).  Rows of x and y are contiguous (row
 * strides K and N).  M, N, K >= 1.
 */
void gemm_packed(float *y, const float *x, const float *packed,
                 const float *bias, int M, int N, int K, int acc);

#endif
