/* sampler.h -- the LLaDA schedule and commit rules (host side).
 *
 * The reduction from logits to (token, confidence) per row is a backend op
 * (dllm_backend_sample); what remains on the host is tiny and exactly specified:
 * how many tokens a step commits, and which positions win.
 *
 *   transfer count (get_num_transfer_tokens): a block with m masked tokens and spb
 *   steps commits m / spb tokens per step, and one more in each of the first m % spb
 *   steps.
 *
 *   selection: among the masked positions of the current block, the k with the highest
 *   confidence; equal confidences go to the lower position (a stable sort), so the
 *   result is deterministic and identical to ops/reference.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_SAMPLER_H
#define DLLM_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

/* Tokens to commit at step i (0-based) of a block with m masked tokens over spb steps. */
int32_t dllm_sched_transfer_count(int32_t m, int32_t spb, int32_t i);

/* Selects k of the n candidates (positions pos (n), confidences conf (n)) by confidence
 * descending, ties to the lower position; writes the chosen candidate INDICES (into pos)
 * to sel (k), in selection order. k > n is clamped to n; returns the number chosen.
 * order (n) is caller-provided scratch. */
size_t dllm_select_topk(const double *conf, const int32_t *pos, size_t n, size_t k,
                        size_t *order, size_t *sel);

/* Fast-dLLM threshold rule: every candidate with conf > tau (in candidate order), or the
 * single best one (lower position on ties) when none qualifies. Returns the count. */
size_t dllm_select_threshold(const double *conf, const int32_t *pos, size_t n, double tau,
                             size_t *order, size_t *sel);

/* Fast-dLLM factor rule: with the confidences sorted descending (lower position first on
 * ties), the largest n >= 1 with (n + 1) * (1 - c_n) < f, else 1. Returns the count. */
size_t dllm_select_factor(const double *conf, const int32_t *pos, size_t n, double f,
                          size_t *order, size_t *sel);

#endif
