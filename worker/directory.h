/* directory.h -- the prompt-slot directory in Redis: which worker holds which prefix.
 *
 * The engine's own slot table is the truth about a slot's contents; the directory is a
 * routing hint and a coordination point for the fleet (design.md 4.5, serving.md 1.8):
 * a producer or gateway can ask who holds a prefix key, and workers take a short
 * single-flight claim before building a prefix so that duplicate builds across the fleet
 * are visible (dllm_prompt_slot_claims_lost_total).
 *
 * Key layout (prefix P, default "dllm:pc:"; documented in docs/prompt-cache.md):
 *   P lease:<worker_id>   STRING <nonce>, PX lease_ttl: one per worker incarnation; the
 *                         nonce is 128 random bits drawn at start, refreshed by the
 *                         heartbeat only while it still holds our nonce (compare-and-expire)
 *   P slot:<key hex>      HASH <worker_id> -> "<nonce>:<n_tokens>:<pinned 0|1>", the
 *                         holders of a prefix; the whole hash PX lease_ttl, refreshed by
 *                         every holder's heartbeat; a field is valid only while
 *                         P lease:<worker_id> holds the same nonce (readers check and
 *                         delete stale fields), so a crashed or restarted worker's entries
 *                         die with its lease, at most lease_ttl later
 *   P claim:<key hex>     STRING "<worker_id>:<nonce>", SET NX PX claim_ttl: "building";
 *                         deleted by its owner (compare-and-delete) once published
 *
 * DESIGN
 * ------
 * - Reconciliation, not events: dllm_directory_tick() receives the engine's held slots
 *   (dllm_sched_slot_list) and publishes the difference from what it last published
 *   (HSET new ones, HDEL evicted ones). After a reconnect everything is republished, so
 *   a Redis restart or flush heals within one tick.
 * - Heartbeat every lease_ttl / 3: the lease and every published hash get their TTL back.
 *   If the lease was lost (we stalled past the TTL, or Redis lost it), it is taken again
 *   with SET NX; if another process holds our worker id, lease_conflicts counts it and
 *   nothing is published under a lease we do not own.
 * - Redis is optional and its loss is survived: any failed command drops the connection,
 *   counts redis_errors and retries after a backoff from 100 ms to 5 s; meanwhile lookups
 *   answer from the local table (this worker's own slots) and claims are granted locally.
 * - hiredis 0.14 synchronous API, 200 ms timeouts; single-threaded (the caller's thread).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_DIRECTORY_H
#define DLLM_WORKER_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/dllm.h"

typedef struct dllm_directory dllm_directory;

typedef struct dllm_directory_config {
    const char *redis_url;  /* redis://[:password@]host:port[/db] or unix:///path; NULL:
                             * local only */
    const char *worker_id;  /* this worker (required, <= 128 bytes) */
    const char *prefix;     /* key prefix; NULL = "dllm:pc:" */
    int64_t lease_ttl_ms;   /* <= 0: 15000 */
    int64_t claim_ttl_ms;   /* <= 0: 10000 */
} dllm_directory_config;

typedef struct dllm_directory_holder {
    char worker_id[129];
    int32_t n_tokens;
    int pinned;
} dllm_directory_holder;

typedef struct dllm_directory_stats {
    int redis_up;             /* 1 when connected (or no Redis configured) */
    uint64_t redis_errors;    /* failed connects and commands */
    uint64_t published, removed; /* entries written / deleted */
    uint64_t heartbeats, lease_lost, lease_conflicts;
    uint64_t claims_won, claims_lost;
    uint64_t lookups, stale_removed; /* lookups; dead holders' fields deleted by lookups */
} dllm_directory_stats;

/* A malformed URL or missing worker id is DLLM_E_CONFIG with a message; an unreachable
 * Redis is not an error (retried). */
dllm_status dllm_directory_new(const dllm_directory_config *c, dllm_directory **out, char *err,
                               size_t errn);

/* Graceful stop: when connected, deletes this incarnation's lease and entries. NULL is a
 * no-op. (A crash leaves them to expire with the lease.) */
void dllm_directory_free(dllm_directory *d);

/* Publishes the held slots (the engine's list), heartbeats when due, reconnects when due.
 * Call regularly (at least every lease_ttl / 3). */
void dllm_directory_tick(dllm_directory *d, const dllm_slot_info *held, size_t n);

/* Single-flight claim before building key: 1 if this worker may build (claim won, or
 * Redis unavailable), 0 if another live worker holds the claim (claims_lost). */
int dllm_directory_claim(dllm_directory *d, const uint8_t key[DLLM_PREFIX_KEY_BYTES]);

/* The live holders of key (up to cap written); returns their number. From Redis when
 * connected, else from the local table (this worker only). */
size_t dllm_directory_lookup(dllm_directory *d, const uint8_t key[DLLM_PREFIX_KEY_BYTES],
                             dllm_directory_holder *out, size_t cap);

/* 1 if this worker holds key (the local table of the last tick). */
int dllm_directory_is_local(const dllm_directory *d, const uint8_t key[DLLM_PREFIX_KEY_BYTES]);

void dllm_directory_stats_get(const dllm_directory *d, dllm_directory_stats *out);

/* This incarnation's lease nonce (32 hex characters). */
const char *dllm_directory_nonce(const dllm_directory *d);

#endif
