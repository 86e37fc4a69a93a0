/* cli_loadgen.c -- `dllm loadgen`: a load generator for dllm-worker over Kafka.
 *
 * Produces N GenerateRequests (ids PREFIX-0 .. PREFIX-(N-1)) at a target rate or as fast as
 * possible, consumes the reply topic, matches replies to requests by request_id, and
 * prints throughput, client-side latency percentiles (p50/p90/p99/max, from the produce
 * call to the reply's arrival), the worker's own time and the engine time per request
 * (the reply's timings.worker_ms / engine_ms), and the lost and duplicate reply counts.
 * Exit status: 0 every request answered once or more with a result; 1 a reply is missing
 * after --timeout, or an error reply arrived (unless --allow-errors), or Kafka failed;
 * 2 usage.
 *
 * DESIGN
 * ------
 * - One thread, one loop: send what the schedule says is due (request i is due at
 *   start + i / rate; all at once with --rate 0), serve the producer's delivery reports,
 *   take every reply that is there, and wait for a reply only until the next send is due.
 * - The reply consumer is assigned at the reply partitions' high watermarks before the
 *   first send (cli_kafka_assign_end), so no reply can be missed and none of an earlier run
 *   is counted; replies whose id is not ours are counted as foreign and skipped.
 * - Ids carry their index (PREFIX-i), so matching is a parse, not a search.
 * - A reply counts as a duplicate when its id was already answered; the loop lingers
 *   --linger-ms after the last first reply to catch late duplicates.
 * - Percentiles: nearest rank over the sorted samples.
 * - Warm-up: the first requests of a fresh client wait for its producer id, topic
 *   metadata and the first fetches of both sides (about a second on the dev broker), so
 *   --warmup requests run first with their own ids and are left out of the figures.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "dllm/v1/generate.pb-c.h"

#define MAX_N 10000000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dllm loadgen --bootstrap HOST:PORT [options] [--prompt TEXT | --prompt-ids "
            "LIST]\n\n"
            "  --bootstrap LIST        Kafka bootstrap servers (default $DLLM_BOOTSTRAP)\n"
            "  --topic NAME            requests topic (default dllm.requests)\n"
            "  --reply-topic NAME      reply topic (default dllm.replies)\n"
            "  --n N                   requests to send (default 1000)\n"
            "  --rate R                requests per second (default 0: as fast as possible)\n"
            "  --max-in-flight C       at most C requests unanswered at once (default 0: no "
            "limit)\n"
            "  --timeout SEC           wait at most SEC after the last send (default 60)\n"
            "  --linger-ms MS          keep reading MS after the last reply, for duplicates "
            "(default 200)\n"
            "  --prompt TEXT           user message (default \"What is 2+2?\")\n"
            "  --system TEXT           system message\n"
            "  --raw                   no chat template\n"
            "  --prompt-ids LIST       prompt token ids instead of text\n"
            "  --id-prefix P           request ids P-0 .. P-(N-1) (default lg-PID-TIME)\n"
            "  --warmup W              first send W requests (ids P-warmup-i), wait for their\n"
            "                          replies, and leave them out of the figures (default 10)\n"
            "  --kafka-prop K=V        librdkafka property for producer and consumer "
            "(repeatable)\n"
            "  --allow-errors          error replies do not fail the run\n"
            "  --json                  print the summary as one JSON object\n");
    fprintf(f, "generation flags (as in dllm generate; --backend and --threads do not apply):\n");
    cli_gen_usage(f);
    fprintf(f, "  -h, --help              this help\n\n"
               "Exit status: 0 all answered, 1 a reply lost (or an error reply), 2 usage.\n");
}

enum {
    OPT_BOOTSTRAP = CLI_OPT_FIRST_LOCAL, OPT_TOPIC, OPT_REPLY_TOPIC, OPT_N, OPT_RATE,
    OPT_INFLIGHT, OPT_TIMEOUT, OPT_LINGER, OPT_PROMPT, OPT_SYSTEM, OPT_RAW, OPT_IDS,
    OPT_PREFIX, OPT_KPROP, OPT_ALLOW_ERRORS, OPT_JSON, OPT_WARMUP
};

static const struct option opts[] = {
    CLI_GEN_OPTIONS,
    {"bootstrap", required_argument, 0, OPT_BOOTSTRAP},
    {"topic", required_argument, 0, OPT_TOPIC},
    {"reply-topic", required_argument, 0, OPT_REPLY_TOPIC},
    {"n", required_argument, 0, OPT_N},
    {"rate", required_argument, 0, OPT_RATE},
    {"max-in-flight", required_argument, 0, OPT_INFLIGHT},
    {"timeout", required_argument, 0, OPT_TIMEOUT},
    {"linger-ms", required_argument, 0, OPT_LINGER},
    {"prompt", required_argument, 0, OPT_PROMPT},
    {"system", required_argument, 0, OPT_SYSTEM},
    {"raw", no_argument, 0, OPT_RAW},
    {"prompt-ids", required_argument, 0, OPT_IDS},
    {"id-prefix", required_argument, 0, OPT_PREFIX},
    {"kafka-prop", required_argument, 0, OPT_KPROP},
    {"allow-errors", no_argument, 0, OPT_ALLOW_ERRORS},
    {"json", no_argument, 0, OPT_JSON},
    {"warmup", required_argument, 0, OPT_WARMUP},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* Per-request state. */
