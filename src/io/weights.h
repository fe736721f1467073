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

#endif
