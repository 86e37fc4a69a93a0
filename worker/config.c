/* config.c -- flags + DLLM_* environment -> dllm_worker_config (config.h).
 *
 * DESIGN
 * ------
 * - One table lists every option: flag name, kind and target field. The environment name
 *   is derived from the flag (--drain-timeout -> DLLM_DRAIN_TIMEOUT), so the two can never
 *   drift apart. The environment is applied first, then argv.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef enum opt_kind { OK_STR, OK_INT, OK_I64, OK_SEC_MS, OK_FLAG, OK_PROP } opt_kind;

typedef struct opt_def {
    const char *name; /* flag without -- */
    opt_kind kind;
    size_t off;       /* offsetof the field */
    int64_t lo, hi;   /* for numbers */
    const char *help;
} opt_def;

#define F(field) offsetof(dllm_worker_config, field)

static const opt_def opt_table[] = {
    {"bootstrap", OK_STR, F(bootstrap), 0, 0, "Kafka bootstrap servers HOST:PORT[,...] (required)"},
    {"group", OK_STR, F(group), 0, 0, "consumer group id (default dllm-workers)"},
    {"group-instance-id", OK_STR, F(group_instance_id), 0, 0,
     "static membership id, e.g. the pod name (default: dynamic)"},
    {"requests-topic", OK_STR, F(requests_topic), 0, 0, "requests topic (default dllm.requests)"},
    {"replies-topic", OK_STR, F(replies_topic), 0, 0,
     "reply topic when a request names none (default dllm.replies)"},
    {"dlq-topic", OK_STR, F(dlq_topic), 0, 0, "dead-letter topic (default <requests-topic>.dlq)"},
    {"redis", OK_STR, F(redis), 0, 0,
     "Redis URL for duplicate detection: redis://[:PASSWORD@]HOST:PORT[/DB] or unix:///PATH\n"
     "                            (default: in-process LRU only)"},
    {"model", OK_STR, F(model), 0, 0, "model directory (default: the shipped model)"},
    {"model-id", OK_STR, F(model_id), 0, 0,
     "model id that requests may name (default: the model directory's name)"},
    {"backend", OK_STR, F(backend), 0, 0, "cpu (default) or cuda"},
    {"threads", OK_INT, F(threads), 0, 1024, "CPU threads (default 0 = all cores)"},
    {"tp", OK_INT, F(tp), 1, 64, "tensor-parallel ranks sharing the model (default 1)"},
    {"http", OK_STR, F(http), 0, 0,
     "ADDR:PORT for /healthz /readyz /metrics (default 127.0.0.1:9090; port 0 = any; off)"},
    {"drain-timeout", OK_SEC_MS, F(drain_timeout_ms), 0, 86400,
     "seconds running requests may take to finish after SIGTERM (default 30)"},
    {"worker-id", OK_STR, F(worker_id), 0, 0, "id in replies and DLQ headers (default host-pid-rand)"},
    {"max-running", OK_INT, F(max_running), 1, 4096, "sequences per batch (default 8)"},
    {"max-queue", OK_INT, F(max_queue), 1, 100000,
     "admission queue; partitions are paused while it is full (default 16)"},
    {"dedupe-ttl", OK_I64, F(dedupe_ttl_s), 1, 365 * 86400,
     "seconds a request id is remembered as answered (default 86400)"},
    {"dedupe-size", OK_INT, F(dedupe_size), 1, 100000000, "in-process LRU entries (default 100000)"},
    {"stats-interval", OK_I64, F(stats_interval_ms), 100, 3600000,
     "librdkafka statistics interval in ms, for lag/rebalance metrics (default 5000)"},
    {"max-request-bytes", OK_I64, F(max_request_bytes), 64, 1 << 30,
     "largest accepted request (default 4194304)"},
    {"verbose", OK_FLAG, F(verbose), 0, 0, "log every request"},
    {"prompt-slots", OK_INT, F(prompt_slots), 0, 65536,
     "prompt slots for shared system prompts (default 0 = off; docs/prompt-cache.md)"},
    {"slot-tokens", OK_INT, F(slot_tokens), 1, 1 << 20, "longest cacheable prefix (default 512)"},
    {"slot-pin-percent", OK_INT, F(slot_pin_percent), 0, 100,
     "at most this percentage of slots pinned (default 25)"},
    {"slot-pin-ttl", OK_SEC_MS, F(slot_pin_ttl_ms), 1, 30 * 86400,
     "seconds a pin lasts after the slot's last use (default 1800)"},
    {"model-revision", OK_STR, F(model_revision), 0, 0,
     "weights revision, part of the prompt-slot key (default empty)"},
    {"directory-lease-ms", OK_I64, F(directory_lease_ms), 100, 3600000,
     "lease TTL of this worker's prompt-slot directory entries in Redis (default 15000)"},
    {"kafka-prop", OK_PROP, 0, 0, 0,
     "KEY=VALUE librdkafka property for consumer and producer (repeatable;\n"
     "                            DLLM_KAFKA_PROP: several separated by ';')"},
};

