/* main.c -- dllm-worker: serves LLaDA generation requests from Kafka.
 *
 * Wires the modules together: configuration (config.h) -> model (dllm engine) -> engine
 * thread (engine_loop.h) -> duplicate memory (dedupe.h) -> Kafka loop (kafka.h), with
 * metrics (metrics.h) and the HTTP probes (http.h) beside them. The Kafka loop runs on
 * the main thread until SIGTERM/SIGINT, then drains (kafka.h). Exit status: 0 after a
 * clean drain, 1 on a runtime failure (fatal Kafka error, device lost: restart the pod),
 * 2 on a configuration error.
 *
 * DESIGN
 * ------
 * - The only mutable global of the worker is the shutdown flag below, written by the
 *   signal handler and read by the Kafka loop.
 * - Liveness (/healthz): the Kafka loop and the engine thread both ticked within the last
 *   30 s. Readiness (/readyz): model loaded (we are past it), consumer has an assignment
 *   (possibly empty) and is not draining, Redis answers when configured.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dedupe.h"
#include "directory.h"
#include "dllm/dllm.h"
#include "engine_loop.h"
#include "http.h"
#include "kafka.h"
#include "metrics.h"

#define LIVENESS_MS 30000

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct probe_ctx {
    dllm_kafka_worker *kw;
    dllm_engine_loop *loop;
    dllm_dedupe *dedupe;
    int redis_configured;
} probe_ctx;

static int probe(void *arg, int readiness, char *why, size_t whyn)
{
    probe_ctx *p = arg;
    int64_t now = dllm_mono_ms();
    if (now - dllm_kafka_worker_heartbeat_ms(p->kw) > LIVENESS_MS) {
        snprintf(why, whyn, "kafka loop stalled for %lld ms",
                 (long long)(now - dllm_kafka_worker_heartbeat_ms(p->kw)));
        return 0;
    }
    if (now - dllm_engine_loop_heartbeat_ms(p->loop) > LIVENESS_MS ||
        dllm_engine_loop_fatal(p->loop)) {
        snprintf(why, whyn, "engine loop stalled or failed");
        return 0;
    }
    if (!readiness) return 1;
    if (!dllm_kafka_worker_joined(p->kw)) {
        snprintf(why, whyn, "consumer not joined to the group (or draining)");
        return 0;
    }
    if (p->redis_configured && !dllm_dedupe_redis_ok(p->dedupe)) {
        snprintf(why, whyn, "redis unreachable");
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    dllm_worker_config cfg;
    char err[1024], model_dir[4096];
    const char *model_id;
    int ret = 1;
    dllm_status rc;
    dllm_engine_config ec;
    dllm_engine *engine = NULL;
    dllm_model_info mi;
    dllm_sched_config sc;
    dllm_engine_loop *loop = NULL;
    dllm_metrics *metrics = NULL;
    dllm_dedupe *dedupe = NULL;
    dllm_directory *directory = NULL;
    dllm_kafka_worker *kw = NULL;
    dllm_http *http = NULL;
    dllm_kafka_deps deps;
    dllm_tokenizer_specials sp;
    probe_ctx pctx;
    struct sigaction sa;

    rc = dllm_worker_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc == DLLM_E_CANCELLED) return 0; /* --help */
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm-worker: %s\n", err);
        return 2;
    }
    if (dllm_worker_resolve_model(cfg.model, model_dir, sizeof model_dir)) {
        fprintf(stderr, "dllm-worker: no model found; hint: pass --model DIR (a LLaDA "
                        "checkpoint directory) or set DLLM_MODEL\n");
        ret = 2;
        goto out;
    }
    model_id = cfg.model_id;
    if (model_id == NULL) {
        const char *slash = strrchr(model_dir, '/');
        model_id = slash && slash[1] ? slash + 1 : model_dir;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (dllm_metrics_new(model_id, cfg.worker_id, &metrics) != DLLM_OK) goto out;
    dllm_engine_config_init(&ec);
    ec.model_dir = model_dir;
    ec.backend = cfg.backend;
    ec.n_threads = cfg.threads;
    ec.tp = cfg.tp;
    ec.prompt_slots = (size_t)cfg.prompt_slots;
    ec.slot_tokens = cfg.slot_tokens;
    ec.slot_pin_share = cfg.slot_pin_percent / 100.0;
    ec.slot_pin_ttl_s = (double)cfg.slot_pin_ttl_ms / 1e3;
    ec.model_id = model_id;
    ec.model_revision = cfg.model_revision;
    fprintf(stderr, "dllm-worker: loading model %s (%s)\n", model_dir, cfg.backend);
    rc = dllm_engine_new(&ec, &engine, err, sizeof err);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm-worker: %s\n", err);
        goto out;
    }
    dllm_engine_model_info(engine, &mi);
    dllm_sched_config_init(&sc);
    sc.max_running = (size_t)cfg.max_running;
    sc.max_queue = (size_t)cfg.max_queue;
    rc = dllm_engine_loop_new(engine, &sc, metrics, &loop, err, sizeof err);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm-worker: %s\n", err);
        goto out;
    }
    rc = dllm_dedupe_new(cfg.redis, (size_t)cfg.dedupe_size, cfg.dedupe_ttl_s, cfg.worker_id,
                         metrics, &dedupe, err, sizeof err);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm-worker: %s\n", err);
        ret = rc == DLLM_E_CONFIG ? 2 : 1;
        goto out;
    }

    if (cfg.prompt_slots > 0) {
        dllm_directory_config dc = {cfg.redis, cfg.worker_id, NULL, cfg.directory_lease_ms, 0};
        rc = dllm_directory_new(&dc, &directory, err, sizeof err);
        if (rc != DLLM_OK) {
            fprintf(stderr, "dllm-worker: %s\n", err);
            ret = rc == DLLM_E_CONFIG ? 2 : 1;
            goto out;
        }
    }

    memset(&deps, 0, sizeof deps);
    deps.cfg = &cfg;
    deps.loop = loop;
    deps.tok = dllm_engine_tokenizer(engine);
    dllm_codec_limits_init(&deps.limits);
    deps.limits.max_request_bytes = (size_t)cfg.max_request_bytes;
    deps.limits.vocab_size = mi.vocab_size;
    deps.limits.mask_id = mi.mask_id;
    deps.limits.max_sequence_length = mi.max_sequence_length;
    deps.limits.model_id = model_id;
    dllm_tokenizer_get_specials(deps.tok, &sp);
    deps.eos_id = mi.eos_id;
    deps.eot_id = mi.eot_id >= 0 ? mi.eot_id : sp.eot;
    deps.dedupe = dedupe;
    deps.metrics = metrics;
    deps.model_id = model_id;
    deps.engine = engine;
    deps.directory = directory;
    rc = dllm_kafka_worker_new(&deps, &kw, err, sizeof err);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm-worker: %s\n", err);
        ret = rc == DLLM_E_CONFIG ? 2 : 1;
        goto out;
    }
    pctx.kw = kw;
    pctx.loop = loop;
    pctx.dedupe = dedupe;
    pctx.redis_configured = cfg.redis != NULL;
    if (strcmp(cfg.http, "off") != 0) {
        rc = dllm_http_new(cfg.http, metrics, probe, &pctx, &http, err, sizeof err);
        if (rc != DLLM_OK) {
            fprintf(stderr, "dllm-worker: %s\n", err);
            ret = 2;
            goto out;
        }
        fprintf(stderr, "dllm-worker: http listening on port %d (/healthz /readyz /metrics)\n",
                dllm_http_port(http));
    }
    fprintf(stderr, "dllm-worker: model %s loaded (%lld params, max sequence %lld)\n", model_id,
            (long long)mi.n_params, (long long)mi.max_sequence_length);

    rc = dllm_kafka_worker_run(kw, &g_stop);
    ret = rc == DLLM_OK ? 0 : 1;
out:
    dllm_http_free(http);
    dllm_kafka_worker_free(kw);
    dllm_directory_free(directory);
    dllm_dedupe_free(dedupe);
    dllm_engine_loop_free(loop);
    dllm_engine_free(engine);
    dllm_metrics_free(metrics);
    dllm_worker_config_deinit(&cfg);
    return ret;
}
