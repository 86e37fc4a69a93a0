/* test_scheduler.c -- continuous batching: batch invariance over a mix of shapes and
 * policies, FIFO admission under caps and a memory pool, rejection of requests that can
 * never run, backpressure, cancellation, timings.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "dllm/dllm.h"
#include "testutil.h"

static dllm_engine *open_engine(const char *ckname, size_t pool_bytes)
{
    dllm_engine_config ec;
    dllm_engine *e = NULL;
    char dir[1024], err[512];
    dllm_engine_config_init(&ec);
    ec.model_dir = tu_data_path(dir, sizeof dir, ckname);
    ec.n_threads = 0; /* OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (ops/test.sh sets 1) */
    ec.pool_bytes = pool_bytes;
    ck_assert_msg(dllm_engine_new(&ec, &e, err, sizeof err) == DLLM_OK, "%s", err);
    return e;
}

static void prompt_of(int32_t *p, size_t n, int salt)
{
    for (size_t i = 0; i < n; i++) p[i] = (int32_t)(97 + (i * 7 + (size_t)salt * 13) % 26);
}

/* Runs until every submitted request has a result; returns them indexed by tag. */
static void drain(dllm_sched *s, dllm_result **by_tag, size_t n, size_t max_running_seen_cap,
                  size_t *max_running_seen)
{
    size_t got = 0, active = 1;
    int guard = 0;
    *max_running_seen = 0;
    while (got < n) {
        ck_assert_int_eq(dllm_sched_step(s, &active), DLLM_OK);
        dllm_sched_stats st;
        dllm_sched_stats_get(s, &st);
        if (st.running > *max_running_seen) *max_running_seen = st.running;
        dllm_result *r;
        while (dllm_sched_poll(s, &r)) {
            ck_assert_uint_lt(r->tag, n);
            ck_assert_ptr_null(by_tag[r->tag]);
            by_tag[r->tag] = r;
            got++;
        }
        ck_assert_int_lt(++guard, 100000);
    }
    (void)max_running_seen_cap;
}

START_TEST(test_batch_invariance_mixed)
{
    dllm_engine *e = open_engine("tiny-llada-4l", 0);
    enum { N = 8 };
    dllm_gen_params p[N];
    int32_t prompts[N][64];
    size_t plen[N] = {12, 40, 7, 23, 31, 18, 50, 9};
    for (int i = 0; i < N; i++) {
        dllm_gen_params_init(&p[i]);
        prompt_of(prompts[i], plen[i], i);
    }
    p[0].gen_length = 16, p[0].steps = 16, p[0].block_length = 8;
    p[1].gen_length = 24, p[1].steps = 12, p[1].block_length = 8, p[1].cache = DLLM_CACHE_DLLM;
    p[1].cache_params.kp = 5, p[1].cache_params.kr = 2;
    p[2].gen_length = 8, p[2].steps = 8, p[2].block_length = 8, p[2].temperature = 0.9f;
    p[2].seed = 5;
    p[3].gen_length = 32, p[3].steps = 16, p[3].block_length = 16, p[3].cfg_scale = 1.0f;
    p[4].gen_length = 16, p[4].steps = 16, p[4].block_length = 4, p[4].cache = DLLM_CACHE_DLLM;
    p[4].cache_params.rho = 0.0;
    p[5].gen_length = 16, p[5].steps = 8, p[5].block_length = 16, p[5].cache = DLLM_CACHE_DLLM;
    p[5].cfg_scale = 0.5f, p[5].cache_params.cfg_interval = 3;
    p[6].gen_length = 12, p[6].steps = 12, p[6].block_length = 12;
    p[6].remasking = DLLM_REMASK_RANDOM, p[6].seed = 9;
    p[7].gen_length = 20, p[7].steps = 20, p[7].block_length = 4, p[7].cache = DLLM_CACHE_DLLM;
    p[7].cache_params.kp = 3, p[7].cache_params.kr = 5, p[7].cache_params.rho = 0.5;

    dllm_sched_config sc;
    dllm_sched *s = NULL;
    char err[512];
    dllm_sched_config_init(&sc);
    sc.max_running = 5; /* fewer slots than requests: sequences join as others leave */
    ck_assert_msg(dllm_sched_new(e, &sc, &s, err, sizeof err) == DLLM_OK, "%s", err);
    for (int i = 0; i < N; i++) {
        dllm_request r = {(uint64_t)i, prompts[i], plen[i], p[i]};
        uint64_t id;
        ck_assert_msg(dllm_sched_submit(s, &r, &id, err, sizeof err) == DLLM_OK, "%s", err);
        ck_assert_uint_gt(id, 0);
    }
    dllm_result *res[N] = {0};
    size_t max_run;
    drain(s, res, N, 5, &max_run);
    ck_assert_uint_le(max_run, 5);
    ck_assert_uint_ge(max_run, 2);
    for (int i = 0; i < N; i++) {
        int32_t *alone;
        size_t n;
        dllm_seq_stats st;
        ck_assert_int_eq(res[i]->status, DLLM_OK);
        ck_assert_int_eq(dllm_generate(e, prompts[i], plen[i], &p[i], &alone, &n, &st), DLLM_OK);
        ck_assert_uint_eq(res[i]->n_tokens, n);
        ck_assert_msg(memcmp(res[i]->tokens, alone, n * sizeof *alone) == 0,
                      "request %d: tokens differ between the batch and alone", i);
        ck_assert_int_eq(res[i]->stats.forwards, st.forwards);
        ck_assert(res[i]->queue_ms >= 0 && res[i]->first_step_ms <= res[i]->total_ms);
        free(alone);
        dllm_result_free(res[i]);
    }
    dllm_sched_stats sst;
    dllm_sched_stats_get(s, &sst);
    ck_assert_uint_eq(sst.finished, N);
    ck_assert_uint_eq(sst.submitted, N);
    dllm_sched_free(s);
    dllm_engine_free(e);
}
END_TEST

