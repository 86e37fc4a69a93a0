/* test_tokenizer.c -- Check suite of the tokenizer.json tokenizer (engine/tokenizer*.c).
 *
 * Uses the fixtures in tests/data/tokenizer (made by ops/tokenizer/train_bpe.py):
 *   llama3/  Sequence[Split(Llama-3 regex), ByteLevel], 4096 ids, LLaDA specials
 *   gpt2/    ByteLevel(use_regex, add_prefix_space), pair merges, flagged added tokens
 * and small tokenizer.json texts built here for the error paths. Golden ids below were
 * produced by the HF `tokenizers` library 0.23.2 on the same files (the full comparison is
 * tests/parity/check.js, CTest tokenizer_parity_*).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "dllm/tokenizer.h"
#include "testutil.h"

/* ---- helpers ---- */

static dllm_tokenizer *load_fixture(const char *name)
{
    char path[1024], rel[128], err[512] = "";
    snprintf(rel, sizeof rel, "tokenizer/%s/tokenizer.json", name);
    dllm_tokenizer *t = NULL;
    dllm_status rc = dllm_tokenizer_load(tu_data_path(path, sizeof path, rel), &t, err, sizeof err);
    ck_assert_msg(rc == DLLM_OK, "loading %s: %s", path, err);
    ck_assert_ptr_nonnull(t);
    return t;
}

static int32_t *enc(const dllm_tokenizer *t, const char *s, size_t len, int special, size_t *n)
{
    int32_t *ids = NULL;
    char err[512] = "";
    dllm_status rc = dllm_tokenizer_encode(t, s, len, special, &ids, n, err, sizeof err);
    ck_assert_msg(rc == DLLM_OK, "encode failed: %s", err);
    ck_assert_ptr_nonnull(ids);
    return ids;
}

static char *dec(const dllm_tokenizer *t, const int32_t *ids, size_t n, int skip, size_t *len)
{
    char *s = NULL;
    char err[512] = "";
    dllm_status rc = dllm_tokenizer_decode(t, ids, n, skip, &s, len, err, sizeof err);
    ck_assert_msg(rc == DLLM_OK, "decode failed: %s", err);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Asserts decode(encode(s)) == s (parse_special as given). */
static void assert_round_trip(const dllm_tokenizer *t, const char *s, size_t len, int special)
{
    size_t n, dl;
    int32_t *ids = enc(t, s, len, special, &n);
    char *d = dec(t, ids, n, 0, &dl);
    ck_assert_msg(dl == len && memcmp(d, s, len) == 0, "round trip failed for %zu-byte text '%.60s'",
                  len, s);
    free(ids);
    free(d);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A mixed text of about `size` bytes: words from several scripts, digits, emoji, spaces,
 * newlines, and (when with_specials) special-token strings. Caller frees. */
static char *mixed_text(size_t size, uint64_t seed, int with_specials, size_t *len)
{
    static const char *const frag[] = {
        "Hello", " world", ",", " it's", " THEY'RE", " 12345", " 3.14", "  ", "\t", "\n",
        "\r\n", "\n\n", " 模型", "日本語", " 한국", " مرحبا", " e\xcc\x81", " \xf0\x9f\x98\x80",
        " \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", " def", " f(x):", " return", " {}", "!!",
        "    ", " \xc2\xa0", "\xe3\x80\x80", " _", " token", " mask"};
    static const char *const spec[] = {"<|eot_id|>", "<|startoftext|>", "<|mdm_mask|>"};
    char *buf = malloc(size + 64);
    ck_assert_ptr_nonnull(buf);
    size_t n = 0;
    while (n < size) {
        uint64_t r = rnd(&seed);
        const char *f;
        if (with_specials && r % 50 == 0) f = spec[(r >> 8) % 3];
        else f = frag[(r >> 8) % (sizeof frag / sizeof frag[0])];
        size_t l = strlen(f);
        memcpy(buf + n, f, l);
        n += l;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Builds a small tokenizer.json: byte-level vocab (ids 0..255 in byte order) + `vocab_extra`
 * entries, then the other parts as JSON texts. `model_extra` is appended inside "model". */
static char *mini_json(const char *vocab_extra, const char *merges, const char *added,
                       const char *normalizer, const char *pre, const char *decoder,
                       const char *model_extra)
{
    size_t cap = 64 * 1024;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    size_t n = (size_t)snprintf(s, cap, "{\"version\":\"1.0\",\"added_tokens\":%s,\"normalizer\":%s,"
                                "\"pre_tokenizer\":%s,\"decoder\":%s,\"model\":{\"type\":\"BPE\","
                                "\"vocab\":{",
                                added, normalizer, pre, decoder);
    unsigned extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        uint32_t cp = printable ? (uint32_t)b : 256 + extra++;
        char u[8];
        size_t l = put_utf8(cp, u);
        u[l] = '\0';
        const char *esc = (cp == '"') ? "\\\"" : (cp == '\\') ? "\\\\" : u;
        n += (size_t)snprintf(s + n, cap - n, "%s\"%s\":%d", b ? "," : "", esc, b);
    }
    n += (size_t)snprintf(s + n, cap - n, "%s%s},\"merges\":%s%s}}", vocab_extra[0] ? "," : "",
                          vocab_extra, merges, model_extra);
    ck_assert_uint_lt(n, cap);
    return s;
}

static const char *const BL_PRE = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}";
static const char *const BL_DEC = "{\"type\":\"ByteLevel\"}";

/* Loads json and expects failure with `rc` and a message containing every `needles`. */
static void expect_load_error(const char *json, dllm_status want, const char *needle1,
                              const char *needle2)
{
    dllm_tokenizer *t = (dllm_tokenizer *)0x1;
    char err[512] = "";
    dllm_status rc = dllm_tokenizer_load_buffer(json, strlen(json), &t, err, sizeof err);
    ck_assert_msg(rc == want, "expected %s, got %s (%s)", dllm_status_str(want),
                  dllm_status_str(rc), err);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, needle1) != NULL, "message '%s' lacks '%s'", err, needle1);
    if (needle2 != NULL)
        ck_assert_msg(strstr(err, needle2) != NULL, "message '%s' lacks '%s'", err, needle2);
}

