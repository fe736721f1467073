/* linalg.c - matrix products through BLAS. */
#include <cblas.h>

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

void op_linear(float *y, const float *x, const float *w, const float *bias,
               int M, int K, int N) {
    if (M <= 0 || N <= 0)
        return;
    linear_rows(y, x, w, M, K, N, 0.0f);
    if (!bias)
        return;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            y[(size_t)i * N + j] += bias[j];
}

void op_linear_acc(float *y, const float *x, const float *w, int M, int K,
                   int N) {
    if (M > 0 && N > 0)
        linear_rows(y, x, w, M, K, N, 1.0f);
}
