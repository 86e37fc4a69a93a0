/* kafka.h -- the worker's Kafka side: consume requests, produce replies, store offsets.
 *
 * One thread (the caller of dllm_kafka_worker_run) polls the consumer, decodes and
 * validates requests, answers poison messages (error reply + dead-letter copy), drops
 * answered duplicates, submits the rest to the engine loop, turns engine results into
 * replies, and stores each partition's offset once every earlier message of the partition
 * has been answered and the answer acknowledged by the broker.
 *
 * DESIGN
 * ------
 * - At-least-once (design.md 2, serving.md 2.1): enable.auto.offset.store=false; every
 *   consumed message gets a record with a reference count in its partition's tracker
 *   (processing + one per produce in flight); the contiguous prefix of finished records is
 *   the partition's watermark, stored with rd_kafka_offsets_store (committed by the
 *   background auto-commit, and synchronously at shutdown). A SIGKILL at any moment can
 *   only lose uncommitted progress, which is redelivered and answered after restart.
 * - Cooperative-sticky assignment; optional static membership (group.instance.id).
 *   Trackers are per assignment generation, so late delivery reports for a revoked
 *   partition are ignored instead of storing offsets for the wrong generation.
 * - Backpressure: when queued requests (not yet running) reach --max-queue, every assigned
 *   partition is paused and polling continues (rebalances are served, max.poll.interval is
 *   never exceeded); newly assigned partitions are paused too; resume below half.
 * - Duplicates: a request id that is in flight absorbs the redelivered message (its
 *   record finishes with the original's reply); one already answered (dedupe.h) is not
 *   run again.
 * - Deadlines: checked on receipt, before submission, and while queued or running (the
 *   scheduler cancels the sequence); the reply is DEADLINE_EXCEEDED.
 * - Shutdown: see dllm_kafka_worker_run.
 * - Idempotent producer; reply key = request key; correlation id in body and header.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_KAFKA_H
#define DLLM_WORKER_KAFKA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "dedupe.h"
#include "directory.h"
#include "dllm/dllm.h"
#include "engine_loop.h"
#include "metrics.h"

typedef struct dllm_kafka_worker dllm_kafka_worker;

/* Everything the Kafka side borrows (all must outlive the worker). */
typedef struct dllm_kafka_deps {
    const dllm_worker_config *cfg;
    dllm_engine_loop *loop;
    const dllm_tokenizer *tok; /* thread-safe for encode/decode */
    dllm_codec_limits limits;  /* vocab, mask id, max sequence length, model id */
    int32_t eos_id, eot_id;    /* -1 when absent */
    dllm_dedupe *dedupe;
    dllm_metrics *metrics;
    const char *model_id;
    const dllm_engine *engine;    /* prompt-slot keys (thread-safe: immutable identity) */
    dllm_directory *directory;    /* prompt-slot directory; NULL when slots are off */
} dllm_kafka_deps;

/* Creates the consumer and producer (no network traffic yet). DLLM_E_CONFIG with a message
 * naming the property when librdkafka rejects the configuration. */
dllm_status dllm_kafka_worker_new(const dllm_kafka_deps *d, dllm_kafka_worker **out,
                                  char *err, size_t errn);
void dllm_kafka_worker_free(dllm_kafka_worker *w); /* NULL is a no-op */

/* Subscribes and serves until *stop becomes non-zero (SIGTERM) or a fatal error, then
 * drains: pauses consumption, drops requests not yet submitted to the engine (their
 * offsets are not stored: they are redelivered), lets submitted ones finish within
 * --drain-timeout and produces their replies, flushes the producer (delivery reports
 * store the offsets), commits synchronously and closes the consumer (leaves the group).
 * Returns DLLM_OK after a clean drain, DLLM_E_KAFKA after a fatal Kafka error,
 * DLLM_E_DEVICE_LOST when the engine died. */
dllm_status dllm_kafka_worker_run(dllm_kafka_worker *w, volatile sig_atomic_t *stop);

/* Thread-safe probes. */
int64_t dllm_kafka_worker_heartbeat_ms(dllm_kafka_worker *w);
int dllm_kafka_worker_joined(dllm_kafka_worker *w); /* got an assignment, not draining */

#endif
