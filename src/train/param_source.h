/*
 * param_source.h - tensor sources over a param_set: one that declares
 * each requested tensor as a parameter (before param_alloc), and ones
 * that point at the values or the gradients of declared parameters.
 */
#ifndef T5E_PARAM_SOURCE_H
#define T5E_PARAM_SOURCE_H

#include "model/tensor_source.h"
#include "train/params.h"

typedef enum { PSRC_DECLARE, PSRC_DATA, PSRC_GRAD } param_source_mode;

typedef struct {
    param_set *ps;
    param_source_mode mode;
} param_source_ctx;

tensor_source param_source(param_source_ctx *ctx);

/* Weight decay skips LayerNorm / layer_norm weights and biases. */
int param_name_is_no_decay(const char *name);

#endif
