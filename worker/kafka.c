/* kafka.c -- consumer/producer loop, offset watermarks, replies and dead letters (kafka.h).
 *
 * DESIGN
 * ------
 * - Records: per assigned partition a sorted array of {offset, refs} for consumed messages
 *   whose processing is not finished. refs: 1 for processing (held by the request until
 *   its reply is produced, or dropped at once for answered duplicates) + 1 per produce in
 *   flight. A src_key {partition, generation, offset} names a record; lookups of a
 *   revoked generation find nothing and do nothing.
 * - Jobs: a decoded, tokenized request. Backlog (FIFO) until the scheduler accepts it,
 *   then in the active list until its result arrives. A job keeps the original bytes
 *   while in the backlog (a rejected submission is a poison message for the DLQ).
 * - Tickets ride on produced messages as msg_opaque: the records to release on delivery
 *   and, for results, the request id to mark answered. A failed delivery is re-produced
 *   from the delivery report (payload, key and headers copied) unless the error is
 *   permanent (unknown topic, message too large, ...), which is logged and released so
 *   the partition cannot stall forever.
 * - Threads: everything here runs on the thread in dllm_kafka_worker_run (delivery
 *   reports come from rd_kafka_poll/flush on that thread; the rebalance and statistics
 *   callbacks from rd_kafka_consumer_poll). Only heartbeat and joined are read elsewhere.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kafka.h"
#include "prompt_cache.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 20
#define HDR_MAX 512

typedef struct rec {
    int64_t offset;
    int refs; /* 0 = finished */
} rec;

typedef struct ptrack {
    int32_t partition;
    uint64_t gen;
    rec *v;
    size_t head, len, cap;
} ptrack;

typedef struct src_key {
    int32_t partition;
    uint64_t gen;
    int64_t offset;
} src_key;

typedef struct job {
    struct job *next;
    uint64_t tag, sched_id;
    int deadline_hit;
    dllm_gen_request req;
    int32_t *prompt;
    size_t n_prompt;
    void *key;
    size_t key_len;
    void *orig; /* original bytes while in the backlog */
    size_t orig_len;
    int64_t t_recv, t_submit; /* monotonic ms */
    src_key *srcs;            /* [0] the message itself, then redeliveries absorbed */
    size_t n_srcs;
} job;

typedef struct ticket {
    src_key *srcs;
    size_t n_srcs;
    char *answered_id; /* mark answered on delivery (results and error replies) */
    int is_reply;
} ticket;

struct dllm_kafka_worker {
    dllm_kafka_deps d;
    const dllm_worker_config *cfg;
    rd_kafka_t *cons, *prod;
    ptrack *parts;
    size_t n_parts;
    uint64_t gen_counter, next_tag;
    job *active;                    /* submitted to the scheduler */
    job *backlog, *backlog_tail;    /* waiting for the scheduler */
    size_t n_backlog;
    int paused, draining;
    int fatal;
    atomic_int joined;
    atomic_llong heartbeat;
};

