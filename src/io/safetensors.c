/* safetensors.c - validated reader and atomic writer. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/safetensors.h"

static const struct {
    const char *name;
    size_t size;
} dtype_info[ST_NDTYPES] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_F64] = {"F64", 8}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},   [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1},
};

/* Headers beyond this are certainly corrupt (the format caps it at 100 MB). */
#define ST_MAX_HEADER (100u << 20)

const char *st_dtype_name(st_dtype d) {
    return d < ST_NDTYPES ? dtype_info[d].name : "?";
}

size_t st_dtype_size(st_dtype d) {
    return d < ST_NDTYPES ? dtype_info[d].size : 0;
}

static int dtype_from_name(const char *s, st_dtype *out) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (st_dtype)i;
            return 1;
        }
    return 0;
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_uint(const cJSON *j, int64_t *out) {
    if (!cJSON_IsNumber(j))
        return 0;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != (double)(int64_t)v)
        return 0;
    *out = (int64_t)v;
    return 1;
}

static t5e_status parse_shape(const cJSON *shape, st_tensor *t,
                              const char *path, t5e_err *err) {
    if (!cJSON_IsArray(shape))
        return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: shape is not "
                       "an array", path, t->name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS)
        return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: %d dimensions "
                       "(at most %d)", path, t->name, nd, ST_MAX_DIMS);
    t->ndim = nd;
    t->numel = 1;
    for (int i = 0; i < nd; i++) {
        int64_t d;
        if (!json_uint(cJSON_GetArrayItem(shape, i), &d))
            return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: dimension "
                           "%d is not a non-negative integer", path,
                           t->name, i);
        t->shape[i] = d;
        if (d && t->numel > INT64_MAX / 16 / d)
            return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: shape too "
                           "large", path, t->name);
        t->numel *= d;
    }
    return T5E_OK;
}

static t5e_status parse_entry(const cJSON *e, st_tensor *t,
                              const uint8_t *data, size_t data_len,
                              const char *path, t5e_err *err) {
    if (!cJSON_IsObject(e))
        return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: entry is not "
                       "an object", path, t->name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt) || !dtype_from_name(dt->valuestring, &t->dtype))
        return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: unknown dtype "
                       "%s", path, t->name,
                       cJSON_IsString(dt) ? dt->valuestring : "(missing)");
    t5e_status s = parse_shape(cJSON_GetObjectItemCaseSensitive(e, "shape"),
                               t, path, err);
    if (s)
        return s;
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    int64_t begin, end;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !json_uint(cJSON_GetArrayItem(off, 0), &begin) ||
        !json_uint(cJSON_GetArrayItem(off, 1), &end) || begin > end)
        return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: bad "
                       "data_offsets", path, t->name);
    if ((uint64_t)end > data_len)
        return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: data ends at "
                       "%lld but the file has %zu data bytes (truncated?)",
                       path, t->name, (long long)end, data_len);
    uint64_t want = (uint64_t)t->numel * st_dtype_size(t->dtype);
    if ((uint64_t)(end - begin) != want)
        return err_set(err, T5E_ERR_FORMAT, "%s: tensor %s: %lld data "
                       "bytes for a shape needing %llu", path, t->name,
                       (long long)(end - begin), (unsigned long long)want);
    t->data = data + begin;
    t->nbytes = (size_t)want;
    return T5E_OK;
}

static t5e_status parse_header(const char *json, size_t json_len,
                               const uint8_t *data, size_t data_len,
                               st_file *f, t5e_err *err) {
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(err, T5E_ERR_FORMAT, "%s: header is not a JSON "
                       "object", f->path);
    }
    int count = cJSON_GetArraySize(root);
    f->tensors = xcalloc((size_t)count, sizeof *f->tensors);
    if (!f->tensors) {
        cJSON_Delete(root);
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", f->path);
    }
    t5e_status s = T5E_OK;
    for (cJSON *e = root->child; e && !s; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        if (st_find(f, e->string)) {
            s = err_set(err, T5E_ERR_FORMAT, "%s: tensor %s appears twice",
                        f->path, e->string);
            break;
        }
        st_tensor *t = &f->tensors[f->n];
        if (!(t->name = strdup(e->string))) {
            s = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", f->path);
            break;
        }
        f->n++;
        s = parse_entry(e, t, data, data_len, f->path, err);
    }
    cJSON_Delete(root);
    return s;
}

