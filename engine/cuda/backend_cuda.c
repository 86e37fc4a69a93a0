/* backend_cuda.c -- the CUDA backend entry point.
 *
 * DESIGN
 * ------
 * The registry (backend_registry.c) calls dllm_backend_cuda_new() for "--backend cuda".
 * This file will hold the vtable and the context (device, stream, cuBLASLt handle,
 * workspace) of design.md 4.2; the kernels live in *.cu files beside it. Until the
 * CUDA backend issue lands, creation probes the device and returns a clear
 * DLLM_E_UNSUPPORTED, so a user never gets a half-working backend.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cuda/backend_cuda.h"

#include <cuda_runtime.h>
#include <stdio.h>

#include "util.h"

dllm_status dllm_backend_cuda_new(int device, dllm_backend **out, char *err, size_t errn)
{
    int count = 0;
    cudaError_t ce;

    *out = NULL;
    ce = cudaGetDeviceCount(&count);
    if (ce != cudaSuccess)
        return dllm_errf(err, errn, DLLM_E_DEVICE, "no usable CUDA device: %s; hint: use "
                         "--backend cpu", cudaGetErrorString(ce));
    if (device < 0 || device >= count)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "CUDA device %d does not exist (%d "
                         "found)", device, count);
    DLLM_TRY(dllm_cuda_smoke(device, err, errn));
    return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                     "the CUDA backend's operations are not implemented yet; hint: use "
                     "--backend cpu");
}
