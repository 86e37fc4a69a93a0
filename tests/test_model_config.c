/* test_model_config.c -- Check suite for engine/model_config.{h,c}.
 *
 * A complete tiny LLaDA config is the base; each case changes, removes or adds one key
 * (through cJSON, so the text stays valid JSON unless the case is about syntax) and
 * asserts the status and that the message names the key. The real LLaDA-8B-Instruct
 * config (tests/data/configs) must parse to exactly dllm_model_config_llada_8b().
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"
#include "testutil.h"

static const char *base_config =
    "{\"architectures\":[\"LLaDAModelLM\"],\"model_type\":\"llada\",\"activation_type\":\"silu\","
    "\"alibi\":false,\"block_type\":\"llama\",\"d_model\":64,\"n_layers\":2,\"n_heads\":4,"
    "\"n_kv_heads\":4,\"mlp_hidden_size\":96,\"mlp_ratio\":1.5,\"vocab_size\":275,"
    "\"embedding_size\":280,\"max_sequence_length\":512,\"rope\":true,\"rope_theta\":10000.0,"
    "\"rms_norm_eps\":1e-06,\"mask_token_id\":271,\"eos_token_id\":269,\"pad_token_id\":268,"
    "\"weight_tying\":false,\"include_bias\":false,\"include_qkv_bias\":false,"
    "\"layer_norm_type\":\"rms\",\"multi_query_attention\":null,\"clip_qkv\":null,"
    "\"init_device\":\"meta\",\"auto_map\":{\"AutoConfig\":\"x\"}}";

/* Base config with `key` set to the JSON text `value` (NULL removes the key). Caller frees. */
static char *variant(const char *key, const char *value)
{
    cJSON *root = cJSON_Parse(base_config);
    char *out;
    ck_assert_ptr_nonnull(root);
    cJSON_DeleteItemFromObjectCaseSensitive(root, key);
    if (value != NULL) {
        cJSON *v = cJSON_Parse(value);
        ck_assert_msg(v != NULL, "bad test value %s", value);
        cJSON_AddItemToObject(root, key, v);
    }
    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    ck_assert_ptr_nonnull(out);
    return out;
}

#define EXPECT_ERR(rc_expr, want, err, ...)                                                        \
    do {                                                                                           \
        dllm_status rc_ = (rc_expr);                                                               \
        const char *subs_[] = {__VA_ARGS__};                                                       \
        size_t s_;                                                                                 \
        ck_assert_msg(rc_ == (want), "status %s, want %s (message: %s)", dllm_status_str(rc_),     \
                      dllm_status_str(want), err);                                                 \
        for (s_ = 0; s_ < sizeof subs_ / sizeof subs_[0]; s_++)                                    \
            ck_assert_msg(strstr(err, subs_[s_]) != NULL, "message '%s' lacks '%s'", err,          \
                          subs_[s_]);                                                              \
    } while (0)

/* Parses the variant and checks the status and that the message has every substring. */
#define EXPECT_VARIANT(key, value, want, ...)                                                      \
    do {                                                                                           \
        char *t_ = variant(key, value);                                                            \
        char e_[512] = "";                                                                         \
        dllm_model_config c_;                                                                      \
        dllm_status r_ =                                                                           \
            dllm_model_config_parse(t_, strlen(t_), "config.json", &c_, e_, sizeof e_);            \
        if ((want) == DLLM_OK) {                                                                   \
            ck_assert_msg(r_ == DLLM_OK, "%s: %s", t_, e_);                                        \
        } else {                                                                                   \
            EXPECT_ERR(r_, want, e_, "config.json", __VA_ARGS__);                                  \
            ck_assert_int_eq(c_.d_model, 0); /* zeroed on failure */                               \
        }                                                                                          \
        free(t_);                                                                                  \
    } while (0)

