/* prefix_key.c -- the prompt-slot key (dllm/prefix_key.h): byte encoding + SHA-256.
 *
 * DESIGN
 * ------
 * The encoder is one function that writes through a bounded cursor, so sizing and
 * writing share the code: a pass with cap 0 returns the length, a second pass fills a
 * buffer of that length. Little-endian bytes are written explicitly (no memcpy of host
 * integers), so the encoding does not depend on the host's byte order.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "dllm/prefix_key.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct cursor {
    uint8_t *buf;
    size_t cap, len;
} cursor;

static void put(cursor *c, const void *p, size_t n)
{
    if (c->len < c->cap) {
        size_t k = c->cap - c->len < n ? c->cap - c->len : n;
        memcpy(c->buf + c->len, p, k);
    }
    c->len += n;
}

static void put_u32(cursor *c, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(c, b, 4);
}

static void put_u64(cursor *c, uint64_t v)
{
    put_u32(c, (uint32_t)v);
    put_u32(c, (uint32_t)(v >> 32));
}

static void put_str(cursor *c, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u32(c, (uint32_t)n);
    if (n) put(c, s, n);
}

size_t dllm_prefix_key_encode(const dllm_prefix_key_fields *f, uint8_t *buf, size_t cap)
{
    cursor c = {buf, buf ? cap : 0, 0};
    int dllm = f->policy != NULL && strcmp(f->policy, "dllm") == 0;
    uint64_t rho_bits = 0;
    double rho = dllm ? f->rho : 0.0;

    memcpy(&rho_bits, &rho, sizeof rho_bits); /* IEEE-754 binary64 */
    put(&c, "DLLM-PK1", 8);
    put_str(&c, f->model_id);
    put_str(&c, f->model_revision);
    put(&c, f->tokenizer_sha256, 32);
    put_str(&c, f->dtype);
    put_u32(&c, f->tp_size);
    put_str(&c, f->policy);
    put_u32(&c, dllm ? (uint32_t)f->kp : 0);
    put_u32(&c, dllm ? (uint32_t)f->kr : 0);
    put_u64(&c, rho_bits);
    put_u32(&c, dllm ? f->layer0_refresh : 0);
    put_u32(&c, dllm ? (uint32_t)f->cfg_interval : 0);
    put_u32(&c, (uint32_t)f->salt_len);
    if (f->salt_len) put(&c, f->salt, f->salt_len);
    put_u32(&c, (uint32_t)f->n_tokens);
    for (size_t i = 0; i < f->n_tokens; i++) put_u32(&c, (uint32_t)f->tokens[i]);
    return c.len;
}

dllm_status dllm_sha256(const void *data, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return DLLM_E_INTERNAL;
    return DLLM_OK;
}

dllm_status dllm_prefix_key(const dllm_prefix_key_fields *f, uint8_t out[DLLM_PREFIX_KEY_BYTES])
{
    dllm_status rc;
    uint8_t *buf;
    size_t n;

    if (f == NULL || f->salt_len > DLLM_CACHE_SALT_MAX || (f->salt_len && f->salt == NULL) ||
        (f->n_tokens && f->tokens == NULL) || f->n_tokens > UINT32_MAX)
        return DLLM_E_INVALID_ARG;
    const char *strs[] = {f->model_id, f->model_revision, f->dtype, f->policy};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i] && strlen(strs[i]) > INT32_MAX) return DLLM_E_INVALID_ARG;
    n = dllm_prefix_key_encode(f, NULL, 0);
    buf = malloc(n);
    if (buf == NULL) return DLLM_E_NOMEM;
    dllm_prefix_key_encode(f, buf, n);
    rc = dllm_sha256(buf, n, out);
    free(buf);
    return rc;
}

void dllm_prefix_key_hex(const uint8_t key[DLLM_PREFIX_KEY_BYTES], char out[DLLM_PREFIX_KEY_HEX])
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < DLLM_PREFIX_KEY_BYTES; i++) {
        out[2 * i] = hx[key[i] >> 4];
        out[2 * i + 1] = hx[key[i] & 15];
    }
    out[2 * DLLM_PREFIX_KEY_BYTES] = '\0';
}

dllm_status dllm_sha256_file(const char *path, uint8_t out[32], char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    EVP_MD_CTX *ctx = NULL;
    FILE *fp = fopen(path, "rb");
    unsigned char buf[65536];
    unsigned int len = 0;
    size_t n;

    if (fp == NULL)
        return dllm_errf(err, errn, DLLM_E_IO, "%s: cannot open for hashing: %s", path,
                         strerror(errno));
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = dllm_errf(err, errn, DLLM_E_INTERNAL, "libcrypto: SHA-256 init failed");
        goto out;
    }
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        if (EVP_DigestUpdate(ctx, buf, n) != 1) {
            rc = dllm_errf(err, errn, DLLM_E_INTERNAL, "libcrypto: SHA-256 update failed");
            goto out;
        }
    }
    if (ferror(fp)) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: read error while hashing", path);
        goto out;
    }
    if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
        rc = dllm_errf(err, errn, DLLM_E_INTERNAL, "libcrypto: SHA-256 final failed");
out:
    EVP_MD_CTX_free(ctx);
    fclose(fp);
    return rc;
}
