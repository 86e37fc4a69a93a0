/* scheduler.c -- continuous batching over the engine's batch-first step (dllm.h).
 *
 * DESIGN
 * ------
 * - Threads: any thread may submit, cancel, poll and read stats; exactly one thread (the
 *   engine thread) calls dllm_sched_step(). One mutex guards the queue, the cancel list,
 *   the results and the counters; the running batch belongs to the engine thread, and the
 *   mutex is NOT held during the forward, so submissions never wait for a step.
 * - Admission is FIFO: the queue head is admitted when a running slot is free, its rows
 *   fit under max_rows beside the running batch, and its feature cache can be allocated
 *   (from the engine's memory pool when it has one). If the head does not fit, nothing
 *   behind it is admitted either (no starvation of large requests). A head that cannot be
 *   allocated while nothing runs can never run and fails with its message.
 * - Memory: the queue, the running table and the cancel list are fixed arrays sized at
 *   creation; the forward workspace is reserved for max_rows at creation; a sequence's
 *   feature cache is allocated at admission. Steps allocate nothing.
 * - Results are malloc'd when a request finishes (outside the forward) and handed out in
 *   completion order.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dllm/dllm.h"
#include "util.h"

typedef struct pending {
    uint64_t id, tag;
    int32_t *prompt;
    size_t n_prompt;
    dllm_gen_params params;
    double t_submit;
} pending;

typedef struct running {
    pending req;
    dllm_seq *seq;
    double t_admit, t_first;
    int64_t rows, head;
} running;

typedef struct result_node {
    dllm_result *r;
    struct result_node *next;
} result_node;

struct dllm_sched {
    dllm_engine *e;
    dllm_sched_config cfg;
    int64_t max_len;
    pthread_mutex_t mu;
    /* guarded by mu */
    pending *queue; /* ring of cfg.max_queue */
    size_t q_head, q_len;
    uint64_t *cancels; /* (max_queue + max_running) ids to cancel */
    size_t n_cancels;
    result_node *res_head, *res_tail;
    uint64_t next_id;
    dllm_sched_stats st;
    dllm_slot_info *slot_list; /* (slot_cap) prompt slots as of the last step */
    size_t slot_cap, n_slot_list;
    /* engine thread only */
    running *run; /* (cfg.max_running) */
    size_t n_run;
    dllm_seq **batch; /* (cfg.max_running) */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void dllm_sched_config_init(dllm_sched_config *c)
{
    c->max_running = 16;
    c->max_rows = 0; /* 4 x max_sequence_length */
    c->max_queue = 256;
    c->max_head_rows = 512;
}

void dllm_result_free(dllm_result *r)
{
    if (r == NULL) return;
    free(r->tokens);
    free(r);
}

static int64_t req_rows(size_t n_prompt, const dllm_gen_params *p)
{
    return ((int64_t)n_prompt + p->gen_length) * (p->cfg_scale > 0.0f ? 2 : 1);
}

/* LM-head rows a request needs per step (the engine's rule: the block per branch, or the
 * whole response on both branches on CFG-reuse refresh steps). */
static int64_t req_head(const dllm_gen_params *p)
{
    int cfg = p->cfg_scale > 0.0f;
    if (cfg && p->cache == DLLM_CACHE_DLLM && p->cache_params.cfg_interval > 0)
        return 2 * (int64_t)p->gen_length;
    return (int64_t)p->block_length * (cfg ? 2 : 1);
}

