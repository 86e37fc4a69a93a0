/* comm_nccl.c -- the NCCL communicator (comm_nccl.h).
 *
 * Errors follow NCCL's own internals (style.md 1.6): every call is checked and propagated
 * as a status with a one-line message on stderr naming the call (this module has no error
 * buffer at collective time), set-up uses the exit/fail layout, and the device allocation
 * is released after the communicator in teardown.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cuda/comm_nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

typedef struct nc_rank {
    ncclComm_t comm;      /* NULL once aborted */
    cudaStream_t stream;  /* borrowed from the backend */
    int device;
    int timeout_ms;
    void *stage;          /* device staging of host-memory collectives */
    size_t cap;
    pthread_mutex_t mu;   /* guards comm against a concurrent abort */
    int aborted;
} nc_rank;

#define NC_NCCL(call, rc, label)                                                               \
    do {                                                                                       \
        ncclResult_t nc_r_ = (call);                                                           \
        if (nc_r_ != ncclSuccess) {                                                            \
            fprintf(stderr, "dllm: %s failed: %s (%s:%d)\n", #call, ncclGetErrorString(nc_r_),  \
                    __FILE__, __LINE__);                                                       \
            (rc) = DLLM_E_COMM;                                                                \
            goto label;                                                                        \
        }                                                                                      \
    } while (0)

