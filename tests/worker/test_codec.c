/* test_codec.c -- worker/codec: request decoding and validation, response encoding.
 *
 * Requests are built with the generated protobuf-c code (the same bytes any client
 * produces), then fed to dllm_gen_request_decode: good requests with every field, defaults,
 * explicit zeros, every invalid field, truncated bytes, garbage and huge fields.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dllm/v1/generate.pb-c.h"
#include "testutil.h"

typedef struct req_builder {
    Dllm__V1__GenerateRequest m;
    Dllm__V1__GenerationParams g;
    Dllm__V1__CacheParams c;
    Dllm__V1__TokenIds ids;
    int32_t idv[8];
} req_builder;

static void rb_init(req_builder *b)
{
    Dllm__V1__GenerateRequest m = DLLM__V1__GENERATE_REQUEST__INIT;
    Dllm__V1__GenerationParams g = DLLM__V1__GENERATION_PARAMS__INIT;
    Dllm__V1__CacheParams c = DLLM__V1__CACHE_PARAMS__INIT;
    Dllm__V1__TokenIds ids = DLLM__V1__TOKEN_IDS__INIT;
    b->m = m;
    b->g = g;
    b->c = c;
    b->ids = ids;
    b->m.request_id = "req-1";
    b->m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT_TEXT;
    b->m.text = "What is 2+2?";
}

static uint8_t *rb_pack(req_builder *b, size_t *n)
{
    uint8_t *buf;
    *n = dllm__v1__generate_request__get_packed_size(&b->m);
    buf = malloc(*n ? *n : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(dllm__v1__generate_request__pack(&b->m, buf), *n);
    return buf;
}

static dllm_codec_limits test_limits(void)
{
    dllm_codec_limits l;
    dllm_codec_limits_init(&l);
    l.vocab_size = 1000;
    l.mask_id = 999;
    l.max_sequence_length = 256;
    l.model_id = "llada-tiny";
    return l;
}

/* Decodes b; returns the status, fills r (caller deinits), code and msg. */
static dllm_status decode(req_builder *b, const dllm_gen_request_hints *h, dllm_gen_request *r,
                          dllm_errc *code, char *msg, size_t msgn)
{
    size_t n;
    uint8_t *buf = rb_pack(b, &n);
    dllm_codec_limits l = test_limits();
    dllm_status rc = dllm_gen_request_decode(buf, n, &l, h, r, code, msg, msgn);
    free(buf);
    return rc;
}

/* Expects a failure with code c whose message contains `needle`. */
static void expect_fail(req_builder *b, dllm_errc c, const char *needle)
{
    dllm_gen_request r;
    dllm_errc code;
    char msg[512];
    dllm_status rc = decode(b, NULL, &r, &code, msg, sizeof msg);
    ck_assert_int_ne(rc, DLLM_OK);
    ck_assert_msg(code == c, "code %s, expected %s (%s)", dllm_errc_name(code),
                  dllm_errc_name(c), msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
    dllm_gen_request_deinit(&r);
}

START_TEST(test_defaults)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];
    dllm_gen_params def;

    rb_init(&b);
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_int_eq(code, DLLM_ERRC_NONE);
    dllm_gen_params_init(&def);
    ck_assert_str_eq(r.request_id, "req-1");
    ck_assert_str_eq(r.text, "What is 2+2?");
    ck_assert_ptr_null(r.system);
    ck_assert_ptr_null(r.reply_topic);
    ck_assert_int_eq(r.params.gen_length, def.gen_length);
    ck_assert_int_eq(r.params.steps, def.steps);
    ck_assert_int_eq(r.params.block_length, def.block_length);
    ck_assert(r.params.temperature == def.temperature);
    ck_assert_int_eq(r.params.cache, def.cache);
    ck_assert_int_eq(r.deadline_unix_ms, 0);
    dllm_gen_request_deinit(&r);
}
END_TEST

