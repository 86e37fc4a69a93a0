/* comm_nccl.h -- the NCCL communicator (comm.h) for one process driving several GPUs.
 *
 * Built when CMake finds NCCL (DLLM_NCCL=AUTO|ON, with the CUDA backend); the engine does
 * not use it yet (docs/tensor-parallel.md: what the CUDA wiring still needs).
 *
 * Set-up (NCCL's "one device per pthread" pattern, style.md 1.6):
 *   1. once, any thread: dllm_comm_nccl_unique_id(&id)
 *   2. in each rank's own thread, concurrently (ncclCommInitRank blocks until all ranks
 *      joined): cudaSetDevice(device) then ncclCommInitRank, via dllm_comm_nccl_new()
 *      with the stream the rank's backend runs its ops on (collectives are queued there,
 *      ordered with the GEMMs around them)
 *   3. teardown, in each rank's thread: dllm_comm_free() = ncclCommFinalize +
 *      ncclCommDestroy, then the staging buffer; the caller destroys its stream and
 *      device buffers only after that (the documented order).
 * dllm_comm_nccl_group_new() does 2 for n ranks with one short-lived thread each, for
 * callers (tests) that have no rank threads of their own.
 *
 * Waiting: allreduce_f32 (device memory) is only queued; the host-memory collectives stage
 * through a device buffer and wait for the stream by polling cudaStreamQuery and
 * ncclCommGetAsyncError against the timeout, so a dead peer gives DLLM_E_TIMEOUT or
 * DLLM_E_COMM, never a hang. dllm_comm_abort() calls ncclCommAbort (the communicator is
 * gone: reset() says DLLM_E_COMM, rebuild the group).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_COMM_NCCL_H
#define DLLM_COMM_NCCL_H

#include <stddef.h>

#include "comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dllm_nccl_id {
    char bytes[128]; /* ncclUniqueId (NCCL_UNIQUE_ID_BYTES) */
} dllm_nccl_id;

dllm_status dllm_comm_nccl_unique_id(dllm_nccl_id *out, char *err, size_t errn);

/* Rank `rank` of n on GPU `device`; stream: the cudaStream_t of the rank's backend (NULL:
 * the legacy default stream). Call from the rank's thread. */
dllm_status dllm_comm_nccl_new(int n, int rank, const dllm_nccl_id *id, int device,
                               void *stream, int timeout_ms, dllm_comm **out, char *err,
                               size_t errn);

/* All n ranks at once on devices[r] with streams[r] (NULL array: default streams). */
dllm_status dllm_comm_nccl_group_new(int n, const int *devices, void *const *streams,
                                     int timeout_ms, dllm_comm **out, char *err, size_t errn);

/* Frees n communicators from one thread (finalize inside one NCCL group call, then
 * destroy, then the staging buffers). comms[i] becomes NULL. */
void dllm_comm_nccl_group_free(int n, dllm_comm **comms);

/* Number of visible CUDA devices (0 when none or no driver). */
int dllm_comm_nccl_device_count(void);

#ifdef __cplusplus
}
#endif
#endif
