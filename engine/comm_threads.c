/* comm_threads.c -- the in-process communicator over threads (comm.h).
 *
 * The ranks are threads of one process and all memory is host memory (the CPU backend),
 * so a collective is: every rank posts its buffer's address, a barrier, every rank reads
 * what it needs from the others' buffers into private scratch, a second barrier (after
 * which nobody reads another rank's buffer), then every rank writes its own result. The
 * sum of element i is ((b0[i] + b1[i]) + b2[i]) + ... in rank order, so every rank gets
 * the same bits whatever the thread timing. Each rank sums the whole vector (n times the
 * arithmetic of a reduce-scatter): the CPU path exists to check exactness, not speed.
 *
 * The barrier is a generation counter under one mutex; a waiter also wakes on the abort
 * flag and gives up at its deadline (then it aborts the group itself, so the others do
 * not wait out their own deadlines).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "comm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tc_shared {
    int n;
    int timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;        /* ranks inside the current barrier generation */
    uint64_t gen;       /* barrier generation */
    int aborted;        /* 0, or the failure status the collectives return */
    int refs;           /* handles alive */
    const void **post;  /* (n) the ranks' posted buffers of the current collective */
} tc_shared;

typedef struct tc_rank {
    tc_shared *sh;
    int rank;
    void *scratch; /* private result of a reduction */
    size_t cap;
} tc_rank;

