/* test_tp.c -- tensor parallelism on the CPU (design.md 4.6, docs/tensor-parallel.md).
 *
 * - the in-process communicator: rank-order (timing-independent) sums, all-gather,
 *   broadcast, abort and timeout instead of hangs, reuse after a failure;
 * - the group: a failing rank fails the run on every rank with its own status;
 * - the shard arithmetic and the divisibility errors;
 * - the distributed sampler against the backend's single-rank reduction (tokens exact);
 * - the sharded forward's logits against TP = 1 (relative error);
 * - whole generations: TP = 2 and TP = 4 give exactly the TP = 1 tokens for every cache
 *   policy (with CFG, CFG reuse, Gumbel sampling and random remasking among the cases)
 *   on the shipped model models/llada-tiny (4 heads, F = 384, V = 811: an uneven
 *   vocabulary split) and on tests/data/tiny-llada-4l (V = 275).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _DEFAULT_SOURCE /* usleep, rand_r */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cache/feature_store.h"
#include "checkpoint.h"
#include "comm.h"
#include "dllm/dllm.h"
#include "forward.h"
#include "model.h"
#include "shard.h"
#include "testutil.h"
#include "tp.h"
#include "util.h"

/* ---- communicator ---- */

typedef struct comm_job {
    dllm_comm *c;
    int iters;
    dllm_status rc;
    float out[4];
    double outd[2];
    int32_t gathered[8];
    int32_t bc[3];
} comm_job;

static void *comm_worker(void *p)
{
    comm_job *j = p;
    int r = j->c->rank;
    unsigned seed = (unsigned)(r * 7919 + 1);
    j->rc = DLLM_OK;
    for (int it = 0; it < j->iters && j->rc == DLLM_OK; it++) {
        /* values whose fp32 sum depends on the order: rank order gives exactly 1 */
        static const float vals[4] = {1e8f, 1.0f, -1e8f, 1.0f};
        float buf[4];
        for (int i = 0; i < 4; i++) buf[i] = vals[(r + 0) % 4] * (float)(i + 1);
        usleep((useconds_t)(rand_r(&seed) % 300)); /* shuffle the arrival order */
        j->rc = dllm_comm_allreduce_f32(j->c, buf, 4);
        if (it == 0) memcpy(j->out, buf, sizeof buf);
        else if (memcmp(j->out, buf, sizeof buf) != 0) j->rc = DLLM_E_INTERNAL;
    }
    if (j->rc == DLLM_OK) {
        double d[2] = {0.1 * (r + 1), 1e16 * (r == 0 ? 1 : r == 2 ? -1 : 0)};
        j->rc = dllm_comm_allreduce_f64(j->c, d, 2);
        memcpy(j->outd, d, sizeof d);
    }
    if (j->rc == DLLM_OK) {
        int32_t mine[2] = {r, 10 * r};
        j->rc = dllm_comm_allgather(j->c, mine, j->gathered, sizeof mine);
    }
    if (j->rc == DLLM_OK) {
        int32_t b[3] = {r, r, r};
        j->rc = dllm_comm_broadcast(j->c, b, sizeof b, 2);
        memcpy(j->bc, b, sizeof b);
    }
    if (j->rc == DLLM_OK) j->rc = dllm_comm_barrier(j->c);
    return NULL;
}

START_TEST(test_comm_threads)
{
    dllm_comm *c[4];
    pthread_t th[4];
    comm_job jobs[4];
    ck_assert_int_eq(dllm_comm_threads_new(4, 10000, c), DLLM_OK);
    for (int r = 0; r < 4; r++) {
        jobs[r] = (comm_job){.c = c[r], .iters = 200};
        ck_assert_int_eq(pthread_create(&th[r], NULL, comm_worker, &jobs[r]), 0);
    }
    for (int r = 0; r < 4; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 4; r++) {
        ck_assert_int_eq(jobs[r].rc, DLLM_OK);
        /* ((1e8 + 1) - 1e8) + 1 in fp32 = 1 (any other order gives 0 or 2) */
        for (int i = 0; i < 4; i++) ck_assert_float_eq(jobs[r].out[i], (float)(i + 1));
        ck_assert(jobs[r].outd[0] == ((0.1 + 0.2) + 0.30000000000000004) + 0.4);
        ck_assert(jobs[r].outd[1] == 0.0);
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(jobs[r].gathered[2 * k], k);
            ck_assert_int_eq(jobs[r].gathered[2 * k + 1], 10 * k);
        }
        for (int i = 0; i < 3; i++) ck_assert_int_eq(jobs[r].bc[i], 2);
    }
    for (int r = 0; r < 4; r++) dllm_comm_free(c[r]);
}
END_TEST

