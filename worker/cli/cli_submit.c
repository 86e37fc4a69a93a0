/* cli_submit.c -- `dllm submit`: send generation requests to dllm-worker over Kafka and
 * print the replies.
 *
 * Builds a dllm.v1.GenerateRequest from the flags (the generation flags of `dllm
 * generate`), or one per line of a JSONL file, produces it to the requests topic with the
 * `correlation-id` and `reply-to` headers, waits for the reply with the same request_id
 * on the reply topic, and prints it: the text, or with --json the whole response (usage,
 * timings, error) as one JSON object per line. Exit status: 0 every reply is a result,
 * 1 an error reply (or a Kafka failure), 2 usage, 3 timed out waiting for a reply.
 *
 * DESIGN
 * ------
 * - The reply consumer uses assign(), not a group: before producing, it reads each reply
 *   partition's high watermark and starts there, so no reply can be missed and no group
 *   join (seconds) is paid. Other clients' replies on the same topic are skipped.
 * - Every parameter is sent explicitly (has_x = 1), from the same defaults
 *   (dllm_gen_params_init) the worker uses, so "what you ask is what runs".
 * - Compiled only with DLLM_WORKER (it needs librdkafka and the schema).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "dllm/v1/generate.pb-c.h"

#define MAX_PENDING 100000

enum { SUBMIT_TIMEOUT = 3 };

static void usage(FILE *f)
{
    fprintf(f, "usage: dllm submit --bootstrap HOST:PORT [options] (--prompt TEXT | --prompt-ids "
               "1,2,3 | --jsonl FILE)\n\n"
               "  --bootstrap LIST        Kafka bootstrap servers (default $DLLM_BOOTSTRAP)\n"
               "  --topic NAME            requests topic (default dllm.requests)\n"
               "  --reply-topic NAME      reply topic (default dllm.replies)\n"
               "  --timeout SEC           wait at most SEC for all replies (default 60)\n"
               "  --prompt TEXT           user message (the worker applies the chat template)\n"
               "  --system TEXT           system message\n"
               "  --raw                   no chat template\n"
               "  --prompt-ids LIST       prompt token ids, used as they are\n"
               "  --jsonl FILE            one request per line ('-' = stdin): {\"prompt\": ...,\n"
               "                          \"system\", \"prompt_ids\", \"request_id\", \"raw\",\n"
               "                          \"prefix_tokens\",\n"
               "                          and any generation flag name with _ for -};\n"
               "                          the flags below are the defaults of every line\n"
               "  --request-id ID         correlation id (default: generated)\n"
               "  --deadline-ms MS        the request expires MS after it is sent\n"
               "  --key KEY               message key (cache affinity; default: request id)\n"
               "  --use-prompt-slot       serve the system turn from a prompt slot\n"
               "  --prefix-tokens N       ... or the first N prompt tokens (template included;\n"
               "                          any prompt form), with --use-prompt-slot\n"
               "  --pin                   ask the worker to pin that slot\n"
               "  --cache-salt S          tenant salt of the prompt-slot key (<= 256 bytes)\n"
               "  --key-by-prefix         message key = the prefix key of the system turn (or\n"
               "                          of --prefix-tokens), so one partition (one worker)\n"
               "                          serves a prefix\n"
               "                          (docs/prompt-cache.md); needs the model's tokenizer\n"
               "  --key-replicas R        hot prefixes: key = PREFIXKEY#k, k in [0, R) from the\n"
               "                          request id (bounded load over R partitions)\n"
               "  --tokenizer-model DIR   model directory whose tokenizer the key uses (default:\n"
               "                          $DLLM_MODEL or the shipped model)\n"
               "  --model-revision REV    the workers' --model-revision (default empty)\n"
               "  --metadata K=V          metadata echoed in the reply (repeatable)\n"
               "  --kafka-prop K=V        librdkafka property (SASL, TLS; repeatable)\n"
               "  (--model ID names the model the request asks for; the worker checks it)\n");
    fprintf(f, "generation flags (as in dllm generate; --backend and --threads do not apply):\n");
    cli_gen_usage(f);
    fprintf(f, "  --json                  print each reply as a JSON object\n"
               "  -h, --help              this help\n\n"
               "Exit status: 0 all results, 1 an error reply, 2 usage, 3 timed out.\n");
}

enum {
    OPT_BOOTSTRAP = CLI_OPT_FIRST_LOCAL, OPT_TOPIC, OPT_REPLY_TOPIC, OPT_TIMEOUT, OPT_PROMPT,
    OPT_SYSTEM, OPT_RAW, OPT_IDS, OPT_JSONL, OPT_REQUEST_ID, OPT_DEADLINE, OPT_KEY, OPT_META,
    OPT_KPROP, OPT_JSON, OPT_USE_SLOT, OPT_PIN, OPT_SALT, OPT_KEY_BY_PREFIX, OPT_KEY_REPLICAS,
    OPT_TOK_MODEL, OPT_MODEL_REV, OPT_PREFIX_TOKENS
};

static const struct option opts[] = {
    CLI_GEN_OPTIONS,
    {"bootstrap", required_argument, 0, OPT_BOOTSTRAP},
    {"topic", required_argument, 0, OPT_TOPIC},
    {"reply-topic", required_argument, 0, OPT_REPLY_TOPIC},
    {"timeout", required_argument, 0, OPT_TIMEOUT},
    {"prompt", required_argument, 0, OPT_PROMPT},
    {"system", required_argument, 0, OPT_SYSTEM},
    {"raw", no_argument, 0, OPT_RAW},
    {"prompt-ids", required_argument, 0, OPT_IDS},
    {"jsonl", required_argument, 0, OPT_JSONL},
    {"request-id", required_argument, 0, OPT_REQUEST_ID},
    {"deadline-ms", required_argument, 0, OPT_DEADLINE},
    {"key", required_argument, 0, OPT_KEY},
    {"metadata", required_argument, 0, OPT_META},
    {"kafka-prop", required_argument, 0, OPT_KPROP},
    {"json", no_argument, 0, OPT_JSON},
    {"use-prompt-slot", no_argument, 0, OPT_USE_SLOT},
    {"prefix-tokens", required_argument, 0, OPT_PREFIX_TOKENS},
    {"pin", no_argument, 0, OPT_PIN},
    {"cache-salt", required_argument, 0, OPT_SALT},
    {"key-by-prefix", no_argument, 0, OPT_KEY_BY_PREFIX},
    {"key-replicas", required_argument, 0, OPT_KEY_REPLICAS},
    {"tokenizer-model", required_argument, 0, OPT_TOK_MODEL},
    {"model-revision", required_argument, 0, OPT_MODEL_REV},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* One request in flight. */
