/*
 * t5_train.h - T5 as a trainable model: parameters in a param_set, a
 * forward pass that keeps the activations the backward pass needs, and
 * the backward pass itself, checked against the reference's gradients.
 *
 * `model` points into the parameter values, so the inference code
 * (generation, evaluation) runs on the model being trained; `grads` has
 * the same layout over the gradients.
 */
#ifndef T5E_T5_TRAIN_H
#define T5E_T5_TRAIN_H

#include "model/t5.h"
#include "train/params.h"

typedef struct t5_acts t5_acts;

typedef struct {
    t5e_t5 model;   /* weights -> ps.data */
    t5e_t5 grads;   /* weights -> ps.grad */
    param_set ps;
    t5_acts *acts;  /* sized for the largest batch seen */
    /* Dropout (config dropout_rate) in t5_train_step, masks from
     * drop_key (op_dropout), which the caller sets per step from state
     * a resumed run restores; off by default (the reference's eval mode,
     * as the fixtures). */
    int drop_on;
    uint64_t drop_key;
} t5_trainable;

/* Declares and allocates the parameters of a config (zero values). */
t5e_status t5_trainable_init(t5_trainable *t, const t5e_t5_config *cfg,
                             t5e_err *err);
/* Initialises from a model folder (config.json + safetensors). */
t5e_status t5_trainable_load(t5_trainable *t, const char *dir,
                             t5e_err *err);
/* Overwrites the parameters with a folder's weights (same config). */
t5e_status t5_trainable_read_weights(t5_trainable *t, const char *dir,
                                     t5e_err *err);
/* Random initialisation as the reference's _init_weights. */
void t5_trainable_init_random(t5_trainable *t, uint64_t seed);
void t5_trainable_free(t5_trainable *t);

/*
 * Forward and backward of one batch: ids/mask [B, S], decoder ids and
 * labels [B, T] (-100 ignored).  Gradients of loss * scale are added to
 * ps.grad.  Returns the mean label cross-entropy in *loss and the number
 * of counted labels in *count.
 */
t5e_status t5_train_step(t5_trainable *t, int B, int S, const int32_t *ids,
                         const int32_t *mask, int T, const int32_t *dec_ids,
                         const int32_t *labels, float smoothing, float scale,
                         double *loss, int *count, t5e_err *err);

/* config.json text in the reference's layout (free()). */
char *t5_config_json(const t5e_t5_config *c);
/* Writes config.json and model.safetensors in the reference's layout. */
t5e_status t5_trainable_save(const t5_trainable *t, const char *dir,
                             t5e_err *err);

#endif
