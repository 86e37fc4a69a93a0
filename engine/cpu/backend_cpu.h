/* backend_cpu.h -- constructor of the reference CPU backend.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_BACKEND_CPU_H
#define DLLM_BACKEND_CPU_H

#include "backend.h"

/* Creates the CPU backend (fp32 compute, OpenBLAS GEMMs). n_threads > 0 sets OpenBLAS's
 * thread count (process-wide: the CPU backend is its only user); <= 0 keeps OpenBLAS's
 * default (OPENBLAS_NUM_THREADS, else all cores). */
dllm_status dllm_backend_cpu_new(int n_threads, dllm_backend **out, char *err, size_t errn);

#endif
