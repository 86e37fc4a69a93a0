/* d2.h -- d2Cache's row selection (Dual aDaptive Cache, arXiv 2509.23094; semantics in
 * ops/reference/d2cache.py and docs/dllm-cache.md): which rows the next forward
 * recomputes, from the attention rollout of the last forward and the certainty density
 * of the decoded pattern.
 *
 * DESIGN
 * ------
 * Host-side, per sequence, O(L n T) per step for the rollout and O(G^2) for the density:
 *   - rollout: importance[j] = column sums of R = A_L ... A_1, where A_l is the identity
 *     except the query rows i of that forward: (p_i + e_i) / (sum p_i + 1), p_i the
 *     head-mean probabilities from the backend's attention_probs. Computed as the vector
 *     chain u = 1^T A_L ... A_1 (float64), not as matrix products.
 *   - density[g] = sum_{j=-G}^{2G-1} w(g-j) m[j] / Z, w(d) = exp(-d^2 / 2 sigma^2), m = 1
 *     left of the generated region, the known flags inside, known[G-1] right of it;
 *     Z = sum_{d=-3G}^{3G-1} w(d) (the official FFT formula, evaluated directly).
 *   - select: masked top-k in the search window (current block first, then conf_cache x
 *     density), the just-committed rows, a nucleus (p) of the rest by importance, and
 *     the inflate rule.
 * The state is allocated when the sequence is admitted; nothing allocates in a step.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_D2_H
#define DLLM_D2_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/dllm.h"

typedef struct dllm_d2_state {
    int32_t L, P, G, T;  /* layers, prompt rows, generated rows, T = P + G */
    float *probs;        /* (L, T, T) host: per layer the query rows' head-mean probabilities */
    double *imp;         /* (T) rollout importance of the last forward */
    double *u;           /* (T) scratch of the rollout */
    double *conf;        /* (G) latest sampled confidence per generated row (1 never sampled) */
    double *dens;        /* (G) certainty density scratch */
    double *w;           /* (3G + 1) Gaussian weights w(0..3G) */
    double z;            /* normaliser Z */
    int32_t *rows;       /* (T) the next forward's rows, ascending; n_rows of them */
    int32_t n_rows;      /* 0 before the first forward (= every row) */
    uint8_t *mark;       /* (T) rows of the forward that just ran */
    int32_t *order;      /* (T) ranking scratch */
    double *key;         /* (T) ranking scratch */
    uint8_t *known;      /* (G) scratch: decoded flags of the generated rows */
    int32_t *committed;  /* (T) scratch: rows committed at this step */
} dllm_d2_state;

dllm_status dllm_d2_init(dllm_d2_state *st, int32_t L, int32_t P, int32_t G, double sigma);
void dllm_d2_free(dllm_d2_state *st); /* zeroed: no-op */

/* density of the known flags (known[g] != 0 for decoded generated rows) into st->dens. */
void dllm_d2_density(dllm_d2_state *st, const uint8_t *known);

/* Rollout importance of a forward whose query rows were rows (n, ascending; NULL: every
 * row) in every layer, with st->probs filled (layer l's (n, T) at probs + l T T). */
void dllm_d2_rollout(dllm_d2_state *st, const int32_t *rows, int32_t n);

/* The next forward's rows into st->rows / n_rows. canvas (T) after the commit, mask_id,
 * committed (nc) rows committed at this step, block length bl. Uses st->imp, st->conf. */
void dllm_d2_select(dllm_d2_state *st, const int32_t *canvas, int32_t mask_id,
                    const int32_t *committed, int32_t nc, int32_t bl,
                    const dllm_cache_params *c);

#endif