/* ---- small helpers ---- */

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    va_list ap;
    fputs("dllm-worker: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *memdup(const void *p, size_t n)
{
    void *d;
    if (p == NULL) return NULL;
    d = malloc(n ? n : 1);
    if (d) memcpy(d, p, n);
    return d;
}

/* ---- partition trackers ---- */

static ptrack *track_find(dllm_kafka_worker *w, int32_t partition)
{
    for (size_t i = 0; i < w->n_parts; i++)
        if (w->parts[i].partition == partition) return &w->parts[i];
    return NULL;
}

static void track_remove(dllm_kafka_worker *w, int32_t partition)
{
    ptrack *t = track_find(w, partition);
    if (t == NULL) return;
    free(t->v);
    *t = w->parts[--w->n_parts];
}

static int track_add(dllm_kafka_worker *w, int32_t partition)
{
    ptrack *np;
    track_remove(w, partition);
    np = realloc(w->parts, (w->n_parts + 1) * sizeof *np);
    if (np == NULL) return -1;
    w->parts = np;
    memset(&w->parts[w->n_parts], 0, sizeof *np);
    w->parts[w->n_parts].partition = partition;
    w->parts[w->n_parts].gen = ++w->gen_counter;
    w->n_parts++;
    return 0;
}

static int rec_add(ptrack *t, int64_t offset)
{
    if (t->len > 0 && t->v[t->head + t->len - 1].offset >= offset) return -1; /* not in order */
    if (t->head + t->len == t->cap) {
        if (t->head > 0) {
            memmove(t->v, t->v + t->head, t->len * sizeof *t->v);
            t->head = 0;
        } else {
            size_t nc = t->cap ? t->cap * 2 : 64;
            rec *nv = realloc(t->v, nc * sizeof *nv);
            if (nv == NULL) return -1;
            t->v = nv;
            t->cap = nc;
        }
    }
    t->v[t->head + t->len].offset = offset;
    t->v[t->head + t->len].refs = 1;
    t->len++;
    return 0;
}

static rec *rec_find(dllm_kafka_worker *w, const src_key *k, ptrack **pt)
{
    ptrack *t = track_find(w, k->partition);
    size_t lo = 0, hi;
    if (t == NULL || t->gen != k->gen) return NULL;
    hi = t->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t o = t->v[t->head + mid].offset;
        if (o == k->offset) {
            *pt = t;
            return &t->v[t->head + mid];
        }
        if (o < k->offset) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

static void rec_ref(dllm_kafka_worker *w, const src_key *k)
{
    ptrack *t = NULL;
    rec *r = rec_find(w, k, &t);
    if (r) r->refs++;
}

/* Stores the offset after the contiguous finished prefix of t. */
static void advance(dllm_kafka_worker *w, ptrack *t)
{
    int64_t last = -1;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;

    while (t->len > 0 && t->v[t->head].refs <= 0) {
        last = t->v[t->head].offset;
        t->head++;
        t->len--;
    }
    if (t->len == 0) t->head = 0;
    if (last < 0) return;
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, w->cfg->requests_topic, t->partition)->offset = last + 1;
    e = rd_kafka_offsets_store(w->cons, l);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = l->elems[0].err;
    if (e) {
        dllm_metrics_add(w->d.metrics, DLLM_M_OFFSET_STORE_ERRORS, 1);
        logf_("offset store %s [%d] @%lld refused: %s", w->cfg->requests_topic,
              (int)t->partition, (long long)(last + 1), rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void rec_unref(dllm_kafka_worker *w, const src_key *k)
{
    ptrack *t = NULL;
    rec *r = rec_find(w, k, &t);
    if (r == NULL) return;
    if (--r->refs <= 0) advance(w, t);
}

/* ---- jobs ---- */

static void job_free(job *j)
{
    if (j == NULL) return;
    dllm_gen_request_deinit(&j->req);
    free(j->prompt);
    free(j->key);
    free(j->orig);
    free(j->srcs);
    free(j);
}

static job *job_find_active(dllm_kafka_worker *w, const char *request_id)
{
    for (job *j = w->active; j; j = j->next)
        if (strcmp(j->req.request_id, request_id) == 0) return j;
    for (job *j = w->backlog; j; j = j->next)
        if (strcmp(j->req.request_id, request_id) == 0) return j;
    return NULL;
}

static int job_add_src(job *j, const src_key *k)
{
    src_key *ns = realloc(j->srcs, (j->n_srcs + 1) * sizeof *ns);
    if (ns == NULL) return -1;
    j->srcs = ns;
    j->srcs[j->n_srcs++] = *k;
    return 0;
}

/* ---- producing ---- */

static int permanent_error(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG: return 1;
    default: return 0;
    }
}

static void ticket_free(ticket *t)
{
    if (t == NULL) return;
    free(t->srcs);
    free(t->answered_id);
    free(t);
}

static void ticket_release(dllm_kafka_worker *w, ticket *t)
{
    for (size_t i = 0; i < t->n_srcs; i++) rec_unref(w, &t->srcs[i]);
    ticket_free(t);
}

/* Produces; takes ownership of hdrs and t in every case (released on failure). */
static void produce(dllm_kafka_worker *w, const char *topic, const void *val, size_t len,
                    const void *key, size_t key_len, rd_kafka_headers_t *hdrs, ticket *t)
{
    rd_kafka_resp_err_t e;
    for (size_t i = 0; i < t->n_srcs; i++) rec_ref(w, &t->srcs[i]);
    for (;;) {
        e = rd_kafka_producev(w->prod, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE((void *)val, len),
                              RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(w->prod, 100);
    }
    if (e) {
        logf_("produce to %s failed: %s; the message is dropped", topic, rd_kafka_err2str(e));
        dllm_metrics_add(w->d.metrics, DLLM_M_DELIVERY_FAILURES, 1);
        rd_kafka_headers_destroy(hdrs);
        ticket_release(w, t);
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dllm_kafka_worker *w = opaque;
    ticket *t = m->_private;
    (void)rk;

    if (t == NULL) return;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (t->answered_id) dllm_dedupe_mark(w->d.dedupe, t->answered_id);
        if (t->is_reply) dllm_metrics_add(w->d.metrics, DLLM_M_REPLIES, 1);
        ticket_release(w, t);
        return;
    }
    dllm_metrics_add(w->d.metrics, DLLM_M_DELIVERY_FAILURES, 1);
    if (permanent_error(m->err)) {
        logf_("delivery to %s failed permanently: %s; giving up on this message",
              rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        ticket_release(w, t);
        return;
    }
    {
        /* transient: produce again (the records keep their references) */
        rd_kafka_headers_t *h = NULL, *copy = NULL;
        rd_kafka_resp_err_t e;
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h)
            copy = rd_kafka_headers_copy(h);
        logf_("delivery to %s failed: %s; retrying", rd_kafka_topic_name(m->rkt),
              rd_kafka_err2str(m->err));
        e = rd_kafka_producev(w->prod, RD_KAFKA_V_RKT(m->rkt),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE(m->payload, m->len),
                              RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_HEADERS(copy),
                              RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
        if (e) {
            logf_("re-produce failed: %s; giving up on this message", rd_kafka_err2str(e));
            if (copy) rd_kafka_headers_destroy(copy);
            ticket_release(w, t);
        }
    }
}

static ticket *ticket_new(const src_key *srcs, size_t n, const char *answered_id, int is_reply)
{
    ticket *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->srcs = memdup(srcs, n * sizeof *srcs);
    t->n_srcs = n;
    t->is_reply = is_reply;
    if (answered_id) t->answered_id = strdup(answered_id);
    if ((n && t->srcs == NULL) || (answered_id && t->answered_id == NULL)) {
        ticket_free(t);
        return NULL;
    }
    return t;
}

/* Builds and produces one reply to req's topic (or the default). */
static void send_reply(dllm_kafka_worker *w, const dllm_gen_request *req, dllm_response *r,
                       const void *key, size_t key_len, const src_key *srcs, size_t n_srcs,
                       int mark_answered)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rd_kafka_headers_t *h;
    ticket *t;
    const char *topic = req->reply_topic ? req->reply_topic : w->cfg->replies_topic;

    r->request_id = req->request_id;
    r->worker_id = w->cfg->worker_id;
    r->model_id = w->d.model_id;
    r->meta = req->meta;
    r->n_meta = req->n_meta;
    if (dllm_response_encode(r, &buf, &len) != DLLM_OK) {
        logf_("cannot encode the reply to %s (out of memory)", req->request_id);
        return;
    }
    t = ticket_new(srcs, n_srcs, mark_answered ? req->request_id : NULL, 1);
    h = rd_kafka_headers_new(4);
    if (t == NULL || h == NULL) {
        ticket_free(t);
        if (h) rd_kafka_headers_destroy(h);
        free(buf);
        return;
    }
    rd_kafka_header_add(h, "correlation-id", -1, req->request_id, -1);
    rd_kafka_header_add(h, "content-type", -1, "application/x-protobuf; dllm.v1.GenerateResponse",
                        -1);
    rd_kafka_header_add(h, "dllm-worker-id", -1, w->cfg->worker_id, -1);
    if (r->error != DLLM_ERRC_NONE)
        rd_kafka_header_add(h, "dllm-error-code", -1, dllm_errc_name(r->error), -1);
    produce(w, topic, buf, len, key, key_len, h, t);
    free(buf);
}

/* Original message, for the dead-letter copy. */
typedef struct orig_msg {
    const void *payload;
    size_t len;
    const void *key;
    size_t key_len;
    int32_t partition;
    int64_t offset;
} orig_msg;

/* Answers a failed request: an error reply when it has a request id; for poison codes also
 * the original bytes on the dead-letter topic. Releases the processing reference of k. */
static void fail_request(dllm_kafka_worker *w, const dllm_gen_request *req, const orig_msg *o,
                         const src_key *k, dllm_errc code, const char *msg)
{
    char dlq_default[300], num[32];
    const char *dlq = w->cfg->dlq_topic;

    if (w->cfg->verbose || dllm_errc_is_poison(code))
        logf_("request %s (%s [%d] @%lld): %s: %s", req->request_id ? req->request_id : "?",
              w->cfg->requests_topic, (int)o->partition, (long long)o->offset,
              dllm_errc_name(code), msg);
    dllm_metrics_request_done(w->d.metrics, DLLM_FINISH_ERROR, code);
    if (req->request_id != NULL) {
        dllm_response r;
        memset(&r, 0, sizeof r);
        r.error = code;
        r.error_message = msg;
        r.retryable = code == DLLM_ERRC_UNAVAILABLE || code == DLLM_ERRC_INTERNAL;
        /* error replies are not marked answered: a corrected resubmission may reuse the id */
        send_reply(w, req, &r, o->key, o->key_len, k, 1, 0);
    }
    if (dllm_errc_is_poison(code)) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(8);
        ticket *t = ticket_new(k, 1, NULL, 0);
        if (dlq == NULL) {
            snprintf(dlq_default, sizeof dlq_default, "%s.dlq", w->cfg->requests_topic);
            dlq = dlq_default;
        }
        if (h == NULL || t == NULL) {
            if (h) rd_kafka_headers_destroy(h);
            ticket_free(t);
        } else {
            rd_kafka_header_add(h, "dllm-source-topic", -1, w->cfg->requests_topic, -1);
            snprintf(num, sizeof num, "%d", (int)o->partition);
            rd_kafka_header_add(h, "dllm-source-partition", -1, num, -1);
            snprintf(num, sizeof num, "%lld", (long long)o->offset);
            rd_kafka_header_add(h, "dllm-source-offset", -1, num, -1);
            rd_kafka_header_add(h, "dllm-error-class", -1, dllm_errc_name(code), -1);
            rd_kafka_header_add(h, "dllm-error-message", -1, msg, -1);
            rd_kafka_header_add(h, "dllm-worker-id", -1, w->cfg->worker_id, -1);
            if (req->request_id)
                rd_kafka_header_add(h, "correlation-id", -1, req->request_id, -1);
            produce(w, dlq, o->payload, o->len, o->key, o->key_len, h, t);
            dllm_metrics_add(w->d.metrics, DLLM_M_DLQ_MESSAGES, 1);
        }
    }
    rec_unref(w, k);
}

/* ---- consuming ---- */

static void header_str(rd_kafka_headers_t *h, const char *name, char *buf, size_t n)
{
    const void *v = NULL;
    size_t sz = 0;
    buf[0] = '\0';
    if (h == NULL || rd_kafka_header_get_last(h, name, &v, &sz) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        v == NULL)
        return;
    if (sz >= n) sz = n - 1;
    memcpy(buf, v, sz);
    buf[sz] = '\0';
    if (strlen(buf) != sz) buf[0] = '\0'; /* embedded NUL: ignore the header */
}

static void handle_message(dllm_kafka_worker *w, const rd_kafka_message_t *m)
{
    ptrack *t = track_find(w, m->partition);
    src_key k;
    rd_kafka_headers_t *hdrs = NULL;
    char corr[HDR_MAX], rto[HDR_MAX], dl[64], msg[512], terr[512];
    dllm_gen_request_hints hints;
    dllm_gen_request req;
    dllm_errc code;
    orig_msg o = {m->payload, m->len, m->key, m->key_len, m->partition, m->offset};
    job *j = NULL;
    dllm_status rc;

    if (w->draining || t == NULL) return; /* not tracked: redelivered later */
    if (rec_add(t, m->offset)) {
        logf_("out-of-order offset %lld on partition %d ignored", (long long)m->offset,
              (int)m->partition);
        return;
    }
    k.partition = m->partition;
    k.gen = t->gen;
    k.offset = m->offset;
    dllm_metrics_add(w->d.metrics, DLLM_M_REQUESTS_RECEIVED, 1);

    rd_kafka_message_headers(m, &hdrs);
    header_str(hdrs, "correlation-id", corr, sizeof corr);
    header_str(hdrs, "reply-to", rto, sizeof rto);
    header_str(hdrs, "deadline", dl, sizeof dl);
    hints.correlation_id = corr[0] ? corr : NULL;
    hints.reply_to = rto[0] ? rto : NULL;
    hints.deadline_unix_ms = dl[0] ? strtoll(dl, NULL, 10) : 0;

    rc = dllm_gen_request_decode(m->payload, m->len, &w->d.limits, &hints, &req, &code, msg,
                                 sizeof msg);
    if (rc != DLLM_OK) {
        fail_request(w, &req, &o, &k, code, msg);
        goto out;
    }
    /* duplicates */
    j = job_find_active(w, req.request_id);
    if (j != NULL) {
        dllm_metrics_add(w->d.metrics, DLLM_M_REQUESTS_DUPLICATE, 1);
        if (job_add_src(j, &k)) rec_unref(w, &k);
        j = NULL;
        goto out;
    }
    if (dllm_dedupe_seen(w->d.dedupe, req.request_id)) {
        dllm_metrics_add(w->d.metrics, DLLM_M_REQUESTS_DUPLICATE, 1);
        if (w->cfg->verbose) logf_("request %s: already answered; skipped", req.request_id);
        rec_unref(w, &k);
        goto out;
    }
    if (req.deadline_unix_ms > 0 && unix_ms() >= req.deadline_unix_ms) {
        snprintf(msg, sizeof msg, "deadline %lld passed before the request was admitted",
                 (long long)req.deadline_unix_ms);
        fail_request(w, &req, &o, &k, DLLM_ERRC_DEADLINE_EXCEEDED, msg);
        goto out;
    }
    j = calloc(1, sizeof *j);
    if (j == NULL) goto nomem;
    if (req.text != NULL) {
        rc = req.raw ? dllm_tokenizer_encode(w->d.tok, req.text, strlen(req.text), 0, &j->prompt,
                                             &j->n_prompt, terr, sizeof terr)
                     : dllm_tokenizer_apply_chat(w->d.tok, req.system, req.text, &j->prompt,
                                                 &j->n_prompt, terr, sizeof terr);
        if (rc == DLLM_E_NOMEM) goto nomem;
        if (rc != DLLM_OK) {
            snprintf(msg, sizeof msg, "cannot encode the prompt: %.400s", terr);
            fail_request(w, &req, &o, &k, DLLM_ERRC_INVALID_ARGUMENT, msg);
            goto out;
        }
        if (dllm_gen_request_check_length(&req, j->n_prompt, &w->d.limits, &code, msg,
                                          sizeof msg) != DLLM_OK) {
            fail_request(w, &req, &o, &k, code, msg);
            goto out;
        }
    } else {
        j->prompt = req.prompt_ids;
        j->n_prompt = req.n_prompt_ids;
        req.prompt_ids = NULL;
        req.n_prompt_ids = 0;
    }
    j->req = req;
    memset(&req, 0, sizeof req); /* moved into the job */
    j->tag = ++w->next_tag;
    j->t_recv = dllm_mono_ms();
    j->key = memdup(m->key, m->key_len);
    j->key_len = m->key ? m->key_len : 0;
    j->orig = memdup(m->payload, m->len);
    j->orig_len = m->len;
    if (job_add_src(j, &k) || (m->key && j->key == NULL) || (m->payload && j->orig == NULL))
        goto nomem_job;
    if (w->backlog_tail) w->backlog_tail->next = j; else w->backlog = j;
    w->backlog_tail = j;
    w->n_backlog++;
    if (w->cfg->verbose)
        logf_("request %s: %zu prompt tokens, queued", j->req.request_id, j->n_prompt);
    j = NULL;
    goto out;
nomem_job:
    req = j->req;
    memset(&j->req, 0, sizeof j->req);
nomem:
    fail_request(w, &req, &o, &k, DLLM_ERRC_INTERNAL, "out of memory in the worker");
out:
    job_free(j);
    dllm_gen_request_deinit(&req);
}

/* ---- results ---- */

static void finish_job(dllm_kafka_worker *w, job *j, dllm_result *res)
{
    dllm_response r;
    char *text = NULL, err[512];
    size_t text_len = 0;
    double pre = (double)(j->t_submit - j->t_recv);

    memset(&r, 0, sizeof r);
    if (res->status == DLLM_OK) {
        size_t first_end = res->n_tokens;
        for (size_t i = 0; i < res->n_tokens; i++)
            if (res->tokens[i] == w->d.eos_id || (w->d.eot_id >= 0 && res->tokens[i] == w->d.eot_id)) {
                first_end = i;
                break;
            }
        if (dllm_tokenizer_decode(w->d.tok, res->tokens, res->n_tokens, 1, &text, &text_len, err,
                                  sizeof err) != DLLM_OK) {
            r.error = DLLM_ERRC_INTERNAL;
            r.error_message = err;
        } else {
            r.text = text;
            r.token_ids = res->tokens;
            r.n_token_ids = res->n_tokens;
            r.finish_reason = first_end < res->n_tokens ? DLLM_FINISH_EOS : DLLM_FINISH_LENGTH;
            r.prompt_tokens = (int32_t)j->n_prompt;
            r.completion_tokens = (int32_t)first_end;
            r.cached_prompt_tokens = res->stats.cached_prompt_tokens;
            r.queue_ms = pre + res->queue_ms;
            r.first_step_ms = pre + res->first_step_ms;
            r.total_ms = pre + res->total_ms;
            r.steps = res->stats.steps;
            r.forwards = res->stats.forwards;
        }
    } else if (res->status == DLLM_E_CANCELLED && j->deadline_hit) {
        r.error = DLLM_ERRC_DEADLINE_EXCEEDED;
        r.error_message = "deadline passed while the request was queued or running; cancelled";
    } else {
        snprintf(err, sizeof err, "engine: %.400s", res->error[0] ? res->error
                                                              : dllm_status_str(res->status));
        r.error = DLLM_ERRC_INTERNAL;
        r.error_message = err;
        r.retryable = 1;
    }
    if (r.error == DLLM_ERRC_NONE) {
        dllm_metrics_request_done(w->d.metrics, r.finish_reason, DLLM_ERRC_NONE);
        dllm_metrics_add(w->d.metrics, DLLM_M_PROMPT_TOKENS, (uint64_t)r.prompt_tokens);
        dllm_metrics_add(w->d.metrics, DLLM_M_GENERATION_TOKENS, (uint64_t)r.completion_tokens);
        dllm_metrics_add(w->d.metrics, DLLM_M_STEPS, (uint64_t)r.steps);
        dllm_metrics_add(w->d.metrics, DLLM_M_FORWARDS, (uint64_t)r.forwards);
        dllm_metrics_observe(w->d.metrics, DLLM_H_E2E, r.total_ms / 1e3);
        dllm_metrics_observe(w->d.metrics, DLLM_H_QUEUE, r.queue_ms / 1e3);
        dllm_metrics_observe(w->d.metrics, DLLM_H_FIRST_STEP, r.first_step_ms / 1e3);
    } else {
        dllm_metrics_request_done(w->d.metrics, DLLM_FINISH_ERROR, r.error);
    }
    if (w->cfg->verbose)
        logf_("request %s: %s (%.1f ms)", j->req.request_id,
              r.error ? dllm_errc_name(r.error) : "ok", r.total_ms);
    /* one reply answers every absorbed redelivery too; their records are released with it */
    send_reply(w, &j->req, &r, j->key, j->key_len, j->srcs, j->n_srcs, r.error == DLLM_ERRC_NONE);
    for (size_t i = 0; i < j->n_srcs; i++) rec_unref(w, &j->srcs[i]);
    free(text);
}

static job *unlink_active(dllm_kafka_worker *w, uint64_t tag)
{
    for (job **pp = &w->active; *pp; pp = &(*pp)->next) {
        if ((*pp)->tag == tag) {
            job *j = *pp;
            *pp = j->next;
            j->next = NULL;
            return j;
        }
    }
    return NULL;
}

/* ---- backpressure ---- */

static void pause_all(dllm_kafka_worker *w, int pause)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(w->cons, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || l == NULL) return;
    if (l->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(w->cons, l);
        else
            rd_kafka_resume_partitions(w->cons, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (pause && !w->paused) dllm_metrics_add(w->d.metrics, DLLM_M_PAUSES, 1);
    w->paused = pause;
    dllm_metrics_set(w->d.metrics, DLLM_G_PAUSED, pause);
}

/* Submits from the backlog, collects results, enforces deadlines, pauses/resumes. */
static void pump(dllm_kafka_worker *w)
{
    dllm_result *res = NULL;
    dllm_sched_stats st;
    int64_t now = unix_ms();
    char err[512];

    while (w->backlog != NULL) {
        job *j = w->backlog;
        dllm_request r;
        dllm_status rc;
        orig_msg o = {j->orig, j->orig_len, j->key, j->key_len, j->srcs[0].partition,
                      j->srcs[0].offset};
        int live = 0;

        for (size_t i = 0; i < j->n_srcs && !live; i++) {
            ptrack *pt = NULL;
            live = rec_find(w, &j->srcs[i], &pt) != NULL;
        }
        if (!live) {
            /* every message of it was revoked before it started: the new owner answers */
            w->backlog = j->next;
            if (w->backlog == NULL) w->backlog_tail = NULL;
            w->n_backlog--;
            job_free(j);
            continue;
        }
        if (j->req.deadline_unix_ms > 0 && now >= j->req.deadline_unix_ms) {
            w->backlog = j->next;
            if (w->backlog == NULL) w->backlog_tail = NULL;
            w->n_backlog--;
            for (size_t i = 1; i < j->n_srcs; i++) rec_unref(w, &j->srcs[i]);
            fail_request(w, &j->req, &o, &j->srcs[0], DLLM_ERRC_DEADLINE_EXCEEDED,
                         "deadline passed while the request waited for admission");
            job_free(j);
            continue;
        }
        r.tag = j->tag;
        r.prompt = j->prompt;
        r.n_prompt = j->n_prompt;
        r.params = j->req.params;
        dllm_pc_apply(w->d.engine, w->d.directory, &j->req, j->prompt, j->n_prompt, w->d.eot_id,
                      &r.params); /* prompt slot: system prefix, pin, salt, build claim */
        rc = dllm_engine_loop_submit(w->d.loop, &r, &j->sched_id, err, sizeof err);
        if (rc == DLLM_E_BUSY) break;
        w->backlog = j->next;
        if (w->backlog == NULL) w->backlog_tail = NULL;
        w->n_backlog--;
        j->next = NULL;
        if (rc != DLLM_OK) {
            dllm_errc c = rc == DLLM_E_INVALID_ARG ? DLLM_ERRC_INVALID_ARGUMENT : DLLM_ERRC_INTERNAL;
            for (size_t i = 1; i < j->n_srcs; i++) rec_unref(w, &j->srcs[i]);
            fail_request(w, &j->req, &o, &j->srcs[0], c, err);
            job_free(j);
            continue;
        }
        j->t_submit = dllm_mono_ms();
        free(j->orig);
        j->orig = NULL;
        j->next = w->active;
        w->active = j;
    }

    while (dllm_engine_loop_poll(w->d.loop, &res)) {
        job *j = unlink_active(w, res->tag);
        if (j != NULL) {
            if (w->draining && res->status == DLLM_E_CANCELLED && !j->deadline_hit) {
                /* abandoned at the end of the drain: no reply, no offset (redelivered) */
            } else {
                finish_job(w, j, res);
            }
            job_free(j);
        }
        dllm_result_free(res);
        res = NULL;
    }

    for (job *j = w->active; j; j = j->next) {
        if (!j->deadline_hit && j->req.deadline_unix_ms > 0 && now >= j->req.deadline_unix_ms) {
            if (dllm_engine_loop_cancel(w->d.loop, j->sched_id) == DLLM_OK) j->deadline_hit = 1;
        }
    }

    dllm_engine_loop_stats(w->d.loop, &st);
    dllm_metrics_set(w->d.metrics, DLLM_G_RUNNING, (double)st.running);
    dllm_metrics_set(w->d.metrics, DLLM_G_WAITING, (double)(st.queued + w->n_backlog));
    if (!w->draining) {
        size_t waiting = st.queued + w->n_backlog;
        if (!w->paused && waiting >= (size_t)w->cfg->max_queue)
            pause_all(w, 1);
        else if (w->paused && waiting < (size_t)(w->cfg->max_queue + 1) / 2)
            pause_all(w, 0);
    }
}

/* ---- callbacks ---- */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    dllm_kafka_worker *w = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) track_add(w, parts->elems[i].partition);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (parts->cnt > 0 && (w->paused || w->draining)) rd_kafka_pause_partitions(rk, parts);
        logf_("assigned %d partition(s)%s", parts->cnt, w->paused ? " (paused)" : "");
        atomic_store(&w->joined, 1);
    } else {
        for (int i = 0; i < parts->cnt; i++) track_remove(w, parts->elems[i].partition);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        logf_("%s %d partition(s)", rd_kafka_assignment_lost(rk) ? "lost" : "revoked",
              parts->cnt);
    }
    if (e != NULL) {
        logf_("rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    dllm_metrics_set(w->d.metrics, DLLM_G_ASSIGNED, (double)w->n_parts);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    dllm_kafka_worker *w = opaque;
    (void)rk;
    dllm_metrics_kafka_stats(w->d.metrics, json, len);
    return 0; /* librdkafka frees json */
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    dllm_kafka_worker *w = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
        logf_("FATAL Kafka error: %s: %s", rd_kafka_err2name(orig), buf);
        w->fatal = 1;
        return;
    }
    logf_("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ---- setup ---- */

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errn)
{
    char es[512];
    if (rd_kafka_conf_set(c, k, v, es, sizeof es) != RD_KAFKA_CONF_OK) {
        snprintf(err, errn, "Kafka property %s=%s: %s", k, v, es);
        return -1;
    }
    return 0;
}

static int conf_user_props(const dllm_worker_config *cfg, rd_kafka_conf_t *c, char *err,
                           size_t errn)
{
    for (size_t i = 0; i < cfg->n_kafka_props; i++) {
        char k[256];
        const char *kv = cfg->kafka_props[i], *eq = strchr(kv, '=');
        if (eq == NULL || (size_t)(eq - kv) >= sizeof k) {
            snprintf(err, errn, "--kafka-prop '%s': expected KEY=VALUE", kv);
            return -1;
        }
        memcpy(k, kv, (size_t)(eq - kv));
        k[eq - kv] = '\0';
        if (conf_set(c, k, eq + 1, err, errn)) return -1;
    }
    return 0;
}

dllm_status dllm_kafka_worker_new(const dllm_kafka_deps *d, dllm_kafka_worker **out,
                                  char *err, size_t errn)
{
    dllm_status rc = DLLM_E_CONFIG;
    dllm_kafka_worker *w = calloc(1, sizeof *w);
    rd_kafka_conf_t *cc = NULL, *pc = NULL;
    const dllm_worker_config *cfg = d->cfg;
    char num[32], es[512];

    *out = NULL;
    if (w == NULL) return DLLM_E_NOMEM;
    w->d = *d;
    w->cfg = cfg;
    atomic_store(&w->heartbeat, dllm_mono_ms());

    cc = rd_kafka_conf_new();
    pc = rd_kafka_conf_new();
    snprintf(num, sizeof num, "%lld", (long long)cfg->stats_interval_ms);
    if (conf_set(cc, "bootstrap.servers", cfg->bootstrap, err, errn) ||
        conf_set(cc, "group.id", cfg->group, err, errn) ||
        conf_set(cc, "partition.assignment.strategy", "cooperative-sticky", err, errn) ||
        conf_set(cc, "enable.auto.offset.store", "false", err, errn) ||
        conf_set(cc, "enable.auto.commit", "true", err, errn) ||
        conf_set(cc, "auto.commit.interval.ms", "1000", err, errn) ||
        conf_set(cc, "auto.offset.reset", "earliest", err, errn) ||
        conf_set(cc, "queued.max.messages.kbytes", "1024", err, errn) ||
        conf_set(cc, "queued.min.messages", "1000", err, errn) ||
        conf_set(cc, "statistics.interval.ms", num, err, errn) ||
        conf_set(cc, "client.id", cfg->worker_id, err, errn) ||
        (cfg->group_instance_id &&
         conf_set(cc, "group.instance.id", cfg->group_instance_id, err, errn)) ||
        conf_set(pc, "bootstrap.servers", cfg->bootstrap, err, errn) ||
        conf_set(pc, "enable.idempotence", "true", err, errn) ||
        conf_set(pc, "linger.ms", "5", err, errn) ||
        conf_set(pc, "client.id", cfg->worker_id, err, errn) ||
        conf_user_props(cfg, cc, err, errn) || conf_user_props(cfg, pc, err, errn))
        goto out;
    rd_kafka_conf_set_opaque(cc, w);
    rd_kafka_conf_set_opaque(pc, w);
    rd_kafka_conf_set_rebalance_cb(cc, rebalance_cb);
    rd_kafka_conf_set_stats_cb(cc, stats_cb);
    rd_kafka_conf_set_error_cb(cc, error_cb);
    rd_kafka_conf_set_error_cb(pc, error_cb);
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);

    w->cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, es, sizeof es);
    if (w->cons == NULL) {
        snprintf(err, errn, "cannot create the Kafka consumer: %s", es);
        goto out;
    }
    cc = NULL; /* owned by w->cons */
    rd_kafka_poll_set_consumer(w->cons);
    w->prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, es, sizeof es);
    if (w->prod == NULL) {
        snprintf(err, errn, "cannot create the Kafka producer: %s", es);
        goto out;
    }
    pc = NULL; /* owned by w->prod */
    *out = w;
    w = NULL;
    rc = DLLM_OK;
out:
    if (cc) rd_kafka_conf_destroy(cc);
    if (pc) rd_kafka_conf_destroy(pc);
    dllm_kafka_worker_free(w);
    return rc;
}