static dllm_status tc_barrier_locked(tc_shared *sh)
{
    struct timespec dl;
    uint64_t g = sh->gen;

    if (sh->aborted) return (dllm_status)sh->aborted;
    if (++sh->arrived == sh->n) {
        sh->arrived = 0;
        sh->gen++;
        pthread_cond_broadcast(&sh->cv);
        return DLLM_OK;
    }
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += sh->timeout_ms / 1000;
    dl.tv_nsec += (long)(sh->timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (sh->gen == g && !sh->aborted) {
        int e = pthread_cond_timedwait(&sh->cv, &sh->mu, &dl);
        if (e == ETIMEDOUT && sh->gen == g && !sh->aborted) {
            sh->aborted = DLLM_E_TIMEOUT; /* the group is broken: wake everyone */
            pthread_cond_broadcast(&sh->cv);
        }
    }
    if (sh->gen != g) return DLLM_OK;
    return (dllm_status)sh->aborted;
}

static dllm_status tc_barrier(void *vctx)
{
    tc_rank *r = vctx;
    pthread_mutex_lock(&r->sh->mu);
    dllm_status rc = tc_barrier_locked(r->sh);
    pthread_mutex_unlock(&r->sh->mu);
    return rc;
}

/* Posts p as this rank's buffer and waits for every rank's. */
static dllm_status tc_post(tc_rank *r, const void *p)
{
    pthread_mutex_lock(&r->sh->mu);
    r->sh->post[r->rank] = p;
    dllm_status rc = tc_barrier_locked(r->sh);
    pthread_mutex_unlock(&r->sh->mu);
    return rc;
}

static void tc_abort(void *vctx)
{
    tc_rank *r = vctx;
    pthread_mutex_lock(&r->sh->mu);
    if (!r->sh->aborted) r->sh->aborted = DLLM_E_COMM;
    pthread_cond_broadcast(&r->sh->cv);
    pthread_mutex_unlock(&r->sh->mu);
}

static dllm_status tc_reset(void *vctx)
{
    tc_rank *r = vctx;
    pthread_mutex_lock(&r->sh->mu);
    r->sh->aborted = 0;
    r->sh->arrived = 0;
    r->sh->gen++;
    pthread_mutex_unlock(&r->sh->mu);
    return DLLM_OK;
}

/* Grows the private scratch; on failure the group is aborted (the others must not wait
 * for a rank that cannot take part). */
static dllm_status tc_scratch(tc_rank *r, size_t bytes)
{
    if (bytes <= r->cap) return DLLM_OK;
    void *p = realloc(r->scratch, bytes);
    if (p == NULL) {
        tc_abort(r);
        return DLLM_E_NOMEM;
    }
    r->scratch = p;
    r->cap = bytes;
    return DLLM_OK;
}

#define TC_ALLREDUCE(NAME, T)                                                                  \
    static dllm_status NAME(void *vctx, T *buf, int64_t n)                                     \
    {                                                                                          \
        tc_rank *r = vctx;                                                                     \
        tc_shared *sh = r->sh;                                                                 \
        dllm_status rc;                                                                        \
        if (n < 0) return DLLM_E_INVALID_ARG;                                                  \
        if ((rc = tc_scratch(r, (size_t)n * sizeof(T))) != DLLM_OK) return rc;                 \
        if ((rc = tc_post(r, buf)) != DLLM_OK) return rc;                                      \
        T *acc = r->scratch;                                                                   \
        const T *b0 = sh->post[0];                                                             \
        for (int64_t i = 0; i < n; i++) acc[i] = b0[i];                                        \
        for (int k = 1; k < sh->n; k++) {                                                      \
            const T *bk = sh->post[k];                                                         \
            for (int64_t i = 0; i < n; i++) acc[i] += bk[i];                                   \
        }                                                                                      \
        if ((rc = tc_barrier(r)) != DLLM_OK) return rc;                                        \
        memcpy(buf, acc, (size_t)n * sizeof(T));                                               \
        return DLLM_OK;                                                                        \
    }

TC_ALLREDUCE(tc_allreduce_f32, float)
TC_ALLREDUCE(tc_allreduce_f64, double)

static dllm_status tc_allgather(void *vctx, const void *send, void *recv, size_t bytes)
{
    tc_rank *r = vctx;
    dllm_status rc = tc_post(r, send);
    if (rc != DLLM_OK) return rc;
    for (int k = 0; k < r->sh->n; k++)
        memcpy((char *)recv + (size_t)k * bytes, r->sh->post[k], bytes);
    return tc_barrier(r);
}

static dllm_status tc_broadcast(void *vctx, void *buf, size_t bytes, int root)
{
    tc_rank *r = vctx;
    dllm_status rc;
    if (root < 0 || root >= r->sh->n) return DLLM_E_INVALID_ARG;
    if ((rc = tc_scratch(r, bytes)) != DLLM_OK) return rc;
    if ((rc = tc_post(r, buf)) != DLLM_OK) return rc;
    if (r->rank != root) memcpy(r->scratch, r->sh->post[root], bytes);
    if ((rc = tc_barrier(r)) != DLLM_OK) return rc;
    if (r->rank != root) memcpy(buf, r->scratch, bytes);
    return DLLM_OK;
}

static void tc_free(void *vctx)
{
    tc_rank *r = vctx;
    tc_shared *sh = r->sh;
    int last;
    pthread_mutex_lock(&sh->mu);
    last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (last) {
        pthread_cond_destroy(&sh->cv);
        pthread_mutex_destroy(&sh->mu);
        free(sh->post);
        free(sh);
    }
    free(r->scratch);
    free(r);
}

static const struct dllm_comm_i tc_iface = {
    .allreduce_f32 = tc_allreduce_f32,
    .allreduce_f64 = tc_allreduce_f64,
    .allgather = tc_allgather,
    .broadcast = tc_broadcast,
    .barrier = tc_barrier,
    .abort = tc_abort,
    .reset = tc_reset,
    .free_ctx = tc_free,
};

dllm_status dllm_comm_threads_new(int n, int timeout_ms, dllm_comm **out)
{
    tc_shared *sh = NULL;
    int made = 0;

    if (n < 1 || timeout_ms <= 0) return DLLM_E_INVALID_ARG;
    for (int i = 0; i < n; i++) out[i] = NULL;
    sh = calloc(1, sizeof *sh);
    if (sh == NULL || (sh->post = calloc((size_t)n, sizeof *sh->post)) == NULL) goto fail;
    sh->n = n;
    sh->timeout_ms = timeout_ms;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_cond_init(&sh->cv, NULL);
    for (; made < n; made++) {
        dllm_comm *c = calloc(1, sizeof *c);
        tc_rank *r = calloc(1, sizeof *r);
        if (c == NULL || r == NULL) {
            free(c);
            free(r);
            goto fail;
        }
        r->sh = sh;
        r->rank = made;
        sh->refs++;
        *c = (dllm_comm){&tc_iface, r, made, n, "threads"};
        out[made] = c;
    }
    return DLLM_OK;
fail:
    if (made == 0 && sh != NULL) {
        if (sh->post != NULL) {
            pthread_cond_destroy(&sh->cv);
            pthread_mutex_destroy(&sh->mu);
        }
        free(sh->post);
        free(sh);
    }
    for (int i = 0; i < made; i++) {
        dllm_comm_free(out[i]);
        out[i] = NULL;
    }
    return DLLM_E_NOMEM;
}