/* ---- loading and lookups ---- */

START_TEST(test_load_fixtures)
{
    dllm_tokenizer *t = load_fixture("llama3");
    ck_assert_uint_eq(dllm_tokenizer_vocab_size(t), 4096);
    dllm_tokenizer_specials sp;
    dllm_tokenizer_get_specials(t, &sp);
    ck_assert_int_eq(sp.bos, 4090);
    ck_assert_int_eq(sp.eos, 4091);
    ck_assert_int_eq(sp.start_header, 4092);
    ck_assert_int_eq(sp.end_header, 4093);
    ck_assert_int_eq(sp.eot, 4094);
    ck_assert_int_eq(sp.mask, 4095);
    ck_assert_int_eq(dllm_tokenizer_token_to_id(t, "<|eot_id|>"), 4094);
    ck_assert_str_eq(dllm_tokenizer_id_to_token(t, 4094), "<|eot_id|>");
    ck_assert_str_eq(dllm_tokenizer_id_to_token(t, 65), "A");          /* byte 'A' */
    ck_assert_str_eq(dllm_tokenizer_id_to_token(t, 0), "\xc4\x80");    /* byte 0 -> U+0100 */
    ck_assert_str_eq(dllm_tokenizer_id_to_token(t, 32), "\xc4\xa0");   /* byte ' ' -> "Ġ" */
    ck_assert_int_eq(dllm_tokenizer_token_to_id(t, "\xc4\xa0"), 32);
    ck_assert_int_eq(dllm_tokenizer_token_to_id(t, "no such token"), -1);
    ck_assert_ptr_null(dllm_tokenizer_id_to_token(t, 4096));
    ck_assert_ptr_null(dllm_tokenizer_id_to_token(t, -1));
    ck_assert_int_eq(dllm_tokenizer_token_to_id(t, NULL), -1);
    ck_assert(dllm_tokenizer_is_special(t, 4094));
    ck_assert(!dllm_tokenizer_is_special(t, 100));
    /* every id maps to a string that maps back */
    for (int32_t id = 0; id < 4096; id++) {
        const char *s = dllm_tokenizer_id_to_token(t, id);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(dllm_tokenizer_token_to_id(t, s), id);
    }
    dllm_tokenizer_free(t);

    t = load_fixture("gpt2");
    ck_assert_uint_eq(dllm_tokenizer_vocab_size(t), 800);
    ck_assert_int_eq(dllm_tokenizer_token_to_id(t, "<tool>"), 794);
    ck_assert(!dllm_tokenizer_is_special(t, 794));
    ck_assert(dllm_tokenizer_is_special(t, 798)); /* " <sp> " */
    dllm_tokenizer_free(t);

    dllm_tokenizer_free(NULL);
    ck_assert_uint_eq(dllm_tokenizer_vocab_size(NULL), 0);
}
END_TEST

START_TEST(test_load_buffer_not_terminated)
{
    char path[1024];
    size_t len;
    char *json = tu_read_file(tu_data_path(path, sizeof path, "tokenizer/llama3/tokenizer.json"), &len);
    ck_assert_ptr_nonnull(json);
    char *copy = malloc(len + 16);
    memcpy(copy, json, len);
    memcpy(copy + len, "garbage{[\"", 10); /* bytes past len must be ignored */
    dllm_tokenizer *t = NULL;
    char err[512] = "";
    ck_assert_int_eq(dllm_tokenizer_load_buffer(copy, len, &t, err, sizeof err), DLLM_OK);
    size_t n;
    int32_t *ids = enc(t, "Hello world", 11, 1, &n);
    ck_assert_uint_eq(n, 5);
    free(ids);
    dllm_tokenizer_free(t);
    free(copy);
    free(json);
}
END_TEST

/* ---- golden ids from the HF library ---- */

typedef struct golden {
    const char *text;
    int32_t ids[32];
    size_t n;
} golden;

static const golden golden_llama3[] = {
    {"Hello world", {72, 329, 291, 479, 3149}, 5},
    {"It's THEY'RE 12345 tokens!", {73, 116, 471, 316, 72, 69, 89, 39, 1133, 32, 3437, 1628, 761, 33}, 14},
    {"\xe6\x89\xa9\xe6\x95\xa3\xe8\xaf\xad\xe8\xa8\x80\xe6\xa8\xa1\xe5\x9e\x8b \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
     {230, 137, 169, 230, 149, 163, 232, 175, 173, 232, 168, 128, 2066, 1847, 152, 128, 481, 145, 3622, 143, 189}, 21},
    {"  two\n\nlines\r\n\tend  ", {32, 2003, 354, 108, 2569, 725, 9, 677, 256}, 9},
    {"<|startoftext|>Hi<|eot_id|>", {4090, 72, 105, 4094}, 4},
    {"def f(x):\n    return x ** 2", {2556, 285, 879, 2298, 395, 1089, 1297, 348, 32, 50}, 10},
};