#undef F

void dllm_worker_config_usage(FILE *f)
{
    fprintf(f, "usage: dllm-worker --bootstrap HOST:PORT [options]\n\n"
               "Serves dllm.v1.GenerateRequest messages from Kafka (docs/worker.md). Every\n"
               "flag can also be set as DLLM_<NAME> (e.g. --drain-timeout -> "
               "DLLM_DRAIN_TIMEOUT).\n\n");
    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
        const opt_def *o = &opt_table[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->name,
                 o->kind == OK_FLAG ? "" : o->kind == OK_STR || o->kind == OK_PROP ? " V" : " N");
        fprintf(f, "  %-26s%s\n", left, o->help);
    }
    fprintf(f, "  %-26s%s\n", "-h, --help", "this help");
}

static void set_err(char *err, size_t errn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errn, fmt, ap);
    va_end(ap);
}

static int add_prop(dllm_worker_config *c, char *kv, char *err, size_t errn)
{
    char **np;
    char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv) {
        set_err(err, errn, "--kafka-prop: expected KEY=VALUE, got '%s' (e.g. "
                "security.protocol=SASL_SSL)", kv);
        return -1;
    }
    np = realloc(c->kafka_props, (c->n_kafka_props + 1) * sizeof *np);
    if (np == NULL) {
        set_err(err, errn, "out of memory");
        return -1;
    }
    c->kafka_props = np;
    c->kafka_props[c->n_kafka_props++] = kv;
    return 0;
}

/* Applies value v to option o; src names where it came from (for messages). */
static int apply(dllm_worker_config *c, const opt_def *o, char *v, const char *src, char *err,
                 size_t errn)
{
    char *base = (char *)c, *end = NULL;
    long long n;

    switch (o->kind) {
    case OK_STR:
        *(const char **)(base + o->off) = v;
        return 0;
    case OK_FLAG:
        *(int *)(base + o->off) = 1;
        return 0;
    case OK_PROP:
        return add_prop(c, v, err, errn);
    case OK_INT:
    case OK_I64:
    case OK_SEC_MS:
        errno = 0;
        n = strtoll(v, &end, 10);
        if (v[0] == '\0' || *end != '\0' || errno != 0 || n < o->lo || n > o->hi) {
            set_err(err, errn, "%s: invalid value '%s' for --%s: expected an integer in [%lld, "
                    "%lld]", src, v, o->name, (long long)o->lo, (long long)o->hi);
            return -1;
        }
        if (o->kind == OK_INT)
            *(int *)(base + o->off) = (int)n;
        else if (o->kind == OK_I64)
            *(int64_t *)(base + o->off) = n;
        else
            *(int64_t *)(base + o->off) = n * 1000;
        return 0;
    }
    return -1;
}

static void env_name(const char *flag, char *buf, size_t n)
{
    size_t j = (size_t)snprintf(buf, n, "DLLM_");
    for (size_t i = 0; flag[i] && j + 1 < n; i++)
        buf[j++] = flag[i] == '-' ? '_' : (char)toupper((unsigned char)flag[i]);
    buf[j] = '\0';
}

