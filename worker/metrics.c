/* metrics.c -- counters, gauges and histograms of the worker; Prometheus text (metrics.h).
 *
 * DESIGN
 * ------
 * - Histograms use fixed log-spaced buckets from 1 ms to 400 s (like SGLang's latency
 *   buckets), cumulative at render time.
 * - Label values we render come from configuration (model name, worker id, topic names),
 *   escaped for the exposition format anyway.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "metrics.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_le[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                   1.0,   2.5,   5.0,  10.0,  20.0, 40.0, 80.0, 160.0, 400.0};
#define N_BUCKETS (sizeof bucket_le / sizeof bucket_le[0])
#define N_ERRC 8
#define N_FINISH 6
#define MAX_LAG 256

typedef struct hist {
    uint64_t counts[N_BUCKETS + 1]; /* last = +Inf only */
    uint64_t n;
    double sum;
} hist;

typedef struct lag_entry {
    char topic[128];
    int32_t partition;
    int64_t lag;
} lag_entry;

struct dllm_metrics {
    pthread_mutex_t mu;
    char model[256];
    char worker[256];
    uint64_t counters[DLLM_M_COUNTER_COUNT];
    double gauges[DLLM_G_GAUGE_COUNT];
    hist hists[DLLM_H_HIST_COUNT];
    uint64_t success[N_FINISH];
    uint64_t errors[N_ERRC];
    lag_entry lag[MAX_LAG];
    size_t n_lag;
    dllm_prompt_cache_metrics pc;
};

/* Copies s into dst escaping \ " and newlines (Prometheus label values). */
static void escape_label(char *dst, size_t n, const char *s)
{
    size_t j = 0;
    for (size_t i = 0; s && s[i] && j + 3 < n; i++) {
        char ch = s[i];
        if (ch == '\\' || ch == '"') {
            dst[j++] = '\\';
            dst[j++] = ch;
        } else if (ch == '\n') {
            dst[j++] = '\\';
            dst[j++] = 'n';
        } else {
            dst[j++] = ch;
        }
    }
    dst[j] = '\0';
}

dllm_status dllm_metrics_new(const char *model_name, const char *worker_id, dllm_metrics **out)
{
    dllm_metrics *m = calloc(1, sizeof *m);
    *out = NULL;
    if (m == NULL) return DLLM_E_NOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return DLLM_E_NOMEM;
    }
    escape_label(m->model, sizeof m->model, model_name);
    escape_label(m->worker, sizeof m->worker, worker_id);
    m->gauges[DLLM_G_REDIS_UP] = 1;
    *out = m;
    return DLLM_OK;
}

void dllm_metrics_free(dllm_metrics *m)
{
    if (m == NULL) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void dllm_metrics_add(dllm_metrics *m, dllm_counter c, uint64_t v)
{
    if (m == NULL || c >= DLLM_M_COUNTER_COUNT) return;
    pthread_mutex_lock(&m->mu);
    m->counters[c] += v;
    pthread_mutex_unlock(&m->mu);
}

void dllm_metrics_set_prompt_cache(dllm_metrics *m, const dllm_prompt_cache_metrics *v)
{
    if (m == NULL) return;
    pthread_mutex_lock(&m->mu);
    m->pc = *v;
    pthread_mutex_unlock(&m->mu);
}

void dllm_metrics_set(dllm_metrics *m, dllm_gauge g, double v)
{
    if (m == NULL || g >= DLLM_G_GAUGE_COUNT) return;
    pthread_mutex_lock(&m->mu);
    m->gauges[g] = v;
    pthread_mutex_unlock(&m->mu);
}

void dllm_metrics_observe(dllm_metrics *m, dllm_hist h, double seconds)
{
    size_t b = 0;
    if (m == NULL || h >= DLLM_H_HIST_COUNT) return;
    while (b < N_BUCKETS && seconds > bucket_le[b]) b++;
    pthread_mutex_lock(&m->mu);
    m->hists[h].counts[b]++;
    m->hists[h].n++;
    m->hists[h].sum += seconds;
    pthread_mutex_unlock(&m->mu);
}

void dllm_metrics_request_done(dllm_metrics *m, dllm_finish f, dllm_errc e)
{
    if (m == NULL) return;
    pthread_mutex_lock(&m->mu);
    if (e != DLLM_ERRC_NONE) {
        if ((unsigned)e < N_ERRC) m->errors[e]++;
    } else if ((unsigned)f < N_FINISH) {
        m->success[f]++;
    }
    pthread_mutex_unlock(&m->mu);
}

void dllm_metrics_clear_lag(dllm_metrics *m)
{
    if (m == NULL) return;
    pthread_mutex_lock(&m->mu);
    m->n_lag = 0;
    pthread_mutex_unlock(&m->mu);
}

void dllm_metrics_set_lag(dllm_metrics *m, const char *topic, int32_t partition, int64_t lag)
{
    size_t i;
    if (m == NULL) return;
    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->n_lag; i++)
        if (m->lag[i].partition == partition && strcmp(m->lag[i].topic, topic) == 0) break;
    if (i == m->n_lag && m->n_lag < MAX_LAG) {
        escape_label(m->lag[i].topic, sizeof m->lag[i].topic, topic);
        m->lag[i].partition = partition;
        m->n_lag++;
    }
    if (i < m->n_lag) m->lag[i].lag = lag;
    pthread_mutex_unlock(&m->mu);
}

