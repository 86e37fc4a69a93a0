/* test_backend_ops.c -- every backend operation against a naive loop written here.
 *
 * Each op runs on seeded random inputs of odd and ordinary sizes; outputs sit between
 * guard regions that must stay untouched; results are compared by normalised error
 * (NMSE) and must be finite. The naive loops are deliberately the textbook formulas
 * (double accumulation), independent of the backend's code. Backends other than "cpu"
 * are tested when the build has them and a device answers (else reported as skipped).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "rng.h"
#include "testutil.h"

#define GUARD 17
#define SENTINEL 1234.5f

static dllm_backend *be;

static void setup(void)
{
    char err[256];
    ck_assert_int_eq(dllm_backend_new("cpu", 0, 0, &be, err, sizeof err), DLLM_OK);
}

static void teardown(void)
{
    dllm_backend_free(be);
    be = NULL;
}

/* A backend buffer of n floats with GUARD sentinel floats on each side. */
typedef struct gbuf {
    float *base, *p;
    size_t n;
} gbuf;

static gbuf gb_new(size_t n)
{
    gbuf g = {0};
    g.n = n;
    ck_assert_int_eq(dllm_backend_alloc(be, (n + 2 * GUARD) * sizeof(float), (void **)&g.base),
                     DLLM_OK);
    float *h = malloc((n + 2 * GUARD) * sizeof(float));
    for (size_t i = 0; i < n + 2 * GUARD; i++) h[i] = SENTINEL;
    dllm_backend_upload(be, g.base, h, (n + 2 * GUARD) * sizeof(float));
    free(h);
    g.p = g.base + GUARD;
    return g;
}

static void gb_set(gbuf *g, const float *src)
{
    dllm_backend_upload(be, g->p, src, g->n * sizeof(float));
}

/* Downloads into dst and checks the guards. */
static void gb_get(const gbuf *g, float *dst)
{
    float *h = malloc((g->n + 2 * GUARD) * sizeof(float));
    dllm_backend_download(be, h, g->base, (g->n + 2 * GUARD) * sizeof(float));
    for (size_t i = 0; i < GUARD; i++) {
        ck_assert_msg(h[i] == SENTINEL, "guard before output overwritten at %zu", i);
        ck_assert_msg(h[GUARD + g->n + i] == SENTINEL, "guard after output overwritten at %zu",
                      i);
    }
    memcpy(dst, h + GUARD, g->n * sizeof(float));
    free(h);
}

static void gb_free(gbuf *g)
{
    dllm_backend_dealloc(be, g->base);
}

static float *rnd(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof(float));
    tu_fill_uniform(x, n, seed, -1.0f, 1.0f);
    return x;
}

static void expect_close(const float *got, const float *want, size_t n, double tol,
                         const char *what)
{
    double e = tu_nmse(got, want, n);
    ck_assert_msg(e <= tol, "%s: nmse %g > %g", what, e, tol);
}

/* ---- gemm ---- */

static void check_gemm(int64_t m, int64_t nout, int64_t k, dllm_dtype t)
{
    float *x = rnd((size_t)(m * k), 1), *wf = rnd((size_t)(nout * k), 2);
    float *want = calloc((size_t)(m * nout), sizeof(float)), *got = malloc((size_t)(m * nout) * 4);
    uint16_t *w16 = malloc((size_t)(nout * k) * 2);
    const void *wsrc = wf;
    dllm_weight w;

    if (t == DLLM_DTYPE_BF16) { /* truncate to bf16 and use the rounded values as truth */
        for (int64_t i = 0; i < nout * k; i++) {
            uint32_t u;
            memcpy(&u, &wf[i], 4);
            w16[i] = (uint16_t)(u >> 16);
            wf[i] = dllm_bf16_to_f32(w16[i]);
        }
        wsrc = w16;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < nout; j++) {
            double s = 0;
            for (int64_t d = 0; d < k; d++) s += (double)x[i * k + d] * wf[j * k + d];
            want[i * nout + j] = (float)s;
        }
    ck_assert_int_eq(dllm_backend_weight_upload(be, wsrc, t, nout, k, &w), DLLM_OK);
    gbuf gx = gb_new((size_t)(m * k)), gy = gb_new((size_t)(m * nout));
    gb_set(&gx, x);
    ck_assert_int_eq(dllm_backend_gemm(be, gy.p, gx.p, &w, m), DLLM_OK);
    gb_get(&gy, got);
    expect_close(got, want, (size_t)(m * nout), 1e-10, "gemm");
    gb_free(&gx);
    gb_free(&gy);
    dllm_backend_weight_free(be, &w);
    free(x);
    free(wf);
    free(w16);
    free(want);
    free(got);
}