#define NC_CUDA(call, rc, label)                                                               \
    do {                                                                                       \
        cudaError_t nc_e_ = (call);                                                            \
        if (nc_e_ != cudaSuccess) {                                                            \
            fprintf(stderr, "dllm: %s failed: %s (%s:%d)\n", #call, cudaGetErrorString(nc_e_),  \
                    __FILE__, __LINE__);                                                       \
            (void)cudaGetLastError(); /* clear a non-sticky error */                           \
            (rc) = DLLM_E_DEVICE;                                                              \
            goto label;                                                                        \
        }                                                                                      \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The communicator, or NULL when aborted (then the collective returns DLLM_E_COMM). */
static ncclComm_t nc_get(nc_rank *r)
{
    pthread_mutex_lock(&r->mu);
    ncclComm_t c = r->aborted ? NULL : r->comm;
    pthread_mutex_unlock(&r->mu);
    return c;
}

static void nc_abort(void *vctx)
{
    nc_rank *r = vctx;
    pthread_mutex_lock(&r->mu);
    if (!r->aborted && r->comm != NULL) {
        ncclCommAbort(r->comm); /* releases a peer blocked in a kernel of this comm */
        r->comm = NULL;
    }
    r->aborted = 1;
    pthread_mutex_unlock(&r->mu);
}

/* Waits for the stream (everything queued so far, this collective included) without
 * blocking in the driver: a peer that never arrives is a timeout, an asynchronous NCCL
 * error a DLLM_E_COMM; both abort the communicator. */
static dllm_status nc_wait(nc_rank *r)
{
    double deadline = now_ms() + r->timeout_ms;
    struct timespec nap = {0, 50 * 1000};
    for (;;) {
        cudaError_t e = cudaStreamQuery(r->stream);
        if (e == cudaSuccess) return DLLM_OK;
        if (e != cudaErrorNotReady) {
            fprintf(stderr, "dllm: nccl stream: %s\n", cudaGetErrorString(e));
            nc_abort(r);
            return DLLM_E_DEVICE;
        }
        ncclComm_t c = nc_get(r);
        ncclResult_t ae = ncclSuccess;
        if (c == NULL) return DLLM_E_COMM;
        if (ncclCommGetAsyncError(c, &ae) != ncclSuccess || (ae != ncclSuccess &&
                                                             ae != ncclInProgress)) {
            fprintf(stderr, "dllm: nccl asynchronous error: %s\n", ncclGetErrorString(ae));
            nc_abort(r);
            return DLLM_E_COMM;
        }
        if (now_ms() > deadline) {
            fprintf(stderr, "dllm: nccl collective still running after %d ms; aborting\n",
                    r->timeout_ms);
            nc_abort(r);
            return DLLM_E_TIMEOUT;
        }
        nanosleep(&nap, NULL);
    }
}

static dllm_status nc_stage(nc_rank *r, size_t bytes)
{
    dllm_status rc = DLLM_OK;
    void *p = NULL;
    if (bytes <= r->cap) return DLLM_OK;
    NC_CUDA(cudaSetDevice(r->device), rc, out);
    NC_CUDA(cudaMalloc(&p, bytes), rc, out);
    if (r->stage != NULL) {
        NC_CUDA(cudaStreamSynchronize(r->stream), rc, out); /* the old buffer is idle */
        cudaFree(r->stage);
    }
    r->stage = p;
    r->cap = bytes;
    p = NULL;
out:
    if (p != NULL) cudaFree(p);
    return rc;
}

static dllm_status nc_allreduce_f32(void *vctx, float *buf, int64_t n)
{
    nc_rank *r = vctx;
    dllm_status rc = DLLM_OK;
    ncclComm_t c = nc_get(r);
    if (c == NULL) return DLLM_E_COMM;
    if (n < 0) return DLLM_E_INVALID_ARG;
    /* device memory, queued on the backend's stream: ordered with the ops around it */
    NC_NCCL(ncclAllReduce(buf, buf, (size_t)n, ncclFloat32, ncclSum, c, r->stream), rc, out);
out:
    return rc;
}

/* A host-memory collective: in (in_bytes) up, op on the staging buffer, out_bytes down. */
typedef enum { NC_SUM_F64, NC_GATHER, NC_BCAST } nc_op;

static dllm_status nc_host(nc_rank *r, nc_op op, const void *in, size_t in_bytes, void *out_host,
                           size_t out_bytes, int root)
{
    dllm_status rc = DLLM_OK;
    ncclComm_t c = nc_get(r);
    size_t total = in_bytes + out_bytes;
    char *d;
    if (c == NULL) return DLLM_E_COMM;
    DLLM_TRY(nc_stage(r, total > 0 ? total : 1));
    d = r->stage;
    NC_CUDA(cudaMemcpyAsync(d, in, in_bytes, cudaMemcpyHostToDevice, r->stream), rc, out);
    switch (op) {
    case NC_SUM_F64:
        NC_NCCL(ncclAllReduce(d, d + in_bytes, in_bytes / sizeof(double), ncclFloat64, ncclSum, c,
                              r->stream), rc, out);
        break;
    case NC_GATHER:
        NC_NCCL(ncclAllGather(d, d + in_bytes, in_bytes, ncclChar, c, r->stream), rc, out);
        break;
    case NC_BCAST:
        NC_NCCL(ncclBroadcast(d, d + in_bytes, in_bytes, ncclChar, root, c, r->stream), rc, out);
        break;
    }
    NC_CUDA(cudaMemcpyAsync(out_host, d + in_bytes, out_bytes, cudaMemcpyDeviceToHost, r->stream),
            rc, out);
    rc = nc_wait(r);
out:
    return rc;
}

static dllm_status nc_allreduce_f64(void *vctx, double *buf, int64_t n)
{
    if (n < 0) return DLLM_E_INVALID_ARG;
    return nc_host(vctx, NC_SUM_F64, buf, (size_t)n * sizeof(double), buf,
                   (size_t)n * sizeof(double), 0);
}

static int nc_size(nc_rank *r)
{
    int n = 0;
    ncclComm_t c = nc_get(r);
    if (c == NULL || ncclCommCount(c, &n) != ncclSuccess) return 0;
    return n;
}

static dllm_status nc_allgather(void *vctx, const void *send, void *recv, size_t bytes)
{
    int n = nc_size(vctx);
    if (n == 0) return DLLM_E_COMM;
    return nc_host(vctx, NC_GATHER, send, bytes, recv, (size_t)n * bytes, 0);
}

static dllm_status nc_broadcast(void *vctx, void *buf, size_t bytes, int root)
{
    return nc_host(vctx, NC_BCAST, buf, bytes, buf, bytes, root);
}

static dllm_status nc_barrier(void *vctx)
{
    double one = 1.0;
    return nc_allreduce_f64(vctx, &one, 1);
}

static dllm_status nc_reset(void *vctx)
{
    nc_rank *r = vctx;
    return nc_get(r) == NULL ? DLLM_E_COMM : DLLM_OK; /* an aborted comm must be rebuilt */
}

/* Teardown in the documented order: finalize (flushes queued work), destroy, then the
 * staging buffer; the borrowed stream is the backend's to destroy afterwards. */
static void nc_free(void *vctx)
{
    nc_rank *r = vctx;
    if (r == NULL) return;
    cudaSetDevice(r->device);
    if (!r->aborted && r->comm != NULL) {
        ncclResult_t fr = ncclCommFinalize(r->comm);
        if (fr != ncclSuccess)
            fprintf(stderr, "dllm: ncclCommFinalize: %s\n", ncclGetErrorString(fr));
        ncclCommDestroy(r->comm);
    }
    if (r->stage != NULL) cudaFree(r->stage);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static const struct dllm_comm_i nc_iface = {
    .allreduce_f32 = nc_allreduce_f32,
    .allreduce_f64 = nc_allreduce_f64,
    .allgather = nc_allgather,
    .broadcast = nc_broadcast,
    .barrier = nc_barrier,
    .abort = nc_abort,
    .reset = nc_reset,
    .free_ctx = nc_free,
};

dllm_status dllm_comm_nccl_unique_id(dllm_nccl_id *out, char *err, size_t errn)
{
    ncclUniqueId id;
    ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess)
        return dllm_errf(err, errn, DLLM_E_COMM, "ncclGetUniqueId: %s", ncclGetErrorString(r));
    _Static_assert(sizeof id <= sizeof out->bytes, "ncclUniqueId larger than dllm_nccl_id");
    memset(out, 0, sizeof *out);
    memcpy(out->bytes, &id, sizeof id);
    return DLLM_OK;
}

int dllm_comm_nccl_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

dllm_status dllm_comm_nccl_new(int n, int rank, const dllm_nccl_id *id, int device,
                               void *stream, int timeout_ms, dllm_comm **out, char *err,
                               size_t errn)
{
    nc_rank *r = NULL;
    dllm_comm *c = NULL;
    ncclUniqueId uid;
    cudaError_t ce;
    ncclResult_t nr;
    dllm_status rc = DLLM_OK;

    *out = NULL;
    if (n < 1 || rank < 0 || rank >= n || timeout_ms <= 0 || id == NULL)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "nccl: rank %d of %d, timeout %d ms",
                         rank, n, timeout_ms);
    r = calloc(1, sizeof *r);
    c = calloc(1, sizeof *c);
    if (r == NULL || c == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->device = device;
    r->stream = (cudaStream_t)stream;
    r->timeout_ms = timeout_ms;
    if ((ce = cudaSetDevice(device)) != cudaSuccess) {
        (void)cudaGetLastError();
        rc = dllm_errf(err, errn, DLLM_E_DEVICE, "nccl rank %d: cudaSetDevice(%d): %s", rank,
                       device, cudaGetErrorString(ce));
        goto fail;
    }
    memcpy(&uid, id->bytes, sizeof uid);
    if ((nr = ncclCommInitRank(&r->comm, n, uid, rank)) != ncclSuccess) {
        r->comm = NULL;
        rc = dllm_errf(err, errn, DLLM_E_COMM, "nccl rank %d of %d on GPU %d: "
                       "ncclCommInitRank: %s", rank, n, device, ncclGetErrorString(nr));
        goto fail;
    }
    *c = (dllm_comm){&nc_iface, r, rank, n, "nccl"};
    *out = c;
    return DLLM_OK;
fail:
    if (r != NULL) {
        pthread_mutex_destroy(&r->mu);
        free(r);
    }
    free(c);
    return rc;
}

typedef struct nc_init_arg {
    int n, rank, device, timeout_ms;
    void *stream;
    const dllm_nccl_id *id;
    dllm_comm *out;
    dllm_status rc;
    char err[256];
} nc_init_arg;

static void *nc_init_thread(void *p)
{
    nc_init_arg *a = p;
    a->rc = dllm_comm_nccl_new(a->n, a->rank, a->id, a->device, a->stream, a->timeout_ms, &a->out,
                               a->err, sizeof a->err);
    return NULL;
}

dllm_status dllm_comm_nccl_group_new(int n, const int *devices, void *const *streams,
                                     int timeout_ms, dllm_comm **out, char *err, size_t errn)
{
    dllm_nccl_id id;
    nc_init_arg *a = NULL;
    pthread_t *th = NULL;
    int started = 0;
    dllm_status rc = DLLM_OK;

    if (n < 1 || n > 64 || devices == NULL)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "nccl group of %d ranks", n);
    DLLM_TRY(dllm_comm_nccl_unique_id(&id, err, errn));
    a = calloc((size_t)n, sizeof *a);
    th = calloc((size_t)n, sizeof *th);
    if (a == NULL || th == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
        goto out;
    }
    /* ncclCommInitRank blocks until every rank has joined: one thread per rank */
    for (; started < n; started++) {
        a[started] = (nc_init_arg){n, started, devices[started], timeout_ms,
                                   streams ? streams[started] : NULL, &id, NULL, DLLM_OK, ""};
        if (pthread_create(&th[started], NULL, nc_init_thread, &a[started]) != 0) {
            rc = dllm_errf(err, errn, DLLM_E_INTERNAL, "cannot start nccl init thread %d",
                           started);
            break;
        }
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < started && rc == DLLM_OK; i++)
        if (a[i].rc != DLLM_OK) rc = dllm_errf(err, errn, a[i].rc, "%s", a[i].err);
    for (int i = 0; i < n; i++) out[i] = (rc == DLLM_OK && i < started) ? a[i].out : NULL;
    if (rc != DLLM_OK)
        for (int i = 0; i < started; i++) dllm_comm_free(a[i].out);
out:
    free(a);
    free(th);
    return rc;
}

void dllm_comm_nccl_group_free(int n, dllm_comm **comms)
{
    /* one thread finalizing several communicators: inside one group call, as NCCL asks
     * for any multi-communicator call from a single thread; then destroy each */
    ncclGroupStart();
    for (int i = 0; i < n; i++) {
        nc_rank *r = comms[i] ? comms[i]->ctx : NULL;
        if (r == NULL || r->aborted || r->comm == NULL) continue;
        cudaSetDevice(r->device);
        ncclCommFinalize(r->comm);
    }
    ncclGroupEnd();
    for (int i = 0; i < n; i++) {
        nc_rank *r = comms[i] ? comms[i]->ctx : NULL;
        if (r == NULL) continue;
        if (!r->aborted && r->comm != NULL) {
            cudaSetDevice(r->device);
            ncclCommDestroy(r->comm);
        }
        r->comm = NULL;
        r->aborted = 1; /* nc_free: the communicator is gone, only the buffer remains */
        dllm_comm_free(comms[i]);
        comms[i] = NULL;
    }
}
