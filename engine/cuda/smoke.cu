/* smoke.cu -- a device health check: one kernel launch that writes a known value.
 *
 * It proves the driver, the context and the architecture the build targeted all work,
 * which is what a worker's readiness probe and the GPU tests need before anything else.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cstdio>
#include <cuda_runtime.h>

#include "cuda/backend_cuda.h"

__global__ void smoke_kernel(int *out)
{
    *out = 0x5eed;
}

extern "C" dllm_status dllm_cuda_smoke(int device, char *err, size_t errn)
{
    int *d = nullptr, h = 0;
    cudaError_t ce;
    dllm_status rc = DLLM_OK;

    if ((ce = cudaSetDevice(device)) != cudaSuccess) goto fail;
    if ((ce = cudaMalloc(&d, sizeof(int))) != cudaSuccess) goto fail;
    smoke_kernel<<<1, 1>>>(d);
    if ((ce = cudaGetLastError()) != cudaSuccess) goto fail;
    if ((ce = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost)) != cudaSuccess) goto fail;
    if (h != 0x5eed) {
        if (err && errn) snprintf(err, errn, "cuda device %d: smoke kernel wrote %d", device, h);
        rc = DLLM_E_DEVICE;
    }
    goto out;
fail:
    if (err && errn)
        snprintf(err, errn, "cuda device %d: %s (%s)", device, cudaGetErrorString(ce),
                 cudaGetErrorName(ce));
    rc = DLLM_E_DEVICE;
out:
    if (d) cudaFree(d);
    return rc;
}
