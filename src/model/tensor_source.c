/* tensor_source.c - the generic getter and the weight-store source. */
#include <stdarg.h>
#include <stdio.h>

#include "io/weights.h"
#include "model/tensor_source.h"

t5e_status source_get(tensor_source *src, const float **out, int ndim,
                      long d0, long d1, t5e_err *err, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return src->get(src, name, ndim, d0, d1, out, err);
}

static t5e_status weights_get_fn(tensor_source *src, const char *name,
                                 int ndim, long d0, long d1,
                                 const float **out, t5e_err *err) {
    return weights_get(src->ctx, out, ndim, d0, d1, err, "%s", name);
}

static int weights_has_fn(tensor_source *src, const char *name) {
    return weights_find(src->ctx, name) != NULL;
}

tensor_source weights_source(void *w) {
    tensor_source s = {weights_get_fn, weights_has_fn, w};
    return s;
}