void dllm_kafka_worker_free(dllm_kafka_worker *w)
{
    if (w == NULL) return;
    while (w->active) {
        job *j = w->active;
        w->active = j->next;
        job_free(j);
    }
    while (w->backlog) {
        job *j = w->backlog;
        w->backlog = j->next;
        job_free(j);
    }
    if (w->prod) rd_kafka_destroy(w->prod);
    if (w->cons) rd_kafka_destroy(w->cons);
    for (size_t i = 0; i < w->n_parts; i++) free(w->parts[i].v);
    free(w->parts);
    free(w);
}

int64_t dllm_kafka_worker_heartbeat_ms(dllm_kafka_worker *w)
{
    return (int64_t)atomic_load(&w->heartbeat);
}

int dllm_kafka_worker_joined(dllm_kafka_worker *w)
{
    return atomic_load(&w->joined);
}

static void poll_once(dllm_kafka_worker *w)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(w->cons, POLL_MS);
    if (m != NULL) {
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                logf_("consumer: %s", rd_kafka_message_errstr(m));
        } else {
            handle_message(w, m);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(w->prod, 0);
    pump(w);
    dllm_dedupe_tick(w->d.dedupe);
    dllm_pc_tick(w->d.loop, w->d.directory, w->d.metrics);
    atomic_store(&w->heartbeat, dllm_mono_ms());
}

