/* devbroker.c -- dllm-devbroker: a loopback Kafka broker for development and tests.
 *
 * Holds a librdkafka mock cluster (rdkafka_mock.h) whose brokers listen on loopback TCP
 * ports, creates the topics asked for, prints the bootstrap address as the first line of
 * standard output and runs until SIGTERM/SIGINT. Any Kafka client (dllm-worker, kcat,
 * confluent-kafka) can use it; nothing is persisted.
 *
 *   dllm-devbroker --topics dllm.requests:4,dllm.replies:1 [--brokers 3]
 *                  [--inject APIKEY:ERROR:COUNT,...]
 *
 * Fault injection (for tests): --inject at start, or the same commands at any time as
 * lines on standard input:
 *   inject APIKEY ERROR COUNT   the next COUNT requests with that ApiKey (0 Produce,
 *                               1 Fetch, 8 OffsetCommit, 11 JoinGroup, 12 Heartbeat, ...)
 *                               fail with ERROR (a librdkafka error name such as
 *                               NOT_ENOUGH_REPLICAS, LEADER_NOT_AVAILABLE or _TRANSPORT)
 *   down ID | up ID             take broker ID (1-based) down / up
 *   rtt ID MS                   add MS of round-trip time to broker ID
 * Each command is acknowledged on stderr ("devbroker: ok ..." or an error).
 *
 * DESIGN
 * ------
 * - No signal handler and no global: SIGTERM/SIGINT are blocked and collected with
 *   sigtimedwait() between polls of standard input. Standard input is unbuffered: with
 *   stdio buffering, two commands arriving together were read at once and the second one
 *   sat in the buffer, unseen by poll(), until more input came.
 * - The mock API is experimental in librdkafka 2.0.2 (no Admin API; topics must be created
 *   here); see docs/worker.md.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_INJECT 1024

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dllm-devbroker --topics NAME:PARTITIONS[,...] [--brokers N]\n"
            "                      [--inject APIKEY:ERROR:COUNT[,...]]\n\n"
            "Runs a loopback Kafka cluster (librdkafka mock) and prints its bootstrap\n"
            "address as the first line of stdout; stops on SIGTERM/SIGINT. Commands on\n"
            "stdin: 'inject APIKEY ERROR COUNT', 'down ID', 'up ID', 'rtt ID MS'.\n");
}

/* librdkafka error code from its name ("NOT_ENOUGH_REPLICAS", "_TRANSPORT"); 0 if none.
 * Kafka's current names that librdkafka 2.0.2 spells the old way are accepted too. */
static int err_from_name(const char *name, rd_kafka_resp_err_t *out)
{
    static const char *const alias[][2] = {
        {"NOT_LEADER_OR_FOLLOWER", "NOT_LEADER_FOR_PARTITION"},
    };
    const struct rd_kafka_err_desc *descs = NULL;
    size_t n = 0;
    const char *nm = name;

    if (strncmp(nm, "RD_KAFKA_RESP_ERR_", 18) == 0) nm += 18;
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(nm, alias[i][0]) == 0) nm = alias[i][1];
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name != NULL && strcmp(descs[i].name, nm) == 0) {
            *out = descs[i].code;
            return 1;
        }
    }
    return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int do_inject(rd_kafka_mock_cluster_t *mc, const char *api, const char *err,
                     const char *cnt)
{
    long key, n;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t errs[MAX_INJECT];

    if (parse_int(api, 0, 32767, &key) || parse_int(cnt, 1, MAX_INJECT, &n)) {
        fprintf(stderr, "devbroker: bad inject '%s %s %s': APIKEY is 0..32767, COUNT 1..%d\n",
                api, err, cnt, MAX_INJECT);
        return -1;
    }
    if (!err_from_name(err, &e)) {
        fprintf(stderr, "devbroker: unknown error name '%s' (e.g. NOT_ENOUGH_REPLICAS, "
                        "_TRANSPORT)\n", err);
        return -1;
    }
    for (long i = 0; i < n; i++) errs[i] = e;
    rd_kafka_mock_push_request_errors_array(mc, (int16_t)key, (size_t)n, errs);
    fprintf(stderr, "devbroker: ok inject %ld %s %ld\n", key, err, n);
    return 0;
}

