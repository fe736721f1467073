/*
 * ops.h - the numeric kernels both models are built from.
 *
 * All tensors are row-major float32.  Linear weights keep the Hugging Face
 * layout W[N, K] (out, in), so a layer computes y = x W^T + b.  Kernels do
 * not allocate; the caller owns every buffer.
 */
#ifndef T5E_OPS_H
#define T5E_OPS_H

#include "t5e.h"

/* y[M, N] = x[M, K] @ w[N, K]^T (+ bias[N] when not NULL). */
void op_linear(float *y, const float *x, const float *w, const float *bias,
               int M, int K, int N);
/* y[M, N] += x[M, K] @ w[N, K]^T: accumulates into y. */
void op_linear_acc(float *y, const float *x, const float *w, int M, int K,
                   int N);

/* T5 norm: out = w * x / sqrt(mean(x^2) + eps), rows of D; in place ok. */
void op_rmsnorm(float *out, const float *x, const float *w, int M, int D,
                float eps);
/* out = (x - mean) / sqrt(var + eps) * w + b, rows of D; in place ok. */
void op_layernorm(float *out, const float *x, const float *w,
                  const float *b, int M, int D, float eps);

/* x = act(x) over n values. */
void op_activate(float *x, size_t n, t5e_activation act);
float op_activate1(float x, t5e_activation act);
/* Parses a Hugging Face activation name; 0 if unknown. */
int op_activation_from_name(const char *name, t5e_activation *out);

/* y += x over n values. */
void op_add(float *y, const float *x, size_t n);
/* y *= x over n values. */
void op_mul(float *y, const float *x, size_t n);

/* Softmax of one row of n values, in place, with max subtraction. */
void op_softmax(float *x, int n);

/*
 * Inverted dropout, y[i] = keep ? x[i] / (1 - p) : 0, for the elements
 * first .. first + n - 1 of a tensor whose masks are keyed `key`.  An
 * element is kept when a hash of (key, index) is at least p * 2^32, so
 * the mask is a pure function of the key and the position: the backward
 * applies the same call to the gradient, splitting a tensor over threads
 * changes nothing, and a resumed run draws the same masks.  y may be x.
 * p = 0 copies.
 */
void op_dropout(float *y, const float *x, size_t n, size_t first, float p,
                uint64_t key);
/* op_dropout over a whole tensor (first 0), split over OpenMP threads
 * when long; the same result as one call. */
void op_dropout_par(float *y, const float *x, size_t n, float p,
                    uint64_t key);
/* The key of one dropout site (a tensor of one step), from a step key. */
uint64_t op_dropout_site(uint64_t step_key, uint64_t site);
/* log-softmax of one row into out (may alias x); returns logsumexp. */
float op_log_softmax(float *out, const float *x, int n);

/* The additive mask value of a masked key (float32 min, as the reference). */
#define OP_MASKED (-3.4028234663852886e38f)

/*
 * Multi-head attention for one batch item.
 *   q [Tq, q_stride], k and v [Tk, kv_stride]: head h uses columns
 *   h*dk .. h*dk+dk-1.  out [Tq, o_stride], same column layout.
 *   score(i, j) = scale * q_i . k_j + bias[h, i, j] + mask
 * bias (may be NULL) is addressed bias + h*bias_h + i*bias_q + j.
 * key_mask [Tk] (may be NULL): 0 marks a padded key.
 * causal: query i (at absolute position q_pos0 + i) sees keys j <= it.
 * scratch holds at least Tk floats per thread.
 * drop_p > 0 (training: op_attention_probs and op_attention_backward
 * only): out = dropout(P) V, the probability of (h, i, j) being element
 * drop_first + (h * Tq + i) * Tk + j of the dropout tensor keyed
 * drop_key (op_dropout); p keeps the undropped probabilities and
 * drop_buf [H, Tq, Tk] is scratch for the dropped ones.
 */
typedef struct {
    int Tq, Tk, H, dk;
    int q_stride, kv_stride, o_stride;
    float scale;
    const float *bias;
    long bias_h, bias_q;
    const int32_t *key_mask;
    int causal, q_pos0;
    float drop_p;
    uint64_t drop_key;
    size_t drop_first;
    float *drop_buf;
} attn_shape;

void op_attention(float *out, const float *q, const float *k,
                  const float *v, const attn_shape *a);
/* The probabilities p [Tk] of query row i of head h (bias and masks
 * applied, softmax taken): one row of op_attention. */
void op_attention_row_probs(float *p, const float *q, const float *k,
                            int h, int i, const attn_shape *a);
/* x[i] = exp(x[i] - mx): lanes of the vector width through libmvec (within
 * 4 ulp), the tail through expf; op_softmax's exponentials. */
void op_exp_shifted(float *x, int n, float mx);
/* The scores before the softmax of keys j0 .. j1-1 of that row, into
 * s [j1 - j0]. */
void op_attention_row_scores(float *s, const float *q, const float *k,
                             int h, int i, int j0, int j1,
                             const attn_shape *a);

#endif
