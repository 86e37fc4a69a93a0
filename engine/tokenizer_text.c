/* tokenizer_text.c -- text helpers of the tokenizer: growable buffers, the string arena,
 * strict UTF-8 validation, lossy UTF-8 repair and the byte-level alphabet.
 *
 * DESIGN
 * ------
 * - UTF-8 acceptance is exactly Rust's `str` (the HF library's input type): no overlong
 *   forms, no surrogates (U+D800..DFFF), nothing above U+10FFFF, no truncated sequences.
 * - Lossy repair follows Rust's String::from_utf8_lossy: each *maximal subpart* of an
 *   invalid sequence (a lead byte plus the continuation bytes that were still acceptable
 *   for it) becomes one U+FFFD; a byte that cannot start anything is its own subpart.
 * - The byte-level alphabet is GPT-2's bytes_to_unicode: printable Latin-1 bytes map to
 *   themselves, the other 68 bytes to U+0100.. in byte order. It is computed into the
 *   tokenizer (no static mutable tables).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

/* ---- buffers ---- */

dllm_status dllm_tok_bytes_reserve(dllm_tok_bytes *b, size_t extra)
{
    if (extra > SIZE_MAX - b->n - 1) return DLLM_E_NOMEM;
    size_t need = b->n + extra + 1; /* +1: room for a NUL terminator */
    if (need <= b->cap) return DLLM_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) return DLLM_E_NOMEM;
    b->p = p;
    b->cap = cap;
    return DLLM_OK;
}

dllm_status dllm_tok_bytes_append(dllm_tok_bytes *b, const void *src, size_t n)
{
    dllm_status rc = dllm_tok_bytes_reserve(b, n);
    if (rc != DLLM_OK) return rc;
    if (n > 0) memcpy(b->p + b->n, src, n);
    b->n += n;
    return DLLM_OK;
}

void dllm_tok_bytes_deinit(dllm_tok_bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

dllm_status dllm_tok_ivec_push(dllm_tok_ivec *v, int32_t x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(int32_t)) return DLLM_E_NOMEM;
        int32_t *p = realloc(v->p, cap * sizeof(int32_t));
        if (p == NULL) return DLLM_E_NOMEM;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = x;
    return DLLM_OK;
}

void dllm_tok_ivec_deinit(dllm_tok_ivec *v)
{
    free(v->p);
    v->p = NULL;
    v->n = v->cap = 0;
}

/* ---- arena ---- */

const char *dllm_tok_arena_strdup(dllm_tok_arena *a, const char *s, size_t n)
{
    dllm_tok_arena_block *b = a->head;
    if (n >= SIZE_MAX - sizeof(dllm_tok_arena_block) - 65536) return NULL;
    if (b == NULL || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > 65536 ? n + 1 : 65536;
        b = malloc(sizeof(dllm_tok_arena_block) + cap);
        if (b == NULL) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    char *p = b->data + b->used;
    if (n > 0) memcpy(p, s, n);
    p[n] = '\0';
    b->used += n + 1;
    return p;
}

void dllm_tok_arena_deinit(dllm_tok_arena *a)
{
    dllm_tok_arena_block *b = a->head;
    while (b != NULL) {
        dllm_tok_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- UTF-8 ---- */

static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Number of bytes of the valid prefix of the character starting at s[i] and whether it is
 * complete: returns the full length if valid, else 0 with *sub set to the maximal subpart
 * length (>= 1). */
static size_t utf8_scan(const unsigned char *s, size_t n, size_t i, size_t *sub)
{
    unsigned char b = s[i];
    *sub = 1;
    if (b < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        need = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;  /* no overlongs */
        if (b == 0xED) hi = 0x9F;  /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;  /* no overlongs */
        if (b == 0xF4) hi = 0x8F;  /* <= U+10FFFF */
    } else {
        return 0; /* 0x80..0xC1 or 0xF5..0xFF cannot start a character */
    }
    if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi) return 0;
    *sub = 2;
    for (size_t k = 2; k < need; k++) {
        if (i + k >= n || !is_cont(s[i + k])) return 0;
        *sub = k + 1;
    }
    return need;
}

size_t dllm_tok_utf8_valid_len(const unsigned char *s, size_t n, size_t i)
{
    size_t sub;
    return utf8_scan(s, n, i, &sub);
}

size_t dllm_tok_utf8_lead_len(unsigned char b)
{
    if (b < 0x80) return 1;
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    return 4;
}

uint32_t dllm_tok_utf8_decode(const unsigned char *s, size_t len)
{
    switch (len) {
    case 1: return s[0];
    case 2: return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3: return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
}

size_t dllm_tok_utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int dllm_tok_utf8_check(const char *s, size_t n, size_t *bad_off)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t sub;
        size_t l = utf8_scan(u, n, i, &sub);
        if (l == 0) {
            *bad_off = i;
            return 0;
        }
        i += l;
    }
    return 1;
}

dllm_status dllm_tok_utf8_lossy_append(dllm_tok_bytes *out, const unsigned char *s, size_t n)
{
    static const unsigned char fffd[3] = {0xEF, 0xBF, 0xBD};
    dllm_status rc = dllm_tok_bytes_reserve(out, n);
    if (rc != DLLM_OK || n == 0) return rc; /* s may be NULL when n is 0 */
    size_t i = 0, run = 0; /* run: start of the pending valid stretch */
    while (i < n) {
        size_t sub;
        size_t l = utf8_scan(s, n, i, &sub);
        if (l > 0) {
            i += l;
            continue;
        }
        rc = dllm_tok_bytes_append(out, s + run, i - run);
        if (rc == DLLM_OK) rc = dllm_tok_bytes_append(out, fffd, 3);
        if (rc != DLLM_OK) return rc;
        i += sub;
        run = i;
    }
    return dllm_tok_bytes_append(out, s + run, n - run);
}

/* ---- byte-level alphabet ---- */

void dllm_tok_bytelevel_init(dllm_tok_bytelevel *bl)
{
    uint32_t extra = 0;
    for (int i = 0; i < 324; i++) bl->byte_of_cp[i] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        uint32_t cp = printable ? (uint32_t)b : 256 + extra++;
        unsigned char u[4];
        size_t l = dllm_tok_utf8_encode(cp, u);
        bl->utf8[b][0] = u[0];
        bl->utf8[b][1] = l > 1 ? u[1] : 0;
        bl->len[b] = (unsigned char)l;
        bl->byte_of_cp[cp] = (int16_t)b;
    }
}
