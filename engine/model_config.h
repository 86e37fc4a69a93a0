/* model_config.h -- the LLaDA model configuration (config.json), parsed and validated.
 *
 * The engine reads the config.json that Hugging Face publishes with
 * GSAI-ML/LLaDA-8B-Instruct (remote-code LLaDAConfig, OLMo heritage; algorithms.md 13.3)
 * into a plain struct, and refuses anything it cannot compute exactly.
 *
 * DESIGN
 * ------
 * - Required keys: d_model, n_layers, n_heads, vocab_size, max_sequence_length,
 *   rope_theta, mask_token_id, eos_token_id, rope (must be true), weight_tying,
 *   include_bias (must be false), and mlp_hidden_size unless mlp_ratio is given.
 * - Optional keys and their defaults (upstream semantics: null means "derive"):
 *     n_kv_heads        null/absent -> n_heads
 *     mlp_hidden_size   null/absent -> mlp_ratio * d_model (mlp_ratio, a number that may
 *                       be fractional, must then be given and the product integral)
 *     embedding_size    null/absent -> vocab_size (must be >= vocab_size)
 *     rms_norm_eps      absent -> layer_norm_eps if present, else 1e-5
 *     pad_token_id      null/absent -> eos_token_id
 *     include_qkv_bias  absent -> false (true is unsupported)
 *     alibi             absent -> false (true is unsupported)
 *     layer_norm_type   must be "rms" if present; activation_type "silu" or "swiglu"
 *                       (both computed as silu(ff_proj x) * up_proj x, the LLaDA llama
 *                       block); block_type "llama" if present.
 *   Keys that would change the computation are refused with DLLM_E_UNSUPPORTED when set
 *   to a non-default value: multi_query_attention, attention_layer_norm, clip_qkv,
 *   input_emb_norm, scale_logits, layer_norm_with_affine (must be true),
 *   bias_for_layer_norm. Every other key (init_*, dropouts, auto_map...) is ignored.
 * - Types are strict: integers must be JSON integers, booleans JSON true/false; a
 *   duplicated key is an error. Errors name the file and the key: DLLM_E_FORMAT for
 *   invalid JSON, DLLM_E_CONFIG for a missing/ill-typed/out-of-range value,
 *   DLLM_E_UNSUPPORTED for a valid value this engine does not implement (GQA, biases).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_MODEL_CONFIG_H
#define DLLM_MODEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dllm/status.h"

struct cJSON;

#define DLLM_CONFIG_STR 64 /* bytes of each recorded string, NUL included */

typedef struct dllm_model_config {
    int64_t d_model;                       /* C: hidden size (4096) */
    int64_t n_layers;                      /* L (32) */
    int64_t n_heads;                       /* NH (32) */
    int64_t n_kv_heads;                    /* == n_heads (no GQA) */
    int64_t head_size;                     /* HS = d_model / n_heads (128), even */
    int64_t mlp_hidden_size;               /* F: SwiGLU hidden size (12288) */
    int64_t vocab_size;                    /* tokenizer vocabulary (126464) */
    int64_t embedding_size;                /* V: rows of wte / lm head (>= vocab_size; 126464) */
    int64_t max_sequence_length;           /* positions (4096) */
    double rope_theta;                     /* RoPE base (500000) */
    double rms_norm_eps;                   /* RMSNorm epsilon (1e-5) */
    int32_t mask_token_id;                 /* [MASK] (126336) */
    int32_t eos_token_id;                  /* <|endoftext|> (126081) */
    int32_t pad_token_id;                  /* (126081) */
    bool weight_tying;                     /* lm head == wte (false for LLaDA-8B) */
    bool include_bias;                     /* always false after validation */
    bool include_qkv_bias;                 /* always false after validation */
    bool rope;                             /* always true after validation */
    bool alibi;                            /* always false after validation */
    char layer_norm_type[DLLM_CONFIG_STR]; /* "rms" */
    char activation_type[DLLM_CONFIG_STR]; /* "silu" or "swiglu" */
    char block_type[DLLM_CONFIG_STR];      /* "llama" */
    char model_type[DLLM_CONFIG_STR];      /* "llada", "" when absent */
    char architectures[DLLM_CONFIG_STR];   /* comma-joined, "LLaDAModelLM", "" when absent */
} dllm_model_config;

/* Parses config.json text (`json`, len bytes, need not be NUL-terminated) into *cfg and
 * validates it (dllm_model_config_validate). `name` (e.g. the path) prefixes messages.
 * *cfg is fully written on success and left zeroed on failure.
 * Errors: DLLM_E_FORMAT (not JSON / not an object), DLLM_E_CONFIG, DLLM_E_UNSUPPORTED,
 * DLLM_E_NOMEM; the message names the key. */
dllm_status dllm_model_config_parse(const char *json, size_t len, const char *name,
                                    dllm_model_config *cfg, char *err, size_t errn);

/* Reads `path` (at most 16 MiB) and parses it with dllm_model_config_parse.
 * Errors: DLLM_E_IO, plus those of dllm_model_config_parse. */
dllm_status dllm_model_config_load(const char *path, dllm_model_config *cfg, char *err,
                                   size_t errn);

/* Checks the invariants of a filled config (ranges, d_model % n_heads == 0, even head
 * size, n_kv_heads == n_heads, no biases, RoPE on, ids within [0, embedding_size)) and
 * sets head_size. `name` prefixes messages. Errors: DLLM_E_CONFIG, DLLM_E_UNSUPPORTED. */
dllm_status dllm_model_config_validate(dllm_model_config *cfg, const char *name, char *err,
                                       size_t errn);

/* Fills *cfg with the real shape of GSAI-ML/LLaDA-8B-Instruct (algorithms.md 13.3), already
 * validated; used by `--synthetic llada-8b`. */
void dllm_model_config_llada_8b(dllm_model_config *cfg);

/* Parameter count the config implies: embedding, per-layer weights, final norm and the LM
 * head unless tied (no biases). */
int64_t dllm_model_config_n_params(const dllm_model_config *cfg);

/* Writes a readable multi-line summary to fp (never fails; fp is borrowed). */
void dllm_model_config_print(const dllm_model_config *cfg, FILE *fp);

/* Returns a new cJSON object with every field (the caller frees it with cJSON_Delete), or
 * NULL when out of memory. */
struct cJSON *dllm_model_config_to_json(const dllm_model_config *cfg);

#endif
