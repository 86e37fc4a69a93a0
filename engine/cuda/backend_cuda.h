/* backend_cuda.h -- constructor of the CUDA backend (C header, callable from .c files).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_BACKEND_CUDA_H
#define DLLM_BACKEND_CUDA_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates the CUDA backend on GPU `device`. Today this probes the device (count,
 * properties, a kernel launch) and then reports DLLM_E_UNSUPPORTED: the operations land
 * with the CUDA backend issue. Without a usable device it returns DLLM_E_DEVICE with
 * the driver's message. */
dllm_status dllm_backend_cuda_new(int device, dllm_backend **out, char *err, size_t errn);

/* Launches a one-thread kernel on `device` that writes a known value and checks it:
 * DLLM_OK when the device executes kernels. */
dllm_status dllm_cuda_smoke(int device, char *err, size_t errn);

#ifdef __cplusplus
}
#endif
#endif