START_TEST(test_all_fields)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];
    Dllm__V1__GenerateRequest__MetadataEntry e1 = DLLM__V1__GENERATE_REQUEST__METADATA_ENTRY__INIT;
    Dllm__V1__GenerateRequest__MetadataEntry *ents[1] = {&e1};

    rb_init(&b);
    b.m.system = "You are terse.";
    b.m.reply_topic = "my.replies";
    b.m.has_deadline_unix_ms = 1;
    b.m.deadline_unix_ms = 1234;
    b.m.model = "llada-tiny";
    e1.key = "tenant";
    e1.value = "a";
    b.m.n_metadata = 1;
    b.m.metadata = ents;
    b.g.has_gen_length = b.g.has_steps = b.g.has_block_length = 1;
    b.g.gen_length = 16;
    b.g.steps = 8;
    b.g.block_length = 8;
    b.g.has_temperature = 1;
    b.g.temperature = 0.7f;
    b.g.has_seed = 1;
    b.g.seed = 0; /* explicit zero */
    b.g.has_remasking = 1;
    b.g.remasking = DLLM__V1__REMASKING__REMASKING_RANDOM;
    b.g.has_logits_eos_inf = b.g.has_confidence_eos_eot_inf = 1;
    b.g.logits_eos_inf = b.g.confidence_eos_eot_inf = 1;
    b.m.params = &b.g;
    b.c.has_policy = 1;
    b.c.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_DLLM;
    b.c.has_kp = b.c.has_kr = b.c.has_rho = b.c.has_layer0_refresh = b.c.has_cfg_interval = 1;
    b.c.kp = 5;
    b.c.kr = 2;
    b.c.rho = 0.0; /* explicit zero: pure interval reuse */
    b.c.layer0_refresh = 0;
    b.c.cfg_interval = 3;
    b.g.has_cfg_scale = 1;
    b.g.cfg_scale = 1.5f;
    b.c.has_pin = 1;
    b.c.pin = 1;
    b.c.cache_salt = "salt";
    b.m.cache = &b.c;
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_str_eq(r.system, "You are terse.");
    ck_assert_str_eq(r.reply_topic, "my.replies");
    ck_assert_int_eq(r.deadline_unix_ms, 1234);
    ck_assert_str_eq(r.model, "llada-tiny");
    ck_assert_uint_eq(r.n_meta, 1);
    ck_assert_str_eq(r.meta[0].key, "tenant");
    ck_assert_str_eq(r.meta[0].value, "a");
    ck_assert_int_eq(r.params.gen_length, 16);
    ck_assert_int_eq(r.params.steps, 8);
    ck_assert_int_eq(r.params.block_length, 8);
    ck_assert_float_eq_tol(r.params.temperature, 0.7f, 1e-6);
    ck_assert_uint_eq(r.params.seed, 0);
    ck_assert_int_eq(r.params.remasking, DLLM_REMASK_RANDOM);
    ck_assert_int_eq(r.params.logits_eos_inf, 1);
    ck_assert_int_eq(r.params.confidence_eos_eot_inf, 1);
    ck_assert_int_eq(r.params.cache, DLLM_CACHE_DLLM);
    ck_assert_int_eq(r.params.cache_params.kp, 5);
    ck_assert_int_eq(r.params.cache_params.kr, 2);
    ck_assert(r.params.cache_params.rho == 0.0);
    ck_assert_int_eq(r.params.cache_params.layer0_refresh, 0);
    ck_assert_int_eq(r.params.cache_params.cfg_interval, 3);
    ck_assert_int_eq(r.pin, 1);
    ck_assert_int_eq(r.prefix_tokens, 0); /* absent: the system turn */
    ck_assert_str_eq(r.cache_salt, "salt");
    dllm_gen_request_deinit(&r);
}
END_TEST

/* cache.prefix_tokens: a request-named prompt-slot boundary, checked on decode (sign, needs
 * use_prompt_slot, token-id prompts' length) and after tokenization (text prompts). */
