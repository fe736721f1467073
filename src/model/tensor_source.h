/*
 * tensor_source.h - where a model's named tensors come from.
 *
 * Model code asks for each tensor by its Hugging Face name and shape.  A
 * checkpoint on disk answers from the weight store; a trainable model
 * answers by declaring the parameter, then by pointing into its values
 * or its gradients.  One list of names serves all of them.
 */
#ifndef T5E_TENSOR_SOURCE_H
#define T5E_TENSOR_SOURCE_H

#include "core/core.h"

typedef struct tensor_source tensor_source;

struct tensor_source {
    /* The float32 data of `name` with exactly this shape (d1 ignored for
     * ndim 1), or an error naming the tensor. */
    t5e_status (*get)(tensor_source *src, const char *name, int ndim,
                      long d0, long d1, const float **out, t5e_err *err);
    /* Whether the source has `name` (for optional and aliased names). */
    int (*has)(tensor_source *src, const char *name);
    void *ctx;
};

/* get() with a printf-formatted name. */
t5e_status source_get(tensor_source *src, const float **out, int ndim,
                      long d0, long d1, t5e_err *err, const char *fmt, ...)
    T5E_PRINTF(7, 8);

/* A source reading a weight store (io/weights.h). */
struct weights;
tensor_source weights_source(void *w);

#endif