static int valid_topic(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 249 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

void dllm_worker_config_deinit(dllm_worker_config *c)
{
    if (c == NULL) return;
    free(c->kafka_props);
    c->kafka_props = NULL;
    c->n_kafka_props = 0;
}

static int is_dir_with_config(const char *dir)
{
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int dllm_worker_resolve_model(const char *value, char *buf, size_t n)
{
    static const char *const shipped[] = {"llada-tiny", "llada-tiny-random"};
    static const char *const roots[] = {"../../models", "../share/dllm/models"};
    char exe[4096];
    ssize_t len;

    if (value != NULL && value[0] != '\0') {
        snprintf(buf, n, "%s", value);
        return 0;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        char *slash;
        exe[len] = '\0';
        slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++)
            for (size_t m = 0; m < sizeof shipped / sizeof shipped[0]; m++) {
                if (snprintf(buf, n, "%s/%s/%s", exe, roots[r], shipped[m]) >= (int)n) continue;
                if (is_dir_with_config(buf)) return 0;
            }
    }
    return -1;
}

dllm_status dllm_worker_config_load(dllm_worker_config *c, int argc, char **argv, char *err,
                                    size_t errn)
{
    const size_t n_opts = sizeof opt_table / sizeof opt_table[0];
    char ename[96], host[64];
    unsigned rnd;
    struct timespec ts;

    memset(c, 0, sizeof *c);
    c->group = "dllm-workers";
    c->requests_topic = "dllm.requests";
    c->replies_topic = "dllm.replies";
    c->backend = "cpu";
    c->http = "127.0.0.1:9090";
    c->drain_timeout_ms = 30000;
    c->max_running = 8;
    c->max_queue = 16;
    c->dedupe_ttl_s = 86400;
    c->dedupe_size = 100000;
    c->stats_interval_ms = 5000;
    c->max_request_bytes = 4 << 20;
    c->slot_tokens = 512;
    c->slot_pin_percent = 25;
    c->slot_pin_ttl_ms = 1800 * 1000;
    c->directory_lease_ms = 15000;

    /* environment */
    for (size_t i = 0; i < n_opts; i++) {
        char *v;
        env_name(opt_table[i].name, ename, sizeof ename);
        v = getenv(ename);
        if (v == NULL || v[0] == '\0') continue;
        if (opt_table[i].kind == OK_PROP) {
            /* several props separated by ';' (the string is modified in place) */
            char *save = NULL;
            for (char *t = strtok_r(v, ";", &save); t; t = strtok_r(NULL, ";", &save))
                if (add_prop(c, t, err, errn)) goto fail;
            continue;
        }
        if (opt_table[i].kind == OK_FLAG && (strcmp(v, "0") == 0 || strcmp(v, "false") == 0))
            continue;
        if (apply(c, &opt_table[i], v, ename, err, errn)) goto fail;
    }
    /* flags: --name V, --name=V */
    for (int a = 1; a < argc; a++) {
        char *arg = argv[a], *val = NULL, *eq;
        const opt_def *o = NULL;
        size_t nl;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            dllm_worker_config_usage(stdout);
            dllm_worker_config_deinit(c);
            return DLLM_E_CANCELLED;
        }
        if (strncmp(arg, "--", 2) != 0) {
            set_err(err, errn, "unexpected argument '%s' (options start with --; see --help)", arg);
            goto fail;
        }
        arg += 2;
        eq = strchr(arg, '=');
        nl = eq ? (size_t)(eq - arg) : strlen(arg);
        for (size_t i = 0; i < n_opts; i++)
            if (strlen(opt_table[i].name) == nl && strncmp(opt_table[i].name, arg, nl) == 0)
                o = &opt_table[i];
        if (o == NULL) {
            set_err(err, errn, "unknown option '%s' (see --help)", argv[a]);
            goto fail;
        }
        if (o->kind == OK_FLAG) {
            if (eq) {
                set_err(err, errn, "--%s takes no value", o->name);
                goto fail;
            }
            val = arg;
        } else if (eq) {
            val = eq + 1;
        } else if (a + 1 < argc) {
            val = argv[++a];
        } else {
            set_err(err, errn, "--%s needs a value", o->name);
            goto fail;
        }
        if (apply(c, o, val, "flag", err, errn)) goto fail;
    }

    /* validation */
    if (c->bootstrap == NULL || c->bootstrap[0] == '\0') {
        set_err(err, errn, "--bootstrap is required (or DLLM_BOOTSTRAP); hint: for a local "
                "broker run dllm-devbroker and pass the address it prints");
        goto fail;
    }
    if (!valid_topic(c->requests_topic) || !valid_topic(c->replies_topic) ||
        (c->dlq_topic != NULL && !valid_topic(c->dlq_topic))) {
        set_err(err, errn, "--requests-topic, --replies-topic and --dlq-topic must be Kafka "
                "topic names (1-249 of [A-Za-z0-9._-])");
        goto fail;
    }
    if (c->group[0] == '\0') {
        set_err(err, errn, "--group must not be empty");
        goto fail;
    }
    if (c->redis != NULL && strncmp(c->redis, "redis://", 8) != 0 &&
        strncmp(c->redis, "unix://", 7) != 0) {
        set_err(err, errn, "--redis '%s': expected redis://HOST:PORT[/DB] or unix:///PATH",
                c->redis);
        goto fail;
    }
    if (strcmp(c->backend, "cpu") != 0 && strcmp(c->backend, "cuda") != 0) {
        set_err(err, errn, "--backend '%s': expected cpu or cuda", c->backend);
        goto fail;
    }
    if (strcmp(c->http, "off") != 0) {
        const char *colon = strrchr(c->http, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (colon == NULL || colon == c->http || end == colon + 1 || *end != '\0' || port < 0 ||
            port > 65535) {
            set_err(err, errn, "--http '%s': expected ADDRESS:PORT like 0.0.0.0:9090 (or off)",
                    c->http);
            goto fail;
        }
    }
    if (c->worker_id == NULL) {
        clock_gettime(CLOCK_REALTIME, &ts);
        rnd = (unsigned)(ts.tv_nsec ^ (long)getpid() * 2654435761u);
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "host");
        host[sizeof host - 1] = '\0';
        snprintf(c->worker_id_buf, sizeof c->worker_id_buf, "%s-%d-%04x", host, (int)getpid(),
                 rnd & 0xffff);
        c->worker_id = c->worker_id_buf;
    }
    return DLLM_OK;
fail:
    dllm_worker_config_deinit(c);
    return DLLM_E_CONFIG;
}