typedef struct lg_req {
    int64_t sent_ns;   /* produce call; 0 = not sent */
    uint32_t replies;  /* replies seen */
    float lat_ms;      /* first reply - send */
    float worker_ms, engine_ms;
    uint8_t error;     /* first reply was an error */
} lg_req;

typedef struct lg {
    const char *topic, *reply_topic, *prefix;
    size_t prefix_len;
    int64_t n;
    lg_req *req;
    rd_kafka_t *prod, *cons;
    int64_t sent, answered, dups, errors, foreign, not_delivered;
    int64_t first_send_ns, last_reply_ns;
} lg;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    lg *g = opaque;
    (void)rk;
    if (m->err) {
        if (g->not_delivered++ == 0)
            fprintf(stderr, "dllm loadgen: request not delivered: %s\n",
                    rd_kafka_err2str(m->err));
    }
}

/* Index of an id PREFIX-i of ours, or -1. */
static int64_t id_index(const lg *g, const char *id)
{
    char *end = NULL;
    long long v;
    if (strncmp(id, g->prefix, g->prefix_len) != 0 || id[g->prefix_len] != '-') return -1;
    id += g->prefix_len + 1;
    if (*id < '0' || *id > '9') return -1;
    v = strtoll(id, &end, 10);
    if (*end != '\0' || v < 0 || v >= g->n) return -1;
    return (int64_t)v;
}