static const golden golden_gpt2[] = {
    {"Hello world", {502, 261, 287, 390, 269, 108, 100}, 7},
    {"call <tool> now", {631, 447, 794, 473, 586}, 5},
    {"USER says USERS", {795, 264, 301, 115, 32, 85, 83, 69, 82, 83}, 10},
    {"a <|eot b<|eot_id|>", {263, 32, 796, 266, 792}, 5},
    {"x<norm>y \xc3\xbcn\xc3\xaf", {32, 120, 797, 32, 121, 32, 799}, 7},
    {"a  <sp>  b", {263, 32, 798, 266}, 4},
};

static void check_golden(const char *fixture, const golden *g, size_t count)
{
    dllm_tokenizer *t = load_fixture(fixture);
    for (size_t i = 0; i < count; i++) {
        size_t n;
        int32_t *ids = enc(t, g[i].text, strlen(g[i].text), 1, &n);
        ck_assert_msg(n == g[i].n, "%s '%s': %zu ids, expected %zu", fixture, g[i].text, n, g[i].n);
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(ids[k] == g[i].ids[k], "%s '%s': id[%zu] = %d, expected %d", fixture,
                          g[i].text, k, ids[k], g[i].ids[k]);
        free(ids);
    }
    dllm_tokenizer_free(t);
}

START_TEST(test_golden_llama3)
{
    check_golden("llama3", golden_llama3, sizeof golden_llama3 / sizeof golden_llama3[0]);
}
END_TEST

START_TEST(test_golden_gpt2)
{
    check_golden("gpt2", golden_gpt2, sizeof golden_gpt2 / sizeof golden_gpt2[0]);
}
END_TEST

/* ---- round trips ---- */

START_TEST(test_round_trip_corpus)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/parity/corpus.jsonl", DLLM_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    dllm_tokenizer *t = load_fixture("llama3");
    dllm_tokenizer *g = load_fixture("gpt2");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int count = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        cJSON *j = cJSON_ParseWithLength(line, (size_t)got);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        ck_assert(cJSON_IsString(text));
        const char *s = text->valuestring;
        size_t len = strlen(s);
        assert_round_trip(t, s, len, 1); /* llama3: lossless, also with the specials matched */
        assert_round_trip(t, s, len, 0);
        /* gpt2 (add_prefix_space): lossless for plain text that starts with a space */
        if (len > 0 && s[0] == ' ') assert_round_trip(g, s, len, 0);
        /* parse_special = 0 never yields an added-token id */
        size_t n;
        int32_t *ids = enc(t, s, len, 0, &n);
        for (size_t k = 0; k < n; k++) ck_assert_int_lt(ids[k], 4090);
        free(ids);
        cJSON_Delete(j);
        count++;
    }
    ck_assert_int_gt(count, 300);
    free(line);
    fclose(f);
    dllm_tokenizer_free(t);
    dllm_tokenizer_free(g);
}
END_TEST

START_TEST(test_round_trip_random_utf8)
{
    dllm_tokenizer *t = load_fixture("llama3");
    uint64_t seed = 42;
    char buf[4096];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0, chars = rnd(&seed) % 200;
        for (size_t k = 0; k < chars; k++) {
            uint64_t r = rnd(&seed);
            uint32_t cp;
            switch (r % 6) {
            case 0: cp = (uint32_t)(r >> 8) % 0x80; break; /* ASCII incl. controls and NUL */
            case 1: cp = " \t\n\r"[(r >> 8) % 4]; break;
            case 2: cp = 0x80 + (uint32_t)(r >> 8) % 0x780; break;
            case 3: cp = 0x800 + (uint32_t)(r >> 8) % (0xD800 - 0x800); break;
            case 4: cp = 0xE000 + (uint32_t)(r >> 8) % 0x2000; break;
            default: cp = 0x10000 + (uint32_t)(r >> 8) % 0x100000; break;
            }
            n += put_utf8(cp, buf + n);
        }
        assert_round_trip(t, buf, n, 1);
    }
    /* embedded NUL bytes are ordinary characters */
    assert_round_trip(t, "a\0b\0\0c", 6, 1);
    dllm_tokenizer_free(t);
}
END_TEST

START_TEST(test_empty_input)
{
    dllm_tokenizer *t = load_fixture("llama3");
    size_t n = 99;
    int32_t *ids = enc(t, "", 0, 1, &n);
    ck_assert_uint_eq(n, 0);
    free(ids);
    ids = enc(t, NULL, 0, 0, &n);
    ck_assert_uint_eq(n, 0);
    free(ids);
    size_t len = 99;
    char *s = dec(t, NULL, 0, 0, &len);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(s, "");
    free(s);
    dllm_tokenizer_free(t);
}
END_TEST

/* ---- special tokens ---- */

