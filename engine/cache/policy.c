/* policy.c -- the `none`, `dllm` (dLLM-Cache), `prefix`/`dual` (Fast-dLLM) and `sparse`
 * (Sparse-dLLM) policies (see policy.h).
 *
 * dLLM-Cache's schedule, as the official code runs it (algorithms.md 1.3):
 *   refresh_prompt = ((t-1) % K_p == 0) || (layer0_refresh && layer == 0)
 *   refresh_resp   = ((t-1) % K_r == 0) || (layer0_refresh && layer == 0)
 *   transfer       = 0 < rho <= 1, k = floor(R * rho) with R = gen_length
 * t counts the forwards of one CFG branch since the start of the generation and is not
 * reset at block boundaries, so t = 1 is always a full forward.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cache/policy.h"

#include <math.h>
#include <string.h>

#include "util.h"

int32_t dllm_verify_count(int32_t R, double rho)
{
    double k = floor((double)R * rho);
    if (k < 0) return 0;
    if (k > R) return R;
    return (int32_t)k;
}

static void full_plan(dllm_layer_plan *out)
{
    memset(out, 0, sizeof *out);
    out->prompt = 1;
    out->resp = 1;
}

static void none_plan(const dllm_gen_params *p, const dllm_plan_ctx *c, int64_t layer,
                      dllm_layer_plan *out)
{
    (void)p;
    (void)c;
    (void)layer;
    full_plan(out);
}

static void dllm_plan(const dllm_gen_params *p, const dllm_plan_ctx *x, int64_t layer,
                      dllm_layer_plan *out)
{
    const dllm_cache_params *c = &p->cache_params;
    int l0 = c->layer0_refresh && layer == 0;
    memset(out, 0, sizeof *out);
    out->prompt = (uint8_t)(((x->t - 1) % c->kp == 0) || l0);
    out->resp = (uint8_t)(((x->t - 1) % c->kr == 0) || l0);
    out->verify = (uint8_t)(!out->resp && c->rho > 0.0 && c->rho <= 1.0);
    out->k = out->verify ? dllm_verify_count(x->R, c->rho) : 0;
}

/* Fast-dLLM: the whole canvas at each block's first step, then the block (dual) or the
 * block and everything after it (prefix), against the stored K/V of the rest. */
static void prefix_plan(const dllm_gen_params *p, const dllm_plan_ctx *x, int64_t layer,
                        dllm_layer_plan *out)
{
    (void)p;
    (void)layer;
    if (x->step_in_block == 0) return full_plan(out);
    memset(out, 0, sizeof *out);
    out->lo = x->b0;
    out->hi = x->P + x->R;
}

static void dual_plan(const dllm_gen_params *p, const dllm_plan_ctx *x, int64_t layer,
                      dllm_layer_plan *out)
{
    (void)p;
    (void)layer;
    if (x->step_in_block == 0) return full_plan(out);
    memset(out, 0, sizeof *out);
    out->lo = x->b0;
    out->hi = x->b0 + x->bl;
}

/* Sparse-dLLM: full forwards at a block's first two steps (the second selects the kept
 * K/V), then the block alone against the kept K/V (see policy.h). */
static void sparse_plan(const dllm_gen_params *p, const dllm_plan_ctx *x, int64_t layer,
                        dllm_layer_plan *out)
{
    (void)layer;
    if (x->step_in_block <= 1) {
        full_plan(out);
        if (x->step_in_block == 1) {
            out->keystat = 1;
            out->lo = x->b0;
            out->hi = x->b0 + x->bl;
            out->kernel = p->cache_params.kernel;
        }
        return;
    }
    memset(out, 0, sizeof *out);
    out->lo = x->b0;
    out->hi = x->b0 + x->bl;
    out->compact = 1;
}

/* d2Cache: every row at the first forward, then the rows chosen after the last step. */
static void d2_plan(const dllm_gen_params *p, const dllm_plan_ctx *x, int64_t layer,
                    dllm_layer_plan *out)
{
    (void)p;
    (void)layer;
    if (x->n_rows == 0) {
        full_plan(out);
    } else {
        memset(out, 0, sizeof *out);
        out->rows = x->rows;
        out->n_rows = x->n_rows;
    }
    out->probs = 1;
}

int32_t dllm_sparse_keep_count(int32_t T, int32_t bl, double keep_ratio)
{
    int32_t n = T - bl;
    double k = floor((double)n * keep_ratio);
    if (n <= 0 || !(k > 0)) return 0;
    if (k > n) return n;
    return (int32_t)k;
}

static const dllm_policy policies[] = {
    [DLLM_CACHE_NONE] = {.name = "none", .keeps_features = 0, .plan = none_plan},
    [DLLM_CACHE_DLLM] = {.name = "dllm", .keeps_features = 1, .plan = dllm_plan},
    [DLLM_CACHE_PREFIX] = {.name = "prefix", .keeps_features = 1, .plan = prefix_plan},
    [DLLM_CACHE_DUAL] = {.name = "dual", .keeps_features = 1, .plan = dual_plan},
    [DLLM_CACHE_SPARSE] = {.name = "sparse", .keeps_features = 1, .compact_kv = 1,
                           .plan = sparse_plan},
    [DLLM_CACHE_D2] = {.name = "d2", .keeps_features = 1, .plan = d2_plan},
};

