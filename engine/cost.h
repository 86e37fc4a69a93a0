/* cost.h -- the FLOP formula shared by the forward's accounting and the cost model.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_COST_H
#define DLLM_COST_H

#include <stdint.h>

/* Matmul FLOPs (2 per multiply-add) of one layer that runs nq rows through Q, K, W_o,
 * attention and the MLP and nv rows through V, attending to t keys, for model width c
 * and MLP width f:  2c^2(3 nq + nv) + 4 nq t c + 6 c f nq. */
double dllm_layer_flops(int64_t c, int64_t f, int64_t nq, int64_t nv, int64_t t);

/* FLOPs of the LM head over n rows: 2 c v n. */
double dllm_head_flops(int64_t c, int64_t v, int64_t n);

#endif
