/* test_directory.c -- the prompt-slot directory (worker/directory.c) against a real
 * redis-server started by the test on loopback (a unix socket in a temporary directory,
 * or a free TCP port with a password).
 *
 * - two workers' directories sharing one server: publish, lookup, single-flight claims,
 *   removal on eviction, heartbeats keeping entries past the lease TTL;
 * - a worker process killed with SIGKILL: its lease and entries expire, and lookups
 *   report no holder (and delete the dead field);
 * - a restart under the same worker id takes the lease over: the old incarnation's entries
 *   are dead at once and the old process stops publishing (lease conflict);
 * - Redis down: lookups answer from the local table, claims are granted locally, errors
 *   are counted; Redis back (empty): the worker reconnects with backoff and republishes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "directory.h"
#include "testutil.h"

static char tmpdir[256], sock[300];

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static redisContext *raw_connect(int port, const char *pw)
{
    struct timeval tv = {0, 200000};
    redisContext *c = port ? redisConnectWithTimeout("127.0.0.1", port, tv)
                           : redisConnectUnixWithTimeout(sock, tv);
    if (c == NULL || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    if (pw) {
        redisReply *r = redisCommand(c, "AUTH %s", pw);
        if (r) freeReplyObject(r);
    }
    return c;
}

/* Starts redis-server on the unix socket (port 0) or on a TCP port with a password. */
static pid_t start_redis(int port, const char *pw)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char portbuf[16];
        snprintf(portbuf, sizeof portbuf, "%d", port);
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (port)
            execlp("redis-server", "redis-server", "--port", portbuf, "--bind", "127.0.0.1",
                   "--requirepass", pw, "--save", "", "--appendonly", "no", "--dir", tmpdir,
                   (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save",
                   "", "--appendonly", "no", "--dir", tmpdir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        redisContext *c = raw_connect(port, pw);
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return pid;
        }
        msleep(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_abort_msg("redis-server did not start");
    return -1;
}

static void stop_redis(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(sock);
}

static long long raw_int(const char *fmt, const char *a, const char *b)
{
    redisContext *c = raw_connect(0, NULL);
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, fmt, a, b);
    ck_assert_ptr_nonnull(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

static void key_of(uint8_t k[32], int v)
{
    for (int i = 0; i < 32; i++) k[i] = (uint8_t)(v * 31 + i);
}

static char *khex(const uint8_t k[32], char *out)
{
    dllm_prefix_key_hex(k, out);
    return out;
}

static dllm_directory *open_dir(const char *url, const char *wid, int64_t ttl)
{
    dllm_directory_config c = {url, wid, NULL, ttl, 2000};
    dllm_directory *d = NULL;
    char err[256];
    ck_assert_msg(dllm_directory_new(&c, &d, err, sizeof err) == DLLM_OK, "%s", err);
    return d;
}

static void held(dllm_slot_info *h, int v, int ntok)
{
    memset(h, 0, sizeof *h);
    key_of(h->key, v);
    h->n_tokens = ntok;
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dllm-dir-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(sock, sizeof sock, "%s/redis.sock", tmpdir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
}

START_TEST(two_workers_crash_and_takeover)
{
    const int64_t TTL = 600;
    char url[320], kh[65], lease_key[64];
    dllm_directory_holder hs[4];
    dllm_slot_info h1[2], h2[1], h3[1];
    dllm_directory_stats st;
    uint8_t k1[32], k2[32], k3[32], k4[32];
    setup();
    pid_t redis = start_redis(0, NULL);
    snprintf(url, sizeof url, "unix://%s", sock);
    key_of(k1, 1);
    key_of(k2, 2);
    key_of(k3, 3);
    key_of(k4, 4);

    dllm_directory *d1 = open_dir(url, "w1", TTL), *d2 = open_dir(url, "w2", TTL);
    held(&h1[0], 1, 24);
    held(&h1[1], 2, 30);
    h1[1].pinned = 1;
    held(&h2[0], 2, 30);
    dllm_directory_tick(d1, h1, 2);
    dllm_directory_tick(d2, h2, 1);
    ck_assert_uint_eq(dllm_directory_lookup(d2, k1, hs, 4), 1);
    ck_assert_str_eq(hs[0].worker_id, "w1");
    ck_assert_int_eq(hs[0].n_tokens, 24);
    ck_assert_uint_eq(dllm_directory_lookup(d1, k2, hs, 4), 2);
    ck_assert_uint_eq(dllm_directory_lookup(d1, k3, hs, 4), 0);
    ck_assert_int_eq(raw_int("HLEN dllm:pc:slot:%s", khex(k2, kh), NULL), 2);

    /* single flight: the first claim wins, others lose until it is given back */
    ck_assert_int_eq(dllm_directory_claim(d2, k3), 1);
    ck_assert_int_eq(dllm_directory_claim(d1, k3), 0);
    ck_assert_int_eq(dllm_directory_claim(d2, k3), 1); /* still ours */
    dllm_directory_stats_get(d1, &st);
    ck_assert_uint_eq(st.claims_lost, 1);
    /* publishing the built prefix gives the claim back */
    dllm_slot_info h2b[2] = {h2[0]};
    held(&h2b[1], 3, 12);
    dllm_directory_tick(d2, h2b, 2);
    ck_assert_int_eq(raw_int("EXISTS dllm:pc:claim:%s", khex(k3, kh), NULL), 0);
    ck_assert_int_eq(dllm_directory_claim(d1, k3), 1);

    /* removal on eviction: w1 evicts k2 */
    dllm_directory_tick(d1, h1, 1);
    ck_assert_uint_eq(dllm_directory_lookup(d2, k2, hs, 4), 1);
    ck_assert_str_eq(hs[0].worker_id, "w2");
    dllm_directory_stats_get(d1, &st);
    ck_assert_uint_eq(st.removed, 1);

    /* a third worker in its own process, killed with SIGKILL */
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        dllm_directory *d3 = open_dir(url, "w3", TTL);
        held(&h3[0], 4, 8);
        dllm_directory_tick(d3, h3, 1);
        if (write(pfd[1], "x", 1) != 1) _exit(1);
        for (;;) pause();
    }
    char c;
    ck_assert_int_eq(read(pfd[0], &c, 1), 1);
    ck_assert_uint_eq(dllm_directory_lookup(d1, k4, hs, 4), 1);
    ck_assert_str_eq(hs[0].worker_id, "w3");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* the survivors heartbeat through 3 lease TTLs; the dead one's lease and hash expire */
    for (int i = 0; i < 3 * TTL / 100; i++) {
        dllm_directory_tick(d1, h1, 1);
        dllm_directory_tick(d2, h2b, 2);
        msleep(100);
    }
    ck_assert_int_eq(raw_int("EXISTS dllm:pc:lease:%s", "w3", NULL), 0);
    ck_assert_int_eq(raw_int("EXISTS dllm:pc:slot:%s", khex(k4, kh), NULL), 0);
    ck_assert_uint_eq(dllm_directory_lookup(d1, k4, hs, 4), 0);
    ck_assert_uint_eq(dllm_directory_lookup(d2, k1, hs, 4), 1); /* kept alive */
    ck_assert_uint_eq(dllm_directory_lookup(d1, k3, hs, 4), 1);
    dllm_directory_stats_get(d1, &st);
    ck_assert_uint_ge(st.heartbeats, 6);
    ck_assert_uint_eq(st.redis_errors, 0);

    /* a restart of w1 (new nonce) takes the lease over: the old incarnation's entries are
     * dead at once, and the old process stops publishing */
    dllm_directory *d1b = open_dir(url, "w1", TTL);
    dllm_directory_tick(d1b, NULL, 0);
    ck_assert_uint_eq(dllm_directory_lookup(d2, k1, hs, 4), 0);
    dllm_directory_stats_get(d2, &st);
    ck_assert_uint_ge(st.stale_removed, 1);
    msleep((int)TTL / 3 + 50);
    dllm_directory_tick(d1, h1, 1); /* heartbeat: lease lost, SET NX fails */
    dllm_directory_stats_get(d1, &st);
    ck_assert_uint_eq(st.lease_conflicts, 1);
    snprintf(lease_key, sizeof lease_key, "dllm:pc:lease:w1");
    {
        redisContext *rc = raw_connect(0, NULL);
        redisReply *r = redisCommand(rc, "GET %s", lease_key);
        ck_assert_str_eq(r->str, dllm_directory_nonce(d1b));
        freeReplyObject(r);
        redisFree(rc);
    }
    ck_assert_uint_eq(dllm_directory_lookup(d2, k1, hs, 4), 0);

    /* graceful stop deletes the lease and the entries */
    dllm_directory_free(d2);
    ck_assert_int_eq(raw_int("EXISTS dllm:pc:lease:%s", "w2", NULL), 0);
    ck_assert_uint_eq(dllm_directory_lookup(d1b, k2, hs, 4), 0);
    dllm_directory_free(d1);
    dllm_directory_free(d1b);
    stop_redis(redis);
    teardown();
}
END_TEST

START_TEST(redis_down_and_back)
{
    char url[320];
    dllm_directory_holder hs[4];
    dllm_slot_info h1[1];
    dllm_directory_stats st;
    uint8_t k1[32], k9[32];
    setup();
    pid_t redis = start_redis(0, NULL);
    snprintf(url, sizeof url, "unix://%s", sock);
    key_of(k1, 1);
    key_of(k9, 9);
    dllm_directory *d1 = open_dir(url, "w1", 1000);
    held(&h1[0], 1, 24);
    dllm_directory_tick(d1, h1, 1);
    ck_assert_uint_eq(dllm_directory_lookup(d1, k1, hs, 4), 1);

    stop_redis(redis);
    /* serving goes on: local answers, local claims, counted errors */
    dllm_directory_tick(d1, h1, 1);
    ck_assert_uint_eq(dllm_directory_lookup(d1, k1, hs, 4), 1);
    ck_assert_str_eq(hs[0].worker_id, "w1");
    ck_assert_uint_eq(dllm_directory_lookup(d1, k9, hs, 4), 0);
    ck_assert_int_eq(dllm_directory_claim(d1, k9), 1);
    dllm_directory_stats_get(d1, &st);
    ck_assert_int_eq(st.redis_up, 0);
    ck_assert_uint_ge(st.redis_errors, 1);
    for (int i = 0; i < 5; i++) {
        dllm_directory_tick(d1, h1, 1);
        msleep(50);
    }

    /* back, empty: reconnect within the backoff and republish */
    redis = start_redis(0, NULL);
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        dllm_directory_tick(d1, h1, 1);
        dllm_directory_stats_get(d1, &st);
        up = st.redis_up;
        msleep(100);
    }
    ck_assert_msg(up, "no reconnect within 10 s");
    dllm_directory *d2 = open_dir(url, "w2", 1000);
    ck_assert_uint_eq(dllm_directory_lookup(d2, k1, hs, 4), 1);
    ck_assert_str_eq(hs[0].worker_id, "w1");
    dllm_directory_free(d2);
    dllm_directory_free(d1);
    stop_redis(redis);
    teardown();
}
END_TEST

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
}