START_TEST(test_gemm)
{
    check_gemm(1, 1, 1, DLLM_DTYPE_F32);
    check_gemm(7, 13, 129, DLLM_DTYPE_F32);
    check_gemm(129, 96, 64, DLLM_DTYPE_F32);
    check_gemm(33, 257, 100, DLLM_DTYPE_BF16);
}
END_TEST

/* A row's GEMM result is bit-identical whatever other rows share the call (batch
 * invariance: a request's tokens never depend on its batch). */
START_TEST(test_gemm_row_invariance)
{
    int64_t M = 70, N = 96, K = 200;
    float *x = rnd((size_t)(M * K), 21), *wf = rnd((size_t)(N * K), 22);
    float *ref = malloc((size_t)(M * N) * 4), *got = malloc((size_t)(M * N) * 4);
    dllm_weight w;
    float *dx, *dy;
    ck_assert_int_eq(dllm_backend_weight_upload(be, wf, DLLM_DTYPE_F32, N, K, &w), DLLM_OK);
    ck_assert_int_eq(dllm_backend_alloc(be, (size_t)(M * K) * 4, (void **)&dx), DLLM_OK);
    ck_assert_int_eq(dllm_backend_alloc(be, (size_t)(M * N) * 4, (void **)&dy), DLLM_OK);
    dllm_backend_upload(be, dx, x, (size_t)(M * K) * 4);
    ck_assert_int_eq(dllm_backend_gemm(be, dy, dx, &w, M), DLLM_OK);
    dllm_backend_download(be, ref, dy, (size_t)(M * N) * 4);
    int64_t sizes[] = {1, 2, 3, 4, 5, 17, 33};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int64_t start = 0; start + sizes[si] <= M; start += 23) {
            ck_assert_int_eq(dllm_backend_gemm(be, dy, dx + start * K, &w, sizes[si]), DLLM_OK);
            dllm_backend_download(be, got, dy, (size_t)(sizes[si] * N) * 4);
            ck_assert_msg(memcmp(got, ref + start * N, (size_t)(sizes[si] * N) * 4) == 0,
                          "rows %lld..%lld differ when computed in a %lld-row call",
                          (long long)start, (long long)(start + sizes[si]), (long long)sizes[si]);
        }
    }
    dllm_backend_dealloc(be, dx);
    dllm_backend_dealloc(be, dy);
    dllm_backend_weight_free(be, &w);
    free(x);
    free(wf);
    free(ref);
    free(got);
}
END_TEST

/* ---- embed ---- */

START_TEST(test_embed)
{
    int64_t V = 50, C = 37, m = 9;
    float *tab = rnd((size_t)(V * C), 3), *got = malloc((size_t)(m * C) * 4);
    int32_t ids[9] = {0, 49, 3, 3, 17, 25, 1, 48, 0}, bad[2] = {1, 50};
    int32_t *dids;
    dllm_weight w;
    ck_assert_int_eq(dllm_backend_weight_upload(be, tab, DLLM_DTYPE_F32, V, C, &w), DLLM_OK);
    ck_assert_int_eq(dllm_backend_alloc(be, sizeof ids, (void **)&dids), DLLM_OK);
    dllm_backend_upload(be, dids, ids, sizeof ids);
    gbuf go = gb_new((size_t)(m * C));
    ck_assert_int_eq(dllm_backend_embed(be, go.p, &w, dids, m), DLLM_OK);
    gb_get(&go, got);
    for (int64_t i = 0; i < m; i++)
        ck_assert_mem_eq(got + i * C, tab + ids[i] * C, (size_t)C * 4);
    dllm_backend_upload(be, dids, bad, sizeof bad);
    ck_assert_int_eq(dllm_backend_embed(be, go.p, &w, dids, 2), DLLM_E_INVALID_ARG);
    gb_free(&go);
    dllm_backend_dealloc(be, dids);
    dllm_backend_weight_free(be, &w);
    free(tab);
    free(got);
}
END_TEST

/* ---- rmsnorm ---- */

