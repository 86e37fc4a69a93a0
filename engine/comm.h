/* comm.h -- the communicator of tensor parallelism (design.md 4.6, style.md F.28).
 *
 * A communicator joins the `size` ranks of one tensor-parallel group; each rank holds its
 * own dllm_comm handle (rank, size) and calls the collectives from its own thread, all
 * ranks in the same order. Two implementations:
 *   comm_threads.c  in-process, over threads and shared memory (the CPU backend, CI)
 *   cuda/comm_nccl.c NCCL, one thread per GPU, collectives on the backend's stream
 *
 * DESIGN
 * ------
 * - Memory: allreduce_f32 works on backend memory (activations: (N, C) partial sums of a
 *   row-parallel GEMM); the others work on host memory (a few numbers per row: V-verify's
 *   partial dot products, the sampler's per-slice (key, index, max, sum) records). An
 *   implementation whose backend memory is not host memory stages those through its own
 *   buffer.
 * - Determinism: a reduction's result is a fixed function of the ranks' inputs (for the
 *   thread communicator: summed in rank order 0, 1, ..., size-1, independent of thread
 *   timing), and every rank receives the same bits.
 * - Failure: a collective never hangs. A rank that fails calls dllm_comm_abort(); every
 *   rank blocked in (or later entering) a collective then returns DLLM_E_COMM. A rank
 *   that does not arrive within the communicator's timeout makes the waiting ranks return
 *   DLLM_E_TIMEOUT (and aborts the group). dllm_comm_reset() makes an aborted communicator
 *   usable again once every rank is idle (the thread one can; NCCL cannot after an abort
 *   and says so: DLLM_E_COMM, rebuild the group).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_COMM_H
#define DLLM_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"

typedef struct dllm_comm dllm_comm;

struct dllm_comm_i {
    dllm_status (*allreduce_f32)(void *ctx, float *buf, int64_t n);
    dllm_status (*allreduce_f64)(void *ctx, double *buf, int64_t n);
    dllm_status (*allgather)(void *ctx, const void *send, void *recv, size_t bytes);
    dllm_status (*broadcast)(void *ctx, void *buf, size_t bytes, int root);
    dllm_status (*barrier)(void *ctx);
    void (*abort)(void *ctx);
    dllm_status (*reset)(void *ctx);
    void (*free_ctx)(void *ctx);
};

struct dllm_comm {
    const struct dllm_comm_i *iface;
    void *ctx;
    int rank, size;
    const char *name; /* "threads", "nccl" */
};

/* In place: buf (n) backend memory becomes the element-wise sum over the ranks. */
dllm_status dllm_comm_allreduce_f32(dllm_comm *c, float *buf, int64_t n);
/* In place, host memory, float64. */
dllm_status dllm_comm_allreduce_f64(dllm_comm *c, double *buf, int64_t n);
/* Host memory: recv (size * bytes) = the ranks' send (bytes) in rank order. */
dllm_status dllm_comm_allgather(dllm_comm *c, const void *send, void *recv, size_t bytes);
/* Host memory: every rank's buf (bytes) = root's. */
dllm_status dllm_comm_broadcast(dllm_comm *c, void *buf, size_t bytes, int root);
dllm_status dllm_comm_barrier(dllm_comm *c);
/* Marks the group failed: collectives in flight or later return DLLM_E_COMM. Any thread,
 * any time; idempotent. */
void dllm_comm_abort(dllm_comm *c);
/* Clears a failure once no rank is inside a collective (the caller guarantees it). */
dllm_status dllm_comm_reset(dllm_comm *c);
/* Frees this rank's handle (the group's shared state goes with the last handle). NULL is
 * a no-op. */
void dllm_comm_free(dllm_comm *c);

/* Creates an in-process group of n ranks: out (n) receives one handle per rank. A rank
 * waits at most timeout_ms (> 0) in one collective for the others. */
dllm_status dllm_comm_threads_new(int n, int timeout_ms, dllm_comm **out);

#endif