START_TEST(test_special_tokens)
{
    dllm_tokenizer *t = load_fixture("llama3");
    const char *s = "before <|eot_id|> after<|endoftext|>";
    size_t n, n0, len;
    int32_t *ids = enc(t, s, strlen(s), 1, &n);
    int eot = 0, eos = 0;
    for (size_t k = 0; k < n; k++) {
        eot += ids[k] == 4094;
        eos += ids[k] == 4091;
    }
    ck_assert_int_eq(eot, 1);
    ck_assert_int_eq(eos, 1);
    ck_assert_int_eq(ids[n - 1], 4091);
    char *d = dec(t, ids, n, 0, &len);
    ck_assert_str_eq(d, s);
    free(d);
    d = dec(t, ids, n, 1, &len); /* skip_special drops the two specials */
    ck_assert_str_eq(d, "before  after");
    free(d);
    /* parse_special = 0: the same text is plain text, longer, and without added ids */
    int32_t *plain = enc(t, s, strlen(s), 0, &n0);
    ck_assert_uint_gt(n0, n);
    for (size_t k = 0; k < n0; k++) ck_assert_int_lt(plain[k], 4090);
    d = dec(t, plain, n0, 1, &len);
    ck_assert_str_eq(d, s); /* nothing special to skip */
    free(d);
    free(plain);
    free(ids);

    /* leftmost-longest and adjacent specials */
    ids = enc(t, "<|eot_id|><|eot_id|><|eot_id", 28, 1, &n);
    ck_assert_uint_gt(n, 2);
    ck_assert_int_eq(ids[0], 4094);
    ck_assert_int_eq(ids[1], 4094);
    ck_assert_int_lt(ids[2], 4090);
    free(ids);
    dllm_tokenizer_free(t);

    /* gpt2 fixture: lstrip/rstrip absorb spaces, single_word needs word boundaries */
    t = load_fixture("gpt2");
    ids = enc(t, "x  <tool>  y", 12, 1, &n);
    d = dec(t, ids, n, 0, &len);
    ck_assert_str_eq(d, " x<tool> y"); /* prefix space on "x" and "y"; spaces absorbed */
    free(d);
    free(ids);
    ids = enc(t, "USERS USER", 10, 1, &n);
    int user = 0;
    for (size_t k = 0; k < n; k++) user += ids[k] == 795;
    ck_assert_int_eq(user, 1); /* "USERS" is not the single word USER */
    free(ids);
    dllm_tokenizer_free(t);
}
END_TEST