typedef struct wait_job {
    dllm_comm *c;
    dllm_status rc;
    double ms;
} wait_job;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *wait_worker(void *p)
{
    wait_job *j = p;
    float x[2] = {1, 2};
    double t0 = now_ms();
    j->rc = dllm_comm_allreduce_f32(j->c, x, 2);
    j->ms = now_ms() - t0;
    return NULL;
}

/* A rank that never arrives: the others time out (no hang); an abort releases waiters at
 * once with DLLM_E_COMM; reset makes the group usable again. */
START_TEST(test_comm_abort_timeout)
{
    dllm_comm *c[3];
    pthread_t th[2];
    wait_job j[2];
    ck_assert_int_eq(dllm_comm_threads_new(3, 300, c), DLLM_OK);
    for (int r = 0; r < 2; r++) {
        j[r] = (wait_job){c[r], DLLM_OK, 0};
        pthread_create(&th[r], NULL, wait_worker, &j[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(j[r].rc, DLLM_E_TIMEOUT);
        ck_assert(j[r].ms < 5000);
    }
    /* broken until reset */
    float y[1] = {1};
    ck_assert_int_eq(dllm_comm_allreduce_f32(c[2], y, 1), DLLM_E_TIMEOUT);
    ck_assert_int_eq(dllm_comm_reset(c[0]), DLLM_OK);
    /* abort: two ranks wait, the third aborts instead of arriving */
    for (int r = 0; r < 2; r++) {
        j[r] = (wait_job){c[r], DLLM_OK, 0};
        pthread_create(&th[r], NULL, wait_worker, &j[r]);
    }
    usleep(50000);
    dllm_comm_abort(c[2]);
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) ck_assert_int_eq(j[r].rc, DLLM_E_COMM);
    ck_assert_int_eq(dllm_comm_reset(c[0]), DLLM_OK);
    for (int r = 0; r < 3; r++) dllm_comm_free(c[r]);
}
END_TEST

/* ---- group ---- */

typedef struct fail_arg {
    dllm_tp_group *g;
    int fail_rank;
    float sum[4]; /* (rank) results */
} fail_arg;

static dllm_status fail_fn(int r, void *p)
{
    fail_arg *a = p;
    float x = (float)(r + 1);
    if (r == a->fail_rank) {
        usleep(20000); /* the others are already waiting in the all-reduce */
        return DLLM_E_DEVICE;
    }
    DLLM_TRY(dllm_comm_allreduce_f32(dllm_tp_group_comm(a->g, r), &x, 1));
    a->sum[r] = x;
    return DLLM_OK;
}

START_TEST(test_group_failure)
{
    dllm_tp_group *g = NULL;
    fail_arg a = {0};
    ck_assert_int_eq(dllm_tp_group_new(4, 60000, &g), DLLM_OK);
    a.g = g;
    for (int fr = 0; fr < 4; fr++) { /* the failure of any rank, rank 0 included */
        a.fail_rank = fr;
        double t0 = now_ms();
        ck_assert_int_eq(dllm_tp_group_run(g, fail_fn, &a), DLLM_E_DEVICE);
        ck_assert(now_ms() - t0 < 5000); /* released by the abort, not the timeout */
        /* the group works again after the failed run */
        a.fail_rank = -1;
        memset(a.sum, 0, sizeof a.sum);
        ck_assert_int_eq(dllm_tp_group_run(g, fail_fn, &a), DLLM_OK);
        for (int r = 0; r < 4; r++) ck_assert_float_eq(a.sum[r], 10.0f);
    }
    dllm_tp_group_free(g);
}
END_TEST

/* ---- shards ---- */

START_TEST(test_shard_plan)
{
    dllm_shard sh;
    char err[256];
    int64_t next = 0;
    for (int r = 0; r < 4; r++) { /* V = 811 over 4: 203, 203, 203, 202, contiguous */
        ck_assert_int_eq(dllm_shard_plan(4, r, 128, 4, 384, 811, &sh, err, sizeof err), DLLM_OK);
        ck_assert_int_eq(sh.NHl, 1);
        ck_assert_int_eq(sh.Cl, 32);
        ck_assert_int_eq(sh.c0, 32 * r);
        ck_assert_int_eq(sh.Fl, 96);
        ck_assert_int_eq(sh.v0, next);
        ck_assert_int_eq(sh.Vl, r < 3 ? 203 : 202);
        next += sh.Vl;
    }
    ck_assert_int_eq(next, 811);
    ck_assert_int_eq(dllm_shard_plan(3, 0, 128, 4, 384, 811, &sh, err, sizeof err),
                     DLLM_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "does not divide the model's 4 attention heads"));
    ck_assert_int_eq(dllm_shard_plan(2, 0, 128, 4, 383, 811, &sh, err, sizeof err),
                     DLLM_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "MLP hidden size 383"));
    /* LLaDA-8B divides 2, 4, 8 evenly */
    for (int tp = 2; tp <= 8; tp *= 2) {
        ck_assert_int_eq(dllm_shard_plan(tp, tp - 1, 4096, 32, 12288, 126464, &sh, err,
                                         sizeof err), DLLM_OK);
        ck_assert_int_eq(sh.Vl * tp, 126464);
    }
}
END_TEST

