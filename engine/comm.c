/* comm.c -- the communicator interface's wrappers (comm.h); the implementations are
 * comm_threads.c and cuda/comm_nccl.c.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "comm.h"

#include <stdlib.h>

dllm_status dllm_comm_allreduce_f32(dllm_comm *c, float *buf, int64_t n)
{
    return c->iface->allreduce_f32(c->ctx, buf, n);
}

dllm_status dllm_comm_allreduce_f64(dllm_comm *c, double *buf, int64_t n)
{
    return c->iface->allreduce_f64(c->ctx, buf, n);
}

dllm_status dllm_comm_allgather(dllm_comm *c, const void *send, void *recv, size_t bytes)
{
    return c->iface->allgather(c->ctx, send, recv, bytes);
}

dllm_status dllm_comm_broadcast(dllm_comm *c, void *buf, size_t bytes, int root)
{
    return c->iface->broadcast(c->ctx, buf, bytes, root);
}

dllm_status dllm_comm_barrier(dllm_comm *c)
{
    return c->iface->barrier(c->ctx);
}

void dllm_comm_abort(dllm_comm *c)
{
    if (c != NULL) c->iface->abort(c->ctx);
}

dllm_status dllm_comm_reset(dllm_comm *c)
{
    return c->iface->reset(c->ctx);
}

void dllm_comm_free(dllm_comm *c)
{
    if (c == NULL) return;
    c->iface->free_ctx(c->ctx);
    free(c);
}
