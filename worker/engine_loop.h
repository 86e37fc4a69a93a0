/* engine_loop.h -- the worker's engine thread: drives the engine's scheduler.
 *
 * The engine (dllm_sched, continuous batching) does admission and batched stepping; this
 * module only owns the thread that calls dllm_sched_step() while there is work and sleeps
 * on a condition variable while there is none, plus a heartbeat for /healthz. Submitting,
 * cancelling and taking results go straight to the scheduler's thread-safe calls,
 * wrapped here so that a submit wakes the thread.
 *
 * DESIGN
 * ------
 * - Threads: dllm_engine_loop_submit/cancel/poll/stats from any thread (the Kafka thread);
 *   the loop thread is the only caller of dllm_sched_step().
 * - A failed step (device error) is counted and logged; the scheduler already failed the
 *   sequences of that batch, whose results carry the error. DLLM_E_DEVICE_LOST stops the
 *   loop and dllm_engine_loop_fatal() turns non-zero: the worker must exit and restart.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_ENGINE_LOOP_H
#define DLLM_WORKER_ENGINE_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/dllm.h"

typedef struct dllm_engine_loop dllm_engine_loop;

/* Creates the scheduler over e (borrowed; must outlive the loop) and starts the thread. */
dllm_status dllm_engine_loop_new(dllm_engine *e, const dllm_sched_config *c,
                                 dllm_engine_loop **out, char *err, size_t errn);
/* Stops the thread (after its current step) and frees the scheduler; NULL is a no-op. */
void dllm_engine_loop_free(dllm_engine_loop *l);

dllm_status dllm_engine_loop_submit(dllm_engine_loop *l, const dllm_request *r, uint64_t *id,
                                    char *err, size_t errn);
dllm_status dllm_engine_loop_cancel(dllm_engine_loop *l, uint64_t id);
int dllm_engine_loop_poll(dllm_engine_loop *l, dllm_result **out);
void dllm_engine_loop_stats(dllm_engine_loop *l, dllm_sched_stats *out);
/* The engine's held prompt slots (dllm_sched_slot_list); any thread. */
size_t dllm_engine_loop_slot_list(dllm_engine_loop *l, dllm_slot_info *out, size_t cap);

/* Monotonic ms of the loop's last iteration (it ticks at least once a second). */
int64_t dllm_engine_loop_heartbeat_ms(dllm_engine_loop *l);
/* Non-zero after a sticky device error. */
int dllm_engine_loop_fatal(dllm_engine_loop *l);

/* Monotonic clock in ms (shared helper). */
int64_t dllm_mono_ms(void);

#endif
