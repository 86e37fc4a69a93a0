/* test_cuda_nccl.c -- the NCCL communicator (engine/cuda/comm_nccl.c) on two GPUs.
 *
 * One thread per GPU, as the engine would run them: all-reduce of device memory (fp32),
 * host-memory all-reduce (fp64), all-gather and broadcast, then the group teardown.
 * Exits 77 (skipped) in a build without NCCL or with fewer than two GPUs: CI has none,
 * so there this suite only proves that the NCCL code compiles and links.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#ifndef DLLM_HAVE_NCCL
int main(void)
{
    printf("test_cuda_nccl: built without NCCL; skipped\n");
    return 77;
}
#else
#include <cuda_runtime.h>
#include <pthread.h>
#include <string.h>

#include "comm.h"
#include "cuda/comm_nccl.h"

enum { N = 1000 };

typedef struct job {
    dllm_comm *c;
    int device;
    int ok;
} job;

static void *rank_main(void *p)
{
    job *j = p;
    int r = j->c->rank, n = j->c->size;
    float host[N], *dev = NULL;
    double d[2] = {0.5 * (r + 1), (double)r};
    int32_t mine[2] = {r, 7 * r}, all[16], bc[2] = {r, r};
    j->ok = 0;
    if (cudaSetDevice(j->device) != cudaSuccess || cudaMalloc((void **)&dev, sizeof host))
        return NULL;
    for (int i = 0; i < N; i++) host[i] = (float)(i + r);
    cudaMemcpy(dev, host, sizeof host, cudaMemcpyHostToDevice);
    if (dllm_comm_allreduce_f32(j->c, dev, N) != DLLM_OK) goto out;
    if (cudaDeviceSynchronize() != cudaSuccess) goto out;
    cudaMemcpy(host, dev, sizeof host, cudaMemcpyDeviceToHost);
    for (int i = 0; i < N; i++) /* sum over ranks of (i + r), exact in fp32 */
        if (host[i] != (float)(n * i + n * (n - 1) / 2)) goto out;
    if (dllm_comm_allreduce_f64(j->c, d, 2) != DLLM_OK) goto out;
    if (d[1] != (double)(n * (n - 1) / 2)) goto out;
    if (dllm_comm_allgather(j->c, mine, all, sizeof mine) != DLLM_OK) goto out;
    for (int k = 0; k < n; k++)
        if (all[2 * k] != k || all[2 * k + 1] != 7 * k) goto out;
    if (dllm_comm_broadcast(j->c, bc, sizeof bc, 1) != DLLM_OK) goto out;
    if (bc[0] != 1 || bc[1] != 1) goto out;
    if (dllm_comm_barrier(j->c) != DLLM_OK) goto out;
    j->ok = 1;
out:
    cudaFree(dev);
    return NULL;
}

int main(void)
{
    int devs[2] = {0, 1};
    dllm_comm *c[2] = {0};
    job jobs[2];
    pthread_t th[2];
    char err[256];
    int ok = 1;

    if (dllm_comm_nccl_device_count() < 2) {
        printf("test_cuda_nccl: fewer than two GPUs; skipped\n");
        return 77;
    }
    if (dllm_comm_nccl_group_new(2, devs, NULL, 60000, c, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "test_cuda_nccl: %s\n", err);
        return 1;
    }
    for (int r = 0; r < 2; r++) {
        jobs[r] = (job){c[r], devs[r], 0};
        pthread_create(&th[r], NULL, rank_main, &jobs[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) ok &= jobs[r].ok;
    dllm_comm_nccl_group_free(2, c);
    printf("test_cuda_nccl: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
#endif
