/* http.c -- /healthz, /readyz and /metrics over libmicrohttpd (http.h).
 *
 * DESIGN
 * ------
 * - One access handler; GET only; every response is built from a malloc'd buffer that
 *   libmicrohttpd frees (MHD_RESPMEM_MUST_FREE).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct dllm_http {
    struct MHD_Daemon *d;
    dllm_metrics *metrics;
    dllm_http_probe_fn probe;
    void *probe_ctx;
    int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                             char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    char *b = strdup(text);
    if (b == NULL) return MHD_NO;
    return reply(c, code, "text/plain; charset=utf-8", b, strlen(b));
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    dllm_http *h = cls;
    char why[256], msg[300];
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0) {
        int ready = url[1] == 'r';
        why[0] = '\0';
        if (h->probe(h->probe_ctx, ready, why, sizeof why)) {
            return reply_text(c, MHD_HTTP_OK, ready ? "ready\n" : "ok\n");
        }
        snprintf(msg, sizeof msg, "%s\n", why[0] ? why : "not ready");
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    if (strcmp(url, "/metrics") == 0) {
        char *body = NULL;
        size_t len = 0;
        if (dllm_metrics_render(h->metrics, &body, &len) != DLLM_OK)
            return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /healthz, /readyz, /metrics\n");
}

dllm_status dllm_http_new(const char *addr, dllm_metrics *m, dllm_http_probe_fn probe,
                          void *probe_ctx, dllm_http **out, char *err, size_t errn)
{
    dllm_status rc = DLLM_E_CONFIG;
    dllm_http *h = calloc(1, sizeof *h);
    struct addrinfo hints, *ai = NULL;
    char host[256];
    const char *colon = strrchr(addr, ':');
    const union MHD_DaemonInfo *info;

    *out = NULL;
    if (h == NULL) return DLLM_E_NOMEM;
    h->metrics = m;
    h->probe = probe;
    h->probe_ctx = probe_ctx;
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
        snprintf(err, errn, "--http '%s': expected ADDRESS:PORT", addr);
        goto out;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai) != 0 || ai == NULL) {
        snprintf(err, errn, "--http '%s': cannot resolve the address (IPv4 ADDRESS:PORT)", addr);
        goto out;
    }
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            handler, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, errn, "--http '%s': cannot listen (address in use or not local?)", addr);
        goto out;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    h = NULL;
    rc = DLLM_OK;
out:
    if (ai) freeaddrinfo(ai);
    dllm_http_free(h);
    return rc;
}

void dllm_http_free(dllm_http *h)
{
    if (h == NULL) return;
    if (h->d) MHD_stop_daemon(h->d);
    free(h);
}

int dllm_http_port(const dllm_http *h)
{
    return h->port;
}
