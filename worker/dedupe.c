/* dedupe.c -- answered-request memory: in-process LRU + optional Redis (dedupe.h).
 *
 * DESIGN
 * ------
 * - LRU: a chained hash table (FNV-1a, power-of-two buckets, 2x the capacity) over nodes
 *   that also form a doubly linked recency list; the least recent node is recycled when
 *   the table is full. Entries also expire after ttl_s.
 * - Redis: one synchronous connection. Any error frees it; dllm_dedupe_tick() reconnects
 *   when the backoff has elapsed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "dedupe.h"
#include "redis_url.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_PREFIX "dllm:answered:"

typedef struct lru_node {
    char *key;
    uint64_t hash;
    double expires; /* monotonic seconds */
    struct lru_node *hnext;            /* hash chain */
    struct lru_node *prev, *next;      /* recency list, head = most recent */
} lru_node;

struct dllm_dedupe {
    /* LRU */
    lru_node **buckets;
    size_t n_buckets, n, cap;
    lru_node *head, *tail;
    double ttl;
    /* Redis */
    char *url;
    dllm_redis_url addr; /* parsed url */
    redisContext *rc;
    double next_connect, backoff;
    int down_logged; /* one message per outage */
    atomic_int redis_ok;
    const char *worker_id;
    dllm_metrics *metrics;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- LRU ---- */

static void list_unlink(dllm_dedupe *d, lru_node *x)
{
    if (x->prev) x->prev->next = x->next; else d->head = x->next;
    if (x->next) x->next->prev = x->prev; else d->tail = x->prev;
    x->prev = x->next = NULL;
}

static void list_push_front(dllm_dedupe *d, lru_node *x)
{
    x->prev = NULL;
    x->next = d->head;
    if (d->head) d->head->prev = x;
    d->head = x;
    if (d->tail == NULL) d->tail = x;
}

static void hash_remove(dllm_dedupe *d, lru_node *x)
{
    lru_node **pp = &d->buckets[x->hash & (d->n_buckets - 1)];
    while (*pp && *pp != x) pp = &(*pp)->hnext;
    if (*pp) *pp = x->hnext;
}

static lru_node *lru_find(dllm_dedupe *d, const char *key, uint64_t h)
{
    for (lru_node *x = d->buckets[h & (d->n_buckets - 1)]; x; x = x->hnext)
        if (x->hash == h && strcmp(x->key, key) == 0) return x;
    return NULL;
}

static void lru_drop(dllm_dedupe *d, lru_node *x)
{
    hash_remove(d, x);
    list_unlink(d, x);
    free(x->key);
    free(x);
    d->n--;
}

static int lru_seen(dllm_dedupe *d, const char *key)
{
    uint64_t h = fnv1a(key);
    lru_node *x = lru_find(d, key, h);
    if (x == NULL) return 0;
    if (x->expires < now_s()) {
        lru_drop(d, x);
        return 0;
    }
    list_unlink(d, x);
    list_push_front(d, x);
    return 1;
}

static void lru_insert(dllm_dedupe *d, const char *key)
{
    uint64_t h = fnv1a(key);
    lru_node *x = lru_find(d, key, h);
    size_t b;
    if (x != NULL) {
        x->expires = now_s() + d->ttl;
        list_unlink(d, x);
        list_push_front(d, x);
        return;
    }
    if (d->n >= d->cap && d->tail != NULL) lru_drop(d, d->tail);
    x = calloc(1, sizeof *x);
    if (x == NULL) return;
    x->key = strdup(key);
    if (x->key == NULL) {
        free(x);
        return;
    }
    x->hash = h;
    x->expires = now_s() + d->ttl;
    b = h & (d->n_buckets - 1);
    x->hnext = d->buckets[b];
    d->buckets[b] = x;
    list_push_front(d, x);
    d->n++;
}

/* ---- Redis ---- */

static void redis_down(dllm_dedupe *d, const char *what)
{
    if (d->rc != NULL) {
        if (!d->down_logged)
            fprintf(stderr, "dllm-worker: redis: %s: %s; using the in-process LRU until it "
                    "is back\n", what, d->rc->errstr[0] ? d->rc->errstr : "error reply");
        d->down_logged = 1;
        redisFree(d->rc);
        d->rc = NULL;
    }
    dllm_metrics_add(d->metrics, DLLM_M_REDIS_ERRORS, 1);
    dllm_metrics_set(d->metrics, DLLM_G_REDIS_UP, 0);
    atomic_store(&d->redis_ok, 0);
    d->next_connect = now_s() + d->backoff;
    d->backoff = d->backoff * 2 > 5.0 ? 5.0 : d->backoff * 2;
}

/* Runs a command that must not fail; returns the reply (caller frees) or NULL. */
static redisReply *redis_cmd(dllm_dedupe *d, const char *what, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    if (d->rc == NULL) return NULL;
    va_start(ap, fmt);
    r = redisvCommand(d->rc, fmt, ap);
    va_end(ap);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r != NULL) {
            fprintf(stderr, "dllm-worker: redis: %s: %s\n", what, r->str);
            freeReplyObject(r);
        }
        redis_down(d, what);
        return NULL;
    }
    return r;
}