const dllm_policy *dllm_policy_get(dllm_cache_policy id)
{
    if ((unsigned)id >= sizeof policies / sizeof policies[0]) return NULL;
    return &policies[id];
}

dllm_status dllm_policy_validate(const dllm_gen_params *p, char *err, size_t errn)
{
    const dllm_cache_params *c = &p->cache_params;
    if (dllm_policy_get(p->cache) == NULL)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "unknown cache policy %d (known: none, "
                         "dllm, prefix, dual, sparse, d2)", (int)p->cache);
    if (!(p->threshold >= 0.0f && p->threshold <= 1.0f))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "threshold must be in (0, 1], or 0 for the LLaDA schedule (got %g)",
                         (double)p->threshold);
    if (!(p->factor >= 0.0f) || !isfinite(p->factor))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "factor must be a finite number > 0, or 0 for off (got %g)",
                         (double)p->factor);
    if (p->threshold > 0.0f && p->factor > 0.0f)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "threshold and factor are alternative rules; give one of them");
    if (p->cache == DLLM_CACHE_SPARSE) {
        if (!(c->keep_ratio > 0.0 && c->keep_ratio <= 1.0))
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "keep_ratio (Sparse-dLLM kept fraction of the cache) must be in "
                             "(0, 1] (got %g); the paper's default is 0.5", c->keep_ratio);
        if (c->kernel < 1 || c->kernel % 2 == 0 || c->kernel > 1023)
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "kernel (Sparse-dLLM max-pool window) must be an odd number in "
                             "[1, 1023] (got %d); 1 = no pooling, the paper's default is 3",
                             (int)c->kernel);
        return DLLM_OK;
    }
    if (p->cache == DLLM_CACHE_D2) {
        if (c->d2_k < 1)
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "d2_k (d2Cache masked rows recomputed per step) must be >= 1 (got "
                             "%d); the paper's default is 32", (int)c->d2_k);
        if (!(c->d2_p >= 0.0 && c->d2_p <= 1.0))
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "d2_p (d2Cache rollout nucleus) must be in [0, 1] (got %g); the "
                             "paper's default is 0.1", c->d2_p);
        if (!(c->d2_sigma > 0.0) || !isfinite(c->d2_sigma))
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "d2_sigma (d2Cache certainty-density width) must be a finite "
                             "number > 0 (got %g); the paper's default is 10", c->d2_sigma);
        if (c->d2_inflate < 0)
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "d2_inflate must be >= 0 (got %d); 0 turns gap filling off",
                             (int)c->d2_inflate);
        if (p->cfg_scale > 0.0f)
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "cache policy d2 does not support classifier-free guidance "
                             "(cfg_scale %g); hint: use cfg_scale 0 or another policy",
                             (double)p->cfg_scale);
        if (c->d2_prior && (p->threshold > 0.0f || p->factor > 0.0f))
            return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                             "d2's certainty prior ranks commits by confidence x density and "
                             "applies to the step schedule; turn it off (d2_prior 0, "
                             "--d2-prior off) for threshold or factor decoding, as the d2Cache "
                             "authors advise");
        if (p->threshold <= 0.0f && p->factor <= 0.0f && p->gen_length >= p->block_length &&
            p->block_length > 0 && p->steps > 0) {
            int32_t nb = p->gen_length / p->block_length, spb = nb > 0 ? p->steps / nb : 0;
            if (spb > 0 && c->d2_k < (p->block_length + spb - 1) / spb)
                return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                                 "d2_k %d is below the %d tokens a step commits "
                                 "(block_length / steps per block); raise d2_k",
                                 (int)c->d2_k, (int)((p->block_length + spb - 1) / spb));
        }
        return DLLM_OK;
    }
    if (p->cache != DLLM_CACHE_DLLM) return DLLM_OK;
    if (c->kp < 1)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "kp (prompt refresh interval) must be >= 1 (got %d); 1 refreshes the "
                         "prompt every step", (int)c->kp);
    if (c->kr < 1)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "kr (response refresh interval) must be >= 1 (got %d); 1 refreshes the "
                         "response every step", (int)c->kr);
    if (!(c->rho >= 0.0 && c->rho <= 1.0))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "rho (V-verify ratio) must be in [0, 1] (got %g)", c->rho);
    if (c->cfg_interval < 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "cfg_interval must be >= 0 (got %d); 0 turns CFG reuse off",
                         (int)c->cfg_interval);
    if (c->cfg_interval > 0 && !(p->cfg_scale > 0.0f))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "cfg_interval %d needs classifier-free guidance (cfg_scale > 0)",
                         (int)c->cfg_interval);
    return DLLM_OK;
}
