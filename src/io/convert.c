/* convert.c - see convert.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert.h"

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

t5e_status st_convert(const char *src, const char *dst, st_dtype dtype,
                      t5e_err *err) {
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