START_TEST(test_rejection_and_backpressure)
{
    dllm_engine *e = open_engine("tiny-llada", 1 << 19);
    dllm_sched_config sc;
    dllm_sched *s = NULL;
    char err[512];
    int32_t prompt[8];
    prompt_of(prompt, 8, 1);
    dllm_sched_config_init(&sc);
    sc.max_queue = 3;
    ck_assert_int_eq(dllm_sched_new(e, &sc, &s, err, sizeof err), DLLM_OK);

    dllm_request r = {0, prompt, 8, {0}};
    dllm_gen_params_init(&r.params);
    r.params.gen_length = 8, r.params.steps = 8, r.params.block_length = 8;

    dllm_request bad = r;
    bad.params.gen_length = 10; /* not a multiple of block_length 8 */
    ck_assert_int_eq(dllm_sched_submit(s, &bad, NULL, err, sizeof err), DLLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err, "block_length"));
    bad = r;
    bad.params.gen_length = bad.params.steps = bad.params.block_length = 512;
    ck_assert_int_eq(dllm_sched_submit(s, &bad, NULL, err, sizeof err), DLLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err, "max_sequence_length"));
    bad = r;
    bad.params.cache = DLLM_CACHE_DLLM; /* 2 layers x 4 features x 400 rows x 64 x 4 B > 512 KiB */
    bad.params.gen_length = bad.params.steps = bad.params.block_length = 392;
    ck_assert_int_eq(dllm_sched_submit(s, &bad, NULL, err, sizeof err), DLLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err, "pool"));

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(dllm_sched_submit(s, &r, NULL, err, sizeof err), DLLM_OK);
    ck_assert_int_eq(dllm_sched_submit(s, &r, NULL, err, sizeof err), DLLM_E_BUSY);
    dllm_sched_stats st;
    dllm_sched_stats_get(s, &st);
    ck_assert_uint_eq(st.rejected, 3);
    ck_assert_uint_eq(st.queued, 3);
    dllm_sched_free(s); /* queued requests dropped without leaks (ASan checks) */
    dllm_engine_free(e);
}
END_TEST

