/* test_sampler.c -- the host side of the LLaDA sampler: the counter-based RNG (vectors
 * shared with ops/reference/rng.py), the transfer schedule and the top-k commit rule.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>

#include "rng.h"
#include "sampler.h"
#include "testutil.h"

START_TEST(test_rng_vectors)
{
    /* computed independently from the specification in rng.h; the same vectors are in
     * ops/reference/README.md */
    ck_assert_uint_eq(dllm_rng_u64(0, 0, 0, 0, 0), 0x1957a7604e215178ull);
    ck_assert_uint_eq(dllm_rng_u64(42, 0, 3, 17, 5), 0x3968b8dc79ad0d4cull);
    ck_assert_uint_eq(dllm_rng_u64(42, 1, 3, 17, 0), 0x24f733f8a0831e9dull);
    ck_assert_uint_eq(dllm_rng_u64(UINT64_MAX, 1, 4294967295u, 4095, 126463),
                      0xd5029fa276100b0aull);
    ck_assert_double_eq(dllm_rng_uniform(0, 0, 0, 0, 0), 0.098993741046915829);
    ck_assert_double_eq(dllm_rng_uniform(42, 0, 3, 17, 5), 0.22425418265054387);
    ck_assert_double_eq(dllm_rng_uniform(UINT64_MAX, 1, 4294967295u, 4095, 126463),
                        0.83207128254258589);
}
END_TEST

START_TEST(test_rng_range_and_spread)
{
    double lo = 1, hi = 0, sum = 0;
    int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = dllm_rng_uniform(7, DLLM_RNG_GUMBEL, 1, (uint64_t)i % 97, (uint64_t)i);
        ck_assert(u > 0.0 && u < 1.0);
        lo = fmin(lo, u);
        hi = fmax(hi, u);
        sum += u;
    }
    ck_assert(lo < 1e-3 && hi > 1 - 1e-3);
    ck_assert_double_eq_tol(sum / n, 0.5, 0.01);
}
END_TEST

START_TEST(test_schedule)
{
    /* 12 masks over 5 steps: 3,3,2,2,2 (remainder to the first steps) */
    int32_t want[5] = {3, 3, 2, 2, 2}, total = 0;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(dllm_sched_transfer_count(12, 5, i), want[i]);
        total += dllm_sched_transfer_count(12, 5, i);
    }
    ck_assert_int_eq(total, 12);
    /* fewer masks than steps: 1,1,1,0,0,... */
    ck_assert_int_eq(dllm_sched_transfer_count(3, 8, 2), 1);
    ck_assert_int_eq(dllm_sched_transfer_count(3, 8, 3), 0);
    /* out-of-range steps commit nothing */
    ck_assert_int_eq(dllm_sched_transfer_count(8, 4, 4), 0);
    ck_assert_int_eq(dllm_sched_transfer_count(8, 4, -1), 0);
    ck_assert_int_eq(dllm_sched_transfer_count(0, 4, 0), 0);
    /* sums always equal m */
    for (int32_t m = 0; m < 70; m++)
        for (int32_t spb = 1; spb < 20; spb++) {
            int32_t s = 0;
            for (int32_t i = 0; i < spb; i++) s += dllm_sched_transfer_count(m, spb, i);
            ck_assert_int_eq(s, m);
        }
}
END_TEST

START_TEST(test_topk_ties_lower_position)
{
    double conf[6] = {0.5, 0.9, 0.5, -INFINITY, 0.9, 0.1};
    int32_t pos[6] = {10, 11, 12, 13, 14, 15};
    size_t order[6], sel[6];
    size_t k = dllm_select_topk(conf, pos, 6, 4, order, sel);
    ck_assert_uint_eq(k, 4);
    ck_assert_int_eq(pos[sel[0]], 11); /* 0.9 at 11 beats 0.9 at 14 */
    ck_assert_int_eq(pos[sel[1]], 14);
    ck_assert_int_eq(pos[sel[2]], 10); /* 0.5 at 10 beats 0.5 at 12 */
    ck_assert_int_eq(pos[sel[3]], 12);
}
END_TEST

START_TEST(test_topk_all_neg_inf_and_clamp)
{
    double conf[3] = {-INFINITY, -INFINITY, -INFINITY};
    int32_t pos[3] = {7, 3, 5};
    size_t order[3], sel[3];
    size_t k = dllm_select_topk(conf, pos, 3, 5, order, sel);
    ck_assert_uint_eq(k, 3); /* clamped to n */
    ck_assert_int_eq(pos[sel[0]], 3);
    ck_assert_int_eq(pos[sel[1]], 5);
    ck_assert_int_eq(pos[sel[2]], 7);
    ck_assert_uint_eq(dllm_select_topk(conf, pos, 0, 2, order, sel), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rng_vectors);
    tcase_add_test(tc, test_rng_range_and_spread);
    tcase_add_test(tc, test_schedule);
    tcase_add_test(tc, test_topk_ties_lower_position);
    tcase_add_test(tc, test_topk_all_neg_inf_and_clamp);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