START_TEST(test_prefix_tokens)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];
    dllm_codec_limits l = test_limits();

    rb_init(&b);
    b.c.has_use_prompt_slot = b.c.use_prompt_slot = 1;
    b.c.has_prefix_tokens = 1;
    b.c.prefix_tokens = 3;
    b.m.cache = &b.c;
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_int_eq(r.prefix_tokens, 3);
    ck_assert_int_eq(r.use_prompt_slot, 1);
    /* a text prompt is measured after tokenization: 3 tokens is enough, 2 is not */
    ck_assert_int_eq(dllm_gen_request_check_length(&r, 3, &l, &code, msg, sizeof msg), DLLM_OK);
    ck_assert_int_eq(dllm_gen_request_check_length(&r, 2, &l, &code, msg, sizeof msg),
                     DLLM_E_INVALID_ARG);
    ck_assert_int_eq(code, DLLM_ERRC_INVALID_ARGUMENT);
    ck_assert_msg(strstr(msg, "prefix_tokens = 3 exceeds the prompt's 2 tokens"), "%s", msg);
    dllm_gen_request_deinit(&r);

    b.c.prefix_tokens = 0; /* explicit 0 = the system turn */
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_int_eq(r.prefix_tokens, 0);
    dllm_gen_request_deinit(&r);

    b.c.prefix_tokens = -1;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "prefix_tokens = -1");
    b.c.prefix_tokens = 2;
    b.c.use_prompt_slot = 0;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "needs cache.use_prompt_slot");

    /* token-id prompts are checked on decode */
    b.c.use_prompt_slot = 1;
    b.c.prefix_tokens = 3;
    b.idv[0] = 5;
    b.idv[1] = 6;
    b.ids.ids = b.idv;
    b.ids.n_ids = 2;
    b.m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS;
    b.m.token_ids = &b.ids;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "exceeds the prompt's 2 tokens");
    b.c.prefix_tokens = 2;
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_int_eq(r.prefix_tokens, 2);
    dllm_gen_request_deinit(&r);
}
END_TEST

START_TEST(test_explicit_zero_temperature)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];

    rb_init(&b);
    b.g.has_temperature = 1;
    b.g.temperature = 0.0f;
    b.g.has_seed = 1;
    b.g.seed = 42;
    b.m.params = &b.g;
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert(r.params.temperature == 0.0f);
    ck_assert_uint_eq(r.params.seed, 42);
    dllm_gen_request_deinit(&r);
}
END_TEST

START_TEST(test_token_ids_and_messages)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];
    Dllm__V1__ChatMessage s = DLLM__V1__CHAT_MESSAGE__INIT, u = DLLM__V1__CHAT_MESSAGE__INIT;
    Dllm__V1__ChatMessage *turns[2] = {&s, &u};

    rb_init(&b);
    b.m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS;
    b.idv[0] = 1;
    b.idv[1] = 998;
    b.ids.ids = b.idv;
    b.ids.n_ids = 2;
    b.m.token_ids = &b.ids;
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_uint_eq(r.n_prompt_ids, 2);
    ck_assert_int_eq(r.prompt_ids[1], 998);
    ck_assert_ptr_null(r.text);
    dllm_gen_request_deinit(&r);

    rb_init(&b);
    b.m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT__NOT_SET;
    s.role = "system";
    s.content = "sys";
    u.role = "user";
    u.content = "hi";
    b.m.messages = turns;
    b.m.n_messages = 2;
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_str_eq(r.system, "sys");
    ck_assert_str_eq(r.text, "hi");
    dllm_gen_request_deinit(&r);

    b.m.messages = turns + 1;
    b.m.n_messages = 1;
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_ptr_null(r.system);
    ck_assert_str_eq(r.text, "hi");
    dllm_gen_request_deinit(&r);

    b.m.messages = turns; /* a lone system turn */
    b.m.n_messages = 1;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "messages[0].role");
}
END_TEST