static int do_command(rd_kafka_mock_cluster_t *mc, int n_brokers, char *line)
{
    char *save = NULL, *w[4] = {0};
    int nw = 0;
    long id, ms;
    rd_kafka_resp_err_t e;

    for (char *t = strtok_r(line, " \t\r\n", &save); t && nw < 4;
         t = strtok_r(NULL, " \t\r\n", &save))
        w[nw++] = t;
    if (nw == 0) return 0;
    if (strcmp(w[0], "inject") == 0 && nw == 4) return do_inject(mc, w[1], w[2], w[3]);
    if ((strcmp(w[0], "down") == 0 || strcmp(w[0], "up") == 0) && nw == 2 &&
        parse_int(w[1], 1, n_brokers, &id) == 0) {
        e = w[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)id)
                           : rd_kafka_mock_broker_set_up(mc, (int32_t)id);
        fprintf(stderr, "devbroker: %s %s %ld: %s\n", e ? "failed" : "ok", w[0], id,
                rd_kafka_err2str(e));
        return e ? -1 : 0;
    }
    if (strcmp(w[0], "rtt") == 0 && nw == 3 && parse_int(w[1], 1, n_brokers, &id) == 0 &&
        parse_int(w[2], 0, 600000, &ms) == 0) {
        e = rd_kafka_mock_broker_set_rtt(mc, (int32_t)id, (int)ms);
        fprintf(stderr, "devbroker: %s rtt %ld %ld\n", e ? "failed" : "ok", id, ms);
        return e ? -1 : 0;
    }
    fprintf(stderr, "devbroker: unknown command '%s' (inject APIKEY ERROR COUNT | down ID | "
                    "up ID | rtt ID MS)\n", w[0]);
    return -1;
}

/* Creates the topics of "a:4,b:1"; returns 0 or -1 with a message. */
static int create_topics(rd_kafka_mock_cluster_t *mc, const char *spec)
{
    int ret = -1;
    char *copy = strdup(spec), *save = NULL;

    if (copy == NULL) return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(t, ':');
        long parts = 1;
        rd_kafka_resp_err_t e;
        if (colon != NULL) {
            *colon = '\0';
            if (parse_int(colon + 1, 1, 10000, &parts)) {
                fprintf(stderr, "dllm-devbroker: bad partition count in '%s:%s' (1..10000)\n",
                        t, colon + 1);
                goto out;
            }
        }
        if (t[0] == '\0') {
            fprintf(stderr, "dllm-devbroker: empty topic name in --topics '%s'\n", spec);
            goto out;
        }
        e = rd_kafka_mock_topic_create(mc, t, (int)parts, 1);
        if (e) {
            fprintf(stderr, "dllm-devbroker: cannot create topic '%s': %s\n", t,
                    rd_kafka_err2str(e));
            goto out;
        }
    }
    ret = 0;
out:
    free(copy);
    return ret;
}

int main(int argc, char **argv)
{
    const char *topics = NULL, *inject = NULL;
    long n_brokers = 1;
    int ret = 1, stdin_open = 1;
    char errstr[512];
    rd_kafka_conf_t *conf = NULL; /* configuration of the handle that owns the cluster */
    rd_kafka_t *rk = NULL;        /* the mock cluster's owner */
    rd_kafka_mock_cluster_t *mc = NULL;
    sigset_t sigs;
    struct timespec zero = {0, 0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "dllm-devbroker: '%s' needs a value or is unknown\n\n", a);
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--topics") == 0) {
            topics = argv[++i];
        } else if (strcmp(a, "--brokers") == 0) {
            if (parse_int(argv[++i], 1, 16, &n_brokers)) {
                fprintf(stderr, "dllm-devbroker: --brokers must be 1..16\n");
                return 2;
            }
        } else if (strcmp(a, "--inject") == 0) {
            inject = argv[++i];
        } else {
            fprintf(stderr, "dllm-devbroker: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }

    setvbuf(stdin, NULL, _IONBF, 0);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        goto fail_conf;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) goto fail_conf;
    conf = NULL; /* owned by rk now */
    mc = rd_kafka_mock_cluster_new(rk, (int)n_brokers);
    if (mc == NULL) {
        fprintf(stderr, "dllm-devbroker: cannot create the mock cluster\n");
        goto out;
    }
    if (topics != NULL && create_topics(mc, topics)) goto out;
    if (inject != NULL) {
        char *copy = strdup(inject), *save = NULL;
        int bad = copy == NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !bad;
             t = strtok_r(NULL, ",", &save)) {
            char *c1 = strchr(t, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (c2 == NULL) {
                fprintf(stderr, "dllm-devbroker: --inject wants APIKEY:ERROR:COUNT, got '%s'\n",
                        t);
                bad = 1;
                break;
            }
            *c1 = *c2 = '\0';
            bad = do_inject(mc, t, c1 + 1, c2 + 1) != 0;
        }
        free(copy);
        if (bad) goto out;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    for (;;) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int pr = stdin_open ? poll(&pfd, 1, 200) : (nanosleep(&(struct timespec){0, 200000000},
                                                               NULL), 0);
        if (sigtimedwait(&sigs, NULL, &zero) > 0) break;
        if (pr > 0) {
            char line[512];
            if (fgets(line, sizeof line, stdin) == NULL) {
                stdin_open = 0;
                continue;
            }
            do_command(mc, (int)n_brokers, line);
        }
    }
    ret = 0;
    goto out;
fail_conf:
    fprintf(stderr, "dllm-devbroker: %s\n", errstr);
out:
    if (mc != NULL) rd_kafka_mock_cluster_destroy(mc);
    if (rk != NULL) rd_kafka_destroy(rk);
    if (conf != NULL) rd_kafka_conf_destroy(conf);
    return ret;
}