START_TEST(test_good_base)
{
    dllm_model_config c;
    char err[512] = "";
    ck_assert_int_eq(dllm_model_config_parse(base_config, strlen(base_config), "config.json", &c,
                                             err, sizeof err),
                     DLLM_OK);
    ck_assert_int_eq(c.d_model, 64);
    ck_assert_int_eq(c.n_layers, 2);
    ck_assert_int_eq(c.n_heads, 4);
    ck_assert_int_eq(c.n_kv_heads, 4);
    ck_assert_int_eq(c.head_size, 16);
    ck_assert_int_eq(c.mlp_hidden_size, 96);
    ck_assert_int_eq(c.vocab_size, 275);
    ck_assert_int_eq(c.embedding_size, 280);
    ck_assert_int_eq(c.max_sequence_length, 512);
    ck_assert_double_eq(c.rope_theta, 10000.0);
    ck_assert_double_eq(c.rms_norm_eps, 1e-6);
    ck_assert_int_eq(c.mask_token_id, 271);
    ck_assert_int_eq(c.eos_token_id, 269);
    ck_assert_int_eq(c.pad_token_id, 268);
    ck_assert(!c.weight_tying && !c.include_bias && !c.include_qkv_bias && c.rope && !c.alibi);
    ck_assert_str_eq(c.layer_norm_type, "rms");
    ck_assert_str_eq(c.activation_type, "silu");
    ck_assert_str_eq(c.block_type, "llama");
    ck_assert_str_eq(c.model_type, "llada");
    ck_assert_str_eq(c.architectures, "LLaDAModelLM");
    /* not NUL-terminated: parse only the first len bytes of a larger buffer */
    {
        size_t n = strlen(base_config);
        char *buf = malloc(n + 8);
        memcpy(buf, base_config, n);
        memcpy(buf + n, "garbage", 7);
        ck_assert_int_eq(dllm_model_config_parse(buf, n, "c", &c, err, sizeof err), DLLM_OK);
        free(buf);
    }
}
END_TEST

START_TEST(test_defaults)
{
    dllm_model_config c;
    char err[512] = "", *t;
    /* n_kv_heads null -> n_heads; embedding_size absent -> vocab_size; pad absent -> eos */
    cJSON *root = cJSON_Parse(base_config);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "n_kv_heads", cJSON_CreateNull());
    cJSON_DeleteItemFromObjectCaseSensitive(root, "embedding_size");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "pad_token_id");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "rms_norm_eps");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "mlp_hidden_size");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "layer_norm_type");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "model_type");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "architectures");
    cJSON_AddNumberToObject(root, "layer_norm_eps", 2e-5);
    t = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    ck_assert_int_eq(dllm_model_config_parse(t, strlen(t), "config.json", &c, err, sizeof err),
                     DLLM_OK);
    ck_assert_int_eq(c.n_kv_heads, 4);
    ck_assert_int_eq(c.embedding_size, 275);
    ck_assert_int_eq(c.pad_token_id, 269);
    ck_assert_double_eq(c.rms_norm_eps, 2e-5);  /* layer_norm_eps fallback */
    ck_assert_int_eq(c.mlp_hidden_size, 96);    /* mlp_ratio 1.5 * d_model 64 */
    ck_assert_str_eq(c.layer_norm_type, "rms"); /* assumed */
    ck_assert_str_eq(c.model_type, "");
    ck_assert_str_eq(c.architectures, "");
    free(t);
    /* rms_norm_eps wins over layer_norm_eps; both absent -> 1e-5 */
    t = variant("layer_norm_eps", "0.5");
    ck_assert_int_eq(dllm_model_config_parse(t, strlen(t), "c", &c, err, sizeof err), DLLM_OK);
    ck_assert_double_eq(c.rms_norm_eps, 1e-6);
    free(t);
    t = variant("rms_norm_eps", NULL);
    ck_assert_int_eq(dllm_model_config_parse(t, strlen(t), "c", &c, err, sizeof err), DLLM_OK);
    ck_assert_double_eq(c.rms_norm_eps, 1e-5);
    free(t);
    /* activation swiglu accepted */
    t = variant("activation_type", "\"swiglu\"");
    ck_assert_int_eq(dllm_model_config_parse(t, strlen(t), "c", &c, err, sizeof err), DLLM_OK);
    free(t);
}
END_TEST

