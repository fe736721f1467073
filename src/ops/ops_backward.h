/*
 * ops_backward.h - gradients of the kernels in ops.h.
 *
 * Naming: for y = f(x, w), dy is the incoming gradient; dx is written
 * (overwritten) or accumulated as each function says, dw always
 * accumulates (+=) so tied and shared weights sum their uses.
 */
#ifndef T5E_OPS_BACKWARD_H
#define T5E_OPS_BACKWARD_H

#include "ops/ops.h"

/*
 * y[M, N] = x[M, K] w[N, K]^T (+ b):  dx[M, K] = dy w (overwritten, when
 * dx is not NULL), dw[N, K] += dy^T x, db[N] += column sums of dy (when
 * db is not NULL).
 */
void op_linear_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, int M, int K, int N);
/* The same, but dx accumulates (+=). */
void op_linear_backward_acc(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w, int M, int K,
                            int N);

/* y = w * x / rms(x): dx (overwritten), dw += .  x is the norm's input. */
void op_rmsnorm_backward(float *dx, float *dw, const float *dy,
                         const float *x, const float *w, int M, int D,
                         float eps);
/* y = (x - mean) / std * w + b: dx (overwritten), dw, db += . */
void op_layernorm_backward(float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, int M, int D,
                           float eps);

/* Derivative of act at x. */
float op_activate_grad1(float x, t5e_activation act);
/* dx[i] = dy[i] * act'(x[i]) (dx may alias dy). */
void op_activate_backward(float *dx, const float *dy, const float *x,
                          size_t n, t5e_activation act);

/*
 * Attention of one batch item, with its probabilities kept:
 * op_attention_probs writes p [H, Tq, Tk] and out as op_attention.
 * op_attention_backward takes dout (same layout as out) and writes dq
 * (overwritten), accumulates dk, dv (+=) and, when dbias is not NULL,
 * dbias [H, Tq, Tk] (+=, same addressing as the forward bias).
 */
/* The same as plain loops (attention_ref.c): the reference in tests. */
void op_attention_ref(float *out, const float *q, const float *k,
                      const float *v, const attn_shape *a);
void op_attention_probs_ref(float *out, float *p, const float *q,
                            const float *k, const float *v,
                            const attn_shape *a);
void op_attention_backward_ref(float *dq, float *dk, float *dv,
                               float *dbias, const float *dout,
                               const float *p, const float *q,
                               const float *k, const float *v,
                               const attn_shape *a);
void op_attention_probs(float *out, float *p, const float *q,
                        const float *k, const float *v, const attn_shape *a);
void op_attention_backward(float *dq, float *dk, float *dv, float *dbias,
                           const float *dout, const float *p, const float *q,
                           const float *k, const float *v,
                           const attn_shape *a);

/*
 * Mean cross-entropy over rows whose label is not `ignore`, with label
 * smoothing eps (0: none), as the reference's CrossEntropyLoss.  Writes
 * dlogits [M, V] (zero on ignored rows) scaled by `scale` / count, and
 * returns the loss; *count gets the number of rows counted.
 */
double op_cross_entropy(float *dlogits, const float *logits,
                        const int32_t *labels, int M, int V, int ignore,
                        float smoothing, float scale, int *count);

#endif
