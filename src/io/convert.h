/*
 * convert.h - float format conversion of safetensors files: F32, F16,
 * BF16 in any direction, rounding to nearest even, so a model can ship
 * in half the bytes and load through the usual path.
 */
#ifndef T5E_CONVERT_H
#define T5E_CONVERT_H

#include "io/safetensors.h"

/* IEEE half and bfloat16 from float, rounded to nearest even. */
uint16_t f32_to_f16(float x);
uint16_t f32_to_bf16(float x);

/* Writes src's tensors to dst with every float tensor in `dtype` (F32,
 * F16 or BF16); other dtypes are copied as they are.  I8 quantizes per
 * output row the matrices t5e runs in int8 (T5's linear layers and
 * embedding table, ELECTRA's encoder layers), each followed by its scales
 * NAME_scale (F32 [N]), and copies the other tensors as they are. */
t5e_status st_convert(const char *src, const char *dst, st_dtype dtype,
                      t5e_err *err);

#endif