static dllm_status open_tp(const char *dir, int tp, dllm_engine **e, char *err, size_t n)
{
    dllm_engine_config ec;
    dllm_engine_config_init(&ec);
    ec.model_dir = dir;
    ec.tp = tp;
    return dllm_engine_new(&ec, e, err, n);
}

START_TEST(test_divisibility_errors)
{
    char dir[1024], err[512];
    dllm_engine *e = NULL;
    tu_data_path(dir, sizeof dir, "tiny-llada-4l"); /* 4 heads, F = 96 */
    ck_assert_int_eq(open_tp(dir, 3, &e, err, sizeof err), DLLM_E_CONFIG);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(err, "--tp 3 does not divide the model's 4 attention heads"));
    ck_assert_int_eq(open_tp(dir, 8, &e, err, sizeof err), DLLM_E_CONFIG);
    ck_assert_int_eq(open_tp(dir, 65, &e, err, sizeof err), DLLM_E_CONFIG);
    dllm_engine_config ec;
    dllm_engine_config_init(&ec);
    ec.model_dir = dir;
    ec.tp = 2;
    ec.backend = "cuda";
    ck_assert_int_eq(dllm_engine_new(&ec, &e, err, sizeof err), DLLM_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "cpu backend"));
    /* prompt slots hold full-width features: refused under TP, with the hint */
    dllm_engine_config_init(&ec);
    ec.model_dir = dir;
    ec.tp = 2;
    ec.prompt_slots = 2;
    ck_assert_int_eq(dllm_engine_new(&ec, &e, err, sizeof err), DLLM_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "--prompt-slots 0 with --tp 2"));
    ck_assert_ptr_null(e);
    /* a synthetic model is sharded too, with the same checks */
    dllm_engine_config_init(&ec);
    ec.synthetic = "llada-mini"; /* 4 heads, F = 256 */
    ec.tp = 3;
    ck_assert_int_eq(dllm_engine_new(&ec, &e, err, sizeof err), DLLM_E_CONFIG);
    ck_assert_ptr_null(e);
}
END_TEST

/* ---- the distributed sampler ---- */