typedef struct pending {
    char id[128];
    int done;
} pending;

typedef struct submit_ctx {
    const char *topic, *reply_topic, *model, *key;
    int64_t deadline_ms;
    int json;
    char **meta; /* "k=v" */
    size_t n_meta;
    rd_kafka_t *prod, *cons;
    pending *pend;
    size_t n_pend, n_done;
    int any_error;
    int delivery_failed;
    /* prompt slots */
    int use_prompt_slot, pin, key_by_prefix;
    int64_t key_replicas, prefix_tokens;
    const char *cache_salt, *key_model_id, *model_revision;
    dllm_tokenizer *tok; /* --key-by-prefix */
    uint8_t tok_sha256[32];
    char key_model_buf[256];
    char *prefix_key_buf; /* the last computed message key */
} submit_ctx;

/* The Kafka key of a request under --key-by-prefix: the hex prefix key of its cacheable
 * prefix (docs/prompt-cache.md): the first --prefix-tokens tokens of the encoded prompt, or
 * else the system turn, with "#k" appended when --key-replicas R > 1. 0 when written, 1 when
 * the request has no cacheable prefix (the default key applies), -1 on error (printed). */
static int prefix_message_key(const submit_ctx *c, const cli_request *s, char *out, size_t n)
{
    int32_t *ids = NULL;
    const int32_t *toks;
    size_t n_ids = 0, plen = 0;
    char err[256], hex[DLLM_PREFIX_KEY_HEX];
    uint8_t key[DLLM_PREFIX_KEY_BYTES];
    dllm_tokenizer_specials sp;
    dllm_prefix_key_fields f;
    const dllm_gen_params *gp = &s->gp;
    dllm_status rc = DLLM_OK;
    int ret = -1;

    if (s->prefix_tokens <= 0 && (s->system == NULL || s->prompt == NULL || s->raw)) return 1;
    if (s->ids != NULL) { /* token ids travel as they are */
        toks = s->ids;
        n_ids = s->n_ids;
    } else {
        rc = s->raw ? dllm_tokenizer_encode(c->tok, s->prompt, strlen(s->prompt), 0, &ids,
                                            &n_ids, err, sizeof err)
                    : dllm_tokenizer_apply_chat(c->tok, s->system, s->prompt, &ids, &n_ids, err,
                                                sizeof err);
        toks = ids;
    }
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm submit: --key-by-prefix: %s\n", err);
        goto out;
    }
    if (s->prefix_tokens > 0) {
        if ((size_t)s->prefix_tokens > n_ids) {
            fprintf(stderr, "dllm submit: --prefix-tokens %d exceeds the prompt's %zu tokens "
                            "(chat template included)\n", (int)s->prefix_tokens, n_ids);
            goto out;
        }
        plen = (size_t)s->prefix_tokens;
    } else {
        dllm_tokenizer_get_specials(c->tok, &sp);
        for (size_t i = 0; i < n_ids && sp.eot >= 0; i++)
            if (toks[i] == sp.eot) {
                plen = i + 1;
                break;
            }
    }
    if (plen == 0) {
        ret = 1;
        goto out;
    }
    memset(&f, 0, sizeof f);
    f.model_id = c->key_model_id;
    f.model_revision = c->model_revision ? c->model_revision : "";
    memcpy(f.tokenizer_sha256, c->tok_sha256, 32);
    f.dtype = "f32";
    f.tp_size = 1;
    f.policy = dllm_cache_policy_name(gp->cache);
    f.kp = gp->cache_params.kp;
    f.kr = gp->cache_params.kr;
    f.rho = gp->cache_params.rho;
    f.layer0_refresh = gp->cache_params.layer0_refresh ? 1u : 0u;
    f.cfg_interval = gp->cache_params.cfg_interval;
    f.salt = c->cache_salt;
    f.salt_len = c->cache_salt ? strlen(c->cache_salt) : 0;
    f.tokens = toks;
    f.n_tokens = plen;
    if (dllm_prefix_key(&f, key) != DLLM_OK) {
        fprintf(stderr, "dllm submit: --key-by-prefix: cannot compute the key\n");
        goto out;
    }
    dllm_prefix_key_hex(key, hex);
    if (c->key_replicas > 1) {
        uint32_t h = 2166136261u; /* FNV-1a of the request id picks the replica */
        for (const char *p = s->request_id; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
        snprintf(out, n, "%s#%u", hex, (unsigned)(h % (uint32_t)c->key_replicas));
    } else {
        snprintf(out, n, "%s", hex);
    }
    ret = 0;
out:
    free(ids);
    return ret;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    submit_ctx *c = opaque;
    (void)rk;
    if (m->err) {
        fprintf(stderr, "dllm submit: request not delivered: %s\n", rd_kafka_err2str(m->err));
        c->delivery_failed = 1;
    }
}

