/* feature_store.h -- the per-sequence feature cache of dLLM-Cache (and of every policy).
 *
 * For one sequence and one CFG branch, per layer and per canvas row: K (after RoPE:
 * positions never move in a diffusion LM), V, A (attention output after W_o: the
 * attention sub-layer's residual delta) and F (MLP output after W_down: the MLP's
 * residual delta). Rows [0, P) are the prompt segment and [P, T) the response segment
 * of algorithms.md section 1.2; they are one contiguous (T, C) matrix per layer and
 * feature so that attention reads K and V of the whole canvas without copies.
 *
 *   k, v, a, f : (n_layers, T, C) fp32, backend memory, layer-major
 *
 * A policy that keeps nothing between steps (`none`) uses a store of one layer that
 * every layer overwrites (n_layers = 1), so all policies share one forward.
 *
 * Compact layout (Sparse-dLLM): k, v, a, f are such a one-layer scratch (the full
 * forwards), and per layer only Tk = nkeep + block rows of K/V persist:
 *
 *   kc, vc : (L, Tk, C) fp32, backend memory: [nkeep kept rows, ascending position |
 *            the block's rows]; kept_lo = first row of the block they were chosen for
 *            (-1: none chosen yet)
 * The store is allocated when a sequence is admitted and never during a step.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_FEATURE_STORE_H
#define DLLM_FEATURE_STORE_H

#include "backend.h"
#include "cache/pool.h"

typedef struct dllm_feature_store {
    int64_t n_layers; /* layers stored: the model's L, or 1 for a scratch store */
    int64_t T, C;     /* rows (prompt + response) and model width */
    int64_t Ckv;      /* K/V width: C, or the rank's heads' share Cl under tensor parallelism */
    float *k;         /* (n_layers, T, Ckv) K after RoPE */
    float *v;         /* (n_layers, T, Ckv) V */
    float *a;         /* (n_layers, T, C) attention output after W_o */
    float *f;         /* (n_layers, T, C) MLP output after W_down */
    dllm_pool *pool;  /* the pool k..f came from (one block), or NULL: backend allocations */
    /* compact layout only (kc == NULL otherwise) */
    int64_t kv_layers;  /* L */
    int64_t Tk, nkeep;  /* compact rows per layer, of which kept rows */
    int64_t kept_lo;    /* block the kept rows were chosen for, -1 none */
    float *kc, *vc;     /* (kv_layers, Tk, Ckv) */
} dllm_feature_store;

/* Bytes a store of n_layers x T x C needs. */
size_t dllm_feature_store_bytes(int64_t n_layers, int64_t T, int64_t C);
/* The same with K/V of width ckv (a tensor-parallel rank's heads). */
size_t dllm_feature_store_bytes_kv(int64_t n_layers, int64_t T, int64_t C, int64_t ckv);

/* Allocates the four tensors: from pool (one block) when pool != NULL, else directly
 * on be. On failure (DLLM_E_NOMEM when the pool is full) nothing stays allocated. */
dllm_status dllm_feature_store_init(dllm_feature_store *fs, dllm_backend *be, dllm_pool *pool,
                                    int64_t n_layers, int64_t T, int64_t C);
/* The same with K/V of width ckv (<= C) (tensor parallelism: the rank's heads). */
dllm_status dllm_feature_store_init_kv(dllm_feature_store *fs, dllm_backend *be,
                                       dllm_pool *pool, int64_t n_layers, int64_t T, int64_t C,
                                       int64_t ckv);
void dllm_feature_store_deinit(dllm_feature_store *fs, dllm_backend *be); /* zeroed: no-op */

/* The compact layout: one-layer scratch of T rows plus (L, nkeep + bl, C) kept K/V. */
size_t dllm_feature_store_compact_bytes(int64_t L, int64_t T, int64_t nkeep, int64_t bl,
                                        int64_t C);
dllm_status dllm_feature_store_init_compact(dllm_feature_store *fs, dllm_backend *be,
                                            dllm_pool *pool, int64_t L, int64_t T,
                                            int64_t nkeep, int64_t bl, int64_t C);
size_t dllm_feature_store_compact_bytes_kv(int64_t L, int64_t T, int64_t nkeep, int64_t bl,
                                           int64_t C, int64_t ckv);
dllm_status dllm_feature_store_init_compact_kv(dllm_feature_store *fs, dllm_backend *be,
                                               dllm_pool *pool, int64_t L, int64_t T,
                                               int64_t nkeep, int64_t bl, int64_t C,
                                               int64_t ckv);

/* Layer l's (T, C) slice of a feature (a store of one layer serves every l). */
static inline float *dllm_fs_layer(const dllm_feature_store *fs, float *base, int64_t l)
{
    return base + (fs->n_layers == 1 ? 0 : l) * fs->T * fs->C;
}

/* Layer l's (T, Ckv) slice of K or V. */
static inline float *dllm_fs_layer_kv(const dllm_feature_store *fs, float *base, int64_t l)
{
    return base + (fs->n_layers == 1 ? 0 : l) * fs->T * fs->Ckv;
}

#endif