START_TEST(test_decode_partial_and_invalid)
{
    dllm_tokenizer *t = load_fixture("llama3");
    size_t len;
    /* byte tokens: ids 0..255 are bytes in order; E2 82 AC = U+20AC */
    int32_t euro[3] = {0xE2, 0x82, 0xAC};
    char *d = dec(t, euro, 3, 0, &len);
    ck_assert_str_eq(d, "\xe2\x82\xac");
    free(d);
    d = dec(t, euro, 2, 0, &len); /* truncated: one U+FFFD for the maximal subpart */
    ck_assert_str_eq(d, "\xef\xbf\xbd");
    free(d);
    int32_t bad[4] = {0xF0, 0x80, 'a', 0xFF}; /* F0 80: two subparts; FF: one */
    d = dec(t, bad, 4, 0, &len);
    ck_assert_str_eq(d, "\xef\xbf\xbd\xef\xbf\xbd" "a" "\xef\xbf\xbd");
    free(d);
    int32_t nul[2] = {0, 'x'}; /* byte 0 decodes to a NUL inside the text */
    d = dec(t, nul, 2, 0, &len);
    ck_assert_uint_eq(len, 2);
    ck_assert(d[0] == '\0' && d[1] == 'x' && d[2] == '\0');
    free(d);

    char err[512] = "";
    char *out = NULL;
    int32_t unknown[3] = {5, 4096, 7};
    ck_assert_int_eq(dllm_tokenizer_decode(t, unknown, 3, 0, &out, &len, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err, "4096") && strstr(err, "position 1"), "message: %s", err);
    int32_t neg[1] = {-3};
    ck_assert_int_eq(dllm_tokenizer_decode(t, neg, 1, 0, &out, &len, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_tokenizer_decode(t, NULL, 2, 0, &out, &len, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    dllm_tokenizer_free(t);

    /* an added token with characters outside the byte-level alphabet decodes as raw UTF-8;
     * one whose characters are all in it is byte-decoded (U+00FC -> byte FC -> U+FFFD) */
    t = load_fixture("gpt2");
    int32_t sp[1] = {798};
    d = dec(t, sp, 1, 0, &len);
    ck_assert_str_eq(d, " <sp> ");
    free(d);
    int32_t un[1] = {799};
    d = dec(t, un, 1, 0, &len);
    ck_assert_str_eq(d, "\xef\xbf\xbdn\xef\xbf\xbd");
    free(d);
    dllm_tokenizer_free(t);
}
END_TEST

/* ---- invalid UTF-8 input ---- */

START_TEST(test_invalid_utf8)
{
    static const struct {
        const char *s;
        size_t len;
        size_t off;
    } cases[] = {
        {"ab\xc3", 3, 2},               /* truncated 2-byte */
        {"\xe2\x82", 2, 0},             /* truncated 3-byte */
        {"x\xf0\x9f\x98", 4, 1},        /* truncated 4-byte */
        {"\xc0\xaf", 2, 0},             /* overlong '/' */
        {"\xc1\xbf", 2, 0},             /* overlong */
        {"ok\xe0\x80\xaf", 5, 2},       /* overlong 3-byte */
        {"\xf0\x80\x80\xaf", 4, 0},     /* overlong 4-byte */
        {"s\xed\xa0\x80", 4, 1},        /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, 0},         /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 4, 0},     /* > U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0},     /* invalid lead */
        {"abc\xff", 4, 3},              /* 0xFF */
        {"\xfe", 1, 0},
        {"\x80", 1, 0},                 /* stray continuation */
        {"a\xc3\xa9\xa9", 4, 3},        /* valid then stray continuation */
        {"\xe2\x28\xa1", 3, 0},         /* bad second byte */
    };
    dllm_tokenizer *t = load_fixture("llama3");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int special = 0; special < 2; special++) {
            int32_t *ids = (int32_t *)0x1;
            size_t n = 77;
            char err[512] = "", want[64];
            dllm_status rc = dllm_tokenizer_encode(t, cases[i].s, cases[i].len, special, &ids, &n,
                                                   err, sizeof err);
            ck_assert_msg(rc == DLLM_E_INVALID_ARG, "case %zu: rc %s", i, dllm_status_str(rc));
            ck_assert_ptr_null(ids);
            ck_assert_uint_eq(n, 0);
            snprintf(want, sizeof want, "offset %zu", cases[i].off);
            ck_assert_msg(strstr(err, want) != NULL, "case %zu: '%s' lacks '%s'", i, err, want);
            ck_assert_msg(strstr(err, "UTF-8") != NULL, "case %zu: %s", i, err);
        }
    }
    /* 4-byte max and the last valid code points are accepted */
    assert_round_trip(t, "\xf4\x8f\xbf\xbf\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80", 13, 1);
    /* the chat helper validates too */
    int32_t *ids = NULL;
    size_t n;
    char err[512] = "";
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, NULL, "hi\xff", &ids, &n, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    ck_assert_msg(strstr(err, "user message") && strstr(err, "offset 2"), "%s", err);
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, "\xc0", "hi", &ids, &n, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    ck_assert_msg(strstr(err, "system message"), "%s", err);
    /* NULL arguments */
    ck_assert_int_eq(dllm_tokenizer_encode(t, NULL, 3, 1, &ids, &n, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_tokenizer_encode(NULL, "a", 1, 1, &ids, &n, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_tokenizer_encode(t, "a", 1, 1, NULL, &n, NULL, 0), DLLM_E_INVALID_ARG);
    dllm_tokenizer_free(t);
}
END_TEST

/* ---- chat template ---- */

/* Appends the ids of plain text s to v. */
static size_t append_plain(const dllm_tokenizer *t, const char *s, int32_t *v, size_t n)
{
    size_t k;
    int32_t *ids = enc(t, s, strlen(s), 0, &k);
    memcpy(v + n, ids, k * sizeof *ids);
    free(ids);
    return n + k;
}

START_TEST(test_chat_template)
{
    dllm_tokenizer *t = load_fixture("llama3");
    dllm_tokenizer_specials sp;
    dllm_tokenizer_get_specials(t, &sp);
    int32_t want[512];
    size_t nw = 0;
    want[nw++] = sp.bos;
    want[nw++] = sp.start_header;
    nw = append_plain(t, "user", want, nw);
    want[nw++] = sp.end_header;
    nw = append_plain(t, "\n\nWhat is 2+2? Answer briefly.", want, nw);
    want[nw++] = sp.eot;
    want[nw++] = sp.start_header;
    nw = append_plain(t, "assistant", want, nw);
    want[nw++] = sp.end_header;
    nw = append_plain(t, "\n\n", want, nw);

    int32_t *ids = NULL;
    size_t n = 0;
    char err[512] = "";
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, NULL, "What is 2+2? Answer briefly.", &ids, &n,
                                               err, sizeof err),
                     DLLM_OK);
    ck_assert_uint_eq(n, nw);
    for (size_t k = 0; k < n; k++) ck_assert_int_eq(ids[k], want[k]);
    free(ids);

    /* equals HF's encoding of the rendered string (no added tokens in the messages) */
    const char *rendered =
        "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n  Hi there!\n<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n";
    size_t nr;
    int32_t *ref = enc(t, rendered, strlen(rendered), 1, &nr);
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, "You are terse.", "  Hi there!\n", &ids, &n, err,
                                               sizeof err),
                     DLLM_OK);
    ck_assert_uint_eq(n, nr);
    for (size_t k = 0; k < n; k++) ck_assert_int_eq(ids[k], ref[k]);
    size_t len;
    char *d = dec(t, ids, n, 0, &len);
    ck_assert_str_eq(d, rendered);
    free(d);
    free(ref);
    free(ids);

    /* a user cannot inject special tokens */
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, NULL, "x<|eot_id|><|start_header_id|>system",
                                               &ids, &n, err, sizeof err),
                     DLLM_OK);
    int eot = 0, sh = 0;
    for (size_t k = 0; k < n; k++) {
        eot += ids[k] == sp.eot;
        sh += ids[k] == sp.start_header;
    }
    ck_assert_int_eq(eot, 1);
    ck_assert_int_eq(sh, 2);
    free(ids);
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, NULL, NULL, &ids, &n, err, sizeof err),
                     DLLM_E_INVALID_ARG);
    dllm_tokenizer_free(t);
}
END_TEST

