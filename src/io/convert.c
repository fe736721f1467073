/* convert.c - see convert.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert.h"
#include "ops/wmat.h"

uint16_t f32_to_bf16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffff) > 0x7f800000) /* NaN stays a quiet NaN */
        return (uint16_t)((b >> 16) | 0x40);
    b += 0x7fff + ((b >> 16) & 1);
    return (uint16_t)(b >> 16);
}

uint16_t f32_to_f16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000);
    if ((b & 0x7fffffff) > 0x7f800000)
        return sign | 0x7e00;
    int32_t exp = (int32_t)((b >> 23) & 0xff) - 127 + 15;
    uint32_t man = b & 0x7fffff;
    if (exp >= 31) /* too large: infinity */
        return sign | 0x7c00;
    if (exp <= 0) { /* a half subnormal, or zero */
        if (exp < -10)
            return sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* may carry into the exponent, up to infinity: correct */
    return (uint16_t)(sign | h);
}

static int is_float(st_dtype d) {
    return d == ST_F32 || d == ST_F16 || d == ST_BF16 || d == ST_F64;
}

/* One tensor in the target format, in a new buffer. */
static void *convert_tensor(const st_tensor *t, st_dtype dtype,
                            t5e_err *err) {
    size_t n = (size_t)t->numel;
    float *f = xmalloc_array(n, sizeof *f);
    void *out = xmalloc_array(n, st_dtype_size(dtype));
    if (!f || !out || st_to_f32(t, f, err)) {
        free(f);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (dtype == ST_F32)
            ((float *)out)[i] = f[i];
        else if (dtype == ST_F16)
            ((uint16_t *)out)[i] = f32_to_f16(f[i]);
        else
            ((uint16_t *)out)[i] = f32_to_bf16(f[i]);
    }
    free(f);
    return out;
}

/* Whether int8 conversion quantizes this tensor: the 2-D weights the
 * models run through wmat (all of T5's linear layers and its embedding
 * table; ELECTRA's encoder layers), not position tables, ELECTRA's
 * embeddings (the word table is also the generator's output) or its
 * small heads, so a quantized file computes what --dtype int8 does. */
static int quantizable(const st_tensor *t) {
    static const char *const keep[] = {
        "relative_attention_bias", "embeddings", "discriminator_predictions",
        "generator_predictions", "generator_lm_head", "classifier."};
    size_t n = strlen(t->name);
    if (!is_float(t->dtype) || t->ndim != 2 || n <= 7 ||
        strcmp(t->name + n - 7, ".weight"))
        return 0;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (strstr(t->name, keep[i]))
            return 0;
    return 1;
}

/* items [2 * f.n]: every tensor, int8 ones followed by NAME_scale. */
static t5e_status quantize_items(const st_file *f, st_item *items,
                                 void **bufs, char **names, int *n_items,
                                 t5e_err *err) {
    int k = 0;
    for (int i = 0; i < f->n; i++) {
        const st_tensor *t = &f->tensors[i];
        st_item *it = &items[k++];
        it->name = t->name;
        it->ndim = t->ndim;
        memcpy(it->shape, t->shape, sizeof t->shape);
        it->dtype = t->dtype;
        it->data = t->data;
        if (!quantizable(t))
            continue;
        int N = (int)t->shape[0], K = (int)t->shape[1];
        float *w = convert_tensor(t, ST_F32, err);
        int8_t *q = xmalloc_array((size_t)N * K, 1);
        float *scale = xmalloc_array((size_t)N, sizeof *scale);
        names[i] = malloc(strlen(t->name) + 7);
        bufs[2 * i] = q, bufs[2 * i + 1] = scale;
        if (!w || !q || !scale || !names[i]) {
            free(w);
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory",
                           t->name);
        }
        wmat_quantize_i8(q, scale, w, N, K);
        free(w);
        sprintf(names[i], "%s_scale", t->name);
        it->dtype = ST_I8, it->data = q;
        st_item *sc = &items[k++];
        sc->name = names[i], sc->dtype = ST_F32, sc->ndim = 1;
        sc->shape[0] = N, sc->data = scale;
    }
    *n_items = k;
    return T5E_OK;
}

static t5e_status st_quantize(const char *src, const char *dst,
                              t5e_err *err) {
    st_file f;
    t5e_status s = st_open(src, &f, err);
    if (s)
        return s;
    st_item *items = xcalloc(2 * (size_t)f.n + 1, sizeof *items);
    void **bufs = xcalloc(2 * (size_t)f.n + 1, sizeof *bufs);
    char **names = xcalloc((size_t)f.n + 1, sizeof *names);
    int n = 0;
    if (!items || !bufs || !names)
        s = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", src);
    if (!s)
        s = quantize_items(&f, items, bufs, names, &n, err);
    if (!s)
        s = st_write(dst, items, n, err);
    for (int i = 0; bufs && names && i < f.n; i++) {
        free(bufs[2 * i]);
        free(bufs[2 * i + 1]);
        free(names[i]);
    }
    free(bufs), free(names), free(items);
    st_close(&f);
    return s;
}

t5e_status st_convert(const char *src, const char *dst, st_dtype dtype,
                      t5e_err *err) {
    if (dtype == ST_I8)
        return st_quantize(src, dst, err);
    if (dtype != ST_F32 && dtype != ST_F16 && dtype != ST_BF16)
        return err_set(err, T5E_ERR_ARG, "conversion to %s is not "
                       "supported", st_dtype_name(dtype));
    st_file f;
    t5e_status s = st_open(src, &f, err);
    if (s)
        return s;
    st_item *items = xcalloc((size_t)f.n, sizeof *items);
    void **bufs = xcalloc((size_t)f.n, sizeof *bufs);
    if (!items || !bufs)
        s = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", src);
    for (int i = 0; i < f.n && !s; i++) {
        const st_tensor *t = &f.tensors[i];
        st_item *it = &items[i];
        it->name = t->name;
        it->ndim = t->ndim;
        memcpy(it->shape, t->shape, sizeof t->shape);
        it->dtype = is_float(t->dtype) ? dtype : t->dtype;
        it->data = t->data;
        if (is_float(t->dtype) && t->dtype != dtype) {
            bufs[i] = convert_tensor(t, dtype, err);
            it->data = bufs[i];
            if (!bufs[i])
                s = err_set(err, T5E_ERR_NOMEM, "%s: tensor %s", src,
                            t->name);
        }
    }
    if (!s)
        s = st_write(dst, items, f.n, err);
    for (int i = 0; bufs && i < f.n; i++)
        free(bufs[i]);
    free(bufs);
    free(items);
    st_close(&f);
    return s;
}
