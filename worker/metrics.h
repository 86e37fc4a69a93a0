/* metrics.h -- the worker's Prometheus metrics (text exposition format 0.0.4).
 *
 * Names follow vLLM/SGLang where a concept matches (serving.md section 4), prefixed
 * dllm_, with seconds for times, counters for totals, and a constant model_name label on
 * every series. The full list is in docs/worker.md and in dllm_metrics_render().
 *
 * DESIGN
 * ------
 * - A fixed set of fields, not a generic registry: each metric is named exactly once, in
 *   the renderer. One mutex guards everything; updates are a few integer adds, and the
 *   HTTP thread holds the lock only while rendering into a buffer.
 * - Writers: the Kafka thread (requests, Kafka and Redis events, librdkafka statistics);
 *   readers: the HTTP thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_METRICS_H
#define DLLM_WORKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "dllm/status.h"

typedef struct dllm_metrics dllm_metrics;

/* Counter ids (monotonic totals). */
typedef enum dllm_counter {
    DLLM_M_REQUESTS_RECEIVED,  /* messages consumed from the requests topic */
    DLLM_M_REQUESTS_DUPLICATE, /* redeliveries recognised by request_id */
    DLLM_M_DLQ_MESSAGES,       /* originals produced to the dead-letter topic */
    DLLM_M_REPLIES,            /* replies acknowledged by the broker */
    DLLM_M_DELIVERY_FAILURES,  /* produce attempts that failed (retried) */
    DLLM_M_PROMPT_TOKENS,
    DLLM_M_GENERATION_TOKENS,
    DLLM_M_STEPS,
    DLLM_M_FORWARDS,
    DLLM_M_REDIS_ERRORS,
    DLLM_M_OFFSET_STORE_ERRORS,
    DLLM_M_PAUSES, /* times the assigned partitions were paused (backpressure) */
    DLLM_M_COUNTER_COUNT
} dllm_counter;

/* Gauge ids. */
typedef enum dllm_gauge {
    DLLM_G_RUNNING,   /* sequences in the running batch */
    DLLM_G_WAITING,   /* requests admitted to the queue, not yet running */
    DLLM_G_ASSIGNED,  /* partitions assigned to this worker */
    DLLM_G_PAUSED,    /* 1 while the assigned partitions are paused */
    DLLM_G_REDIS_UP,  /* 1 when Redis answers (or is not configured) */
    DLLM_G_REBALANCES, /* cgrp rebalance_cnt from librdkafka statistics */
    DLLM_G_GAUGE_COUNT
} dllm_gauge;

/* Histogram ids (seconds). */
typedef enum dllm_hist {
    DLLM_H_E2E,        /* receipt -> result */
    DLLM_H_QUEUE,      /* receipt -> admission into the batch */
    DLLM_H_FIRST_STEP, /* receipt -> first denoising step done (time to first block) */
    DLLM_H_HIST_COUNT
} dllm_hist;

dllm_status dllm_metrics_new(const char *model_name, const char *worker_id, dllm_metrics **out);
void dllm_metrics_free(dllm_metrics *m); /* NULL is a no-op */

void dllm_metrics_add(dllm_metrics *m, dllm_counter c, uint64_t v);
void dllm_metrics_set(dllm_metrics *m, dllm_gauge g, double v);
void dllm_metrics_observe(dllm_metrics *m, dllm_hist h, double seconds);
/* A finished request: finish reason for successes, error code for failures. */
void dllm_metrics_request_done(dllm_metrics *m, dllm_finish f, dllm_errc e);
/* Consumer lag of one partition (from librdkafka statistics); replaces the old value.
 * dllm_metrics_clear_lag forgets every partition (before a new statistics snapshot). */
void dllm_metrics_set_lag(dllm_metrics *m, const char *topic, int32_t partition, int64_t lag);
void dllm_metrics_clear_lag(dllm_metrics *m);

/* Parses a librdkafka statistics JSON document and updates the Kafka gauges (lag per
 * partition, rebalance count, assignment size). Unknown shapes are ignored. */
void dllm_metrics_kafka_stats(dllm_metrics *m, const char *json, size_t len);

/* Renders every metric in Prometheus text format into a malloc'd, NUL-terminated buffer
 * (*out; the caller frees). DLLM_E_NOMEM. */
dllm_status dllm_metrics_render(dllm_metrics *m, char **out, size_t *len);

/* Prompt slots and their directory (docs/prompt-cache.md): cumulative values, replaced
 * wholesale by each update (the engine and the directory keep the totals). */
typedef struct dllm_prompt_cache_metrics {
    int enabled;                              /* rendered only when slots are on */
    double slots, used, referenced, pinned;   /* gauges */
    uint64_t query_tokens, hit_tokens;        /* prefix tokens asked for / served */
    uint64_t builds, evictions, busy;         /* slots built / evicted / requests without one */
    uint64_t claims_won, claims_lost;         /* single-flight build claims */
    uint64_t published, stale_removed;        /* directory entries written / dead removed */
    uint64_t directory_errors;                /* failed directory Redis commands/connects */
} dllm_prompt_cache_metrics;

void dllm_metrics_set_prompt_cache(dllm_metrics *m, const dllm_prompt_cache_metrics *v);

/* Current value of a counter or gauge (tests, probes). */
uint64_t dllm_metrics_counter(dllm_metrics *m, dllm_counter c);
double dllm_metrics_gauge(dllm_metrics *m, dllm_gauge g);

#endif
