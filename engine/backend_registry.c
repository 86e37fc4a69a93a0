/* backend_registry.c -- the one place that knows which concrete backends exist.
 *
 * dllm_backend_new("cpu" | "cuda", ...) creates one. The CUDA entry is compiled only
 * when the build found a CUDA toolkit (DLLM_HAVE_CUDA); otherwise asking for it is a
 * clear DLLM_E_UNSUPPORTED.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "backend_impl.h"
#include "cpu/backend_cpu.h"
#include "util.h"

#ifdef DLLM_HAVE_CUDA
#include "cuda/backend_cuda.h"
#endif

dllm_status dllm_backend_new(const char *name, int n_threads, int device, dllm_backend **out,
                             char *err, size_t errn)
{
    *out = NULL;
    if (name == NULL || strcmp(name, "cpu") == 0)
        return dllm_backend_cpu_new(n_threads, out, err, errn);
    if (strcmp(name, "cuda") == 0) {
#ifdef DLLM_HAVE_CUDA
        return dllm_backend_cuda_new(device, out, err, errn);
#else
        (void)device;
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "backend 'cuda' is not in this build; hint: rebuild with "
                         "-DDLLM_CUDA=ON on a machine with the CUDA toolkit");
#endif
    }
    return dllm_errf(err, errn, DLLM_E_UNSUPPORTED, "unknown backend '%s' (known: cpu, cuda)",
                     name);
}
