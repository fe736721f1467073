/*
 * electra_train.h - ELECTRA as a trainable model: parameters in a
 * param_set, a forward pass that keeps what the backward pass needs, the
 * backward pass of the embeddings, every post-LN layer and the three
 * heads with their losses, matching transformers 4.36.2 in float32.
 *
 * Dimension names as electra.h (B, S, E, H, NH, HD, F, V, L, NL); BS is
 * B * S and R the number of rows a head runs on.
 *
 * Two levels:
 *   electra_net        one network (encoder + one head) whose weights are
 *                      views into someone else's param_set.  The
 *                      pre-training step (train/electra_pretrain.h) owns
 *                      two of them over one param_set, sharing the
 *                      embeddings.
 *   electra_trainable  one network that owns its param_set: load / save a
 *                      Hugging Face folder, random init, one step.
 *
 * `net.model` is a t5e_electra whose weights point into the parameter
 * values, so the inference entry points (t5e_electra_detect, ...) run on
 * the model being trained.
 */
#ifndef T5E_ELECTRA_TRAIN_H
#define T5E_ELECTRA_TRAIN_H

#include "generate/generate.h"
#include "model/electra.h"
#include "train/params.h"

typedef struct electra_acts electra_acts;

typedef struct {
    t5e_electra model;    /* cfg, weights -> parameter values */
    electra_params grad;  /* the same layout over the gradients */
    electra_acts *acts;   /* sized for the largest B, S seen */
    /* Dropout of the config's probabilities in the next forward and
     * backward, masks drawn from drop_key (op_dropout); off by default,
     * which is the reference's eval mode.  See electra_net_set_dropout. */
    int drop_on;
    uint64_t drop_key;
} electra_net;

/* Training steps turn dropout on with a key of their own (a function of
 * the data position or of checkpointed random state, so a resumed run
 * draws the same masks) and off again before any evaluation. */
void electra_net_set_dropout(electra_net *n, int on, uint64_t key);

/*
 * Declares the parameters of a network of config c (c->head selects the
 * head) in ps, under Hugging Face names prefixed with `pre`; the shared
 * embedding module (word, position, type embeddings and their LayerNorm)
 * is named with `emb_pre` instead.  Call before param_alloc.
 */
t5e_status electra_net_declare(electra_net *n, const t5e_electra_config *c,
                               param_set *ps, const char *pre,
                               const char *emb_pre, t5e_err *err);
/* Points the weights and gradients at ps (after param_alloc). */
t5e_status electra_net_bind(electra_net *n, param_set *ps, const char *pre,
                            const char *emb_pre, t5e_err *err);
void electra_net_free(electra_net *n);

/* Checks ids, types, mask [B, S] and reserves the activations. */
t5e_status electra_net_prepare(electra_net *n, int B, int S,
                               const int32_t *ids, const int32_t *types,
                               const int32_t *mask, t5e_err *err);
/* Embeddings and layers, keeping activations (after prepare). */
void electra_net_forward(electra_net *n, int B, int S, const int32_t *ids,
                         const int32_t *types, const int32_t *mask);
/*
 * Heads: forward from the last layer's output, the loss, and the head's
 * backward, which adds to the head's gradients and leaves d loss / d x
 * for electra_net_backward.  The loss is multiplied by `scale` for the
 * gradients only; the returned loss is unscaled.
 *
 * discriminator: labels [B, S] 0/1, BCE with logits averaged over
 *   mask == 1 (all positions when mask is NULL); *acc (may be NULL) gets
 *   the accuracy over those positions.
 * generator: labels [B, S], -100 ignored; the head runs only on the rows
 *   with a label (the loss and gradients equal the reference's full
 *   head).  With rng, each such row also gets a token sampled from
 *   softmax(logits) into sampled [B, S] (other rows untouched).
 * classifier: labels [B] class ids, or targets [B] (MSE) when the model
 *   is a regression (num_labels == 1).
 */