START_TEST(test_hints)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];
    dllm_gen_request_hints h = {.correlation_id = "hdr-id", .reply_to = "hdr.topic",
                            .deadline_unix_ms = 77};

    rb_init(&b);
    b.m.request_id = NULL;
    ck_assert_msg(decode(&b, &h, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_str_eq(r.request_id, "hdr-id");
    ck_assert_str_eq(r.reply_topic, "hdr.topic");
    ck_assert_int_eq(r.deadline_unix_ms, 77);
    dllm_gen_request_deinit(&r);

    /* body wins over headers */
    b.m.request_id = "body-id";
    b.m.reply_topic = "body.topic";
    b.m.has_deadline_unix_ms = 1;
    b.m.deadline_unix_ms = 5;
    ck_assert_msg(decode(&b, &h, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_str_eq(r.request_id, "body-id");
    ck_assert_str_eq(r.reply_topic, "body.topic");
    ck_assert_int_eq(r.deadline_unix_ms, 5);
    dllm_gen_request_deinit(&r);
}
END_TEST

START_TEST(test_invalid_fields)
{
    req_builder b;
    char big_id[300];

    memset(big_id, 'x', sizeof big_id - 1);
    big_id[sizeof big_id - 1] = '\0';

    rb_init(&b);
    b.m.request_id = NULL;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "request_id");
    rb_init(&b);
    b.m.request_id = big_id;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "request_id");
    rb_init(&b);
    b.m.reply_topic = "bad topic!";
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "reply_topic");
    rb_init(&b);
    b.m.model = "gpt-9";
    expect_fail(&b, DLLM_ERRC_UNKNOWN_MODEL, "gpt-9");
    rb_init(&b);
    b.m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT__NOT_SET;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "exactly one");
    rb_init(&b);
    b.m.has_deadline_unix_ms = 1;
    b.m.deadline_unix_ms = -1;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "deadline_unix_ms");
    rb_init(&b);
    b.m.raw = b.m.has_raw = 1;
    b.m.system = "s";
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "raw");

#define BAD_G(field, val, needle)                                                              \
    do {                                                                                       \
        rb_init(&b);                                                                           \
        b.g.has_##field = 1;                                                                   \
        b.g.field = val;                                                                       \
        b.m.params = &b.g;                                                                     \
        expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, needle);                                   \
    } while (0)
    BAD_G(gen_length, 0, "gen_length");
    BAD_G(gen_length, -5, "gen_length");
    BAD_G(gen_length, 1 << 20, "gen_length");
    BAD_G(steps, 0, "steps");
    BAD_G(block_length, -1, "block_length");
    BAD_G(temperature, -0.5f, "temperature");
    BAD_G(temperature, NAN, "temperature");
    BAD_G(temperature, INFINITY, "temperature");
    BAD_G(cfg_scale, -1.0f, "cfg_scale");
    BAD_G(remasking, (Dllm__V1__Remasking)7, "remasking");
    BAD_G(threshold, 1.5f, "threshold");
    BAD_G(threshold, NAN, "threshold");
    BAD_G(factor, -1.0f, "factor");
    /* engine-level rule: block_length must divide gen_length */
    BAD_G(block_length, 7, "params:");
#undef BAD_G
#define BAD_C(field, val, needle)                                                              \
    do {                                                                                       \
        rb_init(&b);                                                                           \
        b.c.has_##field = 1;                                                                   \
        b.c.field = val;                                                                       \
        b.m.cache = &b.c;                                                                      \
        expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, needle);                                   \
    } while (0)
    BAD_C(policy, (Dllm__V1__CachePolicy)9, "cache.policy");
    BAD_C(kp, 0, "cache.kp");
    BAD_C(kr, -3, "cache.kr");
    BAD_C(rho, 1.5, "cache.rho");
    BAD_C(rho, NAN, "cache.rho");
    BAD_C(cfg_interval, -1, "cache.cfg_interval");
    BAD_C(keep_ratio, 0.0, "cache.keep_ratio");
    BAD_C(keep_ratio, 1.5, "cache.keep_ratio");
    BAD_C(kernel, 4, "cache.kernel");
    BAD_C(kernel, 0, "cache.kernel");
    BAD_C(d2_k, 0, "cache.d2_k");
    BAD_C(d2_p, -0.1, "cache.d2_p");
    BAD_C(d2_sigma, 0.0, "cache.d2_sigma");
    BAD_C(d2_sigma, INFINITY, "cache.d2_sigma");
    BAD_C(d2_inflate, -1, "cache.d2_inflate");
