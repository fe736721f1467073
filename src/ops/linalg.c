/* linalg.c - matrix products through BLAS. */
#include <cblas.h>
#include <string.h>

#include "ops/ops.h"

/*
 * One row goes through sgemv: OpenBLAS's sgemm is several times slower for
 * M = 1, and decoding one token at a time is exactly that case.
 */
static void linear_rows(float *y, const float *x, const float *w, int M,
                        int K, int N, float beta) {
    if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x, 1,
                    beta, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f,
                    x, K, w, K, beta, y, N);
}

/* The bias is written first and the product added to it (beta = 1):
 * with beta = 0 OpenBLAS clears y in a pass of its own, and the bias
 * would be another pass (together about a tenth of an ELECTRA-Small
 * forward on the AVX2 machine). */
void op_linear(float *y, const float *x, const float *w, const float *bias,
               int M, int K, int N) {
    if (M <= 0 || N <= 0)
        return;
    if (!bias) {
        linear_rows(y, x, w, M, K, N, 0.0f);
        return;
    }
    for (int i = 0; i < M; i++)
        memcpy(y + (size_t)i * N, bias, (size_t)N * sizeof *y);
    linear_rows(y, x, w, M, K, N, 1.0f);
}

void op_linear_acc(float *y, const float *x, const float *w, int M, int K,
                   int N) {
    if (M > 0 && N > 0)
        linear_rows(y, x, w, M, K, N, 1.0f);
}
