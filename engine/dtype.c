/* dtype.c -- see dtype.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "dtype.h"

#include <string.h>

size_t dllm_dtype_size(dllm_dtype t)
{
    return t == DLLM_DTYPE_F32 ? 4 : 2;
}

const char *dllm_dtype_name(dllm_dtype t)
{
    switch (t) {
    case DLLM_DTYPE_F32: return "F32";
    case DLLM_DTYPE_F16: return "F16";
    case DLLM_DTYPE_BF16: return "BF16";
    }
    return "?";
}

float dllm_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float dllm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    uint32_t u;
    float f;

    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7F800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    memcpy(&f, &u, sizeof f);
    return f;
}

void dllm_convert_to_f32(float *dst, const void *src, dllm_dtype t, size_t n)
{
    const unsigned char *s = src;
    size_t i;
    uint16_t h;

    switch (t) {
    case DLLM_DTYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case DLLM_DTYPE_BF16:
        for (i = 0; i < n; i++) {
            memcpy(&h, s + 2 * i, 2);
            dst[i] = dllm_bf16_to_f32(h);
        }
        break;
    case DLLM_DTYPE_F16:
        for (i = 0; i < n; i++) {
            memcpy(&h, s + 2 * i, 2);
            dst[i] = dllm_f16_to_f32(h);
        }
        break;
    }
}
