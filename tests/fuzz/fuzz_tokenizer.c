/* fuzz_tokenizer.c -- libFuzzer target: arbitrary bytes through encode, decode and the chat
 * template of the LLaDA-style fixture tokenizer (tests/data/tokenizer/llama3).
 *
 * Input layout: byte 0 holds flags (bit 0: parse_special, bit 1: skip_special, bit 2: also
 * decode the input reinterpreted as ids), the rest is the text. Properties checked:
 *   - encode never crashes; it fails only with DLLM_E_INVALID_ARG (invalid UTF-8);
 *   - when it succeeds, decode(encode(text)) == text byte for byte (this fixture has no
 *     add_prefix_space and no lstrip/rstrip tokens, so the round trip is exact), and
 *     parse_special = 0 never yields an added-token id;
 *   - decode of arbitrary ids never crashes, rejects unknown ids with INVALID_ARG and
 *     otherwise returns valid UTF-8 (it re-encodes without error);
 *   - apply_chat accepts every valid UTF-8 user text.
 * The tokenizer is loaded once (LLVMFuzzerInitialize) from DLLM_TOK_FIXTURE (compile-time
 * path from tests/tokenizer.cmake, or the environment variable of that name).
 *
 * Run: build-fuzz-tok/bin/fuzz_tokenizer -max_total_time=60 tests/fuzz/corpus/fuzz_tokenizer
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dllm/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's one piece of process state: the tokenizer under test, loaded once. */
static dllm_tokenizer *tok;

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_tokenizer: check failed: %s (line %d)\n", #cond, __LINE__);  \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *path = getenv("DLLM_TOK_FIXTURE");
#ifdef DLLM_TOK_FIXTURE
    if (path == NULL) path = DLLM_TOK_FIXTURE;
#endif
    if (path == NULL) {
        fprintf(stderr, "fuzz_tokenizer: set DLLM_TOK_FIXTURE to a tokenizer.json\n");
        abort();
    }
    char err[512];
    if (dllm_tokenizer_load(path, &tok, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err);
        abort();
    }
    return 0;
}

static void check_decode_ids(const int32_t *ids, size_t n, int skip)
{
    char *text = NULL;
    size_t len = 0;
    dllm_status rc = dllm_tokenizer_decode(tok, ids, n, skip, &text, &len, NULL, 0);
    int known = 1;
    for (size_t i = 0; i < n; i++)
        if (dllm_tokenizer_id_to_token(tok, ids[i]) == NULL) known = 0;
    FUZZ_CHECK(known ? rc == DLLM_OK : rc == DLLM_E_INVALID_ARG);
    if (rc != DLLM_OK) return;
    FUZZ_CHECK(text != NULL && text[len] == '\0');
    /* the output is valid UTF-8: it encodes */
    int32_t *re = NULL;
    size_t rn = 0;
    FUZZ_CHECK(dllm_tokenizer_encode(tok, text, len, 0, &re, &rn, NULL, 0) == DLLM_OK);
    free(re);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    int flags = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int parse_special = flags & 1, skip_special = (flags >> 1) & 1;

    int32_t *ids = NULL;
    size_t n = 0;
    char err[256];
    dllm_status rc = dllm_tokenizer_encode(tok, text, len, parse_special, &ids, &n, err, sizeof err);
    FUZZ_CHECK(rc == DLLM_OK || rc == DLLM_E_INVALID_ARG);
    if (rc == DLLM_OK) {
        FUZZ_CHECK(ids != NULL);
        char *back = NULL;
        size_t blen = 0;
        FUZZ_CHECK(dllm_tokenizer_decode(tok, ids, n, 0, &back, &blen, NULL, 0) == DLLM_OK);
        FUZZ_CHECK(blen == len && memcmp(back, text, len) == 0);
        free(back);
        if (!parse_special) {
            dllm_tokenizer_specials sp;
            dllm_tokenizer_get_specials(tok, &sp);
            for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] < sp.bos);
        }
        check_decode_ids(ids, n, skip_special);

        /* chat template: any valid UTF-8 without NUL is a valid user message */
        if (memchr(text, '\0', len) == NULL) {
            char *msg = malloc(len + 1);
            FUZZ_CHECK(msg != NULL);
            memcpy(msg, text, len);
            msg[len] = '\0';
            int32_t *cids = NULL;
            size_t cn = 0;
            FUZZ_CHECK(dllm_tokenizer_apply_chat(tok, (flags & 8) ? msg : NULL, msg, &cids, &cn,
                                                 NULL, 0) == DLLM_OK);
            FUZZ_CHECK(cn > n);
            free(cids);
            free(msg);
        }
    } else {
        FUZZ_CHECK(ids == NULL && n == 0);
        FUZZ_CHECK(strstr(err, "UTF-8") != NULL);
    }
    free(ids);

    if (flags & 4) { /* the same bytes as ids: unknown ids, partial UTF-8, specials */
        size_t k = len / 4;
        int32_t *raw = malloc((k ? k : 1) * sizeof *raw);
        FUZZ_CHECK(raw != NULL);
        size_t vs = dllm_tokenizer_vocab_size(tok);
        for (size_t i = 0; i < k; i++) {
            uint32_t v;
            memcpy(&v, text + 4 * i, 4);
            /* mostly valid ids, sometimes out of range or negative */
            raw[i] = (v & 0x80000000u) ? (int32_t)v : (int32_t)(v % (vs + 8));
        }
        check_decode_ids(raw, k, skip_special);
        free(raw);
    }
    return 0;
}
