/* test_worker_units.c -- the worker modules that need no broker: configuration (flags,
 * DLLM_* environment, validation messages), the duplicate memory's LRU (hits, eviction,
 * expiry, Redis URL checks) and the metrics (exposition text, librdkafka statistics).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dedupe.h"
#include "metrics.h"
#include "testutil.h"

static dllm_status load(dllm_worker_config *c, char *err, size_t n, int argc, ...)
{
    char *argv[32];
    va_list ap;
    argv[0] = "dllm-worker";
    va_start(ap, argc);
    for (int i = 1; i <= argc && i < 31; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc + 1] = NULL;
    return dllm_worker_config_load(c, argc + 1, argv, err, n);
}

START_TEST(test_config_defaults_and_flags)
{
    dllm_worker_config c;
    char err[512];

    unsetenv("DLLM_BOOTSTRAP");
    unsetenv("DLLM_DRAIN_TIMEOUT");
    unsetenv("DLLM_KAFKA_PROP");
    ck_assert_int_eq(load(&c, err, sizeof err, 2, "--bootstrap", "h:1"), DLLM_OK);
    ck_assert_str_eq(c.bootstrap, "h:1");
    ck_assert_str_eq(c.group, "dllm-workers");
    ck_assert_str_eq(c.requests_topic, "dllm.requests");
    ck_assert_int_eq(c.drain_timeout_ms, 30000);
    ck_assert_ptr_nonnull(c.worker_id);
    dllm_worker_config_deinit(&c);

    ck_assert_int_eq(load(&c, err, sizeof err, 7, "--bootstrap=h:2", "--drain-timeout", "5",
                          "--kafka-prop", "security.protocol=SASL_SSL", "--kafka-prop=a.b=c",
                          "--verbose"),
                     DLLM_OK);
    ck_assert_int_eq(c.drain_timeout_ms, 5000);
    ck_assert_uint_eq(c.n_kafka_props, 2);
    ck_assert_str_eq(c.kafka_props[1], "a.b=c");
    ck_assert_int_eq(c.verbose, 1);
    dllm_worker_config_deinit(&c);
}
END_TEST

START_TEST(test_config_env)
{
    dllm_worker_config c;
    char err[512];
    char props[] = "x.y=1;z=2";

    setenv("DLLM_BOOTSTRAP", "env:9", 1);
    setenv("DLLM_DRAIN_TIMEOUT", "7", 1);
    setenv("DLLM_KAFKA_PROP", props, 1);
    ck_assert_int_eq(load(&c, err, sizeof err, 0), DLLM_OK);
    ck_assert_str_eq(c.bootstrap, "env:9");
    ck_assert_int_eq(c.drain_timeout_ms, 7000);
    ck_assert_uint_eq(c.n_kafka_props, 2);
    dllm_worker_config_deinit(&c);
    /* the flag wins over the environment */
    ck_assert_int_eq(load(&c, err, sizeof err, 2, "--drain-timeout", "9"), DLLM_OK);
    ck_assert_int_eq(c.drain_timeout_ms, 9000);
    dllm_worker_config_deinit(&c);
    unsetenv("DLLM_BOOTSTRAP");
    unsetenv("DLLM_DRAIN_TIMEOUT");
    unsetenv("DLLM_KAFKA_PROP");
}
END_TEST

static void expect_config_error(const char *needle, int argc, char *a1, char *a2, char *a3,
                                char *a4)
{
    dllm_worker_config c;
    char err[512] = "";
    ck_assert_int_eq(load(&c, err, sizeof err, argc, a1, a2, a3, a4), DLLM_E_CONFIG);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err, needle);
}

START_TEST(test_config_errors)
{
    unsetenv("DLLM_BOOTSTRAP");
    expect_config_error("--bootstrap is required", 0, NULL, NULL, NULL, NULL);
    expect_config_error("unknown option '--bogus'", 3, "--bootstrap", "h:1", "--bogus", NULL);
    expect_config_error("--drain-timeout", 4, "--bootstrap", "h:1", "--drain-timeout", "-1");
    expect_config_error("--drain-timeout", 4, "--bootstrap", "h:1", "--drain-timeout", "5x");
    expect_config_error("--redis", 4, "--bootstrap", "h:1", "--redis", "http://x");
    expect_config_error("--http", 4, "--bootstrap", "h:1", "--http", "9090");
    expect_config_error("topic", 4, "--bootstrap", "h:1", "--requests-topic", "bad topic");
    expect_config_error("KEY=VALUE", 4, "--bootstrap", "h:1", "--kafka-prop", "novalue");
    expect_config_error("needs a value", 3, "--bootstrap", "h:1", "--group", NULL);
    expect_config_error("--backend", 4, "--bootstrap", "h:1", "--backend", "tpu");
}
END_TEST

