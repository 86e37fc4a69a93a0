/* pool.c -- first-fit allocator over one backend buffer (see pool.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cache/pool.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define POOL_ALIGN 256
#define POOL_SPANS 4096

size_t dllm_pool_round(size_t bytes)
{
    return (bytes + POOL_ALIGN - 1) / POOL_ALIGN * POOL_ALIGN;
}

dllm_status dllm_pool_init(dllm_pool *p, dllm_backend *be, size_t bytes)
{
    dllm_status rc;

    memset(p, 0, sizeof *p);
    bytes = dllm_pool_round(bytes);
    if (bytes == 0) return DLLM_E_INVALID_ARG;
    p->spans = malloc(POOL_SPANS * sizeof *p->spans);
    if (p->spans == NULL) return DLLM_E_NOMEM;
    rc = dllm_backend_alloc(be, bytes, (void **)&p->base);
    if (rc != DLLM_OK) {
        free(p->spans);
        memset(p, 0, sizeof *p);
        return rc;
    }
    p->be = be;
    p->size = bytes;
    p->cap = POOL_SPANS;
    p->spans[0] = (dllm_pool_span){0, bytes};
    p->n_spans = 1;
    return DLLM_OK;
}

void dllm_pool_deinit(dllm_pool *p)
{
    if (p == NULL || p->be == NULL) return;
    dllm_backend_dealloc(p->be, p->base);
    free(p->spans);
    memset(p, 0, sizeof *p);
}

dllm_status dllm_pool_alloc(dllm_pool *p, size_t bytes, void **out)
{
    size_t need = dllm_pool_round(bytes ? bytes : 1);
    *out = NULL;
    for (size_t i = 0; i < p->n_spans; i++) {
        dllm_pool_span *s = &p->spans[i];
        if (s->len < need) continue;
        *out = p->base + s->off;
        s->off += need;
        s->len -= need;
        if (s->len == 0) {
            memmove(s, s + 1, (p->n_spans - i - 1) * sizeof *s);
            p->n_spans--;
        }
        p->used += need;
        if (p->used > p->peak) p->peak = p->used;
        return DLLM_OK;
    }
    return DLLM_E_NOMEM;
}

void dllm_pool_free(dllm_pool *p, void *ptr, size_t bytes)
{
    size_t off, len = dllm_pool_round(bytes ? bytes : 1), i;
    if (ptr == NULL) return;
    off = (size_t)((char *)ptr - p->base);
    DLLM_ASSERT(off + len <= p->size);
    for (i = 0; i < p->n_spans && p->spans[i].off < off; i++) {
    }
    /* merge with the previous and/or next span, or insert */
    int prev = i > 0 && p->spans[i - 1].off + p->spans[i - 1].len == off;
    int next = i < p->n_spans && off + len == p->spans[i].off;
    if (prev && next) {
        p->spans[i - 1].len += len + p->spans[i].len;
        memmove(&p->spans[i], &p->spans[i + 1], (p->n_spans - i - 1) * sizeof *p->spans);
        p->n_spans--;
    } else if (prev) {
        p->spans[i - 1].len += len;
    } else if (next) {
        p->spans[i].off = off;
        p->spans[i].len += len;
    } else {
        /* live allocations separate the spans, so n_spans <= allocations + 1 <= cap */
        DLLM_ASSERT(p->n_spans < p->cap);
        memmove(&p->spans[i + 1], &p->spans[i], (p->n_spans - i) * sizeof *p->spans);
        p->spans[i] = (dllm_pool_span){off, len};
        p->n_spans++;
    }
    p->used -= len;
}

size_t dllm_pool_largest_free(const dllm_pool *p)
{
    size_t best = 0;
    for (size_t i = 0; i < p->n_spans; i++)
        if (p->spans[i].len > best) best = p->spans[i].len;
    return best;
}