/* A pool that holds one sequence's cache at a time: the rest wait, in order. */
START_TEST(test_pool_admission_fifo)
{
    dllm_gen_params p;
    dllm_gen_params_init(&p);
    p.gen_length = 16, p.steps = 16, p.block_length = 8, p.cache = DLLM_CACHE_DLLM;
    dllm_engine *probe = open_engine("tiny-llada", 0);
    size_t one = dllm_seq_bytes(probe, 10, &p);
    dllm_engine_free(probe);

    dllm_engine *e = open_engine("tiny-llada", one + one / 2);
    dllm_sched *s = NULL;
    char err[512];
    ck_assert_int_eq(dllm_sched_new(e, NULL, &s, err, sizeof err), DLLM_OK);
    int32_t prompt[10];
    prompt_of(prompt, 10, 3);
    for (uint64_t i = 0; i < 3; i++) {
        dllm_request r = {i, prompt, 10, p};
        ck_assert_int_eq(dllm_sched_submit(s, &r, NULL, err, sizeof err), DLLM_OK);
    }
    dllm_result *res[3] = {0};
    size_t max_run;
    drain(s, res, 3, 1, &max_run);
    ck_assert_uint_eq(max_run, 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(res[i]->status, DLLM_OK);
        if (i > 0) ck_assert(res[i]->queue_ms >= res[i - 1]->queue_ms); /* FIFO */
        ck_assert_mem_eq(res[i]->tokens, res[0]->tokens, res[0]->n_tokens * sizeof(int32_t));
    }
    dllm_pool_stats ps;
    dllm_engine_pool_stats(e, &ps);
    ck_assert_uint_eq(ps.used, 0);
    ck_assert_uint_ge(ps.peak, one);
    for (int i = 0; i < 3; i++) dllm_result_free(res[i]);
    dllm_sched_free(s);
    dllm_engine_free(e);
}
END_TEST

START_TEST(test_cancel)
{
    dllm_engine *e = open_engine("tiny-llada", 0);
    dllm_sched_config sc;
    dllm_sched *s = NULL;
    char err[512];
    dllm_sched_config_init(&sc);
    sc.max_running = 1;
    ck_assert_int_eq(dllm_sched_new(e, &sc, &s, err, sizeof err), DLLM_OK);
    int32_t prompt[6];
    prompt_of(prompt, 6, 2);
    dllm_gen_params p;
    dllm_gen_params_init(&p);
    p.gen_length = 16, p.steps = 16, p.block_length = 8;
    uint64_t ids[3];
    for (uint64_t i = 0; i < 3; i++) {
        dllm_request r = {i, prompt, 6, p};
        ck_assert_int_eq(dllm_sched_submit(s, &r, &ids[i], err, sizeof err), DLLM_OK);
    }
    ck_assert_int_eq(dllm_sched_step(s, NULL), DLLM_OK); /* request 0 running, 1 and 2 queued */
    ck_assert_int_eq(dllm_sched_cancel(s, ids[0]), DLLM_OK);
    ck_assert_int_eq(dllm_sched_cancel(s, ids[2]), DLLM_OK);
    ck_assert_int_eq(dllm_sched_cancel(s, 9999), DLLM_E_INVALID_ARG);
    dllm_result *res[3] = {0};
    size_t max_run;
    drain(s, res, 3, 1, &max_run);
    ck_assert_int_eq(res[0]->status, DLLM_E_CANCELLED);
    ck_assert_int_eq(res[1]->status, DLLM_OK);
    ck_assert_int_eq(res[2]->status, DLLM_E_CANCELLED);
    ck_assert_uint_eq(res[1]->n_tokens, 16);
    ck_assert_int_lt(res[0]->stats.steps, 16);
    dllm_sched_stats st;
    dllm_sched_stats_get(s, &st);
    ck_assert_uint_eq(st.cancelled, 2);
    for (int i = 0; i < 3; i++) dllm_result_free(res[i]);
    dllm_sched_free(s);
    dllm_engine_free(e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("scheduler");
    TCase *tc = tcase_create("sched");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_batch_invariance_mixed);
    tcase_add_test(tc, test_rejection_and_backpressure);
    tcase_add_test(tc, test_pool_admission_fifo);
    tcase_add_test(tc, test_cancel);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
