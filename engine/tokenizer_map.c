/* tokenizer_map.c -- the two hash maps of the tokenizer: token string -> id (vocabulary,
 * added tokens) and (left id, right id) -> merge (BPE merges).
 *
 * DESIGN
 * ------
 * - Open addressing with linear probing over a power-of-two slot array, kept at most half
 *   full (grows by doubling); no deletion is needed (maps are built at load and then only
 *   read, so lookups from many threads are safe).
 * - Strings: FNV-1a 64-bit hash folded to 32 bits and stored in the slot, so most probes
 *   compare one integer; keys are borrowed (they live in the tokenizer's arena).
 * - Pairs: the key is (a << 32) | b with ids in [0, 2^31); UINT64_MAX marks an empty slot;
 *   the hash is the splitmix64 finalizer.
 * - Why not a library: Debian has no small C hash map the project already depends on
 *   (glib's GHashTable would pull in glib for two maps); this is ~150 lines.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

static uint32_t str_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static size_t cap_for(size_t expected)
{
    size_t cap = 16;
    while (cap / 2 < expected + 1 && cap < ((size_t)1 << 40)) cap *= 2;
    return cap;
}

/* ---- string map ---- */

dllm_status dllm_tok_strmap_init(dllm_tok_strmap *m, size_t expected)
{
    size_t cap = cap_for(expected);
    m->slots = calloc(cap, sizeof *m->slots);
    if (m->slots == NULL) return DLLM_E_NOMEM;
    m->cap = cap;
    m->count = 0;
    return DLLM_OK;
}

void dllm_tok_strmap_deinit(dllm_tok_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static dllm_tok_strmap_slot *strmap_find(const dllm_tok_strmap *m, const char *key, size_t len,
                                         uint32_t h)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    for (;;) {
        dllm_tok_strmap_slot *s = &m->slots[i];
        if (s->key == NULL) return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
        i = (i + 1) & mask;
    }
}

static dllm_status strmap_grow(dllm_tok_strmap *m)
{
    if (m->cap > SIZE_MAX / 2 / sizeof(dllm_tok_strmap_slot)) return DLLM_E_NOMEM;
    dllm_tok_strmap bigger = {calloc(m->cap * 2, sizeof(dllm_tok_strmap_slot)), m->cap * 2, 0};
    if (bigger.slots == NULL) return DLLM_E_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        const dllm_tok_strmap_slot *s = &m->slots[i];
        if (s->key == NULL) continue;
        *strmap_find(&bigger, s->key, s->len, s->hash) = *s;
        bigger.count++;
    }
    free(m->slots);
    *m = bigger;
    return DLLM_OK;
}

dllm_status dllm_tok_strmap_put(dllm_tok_strmap *m, const char *key, size_t len, int32_t val,
                                int *was_present, int32_t *old_val)
{
    if (len > UINT32_MAX) return DLLM_E_INVALID_ARG;
    if (m->cap == 0) {
        dllm_status rc = dllm_tok_strmap_init(m, 8);
        if (rc != DLLM_OK) return rc;
    }
    if ((m->count + 1) * 2 > m->cap) {
        dllm_status rc = strmap_grow(m);
        if (rc != DLLM_OK) return rc;
    }
    uint32_t h = str_hash(key, len);
    dllm_tok_strmap_slot *s = strmap_find(m, key, len, h);
    int present = s->key != NULL;
    if (was_present != NULL) *was_present = present;
    if (present && old_val != NULL) *old_val = s->val;
    if (!present) {
        s->key = key;
        s->len = (uint32_t)len;
        s->hash = h;
        m->count++;
    }
    s->val = val;
    return DLLM_OK;
}

int32_t dllm_tok_strmap_get(const dllm_tok_strmap *m, const char *key, size_t len)
{
    if (m->cap == 0 || len > UINT32_MAX) return -1;
    const dllm_tok_strmap_slot *s = strmap_find(m, key, len, str_hash(key, len));
    return s->key != NULL ? s->val : -1;
}

/* ---- pair map ---- */

dllm_status dllm_tok_pairmap_init(dllm_tok_pairmap *m, size_t expected)
{
    size_t cap = cap_for(expected);
    m->slots = malloc(cap * sizeof *m->slots);
    if (m->slots == NULL) return DLLM_E_NOMEM;
    for (size_t i = 0; i < cap; i++) m->slots[i].key = UINT64_MAX;
    m->cap = cap;
    m->count = 0;
    return DLLM_OK;
}

void dllm_tok_pairmap_deinit(dllm_tok_pairmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static dllm_tok_pairmap_slot *pairmap_find(const dllm_tok_pairmap *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)mix64(key) & mask;
    for (;;) {
        dllm_tok_pairmap_slot *s = &m->slots[i];
        if (s->key == key || s->key == UINT64_MAX) return s;
        i = (i + 1) & mask;
    }
}

dllm_status dllm_tok_pairmap_put(dllm_tok_pairmap *m, int32_t a, int32_t b, dllm_tok_merge mg)
{
    if (m->cap == 0) {
        dllm_status rc = dllm_tok_pairmap_init(m, 8);
        if (rc != DLLM_OK) return rc;
    }
    if ((m->count + 1) * 2 > m->cap) {
        if (m->cap > SIZE_MAX / 2 / sizeof(dllm_tok_pairmap_slot)) return DLLM_E_NOMEM;
        dllm_tok_pairmap bigger;
        dllm_status rc = dllm_tok_pairmap_init(&bigger, m->cap);
        if (rc != DLLM_OK) return rc;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].key == UINT64_MAX) continue;
            *pairmap_find(&bigger, m->slots[i].key) = m->slots[i];
            bigger.count++;
        }
        free(m->slots);
        *m = bigger;
    }
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    dllm_tok_pairmap_slot *s = pairmap_find(m, key);
    if (s->key == UINT64_MAX) m->count++;
    s->key = key;
    s->m = mg;
    return DLLM_OK;
}

const dllm_tok_merge *dllm_tok_pairmap_get(const dllm_tok_pairmap *m, int32_t a, int32_t b)
{
    if (m->cap == 0) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    const dllm_tok_pairmap_slot *s = pairmap_find(m, key);
    return s->key == key ? &s->m : NULL;
}
