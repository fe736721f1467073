/*
 * weights_lowp.c - linear weights as wmat in the type inference wants:
 * in place from the map when stored that way, converted once otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "io/convert.h"
#include "io/weights.h"

static int wmat_type_of(st_dtype d, wmat_dtype *out) {
    switch (d) {
    case ST_F32: case ST_F64: *out = WMAT_F32; return 1;
    case ST_F16: *out = WMAT_F16; return 1;
    case ST_BF16: *out = WMAT_BF16; return 1;
    case ST_I8: *out = WMAT_I8; return 1;
    default: return 0;
    }
}

static wmat_dtype wmat_type_from_public(t5e_dtype d) {
    switch (d) {
    case T5E_DTYPE_F16: return WMAT_F16;
    case T5E_DTYPE_BF16: return WMAT_BF16;
    case T5E_DTYPE_I8: return WMAT_I8;
    default: return WMAT_F32;
    }
}

/* The per-row scales of int8 tensor `name`, as float32 [N]. */
static t5e_status get_scale(weights *w, const char *name, long N,
                            const float **scale, t5e_err *err) {
    char sname[300];
    snprintf(sname, sizeof sname, "%s_scale", name);
    if (!weights_find(w, sname))
        return err_set(err, T5E_ERR_SHAPE, "%s: int8 tensor %s has no "
                       "per-row scales %s", w->main_file, name, sname);
    return weights_get(w, scale, 1, N, 0, err, "%s", sname);
}

t5e_status weights_dequantize(weights *w, const st_tensor *t, long N,
                              long K, const float **out, t5e_err *err) {
    const float *scale;
    t5e_status s = get_scale(w, t->name, N, &scale, err);
    if (s)
        return s;
    float *f = xmalloc_array((size_t)N * K, sizeof *f);
    if (!f)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", t->name);
    const int8_t *q = (const int8_t *)t->data;
    for (size_t n = 0; n < (size_t)N; n++)
        for (size_t k = 0; k < (size_t)K; k++)
            f[n * K + k] = (float)q[n * K + k] * scale[n];
    *out = f;
    return weights_keep(w, f, err);
}

/* float32 [N, K] -> an owned buffer of `to` in *out. */
static t5e_status convert(weights *w, const char *name, const float *f,
                          long N, long K, wmat_dtype to, wmat *out,
                          t5e_err *err) {
    size_t n = (size_t)N * K;
    void *buf = xmalloc_array(n, wmat_dtype_size(to));
    float *scale = to == WMAT_I8 ? xmalloc_array((size_t)N, sizeof *scale)
                                 : NULL;
    if (!buf || (to == WMAT_I8 && !scale)) {
        free(buf);
        free(scale);
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory converting "
                       "to %s", name, wmat_dtype_name(to));
    }
    uint16_t *h = buf;
    if (to == WMAT_I8)
        wmat_quantize_i8(buf, scale, f, (int)N, (int)K);
    else if (to == WMAT_F16)
        for (size_t i = 0; i < n; i++)
            h[i] = f32_to_f16(f[i]);
    else
        for (size_t i = 0; i < n; i++)
            h[i] = f32_to_bf16(f[i]);
    out->data = buf;
    out->scale = scale;
    t5e_status s = weights_keep(w, buf, err);
    if (!s && scale)
        s = weights_keep(w, scale, err);
    else if (s)
        free(scale);
    return s;
}

/* out = float32 f [N, K] as `to`: f itself, or a converted copy. */
static t5e_status from_f32(weights *w, const char *name, const float *f,
                           long N, long K, wmat_dtype to, wmat *out,
                           t5e_err *err) {
    out->dtype = to;
    if (to == WMAT_F32) {
        out->data = f;
        return T5E_OK;
    }
    return convert(w, name, f, N, K, to, out, err);
}

t5e_status weights_get_w(weights *w, wmat *out, long N, long K,
                         t5e_dtype want, t5e_err *err, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    memset(out, 0, sizeof *out);
    out->N = (int)N, out->K = (int)K;
    const st_tensor *t = weights_find(w, name);
    wmat_dtype stored;
    if (t && !wmat_type_of(t->dtype, &stored))
        return err_set(err, T5E_ERR_SHAPE, "%s: tensor %s has dtype %s "
                       "(expected F32, F16, BF16 or I8)", w->main_file,
                       name, st_dtype_name(t->dtype));
    if (!t || t->dtype != ST_I8) { /* shape and presence checks */
        const float *f;
        wmat_dtype to = want == T5E_DTYPE_AUTO ? (t ? stored : WMAT_F32)
                                               : wmat_type_from_public(want);
        if (t && to == stored && to != WMAT_F32) { /* half in place */
            t5e_status s = weights_get_shape_only(w, t, N, K, err);
            if (s)
                return s;
            out->dtype = to, out->data = t->data;
            return T5E_OK;
        }
        t5e_status s = weights_get(w, &f, 2, N, K, err, "%s", name);
        return s ? s : from_f32(w, name, f, N, K, to, out, err);
    }
    t5e_status s = weights_get_shape_only(w, t, N, K, err);
    if (s)
        return s;
    wmat_dtype to = want == T5E_DTYPE_AUTO ? WMAT_I8
                                           : wmat_type_from_public(want);
    if (to == WMAT_I8) {
        out->dtype = WMAT_I8, out->data = t->data;
        return get_scale(w, name, N, &out->scale, err);
    }
    const float *f;
    s = weights_dequantize(w, t, N, K, &f, err);
    return s ? s : from_f32(w, name, f, N, K, to, out, err);
}

void weights_release_pages(weights *w) {
    for (int i = 0; i < w->nfiles; i++) {
        const file_map *m = &w->files[i].map;
        if (m->data && m->len)
            madvise((void *)m->data, m->len, MADV_DONTNEED);
    }
}