START_TEST(test_sample_combine)
{
    dllm_backend *be = NULL;
    char err[256];
    enum { V = 37, M = 6 };
    float *lg;
    int32_t tok[M];
    double conf[M];
    dllm_sample_row rows[M];
    ck_assert_int_eq(dllm_backend_new("cpu", 1, 0, &be, err, sizeof err), DLLM_OK);
    ck_assert_int_eq(dllm_backend_alloc(be, M * V * sizeof(float), (void **)&lg), DLLM_OK);
    for (int cfgi = 0; cfgi < 6; cfgi++) {
        tu_fill_uniform(lg, M * V, 100 + (uint64_t)cfgi, -4.0f, 4.0f);
        lg[1 * V + 30] = lg[1 * V + 5] = 9.0f; /* a tie across slices: the lower id wins */
        lg[2 * V + 0] = -INFINITY;
        lg[3 * V + 36] = 50.0f; /* the last id */
        lg[4 * V + 3] = 50.0f;  /* the EOS (id 3), -inf with logits_eos_inf */
        for (int i = 0; i < M; i++)
            rows[i] = (dllm_sample_row){.seed = 7, .step = (uint32_t)cfgi, .position = i,
                                        .temperature = (cfgi % 3 == 1) ? 0.7f : 0.0f,
                                        .random_conf = cfgi == 2,
                                        .logits_eos_inf = cfgi >= 3,
                                        .conf_eos_eot_inf = cfgi == 5};
        ck_assert_int_eq(dllm_backend_sample(be, lg, M, V, rows, 3, 4, tok, conf), DLLM_OK);
        for (int tp = 2; tp <= 5; tp++) {
            dllm_tp_sample_part parts[5];
            for (int i = 0; i < M; i++) {
                int32_t t;
                double c;
                for (int r = 0; r < tp; r++) {
                    int64_t v0, vl;
                    dllm_shard_vocab(V, tp, r, &v0, &vl);
                    dllm_tp_sample_part_row(lg + i * V + v0, vl, v0, &rows[i], 3, &parts[r]);
                }
                dllm_tp_sample_combine(parts, tp, 1, &rows[i], 3, 4, &t, &c);
                ck_assert_int_eq(t, tok[i]);
                if (isinf(conf[i])) ck_assert(c == conf[i]);
                else ck_assert_msg(fabs(c - conf[i]) <= 1e-12 * fabs(conf[i]),
                                   "conf %.17g vs %.17g", c, conf[i]);
            }
        }
    }
    dllm_backend_dealloc(be, lg);
    dllm_backend_free(be);
}
END_TEST

/* ---- the sharded forward's logits ---- */

typedef struct fwd_arg {
    dllm_tp_group *g;
    dllm_backend *be[4];
    dllm_model_weights w[4];
    dllm_forward f[4];
    dllm_feature_store fs[4];
    dllm_layer_plan *plans;
    int32_t *ids;
    int32_t T, P, H;
    float *logits; /* (H, V) assembled from the slices */
    int64_t V;
} fwd_arg;

static dllm_status fwd_fn(int r, void *p)
{
    fwd_arg *a = p;
    dllm_fwd_seq q = {a->ids, a->T, a->P, a->T - a->H, a->H, &a->fs[r], a->plans, NULL, NULL};
    const dllm_model_weights *w = &a->w[r];
    DLLM_TRY(dllm_forward_run(&a->f[r], &q, 1));
    for (int32_t i = 0; i < a->H; i++) /* the rank's columns of the (H, V) logits */
        DLLM_TRY(dllm_backend_download(a->be[r], a->logits + i * a->V + w->v0,
                                       a->f[r].logits + i * w->Vl, (size_t)w->Vl * sizeof(float)));
    return DLLM_OK;
}