START_TEST(test_dedupe_lru)
{
    dllm_dedupe *d = NULL;
    char err[256], key[32];

    ck_assert_int_eq(dllm_dedupe_new(NULL, 3, 3600, "w", NULL, &d, err, sizeof err), DLLM_OK);
    ck_assert(!dllm_dedupe_seen(d, "a"));
    dllm_dedupe_mark(d, "a");
    dllm_dedupe_mark(d, "b");
    dllm_dedupe_mark(d, "c");
    ck_assert(dllm_dedupe_seen(d, "a")); /* a becomes the most recent */
    dllm_dedupe_mark(d, "d");            /* evicts b, the least recent */
    ck_assert(dllm_dedupe_seen(d, "a"));
    ck_assert(!dllm_dedupe_seen(d, "b"));
    ck_assert(dllm_dedupe_seen(d, "c"));
    ck_assert(dllm_dedupe_seen(d, "d"));
    ck_assert(dllm_dedupe_redis_ok(d));
    dllm_dedupe_free(d);

    /* many keys through a small table */
    ck_assert_int_eq(dllm_dedupe_new(NULL, 100, 3600, "w", NULL, &d, err, sizeof err), DLLM_OK);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        dllm_dedupe_mark(d, key);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_int_eq(dllm_dedupe_seen(d, key), i >= 900);
    }
    dllm_dedupe_free(d);
}
END_TEST

START_TEST(test_dedupe_ttl_and_urls)
{
    dllm_dedupe *d = NULL;
    char err[256];

    ck_assert_int_eq(dllm_dedupe_new(NULL, 10, 1, "w", NULL, &d, err, sizeof err), DLLM_OK);
    dllm_dedupe_mark(d, "x");
    ck_assert(dllm_dedupe_seen(d, "x"));
    sleep(2);
    ck_assert(!dllm_dedupe_seen(d, "x"));
    dllm_dedupe_free(d);

    ck_assert_int_eq(dllm_dedupe_new("redis://", 10, 1, "w", NULL, &d, err, sizeof err),
                     DLLM_E_CONFIG);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(dllm_dedupe_new("redis://h:99999", 10, 1, "w", NULL, &d, err, sizeof err),
                     DLLM_E_CONFIG);
    /* unreachable but well-formed: not an error; serving goes on without Redis */
    ck_assert_int_eq(dllm_dedupe_new("unix:///nonexistent/redis.sock", 10, 1, "w", NULL, &d,
                                     err, sizeof err),
                     DLLM_OK);
    ck_assert(!dllm_dedupe_redis_ok(d));
    dllm_dedupe_mark(d, "y");
    ck_assert(dllm_dedupe_seen(d, "y"));
    dllm_dedupe_free(d);
}
END_TEST