static void redis_connect(dllm_dedupe *d)
{
    struct timeval tv = {0, 200000};
    char why[512], where[1100];

    if (d->url == NULL || d->rc != NULL || now_s() < d->next_connect) return;
    d->rc = dllm_redis_url_open(&d->addr, tv, why, sizeof why);
    if (d->rc == NULL) {
        if (!d->down_logged)
            fprintf(stderr, "dllm-worker: redis: %s; using the in-process LRU until it is "
                    "back\n", why);
        d->down_logged = 1;
        redis_down(d, "connect");
        return;
    }
    d->backoff = 0.1;
    d->down_logged = 0;
    atomic_store(&d->redis_ok, 1);
    dllm_metrics_set(d->metrics, DLLM_G_REDIS_UP, 1);
    dllm_redis_url_describe(&d->addr, where, sizeof where); /* never the password */
    fprintf(stderr, "dllm-worker: redis: connected to %s\n", where);
}

dllm_status dllm_dedupe_new(const char *redis_url, size_t lru_capacity, int64_t ttl_s,
                            const char *worker_id, dllm_metrics *metrics, dllm_dedupe **out,
                            char *err, size_t errn)
{
    dllm_status rc = DLLM_E_NOMEM;
    dllm_dedupe *d = calloc(1, sizeof *d);
    size_t nb = 16;

    *out = NULL;
    if (d == NULL) goto out;
    if (lru_capacity < 1) lru_capacity = 1;
    while (nb < lru_capacity * 2) nb *= 2;
    d->buckets = calloc(nb, sizeof *d->buckets);
    if (d->buckets == NULL) goto out;
    d->n_buckets = nb;
    d->cap = lru_capacity;
    d->ttl = (double)ttl_s;
    d->worker_id = worker_id;
    d->metrics = metrics;
    d->backoff = 0.1;
    atomic_store(&d->redis_ok, 1);
    if (redis_url != NULL) {
        if (dllm_redis_url_parse(redis_url, &d->addr)) {
            snprintf(err, errn, "--redis '%s': expected redis://[:PASSWORD@]HOST:PORT[/DB] or "
                     "unix:///PATH", redis_url);
            rc = DLLM_E_CONFIG;
            goto out;
        }
        d->url = strdup(redis_url);
        if (d->url == NULL) goto out;
        atomic_store(&d->redis_ok, 0);
        redis_connect(d);
    }
    *out = d;
    d = NULL;
    rc = DLLM_OK;
out:
    dllm_dedupe_free(d);
    return rc;
}

void dllm_dedupe_free(dllm_dedupe *d)
{
    if (d == NULL) return;
    while (d->head) lru_drop(d, d->head);
    free(d->buckets);
    if (d->rc) redisFree(d->rc);
    free(d->url);
    free(d);
}

int dllm_dedupe_seen(dllm_dedupe *d, const char *request_id)
{
    redisReply *r;
    int seen;
    if (lru_seen(d, request_id)) return 1;
    redis_connect(d);
    r = redis_cmd(d, "EXISTS", "EXISTS " KEY_PREFIX "%s", request_id);
    if (r == NULL) return 0;
    seen = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    if (seen) lru_insert(d, request_id);
    return seen;
}

void dllm_dedupe_mark(dllm_dedupe *d, const char *request_id)
{
    redisReply *r;
    lru_insert(d, request_id);
    redis_connect(d);
    r = redis_cmd(d, "SET", "SET " KEY_PREFIX "%s %s NX EX %lld", request_id, d->worker_id,
                  (long long)d->ttl);
    if (r) freeReplyObject(r);
}

void dllm_dedupe_tick(dllm_dedupe *d)
{
    redis_connect(d);
}

int dllm_dedupe_redis_ok(const dllm_dedupe *d)
{
    return atomic_load(&((dllm_dedupe *)d)->redis_ok);
}
