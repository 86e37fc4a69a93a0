/* redis_url.c -- parsing of redis:// and unix:// URLs (redis_url.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "redis_url.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dllm_redis_url_parse(const char *url, dllm_redis_url *u)
{
    const char *p, *at, *colon, *slash;
    char *end = NULL;
    long v;
    size_t hl;

    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (url == NULL) return -1;
    if (strncmp(url, "unix://", 7) == 0) {
        if (strlen(url + 7) == 0 || strlen(url + 7) >= sizeof u->path) return -1;
        u->is_unix = 1;
        snprintf(u->path, sizeof u->path, "%s", url + 7);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) return -1;
    p = url + 8;
    at = strchr(p, '@');
    if (at != NULL) { /* [USER]:PASSWORD@ or PASSWORD@ */
        const char *pw = memchr(p, ':', (size_t)(at - p));
        pw = pw ? pw + 1 : p;
        if ((size_t)(at - pw) >= sizeof u->password) return -1;
        memcpy(u->password, pw, (size_t)(at - pw));
        u->password[at - pw] = '\0';
        p = at + 1;
    }
    slash = strchr(p, '/');
    colon = strchr(p, ':');
    if (colon != NULL && slash != NULL && colon > slash) colon = NULL;
    hl = colon ? (size_t)(colon - p) : slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof u->host) return -1;
    memcpy(u->host, p, hl);
    u->host[hl] = '\0';
    if (colon != NULL) {
        v = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || v < 1 || v > 65535 || (*end != '\0' && *end != '/')) return -1;
        u->port = (int)v;
    }
    if (slash != NULL && slash[1] != '\0') {
        v = strtol(slash + 1, &end, 10);
        if (*end != '\0' || v < 0 || v > 1000) return -1;
        u->db = (int)v;
    }
    return 0;
}

void dllm_redis_url_describe(const dllm_redis_url *u, char *buf, size_t n)
{
    if (u->is_unix)
        snprintf(buf, n, "unix://%s", u->path);
    else
        snprintf(buf, n, "redis://%s:%d/%d", u->host, u->port, u->db);
}

/* Runs one handshake command; 0 when Redis answered without an error. */
static int handshake(redisContext *c, const char *what, char *err, size_t errn, const char *fmt,
                     ...)
{
    va_list ap;
    redisReply *r;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errn, "%s: %s", what, r ? r->str : (c->errstr[0] ? c->errstr : "no reply"));
        if (r) freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

redisContext *dllm_redis_url_open(const dllm_redis_url *u, struct timeval tv, char *err,
                                  size_t errn)
{
    redisContext *c = u->is_unix ? redisConnectUnixWithTimeout(u->path, tv)
                                 : redisConnectWithTimeout(u->host, u->port, tv);
    if (c == NULL) {
        snprintf(err, errn, "connect: out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(err, errn, "connect: %s", c->errstr);
        goto fail;
    }
    redisSetTimeout(c, tv);
    if (!u->is_unix) redisEnableKeepAlive(c); /* fails (and poisons c) on unix sockets */
    if (u->password[0] && handshake(c, "AUTH", err, errn, "AUTH %s", u->password)) goto fail;
    if (u->db != 0 && handshake(c, "SELECT", err, errn, "SELECT %d", u->db)) goto fail;
    if (handshake(c, "PING", err, errn, "PING")) goto fail;
    return c;
fail:
    redisFree(c);
    return NULL;
}
