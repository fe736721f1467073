/* params.c - see params.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/params.h"

int param_add(param_set *ps, const char *name, int ndim, long d0, long d1,
              int no_decay) {
    if (ps->data || ndim < 1 || ndim > 2 || d0 < 1 || (ndim == 2 && d1 < 1))
        return -1;
    if (ps->n == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 64;
        param *grown = realloc(ps->p, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        ps->p = grown;
        ps->cap = cap;
    }
    param *p = &ps->p[ps->n];
    memset(p, 0, sizeof *p);
    if (!(p->name = strdup(name)))
        return -1;
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = ndim == 2 ? d1 : 1;
    p->numel = (size_t)d0 * (size_t)p->shape[1];
    p->offset = ps->total;
    p->no_decay = no_decay;
    p->lr_scale = 1.0f;
    ps->total += p->numel;
    return ps->n++;
}

t5e_status param_alloc(param_set *ps, t5e_err *err) {
    ps->data = xcalloc(ps->total, sizeof *ps->data);
    ps->grad = xcalloc(ps->total, sizeof *ps->grad);
    if (!ps->data || !ps->grad) {
        free(ps->data);
        free(ps->grad);
        ps->data = ps->grad = NULL;
        return err_set(err, T5E_ERR_NOMEM, "cannot allocate %zu parameters",
                       ps->total);
    }
    return T5E_OK;
}

void param_free(param_set *ps) {
    for (int i = 0; i < ps->n; i++)
        free(ps->p[i].name);
    free(ps->p);
    free(ps->data);
    free(ps->grad);
    memset(ps, 0, sizeof *ps);
}

int param_find(const param_set *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0)
            return i;
    return -1;
}

float *param_data(const param_set *ps, int i) {
    return ps->data + ps->p[i].offset;
}

float *param_grad(const param_set *ps, int i) {
    return ps->grad + ps->p[i].offset;
}

void param_zero_grad(param_set *ps) {
    memset(ps->grad, 0, ps->total * sizeof *ps->grad);
}

t5e_status param_load_as(param_set *ps, int i, weights *w, const char *name,
                         t5e_err *err) {
    const param *p = &ps->p[i];
    const float *src;
    t5e_status s = weights_get(w, &src, p->ndim, (long)p->shape[0],
                               (long)p->shape[1], err, "%s", name);
    if (!s)
        memcpy(param_data(ps, i), src, p->numel * sizeof *src);
    return s;
}

t5e_status param_load(param_set *ps, weights *w, t5e_err *err) {
    for (int i = 0; i < ps->n; i++) {
        t5e_status s = param_load_as(ps, i, w, ps->p[i].name, err);
        if (s)
            return s;
    }
    return T5E_OK;
}

st_item *param_items(const param_set *ps, int use_grad) {
    st_item *items = xcalloc((size_t)ps->n, sizeof *items);
    if (!items)
        return NULL;
    for (int i = 0; i < ps->n; i++) {
        const param *p = &ps->p[i];
        items[i].name = p->name;
        items[i].dtype = ST_F32;
        items[i].ndim = p->ndim;
        items[i].shape[0] = p->shape[0];
        items[i].shape[1] = p->shape[1];
        items[i].data = use_grad ? param_grad(ps, i) : param_data(ps, i);
    }
    return items;
}

double param_grad_sq_norm(const param_set *ps) {
    double sum = 0.0;
    for (size_t i = 0; i < ps->total; i++)
        sum += (double)ps->grad[i] * ps->grad[i];
    return sum;
}