#undef BAD_C

    /* token ids */
    rb_init(&b);
    b.m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS;
    b.ids.ids = b.idv;
    b.m.token_ids = &b.ids;
    b.ids.n_ids = 0;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "empty");
    b.idv[0] = 1000;
    b.ids.n_ids = 1;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "vocabulary");
    b.idv[0] = -1;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "vocabulary");
    b.idv[0] = 999;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "mask");
    b.idv[0] = 5;
    b.m.system = "s";
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "text prompt only");
}
END_TEST

START_TEST(test_envelope_survives_errors)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];

    rb_init(&b);
    b.m.request_id = "abc";
    b.m.reply_topic = "r.t";
    b.g.has_steps = 1;
    b.g.steps = -1;
    b.m.params = &b.g;
    ck_assert_int_eq(decode(&b, NULL, &r, &code, msg, sizeof msg), DLLM_E_INVALID_ARG);
    ck_assert_str_eq(r.request_id, "abc");
    ck_assert_str_eq(r.reply_topic, "r.t");
    dllm_gen_request_deinit(&r);
}
END_TEST

START_TEST(test_length_limits)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];
    int32_t *many = calloc(300, sizeof *many);
    char *huge = malloc((1u << 20) + 2);
    dllm_codec_limits l = test_limits();

    ck_assert_ptr_nonnull(many);
    ck_assert_ptr_nonnull(huge);
    /* 300 prompt ids + 128 > 256 */
    rb_init(&b);
    b.m.prompt_case = DLLM__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS;
    b.ids.ids = many;
    b.ids.n_ids = 300;
    b.m.token_ids = &b.ids;
    expect_fail(&b, DLLM_ERRC_PROMPT_TOO_LONG, "maximum sequence length");

    /* text over max_text_bytes */
    memset(huge, 'a', (1u << 20) + 1);
    huge[(1u << 20) + 1] = '\0';
    rb_init(&b);
    b.m.text = huge;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "text: longer");

    /* text length check after tokenization */
    rb_init(&b);
    ck_assert_msg(decode(&b, NULL, &r, &code, msg, sizeof msg) == DLLM_OK, "%s", msg);
    ck_assert_int_eq(dllm_gen_request_check_length(&r, 128, &l, &code, msg, sizeof msg), DLLM_OK);
    ck_assert_int_eq(dllm_gen_request_check_length(&r, 129, &l, &code, msg, sizeof msg),
                     DLLM_E_INVALID_ARG);
    ck_assert_int_eq(code, DLLM_ERRC_PROMPT_TOO_LONG);
    dllm_gen_request_deinit(&r);

    /* whole message over max_request_bytes */
    l.max_request_bytes = 16;
    ck_assert_int_eq(dllm_gen_request_decode(huge, 17, &l, NULL, &r, &code, msg, sizeof msg),
                     DLLM_E_INVALID_ARG);
    ck_assert_ptr_null(r.request_id);
    dllm_gen_request_deinit(&r);
    free(many);
    free(huge);
}
END_TEST

START_TEST(test_truncated_and_garbage)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[256];
    size_t n;
    uint8_t *buf;
    dllm_codec_limits l = test_limits();
    int fails = 0;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80};
    dllm_gen_request_hints hh = {.correlation_id = "hdr-1", .reply_to = "r.t",
                                 .deadline_unix_ms = 0};

    rb_init(&b);
    b.m.system = "a system prompt";
    b.g.has_gen_length = 1;
    b.g.gen_length = 8;
    b.m.params = &b.g;
    buf = rb_pack(&b, &n);
    for (size_t cut = 0; cut < n; cut++) {
        dllm_status rc = dllm_gen_request_decode(buf, cut, &l, NULL, &r, &code, msg, sizeof msg);
        if (rc != DLLM_OK) {
            fails++;
            ck_assert_int_ne(code, DLLM_ERRC_NONE);
            ck_assert(msg[0] != '\0');
        }
        dllm_gen_request_deinit(&r);
    }
    ck_assert_int_gt(fails, (int)n / 2);
    ck_assert_int_eq(dllm_gen_request_decode(garbage, sizeof garbage, &l, &hh, &r, &code, msg,
                                         sizeof msg), DLLM_E_FORMAT);
    ck_assert_int_eq(code, DLLM_ERRC_MALFORMED);
    ck_assert_str_eq(r.request_id, "hdr-1"); /* still addressable from the headers */
    ck_assert_str_eq(r.reply_topic, "r.t");
    dllm_gen_request_deinit(&r);
    free(buf);
}
END_TEST

