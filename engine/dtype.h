/* dtype.h -- element types of checkpoint tensors and their conversions to fp32.
 *
 * The loader maps safetensors dtypes onto these; backends convert weights from them
 * into their compute format at upload (the CPU backend computes in fp32).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_DTYPE_H
#define DLLM_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum dllm_dtype {
    DLLM_DTYPE_F32 = 0,
    DLLM_DTYPE_F16 = 1,
    DLLM_DTYPE_BF16 = 2,
} dllm_dtype;

/* Bytes per element (4 or 2). */
size_t dllm_dtype_size(dllm_dtype t);

/* Name as safetensors writes it ("F32", "F16", "BF16"). */
const char *dllm_dtype_name(dllm_dtype t);

/* Scalar conversions (exact: every bf16/f16 value is representable in fp32). */
float dllm_bf16_to_f32(uint16_t h);
float dllm_f16_to_f32(uint16_t h);

/* Converts n elements of type t at src (any alignment) into fp32 at dst. */
void dllm_convert_to_f32(float *dst, const void *src, dllm_dtype t, size_t n);

#endif
