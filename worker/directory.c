/* directory.c -- the prompt-slot directory in Redis (directory.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "directory.h"
#include "redis_url.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* refresh the lease only while it still holds our nonce */
static const char LUA_REFRESH[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/* delete a claim only if it is ours */
static const char LUA_UNCLAIM[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) else return 0 end";

typedef struct pub_entry {
    uint8_t key[DLLM_PREFIX_KEY_BYTES];
    int32_t n_tokens;
    int pinned;
} pub_entry;

struct dllm_directory {
    char worker_id[129];
    char prefix[64];
    char nonce[33];
    char owner[129 + 34]; /* "<worker_id>:<nonce>", the claim value */
    int64_t lease_ttl_ms, claim_ttl_ms;
    /* Redis */
    char *url;
    dllm_redis_url addr; /* parsed url */
    redisContext *rc;
    double next_connect_ms, backoff_ms;
    int registered;   /* our lease is set in this connection's Redis */
    int conflict;     /* another process holds our worker id's lease */
    double next_beat_ms;
    /* published entries (what Redis has from us) and the local table (what we hold) */
    pub_entry *pub;
    size_t n_pub, cap_pub;
    pub_entry *local;
    size_t n_local, cap_local;
    dllm_directory_stats st;
};

static dllm_status fail(char *err, size_t errn, dllm_status rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static dllm_status fail(char *err, size_t errn, dllm_status rc, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errn > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errn, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- connection ---- */

static void redis_down(dllm_directory *d, const char *what)
{
    if (d->rc != NULL) {
        fprintf(stderr, "dllm-worker: directory: redis %s failed: %s; serving from the local "
                "table until it is back\n", what, d->rc->errstr[0] ? d->rc->errstr : "error reply");
        redisFree(d->rc);
        d->rc = NULL;
    }
    d->st.redis_errors++;
    d->st.redis_up = 0;
    d->registered = 0;
    d->next_connect_ms = now_ms() + d->backoff_ms;
    d->backoff_ms = d->backoff_ms * 2 > 5000.0 ? 5000.0 : d->backoff_ms * 2;
}

static redisReply *cmd(dllm_directory *d, const char *what, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    if (d->rc == NULL) return NULL;
    va_start(ap, fmt);
    r = redisvCommand(d->rc, fmt, ap);
    va_end(ap);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r != NULL) {
            fprintf(stderr, "dllm-worker: directory: %s: %s\n", what, r->str);
            freeReplyObject(r);
        }
        redis_down(d, what);
        return NULL;
    }
    return r;
}

/* Reads the replies of n pipelined commands; 0 on success (replies freed), -1 on failure. */
static int drain(dllm_directory *d, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(d->rc, &r) != REDIS_OK || r == NULL ||
            ((redisReply *)r)->type == REDIS_REPLY_ERROR) {
            if (r) freeReplyObject(r);
            redis_down(d, what);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

static void connect_redis(dllm_directory *d)
{
    struct timeval tv = {0, 200000};
    char why[512], where[1100];

    if (d->url == NULL || d->rc != NULL || now_ms() < d->next_connect_ms) return;
    d->rc = dllm_redis_url_open(&d->addr, tv, why, sizeof why);
    if (d->rc == NULL) {
        fprintf(stderr, "dllm-worker: directory: redis %s; serving from the local table until "
                "it is back\n", why);
        redis_down(d, "connect");
        return;
    }
    d->backoff_ms = 100.0;
    d->st.redis_up = 1;
    d->registered = 0;
    d->n_pub = 0; /* republish everything into this connection's Redis */
    dllm_redis_url_describe(&d->addr, where, sizeof where); /* never the password */
    fprintf(stderr, "dllm-worker: directory: connected to %s\n", where);
}

/* Takes the lease: SET (a restart of this worker id takes over at once: the previous
 * incarnation's entries name another nonce and are dead), or SET NX after a loss. */
static int take_lease(dllm_directory *d, int nx)
{
    redisReply *r = cmd(d, "SET lease", nx ? "SET %slease:%s %s NX PX %lld" :
                                             "SET %slease:%s %s PX %lld",
                        d->prefix, d->worker_id, d->nonce, (long long)d->lease_ttl_ms);
    int ok;
    if (r == NULL) return -1;
    ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ok ? 0 : 1;
}

static void publish_entry(dllm_directory *d, const pub_entry *e, size_t *n_cmds)
{
    char k[2 * DLLM_PREFIX_KEY_BYTES + 1], v[64];
    hex(e->key, DLLM_PREFIX_KEY_BYTES, k);
    snprintf(v, sizeof v, "%s:%d:%d", d->nonce, (int)e->n_tokens, e->pinned ? 1 : 0);
    redisAppendCommand(d->rc, "HSET %sslot:%s %s %s", d->prefix, k, d->worker_id, v);
    redisAppendCommand(d->rc, "PEXPIRE %sslot:%s %lld", d->prefix, k, (long long)d->lease_ttl_ms);
    *n_cmds += 2;
}

static int same_entry(const pub_entry *a, const pub_entry *b)
{
    return memcmp(a->key, b->key, sizeof a->key) == 0 && a->n_tokens == b->n_tokens &&
           a->pinned == b->pinned;
}

static int find_entry(const pub_entry *arr, size_t n, const uint8_t *key)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(arr[i].key, key, DLLM_PREFIX_KEY_BYTES) == 0) return (int)i;
    return -1;
}