START_TEST(test_response_roundtrip)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int32_t ids[3] = {5, 6, 7};
    dllm_meta_kv kv = {"k", "v"};
    dllm_response r = {0};
    Dllm__V1__GenerateResponse *m;

    r.request_id = "r1";
    r.text = "hello";
    r.token_ids = ids;
    r.n_token_ids = 3;
    r.finish_reason = DLLM_FINISH_EOS;
    r.prompt_tokens = 10;
    r.completion_tokens = 2;
    r.total_ms = 12.5;
    r.worker_ms = 0.25;
    r.engine_ms = 11.0;
    r.steps = 8;
    r.forwards = 8;
    r.worker_id = "w1";
    r.model_id = "m";
    r.meta = &kv;
    r.n_meta = 1;
    ck_assert_int_eq(dllm_response_encode(&r, &buf, &n), DLLM_OK);
    m = dllm__v1__generate_response__unpack(NULL, n, buf);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->request_id, "r1");
    ck_assert_int_eq(m->outcome_case, DLLM__V1__GENERATE_RESPONSE__OUTCOME_RESULT);
    ck_assert_str_eq(m->result->text, "hello");
    ck_assert_uint_eq(m->result->token_ids->n_ids, 3);
    ck_assert_int_eq(m->result->finish_reason, DLLM__V1__FINISH_REASON__FINISH_REASON_EOS);
    ck_assert_int_eq(m->result->usage->prompt_tokens, 10);
    ck_assert(m->result->usage->has_cached_prompt_tokens);
    ck_assert_double_eq(m->result->timings->total_ms, 12.5);
    ck_assert(m->result->timings->has_worker_ms && m->result->timings->has_engine_ms);
    ck_assert_double_eq(m->result->timings->worker_ms, 0.25);
    ck_assert_double_eq(m->result->timings->engine_ms, 11.0);
    ck_assert_str_eq(m->worker_id, "w1");
    ck_assert_str_eq(m->metadata[0]->value, "v");
    dllm__v1__generate_response__free_unpacked(m, NULL);
    free(buf);

    memset(&r, 0, sizeof r);
    r.request_id = "r2";
    r.error = DLLM_ERRC_DEADLINE_EXCEEDED;
    r.error_message = "late";
    ck_assert_int_eq(dllm_response_encode(&r, &buf, &n), DLLM_OK);
    m = dllm__v1__generate_response__unpack(NULL, n, buf);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->outcome_case, DLLM__V1__GENERATE_RESPONSE__OUTCOME_ERROR);
    ck_assert_int_eq(m->error->code, DLLM__V1__ERROR_CODE__ERROR_CODE_DEADLINE_EXCEEDED);
    ck_assert_str_eq(m->error->message, "late");
    dllm__v1__generate_response__free_unpacked(m, NULL);
    free(buf);
}
END_TEST