START_TEST(test_missing_keys)
{
    static const char *required[] = {"d_model",       "n_layers",     "n_heads",
                                     "vocab_size",    "rope_theta",   "max_sequence_length",
                                     "mask_token_id", "eos_token_id", "weight_tying",
                                     "include_bias",  "rope"};
    size_t i;
    for (i = 0; i < sizeof required / sizeof required[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "'%s'", required[i]);
        EXPECT_VARIANT(required[i], NULL, DLLM_E_CONFIG, key, "missing");
    }
    {
        /* mlp_hidden_size absent and no mlp_ratio */
        cJSON *root = cJSON_Parse(base_config);
        char err[512] = "", *t;
        dllm_model_config c;
        cJSON_DeleteItemFromObjectCaseSensitive(root, "mlp_hidden_size");
        cJSON_DeleteItemFromObjectCaseSensitive(root, "mlp_ratio");
        t = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        EXPECT_ERR(dllm_model_config_parse(t, strlen(t), "config.json", &c, err, sizeof err),
                   DLLM_E_CONFIG, err, "'mlp_hidden_size'", "missing");
        free(t);
    }
}
END_TEST

START_TEST(test_bad_types_and_ranges)
{
    EXPECT_VARIANT("d_model", "\"64\"", DLLM_E_CONFIG, "'d_model'", "integer", "a string");
    EXPECT_VARIANT("d_model", "64.5", DLLM_E_CONFIG, "'d_model'", "integer");
    EXPECT_VARIANT("d_model", "null", DLLM_E_CONFIG, "'d_model'", "null");
    EXPECT_VARIANT("d_model", "-64", DLLM_E_CONFIG, "'d_model'", "outside");
    EXPECT_VARIANT("d_model", "1e300", DLLM_E_CONFIG, "'d_model'");
    EXPECT_VARIANT("n_layers", "0", DLLM_E_CONFIG, "'n_layers' = 0", "outside");
    EXPECT_VARIANT("n_heads", "5", DLLM_E_CONFIG, "'n_heads' = 5", "does not divide");
    EXPECT_VARIANT("n_heads", "[4]", DLLM_E_CONFIG, "'n_heads'", "an array");
    EXPECT_VARIANT("max_sequence_length", "0", DLLM_E_CONFIG, "'max_sequence_length'");
    EXPECT_VARIANT("mlp_hidden_size", "0", DLLM_E_CONFIG, "'mlp_hidden_size'");
    EXPECT_VARIANT("vocab_size", "281", DLLM_E_CONFIG, "'embedding_size'", "vocab_size");
    EXPECT_VARIANT("rope_theta", "0", DLLM_E_CONFIG, "'rope_theta'");
    EXPECT_VARIANT("rope_theta", "\"1e4\"", DLLM_E_CONFIG, "'rope_theta'", "a string");
    EXPECT_VARIANT("rms_norm_eps", "0", DLLM_E_CONFIG, "'rms_norm_eps'");
    EXPECT_VARIANT("rms_norm_eps", "2", DLLM_E_CONFIG, "'rms_norm_eps'");
    EXPECT_VARIANT("mask_token_id", "280", DLLM_E_CONFIG, "'mask_token_id' = 280", "outside");
    EXPECT_VARIANT("eos_token_id", "-1", DLLM_E_CONFIG, "'eos_token_id' = -1");
    EXPECT_VARIANT("pad_token_id", "4294967296", DLLM_E_CONFIG, "'pad_token_id'", "32-bit");
    EXPECT_VARIANT("weight_tying", "0", DLLM_E_CONFIG, "'weight_tying'", "true or false");
    EXPECT_VARIANT("rope", "\"true\"", DLLM_E_CONFIG, "'rope'", "true or false");
    EXPECT_VARIANT("layer_norm_type", "7", DLLM_E_CONFIG, "'layer_norm_type'", "string");
    EXPECT_VARIANT("architectures", "\"LLaDAModelLM\"", DLLM_E_CONFIG, "'architectures'");
    EXPECT_VARIANT("architectures", "[1]", DLLM_E_CONFIG, "'architectures'");
    EXPECT_VARIANT("model_type",
                   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                   DLLM_E_CONFIG, "'model_type'", "longer");
    EXPECT_VARIANT("d_model", "62", DLLM_E_CONFIG, "'n_heads'", "does not divide");
    EXPECT_VARIANT("d_model", "36", DLLM_E_CONFIG, "head size", "odd"); /* 36 / 4 = 9 */
    EXPECT_VARIANT("mlp_ratio", "\"x\"", DLLM_E_CONFIG, "'mlp_ratio'");
    EXPECT_VARIANT("n_kv_heads", "3", DLLM_E_CONFIG, "'n_kv_heads' = 3", "invalid");
}
END_TEST

