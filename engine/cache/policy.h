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
                     * Fast-dLLM block, or block + suffix); lo == hi: none */
} dllm_layer_plan;

/* Where a forward sits in the generation. */
typedef struct dllm_plan_ctx {
    int32_t t;     /* 1-based forward count of this CFG branch */
    int32_t P, R;  /* prompt rows, response rows */
    int32_t block; /* current block */
    int32_t step_in_block; /* 0 = the block's first step */
    int32_t b0, bl;        /* absolute first row and length of the block */
} dllm_plan_ctx;

typedef struct dllm_policy {
    const char *name;
    /* 1 when features persist across steps (a store per layer), 0 when every forward
     * recomputes everything (a one-layer scratch store suffices). */
    int keeps_features;
    /* Fills the plan of layer `layer` for the forward described by c. */
    void (*plan)(const dllm_gen_params *p, const dllm_plan_ctx *c, int64_t layer,
                 dllm_layer_plan *out);
} dllm_policy;

/* The policy for an id; never NULL for a validated id. */
const dllm_policy *dllm_policy_get(dllm_cache_policy id);

/* Validates the cache parameters of p for its policy (message names the parameter). */
dllm_status dllm_policy_validate(const dllm_gen_params *p, char *err, size_t errn);

/* floor(R * rho) computed in float64, the V-verify row count. */
int32_t dllm_verify_count(int32_t R, double rho);

#endif
