/*
 * params.h - the trainable parameters of a model: one allocation for all
 * values and one for all gradients, each parameter a named view into
 * them, so optimizers, clipping and checkpoints walk one flat array.
 */
#ifndef T5E_PARAMS_H
#define T5E_PARAMS_H

#include "io/safetensors.h"
#include "io/weights.h"

typedef struct {
    char *name;       /* the Hugging Face tensor name */
    int ndim;         /* 1 or 2 */
    int64_t shape[2];
    size_t offset;    /* into data / grad, in floats */
    size_t numel;
    int no_decay;     /* LayerNorm weights and biases skip weight decay */
    float lr_scale;   /* layer-wise learning-rate factor, 1 by default */
} param;

typedef struct {
    param *p;
    int n, cap;
    size_t total;     /* floats over all parameters */
    float *data;      /* [total] */
    float *grad;      /* [total] */
} param_set;

/* Declares a parameter (before param_alloc); returns its index or -1. */
int param_add(param_set *ps, const char *name, int ndim, long d0, long d1,
              int no_decay);
/* Allocates data and grad (zeroed) for every declared parameter. */
t5e_status param_alloc(param_set *ps, t5e_err *err);
void param_free(param_set *ps);

int param_find(const param_set *ps, const char *name);
float *param_data(const param_set *ps, int i);
float *param_grad(const param_set *ps, int i);
void param_zero_grad(param_set *ps);

/* Copies every parameter from a weight store, checking shapes. */
t5e_status param_load(param_set *ps, weights *w, t5e_err *err);
/* Copies one parameter from a store under another name (tied weights). */
t5e_status param_load_as(param_set *ps, int i, weights *w, const char *name,
                         t5e_err *err);

/* Items for st_write, one per parameter (names and data borrowed). */
st_item *param_items(const param_set *ps, int use_grad);

/* Sum of squares of every gradient, in double. */
double param_grad_sq_norm(const param_set *ps);

#endif