static int reserve(pub_entry **arr, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < n) nc *= 2;
    pub_entry *p = realloc(*arr, nc * sizeof *p);
    if (p == NULL) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* ---- lifetime ---- */


dllm_status dllm_directory_new(const dllm_directory_config *c, dllm_directory **out, char *err,
                               size_t errn)
{
    dllm_directory *d = NULL;
    uint8_t rnd[16];
    dllm_status rc = DLLM_OK;

    *out = NULL;
    if (c == NULL || c->worker_id == NULL || c->worker_id[0] == '\0' ||
        strlen(c->worker_id) >= sizeof d->worker_id)
        return fail(err, errn, DLLM_E_CONFIG,
                         "prompt-slot directory: a worker id of 1 to 128 bytes is required");
    if (c->prefix && strlen(c->prefix) >= 64)
        return fail(err, errn, DLLM_E_CONFIG,
                         "prompt-slot directory: key prefix over 63 bytes");
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return fail(err, errn, DLLM_E_INTERNAL, "getrandom failed for the lease nonce");
    d = calloc(1, sizeof *d);
    if (d == NULL) return fail(err, errn, DLLM_E_NOMEM, "out of memory");
    snprintf(d->worker_id, sizeof d->worker_id, "%s", c->worker_id);
    snprintf(d->prefix, sizeof d->prefix, "%s", c->prefix ? c->prefix : "dllm:pc:");
    hex(rnd, sizeof rnd, d->nonce);
    snprintf(d->owner, sizeof d->owner, "%s:%s", d->worker_id, d->nonce);
    d->lease_ttl_ms = c->lease_ttl_ms > 0 ? c->lease_ttl_ms : 15000;
    d->claim_ttl_ms = c->claim_ttl_ms > 0 ? c->claim_ttl_ms : 10000;
    d->backoff_ms = 100.0;
    d->st.redis_up = 1;
    if (c->redis_url != NULL) {
        if (dllm_redis_url_parse(c->redis_url, &d->addr) != 0) {
            rc = fail(err, errn, DLLM_E_CONFIG, "--redis '%s': expected "
                           "redis://[:PASSWORD@]HOST:PORT[/DB] or unix:///PATH", c->redis_url);
            goto out;
        }
        d->url = strdup(c->redis_url);
        if (d->url == NULL) {
            rc = fail(err, errn, DLLM_E_NOMEM, "out of memory");
            goto out;
        }
        d->st.redis_up = 0;
        connect_redis(d);
    }
    *out = d;
    d = NULL;
out:
    dllm_directory_free(d);
    return rc;
}

void dllm_directory_free(dllm_directory *d)
{
    if (d == NULL) return;
    if (d->rc != NULL && d->registered && !d->conflict) {
        size_t n = 0;
        char k[2 * DLLM_PREFIX_KEY_BYTES + 1];
        for (size_t i = 0; i < d->n_pub; i++) {
            hex(d->pub[i].key, DLLM_PREFIX_KEY_BYTES, k);
            redisAppendCommand(d->rc, "HDEL %sslot:%s %s", d->prefix, k, d->worker_id);
            n++;
        }
        redisAppendCommand(d->rc, "EVAL %s 1 %slease:%s %s", LUA_UNCLAIM, d->prefix,
                           d->worker_id, d->nonce);
        n++;
        drain(d, n, "cleanup");
    }
    if (d->rc) redisFree(d->rc);
    free(d->url);
    free(d->pub);
    free(d->local);
    free(d);
}

/* ---- tick: lease, heartbeat, reconciliation ---- */

