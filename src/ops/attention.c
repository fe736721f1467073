/*
 * attention.c - multi-head attention through matrix products.
 *
 * Each head of a batch item is three products: S = scale Q K^T, then
 * (after bias, masks and softmax on S) O = P V; the backward is four
 * more.  Heads run in parallel, one per thread; OpenBLAS runs its own
 * calls single-threaded inside a parallel region, so the two do not
 * fight over the cores.  One query row (decoding) goes to the plain loops
 * of attention_ref.c.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_backward.h"

/* Bias, masks and softmax over the score rows s [Tq, Tk] of head h. */
static void scores_to_probs(float *s, int h, const attn_shape *a) {
    for (int i = 0; i < a->Tq; i++) {
        float *row = s + (size_t)i * a->Tk;
        const float *bias = a->bias ? a->bias + h * a->bias_h +
                                      i * a->bias_q : NULL;
        int last = a->causal ? a->q_pos0 + i : a->Tk - 1;
        for (int j = 0; j < a->Tk; j++) {
            if (bias)
                row[j] += bias[j];
            if ((a->key_mask && !a->key_mask[j]) || j > last)
                row[j] += OP_MASKED;
        }
        op_softmax(row, a->Tk);
    }
}

/* Head h's probabilities p [Tq, Tk] through the dropout of a, into
 * pd. */
static void head_dropout(float *pd, const float *p, int h,
                         const attn_shape *a) {
    size_t per = (size_t)a->Tq * a->Tk;
    op_dropout(pd, p, per, a->drop_first + (size_t)h * per, a->drop_p,
               a->drop_key);
}

/* p [Tq, Tk] and the head's columns of out, for head h; with dropout,
 * pd [Tq, Tk] is scratch for the dropped probabilities. */
static void head_forward(float *out, float *p, float *pd, const float *q,
                         const float *k, const float *v, int h,
                         const attn_shape *a) {
    size_t c = (size_t)h * a->dk;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a->Tq, a->Tk,
                a->dk, a->scale, q + c, a->q_stride, k + c, a->kv_stride,
                0.0f, p, a->Tk);
    scores_to_probs(p, h, a);
    if (pd)
        head_dropout(pd, p, h, a);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->Tq, a->dk,
                a->Tk, 1.0f, pd ? pd : p, a->Tk, v + c, a->kv_stride, 0.0f,
                out + c, a->o_stride);
}

void op_attention_probs(float *out, float *p, const float *q,
                        const float *k, const float *v, const attn_shape *a) {
    size_t per = (size_t)a->Tq * a->Tk;
    float *pd = a->drop_p > 0.0f ? a->drop_buf : NULL;
#pragma omp parallel for schedule(static)
    for (int h = 0; h < a->H; h++)
        head_forward(out, p + h * per, pd ? pd + h * per : NULL, q, k, v, h,
                     a);
}

void op_attention(float *out, const float *q, const float *k,
                  const float *v, const attn_shape *a) {
    size_t per = (size_t)a->Tq * a->Tk;
    float *p = a->Tq > 1 ? malloc((size_t)a->H * per * sizeof *p) : NULL;
    if (!p) { /* one row, or no memory for the scores: the plain loops */
        op_attention_ref(out, q, k, v, a);
        return;
    }
    op_attention_probs(out, p, q, k, v, a);
    free(p);
}

/*
 * Head h: dP = dO V^T; dV += P^T dO; dS = P (dP - rowsum(dP P));
 * dbias += dS; dQ = scale dS K; dK += scale dS^T Q.  ds is [Tq, Tk].
 */
static void head_backward(float *dq, float *dk, float *dv, float *dbias,
                          float *ds, const float *dout, const float *p,
                          const float *q, const float *k, const float *v,
                          int h, const attn_shape *a) {
    size_t c = (size_t)h * a->dk, per = (size_t)a->Tq * a->Tk;
    int Tq = a->Tq, Tk = a->Tk, dkh = a->dk;
    const float *pv = p; /* the probabilities V was weighted with */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, dkh, 1.0f,
                dout + c, a->o_stride, v + c, a->kv_stride, 0.0f, ds, Tk);
    if (a->drop_p > 0.0f) { /* through the dropout: the same masks */
        float *pd = a->drop_buf + (size_t)h * per;
        head_dropout(pd, p, h, a);
        head_dropout(ds, ds, h, a);
        pv = pd;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, dkh, Tq, 1.0f,
                pv, Tk, dout + c, a->o_stride, 1.0f, dv + c, a->kv_stride);
    for (int i = 0; i < Tq; i++) {
        const float *pr = p + (size_t)i * Tk;
        float *g = ds + (size_t)i * Tk;
        double dot = 0;
        for (int j = 0; j < Tk; j++)
            dot += (double)g[j] * pr[j];
        for (int j = 0; j < Tk; j++)
            g[j] = pr[j] * (g[j] - (float)dot);
        if (dbias) {
            float *db = dbias + h * a->bias_h + i * a->bias_q;
            for (int j = 0; j < Tk; j++)
                db[j] += g[j];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, dkh, Tk,
                a->scale, ds, Tk, k + c, a->kv_stride, 0.0f, dq + c,
                a->q_stride);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, dkh, Tq,
                a->scale, ds, Tk, q + c, a->q_stride, 1.0f, dk + c,
                a->kv_stride);
}

void op_attention_backward(float *dq, float *dk, float *dv, float *dbias,
                           const float *dout, const float *p, const float *q,
                           const float *k, const float *v,
                           const attn_shape *a) {
    size_t per = (size_t)a->Tq * a->Tk;
    float *ds = malloc((size_t)a->H * per * sizeof *ds);
    if (!ds) { /* no memory for the scratch: the plain loops need none */
        op_attention_backward_ref(dq, dk, dv, dbias, dout, p, q, k, v, a);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int h = 0; h < a->H; h++)
        head_backward(dq, dk, dv, dbias, ds + h * per, dout, p + h * per, q,
                      k, v, h, a);
    free(ds);
}
