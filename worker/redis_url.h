/* redis_url.h -- the Redis address of a worker URL, shared by the duplicate filter
 * (dedupe.c) and the prompt-slot directory (directory.c).
 *
 * Accepted forms: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (port 6379 and db 0 by
 * default; the user part is ignored: Redis 6 ACL users are not supported by hiredis 0.14's
 * AUTH) and unix:///PATH. dllm_redis_url_open() does the whole handshake (connect, AUTH,
 * SELECT, PING); each user keeps its own backoff and error accounting around it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_REDIS_URL_H
#define DLLM_WORKER_REDIS_URL_H

#include <stddef.h>
#include <sys/time.h>

struct redisContext;

typedef struct dllm_redis_url {
    char host[256];
    char path[1024];     /* unix socket path when is_unix */
    char password[256];  /* "" when none */
    int port, db, is_unix;
} dllm_redis_url;

/* Parses url into out; 0, or -1 when it is malformed or a part does not fit. */
int dllm_redis_url_parse(const char *url, dllm_redis_url *out);

/* A ready connection to u: connect within tv, keep-alive on TCP, the same tv as the
 * command timeout, AUTH and SELECT when u names them, then PING. NULL on any failure, with
 * the reason in err (never the password). */
struct redisContext *dllm_redis_url_open(const dllm_redis_url *u, struct timeval tv, char *err,
                                         size_t errn);

/* The address for logs, never the password: "redis://HOST:PORT/DB" or "unix://PATH". */
void dllm_redis_url_describe(const dllm_redis_url *u, char *buf, size_t n);

#endif