START_TEST(test_unsupported)
{
    EXPECT_VARIANT("n_kv_heads", "2", DLLM_E_UNSUPPORTED, "'n_kv_heads' = 2",
                   "grouped-query attention");
    EXPECT_VARIANT("include_bias", "true", DLLM_E_UNSUPPORTED, "'include_bias'", "not supported");
    EXPECT_VARIANT("include_qkv_bias", "true", DLLM_E_UNSUPPORTED, "'include_qkv_bias'");
    EXPECT_VARIANT("rope", "false", DLLM_E_UNSUPPORTED, "'rope'");
    EXPECT_VARIANT("alibi", "true", DLLM_E_UNSUPPORTED, "'alibi'");
    EXPECT_VARIANT("layer_norm_type", "\"default\"", DLLM_E_UNSUPPORTED, "'layer_norm_type'",
                   "'default'");
    EXPECT_VARIANT("activation_type", "\"gelu\"", DLLM_E_UNSUPPORTED, "'activation_type'",
                   "'gelu'");
    EXPECT_VARIANT("block_type", "\"sequential\"", DLLM_E_UNSUPPORTED, "'block_type'",
                   "'sequential'");
    EXPECT_VARIANT("model_type", "\"Dream\"", DLLM_E_UNSUPPORTED, "'model_type'", "'Dream'");
    EXPECT_VARIANT("multi_query_attention", "true", DLLM_E_UNSUPPORTED, "'multi_query_attention'");
    EXPECT_VARIANT("attention_layer_norm", "true", DLLM_E_UNSUPPORTED, "'attention_layer_norm'");
    EXPECT_VARIANT("clip_qkv", "8.0", DLLM_E_UNSUPPORTED, "'clip_qkv'");
    EXPECT_VARIANT("scale_logits", "true", DLLM_E_UNSUPPORTED, "'scale_logits'");
    EXPECT_VARIANT("input_emb_norm", "true", DLLM_E_UNSUPPORTED, "'input_emb_norm'");
    EXPECT_VARIANT("layer_norm_with_affine", "false", DLLM_E_UNSUPPORTED,
                   "'layer_norm_with_affine'");
    EXPECT_VARIANT("bias_for_layer_norm", "true", DLLM_E_UNSUPPORTED, "'bias_for_layer_norm'");
    /* harmless values of the same keys pass */
    EXPECT_VARIANT("bias_for_layer_norm", "null", DLLM_OK, "");
    EXPECT_VARIANT("layer_norm_with_affine", "true", DLLM_OK, "");
    EXPECT_VARIANT("multi_query_attention", "false", DLLM_OK, "");
}
END_TEST

START_TEST(test_syntax)
{
    dllm_model_config c;
    char err[512] = "";
    const char *dup = "{\"d_model\":64,\"d_model\":128}";
    EXPECT_ERR(dllm_model_config_parse("{\"d_model\":", 11, "config.json", &c, err, sizeof err),
               DLLM_E_FORMAT, err, "config.json", "not valid JSON");
    EXPECT_ERR(dllm_model_config_parse("[1]", 3, "config.json", &c, err, sizeof err), DLLM_E_FORMAT,
               err, "config.json", "not a JSON object");
    EXPECT_ERR(dllm_model_config_parse("", 0, "config.json", &c, err, sizeof err), DLLM_E_FORMAT,
               err, "config.json");
    EXPECT_ERR(dllm_model_config_parse("{}\0{}", 5, "config.json", &c, err, sizeof err),
               DLLM_E_FORMAT, err, "NUL");
    EXPECT_ERR(dllm_model_config_parse("{} x", 4, "config.json", &c, err, sizeof err),
               DLLM_E_FORMAT, err, "not valid JSON");
    EXPECT_ERR(dllm_model_config_parse(dup, strlen(dup), "config.json", &c, err, sizeof err),
               DLLM_E_CONFIG, err, "'d_model'", "twice");
}
END_TEST