static void heartbeat(dllm_directory *d)
{
    redisReply *r = cmd(d, "lease refresh", "EVAL %s 1 %slease:%s %s %lld", LUA_REFRESH,
                        d->prefix, d->worker_id, d->nonce, (long long)d->lease_ttl_ms);
    if (r == NULL) return;
    int ok = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    d->st.heartbeats++;
    if (!ok) { /* expired while we stalled, or taken by a process with our worker id */
        d->st.lease_lost++;
        int t = take_lease(d, 1);
        if (t < 0) return;
        if (t > 0) {
            if (!d->conflict)
                fprintf(stderr, "dllm-worker: directory: another process holds the lease of "
                        "worker id '%s'; not publishing (give every worker its own id)\n",
                        d->worker_id);
            d->conflict = 1;
            d->st.lease_conflicts++;
            return;
        }
        d->conflict = 0;
        d->n_pub = 0; /* entries may have expired with the lease: republish */
    }
    /* refresh every published entry (and its hash's TTL) */
    size_t n = 0;
    for (size_t i = 0; i < d->n_pub; i++) publish_entry(d, &d->pub[i], &n);
    drain(d, n, "entry refresh");
}

void dllm_directory_tick(dllm_directory *d, const dllm_slot_info *held, size_t n_held)
{
    double t = now_ms();

    /* the local table first: it answers lookups whatever Redis does */
    if (reserve(&d->local, &d->cap_local, n_held) != 0) return;
    for (size_t i = 0; i < n_held; i++) {
        memcpy(d->local[i].key, held[i].key, DLLM_PREFIX_KEY_BYTES);
        d->local[i].n_tokens = held[i].n_tokens;
        d->local[i].pinned = held[i].pinned != 0;
    }
    d->n_local = n_held;

    connect_redis(d);
    if (d->rc == NULL) return;
    if (!d->registered) {
        int r = take_lease(d, 0);
        if (r != 0) return;
        d->registered = 1;
        d->conflict = 0;
        d->next_beat_ms = t + (double)d->lease_ttl_ms / 3.0;
    }
    if (t >= d->next_beat_ms) {
        heartbeat(d);
        d->next_beat_ms = t + (double)d->lease_ttl_ms / 3.0;
        if (d->rc == NULL) return;
    }
    if (d->conflict) return;

    /* reconcile: delete what we no longer hold, write what is new or changed */
    size_t n_cmds = 0;
    char k[2 * DLLM_PREFIX_KEY_BYTES + 1];
    for (size_t i = 0; i < d->n_pub;) {
        int j = find_entry(d->local, d->n_local, d->pub[i].key);
        if (j >= 0) {
            i++;
            continue;
        }
        hex(d->pub[i].key, DLLM_PREFIX_KEY_BYTES, k);
        redisAppendCommand(d->rc, "HDEL %sslot:%s %s", d->prefix, k, d->worker_id);
        n_cmds++;
        d->st.removed++;
        d->pub[i] = d->pub[--d->n_pub];
    }
    if (reserve(&d->pub, &d->cap_pub, d->n_local) != 0) {
        drain(d, n_cmds, "reconcile");
        return;
    }
    for (size_t i = 0; i < d->n_local; i++) {
        int j = find_entry(d->pub, d->n_pub, d->local[i].key);
        if (j >= 0 && same_entry(&d->pub[j], &d->local[i])) continue;
        publish_entry(d, &d->local[i], &n_cmds);
        /* a published prefix is built: give its claim back */
        hex(d->local[i].key, DLLM_PREFIX_KEY_BYTES, k);
        redisAppendCommand(d->rc, "EVAL %s 1 %sclaim:%s %s", LUA_UNCLAIM, d->prefix, k,
                           d->owner);
        n_cmds++;
        d->st.published++;
        if (j >= 0)
            d->pub[j] = d->local[i];
        else
            d->pub[d->n_pub++] = d->local[i];
    }
    drain(d, n_cmds, "reconcile");
}

/* ---- claims and lookups ---- */