START_TEST(test_forward_logits)
{
    char dir[1024], err[512];
    dllm_checkpoint *ck = NULL;
    const int32_t T = 24, P = 10, H = 14;
    int32_t ids[24];
    float *ref;
    tu_data_path(dir, sizeof dir, "../../models/llada-tiny");
    ck_assert_msg(dllm_checkpoint_open(dir, &ck, err, sizeof err) == DLLM_OK, "%s", err);
    int64_t L = ck->cfg.n_layers, V = ck->cfg.embedding_size;
    dllm_layer_plan *plans = calloc((size_t)L, sizeof *plans);
    for (int64_t l = 0; l < L; l++) plans[l] = (dllm_layer_plan){.prompt = 1, .resp = 1};
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 11) % 700);
    ref = malloc((size_t)(H * V) * sizeof(float));
    for (int tp = 1; tp <= 4; tp *= 2) {
        fwd_arg a;
        memset(&a, 0, sizeof a);
        a.plans = plans;
        a.ids = ids;
        a.T = T;
        a.P = P;
        a.H = H;
        a.V = V;
        a.logits = malloc((size_t)(H * V) * sizeof(float));
        if (tp > 1) ck_assert_int_eq(dllm_tp_group_new(tp, 60000, &a.g), DLLM_OK);
        for (int r = 0; r < tp; r++) {
            ck_assert_int_eq(dllm_backend_new("cpu", 1, 0, &a.be[r], err, sizeof err), DLLM_OK);
            ck_assert_msg(dllm_model_weights_load_tp(&a.w[r], a.be[r], ck, tp, r, NULL, NULL, err,
                                                     sizeof err) == DLLM_OK, "%s", err);
            dllm_forward_init(&a.f[r], a.be[r], &a.w[r]);
            if (tp > 1) dllm_forward_set_comm(&a.f[r], dllm_tp_group_comm(a.g, r));
            ck_assert_int_eq(dllm_forward_reserve(&a.f[r], T, H), DLLM_OK);
            ck_assert_int_eq(dllm_feature_store_init_kv(&a.fs[r], a.be[r], NULL, L, T,
                                                        a.w[r].C, a.w[r].Cl), DLLM_OK);
        }
        if (tp == 1) ck_assert_int_eq(fwd_fn(0, &a), DLLM_OK);
        else ck_assert_int_eq(dllm_tp_group_run(a.g, fwd_fn, &a), DLLM_OK);
        if (tp == 1) {
            memcpy(ref, a.logits, (size_t)(H * V) * sizeof(float));
        } else {
            double rel = tu_max_rel_err(a.logits, ref, (size_t)(H * V));
            printf("forward logits tp=%d: max relative error %.3g\n", tp, rel);
            ck_assert(rel < 1e-5);
        }
        for (int r = 0; r < tp; r++) {
            dllm_feature_store_deinit(&a.fs[r], a.be[r]);
            dllm_forward_deinit(&a.f[r]);
            dllm_model_weights_deinit(&a.w[r], a.be[r]);
            dllm_backend_free(a.be[r]);
        }
        dllm_tp_group_free(a.g);
        free(a.logits);
    }
    free(ref);
    free(plans);
    dllm_checkpoint_free(ck);
}
END_TEST

/* ---- whole generations: TP = 2, 4 against TP = 1 ---- */

typedef struct gen_case {
    const char *name;
    const char *policy;
    float cfg, temperature;
    int cfg_interval, random, threshold;
} gen_case;

static const gen_case gen_cases[] = {
    {"none", "none", 0, 0, 0, 0, 0},
    {"none-cfg-gumbel", "none", 1.5f, 0.8f, 0, 0, 0},
    {"none-random", "none", 0, 0, 0, 1, 0},
    {"dllm", "dllm", 0, 0, 0, 0, 0},
    {"dllm-cfg-reuse", "dllm", 1.0f, 0, 2, 0, 0},
    {"prefix", "prefix", 0, 0, 0, 0, 0},
    {"dual-threshold", "dual", 0, 0, 0, 0, 1},
    {"sparse", "sparse", 0, 0, 0, 0, 0},
    {"d2", "d2", 0, 0, 0, 0, 0},
};

static void gen_params(const gen_case *c, dllm_gen_params *p)
{
    dllm_gen_params_init(p);
    p->gen_length = 32;
    p->block_length = 8;
    p->steps = 16;
    p->seed = 42;
    ck_assert_int_eq(dllm_cache_policy_parse(c->policy, &p->cache), DLLM_OK);
    p->cfg_scale = c->cfg;
    p->temperature = c->temperature;
    p->cache_params.cfg_interval = c->cfg_interval;
    p->cache_params.kp = 5; /* refresh often enough that V-verify runs between refreshes */
    p->cache_params.kr = 3;
    p->remasking = c->random ? DLLM_REMASK_RANDOM : DLLM_REMASK_LOW_CONFIDENCE;
    if (c->threshold) p->threshold = 0.5f;
}