dllm_status dllm_sched_new(dllm_engine *e, const dllm_sched_config *c, dllm_sched **out,
                           char *err, size_t errn)
{
    dllm_sched *s = NULL;
    dllm_status rc = DLLM_OK;
    dllm_model_info mi;
    dllm_sched_config cfg;

    *out = NULL;
    if (c)
        cfg = *c;
    else
        dllm_sched_config_init(&cfg);
    dllm_engine_model_info(e, &mi);
    if (cfg.max_rows <= 0) cfg.max_rows = 4 * mi.max_sequence_length;
    if (cfg.max_head_rows <= 0) cfg.max_head_rows = 512;
    if (cfg.max_running < 1 || cfg.max_queue < 1)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "scheduler: max_running and max_queue must be >= 1");
    if (cfg.max_rows < mi.max_sequence_length)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "scheduler: max_rows %lld is below the model's max_sequence_length "
                         "%lld; no full-length request could run",
                         (long long)cfg.max_rows, (long long)mi.max_sequence_length);
    s = calloc(1, sizeof *s);
    if (s == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
    s->e = e;
    s->cfg = cfg;
    s->max_len = mi.max_sequence_length;
    s->next_id = 1;
    s->queue = calloc(cfg.max_queue, sizeof *s->queue);
    s->cancels = calloc(cfg.max_queue + cfg.max_running, sizeof *s->cancels);
    s->run = calloc(cfg.max_running, sizeof *s->run);
    s->batch = calloc(cfg.max_running, sizeof *s->batch);
    dllm_engine_slot_stats(e, &s->st.slots);
    s->slot_cap = s->st.slots.slots;
    s->slot_list = calloc(s->slot_cap ? s->slot_cap : 1, sizeof *s->slot_list);
    if (!s->queue || !s->cancels || !s->run || !s->batch || !s->slot_list ||
        pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->queue);
        free(s->cancels);
        free(s->run);
        free(s->batch);
        free(s->slot_list);
        free(s);
        return dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
    }
    rc = dllm_engine_reserve(e, cfg.max_rows, cfg.max_head_rows, cfg.max_running);
    if (rc != DLLM_OK) {
        dllm_errf(err, errn, rc, "scheduler: %s", dllm_engine_last_error(e));
        dllm_sched_free(s);
        return rc;
    }
    *out = s;
    return rc;
}

void dllm_sched_free(dllm_sched *s)
{
    if (s == NULL) return;
    for (size_t i = 0; i < s->n_run; i++) {
        dllm_seq_free(s->run[i].seq);
        free(s->run[i].req.prompt);
    }
    for (size_t i = 0; i < s->q_len; i++) free(s->queue[(s->q_head + i) % s->cfg.max_queue].prompt);
    for (result_node *n = s->res_head; n;) {
        result_node *nx = n->next;
        dllm_result_free(n->r);
        free(n);
        n = nx;
    }
    pthread_mutex_destroy(&s->mu);
    free(s->queue);
    free(s->cancels);
    free(s->run);
    free(s->batch);
    free(s->slot_list);
    free(s);
}

