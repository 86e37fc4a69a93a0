/* fuzz_config.c -- libFuzzer target: arbitrary bytes as config.json
 * (dllm_model_config_parse).
 *
 * The parser may not crash, leak or over-read (the input is copied into an exactly-sized,
 * unterminated heap buffer); a config it accepts must satisfy the invariants the engine
 * relies on, checked here (abort() reports a finding).
 *
 * Build: CC=clang-14 cmake -DDLLM_FUZZ=ON ...; run: build-fuzz-load/bin/fuzz_config
 *        tests/fuzz/corpus/fuzz_config
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = calloc(size ? size : 1, 1);
    dllm_model_config c;
    char err[512];

    if (buf == NULL) return 0;
    if (size) memcpy(buf, data, size);
    if (dllm_model_config_parse(buf, size, "fuzz/config.json", &c, err, sizeof err) == DLLM_OK) {
        if (c.d_model < 1 || c.n_heads < 1 || c.d_model % c.n_heads != 0) abort();
        if (c.head_size * c.n_heads != c.d_model || c.head_size % 2 != 0) abort();
        if (c.n_kv_heads != c.n_heads || c.n_layers < 1 || c.mlp_hidden_size < 1) abort();
        if (c.embedding_size < c.vocab_size || c.vocab_size < 1) abort();
        if (c.mask_token_id < 0 || c.mask_token_id >= c.embedding_size) abort();
        if (c.eos_token_id < 0 || c.eos_token_id >= c.embedding_size) abort();
        if (c.pad_token_id < 0 || c.pad_token_id >= c.embedding_size) abort();
        if (!(c.rms_norm_eps > 0 && c.rms_norm_eps < 1) || !(c.rope_theta > 0)) abort();
        if (c.include_bias || c.include_qkv_bias || !c.rope || c.alibi) abort();
        if (dllm_model_config_n_params(&c) <= 0) abort();
    } else if (strlen(err) == 0) {
        abort();
    }
    free(buf);
    return 0;
}
