/* prompt_cache.h -- the worker's glue between requests, the engine's prompt slots and the
 * Redis directory (docs/prompt-cache.md).
 *
 * - Which prefix is cacheable, for a request that sets cache.use_prompt_slot: the first
 *   cache.prefix_tokens tokens of the encoded prompt when the request names that boundary
 *   (any prompt form: text, raw text, token ids; the codec checked it against the
 *   prompt's length), else the system turn of a chat-template request, i.e. the prompt
 *   tokens up to and including the system turn's <|eot_id|> (the template encodes the
 *   system text on its own, so these tokens do not depend on the user turn). A raw or
 *   token-id prompt without prefix_tokens has no cacheable prefix.
 * - Before submitting such a request, a prefix this worker does not hold is claimed in
 *   the directory (single flight across the fleet; a lost claim is counted and the
 *   request is still served here: slot contents cannot move between workers).
 * - On every Kafka-loop iteration the engine's held slots are published to the directory
 *   and the metrics are refreshed.
 * All functions run on the Kafka thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_PROMPT_CACHE_H
#define DLLM_WORKER_PROMPT_CACHE_H

#include "codec.h"
#include "directory.h"
#include "dllm/dllm.h"
#include "engine_loop.h"
#include "metrics.h"

/* Tokens of the system turn in a chat-template prompt (through its <|eot_id|>), or 0. */
int32_t dllm_pc_system_prefix_len(const int32_t *ids, size_t n, int32_t eot_id);

/* Sets p's prompt-slot fields from the request (prefix_len, pin, salt) and, when slots are
 * on and the prefix is not held here, takes the directory's build claim. A named prefix
 * longer than the prompt is left for the engine to reject (INVALID_ARGUMENT). */
void dllm_pc_apply(const dllm_engine *e, dllm_directory *dir, const dllm_gen_request *req,
                   const int32_t *prompt, size_t n_prompt, int32_t eot_id, dllm_gen_params *p);

/* Publishes the held slots and refreshes the metrics (every loop iteration). */
void dllm_pc_tick(dllm_engine_loop *loop, dllm_directory *dir, dllm_metrics *m);

#endif
