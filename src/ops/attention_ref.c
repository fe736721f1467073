/*
 * attention_ref.c - the plain loops of attention, forward and backward:
 * the definition the BLAS-backed kernels in attention.c are tested
 * against, and the kernel for one query row (decoding), where a matrix
 * product has nothing to gain.
 */
#include <string.h>

#include "ops/ops_backward.h"

/* Less work than this (query rows x keys x head width) stays on one
 * thread: a decoding step's attention takes tens of microseconds, about
 * what waking a sleeping thread costs (see ops/wmat.c). */
#define ATTN_PAR_MIN_WORK (1L << 19)

void op_attention_ref(float *out, const float *q, const float *k,
                      const float *v, const attn_shape *a) {
    int total = a->H * a->Tq;
    int par = (long)total * a->Tk * a->dk >= ATTN_PAR_MIN_WORK;
    (void)par; /* unused without OpenMP */
#pragma omp parallel if (par)
    {
        float p[a->Tk > 0 ? a->Tk : 1];
#pragma omp for schedule(static)
        for (int hi = 0; hi < total; hi++) {
            int h = hi / a->Tq, i = hi % a->Tq;
            float *oi = out + (size_t)i * a->o_stride + h * a->dk;
            op_attention_row_probs(p, q, k, h, i, a);
            memset(oi, 0, (size_t)a->dk * sizeof *oi);
            for (int j = 0; j < a->Tk; j++) {
                const float *vj = v + (size_t)j * a->kv_stride + h * a->dk;
                for (int d = 0; d < a->dk; d++)
                    oi[d] += p[j] * vj[d];
            }
        }
    }
}

void op_attention_probs_ref(float *out, float *p, const float *q,
                            const float *k, const float *v,
                            const attn_shape *a) {
    int total = a->H * a->Tq;
#pragma omp parallel for schedule(static)
    for (int hi = 0; hi < total; hi++) {
        int h = hi / a->Tq, i = hi % a->Tq;
        float *pr = p + ((size_t)h * a->Tq + i) * a->Tk;
        float *oi = out + (size_t)i * a->o_stride + h * a->dk;
        op_attention_row_probs(pr, q, k, h, i, a);
        memset(oi, 0, (size_t)a->dk * sizeof *oi);
        for (int j = 0; j < a->Tk; j++) {
            const float *vj = v + (size_t)j * a->kv_stride + h * a->dk;
            for (int d = 0; d < a->dk; d++)
                oi[d] += pr[j] * vj[d];
        }
    }
}

/*
 * Per head: dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = scale dS K,
 * dK += scale dS^T Q, dV += P^T dO, dbias += dS.  Heads write disjoint
 * columns of dq, dk, dv, so they run in parallel.
 */
void op_attention_backward_ref(float *dq, float *dk, float *dv,
                               float *dbias, const float *dout,
                               const float *p, const float *q,
                               const float *k, const float *v,
                               const attn_shape *a) {
#pragma omp parallel for schedule(static)
    for (int h = 0; h < a->H; h++) {
        float ds[a->Tk > 0 ? a->Tk : 1];
        for (int i = 0; i < a->Tq; i++) {
            const float *pr = p + ((size_t)h * a->Tq + i) * a->Tk;
            const float *doi = dout + (size_t)i * a->o_stride + h * a->dk;
            const float *qi = q + (size_t)i * a->q_stride + h * a->dk;
            float *dqi = dq + (size_t)i * a->q_stride + h * a->dk;
            double dot = 0;
            for (int j = 0; j < a->Tk; j++) {
                const float *vj = v + (size_t)j * a->kv_stride + h * a->dk;
                float dp = 0.0f;
                for (int d = 0; d < a->dk; d++)
                    dp += doi[d] * vj[d];
                ds[j] = dp;
                dot += (double)dp * pr[j];
            }
            memset(dqi, 0, (size_t)a->dk * sizeof *dqi);
            for (int j = 0; j < a->Tk; j++) {
                float g = pr[j] * (ds[j] - (float)dot);
                const float *kj = k + (size_t)j * a->kv_stride + h * a->dk;
                float *dkj = dk + (size_t)j * a->kv_stride + h * a->dk;
                float *dvj = dv + (size_t)j * a->kv_stride + h * a->dk;
                for (int d = 0; d < a->dk; d++) {
                    dqi[d] += a->scale * g * kj[d];
                    dkj[d] += a->scale * g * qi[d];
                    dvj[d] += pr[j] * doi[d];
                }
                if (dbias)
                    dbias[h * a->bias_h + i * a->bias_q + j] += g;
            }
        }
    }
}
