/* policy.h -- cache policies: which rows each layer recomputes in a forward.
 *
 * A policy is a small module that only decides rows; the feature store
 * (feature_store.h) and the row-plan forward (forward.c) do the work. For each forward
 * of a sequence's CFG branch (t = 1-based count of that branch's forwards) and each
 * layer, it fills a dllm_layer_plan:
 *
 *   prompt  recompute the prompt rows [0, P): Q, K, V, attention, W_o, MLP
 *   resp    recompute every response row [P, T)
 *   verify  (when !resp) V-verify: V for every response row, then the k response rows
 *           whose new V is least similar (cosine) to the cached V are recomputed fully;
 *           V is replaced for all response rows, K/A/F only for the k rows
 *
 * Cases of algorithms.md 1.5: A = prompt && resp, B = resp only, C = prompt only (+
 * verify), D = neither (+ verify). Fast-dLLM's policies use A at each block's first step
 * and a row range [lo, hi) (the block, or the block and its suffix) otherwise. Rows not
 * recomputed reuse the store.
 *
 * Sparse-dLLM (`sparse`, algorithms.md 10; official OpenMOSS/Sparse-dLLM code) keeps no
 * full-length store: its store (feature_store.h, compact layout) has one-layer scratch
 * rows for the full forwards and, per layer, the K/V of only nkeep + block rows. Per block:
 *   step 0   full forward, nothing kept (the delay: the block's first commits land first)
 *   step 1   full forward; in each layer the block's queries score every key (the
 *            backend's attention_keystat: sum over heads and block queries of q.k/sqrt(d)),
 *            the non-block rows' scores (prefix ++ suffix, one sequence) are max-pooled
 *            (window `kernel`, stride 1, edges padded with -inf) and the nkeep =
 *            floor((T - block) * keep_ratio) highest (ties: lower row) keep their K/V;
 *            the compact store of the layer becomes [kept rows, ascending | block rows]
 *   step >=2 only the block rows run; their K/V are written into the block slots and
 *            they attend to the compact store (nkeep + block keys).
 *
 * d2Cache (`d2`, cache/d2.h) recomputes every row at the first forward, then the row list
 * chosen after each step (ctx->rows); every forward reports its attention probabilities.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_POLICY_H
#define DLLM_POLICY_H

#include <stdint.h>

#include "dllm/dllm.h"

typedef struct dllm_layer_plan {
    uint8_t prompt; /* recompute the prompt rows */
    uint8_t resp;   /* recompute all response rows */
    uint8_t verify; /* V-verify the response (only meaningful when !resp) */
    int32_t k;      /* rows V-verify selects (0..R) */
    int32_t lo, hi; /* when !prompt && !resp: also recompute rows [lo, hi) fully (the
                     * Fast-dLLM block, or block + suffix); lo == hi: none. With keystat:
                     * the block whose queries score the keys. */
    uint8_t keystat; /* (full plans, compact store) select the kept K/V of this layer from
                      * the saliency of the queries [lo, hi) (Sparse-dLLM step 1) */
    uint8_t compact; /* (range plans, compact store) rows [lo, hi) attend to the kept K/V */
    int32_t kernel;  /* keystat: max-pool window (odd >= 1) */
    const int32_t *rows; /* (when !prompt && !resp) also recompute these n_rows rows fully */
    int32_t n_rows;      /* (ascending, in [0, T), disjoint from [lo, hi); d2Cache) */
    uint8_t probs;       /* write the queries' head-mean attention probabilities (d2Cache) */
} dllm_layer_plan;

/* Where a forward sits in the generation. */
typedef struct dllm_plan_ctx {
    int32_t t;     /* 1-based forward count of this CFG branch */
    int32_t P, R;  /* prompt rows, response rows */
    int32_t block; /* current block */
    int32_t step_in_block; /* 0 = the block's first step */
    int32_t b0, bl;        /* absolute first row and length of the block */
    const int32_t *rows;   /* d2Cache: the rows chosen after the last step (n_rows), or */
    int32_t n_rows;        /* n_rows == 0 before the first forward */
} dllm_plan_ctx;

typedef struct dllm_policy {
    const char *name;
    /* 1 when features persist across steps (a store per layer), 0 when every forward
     * recomputes everything (a one-layer scratch store suffices). */
    int keeps_features;
    /* 1 when the store has the compact layout (Sparse-dLLM): one-layer scratch rows plus
     * per-layer K/V of the kept rows and the block (feature_store.h). */
    int compact_kv;
    /* Fills the plan of layer `layer` for the forward described by c. */
    void (*plan)(const dllm_gen_params *p, const dllm_plan_ctx *c, int64_t layer,
                 dllm_layer_plan *out);
} dllm_policy;

/* The policy for an id; never NULL for a validated id. */
const dllm_policy *dllm_policy_get(dllm_cache_policy id);

/* Validates the cache parameters of p for its policy (message names the parameter). */
dllm_status dllm_policy_validate(const dllm_gen_params *p, char *err, size_t errn);

/* Sparse-dLLM's kept row count floor((T - bl) * keep_ratio) in float64 (0..T-bl). */
int32_t dllm_sparse_keep_count(int32_t T, int32_t bl, double keep_ratio);

/* floor(R * rho) computed in float64, the V-verify row count. */
int32_t dllm_verify_count(int32_t R, double rho);

#endif
