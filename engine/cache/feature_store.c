/* feature_store.c -- allocation of the per-sequence feature cache (feature_store.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cache/feature_store.h"

#include <string.h>

#include "util.h"

size_t dllm_feature_store_bytes(int64_t n_layers, int64_t T, int64_t C)
{
    return 4 * dllm_pool_round((size_t)n_layers * (size_t)T * (size_t)C * sizeof(float));
}

dllm_status dllm_feature_store_init(dllm_feature_store *fs, dllm_backend *be, dllm_pool *pool,
                                    int64_t n_layers, int64_t T, int64_t C)
{
    size_t n = (size_t)n_layers * (size_t)T * (size_t)C * sizeof(float);
    dllm_status rc = DLLM_OK;

    memset(fs, 0, sizeof *fs);
    if (n_layers <= 0 || T <= 0 || C <= 0) return DLLM_E_INVALID_ARG;
    fs->n_layers = n_layers;
    fs->T = T;
    fs->C = C;
    if (pool != NULL) {
        float *blk = NULL;
        size_t q = dllm_pool_round(n);
        rc = dllm_pool_alloc(pool, 4 * q, (void **)&blk);
        if (rc != DLLM_OK) return rc;
        fs->pool = pool;
        fs->k = blk;
        fs->v = (float *)((char *)blk + q);
        fs->a = (float *)((char *)blk + 2 * q);
        fs->f = (float *)((char *)blk + 3 * q);
        return DLLM_OK;
    }
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
    if (fs->pool != NULL) {
        size_t n = (size_t)fs->n_layers * (size_t)fs->T * (size_t)fs->C * sizeof(float);
        dllm_pool_free(fs->pool, fs->k, 4 * dllm_pool_round(n));
        memset(fs, 0, sizeof *fs);
        return;
    }
    dllm_backend_dealloc(be, fs->k);
    dllm_backend_dealloc(be, fs->v);
    dllm_backend_dealloc(be, fs->a);
    dllm_backend_dealloc(be, fs->f);
    memset(fs, 0, sizeof *fs);
}