static int set_prop(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "dllm submit: %s\n", errstr);
        return -1;
    }
    return 0;
}

/* Applies "k=v" properties to conf. */
int cli_kafka_props(rd_kafka_conf_t *conf, char **props, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(props[i], '=');
        int r;
        if (eq == NULL || eq == props[i]) {
            fprintf(stderr, "dllm: --kafka-prop wants KEY=VALUE, got '%s'\n", props[i]);
            return -1;
        }
        *eq = '\0';
        r = set_prop(conf, props[i], eq + 1);
        *eq = '=';
        if (r) return -1;
    }
    return 0;
}

/* Assigns every partition of the reply topic at its current high watermark. */
int cli_kafka_assign_end(rd_kafka_t *cons, const char *topic)
{
    int ret = -1;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(cons, topic, NULL);
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t e;

    if (rkt == NULL) goto out;
    e = rd_kafka_metadata(cons, 0, rkt, &md, 10000);
    if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        fprintf(stderr, "dllm: reply topic '%s' not available: %s\n", topic,
                rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err
                                                        : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto out;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int64_t lo = 0, hi = 0;
        int32_t p = md->topics[0].partitions[i].id;
        e = rd_kafka_query_watermark_offsets(cons, topic, p, &lo, &hi, 10000);
        if (e) {
            fprintf(stderr, "dllm: cannot read offsets of %s [%d]: %s\n", topic, (int)p,
                    rd_kafka_err2str(e));
            goto out;
        }
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = hi;
    }
    e = rd_kafka_assign(cons, parts);
    if (e) {
        fprintf(stderr, "dllm: assign failed: %s\n", rd_kafka_err2str(e));
        goto out;
    }
    ret = 0;
out:
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    if (md) rd_kafka_metadata_destroy(md);
    if (rkt) rd_kafka_topic_destroy(rkt);
    return ret;
}

/* ---- request building ---- */

typedef cli_request req_src;