START_TEST(test_metrics_render)
{
    dllm_metrics *m = NULL;
    char *txt = NULL;
    size_t len = 0;
    static const char stats[] =
        "{\"cgrp\": {\"rebalance_cnt\": 3, \"assignment_size\": 2},"
        " \"topics\": {\"dllm.requests\": {\"partitions\": {"
        "  \"0\": {\"partition\": 0, \"consumer_lag\": 7},"
        "  \"1\": {\"partition\": 1, \"consumer_lag\": -1},"
        "  \"-1\": {\"partition\": -1, \"consumer_lag\": 0}}}}}";

    ck_assert_int_eq(dllm_metrics_new("m\"x", "w1", &m), DLLM_OK);
    dllm_metrics_add(m, DLLM_M_REQUESTS_RECEIVED, 5);
    dllm_metrics_request_done(m, DLLM_FINISH_EOS, DLLM_ERRC_NONE);
    dllm_metrics_request_done(m, DLLM_FINISH_ERROR, DLLM_ERRC_MALFORMED);
    dllm_metrics_observe(m, DLLM_H_E2E, 0.3);
    dllm_metrics_kafka_stats(m, stats, sizeof stats - 1);
    dllm_metrics_kafka_stats(m, "not json", 8); /* ignored */
    ck_assert_int_eq(dllm_metrics_render(m, &txt, &len), DLLM_OK);
    ck_assert_uint_eq(strlen(txt), len);
    ck_assert_ptr_nonnull(strstr(txt, "dllm_requests_received_total{model_name=\"m\\\"x\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(txt, "finished_reason=\"eos\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(txt, "code=\"MALFORMED\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_kafka_rebalances{model_name=\"m\\\"x\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(txt, "topic=\"dllm.requests\",partition=\"0\"} 7\n"));
    ck_assert_ptr_null(strstr(txt, "partition=\"1\"}"));
    ck_assert_ptr_null(strstr(txt, "partition=\"-1\"}"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_e2e_request_latency_seconds_bucket{model_name=\"m\\\"x\","
                                      "le=\"0.25\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(txt, "le=\"0.5\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_e2e_request_latency_seconds_count{model_name=\"m\\\"x\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(txt, "# TYPE dllm_kafka_consumer_lag gauge\n"));
    ck_assert(dllm_metrics_gauge(m, DLLM_G_ASSIGNED) == 2.0);
    free(txt);
    dllm_metrics_free(m);
}
END_TEST

/* The overhead histogram's fine buckets and the cache-use counters by policy. */
START_TEST(test_metrics_overhead_and_cache)
{
    dllm_metrics *m = NULL;
    char *txt = NULL;
    size_t len = 0;
    dllm_seq_stats a, b;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.rows_q = a.rows_v = a.rows_mlp = 100; /* no reuse: 3 x 100 of 3 x 100 */
    a.rows_all = 100;
    a.flops = a.flops_none = 1e6;
    b.rows_q = 40;
    b.rows_v = 50;
    b.rows_mlp = 40; /* 130 of 3 x 100 computed: 170 reused */
    b.rows_all = 100;
    b.flops = 4e5;
    b.flops_none = 1e6;
    ck_assert_int_eq(dllm_metrics_new("m", "w1", &m), DLLM_OK);
    dllm_metrics_observe(m, DLLM_H_OVERHEAD, 40e-6);
    dllm_metrics_observe(m, DLLM_H_OVERHEAD, 1.8e-3);
    dllm_metrics_cache_use(m, DLLM_CACHE_NONE, &a);
    dllm_metrics_cache_use(m, DLLM_CACHE_DLLM, &b);
    dllm_metrics_cache_use(m, DLLM_CACHE_DLLM, &b);
    ck_assert_int_eq(dllm_metrics_render(m, &txt, &len), DLLM_OK);
    ck_assert_ptr_nonnull(strstr(txt, "dllm_worker_overhead_seconds_bucket{model_name=\"m\","
                                      "le=\"2.5e-05\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_worker_overhead_seconds_bucket{model_name=\"m\","
                                      "le=\"5e-05\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_worker_overhead_seconds_bucket{model_name=\"m\","
                                      "le=\"0.0015\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_worker_overhead_seconds_bucket{model_name=\"m\","
                                      "le=\"0.002\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_cache_requests_total{model_name=\"m\",policy=\"dllm\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_cache_rows_computed_total{model_name=\"m\",policy=\"none\"} 300\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_cache_rows_reused_total{model_name=\"m\",policy=\"none\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_cache_rows_computed_total{model_name=\"m\",policy=\"dllm\"} 260\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_cache_rows_reused_total{model_name=\"m\",policy=\"dllm\"} 340\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_cache_rows_total{model_name=\"m\",policy=\"dllm\"} 600\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_flops_saved_total{model_name=\"m\",policy=\"dllm\"} 1200000\n"));
    ck_assert_ptr_nonnull(strstr(txt, "dllm_flops_total{model_name=\"m\",policy=\"none\"} 1000000\n"));
    ck_assert_ptr_null(strstr(txt, "policy=\"prefix\"")); /* unused policies: no series */
    free(txt);
    dllm_metrics_free(m);
}
END_TEST

static Suite *units_suite(void)
{
    Suite *s = suite_create("worker_units");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_config_defaults_and_flags);
    tcase_add_test(tc, test_config_env);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("dedupe");
    tcase_add_test(tc, test_dedupe_lru);
    tcase_add_test(tc, test_dedupe_ttl_and_urls);
    suite_add_tcase(s, tc);
    tc = tcase_create("metrics");
    tcase_add_test(tc, test_metrics_render);
    tcase_add_test(tc, test_metrics_overhead_and_cache);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(units_suite)
