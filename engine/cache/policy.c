/* policy.c -- the `none` and `dllm` (dLLM-Cache) policies (see policy.h).
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

#include "util.h"

int32_t dllm_verify_count(int32_t R, double rho)
{
    double k = floor((double)R * rho);
    if (k < 0) return 0;
    if (k > R) return R;
    return (int32_t)k;
}

static void none_plan(const dllm_gen_params *p, int32_t t, int64_t layer, int32_t P, int32_t R,
                      dllm_layer_plan *out)
{
    (void)p;
    (void)t;
    (void)layer;
    (void)P;
    (void)R;
    out->prompt = 1;
    out->resp = 1;
    out->verify = 0;
    out->k = 0;
}

static void dllm_plan(const dllm_gen_params *p, int32_t t, int64_t layer, int32_t P, int32_t R,
                      dllm_layer_plan *out)
{
    const dllm_cache_params *c = &p->cache_params;
    int l0 = c->layer0_refresh && layer == 0;
    (void)P;
    out->prompt = (uint8_t)(((t - 1) % c->kp == 0) || l0);
    out->resp = (uint8_t)(((t - 1) % c->kr == 0) || l0);
    out->verify = (uint8_t)(!out->resp && c->rho > 0.0 && c->rho <= 1.0);
    out->k = out->verify ? dllm_verify_count(R, c->rho) : 0;
}

static const dllm_policy policies[] = {
    [DLLM_CACHE_NONE] = {.name = "none", .keeps_features = 0, .plan = none_plan},
    [DLLM_CACHE_DLLM] = {.name = "dllm", .keeps_features = 1, .plan = dllm_plan},
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
                         "dllm)", (int)p->cache);
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