int cli_pack_request(const cli_request *s, uint8_t **out, size_t *out_len)
{
    Dllm__V1__GenerateRequest m = DLLM__V1__GENERATE_REQUEST__INIT;
    Dllm__V1__GenerationParams g = DLLM__V1__GENERATION_PARAMS__INIT;
    Dllm__V1__CacheParams cp = DLLM__V1__CACHE_PARAMS__INIT;
    Dllm__V1__TokenIds ti = DLLM__V1__TOKEN_IDS__INIT;
    Dllm__V1__GenerateRequest__MetadataEntry *ents = NULL, **entp = NULL;
    uint8_t *buf = NULL;
    size_t n;
    int ret = -1;

    *out = NULL;
    *out_len = 0;
    m.request_id = (char *)s->request_id;
    if (s->ids != NULL) {
        ti.ids = s->ids;
        ti.n_ids = s->n_ids;
        m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS;
        m.token_ids = &ti;
    } else {
        m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT_TEXT;
        m.text = (char *)s->prompt;
        m.system = (char *)s->system;
        m.has_raw = s->raw;
        m.raw = s->raw;
    }
    g.has_gen_length = g.has_steps = g.has_block_length = g.has_temperature = 1;
    g.has_cfg_scale = g.has_remasking = g.has_seed = 1;
    g.has_logits_eos_inf = g.has_confidence_eos_eot_inf = 1;
    g.gen_length = s->gp.gen_length;
    g.steps = s->gp.steps;
    g.block_length = s->gp.block_length;
    g.temperature = s->gp.temperature;
    g.cfg_scale = s->gp.cfg_scale;
    g.remasking = s->gp.remasking == DLLM_REMASK_RANDOM
                      ? DLLM__V1__REMASKING__REMASKING_RANDOM
                      : DLLM__V1__REMASKING__REMASKING_LOW_CONFIDENCE;
    g.seed = s->gp.seed;
    g.logits_eos_inf = s->gp.logits_eos_inf;
    g.confidence_eos_eot_inf = s->gp.confidence_eos_eot_inf;
    g.has_threshold = g.has_factor = g.has_early_stop = 1;
    g.threshold = s->gp.threshold;
    g.factor = s->gp.factor;
    g.early_stop = s->gp.early_stop;
    m.params = &g;
    cp.has_policy = 1;
    switch (s->gp.cache) {
    case DLLM_CACHE_DLLM: cp.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_DLLM; break;
    case DLLM_CACHE_PREFIX: cp.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_PREFIX; break;
    case DLLM_CACHE_DUAL: cp.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_DUAL; break;
    case DLLM_CACHE_NONE: cp.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_NONE; break;
    case DLLM_CACHE_SPARSE: cp.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_SPARSE; break;
    case DLLM_CACHE_D2: cp.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_D2; break;
    default:
        fprintf(stderr, "dllm: cache policy %s has no wire value in dllm.v1 yet\n",
                dllm_cache_policy_name(s->gp.cache));
        goto out;
    }
    if (s->gp.cache == DLLM_CACHE_DLLM) {
        cp.has_kp = cp.has_kr = cp.has_rho = cp.has_layer0_refresh = cp.has_cfg_interval = 1;
        cp.kp = s->gp.cache_params.kp;
        cp.kr = s->gp.cache_params.kr;
        cp.rho = s->gp.cache_params.rho;
        cp.layer0_refresh = s->gp.cache_params.layer0_refresh;
        cp.cfg_interval = s->gp.cache_params.cfg_interval;
    }
    if (s->gp.cache == DLLM_CACHE_SPARSE) {
        cp.has_keep_ratio = cp.has_kernel = 1;
        cp.keep_ratio = s->gp.cache_params.keep_ratio;
        cp.kernel = s->gp.cache_params.kernel;
    }
    if (s->gp.cache == DLLM_CACHE_D2) {
        cp.has_d2_k = cp.has_d2_p = cp.has_d2_sigma = cp.has_d2_inflate = cp.has_d2_prior = 1;
        cp.d2_k = s->gp.cache_params.d2_k;
        cp.d2_p = s->gp.cache_params.d2_p;
        cp.d2_sigma = s->gp.cache_params.d2_sigma;
        cp.d2_inflate = s->gp.cache_params.d2_inflate;
        cp.d2_prior = s->gp.cache_params.d2_prior;
    }
    if (s->use_prompt_slot) {
        cp.has_use_prompt_slot = 1;
        cp.use_prompt_slot = 1;
    }
    if (s->pin) {
        cp.has_pin = 1;
        cp.pin = 1;
    }
    if (s->prefix_tokens > 0) {
        cp.has_prefix_tokens = 1;
        cp.prefix_tokens = s->prefix_tokens;
    }
    cp.cache_salt = (char *)s->cache_salt;
    m.cache = &cp;
    m.model = (char *)s->model;
    m.reply_topic = (char *)s->reply_topic;
    if (s->deadline_unix_ms > 0) {
        m.has_deadline_unix_ms = 1;
        m.deadline_unix_ms = s->deadline_unix_ms;
    }
    if (s->n_meta > 0) {
        ents = calloc(s->n_meta, sizeof *ents);
        entp = calloc(s->n_meta, sizeof *entp);
        if (ents == NULL || entp == NULL) goto out;
        for (size_t i = 0; i < s->n_meta; i++) {
            Dllm__V1__GenerateRequest__MetadataEntry e0 =
                DLLM__V1__GENERATE_REQUEST__METADATA_ENTRY__INIT;
            char *eq = strchr(s->meta[i], '=');
            ents[i] = e0;
            *eq = '\0'; /* checked at parse time; restored below */
            ents[i].key = s->meta[i];
            ents[i].value = eq + 1;
            entp[i] = &ents[i];
        }
        m.n_metadata = s->n_meta;
        m.metadata = entp;
    }
    n = dllm__v1__generate_request__get_packed_size(&m);
    buf = malloc(n ? n : 1);
    if (buf != NULL) dllm__v1__generate_request__pack(&m, buf);
    for (size_t i = 0; i < s->n_meta; i++) s->meta[i][strlen(s->meta[i])] = '=';
    if (buf == NULL) goto out;
    *out = buf;
    *out_len = n;
    ret = 0;
out:
    free(ents);
    free(entp);
    return ret;
}

static int produce_request(submit_ctx *c, const req_src *s0)
{
    req_src sc = *s0, *s = &sc;
    uint8_t *buf = NULL;
    size_t n;
    int ret = -1;
    rd_kafka_resp_err_t e;
    const char *key;

    if (c->n_pend >= MAX_PENDING) {
        fprintf(stderr, "dllm submit: more than %d requests\n", MAX_PENDING);
        return -1;
    }
    sc.model = c->model;
    sc.reply_topic = c->reply_topic;
    sc.deadline_unix_ms = c->deadline_ms > 0 ? unix_ms() + c->deadline_ms : 0;
    sc.meta = c->meta;
    sc.n_meta = c->n_meta;
    sc.use_prompt_slot = c->use_prompt_slot;
    sc.pin = c->pin;
    sc.cache_salt = c->cache_salt;
    if (sc.prefix_tokens == 0) sc.prefix_tokens = (int32_t)c->prefix_tokens;
    if (cli_pack_request(s, &buf, &n)) goto out;
    key = c->key ? c->key : s->request_id;
    if (c->key_by_prefix && c->key == NULL) {
        static const size_t kn = DLLM_PREFIX_KEY_HEX + 24;
        char *kb = malloc(kn);
        int kr = kb ? prefix_message_key(c, s, kb, kn) : -1;
        if (kr < 0) {
            free(kb);
            goto out;
        }
        if (kr == 0) {
            free(c->prefix_key_buf);
            c->prefix_key_buf = kb;
            key = kb;
        } else {
            free(kb);
        }
    }
    for (;;) {
        e = rd_kafka_producev(
            c->prod, RD_KAFKA_V_TOPIC(c->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(buf, n), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_HEADER("correlation-id", s->request_id, -1),
            RD_KAFKA_V_HEADER("reply-to", c->reply_topic, -1),
            RD_KAFKA_V_HEADER("content-type", "application/x-protobuf; dllm.v1.GenerateRequest",
                              -1),
            RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(c->prod, 100);
    }
    if (e) {
        fprintf(stderr, "dllm submit: produce failed: %s\n", rd_kafka_err2str(e));
        goto out;
    }
    snprintf(c->pend[c->n_pend].id, sizeof c->pend[c->n_pend].id, "%s", s->request_id);
    c->pend[c->n_pend].done = 0;
    c->n_pend++;
    rd_kafka_poll(c->prod, 0);
    ret = 0;
out:
    free(buf);
    return ret;
}

/* ---- replies ---- */

static const char *finish_name(int f)
{
    switch (f) {
    case DLLM__V1__FINISH_REASON__FINISH_REASON_LENGTH: return "length";
    case DLLM__V1__FINISH_REASON__FINISH_REASON_EOS: return "eos";
    case DLLM__V1__FINISH_REASON__FINISH_REASON_ABORTED: return "aborted";
    case DLLM__V1__FINISH_REASON__FINISH_REASON_DEADLINE_EXCEEDED: return "deadline_exceeded";
    case DLLM__V1__FINISH_REASON__FINISH_REASON_ERROR: return "error";
    }
    return "unspecified";
}

static const char *code_name(int c)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&dllm__v1__error_code__descriptor, c);
    return v ? v->name : "ERROR_CODE_UNSPECIFIED";
}