dllm_status dllm_sched_submit(dllm_sched *s, const dllm_request *r, uint64_t *id, char *err,
                              size_t errn)
{
    dllm_status rc;
    int32_t *copy = NULL;

    if (id) *id = 0;
    if (r == NULL || r->prompt == NULL || r->n_prompt == 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "empty prompt");
    rc = dllm_gen_params_validate(&r->params, err, errn);
    if (rc != DLLM_OK) goto reject;
    if ((int64_t)r->n_prompt + r->params.gen_length > s->max_len) {
        rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                       "prompt (%zu tokens) + gen_length (%d) exceeds the model's "
                       "max_sequence_length %lld",
                       r->n_prompt, (int)r->params.gen_length, (long long)s->max_len);
        goto reject;
    }
    if (req_head(&r->params) > s->cfg.max_head_rows) {
        rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                       "the request needs %lld LM-head rows per step, over the scheduler's "
                       "limit of %lld; hint: a shorter block_length",
                       (long long)req_head(&r->params), (long long)s->cfg.max_head_rows);
        goto reject;
    }
    if (req_rows(r->n_prompt, &r->params) > s->cfg.max_rows) {
        rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                       "the request needs %lld rows per step, over the scheduler's limit of "
                       "%lld",
                       (long long)req_rows(r->n_prompt, &r->params), (long long)s->cfg.max_rows);
        goto reject;
    }
    {
        dllm_pool_stats ps;
        dllm_engine_pool_stats(s->e, &ps);
        size_t need = dllm_seq_bytes(s->e, r->n_prompt, &r->params);
        if (ps.size > 0 && need > ps.size) {
            rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                           "the request's feature cache needs %zu bytes, more than the whole "
                           "memory pool (%zu bytes); hint: shorten it or raise --pool-mb",
                           need, ps.size);
            goto reject;
        }
    }
    copy = malloc(r->n_prompt * sizeof *copy);
    if (copy == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
    memcpy(copy, r->prompt, r->n_prompt * sizeof *copy);
    pthread_mutex_lock(&s->mu);
    if (s->q_len == s->cfg.max_queue) {
        pthread_mutex_unlock(&s->mu);
        free(copy);
        return dllm_errf(err, errn, DLLM_E_BUSY, "admission queue full (%zu requests)",
                         s->cfg.max_queue);
    }
    pending *p = &s->queue[(s->q_head + s->q_len) % s->cfg.max_queue];
    p->id = s->next_id++;
    p->tag = r->tag;
    p->prompt = copy;
    p->n_prompt = r->n_prompt;
    p->params = r->params;
    p->t_submit = now_ms();
    s->q_len++;
    s->st.submitted++;
    if (id) *id = p->id;
    pthread_mutex_unlock(&s->mu);
    return DLLM_OK;
reject:
    pthread_mutex_lock(&s->mu);
    s->st.rejected++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

dllm_status dllm_sched_cancel(dllm_sched *s, uint64_t id)
{
    dllm_status rc = DLLM_E_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    if (id > 0 && id < s->next_id && s->n_cancels < s->cfg.max_queue + s->cfg.max_running) {
        s->cancels[s->n_cancels++] = id;
        rc = DLLM_OK;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Builds a result (caller holds no lock). */
static dllm_result *make_result(const pending *p, dllm_status st, const char *msg,
                                const dllm_seq *seq, double t_admit, double t_first)
{
    dllm_result *r = calloc(1, sizeof *r);
    double t = now_ms();
    if (r == NULL) return NULL;
    r->id = p->id;
    r->tag = p->tag;
    r->status = st;
    if (msg) snprintf(r->error, sizeof r->error, "%s", msg);
    if (seq != NULL) {
        dllm_seq_stats_get(seq, &r->stats);
        if (st == DLLM_OK) {
            size_t n;
            const int32_t *tok = dllm_seq_tokens(seq, &n);
            r->tokens = malloc(n * sizeof *r->tokens);
            if (r->tokens == NULL) {
                r->status = DLLM_E_NOMEM;
                snprintf(r->error, sizeof r->error, "out of memory for the result");
            } else {
                memcpy(r->tokens, tok, n * sizeof *tok);
                r->n_tokens = n;
            }
        }
    }
    r->queue_ms = t_admit > 0 ? t_admit - p->t_submit : t - p->t_submit;
    r->first_step_ms = t_first > 0 ? t_first - p->t_submit : 0;
    r->total_ms = t - p->t_submit;
    return r;
}

static void push_result(dllm_sched *s, dllm_result *r)
{
    result_node *n = malloc(sizeof *n);
    if (n == NULL || r == NULL) { /* nothing sensible left to do: drop it, counted below */
        free(n);
        dllm_result_free(r);
        return;
    }
    n->r = r;
    n->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->res_tail)
        s->res_tail->next = n;
    else
        s->res_head = n;
    s->res_tail = n;
    s->st.finished++;
    if (r->status == DLLM_E_CANCELLED) s->st.cancelled++;
    pthread_mutex_unlock(&s->mu);
}

static void finish_running(dllm_sched *s, size_t i, dllm_status st, const char *msg)
{
    running *rn = &s->run[i];
    push_result(s, make_result(&rn->req, st, msg, rn->seq, rn->t_admit, rn->t_first));
    dllm_seq_free(rn->seq);
    free(rn->req.prompt);
    s->run[i] = s->run[--s->n_run];
}

/* Takes the cancel list and the cancelled queued requests under the lock. */
static void apply_cancels(dllm_sched *s)
{
    uint64_t ids[64];
    size_t n;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        n = DLLM_MIN(s->n_cancels, sizeof ids / sizeof ids[0]);
        memcpy(ids, s->cancels + s->n_cancels - n, n * sizeof *ids);
        s->n_cancels -= n;
        /* queued: remove in place, keeping FIFO order */
        pending dropped[64];
        size_t n_dropped = 0;
        for (size_t c = 0; c < n; c++) {
            for (size_t i = 0; i < s->q_len; i++) {
                pending *p = &s->queue[(s->q_head + i) % s->cfg.max_queue];
                if (p->id != ids[c]) continue;
                dropped[n_dropped++] = *p;
                for (size_t j = i; j + 1 < s->q_len; j++)
                    s->queue[(s->q_head + j) % s->cfg.max_queue] =
                        s->queue[(s->q_head + j + 1) % s->cfg.max_queue];
                s->q_len--;
                ids[c] = 0;
                break;
            }
        }
        pthread_mutex_unlock(&s->mu);
        for (size_t d = 0; d < n_dropped; d++) {
            push_result(s, make_result(&dropped[d], DLLM_E_CANCELLED, "cancelled while queued",
                                       NULL, 0, 0));
            free(dropped[d].prompt);
        }
        for (size_t c = 0; c < n; c++) {
            if (ids[c] == 0) continue;
            for (size_t i = 0; i < s->n_run; i++)
                if (s->run[i].req.id == ids[c]) {
                    finish_running(s, i, DLLM_E_CANCELLED, "cancelled while running");
                    break;
                }
        }
        if (n == 0) break;
    }
}

/* Admits from the queue head while the head fits. */
static void admit(dllm_sched *s)
{
    int64_t rows = 0, head_rows = 0;
    for (size_t i = 0; i < s->n_run; i++) {
        rows += s->run[i].rows;
        head_rows += s->run[i].head;
    }
    for (;;) {
        pending head;
        pthread_mutex_lock(&s->mu);
        if (s->q_len == 0 || s->n_run == s->cfg.max_running) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        head = s->queue[s->q_head];
        int64_t need = req_rows(head.n_prompt, &head.params), hneed = req_head(&head.params);
        if (rows + need > s->cfg.max_rows || head_rows + hneed > s->cfg.max_head_rows) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        s->q_head = (s->q_head + 1) % s->cfg.max_queue; /* taken; put back if it must wait */
        s->q_len--;
        pthread_mutex_unlock(&s->mu);

        dllm_seq *seq = NULL;
        dllm_status rc = dllm_seq_new(s->e, head.prompt, head.n_prompt, &head.params, &seq);
        if (rc == DLLM_E_NOMEM && s->n_run > 0) { /* wait until running ones free memory */
            pthread_mutex_lock(&s->mu);
            s->q_head = (s->q_head + s->cfg.max_queue - 1) % s->cfg.max_queue;
            s->queue[s->q_head] = head;
            s->q_len++;
            pthread_mutex_unlock(&s->mu);
            return;
        }
        if (rc != DLLM_OK) {
            push_result(s, make_result(&head, rc, dllm_engine_last_error(s->e), NULL, 0, 0));
            free(head.prompt);
            continue;
        }
        running *rn = &s->run[s->n_run++];
        memset(rn, 0, sizeof *rn);
        rn->req = head;
        rn->seq = seq;
        rn->t_admit = now_ms();
        rn->rows = need;
        rn->head = hneed;
        rows += need;
        head_rows += hneed;
    }
}

dllm_status dllm_sched_step(dllm_sched *s, size_t *n_active)
{
    dllm_status rc = DLLM_OK;
    int64_t rows = 0;

    apply_cancels(s);
    admit(s);
    if (s->n_run > 0) {
        for (size_t i = 0; i < s->n_run; i++) {
            s->batch[i] = s->run[i].seq;
            rows += s->run[i].rows;
        }
        rc = dllm_engine_step(s->e, s->batch, s->n_run);
        double t = now_ms();
        pthread_mutex_lock(&s->mu);
        s->st.steps++;
        s->st.rows += (uint64_t)rows;
        pthread_mutex_unlock(&s->mu);
        if (rc != DLLM_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", dllm_engine_last_error(s->e));
            while (s->n_run > 0) finish_running(s, s->n_run - 1, rc, msg);
        } else {
            for (size_t i = 0; i < s->n_run;) {
                if (s->run[i].t_first == 0) s->run[i].t_first = t;
                if (dllm_seq_finished(s->run[i].seq))
                    finish_running(s, i, DLLM_OK, NULL); /* moves the last entry to i */
                else
                    i++;
            }
        }
    }
    if (s->slot_cap > 0) { /* publish the prompt slots for other threads */
        dllm_slot_stats ss;
        dllm_engine_slot_stats(s->e, &ss);
        pthread_mutex_lock(&s->mu);
        s->st.slots = ss;
        s->n_slot_list = dllm_engine_slot_list(s->e, s->slot_list, s->slot_cap);
        pthread_mutex_unlock(&s->mu);
    }
    if (n_active) {
        pthread_mutex_lock(&s->mu);
        *n_active = s->q_len + s->n_run;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

int dllm_sched_poll(dllm_sched *s, dllm_result **out)
{
    result_node *n;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    n = s->res_head;
    if (n) {
        s->res_head = n->next;
        if (s->res_head == NULL) s->res_tail = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (n == NULL) return 0;
    *out = n->r;
    free(n);
    return 1;
}

size_t dllm_sched_slot_list(dllm_sched *s, dllm_slot_info *out, size_t cap)
{
    size_t n;
    pthread_mutex_lock(&s->mu);
    n = s->n_slot_list;
    if (n > 0 && cap > 0) memcpy(out, s->slot_list, DLLM_MIN(n, cap) * sizeof *out);
    pthread_mutex_unlock(&s->mu);
    return n;
}

void dllm_sched_stats_get(dllm_sched *s, dllm_sched_stats *o)
{
    pthread_mutex_lock(&s->mu);
    *o = s->st;
    o->queued = s->q_len;
    o->running = s->n_run;
    pthread_mutex_unlock(&s->mu);
}