START_TEST(test_rmsnorm)
{
    int64_t m = 5, C = 129;
    float *x = rnd((size_t)(m * C), 4), *wt = rnd((size_t)C, 5), *got = malloc((size_t)(m * C) * 4);
    float *want = malloc((size_t)(m * C) * 4);
    dllm_weight w;
    for (int64_t i = 0; i < m; i++) {
        double ss = 0;
        for (int64_t j = 0; j < C; j++) ss += (double)x[i * C + j] * x[i * C + j];
        double inv = 1.0 / sqrt(ss / (double)C + 1e-5);
        for (int64_t j = 0; j < C; j++) want[i * C + j] = (float)(x[i * C + j] * inv * wt[j]);
    }
    ck_assert_int_eq(dllm_backend_weight_upload(be, wt, DLLM_DTYPE_F32, 1, C, &w), DLLM_OK);
    gbuf gx = gb_new((size_t)(m * C)), go = gb_new((size_t)(m * C));
    gb_set(&gx, x);
    ck_assert_int_eq(dllm_backend_rmsnorm(be, go.p, gx.p, &w, m, 1e-5f), DLLM_OK);
    gb_get(&go, got);
    expect_close(got, want, (size_t)(m * C), 1e-12, "rmsnorm");
    /* in place */
    ck_assert_int_eq(dllm_backend_rmsnorm(be, gx.p, gx.p, &w, m, 1e-5f), DLLM_OK);
    gb_get(&gx, got);
    expect_close(got, want, (size_t)(m * C), 1e-12, "rmsnorm in place");
    ck_assert_int_eq(dllm_backend_rmsnorm(be, go.p, gx.p, &w, m, 0.0f), DLLM_E_INVALID_ARG);
    gb_free(&gx);
    gb_free(&go);
    dllm_backend_weight_free(be, &w);
    free(x);
    free(wt);
    free(got);
    free(want);
}
END_TEST

/* ---- rope ---- */

START_TEST(test_rope)
{
    int64_t m = 6, nh = 3, hs = 10, C = nh * hs;
    int32_t pos[6] = {0, 1, 2, 57, 1000, 4095};
    float *x = rnd((size_t)(m * C), 6), *got = malloc((size_t)(m * C) * 4);
    float *want = malloc((size_t)(m * C) * 4);
    float theta = 500000.0f;
    int32_t *dpos;
    for (int64_t i = 0; i < m; i++)
        for (int64_t h = 0; h < nh; h++)
            for (int64_t d = 0; d < hs / 2; d++) {
                double inv = 1.0 / pow(theta, (double)(2 * d) / (double)hs);
                double a = (double)pos[i] * inv;
                double x1 = x[i * C + h * hs + d], x2 = x[i * C + h * hs + d + hs / 2];
                want[i * C + h * hs + d] = (float)(x1 * cos(a) - x2 * sin(a));
                want[i * C + h * hs + d + hs / 2] = (float)(x2 * cos(a) + x1 * sin(a));
            }
    ck_assert_int_eq(dllm_backend_alloc(be, sizeof pos, (void **)&dpos), DLLM_OK);
    dllm_backend_upload(be, dpos, pos, sizeof pos);
    gbuf gx = gb_new((size_t)(m * C));
    gb_set(&gx, x);
    ck_assert_int_eq(dllm_backend_rope(be, gx.p, dpos, m, nh, hs, theta), DLLM_OK);
    gb_get(&gx, got);
    /* fp32 angles at position 4095 lose ~1e-4 absolute precision, as in the reference */
    expect_close(got, want, (size_t)(m * C), 1e-7, "rope");
    ck_assert_int_eq(dllm_backend_rope(be, gx.p, dpos, m, nh, 9, theta), DLLM_E_INVALID_ARG);
    gb_free(&gx);
    dllm_backend_dealloc(be, dpos);
    free(x);
    free(got);
    free(want);
}
END_TEST

/* ---- attention ---- */