static void print_reply(const submit_ctx *c, const Dllm__V1__GenerateResponse *r)
{
    cJSON *o;
    char *s;

    if (!c->json) {
        if (r->outcome_case == DLLM__V1__GENERATE_RESPONSE__OUTCOME_RESULT)
            printf("%s\n", r->result->text ? r->result->text : "");
        else if (r->outcome_case == DLLM__V1__GENERATE_RESPONSE__OUTCOME_ERROR)
            fprintf(stderr, "dllm submit: request %s failed: %s: %s%s\n",
                    r->request_id ? r->request_id : "?", code_name(r->error->code),
                    r->error->message ? r->error->message : "",
                    r->error->retryable ? " (retryable)" : "");
        return;
    }
    o = cJSON_CreateObject();
    if (o == NULL) return;
    cJSON_AddStringToObject(o, "request_id", r->request_id ? r->request_id : "");
    if (r->outcome_case == DLLM__V1__GENERATE_RESPONSE__OUTCOME_RESULT) {
        const Dllm__V1__Result *res = r->result;
        cJSON *a = cJSON_AddArrayToObject(o, "token_ids");
        cJSON_AddStringToObject(o, "status", "ok");
        cJSON_AddStringToObject(o, "text", res->text ? res->text : "");
        for (size_t i = 0; res->token_ids && i < res->token_ids->n_ids; i++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(res->token_ids->ids[i]));
        cJSON_AddStringToObject(o, "finish_reason", finish_name(res->finish_reason));
        if (res->usage) {
            cJSON *u = cJSON_AddObjectToObject(o, "usage");
            cJSON_AddNumberToObject(u, "prompt_tokens", res->usage->prompt_tokens);
            cJSON_AddNumberToObject(u, "completion_tokens", res->usage->completion_tokens);
            cJSON_AddNumberToObject(u, "cached_prompt_tokens", res->usage->cached_prompt_tokens);
        }
        if (res->timings) {
            cJSON *t = cJSON_AddObjectToObject(o, "timings");
            cJSON_AddNumberToObject(t, "queue_ms", res->timings->queue_ms);
            cJSON_AddNumberToObject(t, "first_step_ms", res->timings->first_step_ms);
            cJSON_AddNumberToObject(t, "total_ms", res->timings->total_ms);
        }
        cJSON_AddNumberToObject(o, "steps", res->steps);
        cJSON_AddNumberToObject(o, "forwards", res->forwards);
    } else if (r->outcome_case == DLLM__V1__GENERATE_RESPONSE__OUTCOME_ERROR) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(o, "status", "error");
        cJSON_AddStringToObject(e, "code", code_name(r->error->code));
        cJSON_AddStringToObject(e, "message", r->error->message ? r->error->message : "");
        cJSON_AddBoolToObject(e, "retryable", r->error->retryable);
    }
    cJSON_AddStringToObject(o, "worker_id", r->worker_id ? r->worker_id : "");
    cJSON_AddStringToObject(o, "model_id", r->model_id ? r->model_id : "");
    if (r->n_metadata > 0) {
        cJSON *md = cJSON_AddObjectToObject(o, "metadata");
        for (size_t i = 0; i < r->n_metadata; i++)
            cJSON_AddStringToObject(md, r->metadata[i]->key ? r->metadata[i]->key : "",
                                    r->metadata[i]->value ? r->metadata[i]->value : "");
    }
    s = cJSON_PrintUnformatted(o);
    if (s) puts(s);
    free(s);
    cJSON_Delete(o);
}

