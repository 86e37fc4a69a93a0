/* fuzz_request.c -- libFuzzer target: arbitrary bytes as a Kafka request
 * (dllm_gen_request_decode, the worker's decoder and validator).
 *
 * The decoder may not crash, leak or over-read; a request it accepts must satisfy what the
 * worker relies on (checked here; abort() reports a finding): a request id, exactly one
 * prompt form, parameters the engine's own validator accepts, token ids inside the
 * vocabulary, the length limit. A rejected one must carry an error code and a message.
 *
 * Build: CC=clang-14 cmake -DDLLM_FUZZ=ON -DDLLM_WORKER=ON ...; run:
 *        build-fuzz/bin/fuzz_request tests/fuzz/corpus/fuzz_request
 * Without DLLM_WORKER the target compiles to a no-op (the schema is not generated then).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef DLLM_HAVE_WORKER
#include "codec.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef DLLM_HAVE_WORKER
    uint8_t *buf = malloc(size ? size : 1);
    dllm_codec_limits lim;
    dllm_gen_request r;
    dllm_errc code;
    char msg[512], perr[256];
    dllm_gen_request_hints h = {.correlation_id = NULL, .reply_to = NULL, .deadline_unix_ms = 0};

    if (buf == NULL) return 0;
    if (size) memcpy(buf, data, size);
    dllm_codec_limits_init(&lim);
    lim.vocab_size = 1000;
    lim.mask_id = 999;
    lim.max_sequence_length = 4096;
    lim.model_id = "llada-tiny";
    lim.max_text_bytes = 4096;
    /* the last byte picks whether header hints are given */
    if (size > 0 && (data[size - 1] & 1)) {
        h.correlation_id = "hdr";
        h.reply_to = "hdr.replies";
        h.deadline_unix_ms = 1;
    }
    if (dllm_gen_request_decode(buf, size, &lim, &h, &r, &code, msg, sizeof msg) == DLLM_OK) {
        if (code != DLLM_ERRC_NONE || r.request_id == NULL || r.request_id[0] == '\0') abort();
        if ((r.text != NULL) == (r.n_prompt_ids > 0)) abort();
        if (dllm_gen_params_validate(&r.params, perr, sizeof perr) != DLLM_OK) abort();
        if (r.params.gen_length > lim.max_gen_length) abort();
        for (size_t i = 0; i < r.n_prompt_ids; i++)
            if (r.prompt_ids[i] < 0 || r.prompt_ids[i] >= 1000 || r.prompt_ids[i] == 999) abort();
        if ((int64_t)r.n_prompt_ids + r.params.gen_length > 4096 && r.n_prompt_ids > 0) abort();
        if (r.reply_topic != NULL && !dllm_topic_name_valid(r.reply_topic)) abort();
        if (r.text != NULL && strlen(r.text) > 4096) abort();
    } else {
        if (code == DLLM_ERRC_NONE || msg[0] == '\0') abort();
    }
    dllm_gen_request_deinit(&r);
    free(buf);
#else
    (void)data;
    (void)size;
#endif
    return 0;
}
