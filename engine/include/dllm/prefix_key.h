/* prefix_key.h -- the prompt-slot key: a specified, language-independent hash of a prefix.
 *
 * A prompt slot (design.md 4.5) is named by SHA-256 over a fixed little-endian byte
 * encoding of everything its contents depend on or must be isolated by: model id and
 * revision, tokenizer hash, feature dtype, tensor-parallel size, cache policy and its
 * parameters, the tenant's cache salt and the prefix token ids. The byte layout (v1) is
 * documented with golden vectors in docs/prompt-cache.md and reimplemented in Python by
 * ops/clients/prefix_key.py, so a router or a producer in any language computes the same
 * key. Nothing here is seeded per process.
 *
 * Layout v1 (u32/i32 little-endian, f64 IEEE-754 binary64 little-endian, str = u32 byte
 * length followed by the bytes, no terminator):
 *
 *   "DLLM-PK1"            8 bytes magic
 *   str model_id
 *   str model_revision
 *   32 bytes              SHA-256 of the tokenizer.json file
 *   str dtype             feature dtype, e.g. "f32"
 *   u32 tp_size
 *   str policy            "none", "dllm", "prefix", "dual", ...
 *   i32 kp, i32 kr, f64 rho, u32 layer0_refresh, i32 cfg_interval
 *                         (policy "dllm" only; all zero bytes for every other policy)
 *   str cache_salt        (empty when none)
 *   u32 n_tokens, then n_tokens x i32 token ids
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_PREFIX_KEY_H
#define DLLM_PREFIX_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLLM_PREFIX_KEY_BYTES 32
#define DLLM_PREFIX_KEY_HEX (2 * DLLM_PREFIX_KEY_BYTES + 1) /* with the NUL */
#define DLLM_CACHE_SALT_MAX 256 /* bytes */

typedef struct dllm_prefix_key_fields {
    const char *model_id;       /* NULL = "" */
    const char *model_revision; /* NULL = "" */
    uint8_t tokenizer_sha256[32];
    const char *dtype;          /* NULL = "" */
    uint32_t tp_size;
    const char *policy;         /* policy name (dllm_cache_policy_name) */
    int32_t kp, kr;             /* dLLM-Cache parameters: encoded only for "dllm" */
    double rho;
    uint32_t layer0_refresh;
    int32_t cfg_interval;
    const void *salt;           /* (salt_len) bytes, may be NULL when salt_len = 0 */
    size_t salt_len;            /* <= DLLM_CACHE_SALT_MAX */
    const int32_t *tokens;      /* (n_tokens) the prefix */
    size_t n_tokens;
} dllm_prefix_key_fields;

/* Computes the key. DLLM_E_INVALID_ARG for a salt over DLLM_CACHE_SALT_MAX bytes, a NULL
 * token array with n_tokens > 0, or a string longer than 2^31 bytes; DLLM_E_INTERNAL if
 * libcrypto fails. */
dllm_status dllm_prefix_key(const dllm_prefix_key_fields *f, uint8_t out[DLLM_PREFIX_KEY_BYTES]);

/* The encoded bytes alone (for tests and debugging): writes up to cap bytes at buf and
 * returns the full length (call with cap 0 to size the buffer). */
size_t dllm_prefix_key_encode(const dllm_prefix_key_fields *f, uint8_t *buf, size_t cap);

/* Lowercase hex of a key (64 characters and a NUL). */
void dllm_prefix_key_hex(const uint8_t key[DLLM_PREFIX_KEY_BYTES], char out[DLLM_PREFIX_KEY_HEX]);

/* SHA-256 of n bytes, and of a whole file (DLLM_E_IO with errno's message when it cannot
 * be read). */
dllm_status dllm_sha256(const void *data, size_t n, uint8_t out[32]);
dllm_status dllm_sha256_file(const char *path, uint8_t out[32], char *err, size_t errn);

#ifdef __cplusplus
}
#endif
#endif
