/* backend_cpu.h -- constructor of the reference CPU backend.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_BACKEND_CPU_H
#define DLLM_BACKEND_CPU_H

#include "backend.h"

/* Creates the CPU backend (fp32 compute, OpenBLAS GEMMs, OpenMP loops). n_threads <= 0
 * uses the OpenMP default. */
dllm_status dllm_backend_cpu_new(int n_threads, dllm_backend **out, char *err, size_t errn);

#endif
