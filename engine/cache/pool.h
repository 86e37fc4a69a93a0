/* pool.h -- one preallocated backend buffer carved into per-sequence allocations.
 *
 * The feature stores (and CFG residuals) of every running sequence come from one buffer
 * sized when the engine starts (--pool-mb), so memory use is bounded and known up front:
 * a request is admitted only when its allocation succeeds, and nothing is allocated from
 * the backend while serving.
 *
 * DESIGN
 * ------
 * - First fit over a free list of spans kept sorted by offset; freeing coalesces with
 *   both neighbours, so fragmentation stays bounded by the live allocations.
 * - Allocations are 256-byte aligned (what GPU kernels want for vector loads).
 * - The span array has a fixed capacity chosen at init (no host allocation later either).
 * - Single-threaded: the engine thread owns the pool.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_POOL_H
#define DLLM_POOL_H

#include <stddef.h>

#include "backend.h"

typedef struct dllm_pool_span {
    size_t off, len;
} dllm_pool_span;

typedef struct dllm_pool {
    dllm_backend *be;      /* borrowed */
    char *base;            /* (size) backend memory */
    size_t size;           /* bytes in the pool */
    size_t used, peak;     /* bytes allocated now / at most */
    dllm_pool_span *spans; /* (cap) free spans sorted by offset */
    size_t n_spans, cap;
} dllm_pool;

/* Allocates the pool's buffer on be. */
dllm_status dllm_pool_init(dllm_pool *p, dllm_backend *be, size_t bytes);
void dllm_pool_deinit(dllm_pool *p); /* zeroed is a no-op */

/* Rounds a request to the pool's granularity. */
size_t dllm_pool_round(size_t bytes);

/* First-fit allocation; DLLM_E_NOMEM when no free span is large enough. */
dllm_status dllm_pool_alloc(dllm_pool *p, size_t bytes, void **out);

/* Returns an allocation of `bytes` (as requested) at ptr. NULL is a no-op. */
void dllm_pool_free(dllm_pool *p, void *ptr, size_t bytes);

/* The largest allocation that would succeed now. */
size_t dllm_pool_largest_free(const dllm_pool *p);

#endif