static void check_model(const char *dir, int32_t vmax)
{
    enum { NC = sizeof gen_cases / sizeof gen_cases[0] };
    int32_t prompt[12], *want[NC] = {0};
    dllm_engine *e = NULL;
    char err[512];
    for (int i = 0; i < 12; i++) prompt[i] = (int32_t)((i * 53 + 7) % vmax);
    for (int tp = 1; tp <= 4; tp *= 2) {
        ck_assert_msg(open_tp(dir, tp, &e, err, sizeof err) == DLLM_OK, "%s", err);
        for (int c = 0; c < NC; c++) {
            dllm_gen_params p;
            int32_t *out = NULL;
            size_t n = 0;
            dllm_seq_stats st;
            gen_params(&gen_cases[c], &p);
            ck_assert_msg(dllm_generate(e, prompt, 12, &p, &out, &n, &st) == DLLM_OK,
                          "tp=%d %s: %s", tp, gen_cases[c].name, dllm_engine_last_error(e));
            ck_assert_int_eq(n, 32);
            if (tp == 1) {
                want[c] = out;
                continue;
            }
            int same = memcmp(out, want[c], n * sizeof *out) == 0;
            printf("%s tp=%d %-16s tokens %s\n", dir, tp, gen_cases[c].name,
                   same ? "== tp 1" : "DIFFER");
            ck_assert_msg(same, "tp=%d %s: tokens differ from tp=1", tp, gen_cases[c].name);
            free(out);
        }
        dllm_engine_free(e);
    }
    for (int c = 0; c < NC; c++) free(want[c]);
}

START_TEST(test_generate_llada_tiny)
{
    char dir[1024];
    check_model(tu_data_path(dir, sizeof dir, "../../models/llada-tiny"), 800);
}
END_TEST

START_TEST(test_generate_tiny_4l)
{
    char dir[1024];
    check_model(tu_data_path(dir, sizeof dir, "tiny-llada-4l"), 260);
}
END_TEST

/* A batch of two sequences with different policies steps together under TP. */
START_TEST(test_batch)
{
    char dir[1024], err[512];
    int32_t prompt[2][9];
    int32_t *want[2] = {0};
    tu_data_path(dir, sizeof dir, "../../models/llada-tiny");
    for (int i = 0; i < 9; i++) prompt[0][i] = (int32_t)(i * 31 % 800), prompt[1][i] = (int32_t)(i * 17 % 800 + 3);
    for (int tp = 1; tp <= 2; tp++) {
        dllm_engine *e = NULL;
        dllm_seq *s[2] = {0};
        dllm_gen_params p[2];
        ck_assert_msg(open_tp(dir, tp, &e, err, sizeof err) == DLLM_OK, "%s", err);
        gen_params(&gen_cases[4], &p[0]); /* dllm with CFG reuse */
        gen_params(&gen_cases[6], &p[1]); /* dual with a threshold */
        for (int k = 0; k < 2; k++)
            ck_assert_int_eq(dllm_seq_new(e, prompt[k], 9, &p[k], &s[k]), DLLM_OK);
        while (!dllm_seq_finished(s[0]) || !dllm_seq_finished(s[1]))
            ck_assert_msg(dllm_engine_step(e, s, 2) == DLLM_OK, "%s", dllm_engine_last_error(e));
        for (int k = 0; k < 2; k++) {
            size_t n;
            const int32_t *t = dllm_seq_tokens(s[k], &n);
            if (tp == 1) {
                want[k] = malloc(n * sizeof *t);
                memcpy(want[k], t, n * sizeof *t);
            } else {
                ck_assert_int_eq(memcmp(t, want[k], n * sizeof *t), 0);
            }
            dllm_seq_free(s[k]);
        }
        dllm_engine_free(e);
    }
    free(want[0]);
    free(want[1]);
}
END_TEST

static Suite *tp_suite(void)
{
    Suite *s = suite_create("tp");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_comm_threads);
    tcase_add_test(tc, test_comm_abort_timeout);
    tcase_add_test(tc, test_group_failure);
    tcase_add_test(tc, test_shard_plan);
    tcase_add_test(tc, test_divisibility_errors);
    tcase_add_test(tc, test_sample_combine);
    tcase_add_test(tc, test_forward_logits);
    tcase_add_test(tc, test_generate_llada_tiny);
    tcase_add_test(tc, test_generate_tiny_4l);
    tcase_add_test(tc, test_batch);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(tp_suite)
