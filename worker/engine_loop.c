/* engine_loop.c -- the engine thread over dllm_sched (engine_loop.h).
 *
 * DESIGN
 * ------
 * - `work` counts submissions not yet seen by the thread; the thread steps while the
 *   scheduler reports active requests and otherwise waits on `cv` for at most a second
 *   (the heartbeat keeps ticking while idle).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "engine_loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct dllm_engine_loop {
    dllm_sched *sched;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;       /* guarded by mu */
    uint64_t work;  /* guarded by mu: submissions/cancels since the thread last looked */
    atomic_llong heartbeat;
    atomic_int fatal;
};

int64_t dllm_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *loop_main(void *arg)
{
    dllm_engine_loop *l = arg;
    size_t active = 0;

    for (;;) {
        dllm_status rc;
        pthread_mutex_lock(&l->mu);
        while (!l->stop && l->work == 0 && active == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
            atomic_store(&l->heartbeat, dllm_mono_ms());
        }
        l->work = 0;
        if (l->stop) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        pthread_mutex_unlock(&l->mu);
        rc = dllm_sched_step(l->sched, &active);
        atomic_store(&l->heartbeat, dllm_mono_ms());
        if (rc == DLLM_E_DEVICE_LOST) {
            fprintf(stderr, "dllm-worker: engine: device lost; stopping the engine loop\n");
            atomic_store(&l->fatal, 1);
            break;
        }
        if (rc != DLLM_OK)
            fprintf(stderr, "dllm-worker: engine: step failed: %s\n", dllm_status_str(rc));
    }
    return NULL;
}

dllm_status dllm_engine_loop_new(dllm_engine *e, const dllm_sched_config *c,
                                 dllm_engine_loop **out, char *err, size_t errn)
{
    dllm_status rc;
    dllm_engine_loop *l = calloc(1, sizeof *l);

    *out = NULL;
    if (l == NULL) {
        snprintf(err, errn, "out of memory");
        return DLLM_E_NOMEM;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    atomic_store(&l->heartbeat, dllm_mono_ms());
    rc = dllm_sched_new(e, c, &l->sched, err, errn);
    if (rc != DLLM_OK) goto fail;
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        snprintf(err, errn, "cannot start the engine thread");
        rc = DLLM_E_INTERNAL;
        goto fail;
    }
    l->started = 1;
    *out = l;
    return DLLM_OK;
fail:
    dllm_engine_loop_free(l);
    return rc;
}

void dllm_engine_loop_free(dllm_engine_loop *l)
{
    if (l == NULL) return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    dllm_sched_free(l->sched);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void wake(dllm_engine_loop *l)
{
    pthread_mutex_lock(&l->mu);
    l->work++;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

dllm_status dllm_engine_loop_submit(dllm_engine_loop *l, const dllm_request *r, uint64_t *id,
                                    char *err, size_t errn)
{
    dllm_status rc = dllm_sched_submit(l->sched, r, id, err, errn);
    if (rc == DLLM_OK) wake(l);
    return rc;
}

dllm_status dllm_engine_loop_cancel(dllm_engine_loop *l, uint64_t id)
{
    dllm_status rc = dllm_sched_cancel(l->sched, id);
    if (rc == DLLM_OK) wake(l);
    return rc;
}

int dllm_engine_loop_poll(dllm_engine_loop *l, dllm_result **out)
{
    return dllm_sched_poll(l->sched, out);
}

void dllm_engine_loop_stats(dllm_engine_loop *l, dllm_sched_stats *out)
{
    dllm_sched_stats_get(l->sched, out);
}

size_t dllm_engine_loop_slot_list(dllm_engine_loop *l, dllm_slot_info *out, size_t cap)
{
    return dllm_sched_slot_list(l->sched, out, cap);
}

int64_t dllm_engine_loop_heartbeat_ms(dllm_engine_loop *l)
{
    return (int64_t)atomic_load(&l->heartbeat);
}

int dllm_engine_loop_fatal(dllm_engine_loop *l)
{
    return atomic_load(&l->fatal);
}