static void check_attention(int64_t mq, int64_t t, int64_t nh, int64_t hs)
{
    int64_t C = nh * hs;
    float *q = rnd((size_t)(mq * C), 7), *k = rnd((size_t)(t * C), 8), *v = rnd((size_t)(t * C), 9);
    float *want = malloc((size_t)(mq * C) * 4), *got = malloc((size_t)(mq * C) * 4);
    double *p = malloc((size_t)t * sizeof(double));
    for (int64_t h = 0; h < nh; h++)
        for (int64_t i = 0; i < mq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < t; j++) {
                double s = 0;
                for (int64_t d = 0; d < hs; d++) s += (double)q[i * C + h * hs + d] * k[j * C + h * hs + d];
                p[j] = s / sqrt((double)hs);
                mx = fmax(mx, p[j]);
            }
            for (int64_t j = 0; j < t; j++) sum += (p[j] = exp(p[j] - mx));
            for (int64_t d = 0; d < hs; d++) {
                double o = 0;
                for (int64_t j = 0; j < t; j++) o += p[j] / sum * v[j * C + h * hs + d];
                want[i * C + h * hs + d] = (float)o;
            }
        }
    gbuf gq = gb_new((size_t)(mq * C)), gk = gb_new((size_t)(t * C)), gv = gb_new((size_t)(t * C));
    gbuf go = gb_new((size_t)(mq * C));
    gb_set(&gq, q);
    gb_set(&gk, k);
    gb_set(&gv, v);
    ck_assert_int_eq(dllm_backend_attention(be, go.p, gq.p, gk.p, gv.p, mq, t, nh, hs), DLLM_OK);
    gb_get(&go, got);
    expect_close(got, want, (size_t)(mq * C), 1e-10, "attention");
    gb_free(&gq);
    gb_free(&gk);
    gb_free(&gv);
    gb_free(&go);
    free(q);
    free(k);
    free(v);
    free(want);
    free(got);
    free(p);
}

START_TEST(test_attention)
{
    check_attention(1, 1, 1, 2);
    check_attention(7, 7, 4, 16);
    check_attention(3, 129, 2, 64); /* subset of query rows against a longer K/V */
    check_attention(40, 13, 3, 10);
}
END_TEST

/* ---- elementwise, rows, cfg ---- */

START_TEST(test_elementwise_and_rows)
{
    int64_t n = 1031, C = 9;
    float *a = rnd((size_t)n, 10), *b = rnd((size_t)n, 11), *got = malloc((size_t)n * 4);
    float *want = malloc((size_t)n * 4);
    gbuf ga = gb_new((size_t)n), gbb = gb_new((size_t)n), go = gb_new((size_t)n);
    gb_set(&ga, a);
    gb_set(&gbb, b);

    for (int64_t i = 0; i < n; i++) want[i] = (float)(a[i] / (1.0 + exp(-(double)a[i])) * b[i]);
    ck_assert_int_eq(dllm_backend_swiglu(be, go.p, ga.p, gbb.p, n), DLLM_OK);
    gb_get(&go, got);
    expect_close(got, want, (size_t)n, 1e-12, "swiglu");

    for (int64_t i = 0; i < n; i++) want[i] = a[i] + b[i];
    gb_set(&go, a);
    ck_assert_int_eq(dllm_backend_add(be, go.p, gbb.p, n), DLLM_OK);
    gb_get(&go, got);
    expect_close(got, want, (size_t)n, 1e-14, "add");

    for (int64_t i = 0; i < n; i++) want[i] = b[i] + 2.5f * (a[i] - b[i]);
    gb_set(&go, a);
    ck_assert_int_eq(dllm_backend_cfg_mix(be, go.p, gbb.p, n, 1.5f), DLLM_OK);
    gb_get(&go, got);
    expect_close(got, want, (size_t)n, 1e-12, "cfg_mix");

    /* gather 4 rows of a (n/C rows of C), scatter them back into zeros */
    int32_t idx[4] = {100, 0, 7, 113}, *didx;
    float *rows = malloc(4 * (size_t)C * 4);
    ck_assert_int_eq(dllm_backend_alloc(be, sizeof idx, (void **)&didx), DLLM_OK);
    dllm_backend_upload(be, didx, idx, sizeof idx);
    gbuf gr = gb_new(4 * (size_t)C);
    ck_assert_int_eq(dllm_backend_gather_rows(be, gr.p, ga.p, didx, 4, C), DLLM_OK);
    gb_get(&gr, rows);
    for (int r = 0; r < 4; r++) ck_assert_mem_eq(rows + r * C, a + idx[r] * C, (size_t)C * 4);
    memset(want, 0, (size_t)n * 4);
    gb_set(&go, want);
    for (int r = 0; r < 4; r++) memcpy(want + idx[r] * C, a + idx[r] * C, (size_t)C * 4);
    ck_assert_int_eq(dllm_backend_scatter_rows(be, go.p, gr.p, didx, 4, C), DLLM_OK);
    gb_get(&go, got);
    ck_assert_mem_eq(got, want, (size_t)n * 4);

    ck_assert_int_eq(dllm_backend_add(be, go.p, NULL, n), DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_backend_swiglu(be, go.p, ga.p, gbb.p, -1), DLLM_E_INVALID_ARG);
    gb_free(&ga);
    gb_free(&gbb);
    gb_free(&go);
    gb_free(&gr);
    dllm_backend_dealloc(be, didx);
    free(a);
    free(b);
    free(got);
    free(want);
    free(rows);
}
END_TEST