int dllm_directory_claim(dllm_directory *d, const uint8_t key[DLLM_PREFIX_KEY_BYTES])
{
    char k[2 * DLLM_PREFIX_KEY_BYTES + 1];
    redisReply *r;
    int won;

    connect_redis(d);
    if (d->rc == NULL) {
        d->st.claims_won++;
        return 1;
    }
    hex(key, DLLM_PREFIX_KEY_BYTES, k);
    r = cmd(d, "SET claim", "SET %sclaim:%s %s NX PX %lld", d->prefix, k, d->owner,
            (long long)d->claim_ttl_ms);
    if (r == NULL) {
        d->st.claims_won++;
        return 1;
    }
    won = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!won) { /* ours from an earlier call? */
        r = cmd(d, "GET claim", "GET %sclaim:%s", d->prefix, k);
        if (r == NULL) {
            d->st.claims_won++;
            return 1;
        }
        won = r->type == REDIS_REPLY_STRING && strcmp(r->str, d->owner) == 0;
        freeReplyObject(r);
    }
    if (won)
        d->st.claims_won++;
    else
        d->st.claims_lost++;
    return won;
}

static size_t lookup_local(dllm_directory *d, const uint8_t *key, dllm_directory_holder *out,
                           size_t cap)
{
    int j = find_entry(d->local, d->n_local, key);
    if (j < 0) return 0;
    if (cap > 0) {
        snprintf(out[0].worker_id, sizeof out[0].worker_id, "%s", d->worker_id);
        out[0].n_tokens = d->local[j].n_tokens;
        out[0].pinned = d->local[j].pinned;
    }
    return 1;
}

size_t dllm_directory_lookup(dllm_directory *d, const uint8_t key[DLLM_PREFIX_KEY_BYTES],
                             dllm_directory_holder *out, size_t cap)
{
    char k[2 * DLLM_PREFIX_KEY_BYTES + 1];
    redisReply *h;
    size_t n = 0;

    d->st.lookups++;
    connect_redis(d);
    if (d->rc == NULL) return lookup_local(d, key, out, cap);
    hex(key, DLLM_PREFIX_KEY_BYTES, k);
    h = cmd(d, "HGETALL", "HGETALL %sslot:%s", d->prefix, k);
    if (h == NULL) return lookup_local(d, key, out, cap);
    if (h->type != REDIS_REPLY_ARRAY || h->elements % 2 != 0) {
        freeReplyObject(h);
        return 0;
    }
    /* validate every holder against its live lease (pipelined GETs) */
    size_t m = h->elements / 2, n_stale = 0;
    int *stale = calloc(m ? m : 1, sizeof *stale);
    if (stale == NULL) {
        freeReplyObject(h);
        return lookup_local(d, key, out, cap);
    }
    for (size_t i = 0; i < m; i++)
        redisAppendCommand(d->rc, "GET %slease:%s", d->prefix, h->element[2 * i]->str);
    for (size_t i = 0; i < m; i++) {
        void *rv = NULL;
        if (redisGetReply(d->rc, &rv) != REDIS_OK || rv == NULL) {
            if (rv) freeReplyObject(rv);
            redis_down(d, "lease GET");
            freeReplyObject(h);
            free(stale);
            return lookup_local(d, key, out, cap);
        }
        redisReply *lease = rv;
        const char *field = h->element[2 * i]->str, *val = h->element[2 * i + 1]->str;
        char nonce[33] = "";
        int ntok = 0, pinned = 0;
        int parsed = val && sscanf(val, "%32[0-9a-f]:%d:%d", nonce, &ntok, &pinned) == 3;
        int live = parsed && lease->type == REDIS_REPLY_STRING && strcmp(lease->str, nonce) == 0;
        freeReplyObject(lease);
        if (live) {
            if (n < cap) {
                snprintf(out[n].worker_id, sizeof out[n].worker_id, "%s", field);
                out[n].n_tokens = ntok;
                out[n].pinned = pinned;
            }
            n++;
        } else {
            stale[n_stale++] = (int)i;
        }
    }
    /* dead incarnations' entries: clean them up (after the pipelined replies) */
    for (size_t i = 0; i < n_stale && d->rc != NULL; i++) {
        redisReply *r = cmd(d, "HDEL stale", "HDEL %sslot:%s %s", d->prefix, k,
                            h->element[2 * stale[i]]->str);
        if (r) freeReplyObject(r);
        d->st.stale_removed++;
    }
    free(stale);
    freeReplyObject(h);
    return n;
}

int dllm_directory_is_local(const dllm_directory *d, const uint8_t key[DLLM_PREFIX_KEY_BYTES])
{
    return find_entry(d->local, d->n_local, key) >= 0;
}

void dllm_directory_stats_get(const dllm_directory *d, dllm_directory_stats *out)
{
    *out = d->st;
}

const char *dllm_directory_nonce(const dllm_directory *d)
{
    return d->nonce;
}
