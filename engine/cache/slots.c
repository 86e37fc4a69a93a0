/* slots.c -- the prompt-slot pool (see slots.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cache/slots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

size_t dllm_slots_slot_bytes(int64_t L, int64_t C, int32_t max_tokens)
{
    return 4 * dllm_pool_round((size_t)L * (size_t)max_tokens * (size_t)C * sizeof(float));
}

void dllm_slots_deinit(dllm_slots *s)
{
    if (s == NULL || s->be == NULL) return;
    dllm_backend_dealloc(s->be, s->mem);
    dllm_backend_dealloc(s->be, s->iota);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

dllm_status dllm_slots_init(dllm_slots *s, dllm_backend *be, size_t n, int32_t max_tokens,
                            int64_t L, int64_t C, double pin_share, double pin_ttl_ms)
{
    dllm_status rc = DLLM_OK;
    int32_t *iota = NULL;

    memset(s, 0, sizeof *s);
    if (n == 0 || max_tokens < 1 || L < 1 || C < 1 || !(pin_share >= 0.0 && pin_share <= 1.0) ||
        !(pin_ttl_ms > 0.0))
        return DLLM_E_INVALID_ARG;
    s->be = be;
    s->L = L;
    s->C = C;
    s->max_tokens = max_tokens;
    s->n = n;
    s->pin_share = pin_share;
    s->pin_ttl_ms = pin_ttl_ms;
    s->slot_bytes = dllm_slots_slot_bytes(L, C, max_tokens);
    s->slots = calloc(n, sizeof *s->slots);
    iota = malloc((size_t)max_tokens * sizeof *iota);
    if (s->slots == NULL || iota == NULL) {
        rc = DLLM_E_NOMEM;
        goto out;
    }
    if (s->slot_bytes > SIZE_MAX / n) {
        rc = DLLM_E_INVALID_ARG;
        goto out;
    }
    DLLM_TRY_GOTO(dllm_backend_alloc(be, n * s->slot_bytes, (void **)&s->mem), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(be, (size_t)max_tokens * sizeof(int32_t), (void **)&s->iota),
                  rc, out);
    for (int32_t i = 0; i < max_tokens; i++) iota[i] = i;
    DLLM_TRY_GOTO(dllm_backend_upload(be, s->iota, iota, (size_t)max_tokens * sizeof(int32_t)),
                  rc, out);
    for (size_t i = 0; i < n; i++) s->slots[i].block = s->mem + i * s->slot_bytes;
    s->st.slots = n;
out:
    free(iota);
    if (rc != DLLM_OK) dllm_slots_deinit(s);
    if (rc != DLLM_OK) memset(s, 0, sizeof *s);
    return rc;
}

int dllm_slots_find(const dllm_slots *s, const uint8_t key[32])
{
    for (size_t i = 0; i < s->n; i++)
        if (s->slots[i].state == DLLM_SLOT_READY && memcmp(s->slots[i].key, key, 32) == 0)
            return (int)i;
    return -1;
}

static int pin_valid(const dllm_slot *sl, double now_ms)
{
    return sl->pinned && now_ms < sl->pin_until_ms;
}

static size_t pinned_count(const dllm_slots *s, double now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) n += pin_valid(&s->slots[i], now_ms) != 0;
    return n;
}

/* The feature-store view of a slot holding S rows. */
static void set_view(dllm_slots *s, dllm_slot *sl, int32_t S)
{
    size_t q = s->slot_bytes / 4;
    memset(&sl->fs, 0, sizeof sl->fs);
    sl->fs.n_layers = s->L;
    sl->fs.T = S;
    sl->fs.C = s->C;
    sl->fs.Ckv = s->C; /* full-width K/V: slots are refused under tensor parallelism */
    sl->fs.k = (float *)sl->block;
    sl->fs.v = (float *)(sl->block + q);
    sl->fs.a = (float *)(sl->block + 2 * q);
    sl->fs.f = (float *)(sl->block + 3 * q);
}

static void touch(dllm_slots *s, dllm_slot *sl, int pin, double now_ms)
{
    sl->last_use = ++s->clock;
    if (pin_valid(sl, now_ms)) {
        sl->pin_until_ms = now_ms + s->pin_ttl_ms; /* TTL refreshed on use */
    } else {
        sl->pinned = 0;
        if (pin && (double)pinned_count(s, now_ms) + 1.0 <= floor(s->pin_share * (double)s->n)) {
            sl->pinned = 1;
            sl->pin_until_ms = now_ms + s->pin_ttl_ms;
        }
    }
}

