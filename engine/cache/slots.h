/* slots.h -- prompt slots: a fixed pool of prefix features shared across requests.
 *
 * A slot holds, for one token prefix of S rows, every layer's prompt-segment features
 * exactly as a feature store lays them out (feature_store.h): K after RoPE, V, the
 * attention output after W_o and the MLP output after W_down, each (L, S, C) fp32. The
 * slot's `fs` is a feature-store view over the slot's memory with T = S, so the forward
 * fills a slot directly (the build forward over the prefix alone) and attaching copies
 * the S rows of each layer and feature into a sequence's own store (backend row copies:
 * the slot is read-only once built; a sequence's refreshes write only its own copy).
 *
 * DESIGN
 * ------
 * - Memory: n slots of max_tokens rows each, one backend allocation made at engine start
 *   (backend memory: device memory on a GPU, host memory on the CPU backend); nothing is
 *   allocated later. A slot of S <= max_tokens rows uses the first 4 L S C floats of
 *   its block.
 * - Table: a linear array searched by key (n is small: tens to hundreds); the key is the
 *   32-byte prefix key (dllm/prefix_key.h).
 * - Reference counts: a sequence holds a reference from attach to its end. Referenced
 *   slots are never evicted.
 * - Eviction: least recently used among unreferenced slots that are not pinned; empty
 *   slots first. When every slot is referenced or pinned, acquire fails with
 *   DLLM_E_BUSY and the request runs without a slot.
 * - Pinning (soft pin, as Mooncake's): a request may ask to pin its slot; at most
 *   floor(pin_share x n) slots are pinned at once (a request over the cap is served but
 *   not pinned). A pin lapses pin_ttl_ms after the last use of the slot (every use
 *   refreshes it) and the slot becomes an ordinary LRU candidate.
 * - Single-threaded: the engine thread owns the pool.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_SLOTS_H
#define DLLM_SLOTS_H

#include <stdint.h>

#include "cache/feature_store.h"
#include "dllm/dllm.h"

typedef enum dllm_slot_state {
    DLLM_SLOT_EMPTY = 0,
    DLLM_SLOT_BUILDING = 1, /* acquired for a build, contents not valid yet */
    DLLM_SLOT_READY = 2,
} dllm_slot_state;

typedef struct dllm_slot {
    uint8_t key[32];
    dllm_slot_state state;
    int32_t n_tokens;       /* S: prefix rows held */
    int32_t refs;           /* sequences attached */
    int pinned;             /* soft pin, valid while now < pin_until_ms */
    double pin_until_ms;
    uint64_t last_use;      /* LRU clock value of the last acquire/release */
    dllm_feature_store fs;  /* view (n_layers L, T = S, C) over the slot's block */
    char *block;            /* (4, L, max_tokens, C) fp32 backend memory, borrowed */
} dllm_slot;

typedef struct dllm_slots {
    dllm_backend *be;     /* borrowed */
    int64_t L, C;
    int32_t max_tokens;   /* rows per slot */
    size_t n;             /* slots */
    dllm_slot *slots;     /* (n) */
    char *mem;            /* (n, slot_bytes) backend memory */
    size_t slot_bytes;
    int32_t *iota;        /* (max_tokens) backend memory: 0, 1, ..., the copy index */
    double pin_share;     /* pinned slots <= floor(pin_share * n) */
    double pin_ttl_ms;
    uint64_t clock;       /* LRU clock */
    dllm_slot_stats st;   /* counters (slots_* gauges are filled by dllm_slots_stats) */
} dllm_slots;

/* Bytes one slot of max_tokens rows needs. */
size_t dllm_slots_slot_bytes(int64_t L, int64_t C, int32_t max_tokens);

/* Allocates n slots of max_tokens rows on be. pin_share in [0, 1], pin_ttl_ms > 0. */
dllm_status dllm_slots_init(dllm_slots *s, dllm_backend *be, size_t n, int32_t max_tokens,
                            int64_t L, int64_t C, double pin_share, double pin_ttl_ms);
void dllm_slots_deinit(dllm_slots *s); /* zeroed is a no-op */

/* Index of the READY slot holding key, or -1. No side effects. */
int dllm_slots_find(const dllm_slots *s, const uint8_t key[32]);

/* Takes a reference on the slot for key, S = n_tokens rows (1..max_tokens):
 * - a READY slot with the key: *fresh = 0 (attach it);
 * - otherwise a victim (empty, else the LRU unreferenced unpinned slot, evicted) is set
 *   to BUILDING for key: *fresh = 1, and the caller fills slot->fs then calls
 *   dllm_slots_commit (or dllm_slots_release on failure, which empties it).
 * With pin != 0 the slot is pinned when the cap allows; a pinned slot's TTL is refreshed
 * on every acquire. DLLM_E_BUSY when no slot can be had; DLLM_E_INVALID_ARG for a bad S. */
dllm_status dllm_slots_acquire(dllm_slots *s, const uint8_t key[32], int32_t n_tokens, int pin,
                               double now_ms, int *idx, int *fresh);

/* Marks a BUILDING slot READY (its contents are valid). */
void dllm_slots_commit(dllm_slots *s, int idx);

/* Drops a reference; a BUILDING slot whose build failed is emptied. */
void dllm_slots_release(dllm_slots *s, int idx);

/* Copies the slot's S rows of every layer and feature into rows [0, S) of dst (a store
 * of the same L and C with T >= S), on the backend. */
dllm_status dllm_slots_copy_to(dllm_slots *s, int idx, dllm_feature_store *dst);

/* Downloads a READY slot's features to host memory: out (4, L, S, C) in the order K, V,
 * A, F when cap >= 4 L S C floats; *n receives that count (out may be NULL to size). */
dllm_status dllm_slots_download(const dllm_slots *s, int idx, float *out, size_t cap, size_t *n);

/* The engine's pool (engine.c); internal, for tests. */
dllm_slots *dllm_engine_slots_internal(dllm_engine *e);

/* Fills the gauges of s->st (slots, used, referenced, pinned at now_ms) into out. */
void dllm_slots_stats(const dllm_slots *s, double now_ms, dllm_slot_stats *out);

#endif
