/* tp.c -- the tensor-parallel group and the distributed sampler (tp.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tp.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

typedef struct worker_arg {
    struct dllm_tp_group *g;
    int rank;
} worker_arg;

struct dllm_tp_group {
    int n;
    dllm_comm **comm;   /* (n) */
    pthread_t *th;      /* (n) threads of ranks 1..n-1 ([0] unused) */
    worker_arg *wa;     /* (n) what the threads of ranks 1..n-1 are handed */
    int started;        /* threads running */
    pthread_mutex_t mu;
    pthread_cond_t cv_job, cv_done;
    uint64_t job;       /* job generation */
    int done;           /* ranks 1..n-1 finished with the current job */
    int stop;
    dllm_tp_fn fn;
    void *arg;
    dllm_status *rc;    /* (n) the current job's status per rank */
};

static void *worker(void *p)
{
    worker_arg *wa = p;
    dllm_tp_group *g = wa->g;
    int r = wa->rank;
    uint64_t seen = 0;

    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->job == seen && !g->stop) pthread_cond_wait(&g->cv_job, &g->mu);
        if (g->stop) break;
        seen = g->job;
        dllm_tp_fn fn = g->fn;
        void *arg = g->arg;
        pthread_mutex_unlock(&g->mu);
        dllm_status rc = fn(r, arg);
        if (rc != DLLM_OK) dllm_comm_abort(g->comm[r]);
        pthread_mutex_lock(&g->mu);
        g->rc[r] = rc;
        g->done++;
        pthread_cond_signal(&g->cv_done);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

void dllm_tp_group_free(dllm_tp_group *g)
{
    if (g == NULL) return;
    if (g->started > 0) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_cond_broadcast(&g->cv_job);
        pthread_mutex_unlock(&g->mu);
        for (int r = 1; r <= g->started; r++) pthread_join(g->th[r], NULL);
    }
    if (g->comm != NULL)
        for (int r = 0; r < g->n; r++) dllm_comm_free(g->comm[r]);
    pthread_cond_destroy(&g->cv_job);
    pthread_cond_destroy(&g->cv_done);
    pthread_mutex_destroy(&g->mu);
    free(g->comm);
    free(g->th);
    free(g->wa);
    free(g->rc);
    free(g);
}

dllm_status dllm_tp_group_new(int n, int timeout_ms, dllm_tp_group **out)
{
    dllm_tp_group *g;
    dllm_status rc = DLLM_OK;

    *out = NULL;
    if (n < 2 || n > 64) return DLLM_E_INVALID_ARG;
    g = calloc(1, sizeof *g);
    if (g == NULL) return DLLM_E_NOMEM;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv_job, NULL);
    pthread_cond_init(&g->cv_done, NULL);
    g->n = n;
    g->comm = calloc((size_t)n, sizeof *g->comm);
    g->th = calloc((size_t)n, sizeof *g->th);
    g->wa = calloc((size_t)n, sizeof *g->wa);
    g->rc = calloc((size_t)n, sizeof *g->rc);
    if (!g->comm || !g->th || !g->wa || !g->rc) {
        rc = DLLM_E_NOMEM;
        goto out;
    }
    rc = dllm_comm_threads_new(n, timeout_ms, g->comm);
    if (rc != DLLM_OK) goto out;
    for (int r = 1; r < n; r++) {
        g->wa[r] = (worker_arg){g, r};
        if (pthread_create(&g->th[r], NULL, worker, &g->wa[r]) != 0) {
            rc = DLLM_E_INTERNAL;
            goto out;
        }
        g->started = r;
    }
    *out = g;
    g = NULL;
out:
    dllm_tp_group_free(g);
    return rc;
}

int dllm_tp_group_size(const dllm_tp_group *g)
{
    return g->n;
}

dllm_comm *dllm_tp_group_comm(dllm_tp_group *g, int rank)
{
    return g->comm[rank];
}