static void take_reply(lg *g, const rd_kafka_message_t *km, int64_t now)
{
    Dllm__V1__GenerateResponse *r;
    int64_t i;
    lg_req *q;

    if (km->err) {
        if (km->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            fprintf(stderr, "dllm loadgen: consumer: %s\n", rd_kafka_message_errstr(km));
        return;
    }
    r = dllm__v1__generate_response__unpack(NULL, km->len, km->payload);
    if (r == NULL || r->request_id == NULL || (i = id_index(g, r->request_id)) < 0 ||
        g->req[i].sent_ns == 0) {
        g->foreign++;
        if (r) dllm__v1__generate_response__free_unpacked(r, NULL);
        return;
    }
    q = &g->req[i];
    if (q->replies++ > 0) {
        g->dups++;
    } else {
        g->answered++;
        g->last_reply_ns = now;
        q->lat_ms = (float)((double)(now - q->sent_ns) / 1e6);
        if (r->outcome_case == DLLM__V1__GENERATE_RESPONSE__OUTCOME_RESULT) {
            const Dllm__V1__Timings *t = r->result->timings;
            q->worker_ms = t && t->has_worker_ms ? (float)t->worker_ms : NAN;
            q->engine_ms = t && t->has_engine_ms ? (float)t->engine_ms : NAN;
        } else {
            q->error = 1;
            q->worker_ms = q->engine_ms = NAN;
            if (g->errors++ == 0 && r->error != NULL)
                fprintf(stderr, "dllm loadgen: error reply for %s: %s\n", r->request_id,
                        r->error->message ? r->error->message : "?");
        }
    }
    dllm__v1__generate_response__free_unpacked(r, NULL);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n]; NAN when empty. */
static double pct(const float *v, size_t n, double p)
{
    size_t k;
    if (n == 0) return NAN;
    k = (size_t)ceil(p / 100.0 * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

typedef struct dist {
    size_t n;
    double p50, p90, p99, max, mean;
} dist;

/* Distribution of the field at byte offset off of every answered, non-error request. */
static dist distribution(const lg *g, size_t off)
{
    dist d = {0, NAN, NAN, NAN, NAN, NAN};
    float *v = malloc((size_t)(g->n ? g->n : 1) * sizeof *v);
    double sum = 0;
    if (v == NULL) return d;
    for (int64_t i = 0; i < g->n; i++) {
        const lg_req *q = &g->req[i];
        float x;
        if (q->replies == 0 || q->error) continue;
        memcpy(&x, (const char *)q + off, sizeof x);
        if (isnan(x)) continue;
        v[d.n++] = x;
        sum += x;
    }
    if (d.n > 0) {
        qsort(v, d.n, sizeof *v, cmp_float);
        d.p50 = pct(v, d.n, 50);
        d.p90 = pct(v, d.n, 90);
        d.p99 = pct(v, d.n, 99);
        d.max = v[d.n - 1];
        d.mean = sum / (double)d.n;
    }
    free(v);
    return d;
}

static void json_dist(cJSON *o, const char *name, const dist *d)
{
    cJSON *x = cJSON_AddObjectToObject(o, name);
    if (x == NULL) return;
    cJSON_AddNumberToObject(x, "n", (double)d->n);
    if (d->n == 0) return;
    cJSON_AddNumberToObject(x, "p50", d->p50);
    cJSON_AddNumberToObject(x, "p90", d->p90);
    cJSON_AddNumberToObject(x, "p99", d->p99);
    cJSON_AddNumberToObject(x, "max", d->max);
    cJSON_AddNumberToObject(x, "mean", d->mean);
}

static void print_dist(const char *what, const dist *d)
{
    if (d->n == 0) {
        printf("loadgen: %-14s (no samples)\n", what);
        return;
    }
    printf("loadgen: %-14s p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f\n", what, d->p50,
           d->p90, d->p99, d->max, d->mean);
}

static int report(const lg *g, double rate, int json)
{
    int64_t lost = g->n - g->answered;
    double span = g->answered > 0 ? (double)(g->last_reply_ns - g->first_send_ns) / 1e9 : 0;
    double tput = span > 0 ? (double)g->answered / span : 0;
    dist lat = distribution(g, offsetof(lg_req, lat_ms));
    dist wk = distribution(g, offsetof(lg_req, worker_ms));
    dist en = distribution(g, offsetof(lg_req, engine_ms));

    if (json) {
        cJSON *o = cJSON_CreateObject();
        char *s;
        if (o == NULL) return -1;
        cJSON_AddNumberToObject(o, "sent", (double)g->sent);
        cJSON_AddNumberToObject(o, "answered", (double)g->answered);
        cJSON_AddNumberToObject(o, "lost", (double)lost);
        cJSON_AddNumberToObject(o, "duplicates", (double)g->dups);
        cJSON_AddNumberToObject(o, "errors", (double)g->errors);
        cJSON_AddNumberToObject(o, "not_delivered", (double)g->not_delivered);
        cJSON_AddNumberToObject(o, "foreign", (double)g->foreign);
        cJSON_AddNumberToObject(o, "target_rate", rate);
        cJSON_AddNumberToObject(o, "elapsed_s", span);
        cJSON_AddNumberToObject(o, "throughput_rps", tput);
        json_dist(o, "latency_ms", &lat);
        json_dist(o, "worker_ms", &wk);
        json_dist(o, "engine_ms", &en);
        s = cJSON_PrintUnformatted(o);
        if (s) puts(s);
        free(s);
        cJSON_Delete(o);
        return 0;
    }
    printf("loadgen: sent %lld  answered %lld  lost %lld  duplicates %lld  errors %lld\n",
           (long long)g->sent, (long long)g->answered, (long long)lost, (long long)g->dups,
           (long long)g->errors);
    printf("loadgen: throughput %.1f replies/s over %.3f s (target rate %s)\n", tput, span,
           rate > 0 ? "set" : "unlimited");
    print_dist("latency ms", &lat);
    print_dist("worker ms", &wk);
    print_dist("engine ms", &en);
    return 0;
}

/* Sends request i. 0, or -1 on a Kafka/memory failure (message printed). */
static int send_one(lg *g, cli_request *cr, int64_t i)
{
    char id[256];
    uint8_t *buf = NULL;
    size_t n = 0;
    rd_kafka_resp_err_t e;

    snprintf(id, sizeof id, "%s-%lld", g->prefix, (long long)i);
    cr->request_id = id;
    if (cli_pack_request(cr, &buf, &n)) {
        fprintf(stderr, "dllm loadgen: out of memory\n");
        return -1;
    }
    g->req[i].sent_ns = mono_ns();
    if (g->first_send_ns == 0) g->first_send_ns = g->req[i].sent_ns;
    for (;;) {
        e = rd_kafka_producev(
            g->prod, RD_KAFKA_V_TOPIC(g->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(buf, n), RD_KAFKA_V_KEY(id, strlen(id)),
            RD_KAFKA_V_HEADER("correlation-id", id, -1),
            RD_KAFKA_V_HEADER("reply-to", g->reply_topic, -1),
            RD_KAFKA_V_HEADER("content-type", "application/x-protobuf; dllm.v1.GenerateRequest",
                              -1),
            RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(g->prod, 10);
    }
    free(buf);
    if (e) {
        fprintf(stderr, "dllm loadgen: produce failed: %s\n", rd_kafka_err2str(e));
        g->req[i].sent_ns = 0;
        return -1;
    }
    g->sent++;
    return 0;
}

/* The send/receive loop. 0, or -1 on a Kafka failure. */
static int run(lg *g, cli_request *cr, double rate, int64_t max_inflight, double timeout_s,
               int64_t linger_ms)
{
    int64_t start = mono_ns(), next = 0, last_send = start;
    for (;;) {
        int64_t now = mono_ns(), wait_ms = 10;
        rd_kafka_message_t *km;
        /* send what is due */
        while (next < g->n && (max_inflight <= 0 || g->sent - g->answered < max_inflight)) {
            int64_t due = rate > 0 ? start + (int64_t)((double)next * 1e9 / rate) : now;
            if (due > now) {
                /* round up: waiting 0 ms here would spin a core the worker needs */
                int64_t ms = (due - now + 999999) / 1000000;
                if (ms < wait_ms) wait_ms = ms;
                break;
            }
            if (send_one(g, cr, next)) return -1;
            next++;
            last_send = mono_ns();
            if (rate <= 0 && next % 64 == 0) break; /* take replies now and then */
        }
        rd_kafka_poll(g->prod, 0);
        if (next < g->n && rate <= 0 &&
            (max_inflight <= 0 || g->sent - g->answered < max_inflight))
            wait_ms = 0; /* more to send at once */
        km = rd_kafka_consumer_poll(g->cons, (int)wait_ms);
        while (km != NULL) {
            take_reply(g, km, mono_ns());
            rd_kafka_message_destroy(km);
            km = rd_kafka_consumer_poll(g->cons, 0);
        }
        now = mono_ns();
        if (next >= g->n) {
            if (g->answered >= g->n && now - g->last_reply_ns >= linger_ms * 1000000) break;
            if ((double)(now - last_send) / 1e9 > timeout_s) break;
        }
    }
    return 0;
}

int cli_loadgen(int argc, char **argv)
{
    const char *bootstrap = getenv("DLLM_BOOTSTRAP"), *model_flag = NULL, *ids_arg = NULL;
    char **props = NULL, prefix[128], warm_prefix[160], errstr[512];
    size_t n_props = 0;
    lg g;
    cli_request cr;
    dllm_engine_config ec;
    unsigned cache_seen = 0;
    int64_t v, max_inflight = 0, linger_ms = 200, warmup = 10;
    double rate = 0, timeout_s = 60;
    int ch, ret = CLI_FAIL, json = 0, allow_errors = 0;
    rd_kafka_conf_t *pconf = NULL, *cconf = NULL;

    memset(&g, 0, sizeof g);
    memset(&cr, 0, sizeof cr);
    g.topic = "dllm.requests";
    g.reply_topic = "dllm.replies";
    g.n = 1000;
    cr.prompt = "What is 2+2?";
    dllm_engine_config_init(&ec);
    dllm_gen_params_init(&cr.gp);
    snprintf(prefix, sizeof prefix, "lg-%d-%lld", (int)getpid(), (long long)unix_ms());
    g.prefix = prefix;
    props = calloc((size_t)argc + 1, sizeof *props);
    if (props == NULL) goto out;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r;
        if (ch == CLI_OPT_BACKEND || ch == CLI_OPT_THREADS) {
            fprintf(stderr, "dllm loadgen: %s applies to the worker, not to a request\n",
                    argv[optind - 1]);
            goto usage_err;
        }
        r = cli_gen_flag("loadgen", ch, optarg, &ec, &cr.gp, &model_flag, &cache_seen);
        if (r < 0) goto usage_err;
        if (r > 0) continue;
        switch (ch) {
        case OPT_BOOTSTRAP: bootstrap = optarg; break;
        case OPT_TOPIC: g.topic = optarg; break;
        case OPT_REPLY_TOPIC: g.reply_topic = optarg; break;
        case OPT_N:
            if (cli_parse_i64("loadgen", "--n", optarg, 1, MAX_N, &g.n)) goto usage_err;
            break;
        case OPT_RATE: {
            char *end = NULL;
            rate = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(rate >= 0) || rate > 1e7) {
                fprintf(stderr, "dllm loadgen: --rate wants a number in [0, 1e7], got '%s'\n",
                        optarg);
                goto usage_err;
            }
            break;
        }
        case OPT_INFLIGHT:
            if (cli_parse_i64("loadgen", "--max-in-flight", optarg, 0, MAX_N, &max_inflight))
                goto usage_err;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_i64("loadgen", "--timeout", optarg, 1, 86400, &v)) goto usage_err;
            timeout_s = (double)v;
            break;
        case OPT_LINGER:
            if (cli_parse_i64("loadgen", "--linger-ms", optarg, 0, 600000, &linger_ms))
                goto usage_err;
            break;
        case OPT_PROMPT: cr.prompt = optarg; break;
        case OPT_SYSTEM: cr.system = optarg; break;
        case OPT_RAW: cr.raw = 1; break;
        case OPT_IDS: ids_arg = optarg; break;
        case OPT_PREFIX:
            if (optarg[0] == '\0' || strlen(optarg) > 100) {
                fprintf(stderr, "dllm loadgen: --id-prefix must be 1..100 characters\n");
                goto usage_err;
            }
            g.prefix = optarg;
            break;
        case OPT_KPROP: props[n_props++] = optarg; break;
        case OPT_ALLOW_ERRORS: allow_errors = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_WARMUP:
            if (cli_parse_i64("loadgen", "--warmup", optarg, 0, 100000, &warmup))
                goto usage_err;
            break;
        case 'h':
            usage(stdout);
            ret = CLI_OK;
            goto out;
        default:
            fprintf(stderr, "dllm loadgen: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            goto usage_err;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dllm loadgen: unexpected argument '%s'\n", argv[optind]);
        goto usage_err;
    }
    if (bootstrap == NULL || bootstrap[0] == '\0') {
        fprintf(stderr, "dllm loadgen: --bootstrap is required (or set DLLM_BOOTSTRAP)\n");
        goto usage_err;
    }
    if (ids_arg != NULL) {
        if (cli_parse_ids("loadgen", ids_arg, &cr.ids, &cr.n_ids)) goto usage_err;
        cr.prompt = NULL;
    }
    if (cli_gen_check("loadgen", &cr.gp, cache_seen)) goto usage_err;
    if (dllm_gen_params_validate(&cr.gp, errstr, sizeof errstr) != DLLM_OK) {
        fprintf(stderr, "dllm loadgen: %s\n", errstr);
        goto usage_err;
    }
    cr.model = model_flag;
    cr.reply_topic = g.reply_topic;
    snprintf(warm_prefix, sizeof warm_prefix, "%s-warmup", g.prefix);
    g.req = calloc((size_t)(g.n > warmup ? g.n : warmup), sizeof *g.req);
    if (g.req == NULL) {
        fprintf(stderr, "dllm loadgen: out of memory for %lld requests\n", (long long)g.n);
        goto out;
    }

    pconf = rd_kafka_conf_new();
    cconf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(pconf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(cconf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(pconf, "enable.idempotence", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(pconf, "linger.ms", "1", errstr, sizeof errstr) ||
        rd_kafka_conf_set(cconf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(cconf, "enable.partition.eof", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(cconf, "fetch.wait.max.ms", "10", errstr, sizeof errstr) ||
        rd_kafka_conf_set(cconf, "group.id", "dllm-loadgen", errstr, sizeof errstr)) {
        fprintf(stderr, "dllm loadgen: %s\n", errstr);
        goto out;
    }
    if (cli_kafka_props(pconf, props, n_props) || cli_kafka_props(cconf, props, n_props))
        goto out;
    rd_kafka_conf_set_dr_msg_cb(pconf, dr_cb);
    rd_kafka_conf_set_opaque(pconf, &g);
    g.prod = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    if (g.prod == NULL) {
        fprintf(stderr, "dllm loadgen: %s\n", errstr);
        goto out;
    }
    pconf = NULL; /* owned by g.prod */
    g.cons = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof errstr);
    if (g.cons == NULL) {
        fprintf(stderr, "dllm loadgen: %s\n", errstr);
        goto out;
    }
    cconf = NULL; /* owned by g.cons */
    rd_kafka_poll_set_consumer(g.cons);
    if (cli_kafka_assign_end(g.cons, g.reply_topic)) goto out;

    if (warmup > 0) {
        const char *main_prefix = g.prefix;
        int64_t n = g.n;
        g.prefix = warm_prefix;
        g.prefix_len = strlen(warm_prefix);
        g.n = warmup;
        if (run(&g, &cr, 0, 0, timeout_s, 0)) goto out;
        if (g.answered < g.n) {
            fprintf(stderr, "dllm loadgen: %lld of %lld warm-up replies missing after %.0f s; "
                            "is a worker consuming %s?\n", (long long)(g.n - g.answered),
                    (long long)g.n, timeout_s, g.topic);
            goto out;
        }
        memset(g.req, 0, (size_t)warmup * sizeof *g.req);
        g.sent = g.answered = g.dups = g.errors = g.foreign = g.not_delivered = 0;
        g.first_send_ns = g.last_reply_ns = 0;
        g.prefix = main_prefix;
        g.n = n;
    }
    g.prefix_len = strlen(g.prefix);
    if (run(&g, &cr, rate, max_inflight, timeout_s, linger_ms)) goto out;
    report(&g, rate, json);
    fflush(stdout);
    if (g.answered < g.n)
        fprintf(stderr, "dllm loadgen: %lld of %lld replies missing\n",
                (long long)(g.n - g.answered), (long long)g.n);
    ret = g.answered == g.n && g.not_delivered == 0 && (allow_errors || g.errors == 0)
              ? CLI_OK
              : CLI_FAIL;
    goto out;
usage_err:
    fputc('\n', stderr);
    usage(stderr);
    ret = CLI_USAGE;
out:
    if (g.cons) {
        rd_kafka_consumer_close(g.cons);
        rd_kafka_destroy(g.cons);
    }
    if (g.prod) {
        rd_kafka_flush(g.prod, 5000);
        rd_kafka_destroy(g.prod);
    }
    if (pconf) rd_kafka_conf_destroy(pconf);
    if (cconf) rd_kafka_conf_destroy(cconf);
    free(cr.ids);
    free(g.req);
    free(props);
    return ret;
}
