/* param_source.c - see param_source.h. */
#include <string.h>

#include "train/param_source.h"

int param_name_is_no_decay(const char *name) {
    size_t n = strlen(name);
    return strstr(name, "LayerNorm") || strstr(name, "layer_norm") ||
           (n >= 5 && strcmp(name + n - 5, ".bias") == 0);
}

/* A declared tensor that is requested again must agree in shape. */
static t5e_status declare(param_set *ps, const char *name, int ndim,
                          long d0, long d1, t5e_err *err) {
    int i = param_find(ps, name);
    if (i >= 0) {
        const param *p = &ps->p[i];
        if (p->ndim != ndim || p->shape[0] != d0 ||
            (ndim == 2 && p->shape[1] != d1))
            return err_set(err, T5E_ERR_SHAPE, "parameter %s declared "
                           "twice with different shapes", name);
        return T5E_OK;
    }
    if (param_add(ps, name, ndim, d0, d1, param_name_is_no_decay(name)) < 0)
        return err_set(err, T5E_ERR_NOMEM, "cannot declare parameter %s",
                       name);
    return T5E_OK;
}

/* Declaring hands out a non-NULL placeholder that is never read. */
static const float placeholder[1];

static t5e_status get_fn(tensor_source *src, const char *name, int ndim,
                         long d0, long d1, const float **out, t5e_err *err) {
    param_source_ctx *c = src->ctx;
    if (c->mode == PSRC_DECLARE) {
        *out = placeholder;
        return declare(c->ps, name, ndim, d0, d1, err);
    }
    int i = param_find(c->ps, name);
    if (i < 0)
        return err_set(err, T5E_ERR_SHAPE, "parameter %s was never "
                       "declared", name);
    *out = c->mode == PSRC_DATA ? param_data(c->ps, i) : param_grad(c->ps, i);
    return T5E_OK;
}

static int has_fn(tensor_source *src, const char *name) {
    param_source_ctx *c = src->ctx;
    return c->mode != PSRC_DECLARE && param_find(c->ps, name) >= 0;
}

tensor_source param_source(param_source_ctx *ctx) {
    tensor_source s = {get_fn, has_fn, NULL, ctx, T5E_DTYPE_F32};
    return s;
}