t5e_status st_parse(const uint8_t *buf, size_t len, const char *path,
                    st_file *f, t5e_err *err) {
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(path ? path : "(buffer)")))
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    if (len < 8) {
        err_set(err, T5E_ERR_FORMAT, "%s: %zu bytes is too short for a "
                "safetensors file", f->path, len);
        st_close(f);
        return T5E_ERR_FORMAT;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > ST_MAX_HEADER || hlen > len - 8) {
        err_set(err, T5E_ERR_FORMAT, "%s: header length %llu does not fit "
                "in the file's %zu bytes (truncated or not safetensors)",
                f->path, (unsigned long long)hlen, len);
        st_close(f);
        return T5E_ERR_FORMAT;
    }
    const uint8_t *data = buf + 8 + hlen;
    t5e_status s = parse_header((const char *)buf + 8, (size_t)hlen, data,
                                len - 8 - (size_t)hlen, f, err);
    if (s)
        st_close(f);
    return s;
}

t5e_status st_open(const char *path, st_file *f, t5e_err *err) {
    file_map map;
    memset(f, 0, sizeof *f);
    t5e_status s = file_map_open(path, &map, err);
    if (s)
        return s;
    s = st_parse(map.data, map.len, path, f, err);
    if (s) {
        file_map_close(&map);
        return s;
    }
    f->map = map;
    return T5E_OK;
}

void st_close(st_file *f) {
    for (int i = 0; i < f->n; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    file_map_close(&f->map);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

static float half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (man) { /* subnormal: renormalise */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    } else {
        bits = sign;
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

t5e_status st_to_f32(const st_tensor *t, float *out, t5e_err *err) {
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case ST_F32: memcpy(&out[i], p + 4 * i, 4); break;
        case ST_F64: {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
            break;
        }
        case ST_F16: out[i] = half_to_f32((uint16_t)(p[2 * i] |
                                                     p[2 * i + 1] << 8));
            break;
        case ST_BF16: {
            uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &bits, 4);
            break;
        }
        default:
            return err_set(err, T5E_ERR_SHAPE, "tensor %s: dtype %s is not "
                           "a float type", t->name, st_dtype_name(t->dtype));
        }
    }
    return T5E_OK;
}

t5e_status st_to_i32(const st_tensor *t, int32_t *out, t5e_err *err) {
    size_t w = st_dtype_size(t->dtype);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t v;
        const uint8_t *p = t->data + w * i;
        switch (t->dtype) {
        case ST_I64: memcpy(&v, p, 8); break;
        case ST_I32: { int32_t x; memcpy(&x, p, 4); v = x; break; }
        case ST_I16: { int16_t x; memcpy(&x, p, 2); v = x; break; }
        case ST_I8: v = (int8_t)p[0]; break;
        case ST_U8: case ST_BOOL: v = p[0]; break;
        default:
            return err_set(err, T5E_ERR_SHAPE, "tensor %s: dtype %s is not "
                           "an integer type", t->name,
                           st_dtype_name(t->dtype));
        }
        if (v < INT32_MIN || v > INT32_MAX)
            return err_set(err, T5E_ERR_FORMAT, "tensor %s: value %lld "
                           "does not fit in int32", t->name, (long long)v);
        out[i] = (int32_t)v;
    }
    return T5E_OK;
}

/* Builds the JSON header, padded with spaces to a multiple of 8 bytes. */
static char *build_header(const st_item *items, int n, size_t *hlen) {
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const st_item *it = &items[i];
        cJSON *e = cJSON_AddObjectToObject(root, it->name);
        cJSON_AddStringToObject(e, "dtype", st_dtype_name(it->dtype));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        uint64_t numel = 1;
        for (int d = 0; d < it->ndim; d++) {
            cJSON_AddItemToArray(shape,
                                 cJSON_CreateNumber((double)it->shape[d]));
            numel *= (uint64_t)it->shape[d];
        }
        uint64_t end = off + numel * st_dtype_size(it->dtype);
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)end));
        off = end;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json)
        return NULL;
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
    char *out = realloc(json, padded + 1);
    if (!out) {
        free(json);
        return NULL;
    }
    memset(out + len, ' ', padded - len);
    out[padded] = '\0';
    *hlen = padded;
    return out;
}

t5e_status st_write(const char *path, const st_item *items, int n,
                    t5e_err *err) {
    size_t hlen;
    char *header = build_header(items, n, &hlen);
    if (!header)
        return err_set(err, T5E_ERR_NOMEM, "%s: cannot build header", path);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    atomic_file *f;
    t5e_status s = atomic_file_open(path, &f, err);
    if (!s)
        s = atomic_file_write(f, len8, 8, err);
    if (!s)
        s = atomic_file_write(f, header, hlen, err);
    for (int i = 0; i < n && !s; i++) {
        size_t numel = 1;
        for (int d = 0; d < items[i].ndim; d++)
            numel *= (size_t)items[i].shape[d];
        s = atomic_file_write(f, items[i].data,
                              numel * st_dtype_size(items[i].dtype), err);
    }
    free(header);
    if (s) {
        if (f)
            atomic_file_abort(f);
        return s;
    }
    return atomic_file_commit(f, err);
}
