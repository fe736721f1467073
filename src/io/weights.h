/*
 * weights.h - a model folder's tensors: model.safetensors, or the shards
 * listed by model.safetensors.index.json, looked up by name, checked for
 * shape and handed out as float32.
 *
 * F32 tensors are used in place from the memory map when aligned; F16,
 * BF16 and F64 tensors are converted once, into buffers the store owns.
 */
#ifndef T5E_WEIGHTS_H
#define T5E_WEIGHTS_H

#include "io/safetensors.h"
#include "ops/wmat.h"

typedef struct {
    char *dir;
    char *main_file; /* the file named in messages */
    st_file *files;
    int nfiles;
    void **owned;
    int nowned, cap_owned;
} weights;

t5e_status weights_open(const char *dir, weights *w, t5e_err *err);
void weights_close(weights *w);
const st_tensor *weights_find(const weights *w, const char *name);

/*
 * The float32 data of a tensor whose name is printf-formatted, checked to
 * have exactly the given shape (ndim of 1 or 2).  Missing tensors and
 * shape mismatches fail with a message naming the file and the tensor.
 */
t5e_status weights_get(weights *w, const float **out, int ndim, long d0,
                       long d1, t5e_err *err, const char *fmt, ...)
    T5E_PRINTF(7, 8);

/*
 * A linear weight [N, K] as a wmat in the type `want`:
 *   T5E_DTYPE_AUTO  the type it is stored in (F64 becomes F32);
 *   otherwise       converted at load when stored in another type (int8
 *                   by per-row symmetric quantization, wmat_quantize_i8).
 * Stored in the wanted type, the data is used in place from the map.  An
 * int8 tensor NAME needs its per-row scales beside it as NAME_scale [N]
 * (the layout `t5e quantize` writes).
 */
t5e_status weights_get_w(weights *w, wmat *out, long N, long K,
                         t5e_dtype want, t5e_err *err, const char *fmt, ...)
    T5E_PRINTF(7, 8);

/* An owned float32 copy of int8 tensor t [N, K] (its NAME_scale rows). */
t5e_status weights_dequantize(weights *w, const st_tensor *t, long N,
                              long K, const float **out, t5e_err *err);

/* Checks that tensor t (of this store) has shape [N, K]. */
t5e_status weights_get_shape_only(const weights *w, const st_tensor *t,
                                  long N, long K, t5e_err *err);

/* Hands a malloc'ed buffer to the store, which frees it on close (the
 * buffer is freed at once when that fails). */
t5e_status weights_keep(weights *w, void *buf, t5e_err *err);

/* Drops the mapped pages from this process's resident memory (they are
 * read back from the file if touched again): after converting weights at
 * load, so the float32 originals do not stay counted. */
void weights_release_pages(weights *w);

#endif