dllm_status dllm_kafka_worker_run(dllm_kafka_worker *w, volatile sig_atomic_t *stop)
{
    dllm_status rc = DLLM_OK;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t e;
    int64_t drain_end;
    size_t abandoned = 0;

    rd_kafka_topic_partition_list_add(sub, w->cfg->requests_topic, RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(w->cons, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        logf_("cannot subscribe to %s: %s", w->cfg->requests_topic, rd_kafka_err2str(e));
        return DLLM_E_KAFKA;
    }
    logf_("worker %s consuming %s as group %s", w->cfg->worker_id, w->cfg->requests_topic,
          w->cfg->group);

    while (!*stop && !w->fatal && !dllm_engine_loop_fatal(w->d.loop)) poll_once(w);

    /* ---- drain ---- */
    for (job *j = w->active; j; j = j->next) abandoned++;
    logf_("draining: admission stopped, %zu running or queued request(s), %zu not started",
          abandoned, w->n_backlog);
    abandoned = 0;
    w->draining = 1;
    atomic_store(&w->joined, 0);
    pause_all(w, 1);
    while (w->backlog) { /* never started: dropped, their offsets are not stored */
        job *j = w->backlog;
        w->backlog = j->next;
        job_free(j);
    }
    w->backlog_tail = NULL;
    w->n_backlog = 0;
    drain_end = dllm_mono_ms() + w->cfg->drain_timeout_ms;
    while (w->active != NULL && dllm_mono_ms() < drain_end && !w->fatal &&
           !dllm_engine_loop_fatal(w->d.loop))
        poll_once(w);
    if (w->active != NULL) {
        int64_t end = dllm_mono_ms() + 2000;
        for (job *j = w->active; j; j = j->next) {
            dllm_engine_loop_cancel(w->d.loop, j->sched_id);
            abandoned++;
        }
        logf_("drain timeout: %zu request(s) abandoned (redelivered after restart)", abandoned);
        while (w->active != NULL && dllm_mono_ms() < end) poll_once(w);
    }
    e = rd_kafka_flush(w->prod, 10000);
    if (e) logf_("flush: %s (%d message(s) not delivered)", rd_kafka_err2str(e),
                 rd_kafka_outq_len(w->prod));
    e = rd_kafka_commit(w->cons, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) logf_("final commit: %s", rd_kafka_err2str(e));
    e = rd_kafka_consumer_close(w->cons);
    if (e) logf_("consumer close: %s", rd_kafka_err2str(e));
    if (w->fatal) rc = DLLM_E_KAFKA;
    if (dllm_engine_loop_fatal(w->d.loop)) rc = DLLM_E_DEVICE_LOST;
    logf_("stopped");
    return rc;
}
