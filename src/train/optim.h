/*
 * optim.h - optimizers, learning-rate schedules and gradient clipping.
 *
 * ADAMW is PyTorch's AdamW (bias-corrected, decoupled weight decay).
 * ADAMW_ELECTRA is the original ELECTRA / BERT AdamWeightDecayOptimizer:
 * no bias correction, decay added to the update.  ADAFACTOR is the
 * factored optimizer T5 was trained with (no momentum, update clipping,
 * beta2 = 1 - t^decay_rate), as in the reference's Adafactor with
 * relative_step off and, unless scale_parameter is set, scale_parameter
 * off.  With it (the Mesh TensorFlow default T5 was pretrained with)
 * each parameter's step is lr * max(eps2, RMS(parameter)): the embedding
 * (init std 1) moves in proportion to its size, like the dense weights.
 * Weight decay skips parameters marked no_decay (LayerNorm weights and
 * biases).
 */
#ifndef T5E_OPTIM_H
#define T5E_OPTIM_H

#include "train/params.h"

typedef enum {
    OPTIM_ADAMW = 0,
    OPTIM_ADAMW_ELECTRA,
    OPTIM_ADAFACTOR
} optim_kind;

typedef struct {
    optim_kind kind;
    float beta1, beta2, eps; /* Adam */
    float weight_decay;
    float clip_threshold;    /* Adafactor update clipping (1.0) */
    float decay_rate;        /* Adafactor: beta2_t = 1 - t^decay_rate */
    float eps1, eps2;        /* Adafactor: 1e-30, 1e-3 */
    int scale_parameter;     /* Adafactor: lr * max(eps2, RMS(w)) */
} optim_config;

/* The defaults of each kind (ELECTRA: eps 1e-6, decay 0.01). */
void optim_config_default(optim_config *c, optim_kind kind);
/* Parses "adamw", "adamw-electra", "adafactor"; 0 if unknown. */
int optim_kind_from_name(const char *name, optim_kind *out);

typedef struct {
    optim_config cfg;
    param_set *ps;
    long step;        /* updates done */
    float *m, *v;     /* Adam moments [total]; Adafactor v for 1-d */
    float *row, *col; /* Adafactor factored moments */
    size_t *row_off, *col_off; /* per parameter, into row / col */
} optimizer;

t5e_status optim_init(optimizer *o, const optim_config *c, param_set *ps,
                      t5e_err *err);
void optim_free(optimizer *o);

/* One update of every parameter with learning rate lr (times lr_scale). */
void optim_step(optimizer *o, float lr);

/* Scales all gradients so their global L2 norm is at most max_norm (when
 * max_norm > 0); returns the norm before clipping. */
float optim_clip_grad_norm(param_set *ps, float max_norm);

/* State tensors for a checkpoint ("m.<name>", "v.<name>", "row.<name>",
 * "col.<name>"): data borrowed, names owned; free with
 * optim_state_items_free. */
st_item *optim_state_items(const optimizer *o, int *n);
void optim_state_items_free(st_item *items, int n);
/* Restores state from a checkpoint's optimizer file. */
t5e_status optim_load_state(optimizer *o, const st_file *f, t5e_err *err);

typedef enum {
    SCHED_CONSTANT = 0, /* lr, after an optional linear warmup */
    SCHED_LINEAR,       /* warmup, then linear decay to 0 at total */
    SCHED_ELECTRA,      /* lr * (1 - t/total) * min(1, t/warmup) */
    SCHED_INV_SQRT      /* lr * sqrt(warmup / max(t, warmup)) */
} sched_kind;

typedef struct {
    sched_kind kind;
    float lr;
    long warmup, total;
} schedule;

int sched_kind_from_name(const char *name, sched_kind *out);
/* The learning rate of update number t (0-based). */
float schedule_lr(const schedule *s, long t);

#endif
