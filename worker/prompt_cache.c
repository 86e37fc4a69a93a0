/* prompt_cache.c -- requests, prompt slots and the directory (prompt_cache.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "prompt_cache.h"

#include <stdlib.h>
#include <string.h>

int32_t dllm_pc_system_prefix_len(const int32_t *ids, size_t n, int32_t eot_id)
{
    if (eot_id < 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == eot_id) return (int32_t)(i + 1);
    return 0;
}

void dllm_pc_apply(const dllm_engine *e, dllm_directory *dir, const dllm_gen_request *req,
                   const int32_t *prompt, size_t n_prompt, int32_t eot_id, dllm_gen_params *p)
{
    uint8_t key[DLLM_PREFIX_KEY_BYTES];
    size_t salt_len;

    p->prefix_len = 0;
    if (dir == NULL || !req->use_prompt_slot) return;
    if (req->prefix_tokens > 0)
        p->prefix_len = req->prefix_tokens; /* request-named boundary, any prompt form */
    else if (req->system != NULL && !req->raw && req->text != NULL)
        p->prefix_len = dllm_pc_system_prefix_len(prompt, n_prompt, eot_id);
    else
        return;
    p->prefix_pin = req->pin;
    salt_len = req->cache_salt ? strlen(req->cache_salt) : 0;
    if (salt_len > DLLM_CACHE_SALT_MAX) salt_len = DLLM_CACHE_SALT_MAX; /* codec checked */
    memcpy(p->cache_salt, req->cache_salt ? req->cache_salt : "", salt_len);
    p->cache_salt_len = (uint16_t)salt_len;
    if (p->prefix_len == 0 || (size_t)p->prefix_len > n_prompt) return;
    if (dllm_engine_prefix_key(e, prompt, (size_t)p->prefix_len, p, key) != DLLM_OK) return;
    if (!dllm_directory_is_local(dir, key)) dllm_directory_claim(dir, key);
}

void dllm_pc_tick(dllm_engine_loop *loop, dllm_directory *dir, dllm_metrics *m)
{
    dllm_slot_info buf[64], *held = buf;
    dllm_sched_stats ss;
    dllm_directory_stats ds;
    dllm_prompt_cache_metrics pm;
    size_t n;

    if (dir == NULL) return;
    n = dllm_engine_loop_slot_list(loop, buf, 64);
    if (n > 64) { /* more slots than the stack buffer: take them all */
        held = malloc(n * sizeof *held);
        if (held != NULL) {
            size_t got = dllm_engine_loop_slot_list(loop, held, n);
            n = got < n ? got : n;
        } else {
            held = buf;
            n = 64;
        }
    }
    dllm_directory_tick(dir, held, n);
    if (held != buf) free(held);

    dllm_engine_loop_stats(loop, &ss);
    dllm_directory_stats_get(dir, &ds);
    memset(&pm, 0, sizeof pm);
    pm.enabled = 1;
    pm.slots = (double)ss.slots.slots;
    pm.used = (double)ss.slots.used;
    pm.referenced = (double)ss.slots.referenced;
    pm.pinned = (double)ss.slots.pinned;
    pm.query_tokens = ss.slots.query_tokens;
    pm.hit_tokens = ss.slots.hit_tokens;
    pm.builds = ss.slots.builds;
    pm.evictions = ss.slots.evictions;
    pm.busy = ss.slots.busy;
    pm.claims_won = ds.claims_won;
    pm.claims_lost = ds.claims_lost;
    pm.published = ds.published;
    pm.stale_removed = ds.stale_removed;
    pm.directory_errors = ds.redis_errors;
    dllm_metrics_set_prompt_cache(m, &pm);
}
