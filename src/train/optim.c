/* optim.c - see optim.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/optim.h"

void optim_config_default(optim_config *c, optim_kind kind) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = kind == OPTIM_ADAMW_ELECTRA ? 1e-6f : 1e-8f;
    c->weight_decay = kind == OPTIM_ADAFACTOR ? 0.0f : 0.01f;
    c->clip_threshold = 1.0f;
    c->decay_rate = -0.8f;
    c->eps1 = 1e-30f;
    c->eps2 = 1e-3f;
}

int optim_kind_from_name(const char *name, optim_kind *out) {
    if (!strcmp(name, "adamw"))
        *out = OPTIM_ADAMW;
    else if (!strcmp(name, "adamw-electra"))
        *out = OPTIM_ADAMW_ELECTRA;
    else if (!strcmp(name, "adafactor"))
        *out = OPTIM_ADAFACTOR;
    else
        return 0;
    return 1;
}

/* Adafactor factors the second moment of matrices into rows and columns. */
static int factored(const param *p) {
    return p->ndim == 2;
}

static t5e_status alloc_adafactor(optimizer *o, t5e_err *err) {
    const param_set *ps = o->ps;
    size_t rows = 0, cols = 0;
    o->row_off = xcalloc((size_t)ps->n, sizeof *o->row_off);
    o->col_off = xcalloc((size_t)ps->n, sizeof *o->col_off);
    if (!o->row_off || !o->col_off)
        return err_set(err, T5E_ERR_NOMEM, "optimizer state");
    for (int i = 0; i < ps->n; i++) {
        o->row_off[i] = rows;
        o->col_off[i] = cols;
        if (factored(&ps->p[i])) {
            rows += (size_t)ps->p[i].shape[0];
            cols += (size_t)ps->p[i].shape[1];
        }
    }
    o->row = xcalloc(rows, sizeof *o->row);
    o->col = xcalloc(cols, sizeof *o->col);
    o->v = xcalloc(ps->total, sizeof *o->v); /* used by 1-d params only */
    if (!o->row || !o->col || !o->v)
        return err_set(err, T5E_ERR_NOMEM, "optimizer state");
    return T5E_OK;
}

t5e_status optim_init(optimizer *o, const optim_config *c, param_set *ps,
                      t5e_err *err) {
    memset(o, 0, sizeof *o);
    o->cfg = *c;
    o->ps = ps;
    t5e_status s = T5E_OK;
    if (c->kind == OPTIM_ADAFACTOR) {
        s = alloc_adafactor(o, err);
    } else {
        o->m = xcalloc(ps->total, sizeof *o->m);
        o->v = xcalloc(ps->total, sizeof *o->v);
        if (!o->m || !o->v)
            s = err_set(err, T5E_ERR_NOMEM, "optimizer state for %zu "
                        "parameters", ps->total);
    }
    if (s)
        optim_free(o);
    return s;
}

void optim_free(optimizer *o) {
    free(o->m);
    free(o->v);
    free(o->row);
    free(o->col);
    free(o->row_off);
    free(o->col_off);
    memset(o, 0, sizeof *o);
}

static void adam_param(optimizer *o, int i, float lr) {
    const optim_config *c = &o->cfg;
    const param *p = &o->ps->p[i];
    float *w = param_data(o->ps, i), *g = param_grad(o->ps, i);
    float *m = o->m + p->offset, *v = o->v + p->offset;
    float wd = p->no_decay ? 0.0f : c->weight_decay;
    double t = (double)o->step;
    float bc1 = (float)(1.0 - pow(c->beta1, t));
    float bc2 = (float)sqrt(1.0 - pow(c->beta2, t));
    for (size_t k = 0; k < p->numel; k++) {
        m[k] = c->beta1 * m[k] + (1.0f - c->beta1) * g[k];
        v[k] = c->beta2 * v[k] + (1.0f - c->beta2) * g[k] * g[k];
        if (c->kind == OPTIM_ADAMW) {
            w[k] *= 1.0f - lr * wd;
            w[k] -= lr / bc1 * m[k] / (sqrtf(v[k]) / bc2 + c->eps);
        } else { /* ELECTRA: no bias correction, decay in the update */
            float u = m[k] / (sqrtf(v[k]) + c->eps) + wd * w[k];
            w[k] -= lr * u;
        }
    }
}

