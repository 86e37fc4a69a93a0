/* shard.h -- the Megatron shard arithmetic of tensor parallelism (style.md F.25-26).
 *
 * Pure functions, no backend: which rows or columns of each weight rank r of tp holds.
 *
 *   Q, K, V  (C, C)   COL: rows [r Cl, (r+1) Cl), Cl = (NH / tp) HS (the rank's heads)
 *   W_o      (C, C)   ROW: columns [r Cl, (r+1) Cl), partial sums all-reduced
 *   gate, up (F, C)   COL: rows [r Fl, (r+1) Fl), Fl = F / tp
 *   down     (C, F)   ROW: columns [r Fl, (r+1) Fl), partial sums all-reduced
 *   wte      (V, C)   VOCAB: rows [v0, v0 + Vl) plus one zero row (ids outside the slice
 *                     map to it, so the embedding is an all-reduce of exact zeros)
 *   LM head  (V, C)   VOCAB: rows [v0, v0 + Vl)
 *   norms             REPLICATED
 * The vocabulary is split unevenly when tp does not divide V: rank r gets V / tp rows,
 * plus one when r < V % tp (LLaDA-8B's V = 126464 divides 2, 4 and 8 anyway). TP must
 * divide the head count (hence C) and the MLP hidden size.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_SHARD_H
#define DLLM_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"

typedef struct dllm_shard {
    int tp, rank;
    int64_t NHl;    /* heads of this rank */
    int64_t Cl;     /* attention width of this rank: NHl * HS; Q/K/V rows, W_o columns */
    int64_t c0;     /* first of them */
    int64_t Fl, f0; /* MLP hidden units of this rank and the first */
    int64_t Vl, v0; /* vocabulary rows of this rank and the first */
} dllm_shard;

/* Checks that tp divides the model (NH heads, F MLP units, V vocabulary rows, C width)
 * and fills rank's shard. DLLM_E_CONFIG with an actionable message otherwise. */
dllm_status dllm_shard_plan(int tp, int rank, int64_t C, int64_t NH, int64_t F, int64_t V,
                            dllm_shard *out, char *err, size_t errn);

/* The vocabulary range of rank r: [*v0, *v0 + *vl). */
void dllm_shard_vocab(int64_t V, int tp, int r, int64_t *v0, int64_t *vl);

#endif