dllm_status dllm_slots_acquire(dllm_slots *s, const uint8_t key[32], int32_t n_tokens, int pin,
                               double now_ms, int *idx, int *fresh)
{
    dllm_slot *victim = NULL;
    int hit;

    *idx = -1;
    *fresh = 0;
    if (n_tokens < 1 || n_tokens > s->max_tokens) return DLLM_E_INVALID_ARG;
    hit = dllm_slots_find(s, key);
    if (hit >= 0) {
        dllm_slot *sl = &s->slots[hit];
        if (sl->n_tokens != n_tokens) return DLLM_E_INVALID_ARG; /* same key, other length */
        sl->refs++;
        touch(s, sl, pin, now_ms);
        *idx = hit;
        return DLLM_OK;
    }
    for (size_t i = 0; i < s->n && victim == NULL; i++)
        if (s->slots[i].state == DLLM_SLOT_EMPTY) victim = &s->slots[i];
    if (victim == NULL) {
        for (size_t i = 0; i < s->n; i++) {
            dllm_slot *sl = &s->slots[i];
            if (sl->state != DLLM_SLOT_READY || sl->refs > 0 || pin_valid(sl, now_ms)) continue;
            if (victim == NULL || sl->last_use < victim->last_use) victim = sl;
        }
    }
    if (victim == NULL) return DLLM_E_BUSY;
    if (victim->state == DLLM_SLOT_READY) s->st.evictions++;
    memcpy(victim->key, key, 32);
    victim->state = DLLM_SLOT_BUILDING;
    victim->n_tokens = n_tokens;
    victim->refs = 1;
    victim->pinned = 0;
    set_view(s, victim, n_tokens);
    touch(s, victim, pin, now_ms);
    *idx = (int)(victim - s->slots);
    *fresh = 1;
    return DLLM_OK;
}

void dllm_slots_commit(dllm_slots *s, int idx)
{
    DLLM_ASSERT(idx >= 0 && (size_t)idx < s->n && s->slots[idx].state == DLLM_SLOT_BUILDING);
    s->slots[idx].state = DLLM_SLOT_READY;
    s->st.builds++;
}

void dllm_slots_release(dllm_slots *s, int idx)
{
    dllm_slot *sl;
    if (idx < 0 || (size_t)idx >= s->n) return;
    sl = &s->slots[idx];
    DLLM_ASSERT(sl->refs > 0);
    sl->refs--;
    sl->last_use = ++s->clock;
    if (sl->state == DLLM_SLOT_BUILDING) { /* the build failed: nothing valid here */
        char *block = sl->block;
        memset(sl, 0, sizeof *sl);
        sl->block = block;
    }
}

dllm_status dllm_slots_copy_to(dllm_slots *s, int idx, dllm_feature_store *dst)
{
    const dllm_slot *sl = &s->slots[idx];
    int64_t S = sl->n_tokens, C = s->C;
    if (sl->state != DLLM_SLOT_READY || dst->n_layers != s->L || dst->C != C || dst->T < S)
        return DLLM_E_INVALID_ARG;
    for (int64_t l = 0; l < s->L; l++) {
        /* (S, C) rows [0, S) of layer l, per feature */
        DLLM_TRY(dllm_backend_gather_rows(s->be, dllm_fs_layer(dst, dst->k, l),
                                          dllm_fs_layer(&sl->fs, sl->fs.k, l), s->iota, S, C));
        DLLM_TRY(dllm_backend_gather_rows(s->be, dllm_fs_layer(dst, dst->v, l),
                                          dllm_fs_layer(&sl->fs, sl->fs.v, l), s->iota, S, C));
        DLLM_TRY(dllm_backend_gather_rows(s->be, dllm_fs_layer(dst, dst->a, l),
                                          dllm_fs_layer(&sl->fs, sl->fs.a, l), s->iota, S, C));
        DLLM_TRY(dllm_backend_gather_rows(s->be, dllm_fs_layer(dst, dst->f, l),
                                          dllm_fs_layer(&sl->fs, sl->fs.f, l), s->iota, S, C));
    }
    return DLLM_OK;
}

dllm_status dllm_slots_download(const dllm_slots *s, int idx, float *out, size_t cap, size_t *n)
{
    const dllm_slot *sl;
    size_t per;
    if (idx < 0 || (size_t)idx >= s->n || s->slots[idx].state != DLLM_SLOT_READY)
        return DLLM_E_INVALID_ARG;
    sl = &s->slots[idx];
    per = (size_t)s->L * (size_t)sl->n_tokens * (size_t)s->C;
    *n = 4 * per;
    if (out == NULL) return DLLM_OK;
    if (cap < 4 * per) return DLLM_E_INVALID_ARG;
    const float *src[4] = {sl->fs.k, sl->fs.v, sl->fs.a, sl->fs.f};
    for (int i = 0; i < 4; i++)
        DLLM_TRY(dllm_backend_download(s->be, out + (size_t)i * per, src[i], per * sizeof(float)));
    return DLLM_OK;
}

void dllm_slots_stats(const dllm_slots *s, double now_ms, dllm_slot_stats *out)
{
    *out = s->st;
    out->slots = s->n;
    out->used = out->referenced = out->pinned = 0;
    for (size_t i = 0; i < s->n; i++) {
        const dllm_slot *sl = &s->slots[i];
        out->used += sl->state != DLLM_SLOT_EMPTY;
        out->referenced += sl->refs > 0;
        out->pinned += pin_valid(sl, now_ms) != 0;
    }
}
