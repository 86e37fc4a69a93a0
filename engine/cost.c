/* cost.c -- FLOP formulas and the schedule-driven cost model (dllm_estimate_cost).
 *
 * The model replays a generation without weights: for each step, the conditional forward
 * (and the unconditional one when CFG runs it) asks the policy for its layer plans, and
 * the rows those plans recompute are priced with dllm_layer_flops(). Row counts do not
 * depend on the tokens, only on the schedule, so the estimate equals what the engine
 * accounts for the same parameters (test_cost checks this on a real model).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cost.h"

#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "dllm/dllm.h"
#include "util.h"

double dllm_layer_flops(int64_t c, int64_t f, int64_t nq, int64_t nv, int64_t t)
{
    double C = (double)c, F = (double)f;
    return 2.0 * C * C * (3.0 * (double)nq + (double)nv) + 4.0 * (double)nq * (double)t * C +
           6.0 * C * F * (double)nq;
}

double dllm_head_flops(int64_t c, int64_t v, int64_t n)
{
    return 2.0 * (double)c * (double)v * (double)n;
}

void dllm_model_shape_llada_8b(dllm_model_shape *o)
{
    o->d_model = 4096;
    o->n_layers = 32;
    o->n_heads = 32;
    o->mlp_hidden_size = 12288;
    o->vocab_size = 126464;
}

/* Prices one forward of a branch at its step counter t. */
static void price_forward(const dllm_model_shape *m, const dllm_policy *pol,
                          const dllm_gen_params *p, const dllm_plan_ctx *c, int64_t head_rows,
                          dllm_cost *o)
{
    int64_t P = c->P, R = c->R, T = P + R;
    for (int64_t l = 0; l < m->n_layers; l++) {
        dllm_layer_plan pl;
        pol->plan(p, c, l, &pl);
        int64_t range = (!pl.prompt && !pl.resp && pl.hi > pl.lo) ? pl.hi - pl.lo : 0;
        int64_t nq = (pl.prompt ? P : 0) + (pl.resp ? R : 0) + (!pl.resp && pl.verify ? pl.k : 0) +
                     range;
        int64_t nv = (pl.prompt ? P : 0) + (pl.resp || pl.verify ? R : 0) + range;
        int64_t keys = pl.compact ? (int64_t)dllm_sparse_keep_count(
                                        (int32_t)T, c->bl, p->cache_params.keep_ratio) + c->bl
                                  : T; /* Sparse-dLLM attends to the kept rows and the block */
        double lf = dllm_layer_flops(m->d_model, m->mlp_hidden_size, nq, nv, keys);
        double ln = dllm_layer_flops(m->d_model, m->mlp_hidden_size, T, T, T);
        o->flops += lf;
        o->flops_full_head += lf;
        o->flops_none += ln;
        o->flops_none_full_head += ln;
        o->rows_q += nq;
        o->rows_v += nv;
        o->rows_mlp += nq;
        o->rows_all += T;
        /* TP traffic: W_o and W_down partial sums of the S rows (fp32) */
        o->tp_allreduce_count += 2;
        o->tp_allreduce_bytes += 2.0 * (double)nq * (double)m->d_model * 4.0;
        if (!pl.resp && pl.verify && pl.k > 0) { /* V-verify: (dot, |a|^2, |b|^2) per row */
            o->tp_small_count++;
            o->tp_small_bytes += 3.0 * (double)R * 8.0;
        }
        if (pl.keystat) { /* Sparse-dLLM: the keys' scores (T) */
            o->tp_allreduce_count++;
            o->tp_allreduce_bytes += (double)T * 4.0;
        }
        if (pl.probs) { /* d2Cache: the queries' head-mean probabilities (nq, T) */
            o->tp_allreduce_count++;
            o->tp_allreduce_bytes += (double)nq * (double)T * 4.0;
        }
    }
    o->tp_allreduce_count++; /* the vocabulary-parallel embedding of every row */
    o->tp_allreduce_bytes += (double)T * (double)m->d_model * 4.0;
    double hb = dllm_head_flops(m->d_model, m->vocab_size, head_rows);
    double hf = dllm_head_flops(m->d_model, m->vocab_size, T);
    o->flops += hb;
    o->flops_none += hb;
    o->flops_full_head += hf;
    o->flops_none_full_head += hf;
    o->forwards++;
}

dllm_status dllm_estimate_cost(const dllm_model_shape *m, int32_t prompt_len,
                               const dllm_gen_params *p, dllm_cost *out, char *err, size_t errn)
{
    const dllm_policy *pol;
    int32_t t_cond = 0, t_uncond = 0;

    memset(out, 0, sizeof *out);
    DLLM_TRY(dllm_gen_params_validate(p, err, errn));
    if (m == NULL || m->d_model <= 0 || m->n_layers <= 0 || m->mlp_hidden_size <= 0 ||
        m->vocab_size <= 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "invalid model shape");
    if (prompt_len < 1)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "prompt length must be >= 1");
    if (p->threshold > 0.0f || p->factor > 0.0f || p->early_stop)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "the cost of threshold/factor decoding and early stopping depends on "
                         "the tokens; measure it with `dllm bench` on a model");
    pol = dllm_policy_get(p->cache);
    int cfg = p->cfg_scale > 0.0f;
    int32_t spb = p->steps / (p->gen_length / p->block_length);
    int reuse = cfg && p->cache == DLLM_CACHE_DLLM && p->cache_params.cfg_interval > 0;
    for (int32_t s = 0; s < p->steps; s++) {
        int32_t tc = ++t_cond;
        int run_un = cfg && (!reuse || (tc - 1) % p->cache_params.cfg_interval == 0);
        int64_t head = (reuse && run_un) ? p->gen_length : p->block_length;
        int32_t blk = s / spb;
        /* d2's rows depend on the data: priced as full forwards (an upper bound) */
        dllm_plan_ctx c = {tc, prompt_len, p->gen_length, blk, s % spb,
                           prompt_len + blk * p->block_length, p->block_length, NULL, 0};
        price_forward(m, pol, p, &c, head, out);
        if (run_un) {
            c.t = ++t_uncond;
            price_forward(m, pol, p, &c, head, out);
        }
        /* the sampler's all-gather: 40 bytes per block row (tp.h) */
        out->tp_small_count++;
        out->tp_small_bytes += 40.0 * (double)p->block_length;
    }
    return DLLM_OK;
}
