/* test_synthetic.c -- synthetic models (random weights of a known shape, made on the
 * backend) and the backend calibration that `dllm bench` prints its roofline from.
 *
 * Also the weight-loading progress callback. These run on the CPU backend with the small
 * "llada-mini" shape; the GPU suite (test_backend_cuda.c) compares the CUDA backend's
 * synthetic weights with these.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "rng.h"
#include "testutil.h"

static dllm_engine *open_synth(const char *name, uint64_t seed, char *err, size_t errn,
                               dllm_status *rc)
{
    dllm_engine_config c;
    dllm_engine *e = NULL;
    dllm_engine_config_init(&c);
    c.synthetic = name;
    c.synthetic_seed = seed;
    c.n_threads = 1;
    *rc = dllm_engine_new(&c, &e, err, errn);
    return e;
}

static int32_t *gen(dllm_engine *e, dllm_cache_policy pol, size_t *n)
{
    int32_t prompt[40];
    dllm_gen_params gp;
    int32_t *out = NULL;
    for (int i = 0; i < 40; i++)
        prompt[i] = 10 + (i * 13) % 900;
    dllm_gen_params_init(&gp);
    gp.gen_length = 16;
    gp.steps = 16;
    gp.block_length = 8;
    gp.cache = pol;
    ck_assert_msg(dllm_generate(e, prompt, 40, &gp, &out, n, NULL) == DLLM_OK, "%s",
                  dllm_engine_last_error(e));
    return out;
}

START_TEST(test_synthetic_engine)
{
    char err[512];
    dllm_status rc;
    dllm_engine *a = open_synth("llada-mini", 7, err, sizeof err, &rc);
    ck_assert_msg(rc == DLLM_OK, "%s", err);
    dllm_engine *b = open_synth("llada-mini", 7, err, sizeof err, &rc);
    ck_assert_int_eq(rc, DLLM_OK);
    dllm_engine *c = open_synth("llada-mini", 8, err, sizeof err, &rc);
    ck_assert_int_eq(rc, DLLM_OK);

    dllm_model_info mi;
    dllm_engine_model_info(a, &mi);
    ck_assert_int_eq(mi.d_model, 128);
    ck_assert_int_eq(mi.n_layers, 2);
    ck_assert_int_eq(mi.vocab_size, 1024);
    ck_assert_int_eq(mi.mask_id, 1000);
    ck_assert_ptr_null(dllm_engine_tokenizer(a)); /* no tokenizer: ids only */
    ck_assert_int_eq(mi.n_params,
                     2 * 1024 * 128 + 128 + 2 * (4 * 128 * 128 + 3 * 128 * 256 + 2 * 128));

    /* the same seed gives the same model; another seed another one */
    size_t na, nb, nc;
    int32_t *ta = gen(a, DLLM_CACHE_NONE, &na), *tb = gen(b, DLLM_CACHE_NONE, &nb);
    int32_t *tc = gen(c, DLLM_CACHE_NONE, &nc);
    ck_assert_uint_eq(na, 16);
    ck_assert_mem_eq(ta, tb, na * sizeof *ta);
    ck_assert_msg(memcmp(ta, tc, na * sizeof *ta) != 0, "seeds 7 and 8 generated the same");
    for (size_t i = 0; i < na; i++)
        ck_assert(ta[i] >= 0 && ta[i] < 1024 && ta[i] != 1000);
    free(ta);
    free(tb);
    free(tc);
    /* every policy runs on it */
    int32_t *td = gen(a, DLLM_CACHE_DLLM, &na);
    free(td);
    dllm_engine_free(a);
    dllm_engine_free(b);
    dllm_engine_free(c);

    /* unknown names are a clear error */
    dllm_engine *x = open_synth("llada-80b", 1, err, sizeof err, &rc);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(rc, DLLM_E_INVALID_ARG);
    ck_assert_msg(strstr(err, "llada-80b") && strstr(err, "llada-8b"), "message: %s", err);
}
END_TEST

START_TEST(test_weight_random_formula)
{
    dllm_backend *be = NULL;
    dllm_weight w = {0};
    char err[256];
    ck_assert_int_eq(dllm_backend_new("cpu", 1, 0, &be, err, sizeof err), DLLM_OK);
    ck_assert_int_eq(dllm_backend_weight_random(be, 3, 5, 42, 0.5f, 1.0f, &w), DLLM_OK);
    const float *p = w.data;
    for (uint64_t i = 0; i < 15; i++) {
        float want =
            1.0f + 0.5f * (float)(2.0 * dllm_rng_uniform(42, DLLM_RNG_WEIGHTS, 0, 0, i) - 1.0);
        ck_assert_float_eq(p[i], want);
        ck_assert(p[i] >= 0.5f && p[i] <= 1.5f);
    }
    dllm_backend_weight_free(be, &w);
    ck_assert_int_eq(dllm_backend_weight_random(be, 0, 5, 42, 0.5f, 1.0f, &w), DLLM_E_INVALID_ARG);
    dllm_backend_free(be);
}
END_TEST

START_TEST(test_calibrate_cpu)
{
    char err[512];
    dllm_status rc;
    dllm_engine *e = open_synth("llada-mini", 1, err, sizeof err, &rc);
    ck_assert_msg(rc == DLLM_OK, "%s", err);
    dllm_calibration cal;
    ck_assert_int_eq(dllm_engine_calibrate(e, &cal), DLLM_OK);
    ck_assert(cal.mem_bytes_per_s > 1e8 && isfinite(cal.mem_bytes_per_s));
    ck_assert(cal.matmul_flops_per_s > 1e8 && isfinite(cal.matmul_flops_per_s));
    ck_assert(cal.skinny_gemm_bytes_per_s > 1e6);
    /* fp32 on the CPU: 4 bytes per parameter */
    dllm_model_info mi;
    dllm_engine_model_info(e, &mi);
    ck_assert_uint_eq(cal.weight_bytes, (size_t)mi.n_params * 4);
    dllm_engine_free(e);
}
END_TEST

/* The load-progress callback sees every tensor, monotonically, ending at the total. */
typedef struct progress_log {
    int calls;
    uint64_t last, total;
    int monotonic;
} progress_log;

static void on_progress(void *user, uint64_t done, uint64_t total)
{
    progress_log *p = user;
    if (done < p->last || (p->calls > 0 && total != p->total)) p->monotonic = 0;
    p->calls++;
    p->last = done;
    p->total = total;
}

START_TEST(test_load_progress)
{
    char path[4096], err[512];
    dllm_engine_config c;
    dllm_engine *e = NULL;
    progress_log log = {0, 0, 0, 1};
    dllm_engine_config_init(&c);
    c.model_dir = tu_data_path(path, sizeof path, "tiny-llada");
    c.load_progress = on_progress;
    c.load_progress_user = &log;
    ck_assert_msg(dllm_engine_new(&c, &e, err, sizeof err) == DLLM_OK, "%s", err);
    dllm_model_info mi;
    dllm_engine_model_info(e, &mi);
    /* wte, ln_f, head + 9 tensors per layer */
    ck_assert_int_eq(log.calls, 3 + 9 * (int)mi.n_layers);
    ck_assert(log.monotonic);
    ck_assert_uint_eq(log.last, log.total);
    ck_assert_uint_eq(log.total, (uint64_t)mi.n_params * 4); /* an f32 checkpoint */
    dllm_engine_free(e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("synthetic");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_synthetic_engine);
    tcase_add_test(tc, test_weight_random_formula);
    tcase_add_test(tc, test_calibrate_cpu);
    tcase_add_test(tc, test_load_progress);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