void dllm_metrics_kafka_stats(dllm_metrics *m, const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len), *cgrp, *topics, *t;
    if (root == NULL) return;
    cgrp = cJSON_GetObjectItemCaseSensitive(root, "cgrp");
    if (cJSON_IsObject(cgrp)) {
        cJSON *rb = cJSON_GetObjectItemCaseSensitive(cgrp, "rebalance_cnt");
        cJSON *as = cJSON_GetObjectItemCaseSensitive(cgrp, "assignment_size");
        if (cJSON_IsNumber(rb)) dllm_metrics_set(m, DLLM_G_REBALANCES, rb->valuedouble);
        if (cJSON_IsNumber(as)) dllm_metrics_set(m, DLLM_G_ASSIGNED, as->valuedouble);
    }
    topics = cJSON_GetObjectItemCaseSensitive(root, "topics");
    if (cJSON_IsObject(topics)) {
        dllm_metrics_clear_lag(m);
        cJSON_ArrayForEach(t, topics)
        {
            cJSON *parts = cJSON_GetObjectItemCaseSensitive(t, "partitions"), *p;
            if (!cJSON_IsObject(parts)) continue;
            cJSON_ArrayForEach(p, parts)
            {
                cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "partition");
                cJSON *lag = cJSON_GetObjectItemCaseSensitive(p, "consumer_lag");
                if (!cJSON_IsNumber(id) || !cJSON_IsNumber(lag) || id->valuedouble < 0 ||
                    lag->valuedouble < 0)
                    continue;
                dllm_metrics_set_lag(m, t->string, (int32_t)id->valuedouble,
                                     (int64_t)lag->valuedouble);
            }
        }
    }
    cJSON_Delete(root);
}

uint64_t dllm_metrics_counter(dllm_metrics *m, dllm_counter c)
{
    uint64_t v;
    pthread_mutex_lock(&m->mu);
    v = m->counters[c];
    pthread_mutex_unlock(&m->mu);
    return v;
}

double dllm_metrics_gauge(dllm_metrics *m, dllm_gauge g)
{
    double v;
    pthread_mutex_lock(&m->mu);
    v = m->gauges[g];
    pthread_mutex_unlock(&m->mu);
    return v;
}