/* u = g / sqrt(v_hat) for one parameter, with v factored for matrices. */
static void adafactor_direction(optimizer *o, int i, float beta2t,
                                float *u) {
    const optim_config *c = &o->cfg;
    const param *p = &o->ps->p[i];
    const float *g = param_grad(o->ps, i);
    if (!factored(p)) {
        float *v = o->v + p->offset;
        for (size_t k = 0; k < p->numel; k++) {
            v[k] = beta2t * v[k] + (1 - beta2t) * (g[k] * g[k] + c->eps1);
            u[k] = g[k] / sqrtf(v[k]);
        }
        return;
    }
    size_t R = (size_t)p->shape[0], C = (size_t)p->shape[1];
    float *row = o->row + o->row_off[i], *col = o->col + o->col_off[i];
    for (size_t r = 0; r < R; r++) {
        double s = 0;
        for (size_t k = 0; k < C; k++)
            s += g[r * C + k] * g[r * C + k] + c->eps1;
        row[r] = beta2t * row[r] + (1 - beta2t) * (float)(s / C);
    }
    for (size_t k = 0; k < C; k++) {
        double s = 0;
        for (size_t r = 0; r < R; r++)
            s += g[r * C + k] * g[r * C + k] + c->eps1;
        col[k] = beta2t * col[k] + (1 - beta2t) * (float)(s / R);
    }
    double row_mean = 0;
    for (size_t r = 0; r < R; r++)
        row_mean += row[r];
    row_mean /= R;
    for (size_t r = 0; r < R; r++) {
        float rf = 1.0f / sqrtf(row[r] / (float)row_mean);
        for (size_t k = 0; k < C; k++)
            u[r * C + k] = g[r * C + k] * rf / sqrtf(col[k]);
    }
}

static void adafactor_param(optimizer *o, int i, float lr, float *u) {
    const optim_config *c = &o->cfg;
    const param *p = &o->ps->p[i];
    float beta2t = 1.0f - powf((float)o->step, c->decay_rate);
    adafactor_direction(o, i, beta2t, u);
    double ss = 0;
    for (size_t k = 0; k < p->numel; k++)
        ss += (double)u[k] * u[k];
    float rms = (float)sqrt(ss / p->numel);
    float scale = 1.0f / fmaxf(1.0f, rms / c->clip_threshold);
    float *w = param_data(o->ps, i);
    if (c->scale_parameter) {
        double ws = 0;
        for (size_t k = 0; k < p->numel; k++)
            ws += (double)w[k] * w[k];
        lr *= fmaxf(c->eps2, (float)sqrt(ws / p->numel));
    }
    float wd = p->no_decay ? 0.0f : c->weight_decay;
    for (size_t k = 0; k < p->numel; k++) {
        if (wd)
            w[k] -= wd * lr * w[k];
        w[k] -= lr * scale * u[k];
    }
}

void optim_step(optimizer *o, float lr) {
    o->step++;
    float *u = NULL;
    if (o->cfg.kind == OPTIM_ADAFACTOR) {
        size_t most = 1;
        for (int i = 0; i < o->ps->n; i++)
            if (o->ps->p[i].numel > most)
                most = o->ps->p[i].numel;
        u = xmalloc_array(most, sizeof *u);
        if (!u)
            return; /* no update rather than a crash; norms will show it */
    }
    for (int i = 0; i < o->ps->n; i++) {
        float lr_i = lr * o->ps->p[i].lr_scale;
        if (o->cfg.kind == OPTIM_ADAFACTOR)
            adafactor_param(o, i, lr_i, u);
        else
            adam_param(o, i, lr_i);
    }
    free(u);
}

