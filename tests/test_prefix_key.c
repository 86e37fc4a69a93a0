/* test_prefix_key.c -- the prompt-slot key against golden vectors written by an
 * independent implementation (ops/clients/prefix_key.py, Python struct + hashlib):
 * tests/data/golden/prefix_keys.json holds each vector's fields, its byte encoding and
 * its key; the engine must reproduce both exactly. Also: isolation properties (salt,
 * policy parameters) and input validation.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "dllm/prefix_key.h"
#include "testutil.h"

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
    ck_assert_uint_eq(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static const char *jstr(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

START_TEST(golden_vectors)
{
    cJSON *root = tu_load_json("golden/prefix_keys.json");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(root, "vectors"), *v;
    int n = 0;
    cJSON_ArrayForEach(v, vs)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, "fields");
        dllm_prefix_key_fields kf;
        size_t nt = 0;
        int32_t *toks = tu_json_ids(cJSON_GetObjectItemCaseSensitive(f, "tokens"), &nt);
        const char *salt = jstr(f, "salt", "");
        memset(&kf, 0, sizeof kf);
        kf.model_id = jstr(f, "model_id", "");
        kf.model_revision = jstr(f, "model_revision", "");
        hex_to_bytes(jstr(f, "tokenizer_sha256_hex", ""), kf.tokenizer_sha256, 32);
        kf.dtype = jstr(f, "dtype", "");
        kf.tp_size = (uint32_t)jnum(f, "tp_size");
        kf.policy = jstr(f, "policy", "");
        kf.kp = (int32_t)jnum(f, "kp");
        kf.kr = (int32_t)jnum(f, "kr");
        kf.rho = jnum(f, "rho");
        kf.layer0_refresh = (uint32_t)jnum(f, "layer0_refresh");
        kf.cfg_interval = (int32_t)jnum(f, "cfg_interval");
        kf.salt = salt;
        kf.salt_len = strlen(salt);
        kf.tokens = toks;
        kf.n_tokens = nt;

        const char *enc_hex = jstr(v, "encoding_hex", "");
        size_t elen = strlen(enc_hex) / 2;
        uint8_t *want = malloc(elen), *got = malloc(elen + 1);
        hex_to_bytes(enc_hex, want, elen);
        ck_assert_uint_eq(dllm_prefix_key_encode(&kf, got, elen + 1), elen);
        ck_assert_mem_eq(got, want, elen);

        uint8_t key[DLLM_PREFIX_KEY_BYTES];
        char hex[DLLM_PREFIX_KEY_HEX];
        ck_assert_int_eq(dllm_prefix_key(&kf, key), DLLM_OK);
        dllm_prefix_key_hex(key, hex);
        ck_assert_str_eq(hex, jstr(v, "key", ""));
        free(want);
        free(got);
        free(toks);
        n++;
    }
    ck_assert_int_ge(n, 4);
    cJSON_Delete(root);
}
END_TEST

static void base_fields(dllm_prefix_key_fields *f, const int32_t *t, size_t n)
{
    memset(f, 0, sizeof *f);
    f->model_id = "m";
    f->dtype = "f32";
    f->tp_size = 1;
    f->policy = "dllm";
    f->kp = 50;
    f->kr = 7;
    f->rho = 0.25;
    f->layer0_refresh = 1;
    f->tokens = t;
    f->n_tokens = n;
}

START_TEST(isolation)
{
    int32_t t[] = {5, 6, 7};
    dllm_prefix_key_fields f;
    uint8_t a[32], b[32];
    base_fields(&f, t, 3);
    ck_assert_int_eq(dllm_prefix_key(&f, a), DLLM_OK);
    f.salt = "x";
    f.salt_len = 1;
    ck_assert_int_eq(dllm_prefix_key(&f, b), DLLM_OK);
    ck_assert_mem_ne(a, b, 32); /* tenants never share */
    base_fields(&f, t, 3);
    f.kp = 49;
    ck_assert_int_eq(dllm_prefix_key(&f, b), DLLM_OK);
    ck_assert_mem_ne(a, b, 32); /* policy parameters are part of the key */
    base_fields(&f, t, 2);
    ck_assert_int_eq(dllm_prefix_key(&f, b), DLLM_OK);
    ck_assert_mem_ne(a, b, 32);
    /* parameters of dLLM-Cache do not split the keys of other policies */
    base_fields(&f, t, 3);
    f.policy = "dual";
    ck_assert_int_eq(dllm_prefix_key(&f, a), DLLM_OK);
    f.kp = 3;
    f.rho = 0.5;
    ck_assert_int_eq(dllm_prefix_key(&f, b), DLLM_OK);
    ck_assert_mem_eq(a, b, 32);
}
END_TEST

START_TEST(bad_inputs)
{
    char salt[DLLM_CACHE_SALT_MAX + 1];
    int32_t t[] = {1};
    dllm_prefix_key_fields f;
    uint8_t k[32];
    memset(salt, 'a', sizeof salt);
    base_fields(&f, t, 1);
    f.salt = salt;
    f.salt_len = sizeof salt;
    ck_assert_int_eq(dllm_prefix_key(&f, k), DLLM_E_INVALID_ARG);
    f.salt_len = DLLM_CACHE_SALT_MAX;
    ck_assert_int_eq(dllm_prefix_key(&f, k), DLLM_OK);
    base_fields(&f, NULL, 3);
    ck_assert_int_eq(dllm_prefix_key(&f, k), DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_prefix_key(NULL, k), DLLM_E_INVALID_ARG);
    char err[256];
    ck_assert_int_eq(dllm_sha256_file("/nonexistent/tokenizer.json", k, err, sizeof err),
                     DLLM_E_IO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/tokenizer.json"));
}
END_TEST

START_TEST(sha256_known)
{
    /* FIPS 180-2 example "abc" */
    uint8_t k[32];
    char hex[DLLM_PREFIX_KEY_HEX];
    ck_assert_int_eq(dllm_sha256("abc", 3, k), DLLM_OK);
    dllm_prefix_key_hex(k, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prefix_key");
    TCase *tc = tcase_create("key");
    tcase_add_test(tc, golden_vectors);
    tcase_add_test(tc, isolation);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, sha256_known);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
