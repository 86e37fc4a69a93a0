/* redis_url.c -- parsing of redis:// and unix:// URLs (redis_url.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "redis_url.h"

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