/* ---- rendering ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->oom) return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t nc = b->cap * 2 + (size_t)n + 1;
            char *np = realloc(b->p, nc);
            if (np == NULL) {
                b->oom = 1;
                return;
            }
            b->p = np;
            b->cap = nc;
        }
    }
}

static void render_counter(sbuf *b, const dllm_metrics *m, const char *name, const char *help,
                           uint64_t v)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s{model_name=\"%s\"} %llu\n", name, help,
              name, name, m->model, (unsigned long long)v);
}

static void render_gauge(sbuf *b, const dllm_metrics *m, const char *name, const char *help,
                         double v)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s{model_name=\"%s\"} %.17g\n", name, help, name,
              name, m->model, v);
}

static void render_hist(sbuf *b, const dllm_metrics *m, const char *name, const char *help,
                        const hist *h)
{
    uint64_t cum = 0;
    sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += h->counts[i];
        sb_printf(b, "%s_bucket{model_name=\"%s\",le=\"%g\"} %llu\n", name, m->model, bucket_le[i],
                  (unsigned long long)cum);
    }
    sb_printf(b, "%s_bucket{model_name=\"%s\",le=\"+Inf\"} %llu\n", name, m->model,
              (unsigned long long)h->n);
    sb_printf(b, "%s_sum{model_name=\"%s\"} %.17g\n%s_count{model_name=\"%s\"} %llu\n", name,
              m->model, h->sum, name, m->model, (unsigned long long)h->n);
}

dllm_status dllm_metrics_render(dllm_metrics *m, char **out, size_t *len)
{
    static const char *const finish[N_FINISH] = {"unspecified", "length", "eos", "abort",
                                                 "deadline_exceeded", "error"};
    sbuf b = {0};
    const uint64_t *c;
    const double *g;

    *out = NULL;
    b.cap = 8192;
    b.p = malloc(b.cap);
    if (b.p == NULL) return DLLM_E_NOMEM;
    b.p[0] = '\0';
    pthread_mutex_lock(&m->mu);
    c = m->counters;
    g = m->gauges;
    sb_printf(&b, "# HELP dllm_worker_info Static worker information.\n"
                  "# TYPE dllm_worker_info gauge\n"
                  "dllm_worker_info{model_name=\"%s\",worker_id=\"%s\"} 1\n",
              m->model, m->worker);
    render_counter(&b, m, "dllm_requests_received_total", "Request messages consumed.",
                   c[DLLM_M_REQUESTS_RECEIVED]);
    sb_printf(&b, "# HELP dllm_request_success_total Requests answered with a result, by "
                  "finish reason.\n# TYPE dllm_request_success_total counter\n");
    for (int f = 1; f < 3; f++)
        sb_printf(&b, "dllm_request_success_total{model_name=\"%s\",finished_reason=\"%s\"} %llu\n",
                  m->model, finish[f], (unsigned long long)m->success[f]);
    sb_printf(&b, "# HELP dllm_request_errors_total Requests answered with an error, by code.\n"
                  "# TYPE dllm_request_errors_total counter\n");
    for (int e = 1; e < N_ERRC; e++)
        sb_printf(&b, "dllm_request_errors_total{model_name=\"%s\",code=\"%s\"} %llu\n", m->model,
                  dllm_errc_name((dllm_errc)e), (unsigned long long)m->errors[e]);
    render_counter(&b, m, "dllm_requests_duplicate_total",
                   "Redelivered requests recognised by request_id and not run again.",
                   c[DLLM_M_REQUESTS_DUPLICATE]);
    render_counter(&b, m, "dllm_dlq_messages_total", "Poison messages sent to the dead-letter topic.",
                   c[DLLM_M_DLQ_MESSAGES]);
    render_counter(&b, m, "dllm_replies_total", "Replies acknowledged by the broker.",
                   c[DLLM_M_REPLIES]);
    render_counter(&b, m, "dllm_kafka_delivery_failures_total",
                   "Produce attempts that failed and were retried.", c[DLLM_M_DELIVERY_FAILURES]);
    render_counter(&b, m, "dllm_kafka_offset_store_errors_total",
                   "Offset stores refused (partition no longer assigned).",
                   c[DLLM_M_OFFSET_STORE_ERRORS]);
    render_counter(&b, m, "dllm_kafka_pauses_total",
                   "Times the assigned partitions were paused because the queue was full.",
                   c[DLLM_M_PAUSES]);
    render_counter(&b, m, "dllm_prompt_tokens_total", "Prompt tokens of finished requests.",
                   c[DLLM_M_PROMPT_TOKENS]);
    render_counter(&b, m, "dllm_generation_tokens_total",
                   "Generated tokens (before EOS) of finished requests.",
                   c[DLLM_M_GENERATION_TOKENS]);
    render_counter(&b, m, "dllm_denoising_steps_total", "Denoising steps of finished requests.",
                   c[DLLM_M_STEPS]);
    render_counter(&b, m, "dllm_forwards_total", "Model forwards of finished requests.",
                   c[DLLM_M_FORWARDS]);
    render_counter(&b, m, "dllm_redis_errors_total", "Failed Redis commands and connects.",
                   c[DLLM_M_REDIS_ERRORS]);
    render_gauge(&b, m, "dllm_num_requests_running", "Sequences in the running batch.",
                 g[DLLM_G_RUNNING]);
    render_gauge(&b, m, "dllm_num_requests_waiting", "Requests queued for admission.",
                 g[DLLM_G_WAITING]);
    render_gauge(&b, m, "dllm_kafka_assigned_partitions", "Partitions assigned to this worker.",
                 g[DLLM_G_ASSIGNED]);
    render_gauge(&b, m, "dllm_kafka_paused", "1 while consumption is paused (backpressure).",
                 g[DLLM_G_PAUSED]);
    render_gauge(&b, m, "dllm_kafka_rebalances", "Consumer group rebalances (librdkafka "
                 "rebalance_cnt).", g[DLLM_G_REBALANCES]);
    render_gauge(&b, m, "dllm_redis_up", "1 when Redis answers or is not configured.",
                 g[DLLM_G_REDIS_UP]);
    sb_printf(&b, "# HELP dllm_kafka_consumer_lag Messages behind the partition end (librdkafka "
                  "consumer_lag).\n# TYPE dllm_kafka_consumer_lag gauge\n");
    for (size_t i = 0; i < m->n_lag; i++)
        sb_printf(&b, "dllm_kafka_consumer_lag{model_name=\"%s\",topic=\"%s\",partition=\"%d\"} "
                      "%lld\n", m->model, m->lag[i].topic, (int)m->lag[i].partition,
                  (long long)m->lag[i].lag);
    if (m->pc.enabled) { /* prompt slots (serving.md section 4 names) */
        const dllm_prompt_cache_metrics *p = &m->pc;
        render_gauge(&b, m, "dllm_slots_total", "Prompt slots allocated at start.", p->slots);
        render_gauge(&b, m, "dllm_slots_used", "Prompt slots holding a prefix (cached, in use "
                     "or idle).", p->used);
        render_gauge(&b, m, "dllm_slots_referenced", "Prompt slots attached to running "
                     "sequences.", p->referenced);
        render_gauge(&b, m, "dllm_slots_pinned", "Prompt slots pinned now.", p->pinned);
        render_counter(&b, m, "dllm_prefix_cache_queries_total",
                       "System-prefix tokens of requests that asked for a prompt slot.",
                       p->query_tokens);
        render_counter(&b, m, "dllm_prefix_cache_hits_total",
                       "System-prefix tokens served from an existing prompt slot.", p->hit_tokens);
        render_counter(&b, m, "dllm_slot_builds_total", "Prompt slots built.", p->builds);
        render_counter(&b, m, "dllm_slot_evictions_total", "Prompt slots evicted (LRU).",
                       p->evictions);
        render_counter(&b, m, "dllm_slot_busy_total",
                       "Requests served without a slot because every slot was in use.", p->busy);
        render_counter(&b, m, "dllm_slot_claims_won_total", "Build claims taken.",
                       p->claims_won);
        render_counter(&b, m, "dllm_slot_claims_lost_total",
                       "Build claims held by another worker (duplicate builds in the fleet).",
                       p->claims_lost);
        render_counter(&b, m, "dllm_slot_directory_published_total",
                       "Directory entries written to Redis.", p->published);
        render_counter(&b, m, "dllm_slot_directory_errors_total",
                       "Failed Redis commands and connects of the prompt-slot directory.",
                       p->directory_errors);
    }
    render_hist(&b, m, "dllm_e2e_request_latency_seconds", "Receipt to result.",
                &m->hists[DLLM_H_E2E]);
    render_hist(&b, m, "dllm_request_queue_time_seconds", "Receipt to admission into the batch.",
                &m->hists[DLLM_H_QUEUE]);
    render_hist(&b, m, "dllm_time_to_first_step_seconds",
                "Receipt to the end of the first denoising step (first block).",
                &m->hists[DLLM_H_FIRST_STEP]);
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        free(b.p);
        return DLLM_E_NOMEM;
    }
    *out = b.p;
    *len = b.len;
    return DLLM_OK;
}
