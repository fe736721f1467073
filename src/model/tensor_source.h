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
#include "ops/wmat.h"

typedef struct tensor_source tensor_source;

struct tensor_source {
    /* The float32 data of `name` with exactly this shape (d1 ignored for
     * ndim 1), or an error naming the tensor. */
    t5e_status (*get)(tensor_source *src, const char *name, int ndim,
                      long d0, long d1, const float **out, t5e_err *err);
    /* Whether the source has `name` (for optional and aliased names). */
    int (*has)(tensor_source *src, const char *name);
    /* A linear weight [N, K] in the source's compute type; NULL: float32
     * through get(). */
    t5e_status (*get_w)(tensor_source *src, const char *name, long N,
                        long K, wmat *out, t5e_err *err);
    void *ctx;
    t5e_dtype dtype; /* what get_w hands out (weights_source) */
};

/* get() with a printf-formatted name. */
t5e_status source_get(tensor_source *src, const float **out, int ndim,
                      long d0, long d1, t5e_err *err, const char *fmt, ...)
    T5E_PRINTF(7, 8);

/* get_w() with a printf-formatted name. */
t5e_status source_get_w(tensor_source *src, wmat *out, long N, long K,
                        t5e_err *err, const char *fmt, ...)
    T5E_PRINTF(6, 7);

/* A source reading a weight store (io/weights.h); linear weights come as
 * `dtype` (see t5e_load_options). */
struct weights;
tensor_source weights_source(void *w, t5e_dtype dtype);

#endif
