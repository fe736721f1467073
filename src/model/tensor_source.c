/* tensor_source.c - the generic getter and the weight-store source. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

t5e_status source_get_w(tensor_source *src, wmat *out, long N, long K,
                        t5e_err *err, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (src->get_w)
        return src->get_w(src, name, N, K, out, err);
    memset(out, 0, sizeof *out);
    out->dtype = WMAT_F32, out->N = (int)N, out->K = (int)K;
    const float *f = NULL;
    t5e_status s = src->get(src, name, 2, N, K, &f, err);
    out->data = f;
    return s;
}

static t5e_status weights_get_fn(tensor_source *src, const char *name,
                                 int ndim, long d0, long d1,
                                 const float **out, t5e_err *err) {
    return weights_get(src->ctx, out, ndim, d0, d1, err, "%s", name);
}

static t5e_status weights_get_w_fn(tensor_source *src, const char *name,
                                   long N, long K, wmat *out,
                                   t5e_err *err) {
    return weights_get_w(src->ctx, out, N, K, src->dtype, err, "%s", name);
}

static int weights_has_fn(tensor_source *src, const char *name) {
    return weights_find(src->ctx, name) != NULL;
}

tensor_source weights_source(void *w, t5e_dtype dtype) {
    tensor_source s = {weights_get_fn, weights_has_fn, weights_get_w_fn, w,
                       dtype};
    return s;
}
