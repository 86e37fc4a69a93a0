/* shard.c -- the shard arithmetic (shard.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "shard.h"

#include "util.h"

void dllm_shard_vocab(int64_t V, int tp, int r, int64_t *v0, int64_t *vl)
{
    int64_t base = V / tp, extra = V % tp;
    *vl = base + (r < extra ? 1 : 0);
    *v0 = (int64_t)r * base + (r < extra ? r : extra);
}

dllm_status dllm_shard_plan(int tp, int rank, int64_t C, int64_t NH, int64_t F, int64_t V,
                            dllm_shard *out, char *err, size_t errn)
{
    if (tp < 1 || tp > 64)
        return dllm_errf(err, errn, DLLM_E_CONFIG, "tensor parallelism %d is out of range "
                         "[1, 64]", tp);
    if (rank < 0 || rank >= tp)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "rank %d outside [0, %d)", rank, tp);
    if (NH <= 0 || C % NH != 0)
        return dllm_errf(err, errn, DLLM_E_CONFIG, "d_model %lld is not a multiple of the "
                         "head count %lld", (long long)C, (long long)NH);
    if (NH % tp != 0)
        return dllm_errf(err, errn, DLLM_E_CONFIG, "--tp %d does not divide the model's %lld "
                         "attention heads; hint: use a tp that divides %lld", tp,
                         (long long)NH, (long long)NH);
    if (F % tp != 0)
        return dllm_errf(err, errn, DLLM_E_CONFIG, "--tp %d does not divide the model's MLP "
                         "hidden size %lld; hint: use a tp that divides %lld", tp,
                         (long long)F, (long long)F);
    if (V < tp)
        return dllm_errf(err, errn, DLLM_E_CONFIG, "--tp %d exceeds the vocabulary size %lld",
                         tp, (long long)V);
    out->tp = tp;
    out->rank = rank;
    out->NHl = NH / tp;
    out->Cl = out->NHl * (C / NH);
    out->c0 = (int64_t)rank * out->Cl;
    out->Fl = F / tp;
    out->f0 = (int64_t)rank * out->Fl;
    dllm_shard_vocab(V, tp, rank, &out->v0, &out->Vl);
    return DLLM_OK;
}