START_TEST(test_fast_dllm_fields)
{
    req_builder b;
    dllm_gen_request r;
    dllm_errc code;
    char msg[512];

    rb_init(&b);
    b.g.has_threshold = 1;
    b.g.threshold = 0.9f;
    b.g.has_early_stop = 1;
    b.g.early_stop = 1;
    b.m.params = &b.g;
    b.c.has_policy = 1;
    b.c.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_PREFIX;
    b.m.cache = &b.c;
    ck_assert_int_eq(decode(&b, NULL, &r, &code, msg, sizeof msg), DLLM_OK);
    ck_assert_int_eq(r.params.cache, DLLM_CACHE_PREFIX);
    ck_assert_float_eq(r.params.threshold, 0.9f);
    ck_assert_int_eq(r.params.early_stop, 1);
    dllm_gen_request_deinit(&r);

    rb_init(&b);
    b.g.has_factor = 1;
    b.g.factor = 1.5f;
    b.m.params = &b.g;
    b.c.has_policy = 1;
    b.c.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_DUAL;
    b.m.cache = &b.c;
    ck_assert_int_eq(decode(&b, NULL, &r, &code, msg, sizeof msg), DLLM_OK);
    ck_assert_int_eq(r.params.cache, DLLM_CACHE_DUAL);
    ck_assert_float_eq(r.params.factor, 1.5f);
    ck_assert_int_eq(r.params.early_stop, 0);
    dllm_gen_request_deinit(&r);

    /* Sparse-dLLM and d2Cache with their parameters */
    rb_init(&b);
    b.c.has_policy = b.c.has_keep_ratio = b.c.has_kernel = 1;
    b.c.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_SPARSE;
    b.c.keep_ratio = 0.25;
    b.c.kernel = 5;
    b.m.cache = &b.c;
    ck_assert_int_eq(decode(&b, NULL, &r, &code, msg, sizeof msg), DLLM_OK);
    ck_assert_int_eq(r.params.cache, DLLM_CACHE_SPARSE);
    ck_assert_double_eq(r.params.cache_params.keep_ratio, 0.25);
    ck_assert_int_eq(r.params.cache_params.kernel, 5);
    dllm_gen_request_deinit(&r);
    rb_init(&b);
    b.c.has_policy = b.c.has_d2_k = b.c.has_d2_p = b.c.has_d2_prior = 1;
    b.c.policy = DLLM__V1__CACHE_POLICY__CACHE_POLICY_D2;
    b.c.d2_k = 8;
    b.c.d2_p = 0.3;
    b.c.d2_prior = 0;
    b.m.cache = &b.c;
    ck_assert_int_eq(decode(&b, NULL, &r, &code, msg, sizeof msg), DLLM_OK);
    ck_assert_int_eq(r.params.cache, DLLM_CACHE_D2);
    ck_assert_int_eq(r.params.cache_params.d2_k, 8);
    ck_assert_double_eq(r.params.cache_params.d2_p, 0.3);
    ck_assert_int_eq(r.params.cache_params.d2_prior, 0);
    dllm_gen_request_deinit(&r);

    /* both rules at once: the engine's validator refuses */
    rb_init(&b);
    b.g.has_factor = b.g.has_threshold = 1;
    b.g.factor = 1.5f;
    b.g.threshold = 0.9f;
    b.m.params = &b.g;
    expect_fail(&b, DLLM_ERRC_INVALID_ARGUMENT, "params:");
}
END_TEST

START_TEST(test_topic_names)
{
    ck_assert(dllm_topic_name_valid("dllm.replies_1-a"));
    ck_assert(!dllm_topic_name_valid(""));
    ck_assert(!dllm_topic_name_valid("."));
    ck_assert(!dllm_topic_name_valid(".."));
    ck_assert(!dllm_topic_name_valid("a b"));
    ck_assert(!dllm_topic_name_valid(NULL));
    ck_assert_str_eq(dllm_errc_name(DLLM_ERRC_PROMPT_TOO_LONG), "PROMPT_TOO_LONG");
    ck_assert(dllm_errc_is_poison(DLLM_ERRC_MALFORMED));
    ck_assert(!dllm_errc_is_poison(DLLM_ERRC_DEADLINE_EXCEEDED));
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("request");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_all_fields);
    tcase_add_test(tc, test_prefix_tokens);
    tcase_add_test(tc, test_explicit_zero_temperature);
    tcase_add_test(tc, test_token_ids_and_messages);
    tcase_add_test(tc, test_hints);
    tcase_add_test(tc, test_invalid_fields);
    tcase_add_test(tc, test_envelope_survives_errors);
    tcase_add_test(tc, test_length_limits);
    tcase_add_test(tc, test_truncated_and_garbage);
    suite_add_tcase(s, tc);
    tc = tcase_create("response");
    tcase_add_test(tc, test_response_roundtrip);
    tcase_add_test(tc, test_topic_names);
    tcase_add_test(tc, test_fast_dllm_fields);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(codec_suite)