/* ---- sample ---- */

START_TEST(test_sample)
{
    enum { M = 6, V = 301 };
    float *lg = rnd((size_t)M * V, 12);
    int32_t tok[M];
    double conf[M];
    dllm_sample_row rows[M];
    int32_t eos = 5, eot = 9;

    for (int i = 0; i < V; i++) lg[0 * V + i] *= 4; /* row 0: greedy */
    lg[1 * V + 3] = 7.0f;                              /* row 1: tie at 3 and 200 */
    lg[1 * V + 200] = 7.0f;
    lg[2 * V + eos] = 50.0f;                           /* row 2: EOS dominates, eos_inf on */
    lg[3 * V + eot] = 50.0f;                           /* row 3: EOT wins, conf -inf */
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < M; i++) {
        rows[i].seed = 99;
        rows[i].step = 4;
        rows[i].position = 30 + i;
    }
    rows[2].logits_eos_inf = 1;
    rows[3].conf_eos_eot_inf = 1;
    rows[4].temperature = 0.7f; /* Gumbel */
    rows[5].random_conf = 1;

    gbuf gl = gb_new((size_t)M * V);
    gb_set(&gl, lg);
    ck_assert_int_eq(dllm_backend_sample(be, gl.p, M, V, rows, eos, eot, tok, conf), DLLM_OK);

    for (int r = 0; r < M; r++) {
        const float *l = lg + r * V;
        int best = -1;
        double bs = -INFINITY, mx = -INFINITY, sum = 0;
        for (int j = 0; j < V; j++) {
            double lj = (rows[r].logits_eos_inf && j == eos) ? -INFINITY : l[j];
            double s = lj;
            if (rows[r].temperature > 0) {
                double u = dllm_rng_uniform(99, DLLM_RNG_GUMBEL, 4, (uint64_t)(30 + r), (uint64_t)j);
                s = exp(lj) / pow(-log(u), (double)rows[r].temperature);
            }
            if (s > bs) {
                bs = s;
                best = j;
            }
            mx = fmax(mx, lj);
        }
        ck_assert_int_eq(tok[r], best);
        for (int j = 0; j < V; j++)
            sum += exp(((rows[r].logits_eos_inf && j == eos) ? -INFINITY : l[j]) - mx);
        double want = exp((double)l[best] - mx) / sum;
        if (rows[r].random_conf) want = dllm_rng_uniform(99, DLLM_RNG_REMASK, 4, 35, 0);
        if (rows[r].conf_eos_eot_inf && (best == eos || best == eot)) want = -INFINITY;
        if (isinf(want))
            ck_assert(isinf(conf[r]) && conf[r] < 0);
        else
            ck_assert_double_eq_tol(conf[r], want, 1e-12);
    }
    ck_assert_int_eq(tok[1], 3); /* lowest id on ties */
    ck_assert_int_ne(tok[2], eos);
    ck_assert_int_eq(tok[3], eot);
    gb_free(&gl);
    free(lg);
}
END_TEST

START_TEST(test_unknown_backend)
{
    dllm_backend *b2 = NULL;
    char err[256];
    ck_assert_int_eq(dllm_backend_new("tpu", 1, 0, &b2, err, sizeof err), DLLM_E_UNSUPPORTED);
    ck_assert_ptr_null(b2);
    ck_assert_ptr_nonnull(strstr(err, "tpu"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("backend_ops");
    TCase *tc = tcase_create("cpu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_gemm);
    tcase_add_test(tc, test_gemm_row_invariance);
    tcase_add_test(tc, test_embed);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_elementwise_and_rows);
    tcase_add_test(tc, test_sample);
    tcase_add_test(tc, test_unknown_backend);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
