/*
 * t5.h - the T5 model's internals, shared by the forward pass, generation,
 * the tests and (later) training.
 *
 * Shapes: B batch, S encoder length, T decoder length, D d_model,
 * H heads, DK d_kv, HD = H * DK (may differ from D), F d_ff, V vocab,
 * NB relative-attention buckets.
 */
#ifndef T5E_MODEL_T5_H
#define T5E_MODEL_T5_H

#include "io/weights.h"
#include "ops/wmat.h"
#include "t5e.h"

/* The longest sequence t5e accepts on either side; beyond this the
 * reference itself runs out of memory on the attention scores. */
#define T5_MAX_LEN 16384

/*
 * Linear weights are wmat: float32 for training and by default, or
 * F16 / BF16 / int8 for inference (t5e_load_options.dtype).  Norms and
 * relative biases are always float32.
 */
typedef struct {
    wmat q, k, v; /* [HD, D] */
    wmat o;       /* [D, HD] */
} t5_attn_weights;

typedef struct {
    const float *ln_self;   /* [D] */
    t5_attn_weights self;
    const float *ln_cross;  /* [D], decoder only */
    t5_attn_weights cross;  /* decoder only */
    const float *ln_ff;     /* [D] */
    wmat wi;                /* [F, D], ungated */
    wmat wi_0;              /* [F, D], gated: activation branch */
    wmat wi_1;              /* [F, D], gated: linear branch */
    wmat wo;                /* [D, F] */
} t5_block;

struct t5e_t5 {
    t5e_t5_config cfg;
    weights w;
    int n_threads;
    wmat embed;               /* [V, D] shared input embedding */
    wmat lm_head;             /* [V, D]; the same table as embed when tied */
    const float *enc_rel_bias; /* [NB, H] */
    const float *dec_rel_bias; /* [NB, H] */
    t5_block *enc;            /* [num_layers] */
    t5_block *dec;            /* [num_decoder_layers] */
    const float *enc_final_ln, *dec_final_ln; /* [D] */
    /* Inference loads with float32 weights on a build with the packed
     * kernel: the matrices that multiply whole sequences (every encoder
     * block's, the decoder's cross-attention k and v) rearranged once
     * for it (ops/gemm_packed.h); their wmats' `packed` point here. */
    float *pack_mem;
};

struct tensor_source;
/* Reads and validates DIR/config.json (or a config file named as DIR). */
t5e_status t5_read_config(const char *dir, t5e_t5_config *cfg,
                          t5e_err *err);
/* Points every weight of m (config already set) at the source's tensors. */
t5e_status t5_bind(t5e_t5 *m, struct tensor_source *src, t5e_err *err);

/* Bucket of relative position rel = key_pos - query_pos. */
int t5_relative_bucket(int rel, int bidirectional, int num_buckets,
                       int max_distance);

/* bias[H, Tq, Tk] for queries at q0.. and keys at 0..Tk-1. */
void t5_position_bias(const t5e_t5 *m, int decoder, int Tq, int q0, int Tk,
                      float *bias);

/*
 * Encoder stack.  hidden [B, S, D] receives the output after the final
 * norm.  states, when not NULL, receives [num_layers + 1, B, S, D]: the
 * input of every block, then the final output (the reference's
 * encoder_hidden_states).
 */
t5e_status t5_encoder_forward(t5e_t5 *m, int B, int S, const int32_t *ids,
                              const int32_t *mask, float *hidden,
                              float *states, t5e_err *err);

/*
 * Teacher-forced decoder over the whole target.  enc [B, S, D] with its
 * mask; dec_ids [B, T] -> logits [B, T, V].  states as for the encoder,
 * [num_decoder_layers + 1, B, T, D].
 */
t5e_status t5_decoder_forward(t5e_t5 *m, int B, int S, const float *enc,
                              const int32_t *enc_mask, int T,
                              const int32_t *dec_ids, float *logits,
                              float *states, t5e_err *err);

/* x[M, D] += FF(rmsnorm(x)); h, ff0, ff1 are scratch of M*D, M*F, M*F. */
void t5_feed_forward(const t5e_t5 *m, const t5_block *b, float *x,
                     float *h, float *ff0, float *ff1, int M);
/* x [M, D] after the final norm -> logits [M, V] (x is scaled in place
 * when the head is tied). */
void t5_lm_head(const t5e_t5 *m, float *x, int M, float *logits);

/* Checks ids are in [0, V) and lengths are in range. */
t5e_status t5_check_ids(const t5e_t5 *m, const char *what, int B, int T,
                        const int32_t *ids, t5e_err *err);

/* Applies the caller's thread count to OpenMP and BLAS. */
void t5e_apply_threads(int n_threads);

/*
 * Incremental decoding state: self-attention keys/values of every past
 * step of N rows, and cross-attention keys/values computed once per
 * encoder input.  Row r attends to encoder item enc_row[r].
 */
typedef struct {
    int N, max_T, t;        /* rows, capacity, steps done */
    int B, S;               /* encoder items and length */
    int *enc_row;           /* [N] */
    const int32_t *enc_mask; /* [B, S], borrowed */
    float *self_k, *self_v; /* [L, N, max_T, HD] */
    float *cross_k, *cross_v; /* [L, B, S, HD] */
    float *scratch_k;       /* [N, max_T, HD], for reordering */
    float *x, *h, *q, *k, *v, *att, *ff0, *ff1; /* step buffers */
    float *bias;            /* [H, max_T] */
} t5_decode_state;

t5e_status t5_decode_init(t5e_t5 *m, t5_decode_state *st, int B, int S,
                          const float *enc, const int32_t *enc_mask, int N,
                          const int *enc_row, int max_T, t5e_err *err);
void t5_decode_free(t5_decode_state *st);
/* One step: tokens [N] -> logits [N, V]; advances st->t. */
void t5_decode_step(t5e_t5 *m, t5_decode_state *st, const int32_t *tokens,
                    float *logits);
/* Reorders the rows of the cache: new row r takes old row src[r]. */
void t5_decode_reorder(t5e_t5 *m, t5_decode_state *st, const int *src);

#endif