dllm_status dllm_tp_group_run(dllm_tp_group *g, dllm_tp_fn fn, void *arg)
{
    dllm_status rc0, rc = DLLM_OK;

    pthread_mutex_lock(&g->mu);
    g->fn = fn;
    g->arg = arg;
    g->done = 0;
    g->job++;
    pthread_cond_broadcast(&g->cv_job);
    pthread_mutex_unlock(&g->mu);

    rc0 = fn(0, arg);
    if (rc0 != DLLM_OK) dllm_comm_abort(g->comm[0]);

    pthread_mutex_lock(&g->mu);
    g->rc[0] = rc0;
    while (g->done < g->n - 1) pthread_cond_wait(&g->cv_done, &g->mu);
    pthread_mutex_unlock(&g->mu);

    /* the originating failure first (rank order), then the collective ones */
    for (int r = 0; r < g->n && rc == DLLM_OK; r++)
        if (g->rc[r] != DLLM_OK && g->rc[r] != DLLM_E_COMM) rc = g->rc[r];
    for (int r = 0; r < g->n && rc == DLLM_OK; r++) rc = g->rc[r];
    if (rc != DLLM_OK) dllm_comm_reset(g->comm[0]); /* every rank is idle now */
    return rc;
}

/* ---- the distributed sampler ---- */

void dllm_tp_sample_part_row(const float *l, int64_t vl, int64_t v0, const dllm_sample_row *r,
                             int32_t eos, dllm_tp_sample_part *out)
{
    int64_t best = -1;
    double key = 0.0, mx = -INFINITY, sum = 0.0;

    /* the slice's logit of local column j, as the single-rank reduction sees it */
#define LOGIT(j) ((r->logits_eos_inf && (j) + v0 == eos) ? -INFINITY : (double)l[(j)])
    if (r->temperature == 0.0f) {
        /* rank 0's first column is the global default (taken whatever its value, as the
         * single-rank loop does); elsewhere only a strictly greater logit is a candidate */
        float bestv = -INFINITY;
        for (int64_t j = 0; j < vl; j++) {
            float lj = (r->logits_eos_inf && j + v0 == eos) ? -INFINITY : l[j];
            if ((best < 0 && v0 == 0) || lj > bestv) {
                bestv = lj;
                best = j;
            }
        }
        key = (double)bestv;
    } else {
        double bests = -1.0, temp = (double)r->temperature;
        if (v0 == 0) best = 0;
        for (int64_t j = 0; j < vl; j++) {
            double u = dllm_rng_uniform(r->seed, DLLM_RNG_GUMBEL, r->step, (uint64_t)r->position,
                                        (uint64_t)(j + v0));
            double s = exp(LOGIT(j)) / pow(-log(u), temp);
            if (s > bests) {
                bests = s;
                best = j;
            }
        }
        key = bests;
    }
    for (int64_t j = 0; j < vl; j++)
        if (LOGIT(j) > mx) mx = LOGIT(j);
    if (mx > -INFINITY)
        for (int64_t j = 0; j < vl; j++) sum += exp(LOGIT(j) - mx);
    out->key = key;
    out->lbest = best >= 0 ? LOGIT(best) : -INFINITY;
    out->mx = mx;
    out->sum = sum;
    out->idx = best >= 0 ? best + v0 : -1;
#undef LOGIT
}

void dllm_tp_sample_combine(const dllm_tp_sample_part *parts, int n, size_t stride,
                            const dllm_sample_row *r, int32_t eos, int32_t eot, int32_t *tok,
                            double *conf)
{
    const dllm_tp_sample_part *b = NULL;
    double M = -INFINITY, S = 0.0;

    for (int k = 0; k < n; k++) {
        const dllm_tp_sample_part *p = &parts[(size_t)k * stride];
        if (p->idx >= 0 && (b == NULL || p->key > b->key)) b = p; /* ties: lower rank */
        if (p->mx > M) M = p->mx;
    }
    for (int k = 0; k < n; k++) {
        const dllm_tp_sample_part *p = &parts[(size_t)k * stride];
        if (p->mx > -INFINITY) S += p->sum * exp(p->mx - M);
    }
    *tok = b ? (int32_t)b->idx : 0;
    if (r->random_conf)
        *conf = dllm_rng_uniform(r->seed, DLLM_RNG_REMASK, r->step, (uint64_t)r->position, 0);
    else if (M == -INFINITY)
        *conf = NAN; /* every logit -inf: the single-rank reduction's 0/0 */
    else
        *conf = exp((b ? b->lbest : -INFINITY) - M) / S;
    if (r->conf_eos_eot_inf && (*tok == eos || (eot >= 0 && *tok == eot))) *conf = -INFINITY;
}
