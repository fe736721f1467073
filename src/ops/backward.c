/* backward.c - gradients of the kernels (see ops_backward.h). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "ops/ops_backward.h"

static void linear_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w, int M, int K,
                            int N, float beta_dx) {
    if (M <= 0 || N <= 0)
        return;
    if (dx) /* dx[M, K] = dy[M, N] w[N, K] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f,
                    dy, N, w, K, beta_dx, dx, K);
    if (dw) /* dw[N, K] += dy^T x */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f,
                    dy, N, x, K, 1.0f, dw, K);
    if (db)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                db[j] += dy[(size_t)i * N + j];
}

void op_linear_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, int M, int K,
                        int N) {
    linear_backward(dx, dw, db, dy, x, w, M, K, N, 0.0f);
}

void op_linear_backward_acc(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w, int M, int K,
                            int N) {
    linear_backward(dx, dw, db, dy, x, w, M, K, N, 1.0f);
}

void op_rmsnorm_backward(float *dx, float *dw, const float *dy,
                         const float *x, const float *w, int M, int D,
                         float eps) {
    for (int i = 0; i < M; i++) {
        const float *xi = x + (size_t)i * D, *gi = dy + (size_t)i * D;
        float *dxi = dx + (size_t)i * D;
        double ss = 0, dot = 0;
        for (int d = 0; d < D; d++) {
            ss += (double)xi[d] * xi[d];
            dot += (double)gi[d] * w[d] * xi[d];
        }
        double r = 1.0 / sqrt(ss / D + eps);
        double c = dot * r * r * r / D;
        for (int d = 0; d < D; d++) {
            dw[d] += gi[d] * (float)(xi[d] * r);
            dxi[d] = (float)(gi[d] * w[d] * r - xi[d] * c);
        }
    }
}

void op_layernorm_backward(float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, int M, int D,
                           float eps) {
    for (int i = 0; i < M; i++) {
        const float *xi = x + (size_t)i * D, *gi = dy + (size_t)i * D;
        float *dxi = dx + (size_t)i * D;
        double mean = 0, var = 0;
        for (int d = 0; d < D; d++)
            mean += xi[d];
        mean /= D;
        for (int d = 0; d < D; d++)
            var += (xi[d] - mean) * (xi[d] - mean);
        double r = 1.0 / sqrt(var / D + eps), sg = 0, sgx = 0;
        for (int d = 0; d < D; d++) {
            double xh = (xi[d] - mean) * r, g = (double)gi[d] * w[d];
            dw[d] += gi[d] * (float)xh;
            db[d] += gi[d];
            sg += g;
            sgx += g * xh;
        }
        for (int d = 0; d < D; d++) {
            double xh = (xi[d] - mean) * r, g = (double)gi[d] * w[d];
            dxi[d] = (float)(r * (g - sg / D - xh * sgx / D));
        }
    }
}

float op_activate_grad1(float x, t5e_activation act) {
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    switch (act) {
    case T5E_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case T5E_ACT_GELU: {
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678f));
        float pdf = expf(-0.5f * x * x) * 0.3989422804f;
        return cdf + x * pdf;
    }
    case T5E_ACT_GELU_NEW:
    case T5E_ACT_GELU_FAST: {
        float u = k * (x + 0.044715f * x * x * x), t = tanhf(u);
        float du = k * (1.0f + 3.0f * 0.044715f * x * x);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
    }
    case T5E_ACT_QUICK_GELU: {
        float s = 1.0f / (1.0f + expf(-1.702f * x));
        return s + x * 1.702f * s * (1.0f - s);
    }
    case T5E_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    case T5E_ACT_TANH: {
        float t = tanhf(x);
        return 1.0f - t * t;
    }
    case T5E_ACT_SIGMOID: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f - s);
    }
    case T5E_ACT_LINEAR: return 1.0f;
    }
    return 1.0f;
}

void op_activate_backward(float *dx, const float *dy, const float *x,
                          size_t n, t5e_activation act) {
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * op_activate_grad1(x[i], act);
}

double op_cross_entropy(float *dlogits, const float *logits,
                        const int32_t *labels, int M, int V, int ignore,
                        float smoothing, float scale, int *count) {
    int n = 0;
    for (int i = 0; i < M; i++)
        n += labels[i] != ignore;
    *count = n;
    double loss = 0;
    for (int i = 0; i < M; i++) {
        const float *li = logits + (size_t)i * V;
        float *di = dlogits + (size_t)i * V;
        if (labels[i] == ignore || !n) {
            memset(di, 0, (size_t)V * sizeof *di);
            continue;
        }
        float lse = op_log_softmax(di, li, V); /* di = log p for now */
        (void)lse;
        double nll = -di[labels[i]], smooth = 0;
        for (int j = 0; j < V; j++)
            smooth -= di[j];
        loss += (1.0 - smoothing) * nll + smoothing * smooth / V;
        for (int j = 0; j < V; j++) {
            float target = smoothing / V + (j == labels[i]) *
                           (1.0f - smoothing);
            di[j] = (expf(di[j]) - target) * scale / n;
        }
    }
    return n ? loss / n : 0.0;
}