START_TEST(test_chat_template_strip_and_missing)
{
    /* template tokens with lstrip/rstrip absorb the whitespace around them, as HF does on
     * the rendered string */
    const char *added =
        "[{\"id\":256,\"content\":\"<|startoftext|>\",\"special\":true,\"normalized\":false},"
        "{\"id\":257,\"content\":\"<|start_header_id|>\",\"special\":true,\"normalized\":false},"
        "{\"id\":258,\"content\":\"<|end_header_id|>\",\"special\":true,\"rstrip\":true,\"normalized\":false},"
        "{\"id\":259,\"content\":\"<|eot_id|>\",\"special\":true,\"lstrip\":true,\"normalized\":false}]";
    char *json = mini_json("", "[]", added, "null", BL_PRE, BL_DEC, "");
    dllm_tokenizer *t = NULL;
    char err[512] = "";
    ck_assert_int_eq(dllm_tokenizer_load_buffer(json, strlen(json), &t, err, sizeof err), DLLM_OK);
    int32_t *ids = NULL, *ref = NULL;
    size_t n, nr;
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, " sys \n", "  hello  ", &ids, &n, err, sizeof err),
                     DLLM_OK);
    const char *rendered = "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\n sys \n"
                           "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n  hello  "
                           "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    ref = enc(t, rendered, strlen(rendered), 1, &nr);
    ck_assert_uint_eq(n, nr);
    for (size_t k = 0; k < n; k++) ck_assert_int_eq(ids[k], ref[k]);
    size_t len;
    char *d = dec(t, ids, n, 0, &len);
    ck_assert_str_eq(d, "<|startoftext|><|start_header_id|>system<|end_header_id|>sys<|eot_id|>"
                        "<|start_header_id|>user<|end_header_id|>hello<|eot_id|>"
                        "<|start_header_id|>assistant<|end_header_id|>");
    free(d);
    free(ids);
    free(ref);
    dllm_tokenizer_free(t);
    free(json);

    /* a tokenizer without the template's specials */
    json = mini_json("", "[]", "[]", "null", BL_PRE, BL_DEC, "");
    ck_assert_int_eq(dllm_tokenizer_load_buffer(json, strlen(json), &t, err, sizeof err), DLLM_OK);
    ck_assert_int_eq(dllm_tokenizer_apply_chat(t, NULL, "hi", &ids, &n, err, sizeof err),
                     DLLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(err, "<|startoftext|>") != NULL, "%s", err);
    dllm_tokenizer_specials sp;
    dllm_tokenizer_get_specials(t, &sp);
    ck_assert_int_eq(sp.bos, -1);
    ck_assert_int_eq(sp.mask, -1);
    dllm_tokenizer_free(t);
    free(json);
}
END_TEST

/* ---- malformed tokenizer.json ---- */

