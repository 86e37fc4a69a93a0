/* fuzz_tokenizer_json.c -- libFuzzer target: arbitrary bytes as a tokenizer.json.
 *
 * dllm_tokenizer_load_buffer must never crash, leak or hang on any input: it either
 * returns DLLM_OK with a tokenizer, or an error status with a non-empty message and a NULL
 * handle. A tokenizer that loads is exercised: a few fixed texts are encoded (with and
 * without special-token matching) and decoded, the chat template is built, and lookups of
 * every id run. Seeds (tests/fuzz/corpus/fuzz_tokenizer_json) are small valid files with
 * each supported component, which the fuzzer mutates.
 *
 * Run: build-fuzz-tok/bin/fuzz_tokenizer_json -max_total_time=60 \
 *          tests/fuzz/corpus/fuzz_tokenizer_json
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dllm/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_tokenizer_json: check failed: %s (line %d)\n", #cond,       \
                    __LINE__);                                                                 \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static const char *const texts[] = {
    "Hello world! It's 2024, isn't it?  \n\n\tcode: f(x) = x**2;\r\n",
    "\xe6\xa8\xa1\xe5\x9e\x8b \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd e\xcc\x81 \xc2\xa0",
    "<|startoftext|><|eot_id|> <tool> USER <x>ab",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dllm_tokenizer *t = NULL;
    char err[512];
    err[0] = '\0';
    dllm_status rc = dllm_tokenizer_load_buffer((const char *)data, size, &t, err, sizeof err);
    if (rc != DLLM_OK) {
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(t != NULL);
    size_t vs = dllm_tokenizer_vocab_size(t);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int special = 0; special < 2; special++) {
            int32_t *ids = NULL;
            size_t n = 0;
            rc = dllm_tokenizer_encode(t, texts[i], strlen(texts[i]), special, &ids, &n, err,
                                       sizeof err);
            FUZZ_CHECK(rc == DLLM_OK);
            for (size_t k = 0; k < n; k++) FUZZ_CHECK(ids[k] >= 0 && (size_t)ids[k] < vs);
            char *back = NULL;
            size_t blen = 0;
            FUZZ_CHECK(dllm_tokenizer_decode(t, ids, n, special, &back, &blen, NULL, 0) == DLLM_OK);
            free(back);
            free(ids);
        }
    }
    int32_t *ids = NULL;
    size_t n = 0;
    rc = dllm_tokenizer_apply_chat(t, "sys", "hi", &ids, &n, NULL, 0);
    FUZZ_CHECK(rc == DLLM_OK || rc == DLLM_E_UNSUPPORTED);
    free(ids);
    for (size_t id = 0; id < vs && id < 4096; id++) {
        const char *s = dllm_tokenizer_id_to_token(t, (int32_t)id);
        if (s != NULL) FUZZ_CHECK(dllm_tokenizer_token_to_id(t, s) >= 0);
    }
    dllm_tokenizer_free(t);
    return 0;
}