static void assert_config_eq(const dllm_model_config *a, const dllm_model_config *b)
{
    ck_assert_int_eq(a->d_model, b->d_model);
    ck_assert_int_eq(a->n_layers, b->n_layers);
    ck_assert_int_eq(a->n_heads, b->n_heads);
    ck_assert_int_eq(a->n_kv_heads, b->n_kv_heads);
    ck_assert_int_eq(a->head_size, b->head_size);
    ck_assert_int_eq(a->mlp_hidden_size, b->mlp_hidden_size);
    ck_assert_int_eq(a->vocab_size, b->vocab_size);
    ck_assert_int_eq(a->embedding_size, b->embedding_size);
    ck_assert_int_eq(a->max_sequence_length, b->max_sequence_length);
    ck_assert_double_eq(a->rope_theta, b->rope_theta);
    ck_assert_double_eq(a->rms_norm_eps, b->rms_norm_eps);
    ck_assert_int_eq(a->mask_token_id, b->mask_token_id);
    ck_assert_int_eq(a->eos_token_id, b->eos_token_id);
    ck_assert_int_eq(a->pad_token_id, b->pad_token_id);
    ck_assert_int_eq(a->weight_tying, b->weight_tying);
    ck_assert_int_eq(a->include_bias, b->include_bias);
    ck_assert_int_eq(a->include_qkv_bias, b->include_qkv_bias);
    ck_assert_int_eq(a->rope, b->rope);
    ck_assert_int_eq(a->alibi, b->alibi);
    ck_assert_str_eq(a->layer_norm_type, b->layer_norm_type);
    ck_assert_str_eq(a->activation_type, b->activation_type);
    ck_assert_str_eq(a->block_type, b->block_type);
    ck_assert_str_eq(a->model_type, b->model_type);
    ck_assert_str_eq(a->architectures, b->architectures);
}

START_TEST(test_llada_8b_file)
{
    dllm_model_config c, ref;
    char p[PATH_MAX], err[512] = "";

    tu_data_path(p, sizeof p, "configs/llada-8b-instruct.config.json");
    ck_assert_msg(dllm_model_config_load(p, &c, err, sizeof err) == DLLM_OK, "%s", err);
    dllm_model_config_llada_8b(&ref);
    ck_assert_int_eq(c.d_model, 4096);
    ck_assert_int_eq(c.head_size, 128);
    ck_assert_int_eq(c.mlp_hidden_size, 12288);
    ck_assert_int_eq(c.embedding_size, 126464);
    ck_assert_int_eq(c.mask_token_id, 126336);
    ck_assert_double_eq(c.rope_theta, 500000.0);
    assert_config_eq(&c, &ref); /* every field, strings included */
    ck_assert_int_eq(dllm_model_config_validate(&ref, "synthetic", err, sizeof err), DLLM_OK);
    /* about 8.02 B parameters (algorithms.md 13.5) */
    ck_assert_int_eq(dllm_model_config_n_params(&ref), 8015581184LL);
    /* missing file */
    tu_data_path(p, sizeof p, "configs/absent.json");
    EXPECT_ERR(dllm_model_config_load(p, &c, err, sizeof err), DLLM_E_IO, err, "absent.json");
}
END_TEST

START_TEST(test_print_and_json)
{
    dllm_model_config c;
    cJSON *o;
    FILE *fp = tmpfile();
    char buf[2048];
    size_t n;

    dllm_model_config_llada_8b(&c);
    ck_assert_ptr_nonnull(fp);
    dllm_model_config_print(&c, fp);
    rewind(fp);
    n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(buf, "d_model 4096"));
    ck_assert_ptr_nonnull(strstr(buf, "mask_token_id 126336"));
    o = dllm_model_config_to_json(&c);
    ck_assert_ptr_nonnull(o);
    ck_assert_double_eq(cJSON_GetObjectItem(o, "mlp_hidden_size")->valuedouble, 12288);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "block_type")->valuestring, "llama");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "weight_tying")));
    cJSON_Delete(o);
}
END_TEST

static Suite *model_config_suite(void)
{
    Suite *s = suite_create("model_config");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_good_base);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_missing_keys);
    tcase_add_test(tc, test_bad_types_and_ranges);
    tcase_add_test(tc, test_unsupported);
    tcase_add_test(tc, test_syntax);
    suite_add_tcase(s, tc);
    tc = tcase_create("llada8b");
    tcase_add_test(tc, test_llada_8b_file);
    tcase_add_test(tc, test_print_and_json);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(model_config_suite)