double electra_disc_head(electra_net *n, int B, int S,
                         const int32_t *labels, const int32_t *mask,
                         float scale, float *logits, double *acc);
t5e_status electra_mlm_head(electra_net *n, int B, int S,
                            const int32_t *labels, float scale,
                            rng_state *rng, int32_t *sampled, double *loss,
                            int *count, t5e_err *err);
double electra_cls_head(electra_net *n, int B, int S, const int32_t *labels,
                        const float *targets, float scale, float *logits);
/* Backward of layers and embeddings; adds to the gradients.  The rows of
 * the pad id in the word-embedding gradient are never touched. */
void electra_net_backward(electra_net *n, int B, int S, const int32_t *ids,
                          const int32_t *types, const int32_t *mask);
/* ---- a network that owns its parameters -------------------------- */

typedef struct {
    electra_net net;
    param_set ps;
    float initializer_range; /* config "initializer_range" (0.02) */
} electra_trainable;

/* Declares and allocates the parameters of a config (zero values).
 * label names are LABEL_i; regression selects MSE for num_labels 1. */
t5e_status electra_trainable_init(electra_trainable *t,
                                  const t5e_electra_config *c,
                                  int regression, t5e_err *err);
/* From a Hugging Face folder (config.json + model.safetensors). */
t5e_status electra_trainable_load(electra_trainable *t, const char *dir,
                                  t5e_err *err);
/* The reference's _init_weights: Linear and Embedding N(0, range) (the
 * pad row of the word embeddings 0), biases 0, LayerNorm 1 / 0. */
void electra_trainable_init_random(electra_trainable *t, uint64_t seed);
void electra_trainable_free(electra_trainable *t);

/*
 * One forward + backward over a batch for the model's head (labels and
 * targets as the heads above; types / mask may be NULL).  Gradients of
 * loss * scale are added to ps.grad; *loss gets the loss.
 */
t5e_status electra_trainable_step(electra_trainable *t, int B, int S,
                                  const int32_t *ids, const int32_t *types,
                                  const int32_t *mask, const int32_t *labels,
                                  const float *targets, float scale,
                                  double *loss, t5e_err *err);

/* config.json + model.safetensors as save_pretrained writes them. */
t5e_status electra_trainable_save(const electra_trainable *t,
                                  const char *dir, t5e_err *err);

/*
 * Helpers shared with the pre-training: writes dir/config.json for a
 * config (the keys of the reference's ElectraConfig), and
 * dir/model.safetensors from ps, taking the parameters whose names start
 * with `pre` (stripped) plus, when emb_pre is not NULL, those starting
 * with emb_pre + "electra.embeddings." (renamed to electra.embeddings.).
 */
t5e_status electra_write_config(const char *dir, const t5e_electra_config *c,
                                float initializer_range, int regression,
                                char *const *labels, t5e_err *err);
t5e_status electra_write_weights(const char *dir, const param_set *ps,
                                 const char *pre, const char *emb_pre,
                                 t5e_err *err);

/* _init_weights over the parameters of ps whose names start with pre
 * (see electra_trainable_init_random); pad_id's embedding row is 0. */
void electra_init_params(param_set *ps, const char *pre, float sd,
                         int pad_id, rng_state *rng);

/*
 * A locality prior for relative_key_query models (no-op otherwise):
 * in every layer head h starts attending to one neighbour (h = 0 the
 * previous token, 1 the next, 2 two back, ...; a lone head both
 * neighbours), `strength` logits above the rest, through its query bias
 * and the distance table; the rest of the init is untouched.  heads in
 * 1..NH-1 pins only the first `heads` heads of each layer (to the
 * previous token in even layers, the next in odd ones) and leaves the
 * others free; 0 or NH pins all.
 */
void electra_init_local_attention(param_set *ps, const char *pre,
                                  const t5e_electra_config *c,
                                  float strength, int heads);

#endif
