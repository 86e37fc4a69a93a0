/* config.h -- dllm-worker configuration: flags and DLLM_* environment variables.
 *
 * Every flag --some-name has the environment variable DLLM_SOME_NAME; a flag wins over
 * the environment, the environment over the default. Values are validated at start with
 * messages that name the flag and say what is expected (dllm_worker_config_load).
 * --kafka-prop KEY=VALUE (repeatable; DLLM_KAFKA_PROP holds several separated by ';')
 * passes any librdkafka property to both the consumer and the producer.
 *
 * DESIGN
 * ------
 * - The struct owns nothing: strings point into argv, the environment or static defaults,
 *   except kafka_props (a malloc'd array of pointers) freed by dllm_worker_config_deinit.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_CONFIG_H
#define DLLM_WORKER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dllm/status.h"

typedef struct dllm_worker_config {
    const char *bootstrap;          /* --bootstrap HOST:PORT[,...] (required) */
    const char *group;              /* --group (default dllm-workers) */
    const char *group_instance_id;  /* --group-instance-id: static membership (optional) */
    const char *requests_topic;     /* --requests-topic (default dllm.requests) */
    const char *replies_topic;      /* --replies-topic: default reply topic (dllm.replies) */
    const char *dlq_topic;          /* --dlq-topic (default <requests-topic>.dlq) */
    const char *redis;              /* --redis redis://[:pw@]host:port[/db] | unix:///path */
    const char *model;              /* --model DIR (default: $DLLM_MODEL or shipped) */
    const char *model_id;           /* --model-id: id checked against requests (dir name) */
    const char *backend;            /* --backend cpu|cuda */
    int threads;                    /* --threads (0 = all cores) */
    int tp;                         /* --tp (0 or 1 = no tensor parallelism) */
    const char *http;               /* --http ADDR:PORT (default 127.0.0.1:9090; "off") */
    int64_t drain_timeout_ms;       /* --drain-timeout SEC (default 30) */
    const char *worker_id;          /* --worker-id (default host-pid-random) */
    int max_running;                /* --max-running: sequences per batch (default 8) */
    int max_queue;                  /* --max-queue: admission queue; pause when full (16) */
    int64_t dedupe_ttl_s;           /* --dedupe-ttl SEC (default 86400) */
    int dedupe_size;                /* --dedupe-size: in-process LRU entries (100000) */
    int64_t stats_interval_ms;      /* --stats-interval MS: librdkafka statistics (5000) */
    int64_t max_request_bytes;      /* --max-request-bytes (default 4 MiB) */
    int verbose;                    /* --verbose: log every request */
    /* prompt slots and their Redis directory (docs/prompt-cache.md) */
    int prompt_slots;               /* --prompt-slots N (default 0 = off) */
    int slot_tokens;                /* --slot-tokens: longest cacheable prefix (512) */
    int slot_pin_percent;           /* --slot-pin-percent: pinned share cap (25) */
    int64_t slot_pin_ttl_ms;        /* --slot-pin-ttl SEC (default 1800) */
    const char *model_revision;     /* --model-revision: part of the prefix key ("") */
    int64_t directory_lease_ms;     /* --directory-lease-ms: lease TTL (15000) */
    char **kafka_props;             /* "k=v" strings (malloc'd array, strings borrowed) */
    size_t n_kafka_props;
    char worker_id_buf[128];
} dllm_worker_config;

void dllm_worker_config_usage(FILE *f);

/* Parses argv (flags) over the environment over defaults into c and validates it.
 * Returns DLLM_OK; DLLM_E_CONFIG with a message in err naming the flag; or DLLM_E_CANCELLED
 * when --help was printed. */
dllm_status dllm_worker_config_load(dllm_worker_config *c, int argc, char **argv, char *err,
                                    size_t errn);

void dllm_worker_config_deinit(dllm_worker_config *c);

/* Resolves the model directory like the CLI: the value if set, else the model shipped
 * with the repository or installed beside the binary. -1 when none is found. */
int dllm_worker_resolve_model(const char *value, char *buf, size_t n);

#endif
