/* codec.h -- GenerateRequest bytes -> validated C request; C response -> bytes.
 *
 * The worker's only contact with protobuf: dllm_gen_request_decode() turns the bytes of a
 * Kafka message into a dllm_gen_request whose generation parameters are ready for
 * dllm_seq_new(), or says precisely why not with a structured error code (the values of
 * the proto's ErrorCode enum) and a message naming the field. dllm_response_encode()
 * builds a GenerateResponse.
 *
 * DESIGN
 * ------
 * - Parameters start from dllm_gen_params_init() and only present fields override them;
 *   the result is checked by dllm_gen_params_validate(), so the worker accepts exactly
 *   what the engine accepts (plus the limits below).
 * - On failure the request keeps what could be read before the failure: request_id,
 *   reply_topic and metadata are taken first, so that even an invalid request can get an
 *   addressed error reply. Undecodable bytes give MALFORMED, addressed from the headers
 *   (hints) alone.
 * - The prompt-length check for text prompts needs the tokenizer and happens in the
 *   worker (dllm_gen_request_check_length); token-id prompts are checked here too.
 * - Pure functions: no globals, safe from any thread. Every string in dllm_gen_request is a
 *   malloc'd, NUL-terminated copy owned by the request (dllm_gen_request_deinit frees).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_WORKER_CODEC_H
#define DLLM_WORKER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/dllm.h"

/* Reply error codes: the values of dllm.v1.ErrorCode. */
typedef enum dllm_errc {
    DLLM_ERRC_NONE = 0,
    DLLM_ERRC_MALFORMED = 1,
    DLLM_ERRC_INVALID_ARGUMENT = 2,
    DLLM_ERRC_PROMPT_TOO_LONG = 3,
    DLLM_ERRC_UNKNOWN_MODEL = 4,
    DLLM_ERRC_DEADLINE_EXCEEDED = 5,
    DLLM_ERRC_INTERNAL = 6,
    DLLM_ERRC_UNAVAILABLE = 7,
} dllm_errc;

/* "MALFORMED", "INVALID_ARGUMENT", ... ("UNSPECIFIED" for others); never NULL. */
const char *dllm_errc_name(dllm_errc c);

/* Whether a request failing with c is a poison message (goes to the dead-letter topic):
 * MALFORMED, INVALID_ARGUMENT, PROMPT_TOO_LONG, UNKNOWN_MODEL. */
int dllm_errc_is_poison(dllm_errc c);

/* Values of dllm.v1.FinishReason. */
typedef enum dllm_finish {
    DLLM_FINISH_UNSPECIFIED = 0,
    DLLM_FINISH_LENGTH = 1,
    DLLM_FINISH_EOS = 2,
    DLLM_FINISH_ABORTED = 3,
    DLLM_FINISH_DEADLINE_EXCEEDED = 4,
    DLLM_FINISH_ERROR = 5,
} dllm_finish;

typedef struct dllm_codec_limits {
    size_t max_request_bytes;    /* whole message (default 4 MiB) */
    size_t max_text_bytes;       /* text, system, message content (default 1 MiB) */
    size_t max_prompt_ids;       /* token-id prompt length (default 1 << 20) */
    int32_t max_gen_length;      /* default 1 << 16 */
    int64_t vocab_size;          /* token ids must be < this; 0 = unchecked */
    int32_t mask_id;             /* forbidden in prompts; -1 = none */
    int64_t max_sequence_length; /* prompt + gen_length must fit; 0 = unchecked */
    const char *model_id;        /* served model; NULL = any `model` is accepted */
} dllm_codec_limits;

void dllm_codec_limits_init(dllm_codec_limits *l);

/* What Kafka headers supply when the body lacks it (each may be NULL / 0). */
typedef struct dllm_gen_request_hints {
    const char *correlation_id; /* `correlation-id` header: request_id when absent */
    const char *reply_to;       /* `reply-to` header: reply_topic when absent */
    int64_t deadline_unix_ms;   /* `deadline` header: used when the body has none */
} dllm_gen_request_hints;

typedef struct dllm_meta_kv {
    char *key;
    char *value;
} dllm_meta_kv;

typedef struct dllm_gen_request {
    char *request_id;  /* NULL when unreadable */
    char *reply_topic; /* NULL: use the worker's default (also when the name is invalid) */
    char *text;        /* user prompt text; NULL for a token-id prompt */
    char *system;      /* system prompt; NULL when none */
    int raw;           /* encode text without the chat template */
    int32_t *prompt_ids; /* token-id prompt (n_prompt_ids > 0), else NULL */
    size_t n_prompt_ids;
    dllm_gen_params params; /* engine defaults overridden by the present fields */
    int64_t deadline_unix_ms; /* 0 = none */
    char *model;              /* NULL when absent */
    int use_prompt_slot, pin; /* prompt-slot hints (worker/prompt_cache.c) */
    int32_t prefix_tokens;    /* request-named prefix length; 0 = the system turn */
    char *cache_salt;
    dllm_meta_kv *meta; /* echoed back */
    size_t n_meta;
} dllm_gen_request;

/* Decodes and validates len bytes at buf (borrowed for the call). Always initialises
 * *out (deinit it in every case). Returns DLLM_OK with *code = NONE, or DLLM_E_FORMAT
 * (*code MALFORMED) / DLLM_E_INVALID_ARG (INVALID_ARGUMENT, PROMPT_TOO_LONG,
 * UNKNOWN_MODEL) with a message in msg, or DLLM_E_NOMEM (*code INTERNAL). hints and msg
 * may be NULL. */
dllm_status dllm_gen_request_decode(const void *buf, size_t len, const dllm_codec_limits *lim,
                                const dllm_gen_request_hints *hints, dllm_gen_request *out,
                                dllm_errc *code, char *msg, size_t msgn);

/* Checks an encoded prompt's length against the limits: PROMPT_TOO_LONG when
 * n_prompt_tokens + gen_length exceeds max_sequence_length; INVALID_ARGUMENT when the
 * request names a prompt-slot prefix (cache.prefix_tokens) longer than the prompt. */
dllm_status dllm_gen_request_check_length(const dllm_gen_request *r, size_t n_prompt_tokens,
                                      const dllm_codec_limits *lim, dllm_errc *code,
                                      char *msg, size_t msgn);

void dllm_gen_request_deinit(dllm_gen_request *r); /* zeroed struct is a no-op */

/* A reply, borrowed pointers throughout. error != NONE makes it an error reply (the
 * result fields are then ignored). */
typedef struct dllm_response {
    const char *request_id;
    dllm_errc error;
    const char *error_message;
    int retryable;
    const char *text;
    const int32_t *token_ids;
    size_t n_token_ids;
    dllm_finish finish_reason;
    int32_t prompt_tokens, completion_tokens, cached_prompt_tokens;
    double queue_ms, first_step_ms, total_ms;
    double worker_ms, engine_ms; /* worker code (engine excluded) and engine time */
    int32_t steps, forwards;
    const char *worker_id;
    const char *model_id;
    const dllm_meta_kv *meta;
    size_t n_meta;
} dllm_response;

/* Serialises r into a malloc'd buffer (*buf, *len; the caller frees). DLLM_E_NOMEM. */
dllm_status dllm_response_encode(const dllm_response *r, uint8_t **buf, size_t *len);

/* Checks a Kafka topic name (1..249 chars of [A-Za-z0-9._-], not "." or ".."). */
int dllm_topic_name_valid(const char *s);

#endif