START_TEST(password_tcp_and_config)
{
    char url[320], err[256];
    dllm_directory_holder hs[2];
    dllm_slot_info h[1];
    dllm_directory_stats st;
    uint8_t k[32];
    setup();
    int port = free_port();
    pid_t redis = start_redis(port, "s3cret");
    snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%d/2", port);
    dllm_directory *d = open_dir(url, "w1", 1000);
    held(&h[0], 5, 16);
    key_of(k, 5);
    dllm_directory_tick(d, h, 1);
    ck_assert_uint_eq(dllm_directory_lookup(d, k, hs, 2), 1);
    dllm_directory_stats_get(d, &st);
    ck_assert_int_eq(st.redis_up, 1);
    ck_assert_uint_eq(st.redis_errors, 0);
    dllm_directory_free(d);
    /* a wrong password: counted, served locally */
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", port);
    d = open_dir(url, "w1", 1000);
    dllm_directory_tick(d, h, 1);
    ck_assert_uint_eq(dllm_directory_lookup(d, k, hs, 2), 1);
    dllm_directory_stats_get(d, &st);
    ck_assert_int_eq(st.redis_up, 0);
    ck_assert_uint_ge(st.redis_errors, 1);
    dllm_directory_free(d);
    stop_redis(redis);
    teardown();

    /* configuration errors */
    dllm_directory_config c = {"http://x", "w", NULL, 0, 0};
    ck_assert_int_eq(dllm_directory_new(&c, &d, err, sizeof err), DLLM_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "redis://"));
    c.redis_url = NULL;
    c.worker_id = "";
    ck_assert_int_eq(dllm_directory_new(&c, &d, err, sizeof err), DLLM_E_CONFIG);
    /* no Redis: a local directory */
    c.worker_id = "solo";
    ck_assert_int_eq(dllm_directory_new(&c, &d, err, sizeof err), DLLM_OK);
    dllm_directory_tick(d, h, 1);
    ck_assert_uint_eq(dllm_directory_lookup(d, k, hs, 2), 1);
    ck_assert_int_eq(dllm_directory_claim(d, k), 1);
    dllm_directory_free(d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("directory");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, two_workers_crash_and_takeover);
    tcase_add_test(tc, redis_down_and_back);
    tcase_add_test(tc, password_tcp_and_config);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: redis-server not installed\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN); /* as the worker does: a dead Redis is an error, not a signal */
    return tu_run_suite(suite());
}