float optim_clip_grad_norm(param_set *ps, float max_norm) {
    float norm = (float)sqrt(param_grad_sq_norm(ps));
    if (max_norm > 0.0f && norm > max_norm) {
        float s = max_norm / (norm + 1e-6f);
        for (size_t k = 0; k < ps->total; k++)
            ps->grad[k] *= s;
    }
    return norm;
}

int sched_kind_from_name(const char *name, sched_kind *out) {
    static const char *const names[] = {"constant", "linear", "electra",
                                        "inverse-sqrt"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (sched_kind)i;
            return 1;
        }
    return 0;
}

float schedule_lr(const schedule *s, long t) {
    double warm = s->warmup > 0 ? fmin(1.0, (double)t / s->warmup) : 1.0;
    switch (s->kind) {
    case SCHED_CONSTANT:
        return (float)(s->lr * warm);
    case SCHED_LINEAR:
        if (t < s->warmup)
            return (float)(s->lr * warm);
        if (s->total <= s->warmup)
            return 0.0f;
        return (float)(s->lr * fmax(0.0, (double)(s->total - t) /
                                              (s->total - s->warmup)));
    case SCHED_ELECTRA:
        return (float)(s->lr * fmax(0.0, 1.0 - (double)t / s->total) * warm);
    case SCHED_INV_SQRT: {
        double k = s->warmup > 0 ? (double)s->warmup : 1.0;
        return (float)(s->lr * sqrt(k / fmax((double)t, k)));
    }
    }
    return s->lr;
}

/* Adam: m and v per parameter; Adafactor: v (1-d), row and col. */
st_item *optim_state_items(const optimizer *o, int *n) {
    const param_set *ps = o->ps;
    st_item *items = xcalloc(3 * (size_t)ps->n + 1, sizeof *items);
    *n = 0;
    if (!items)
        return NULL;
    for (int i = 0; i < ps->n; i++) {
        const param *p = &ps->p[i];
        const char *kinds[3] = {"m", "v", NULL};
        const float *bufs[3] = {o->m ? o->m + p->offset : NULL,
                                o->v ? o->v + p->offset : NULL, NULL};
        if (o->cfg.kind == OPTIM_ADAFACTOR && factored(p)) {
            kinds[0] = "row", bufs[0] = o->row + o->row_off[i];
            kinds[1] = "col", bufs[1] = o->col + o->col_off[i];
        } else if (o->cfg.kind == OPTIM_ADAFACTOR) {
            kinds[0] = "v", bufs[0] = o->v + p->offset, kinds[1] = NULL;
        }
        for (int k = 0; k < 2 && kinds[k]; k++) {
            st_item *it = &items[(*n)++];
            char *name = malloc(strlen(p->name) + 8);
            if (name)
                sprintf(name, "%s.%s", kinds[k], p->name);
            it->name = name;
            it->dtype = ST_F32;
            it->ndim = 1;
            it->shape[0] = !strcmp(kinds[k], "row") ? p->shape[0]
                : !strcmp(kinds[k], "col") ? p->shape[1] : (long)p->numel;
            it->data = bufs[k];
        }
    }
    return items;
}

void optim_state_items_free(st_item *items, int n) {
    for (int i = 0; items && i < n; i++)
        free((void *)items[i].name);
    free(items);
}

t5e_status optim_load_state(optimizer *o, const st_file *f, t5e_err *err) {
    int n;
    st_item *items = optim_state_items(o, &n);
    if (!items)
        return err_set(err, T5E_ERR_NOMEM, "optimizer state");
    t5e_status s = T5E_OK;
    for (int i = 0; i < n && !s; i++) {
        const st_tensor *t = items[i].name ? st_find(f, items[i].name) : 0;
        if (!t || t->dtype != ST_F32 || t->numel != items[i].shape[0])
            s = err_set(err, T5E_ERR_FORMAT, "%s: optimizer state %s is "
                        "missing or has the wrong shape", f->path,
                        items[i].name ? items[i].name : "?");
        else
            memcpy((void *)items[i].data, t->data, t->nbytes);
    }
    optim_state_items_free(items, n);
    return s;
}
