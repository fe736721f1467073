/*
 * attention_ref.c - the plain loops of attention, forward and backward:
 * the definition the BLAS-backed kernels in attention.c are tested
 * against, and the kernel for one query row (decoding), where a matrix
 * product has nothing to gain.
 */
#include <math.h>
#include <string.h>

#include "core/pool.h"
#include "ops/ops_backward.h"

/* From this much work (query rows x keys x head width) the heads are
 * split over the pool (core/pool.h): a cross-attention step of t5-base
 * (12 heads x 128 keys x 64) is about 100K. */
#define ATTN_PAR_MIN_WORK (1L << 16)
/* Longer rows are done in chunks of this many keys (see below). */
#define ATTN_STACK_KEYS 4096

typedef struct {
    float *out;
    const float *q, *k, *v;
    const attn_shape *a;
} ref_job;

/* Output of (head, query row) pairs hi0 .. hi1-1, through row p [Tk]. */
static void ref_pairs(const ref_job *j, float *p, int hi0, int hi1) {
    const attn_shape *a = j->a;
    for (int hi = hi0; hi < hi1; hi++) {
        int h = hi / a->Tq, i = hi % a->Tq;
        float *oi = j->out + (size_t)i * a->o_stride + h * a->dk;
        op_attention_row_probs(p, j->q, j->k, h, i, a);
        memset(oi, 0, (size_t)a->dk * sizeof *oi);
        for (int t = 0; t < a->Tk; t++) {
            const float *vt = j->v + (size_t)t * a->kv_stride + h * a->dk;
            for (int d = 0; d < a->dk; d++)
                oi[d] += p[t] * vt[d];
        }
    }
}

/*
 * The same output without a row of Tk probabilities, for rows longer
 * than the stack buffer: the scores are made three times, a chunk at a
 * time (maximum, sum, weighted values), with op_softmax's arithmetic in
 * op_softmax's order, so the result is bit for bit that of ref_pairs.
 */
static void ref_pairs_chunked(const ref_job *j, int hi0, int hi1) {
    const attn_shape *a = j->a;
    float s[ATTN_STACK_KEYS];
    for (int hi = hi0; hi < hi1; hi++) {
        int h = hi / a->Tq, i = hi % a->Tq;
        float *oi = j->out + (size_t)i * a->o_stride + h * a->dk;
        float mx = -INFINITY, sum = 0.0f;
        for (int pass = 0; pass < 3; pass++) {
            float inv = 1.0f / sum;
            for (int t0 = 0; t0 < a->Tk; t0 += ATTN_STACK_KEYS) {
                int n = a->Tk - t0 < ATTN_STACK_KEYS ? a->Tk - t0
                                                     : ATTN_STACK_KEYS;
                op_attention_row_scores(s, j->q, j->k, h, i, t0, t0 + n, a);
                if (pass > 0) /* chunks start at multiples of the lanes */
                    op_exp_shifted(s, n, mx);
                for (int t = 0; t < n; t++) {
                    const float *vt = j->v +
                                      (size_t)(t0 + t) * a->kv_stride +
                                      h * a->dk;
                    if (pass == 0)
                        mx = s[t] > mx ? s[t] : mx;
                    else if (pass == 1)
                        sum += s[t];
                    else
                        for (int d = 0; d < a->dk; d++)
                            oi[d] += s[t] * inv * vt[d];
                }
            }
            if (pass == 1)
                memset(oi, 0, (size_t)a->dk * sizeof *oi);
        }
    }
}

static void ref_range(void *ctx, int hi0, int hi1, int thread) {
    const ref_job *j = ctx;
    if (j->a->Tk <= ATTN_STACK_KEYS) {
        float p[ATTN_STACK_KEYS];
        ref_pairs(j, p, hi0, hi1);
        return;
    }
    ref_pairs_chunked(j, hi0, hi1);
}

void op_attention_ref(float *out, const float *q, const float *k,
                      const float *v, const attn_shape *a) {
    int total = a->H * a->Tq;
    ref_job j = {out, q, k, v, a};
    if ((long)total * a->Tk * a->dk >= ATTN_PAR_MIN_WORK)
        pool_for(total, ref_range, &j);
    else
        ref_range(&j, 0, total, 0);
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
/* The dropout tensor's element of probability (h, i, j). */
static size_t drop_index(const attn_shape *a, int h, int i, int j) {
    return a->drop_first + ((size_t)h * a->Tq + i) * a->Tk + j;
}

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
                if (a->drop_p > 0.0f) /* through the dropout's mask */
                    op_dropout(&dp, &dp, 1, drop_index(a, h, i, j),
                               a->drop_p, a->drop_key);
                ds[j] = dp;
                dot += (double)dp * pr[j];
            }
            memset(dqi, 0, (size_t)a->dk * sizeof *dqi);
            for (int j = 0; j < a->Tk; j++) {
                float g = pr[j] * (ds[j] - (float)dot), pv = pr[j];
                const float *kj = k + (size_t)j * a->kv_stride + h * a->dk;
                float *dkj = dk + (size_t)j * a->kv_stride + h * a->dk;
                float *dvj = dv + (size_t)j * a->kv_stride + h * a->dk;
                if (a->drop_p > 0.0f)
                    op_dropout(&pv, &pv, 1, drop_index(a, h, i, j),
                               a->drop_p, a->drop_key);
                for (int d = 0; d < a->dk; d++) {
                    dqi[d] += a->scale * g * kj[d];
                    dkj[d] += a->scale * g * qi[d];
                    dvj[d] += pv * doi[d];
                }
                if (dbias)
                    dbias[h * a->bias_h + i * a->bias_q + j] += g;
            }
        }
    }
}