START_TEST(test_malformed_json)
{
    char *j;
    expect_load_error("{\"model\": ", DLLM_E_FORMAT, "not valid JSON", "line 1");
    expect_load_error("{\n\"a\":1,\n\"b\": nope}", DLLM_E_FORMAT, "not valid JSON", "line 3");
    expect_load_error("", DLLM_E_FORMAT, "empty", NULL);
    expect_load_error("[1, 2]", DLLM_E_FORMAT, "top level", NULL);
    expect_load_error("{\"version\":\"1.0\",\"decoder\":{\"type\":\"ByteLevel\"}}", DLLM_E_FORMAT,
                      "model: missing", NULL);
    expect_load_error("{\"version\":\"2.0\",\"model\":{}}", DLLM_E_UNSUPPORTED, "version", NULL);
    expect_load_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", DLLM_E_UNSUPPORTED,
                      "WordPiece", NULL);
    expect_load_error("{\"model\":{\"type\":7}}", DLLM_E_FORMAT, "model.type", NULL);
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", DLLM_E_FORMAT, "merges", NULL);

    /* merges referencing unknown tokens */
    j = mini_json("", "[\"a zz\"]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "model.merges[0]", "\"zz\" is not in model.vocab");
    free(j);
    j = mini_json("", "[[\"a\", \"b\"]]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "merged token \"ab\"", NULL);
    free(j);
    j = mini_json("\"ab\":256", "[\"a b\", \"q\"]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "model.merges[1]", "two tokens separated by one space");
    free(j);
    j = mini_json("\"ab\":256", "[\"a b\", [\"a\", \"b\"]]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "model.merges[1]", NULL);
    free(j);
    j = mini_json("\"ab\":256", "[[\"a\", \"b\", \"c\"]]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "model.merges[0]", "pair");
    free(j);

    /* bad types and values */
    j = mini_json("\"ab\":\"x\"", "[]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "model.vocab[\"ab\"]", "integer id");
    free(j);
    j = mini_json("\"ab\":-1", "[]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "model.vocab[\"ab\"]", NULL);
    free(j);
    j = mini_json("\"ab\":2.5", "[]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "not an integer", NULL);
    free(j);
    j = mini_json("\"ab\":99999999999", "[]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "not an integer in [0,", NULL);
    free(j);
    j = mini_json("\"ab\":5", "[]", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "id 5 is used by both", NULL);
    free(j);
    j = mini_json("", "{\"a\":1}", "[]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "model.merges: expected an array", NULL);
    free(j);
    j = mini_json("", "[]", "{}", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "added_tokens: expected an array", NULL);
    free(j);
    j = mini_json("", "[]", "[{\"id\":256,\"content\":5}]", "null", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "added_tokens[0].content", NULL);
    free(j);
    j = mini_json("", "[]", "[{\"id\":256,\"content\":\"<x>\",\"special\":\"yes\"}]", "null", BL_PRE,
                  BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "added_tokens[0].special", "true or false");
    free(j);
    j = mini_json("\"ab\":257", "[]", "[{\"id\":300,\"content\":\"<x>\",\"special\":true}]", "null",
                  BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "assigns it id 257", "model vocab id of \"ab\"");
    free(j);
    j = mini_json("", "[]", "[]", "null", BL_PRE, BL_DEC, ",\"unk_token\":\"<unk>\"");
    expect_load_error(j, DLLM_E_FORMAT, "unk_token \"<unk>\"", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null", BL_PRE, BL_DEC, ",\"ignore_merges\":1");
    expect_load_error(j, DLLM_E_FORMAT, "model.ignore_merges", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null", BL_PRE, BL_DEC, ",\"dropout\":0.5");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "dropout", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null", BL_PRE, BL_DEC, ",\"continuing_subword_prefix\":\"##\"");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "continuing_subword_prefix", NULL);
    free(j);

    /* unsupported or malformed components */
    j = mini_json("", "[]", "[]", "{\"type\":\"NFC\"}", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "normalizer type \"NFC\"", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "{\"type\":\"Sequence\",\"normalizers\":[]}", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "normalizer type \"Sequence\"", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "\"NFC\"", BL_PRE, BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "normalizer", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null", "{\"type\":\"Metaspace\"}", BL_DEC, "");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "pre-tokenizer type \"Metaspace\"", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null",
                  "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                  "{\"Regex\":\"(unclosed\"},\"behavior\":\"Isolated\",\"invert\":false}]}",
                  BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "pre_tokenizer.pretokenizers[0].pattern", "does not compile");
    free(j);
    j = mini_json("", "[]", "[]", "null",
                  "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}",
                  BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "behavior \"Sideways\"", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null", "{\"type\":\"Split\",\"pattern\":\"a\",\"behavior\":\"Isolated\"}",
                  BL_DEC, "");
    expect_load_error(j, DLLM_E_FORMAT, "pre_tokenizer.pattern", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null",
                  "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[\\\\W]\"},\"behavior\":\"Isolated\"}",
                  BL_DEC, "");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "inside a character class", NULL);
    free(j);
    j = mini_json("", "[]", "[]", "null", BL_PRE, "null", "");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "decoder", "ByteLevel");
    free(j);
    j = mini_json("", "[]", "[]", "null", BL_PRE, "{\"type\":\"WordPiece\"}", "");
    expect_load_error(j, DLLM_E_UNSUPPORTED, "decoder type \"WordPiece\"", NULL);
    free(j);

    /* a missing file */
    dllm_tokenizer *t = NULL;
    char err[512] = "";
    ck_assert_int_eq(dllm_tokenizer_load("/nonexistent/dir/tokenizer.json", &t, err, sizeof err),
                     DLLM_E_IO);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "/nonexistent/dir/tokenizer.json") != NULL, "%s", err);
    /* errors loading from a file name the file */
    char path[1024];
    tu_data_path(path, sizeof path, "tokenizer/llama3/tokenizer_config.json");
    ck_assert_int_eq(dllm_tokenizer_load(path, &t, err, sizeof err), DLLM_E_FORMAT);
    ck_assert_msg(strstr(err, "tokenizer_config.json") && strstr(err, "model: missing"), "%s", err);
    /* NULL error buffer is allowed */
    ck_assert_int_eq(dllm_tokenizer_load_buffer("x", 1, &t, NULL, 0), DLLM_E_FORMAT);
}
END_TEST

START_TEST(test_mini_tokenizers)
{
    /* merges as strings with a #version line, unk and byte fallback absent: a working file */
    char *j = mini_json("\"ab\":256,\"abc\":257", "[\"#version: 0.2\", \"a b\", \"ab c\"]", "[]",
                        "null", BL_PRE, BL_DEC, ",\"ignore_merges\":false");
    dllm_tokenizer *t = NULL;
    char err[512] = "";
    ck_assert_int_eq(dllm_tokenizer_load_buffer(j, strlen(j), &t, err, sizeof err), DLLM_OK);
    size_t n;
    int32_t *ids = enc(t, "abcab", 5, 1, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ids[0], 257);
    ck_assert_int_eq(ids[1], 256);
    free(ids);
    dllm_tokenizer_free(t);
    free(j);

    /* duplicate merge lines: the later rank wins (as in HF); merge priority by rank */
    j = mini_json("\"ab\":256,\"bc\":257", "[\"a b\", \"b c\", \"a b\"]", "[]", "null", BL_PRE,
                  BL_DEC, "");
    ck_assert_int_eq(dllm_tokenizer_load_buffer(j, strlen(j), &t, err, sizeof err), DLLM_OK);
    ids = enc(t, "abc", 3, 1, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ids[0], 'a');
    ck_assert_int_eq(ids[1], 257);
    free(ids);
    dllm_tokenizer_free(t);
    free(j);

    /* added token ids are assigned as the HF library does, whatever the file says */
    j = mini_json("", "[]",
                  "[{\"id\":900,\"content\":\"<a>\",\"special\":true},"
                  "{\"id\":7,\"content\":\"<b>\",\"special\":true}]",
                  "null", BL_PRE, BL_DEC, "");
    ck_assert_int_eq(dllm_tokenizer_load_buffer(j, strlen(j), &t, err, sizeof err), DLLM_OK);
    ck_assert_int_eq(dllm_tokenizer_token_to_id(t, "<a>"), 256);
    ck_assert_int_eq(dllm_tokenizer_token_to_id(t, "<b>"), 257);
    ck_assert_uint_eq(dllm_tokenizer_vocab_size(t), 258);
    ck_assert_ptr_null(dllm_tokenizer_id_to_token(t, 900));
    dllm_tokenizer_free(t);
    free(j);

    /* an empty added token is ignored; a token that is in the vocab keeps its vocab id */
    j = mini_json("\"ab\":256", "[\"a b\"]",
                  "[{\"id\":0,\"content\":\"\"},{\"id\":256,\"content\":\"ab\",\"special\":true},"
                  "{\"id\":257,\"content\":\"<x>\"}]",
                  "null", BL_PRE, BL_DEC, "");
    ck_assert_int_eq(dllm_tokenizer_load_buffer(j, strlen(j), &t, err, sizeof err), DLLM_OK);
    ck_assert_uint_eq(dllm_tokenizer_vocab_size(t), 258);
    ids = enc(t, "xab<x>", 6, 1, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ids[1], 256);
    ck_assert_int_eq(ids[2], 257);
    size_t len;
    char *d = dec(t, ids, n, 1, &len); /* "ab" is special now: skipped */
    ck_assert_str_eq(d, "x<x>");
    free(d);
    free(ids);
    dllm_tokenizer_free(t);
    free(j);
}
END_TEST

/* ---- large inputs and threads ---- */

START_TEST(test_one_megabyte)
{
    dllm_tokenizer *t = load_fixture("llama3");
    size_t len, n;
    char *text = mixed_text((size_t)1 << 20, 7, 1, &len);
    double t0 = now_s();
    int32_t *ids = enc(t, text, len, 1, &n);
    double dt = now_s() - t0;
    printf("test_tokenizer: 1 MiB mixed text -> %zu ids in %.3f s (%.1f MB/s)\n", n, dt,
           (double)len / dt / 1e6);
    ck_assert_uint_gt(n, len / 16);
    ck_assert_msg(dt < 30.0, "encoding 1 MiB took %.1f s", dt);
    size_t dl;
    char *d = dec(t, ids, n, 0, &dl);
    ck_assert(dl == len && memcmp(d, text, len) == 0);
    free(d);
    free(ids);
    free(text);

    /* degenerate 1 MiB inputs: one giant whitespace / letter / digit / symbol run */
    static const char fill[] = {' ', 'a', '7', '!', '\n'};
    size_t big = (size_t)1 << 20;
    text = malloc(big + 1);
    for (size_t f = 0; f < sizeof fill; f++) {
        memset(text, fill[f], big);
        text[big] = '\0';
        t0 = now_s();
        ids = enc(t, text, big, 1, &n);
        dt = now_s() - t0;
        printf("test_tokenizer: 1 MiB of 0x%02x -> %zu ids in %.3f s\n", fill[f], n, dt);
        ck_assert_msg(dt < 30.0, "1 MiB of 0x%02x took %.1f s", fill[f], dt);
        d = dec(t, ids, n, 0, &dl);
        ck_assert(dl == big && memcmp(d, text, big) == 0);
        free(d);
        free(ids);
    }
    free(text);

    /* many specials back to back */
    size_t reps = 50000;
    text = malloc(reps * 10 + 1);
    for (size_t i = 0; i < reps; i++) memcpy(text + i * 10, "<|eot_id|>", 10);
    ids = enc(t, text, reps * 10, 1, &n);
    ck_assert_uint_eq(n, reps);
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(ids[i], 4094);
    free(ids);
    free(text);
    dllm_tokenizer_free(t);
}
END_TEST

typedef struct thread_job {
    const dllm_tokenizer *t;
    const char *text;
    size_t len;
    const int32_t *want;
    size_t n_want;
    int ok;
} thread_job;

static void *thread_main(void *arg)
{
    thread_job *j = arg;
    j->ok = 1;
    for (int r = 0; r < 20 && j->ok; r++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (dllm_tokenizer_encode(j->t, j->text, j->len, 1, &ids, &n, NULL, 0) != DLLM_OK ||
            n != j->n_want || memcmp(ids, j->want, n * sizeof *ids) != 0)
            j->ok = 0;
        free(ids);
    }
    return NULL;
}

START_TEST(test_concurrent_encode)
{
    dllm_tokenizer *t = load_fixture("llama3");
    size_t len, n;
    char *text = mixed_text(64 * 1024, 99, 1, &len);
    int32_t *want = enc(t, text, len, 1, &n);
    pthread_t th[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){t, text, len, want, n, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(jobs[i].ok, "thread %d got different ids", i);
    }
    free(want);
    free(text);
    dllm_tokenizer_free(t);
}
END_TEST

static Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_load_fixtures);
    tcase_add_test(tc, test_load_buffer_not_terminated);
    tcase_add_test(tc, test_golden_llama3);
    tcase_add_test(tc, test_golden_gpt2);
    tcase_add_test(tc, test_round_trip_corpus);
    tcase_add_test(tc, test_round_trip_random_utf8);
    tcase_add_test(tc, test_empty_input);
    tcase_add_test(tc, test_special_tokens);
    tcase_add_test(tc, test_decode_partial_and_invalid);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_chat_template);
    tcase_add_test(tc, test_chat_template_strip_and_missing);
    tcase_add_test(tc, test_malformed_json);
    tcase_add_test(tc, test_mini_tokenizers);
    tcase_add_test(tc, test_one_megabyte);
    tcase_add_test(tc, test_concurrent_encode);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(tokenizer_suite)
