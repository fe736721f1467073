/*
 * safetensors.h - reading and writing the safetensors format.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON mapping each
 * tensor name to {dtype, shape, data_offsets}, then the raw data.  The
 * reader validates everything before handing out a pointer: header length,
 * JSON, dtype names, shapes, offsets inside the data and consistent with
 * the shape.  The data stays memory-mapped; tensors point into the map.
 */
#ifndef T5E_SAFETENSORS_H
#define T5E_SAFETENSORS_H

#include "core/core.h"

#define ST_MAX_DIMS 8

typedef enum {
    ST_F32 = 0, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8,
    ST_U8, ST_BOOL, ST_NDTYPES
} st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const uint8_t *data; /* into the file map; may be unaligned */
    size_t nbytes;
} st_tensor;

typedef struct {
    char *path;
    file_map map; /* empty when parsed from a caller's buffer */
    st_tensor *tensors;
    int n;
} st_file;

const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

t5e_status st_open(const char *path, st_file *f, t5e_err *err);
/* Parses a buffer the caller keeps alive; `path` only names it in errors. */
t5e_status st_parse(const uint8_t *buf, size_t len, const char *path,
                    st_file *f, t5e_err *err);
void st_close(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);

/* Copies a tensor of any float dtype into `out` as float32. */
t5e_status st_to_f32(const st_tensor *t, float *out, t5e_err *err);
/* Copies an integer tensor (I64, I32, ...) into `out` as int32, checking
 * that every value fits. */
t5e_status st_to_i32(const st_tensor *t, int32_t *out, t5e_err *err);

/* A tensor to write. */
typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* numel * dtype size bytes, little-endian */
} st_item;

/* Writes the tensors atomically; metadata is {"format": "pt"}. */
t5e_status st_write(const char *path, const st_item *items, int n,
                    t5e_err *err);

#endif
