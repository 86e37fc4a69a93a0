/* test_redis_url.c -- the worker's Redis URL parser (worker/redis_url.h): every accepted
 * form, every rejected one, and that the log form never shows the password.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "redis_url.h"
#include "testutil.h"

START_TEST(test_accepted)
{
    dllm_redis_url u;
    char buf[1200];

    ck_assert_int_eq(dllm_redis_url_parse("redis://127.0.0.1:6390/3", &u), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 6390);
    ck_assert_int_eq(u.db, 3);
    ck_assert_str_eq(u.password, "");
    ck_assert_int_eq(u.is_unix, 0);

    ck_assert_int_eq(dllm_redis_url_parse("redis://cache.svc", &u), 0);
    ck_assert_str_eq(u.host, "cache.svc");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(u.db, 0);

    ck_assert_int_eq(dllm_redis_url_parse("redis://:s3cret@h:1/", &u), 0);
    ck_assert_str_eq(u.password, "s3cret");
    ck_assert_str_eq(u.host, "h");
    ck_assert_int_eq(u.port, 1);
    ck_assert_int_eq(dllm_redis_url_parse("redis://user:pw@h/2", &u), 0);
    ck_assert_str_eq(u.password, "pw");
    ck_assert_int_eq(u.db, 2);
    dllm_redis_url_describe(&u, buf, sizeof buf);
    ck_assert_str_eq(buf, "redis://h:6379/2");
    ck_assert_ptr_null(strstr(buf, "pw"));

    ck_assert_int_eq(dllm_redis_url_parse("unix:///run/redis.sock", &u), 0);
    ck_assert_int_eq(u.is_unix, 1);
    ck_assert_str_eq(u.path, "/run/redis.sock");
    dllm_redis_url_describe(&u, buf, sizeof buf);
    ck_assert_str_eq(buf, "unix:///run/redis.sock");
}
END_TEST

START_TEST(test_rejected)
{
    static const char *const bad[] = {
        "", "localhost:6379", "http://h:1", "redis://", "redis://:pw@", "redis://h:0",
        "redis://h:65536", "redis://h:12x", "redis://h:/", "redis://h/x", "redis://h/1001",
        "redis://h/-1", "unix://",
    };
    dllm_redis_url u;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dllm_redis_url_parse(bad[i], &u) == -1, "accepted '%s'", bad[i]);
    ck_assert_int_eq(dllm_redis_url_parse(NULL, &u), -1);
    char longhost[400] = "redis://";
    memset(longhost + 8, 'a', 300);
    ck_assert_int_eq(dllm_redis_url_parse(longhost, &u), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("redis_url");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_accepted);
    tcase_add_test(tc, test_rejected);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
