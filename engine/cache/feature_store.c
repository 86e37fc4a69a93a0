/* feature_store.c -- allocation of the per-sequence feature cache (feature_store.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cache/feature_store.h"

#include <string.h>

#include "util.h"

size_t dllm_feature_store_bytes(int64_t n_layers, int64_t T, int64_t C)
{
    return 4 * (size_t)n_layers * (size_t)T * (size_t)C * sizeof(float);
}

dllm_status dllm_feature_store_init(dllm_feature_store *fs, dllm_backend *be, int64_t n_layers,
                                    int64_t T, int64_t C)
{
    size_t n = (size_t)n_layers * (size_t)T * (size_t)C * sizeof(float);
    dllm_status rc = DLLM_OK;

    memset(fs, 0, sizeof *fs);
    if (n_layers <= 0 || T <= 0 || C <= 0) return DLLM_E_INVALID_ARG;
    fs->n_layers = n_layers;
    fs->T = T;
    fs->C = C;
    DLLM_TRY_GOTO(dllm_backend_alloc(be, n, (void **)&fs->k), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(be, n, (void **)&fs->v), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(be, n, (void **)&fs->a), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(be, n, (void **)&fs->f), rc, out);
out:
    if (rc != DLLM_OK) dllm_feature_store_deinit(fs, be);
    return rc;
}

void dllm_feature_store_deinit(dllm_feature_store *fs, dllm_backend *be)
{
    if (fs == NULL) return;
    dllm_backend_dealloc(be, fs->k);
    dllm_backend_dealloc(be, fs->v);
    dllm_backend_dealloc(be, fs->a);
    dllm_backend_dealloc(be, fs->f);
    memset(fs, 0, sizeof *fs);
}
