/* http.h -- the worker's HTTP endpoints (libmicrohttpd): /healthz, /readyz, /metrics.
 *
 * /healthz  200 "ok" while the probe says the main loops are alive, else 503 + reason
 * /readyz   200 "ready" while the probe says ready (model loaded, consumer joined, Redis
 *           reachable if configured), else 503 + reason
 * /metrics  Prometheus text format 0.0.4 (metrics.h)
 *
 * DESIGN
 * ------
 * - libmicrohttpd's internal polling thread serves requests; the probe callback and the
 *   metrics renderer must therefore be thread-safe (they read atomics and take the
 *   metrics mutex).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_HTTP_H
#define DLLM_WORKER_HTTP_H

#include <stddef.h>

#include "dllm/status.h"
#include "metrics.h"

typedef struct dllm_http dllm_http;

/* Returns 1 when healthy/ready, else 0 with a reason in why. */
typedef int (*dllm_http_probe_fn)(void *ctx, int readiness, char *why, size_t whyn);

/* Listens on addr ("ADDR:PORT", IPv4 or a host name; port 0 picks a free port). */
dllm_status dllm_http_new(const char *addr, dllm_metrics *m, dllm_http_probe_fn probe,
                          void *probe_ctx, dllm_http **out, char *err, size_t errn);
void dllm_http_free(dllm_http *h); /* NULL is a no-op */

/* The port actually bound. */
int dllm_http_port(const dllm_http *h);

#endif