/* Consumes replies until every pending request is answered or the timeout passes. */
static int wait_replies(submit_ctx *c, double timeout_s)
{
    double end = mono_s() + timeout_s;
    while (c->n_done < c->n_pend && mono_s() < end && !c->delivery_failed) {
        rd_kafka_message_t *km = rd_kafka_consumer_poll(c->cons, 100);
        Dllm__V1__GenerateResponse *r;
        rd_kafka_poll(c->prod, 0);
        if (km == NULL) continue;
        if (km->err) {
            if (km->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "dllm submit: consumer: %s\n", rd_kafka_message_errstr(km));
            rd_kafka_message_destroy(km);
            continue;
        }
        r = dllm__v1__generate_response__unpack(NULL, km->len, km->payload);
        if (r != NULL && r->request_id != NULL) {
            for (size_t i = 0; i < c->n_pend; i++) {
                if (c->pend[i].done || strcmp(c->pend[i].id, r->request_id) != 0) continue;
                c->pend[i].done = 1;
                c->n_done++;
                if (r->outcome_case != DLLM__V1__GENERATE_RESPONSE__OUTCOME_RESULT)
                    c->any_error = 1;
                print_reply(c, r);
                fflush(stdout);
                break;
            }
        }
        if (r) dllm__v1__generate_response__free_unpacked(r, NULL);
        rd_kafka_message_destroy(km);
    }
    if (c->delivery_failed) return CLI_FAIL;
    if (c->n_done < c->n_pend) {
        fprintf(stderr, "dllm submit: timed out after %.0f s: %zu of %zu replies missing\n",
                timeout_s, c->n_pend - c->n_done, c->n_pend);
        return SUBMIT_TIMEOUT;
    }
    return c->any_error ? CLI_FAIL : CLI_OK;
}

/* ---- JSONL ---- */

/* Applies one JSON field named like a generation flag; 1 applied, 0 unknown, -1 bad. */
static int json_gen_field(const char *name, const cJSON *v, dllm_gen_params *gp)
{
    char flagname[64], val[64];
    dllm_engine_config ec;
    const char *mf = NULL;
    unsigned seen = 0;
    for (const struct option *o = opts; o->name; o++) {
        if (o->val >= CLI_OPT_FIRST_LOCAL || o->val == CLI_OPT_MODEL ||
            o->val == CLI_OPT_BACKEND || o->val == CLI_OPT_THREADS)
            continue;
        snprintf(flagname, sizeof flagname, "%s", o->name);
        for (char *p = flagname; *p; p++)
            if (*p == '-') *p = '_';
        if (strcmp(flagname, name) != 0) continue;
        if (cJSON_IsBool(v))
            snprintf(val, sizeof val, "%s", cJSON_IsTrue(v) ? "on" : "off");
        else if (cJSON_IsNumber(v))
            snprintf(val, sizeof val, "%.17g", v->valuedouble);
        else if (cJSON_IsString(v))
            snprintf(val, sizeof val, "%s", v->valuestring);
        else
            return -1;
        if (o->has_arg == no_argument) {
            if (!cJSON_IsTrue(v)) return 1;
        }
        dllm_engine_config_init(&ec);
        return cli_gen_flag("submit", o->val, val, &ec, gp, &mf, &seen) < 0 ? -1 : 1;
    }
    return 0;
}

static int submit_jsonl(submit_ctx *c, const char *path, const dllm_gen_params *defaults)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int ret = -1;

    if (f == NULL) {
        fprintf(stderr, "dllm submit: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        cJSON *o, *it;
        req_src s;
        char idbuf[128];
        int bad = 0;
        lineno++;
        if (len <= 1) continue;
        o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            fprintf(stderr, "dllm submit: %s:%ld: not a JSON object\n", path, lineno);
            cJSON_Delete(o);
            goto out;
        }
        memset(&s, 0, sizeof s);
        s.gp = *defaults;
        snprintf(idbuf, sizeof idbuf, "submit-%d-%ld-%lld", (int)getpid(), lineno,
                 (long long)unix_ms());
        s.request_id = idbuf;
        cJSON_ArrayForEach(it, o)
        {
            const char *k = it->string;
            if (strcmp(k, "prompt") == 0 || strcmp(k, "text") == 0) {
                s.prompt = cJSON_GetStringValue(it);
                bad |= s.prompt == NULL;
            } else if (strcmp(k, "system") == 0) {
                s.system = cJSON_GetStringValue(it);
                bad |= s.system == NULL;
            } else if (strcmp(k, "request_id") == 0) {
                s.request_id = cJSON_GetStringValue(it);
                bad |= s.request_id == NULL;
            } else if (strcmp(k, "raw") == 0) {
                s.raw = cJSON_IsTrue(it);
            } else if (strcmp(k, "prefix_tokens") == 0) {
                double d = cJSON_IsNumber(it) ? it->valuedouble : -1.0;
                if (!(d >= 1.0 && d <= (double)INT32_MAX && d == (double)(int32_t)d) ||
                    !c->use_prompt_slot) {
                    fprintf(stderr, "dllm submit: %s:%ld: prefix_tokens must be an integer >= "
                                    "1, with --use-prompt-slot\n", path, lineno);
                    bad = 1;
                } else {
                    s.prefix_tokens = (int32_t)d;
                }
            } else if (strcmp(k, "prompt_ids") == 0 && cJSON_IsArray(it)) {
                int n = cJSON_GetArraySize(it);
                free(s.ids);
                s.ids = calloc(n > 0 ? (size_t)n : 1, sizeof *s.ids);
                s.n_ids = (size_t)n;
                for (int i = 0; s.ids && i < n; i++)
                    s.ids[i] = (int32_t)cJSON_GetArrayItem(it, i)->valuedouble;
                bad |= s.ids == NULL;
            } else {
                int r = json_gen_field(k, it, &s.gp);
                if (r == 0) fprintf(stderr, "dllm submit: %s:%ld: unknown field '%s'\n", path,
                                    lineno, k);
                bad |= r <= 0;
            }
        }
        if (!bad && (s.prompt == NULL) == (s.ids == NULL)) {
            fprintf(stderr, "dllm submit: %s:%ld: give exactly one of prompt or prompt_ids\n",
                    path, lineno);
            bad = 1;
        }
        if (!bad) bad = produce_request(c, &s) != 0;
        free(s.ids);
        cJSON_Delete(o);
        if (bad) {
            fprintf(stderr, "dllm submit: %s:%ld: request not sent\n", path, lineno);
            goto out;
        }
    }
    ret = 0;
