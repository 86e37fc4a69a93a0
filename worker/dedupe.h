/* dedupe.h -- "was this request_id already answered?" for redelivered Kafka requests.
 *
 * An in-process LRU always; with a Redis URL also Redis, shared by every worker of the
 * fleet: `SET dllm:answered:<request_id> <worker_id> NX EX <ttl>` once a reply has been
 * acknowledged by the broker, `EXISTS` when a request arrives.
 *
 * DESIGN
 * ------
 * - A request is marked only after its reply is delivered, never when it arrives: a
 *   worker killed mid-request leaves no mark, so the redelivery runs (at-least-once).
 *   The price: two workers may both run a request redelivered during a rebalance, and a
 *   crash between delivery and marking answers twice. Clients keep the first reply per
 *   request_id (docs/worker.md).
 * - Redis is best effort: a failed command counts dllm_redis_errors_total, marks Redis
 *   down and falls back to the LRU; reconnects back off from 100 ms to 5 s. The worker
 *   never stops serving because Redis is away.
 * - hiredis 0.14 synchronous API with a 200 ms command timeout, used by the Kafka thread
 *   only. dllm_dedupe_redis_ok() may be read from any thread (the /readyz probe).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_DEDUPE_H
#define DLLM_WORKER_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"
#include "metrics.h"

typedef struct dllm_dedupe dllm_dedupe;

/* redis_url may be NULL (LRU only). metrics may be NULL. The first connect is attempted
 * here; failing to reach Redis is not an error (it is retried), a malformed URL is
 * (DLLM_E_CONFIG with a message). */
dllm_status dllm_dedupe_new(const char *redis_url, size_t lru_capacity, int64_t ttl_s,
                            const char *worker_id, dllm_metrics *metrics, dllm_dedupe **out,
                            char *err, size_t errn);
void dllm_dedupe_free(dllm_dedupe *d); /* NULL is a no-op */

/* 1 if request_id was answered (by any worker, as far as Redis or the LRU know), else 0. */
int dllm_dedupe_seen(dllm_dedupe *d, const char *request_id);

/* Records request_id as answered. */
void dllm_dedupe_mark(dllm_dedupe *d, const char *request_id);

/* Reconnects to Redis when due; call from the Kafka loop. */
void dllm_dedupe_tick(dllm_dedupe *d);

/* 1 when Redis is not configured or the last command succeeded. Any thread. */
int dllm_dedupe_redis_ok(const dllm_dedupe *d);

#endif
