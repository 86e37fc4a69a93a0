/* feature_store.c -- allocation of the per-sequence feature cache (feature_store.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cache/feature_store.h"

#include <string.h>

#include "util.h"

size_t dllm_feature_store_bytes(int64_t n_layers, int64_t T, int64_t C)
{
    return dllm_feature_store_bytes_kv(n_layers, T, C, C);
}

size_t dllm_feature_store_bytes_kv(int64_t n_layers, int64_t T, int64_t C, int64_t ckv)
{
    return 2 * dllm_pool_round((size_t)n_layers * (size_t)T * (size_t)C * sizeof(float)) +
           2 * dllm_pool_round((size_t)n_layers * (size_t)T * (size_t)ckv * sizeof(float));
}

dllm_status dllm_feature_store_init(dllm_feature_store *fs, dllm_backend *be, dllm_pool *pool,
                                    int64_t n_layers, int64_t T, int64_t C)
{
    return dllm_feature_store_init_kv(fs, be, pool, n_layers, T, C, C);
}

dllm_status dllm_feature_store_init_kv(dllm_feature_store *fs, dllm_backend *be,
                                       dllm_pool *pool, int64_t n_layers, int64_t T, int64_t C,
                                       int64_t ckv)
{
    size_t n = (size_t)n_layers * (size_t)T * (size_t)C * sizeof(float);
    size_t nkv = (size_t)n_layers * (size_t)T * (size_t)ckv * sizeof(float);
    dllm_status rc = DLLM_OK;

    memset(fs, 0, sizeof *fs);
    if (n_layers <= 0 || T <= 0 || C <= 0 || ckv <= 0 || ckv > C) return DLLM_E_INVALID_ARG;
    fs->n_layers = n_layers;
    fs->T = T;
    fs->C = C;
    fs->Ckv = ckv;
    if (pool != NULL) {
        float *blk = NULL;
        size_t q = dllm_pool_round(n), qkv = dllm_pool_round(nkv);
        rc = dllm_pool_alloc(pool, 2 * q + 2 * qkv, (void **)&blk);
        if (rc != DLLM_OK) return rc;
        fs->pool = pool;
        fs->k = blk;
        fs->v = (float *)((char *)blk + qkv);
        fs->a = (float *)((char *)blk + 2 * qkv);
        fs->f = (float *)((char *)blk + 2 * qkv + q);
        return DLLM_OK;
    }
    DLLM_TRY_GOTO(dllm_backend_alloc(be, nkv, (void **)&fs->k), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(be, nkv, (void **)&fs->v), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(be, n, (void **)&fs->a), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(be, n, (void **)&fs->f), rc, out);
out:
    if (rc != DLLM_OK) dllm_feature_store_deinit(fs, be);
    return rc;
}

size_t dllm_feature_store_compact_bytes(int64_t L, int64_t T, int64_t nkeep, int64_t bl,
                                        int64_t C)
{
    return dllm_feature_store_compact_bytes_kv(L, T, nkeep, bl, C, C);
}

size_t dllm_feature_store_compact_bytes_kv(int64_t L, int64_t T, int64_t nkeep, int64_t bl,
                                           int64_t C, int64_t ckv)
{
    size_t kv = (size_t)L * (size_t)(nkeep + bl) * (size_t)ckv * sizeof(float);
    return dllm_feature_store_bytes_kv(1, T, C, ckv) + 2 * dllm_pool_round(kv);
}

dllm_status dllm_feature_store_init_compact(dllm_feature_store *fs, dllm_backend *be,
                                            dllm_pool *pool, int64_t L, int64_t T,
                                            int64_t nkeep, int64_t bl, int64_t C)
{
    return dllm_feature_store_init_compact_kv(fs, be, pool, L, T, nkeep, bl, C, C);
}

dllm_status dllm_feature_store_init_compact_kv(dllm_feature_store *fs, dllm_backend *be,
                                               dllm_pool *pool, int64_t L, int64_t T,
                                               int64_t nkeep, int64_t bl, int64_t C,
                                               int64_t ckv)
{
    dllm_feature_store kv;
    size_t n;
    dllm_status rc;

    if (L <= 0 || nkeep < 0 || bl <= 0 || nkeep + bl > T) return DLLM_E_INVALID_ARG;
    rc = dllm_feature_store_init_kv(fs, be, pool, 1, T, C, ckv);
    if (rc != DLLM_OK) return rc;
    /* kc, vc: the k and v of a second store of L x Tk rows (its a, f are not allocated) */
    n = (size_t)L * (size_t)(nkeep + bl) * (size_t)ckv * sizeof(float);
    memset(&kv, 0, sizeof kv);
    if (pool != NULL) {
        size_t q = dllm_pool_round(n);
        rc = dllm_pool_alloc(pool, 2 * q, (void **)&kv.k);
        kv.v = kv.k ? (float *)((char *)kv.k + q) : NULL;
    } else {
        rc = dllm_backend_alloc(be, n, (void **)&kv.k);
        if (rc == DLLM_OK) rc = dllm_backend_alloc(be, n, (void **)&kv.v);
        if (rc != DLLM_OK) dllm_backend_dealloc(be, kv.k);
    }
    if (rc != DLLM_OK) {
        dllm_feature_store_deinit(fs, be);
        return rc;
    }
    fs->kv_layers = L;
    fs->Tk = nkeep + bl;
    fs->nkeep = nkeep;
    fs->kept_lo = -1;
    fs->kc = kv.k;
    fs->vc = kv.v;
    return DLLM_OK;
}

void dllm_feature_store_deinit(dllm_feature_store *fs, dllm_backend *be)
{
    if (fs == NULL) return;
    if (fs->kc != NULL) {
        size_t n = (size_t)fs->kv_layers * (size_t)fs->Tk * (size_t)fs->Ckv * sizeof(float);
        if (fs->pool != NULL) {
            dllm_pool_free(fs->pool, fs->kc, 2 * dllm_pool_round(n));
        } else {
            dllm_backend_dealloc(be, fs->kc);
            dllm_backend_dealloc(be, fs->vc);
        }
        fs->kc = fs->vc = NULL;
    }
    if (fs->pool != NULL) {
        size_t n = (size_t)fs->n_layers * (size_t)fs->T * (size_t)fs->C * sizeof(float);
        size_t nkv = (size_t)fs->n_layers * (size_t)fs->T * (size_t)fs->Ckv * sizeof(float);
        dllm_pool_free(fs->pool, fs->k, 2 * dllm_pool_round(n) + 2 * dllm_pool_round(nkv));
        memset(fs, 0, sizeof *fs);
        return;
    }
    dllm_backend_dealloc(be, fs->k);
    dllm_backend_dealloc(be, fs->v);
    dllm_backend_dealloc(be, fs->a);
    dllm_backend_dealloc(be, fs->f);
    memset(fs, 0, sizeof *fs);
}