out:
    free(line);
    if (f != stdin) fclose(f);
    return ret;
}

int cli_submit(int argc, char **argv)
{
    const char *bootstrap = getenv("DLLM_BOOTSTRAP"), *model_flag = NULL, *jsonl = NULL;
    const char *request_id = NULL, *tok_model = NULL;
    char **props = NULL, **meta = NULL;
    size_t n_props = 0, n_meta = 0;
    submit_ctx c;
    req_src s;
    dllm_engine_config ec;
    unsigned cache_seen = 0;
    int64_t v, timeout_s = 60;
    int ch, ret = CLI_FAIL;
    char errstr[512], idbuf[128];
    rd_kafka_conf_t *pconf = NULL, *cconf = NULL;

    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    c.topic = "dllm.requests";
    c.reply_topic = "dllm.replies";
    dllm_engine_config_init(&ec);
    dllm_gen_params_init(&s.gp);
    props = calloc((size_t)argc + 1, sizeof *props);
    meta = calloc((size_t)argc + 1, sizeof *meta);
    c.pend = calloc(MAX_PENDING, sizeof *c.pend);
    if (props == NULL || meta == NULL || c.pend == NULL) goto out;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int g;
        if (ch == CLI_OPT_BACKEND || ch == CLI_OPT_THREADS) {
            fprintf(stderr, "dllm submit: %s applies to the worker, not to a request\n",
                    argv[optind - 1]);
            goto usage_err;
        }
        g = cli_gen_flag("submit", ch, optarg, &ec, &s.gp, &model_flag, &cache_seen);
        if (g < 0) goto usage_err;
        if (g > 0) continue;
        switch (ch) {
        case OPT_BOOTSTRAP: bootstrap = optarg; break;
        case OPT_TOPIC: c.topic = optarg; break;
        case OPT_REPLY_TOPIC: c.reply_topic = optarg; break;
        case OPT_TIMEOUT:
            if (cli_parse_i64("submit", "--timeout", optarg, 1, 86400, &timeout_s))
                goto usage_err;
            break;
        case OPT_PROMPT: s.prompt = optarg; break;
        case OPT_SYSTEM: s.system = optarg; break;
        case OPT_RAW: s.raw = 1; break;
        case OPT_IDS:
            free(s.ids);
            s.ids = NULL;
            if (cli_parse_ids("submit", optarg, &s.ids, &s.n_ids)) goto usage_err;
            break;
        case OPT_JSONL: jsonl = optarg; break;
        case OPT_REQUEST_ID: request_id = optarg; break;
        case OPT_DEADLINE:
            if (cli_parse_i64("submit", "--deadline-ms", optarg, 1, INT64_MAX / 2, &v))
                goto usage_err;
            c.deadline_ms = v;
            break;
        case OPT_KEY: c.key = optarg; break;
        case OPT_META:
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                fprintf(stderr, "dllm submit: --metadata wants KEY=VALUE, got '%s'\n", optarg);
                goto usage_err;
            }
            meta[n_meta++] = optarg;
            break;
        case OPT_KPROP: props[n_props++] = optarg; break;
        case OPT_JSON: c.json = 1; break;
        case OPT_USE_SLOT: c.use_prompt_slot = 1; break;
        case OPT_PREFIX_TOKENS:
            if (cli_parse_i64("submit", "--prefix-tokens", optarg, 1, INT32_MAX, &c.prefix_tokens))
                goto usage_err;
            break;
        case OPT_PIN: c.pin = 1; break;
        case OPT_SALT:
            if (strlen(optarg) > DLLM_CACHE_SALT_MAX) {
                fprintf(stderr, "dllm submit: --cache-salt over %d bytes\n", DLLM_CACHE_SALT_MAX);
                goto usage_err;
            }
            c.cache_salt = optarg;
            break;
        case OPT_KEY_BY_PREFIX: c.key_by_prefix = 1; break;
        case OPT_KEY_REPLICAS:
            if (cli_parse_i64("submit", "--key-replicas", optarg, 1, 65536, &c.key_replicas))
                goto usage_err;
            break;
        case OPT_TOK_MODEL: tok_model = optarg; break;
        case OPT_MODEL_REV: c.model_revision = optarg; break;
        case 'h': usage(stdout); ret = CLI_OK; goto out;
        default:
            fprintf(stderr, "dllm submit: unknown or incomplete option '%s'\n", argv[optind - 1]);
            goto usage_err;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dllm submit: unexpected argument '%s'\n", argv[optind]);
        goto usage_err;
    }
    if (bootstrap == NULL || bootstrap[0] == '\0') {
        fprintf(stderr, "dllm submit: no broker; hint: pass --bootstrap HOST:PORT (the first "
                        "line dllm-devbroker prints) or set DLLM_BOOTSTRAP\n");
        goto usage_err;
    }
    if ((s.prompt != NULL) + (s.ids != NULL) + (jsonl != NULL) != 1) {
        fprintf(stderr, "dllm submit: give exactly one of --prompt, --prompt-ids or --jsonl\n");
        goto usage_err;
    }
    if (s.ids != NULL && (s.system != NULL || s.raw)) {
        fprintf(stderr, "dllm submit: --system and --raw apply to --prompt only\n");
        goto usage_err;
    }
    if (c.prefix_tokens > 0 && !c.use_prompt_slot) {
        fprintf(stderr, "dllm submit: --prefix-tokens names the prompt-slot prefix; add "
                        "--use-prompt-slot\n");
        goto usage_err;
    }
    if (jsonl != NULL && request_id != NULL) {
        fprintf(stderr, "dllm submit: --request-id applies to a single request; put "
                        "\"request_id\" in the JSONL lines\n");
        goto usage_err;
    }
    if (cli_gen_check("submit", &s.gp, cache_seen)) goto usage_err;
    if (dllm_gen_params_validate(&s.gp, errstr, sizeof errstr) != DLLM_OK) {
        fprintf(stderr, "dllm submit: %s\n", errstr);
        goto usage_err;
    }
    c.model = model_flag;
    if (c.key_by_prefix) {
        char dir[4096], path[4200];
        size_t end, beg;
        if (cli_resolve_model(tok_model, dir, sizeof dir)) {
            fprintf(stderr, "dllm submit: --key-by-prefix needs the model's tokenizer; hint: "
                            "--tokenizer-model DIR or DLLM_MODEL\n");
            goto usage_err;
        }
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        if (dllm_tokenizer_load(path, &c.tok, errstr, sizeof errstr) != DLLM_OK ||
            dllm_sha256_file(path, c.tok_sha256, errstr, sizeof errstr) != DLLM_OK) {
            fprintf(stderr, "dllm submit: %s\n", errstr);
            goto out;
        }
        /* the worker's default model id: the directory's base name */
        end = strlen(dir);
        while (end > 1 && dir[end - 1] == '/') end--;
        beg = end;
        while (beg > 0 && dir[beg - 1] != '/') beg--;
        dir[end] = '\0';
        snprintf(c.key_model_buf, sizeof c.key_model_buf, "%s", dir + beg);
        c.key_model_id = model_flag ? model_flag : c.key_model_buf;
    }
    c.meta = meta;
    c.n_meta = n_meta;

    pconf = rd_kafka_conf_new();
    cconf = rd_kafka_conf_new();
    if (set_prop(pconf, "bootstrap.servers", bootstrap) ||
        set_prop(cconf, "bootstrap.servers", bootstrap) ||
        set_prop(pconf, "enable.idempotence", "true") || set_prop(pconf, "linger.ms", "5") ||
        set_prop(cconf, "enable.auto.commit", "false") ||
        set_prop(cconf, "enable.partition.eof", "false") ||
        set_prop(cconf, "group.id", "dllm-submit") || cli_kafka_props(pconf, props, n_props) ||
        cli_kafka_props(cconf, props, n_props))
        goto out;
    rd_kafka_conf_set_dr_msg_cb(pconf, dr_cb);
    rd_kafka_conf_set_opaque(pconf, &c);
    c.prod = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    if (c.prod == NULL) {
        fprintf(stderr, "dllm submit: %s\n", errstr);
        goto out;
    }
    pconf = NULL; /* owned by c.prod */
    c.cons = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof errstr);
    if (c.cons == NULL) {
        fprintf(stderr, "dllm submit: %s\n", errstr);
        goto out;
    }
    cconf = NULL; /* owned by c.cons */
    rd_kafka_poll_set_consumer(c.cons);
    if (cli_kafka_assign_end(c.cons, c.reply_topic)) goto out;

    if (jsonl != NULL) {
        if (submit_jsonl(&c, jsonl, &s.gp)) goto out;
    } else {
        if (request_id == NULL) {
            snprintf(idbuf, sizeof idbuf, "submit-%d-%lld", (int)getpid(), (long long)unix_ms());
            request_id = idbuf;
        }
        s.request_id = request_id;
        if (produce_request(&c, &s)) goto out;
    }
    rd_kafka_flush(c.prod, 10000);
    ret = wait_replies(&c, (double)timeout_s);
    goto out;
usage_err:
    fputc('\n', stderr);
    usage(stderr);
    ret = CLI_USAGE;
out:
    if (c.cons) {
        rd_kafka_consumer_close(c.cons);
        rd_kafka_destroy(c.cons);
    }
    if (c.prod) {
        rd_kafka_flush(c.prod, 5000);
        rd_kafka_destroy(c.prod);
    }
    if (pconf) rd_kafka_conf_destroy(pconf);
    if (cconf) rd_kafka_conf_destroy(cconf);
    free(s.ids);
    free(props);
    free(meta);
    free(c.pend);
    free(c.prefix_key_buf);
    dllm_tokenizer_free(c.tok);
    return ret;
}
