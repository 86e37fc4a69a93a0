/* test_slots.c -- prompt slots (engine/cache/slots.c and the engine's attach path).
 *
 * Pool level (CPU backend, no model): LRU eviction among unreferenced slots, reference
 * counts protecting slots in use, pinning under pressure with its cap and TTL.
 * Reference (tests/data/golden/traces_prompt_slots.json, written by the independent
 * PyTorch reference ops/reference/make_golden_slots.py on tiny-llada-4l): the engine
 * reproduces every step of dLLM-Cache generations whose prompt prefix comes from a slot,
 * token for token in fp32, and the reference's row counts, both when it builds the slot
 * and when it finds it built (the build's rows then are not paid).
 * Engine level (tests/data/tiny-llada, CPU fp32): a slot hit is bit-identical to the
 * sequence that built it and to a rebuild after eviction (the slot is a function of its
 * key), refreshes never write the shared slot, the first forward computes only the rows
 * after the prefix, tenants (salts) never share, and the opt-outs change nothing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "cache/slots.h"
#include "dllm/dllm.h"
#include "testutil.h"

/* ---- pool level ---- */

static void key_of(uint8_t k[32], int v)
{
    memset(k, 0, 32);
    k[0] = (uint8_t)v;
    k[31] = 0xa5;
}

static dllm_backend *cpu(void)
{
    dllm_backend *be = NULL;
    char err[256];
    ck_assert_int_eq(dllm_backend_new("cpu", 1, 0, &be, err, sizeof err), DLLM_OK);
    return be;
}

/* acquire + commit as a build would; returns the index */
static int take(dllm_slots *s, int v, int pin, double now, int *fresh)
{
    uint8_t k[32];
    int idx = -1;
    key_of(k, v);
    ck_assert_int_eq(dllm_slots_acquire(s, k, 4, pin, now, &idx, fresh), DLLM_OK);
    if (*fresh) dllm_slots_commit(s, idx);
    return idx;
}

START_TEST(pool_lru_and_refs)
{
    dllm_backend *be = cpu();
    dllm_slots s;
    uint8_t k[32];
    int fresh, idx;
    ck_assert_int_eq(dllm_slots_init(&s, be, 3, 8, 2, 16, 0.0, 1000.0), DLLM_OK);
    int a = take(&s, 1, 0, 0, &fresh);
    ck_assert(fresh);
    int b = take(&s, 2, 0, 0, &fresh);
    int c = take(&s, 3, 0, 0, &fresh);
    dllm_slots_release(&s, a);
    dllm_slots_release(&s, b);
    /* c is referenced; every slot is full: a 4th key evicts the LRU unreferenced one (a) */
    take(&s, 1, 0, 0, &fresh); /* hit on 1 makes 2 the LRU */
    ck_assert(!fresh);
    dllm_slots_release(&s, a);
    int d = take(&s, 4, 0, 0, &fresh);
    ck_assert(fresh);
    ck_assert_int_eq(d, b);
    ck_assert_uint_eq(s.st.evictions, 1);
    key_of(k, 2);
    ck_assert_int_eq(dllm_slots_find(&s, k), -1);
    key_of(k, 1);
    ck_assert_int_eq(dllm_slots_find(&s, k), a);
    /* everything referenced: busy, nothing evicted */
    take(&s, 1, 0, 0, &fresh); /* refs: a, c, d */
    key_of(k, 5);
    ck_assert_int_eq(dllm_slots_acquire(&s, k, 4, 0, 0, &idx, &fresh), DLLM_E_BUSY);
    ck_assert_int_eq(idx, -1);
    ck_assert_uint_eq(s.st.evictions, 1);
    /* a failed build empties its slot */
    dllm_slots_release(&s, c);
    key_of(k, 6);
    ck_assert_int_eq(dllm_slots_acquire(&s, k, 4, 0, 0, &idx, &fresh), DLLM_OK);
    ck_assert_int_eq(idx, c);
    dllm_slots_release(&s, idx);
    ck_assert_int_eq(s.slots[c].state, DLLM_SLOT_EMPTY);
    ck_assert_int_eq(dllm_slots_find(&s, k), -1);
    /* bad sizes */
    ck_assert_int_eq(dllm_slots_acquire(&s, k, 9, 0, 0, &idx, &fresh), DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_slots_acquire(&s, k, 0, 0, 0, &idx, &fresh), DLLM_E_INVALID_ARG);
    dllm_slot_stats st;
    dllm_slots_stats(&s, 0, &st);
    ck_assert_uint_eq(st.slots, 3);
    ck_assert_uint_eq(st.used, 2);
    ck_assert_uint_eq(st.referenced, 2);
    dllm_slots_deinit(&s);
    dllm_backend_free(be);
}
END_TEST

START_TEST(pool_pinning)
{
    dllm_backend *be = cpu();
    dllm_slots s;
    dllm_slot_stats st;
    int fresh;
    /* 4 slots, pin share 0.5: at most 2 pinned; TTL 100 ms */
    ck_assert_int_eq(dllm_slots_init(&s, be, 4, 8, 2, 16, 0.5, 100.0), DLLM_OK);
    int p1 = take(&s, 1, 1, 0, &fresh);
    int p2 = take(&s, 2, 1, 0, &fresh);
    int p3 = take(&s, 3, 1, 0, &fresh); /* over the cap: served, not pinned */
    dllm_slots_release(&s, p1);
    dllm_slots_release(&s, p2);
    dllm_slots_release(&s, p3);
    dllm_slots_stats(&s, 10, &st);
    ck_assert_uint_eq(st.pinned, 2);
    ck_assert(!s.slots[p3].pinned);
    /* pressure: 6 more keys through the 2 unpinned slots; the pinned ones stay */
    for (int v = 10; v < 16; v++) {
        int i = take(&s, v, 0, 20, &fresh);
        ck_assert(fresh);
        ck_assert(i != p1 && i != p2);
        dllm_slots_release(&s, i);
    }
    uint8_t k[32];
    key_of(k, 1);
    ck_assert_int_eq(dllm_slots_find(&s, k), p1);
    key_of(k, 2);
    ck_assert_int_eq(dllm_slots_find(&s, k), p2);
    /* a use at t=90 refreshes p1's TTL to 190; p2's lapses at 100 */
    int i = take(&s, 1, 0, 90, &fresh);
    ck_assert(!fresh && i == p1);
    dllm_slots_release(&s, i);
    dllm_slots_stats(&s, 150, &st);
    ck_assert_uint_eq(st.pinned, 1);
    /* at t=150: p2 (lapsed, least recent among candidates) is evicted before p1 */
    int j = take(&s, 20, 0, 150, &fresh);
    dllm_slots_release(&s, j);
    int j2 = take(&s, 21, 0, 150, &fresh);
    dllm_slots_release(&s, j2);
    key_of(k, 1);
    ck_assert_int_eq(dllm_slots_find(&s, k), p1); /* still pinned until 190 */
    key_of(k, 2);
    ck_assert_int_eq(dllm_slots_find(&s, k), -1);
    /* with the pin lapsed, p1 is an ordinary LRU candidate again */
    for (int v = 30; v < 34; v++) dllm_slots_release(&s, take(&s, v, 0, 200, &fresh));
    ck_assert_int_eq(dllm_slots_find(&s, k), -1);
    key_of(k, 1);
    ck_assert_int_eq(dllm_slots_find(&s, k), -1);
    dllm_slots_deinit(&s);
    dllm_backend_free(be);
}
END_TEST

START_TEST(pool_bad_config)
{
    dllm_backend *be = cpu();
    dllm_slots s;
    ck_assert_int_eq(dllm_slots_init(&s, be, 0, 8, 2, 16, 0.2, 1.0), DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_slots_init(&s, be, 2, 0, 2, 16, 0.2, 1.0), DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_slots_init(&s, be, 2, 8, 2, 16, 1.5, 1.0), DLLM_E_INVALID_ARG);
    ck_assert_int_eq(dllm_slots_init(&s, be, 2, 8, 2, 16, 0.2, 0.0), DLLM_E_INVALID_ARG);
    dllm_slots_deinit(&s); /* zeroed: no-op */
    dllm_backend_free(be);
}
END_TEST

/* ---- engine level ---- */

#define SYS 24 /* system-prefix tokens */
#define USR 6

static dllm_engine *open_slots(size_t n_slots, int32_t slot_tokens)
{
    dllm_engine_config ec;
    dllm_engine *e = NULL;
    char dir[1024], err[512];
    dllm_engine_config_init(&ec);
    ec.model_dir = tu_data_path(dir, sizeof dir, "tiny-llada");
    ec.prompt_slots = n_slots;
    ec.slot_tokens = slot_tokens;
    ck_assert_msg(dllm_engine_new(&ec, &e, err, sizeof err) == DLLM_OK, "%s", err);
    return e;
}

static void make_prompt(int32_t *p, uint64_t sys_seed, uint64_t usr_seed)
{
    for (int i = 0; i < SYS; i++) p[i] = (int32_t)((sys_seed * 131 + (uint64_t)i * 37) % 260);
    for (int i = 0; i < USR; i++) p[SYS + i] = (int32_t)((usr_seed * 17 + (uint64_t)i * 53) % 260);
}

static void params(dllm_gen_params *p)
{
    dllm_gen_params_init(p);
    p->gen_length = 16;
    p->steps = 16;
    p->block_length = 8;
    p->cache = DLLM_CACHE_DLLM;
    p->cache_params.kp = 5; /* prompt refreshes at forwards 6 and 11: the own copy */
    p->cache_params.kr = 2;
    p->cache_params.rho = 0.25;
    p->prefix_len = SYS;
}

static int32_t *run(dllm_engine *e, const int32_t *prompt, const dllm_gen_params *p,
                    dllm_seq_stats *st)
{
    int32_t *out = NULL;
    size_t n = 0;
    ck_assert_msg(dllm_generate(e, prompt, SYS + USR, p, &out, &n, st) == DLLM_OK, "%s",
                  dllm_engine_last_error(e));
    ck_assert_uint_eq(n, 16);
    return out;
}

/* The bytes of the slot holding key (all four features, S rows per layer). */
static float *slot_bytes(dllm_engine *e, const int32_t *prompt, const dllm_gen_params *p,
                         size_t *n);

START_TEST(engine_reuse_bit_identical)
{
    dllm_engine *e = open_slots(2, 64);
    int32_t prompt[SYS + USR];
    dllm_gen_params p;
    dllm_seq_stats a, b, c;
    dllm_slot_stats ss;
    size_t nb = 0;
    params(&p);
    make_prompt(prompt, 1, 1);

    /* miss: builds from the prefix alone, then attaches */
    int32_t *ta = run(e, prompt, &p, &a);
    ck_assert_int_eq(a.slot_prefix_tokens, SYS);
    ck_assert_int_eq(a.cached_prompt_tokens, 0);
    float *snap = slot_bytes(e, prompt, &p, &nb);

    /* hit: same tokens, bit for bit; the slot was not written by the refreshes */
    int32_t *tb = run(e, prompt, &p, &b);
    ck_assert_mem_eq(ta, tb, 16 * sizeof *ta);
    ck_assert_int_eq(b.cached_prompt_tokens, SYS);
    size_t nb2 = 0;
    float *snap2 = slot_bytes(e, prompt, &p, &nb2);
    ck_assert_uint_eq(nb, nb2);
    ck_assert_mem_eq(snap, snap2, nb * sizeof *snap);
    /* the hit skipped the build (S rows per layer) and nothing else */
    dllm_model_info mi;
    dllm_engine_model_info(e, &mi);
    ck_assert_int_eq(a.rows_q - b.rows_q, (int64_t)SYS * mi.n_layers);
    ck_assert_int_eq(a.rows_mlp - b.rows_mlp, (int64_t)SYS * mi.n_layers);
    ck_assert(b.flops < a.flops);
    ck_assert(a.flops_none == b.flops_none);

    /* evict it under pressure (two other prefixes through a 2-slot pool), rebuild: the
     * recomputed slot and the tokens are bit-identical */
    int32_t other[SYS + USR];
    make_prompt(other, 2, 1);
    free(run(e, other, &p, NULL));
    make_prompt(other, 3, 1);
    free(run(e, other, &p, NULL));
    dllm_engine_slot_stats(e, &ss);
    ck_assert_uint_eq(ss.evictions, 1);
    int32_t *tc = run(e, prompt, &p, &c);
    ck_assert_int_eq(c.cached_prompt_tokens, 0); /* rebuilt */
    ck_assert_mem_eq(ta, tc, 16 * sizeof *ta);
    size_t nb3 = 0;
    float *snap3 = slot_bytes(e, prompt, &p, &nb3);
    ck_assert_mem_eq(snap, snap3, nb * sizeof *snap);

    dllm_engine_slot_stats(e, &ss);
    ck_assert_uint_eq(ss.queries, 5);
    ck_assert_uint_eq(ss.hits, 1);
    ck_assert_uint_eq(ss.query_tokens, 5 * SYS);
    ck_assert_uint_eq(ss.hit_tokens, SYS);
    ck_assert_uint_eq(ss.builds, 4);
    ck_assert_uint_eq(ss.evictions, 2);
    ck_assert_uint_eq(ss.used, 2);
    ck_assert_uint_eq(ss.referenced, 0);
    free(ta);
    free(tb);
    free(tc);
    free(snap);
    free(snap2);
    free(snap3);
    dllm_engine_free(e);
}
END_TEST

static float *slot_bytes(dllm_engine *e, const int32_t *prompt, const dllm_gen_params *p,
                         size_t *n)
{
    uint8_t key[32];
    dllm_slots *sl = dllm_engine_slots_internal(e);
    ck_assert_int_eq(dllm_engine_prefix_key(e, prompt, SYS, p, key), DLLM_OK);
    int idx = dllm_slots_find(sl, key);
    ck_assert_msg(idx >= 0, "the prefix's slot is not held");
    ck_assert_int_eq(sl->slots[idx].n_tokens, SYS);
    size_t need = 0;
    ck_assert_int_eq(dllm_slots_download(sl, idx, NULL, 0, &need), DLLM_OK);
    float *buf = malloc(need * sizeof *buf);
    ck_assert_int_eq(dllm_slots_download(sl, idx, buf, need, n), DLLM_OK);
    ck_assert_uint_eq(*n, need);
    return buf;
}

START_TEST(engine_isolation_and_optouts)
{
    dllm_engine *e = open_slots(4, 64), *plain = tu_open_engine("tiny-llada");
    int32_t prompt[SYS + USR];
    dllm_gen_params p, q;
    dllm_seq_stats st;
    dllm_slot_stats ss;
    params(&p);
    make_prompt(prompt, 7, 3);

    /* different salts never share */
    memcpy(p.cache_salt, "tenant-a", 8);
    p.cache_salt_len = 8;
    free(run(e, prompt, &p, &st));
    memcpy(p.cache_salt, "tenant-b", 8);
    free(run(e, prompt, &p, &st));
    ck_assert_int_eq(st.cached_prompt_tokens, 0);
    free(run(e, prompt, &p, &st));
    ck_assert_int_eq(st.cached_prompt_tokens, SYS);
    dllm_engine_slot_stats(e, &ss);
    ck_assert_uint_eq(ss.used, 2);
    ck_assert_uint_eq(ss.hits, 1);

    /* opt-outs: prefix_len 0 (and an engine without slots) are the plain engine */
    q = p;
    q.prefix_len = 0;
    int32_t *t1 = run(e, prompt, &q, &st), *t2 = run(plain, prompt, &q, NULL);
    ck_assert_mem_eq(t1, t2, 16 * sizeof *t1);
    ck_assert_int_eq(st.slot_prefix_tokens, 0);
    free(t1);
    free(t2);
    t1 = run(plain, prompt, &p, &st); /* prefix_len with no slots: ignored */
    ck_assert_int_eq(st.slot_prefix_tokens, 0);
    t2 = run(e, prompt, &q, NULL);
    ck_assert_mem_eq(t1, t2, 16 * sizeof *t1);
    free(t1);
    free(t2);
    /* policy none keeps no features: counted as a query, served without a slot */
    q = p;
    q.cache = DLLM_CACHE_NONE;
    free(run(e, prompt, &q, &st));
    ck_assert_int_eq(st.slot_prefix_tokens, 0);
    /* a prefix longer than a slot: served without one */
    dllm_engine *small = open_slots(1, 8);
    free(run(small, prompt, &p, &st));
    ck_assert_int_eq(st.slot_prefix_tokens, 0);
    dllm_engine_slot_stats(small, &ss);
    ck_assert_uint_eq(ss.queries, 1);
    ck_assert_uint_eq(ss.builds, 0);
    dllm_engine_free(small);
    /* bad inputs */
    dllm_seq *s = NULL;
    q = p;
    q.prefix_len = SYS + USR + 1;
    ck_assert_int_eq(dllm_seq_new(e, prompt, SYS + USR, &q, &s), DLLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dllm_engine_last_error(e), "prefix_len"));
    q.prefix_len = -1;
    ck_assert_int_eq(dllm_seq_new(e, prompt, SYS + USR, &q, &s), DLLM_E_INVALID_ARG);
    q = p;
    q.cache_salt_len = DLLM_CACHE_SALT_MAX + 1;
    ck_assert_int_eq(dllm_seq_new(e, prompt, SYS + USR, &q, &s), DLLM_E_INVALID_ARG);
    dllm_engine_free(e);
    dllm_engine_free(plain);
}
END_TEST

START_TEST(engine_busy_and_scheduler)
{
    dllm_engine *e = open_slots(1, 64);
    int32_t p1[SYS + USR], p2[SYS + USR];
    dllm_gen_params p;
    dllm_seq *a = NULL, *b = NULL;
    dllm_seq_stats st;
    params(&p);
    make_prompt(p1, 11, 1);
    make_prompt(p2, 12, 1);
    /* a holds the only slot: b runs without one */
    ck_assert_int_eq(dllm_seq_new(e, p1, SYS + USR, &p, &a), DLLM_OK);
    ck_assert_int_eq(dllm_seq_new(e, p2, SYS + USR, &p, &b), DLLM_OK);
    dllm_seq_stats_get(b, &st);
    ck_assert_int_eq(st.slot_prefix_tokens, 0);
    dllm_slot_stats ss;
    dllm_engine_slot_stats(e, &ss);
    ck_assert_uint_eq(ss.busy, 1);
    ck_assert_uint_eq(ss.referenced, 1);
    dllm_seq_free(a);
    dllm_seq_free(b);

    /* through the scheduler: results carry cached_prompt_tokens; the slot list is
     * published for other threads */
    dllm_sched *s = NULL;
    char err[256];
    ck_assert_int_eq(dllm_sched_new(e, NULL, &s, err, sizeof err), DLLM_OK);
    dllm_request r = {.tag = 1, .prompt = p1, .n_prompt = SYS + USR, .params = p};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(dllm_sched_submit(s, &r, NULL, err, sizeof err), DLLM_OK);
    int got = 0, cached = 0;
    for (int it = 0; it < 200 && got < 2; it++) {
        dllm_result *res;
        ck_assert_int_eq(dllm_sched_step(s, NULL), DLLM_OK);
        while (dllm_sched_poll(s, &res)) {
            ck_assert_int_eq(res->status, DLLM_OK);
            cached += res->stats.cached_prompt_tokens;
            got++;
            dllm_result_free(res);
        }
    }
    ck_assert_int_eq(got, 2);
    ck_assert_int_eq(cached, 2 * SYS); /* a was built before: both hit */
    dllm_slot_info info[2];
    ck_assert_uint_eq(dllm_sched_slot_list(s, info, 2), 1);
    uint8_t key[32];
    ck_assert_int_eq(dllm_engine_prefix_key(e, p1, SYS, &p, key), DLLM_OK);
    ck_assert_mem_eq(info[0].key, key, 32);
    dllm_sched_stats sst;
    dllm_sched_stats_get(s, &sst);
    ck_assert_uint_eq(sst.slots.hits, 2);
    ck_assert_uint_eq(sst.slots.hit_tokens, 2 * SYS);
    dllm_sched_free(s);
    dllm_engine_free(e);
}
END_TEST

/* Replays one reference case; returns the sequence's stats. */
static void replay(dllm_engine *e, const cJSON *cs, dllm_seq_stats *st)
{
    const char *name = cJSON_GetObjectItem(cs, "name")->valuestring;
    const cJSON *trace = cJSON_GetObjectItem(cs, "trace");
    size_t n_prompt, n_got;
    int32_t *prompt = tu_json_ids(cJSON_GetObjectItem(cs, "prompt_ids"), &n_prompt);
    dllm_gen_params gp;
    dllm_seq *s = NULL;
    int step = 0;
    tu_params_from_json(cJSON_GetObjectItem(cs, "params"), &gp);
    gp.prefix_len = (int32_t)cJSON_GetObjectItem(cs, "slot_prefix")->valuedouble;
    ck_assert_msg(dllm_seq_new(e, prompt, n_prompt, &gp, &s) == DLLM_OK, "%s: %s", name,
                  dllm_engine_last_error(e));
    while (!dllm_seq_finished(s)) {
        ck_assert_int_eq(dllm_engine_step(e, &s, 1), DLLM_OK);
        size_t n_want;
        const cJSON *ws_j = cJSON_GetArrayItem(trace, step);
        ck_assert_msg(ws_j != NULL, "%s: more steps than the reference", name);
        int32_t *ws = tu_json_ids(ws_j, &n_want);
        const int32_t *gs = dllm_seq_tokens(s, &n_got);
        ck_assert_uint_eq(n_want, n_got);
        for (size_t i = 0; i < n_got; i++)
            ck_assert_msg(gs[i] == ws[i], "%s: step %d, position %zu: engine %d, reference %d",
                          name, step + 1, i, (int)gs[i], (int)ws[i]);
        free(ws);
        step++;
    }
    ck_assert_int_eq(step, cJSON_GetArraySize(trace));
    dllm_seq_stats_get(s, st);
    ck_assert_int_eq(st->forwards, (int)cJSON_GetObjectItem(cs, "forwards")->valuedouble);
    ck_assert_int_eq(st->slot_prefix_tokens, gp.prefix_len);
    dllm_seq_free(s);
    free(prompt);
}

START_TEST(reference_traces)
{
    cJSON *doc = tu_load_json("golden/traces_prompt_slots.json"), *cs;
    dllm_engine_config ec;
    char dir[1024], err[512];
    int n = 0;
    cJSON_ArrayForEach(cs, cJSON_GetObjectItem(doc, "cases"))
    {
        dllm_engine *e = NULL;
        dllm_seq_stats built, hit;
        const char *name = cJSON_GetObjectItem(cs, "name")->valuestring;
        const cJSON *rows = cJSON_GetObjectItem(cs, "rows");
        double build = cJSON_GetObjectItem(cs, "build_rows")->valuedouble;
        dllm_engine_config_init(&ec);
        ec.model_dir = tu_data_path(dir, sizeof dir, "tiny-llada-4l");
        ec.prompt_slots = 1;
        ec.slot_tokens = 64;
        ck_assert_msg(dllm_engine_new(&ec, &e, err, sizeof err) == DLLM_OK, "%s", err);
        replay(e, cs, &built); /* builds the slot */
        ck_assert_int_eq(built.cached_prompt_tokens, 0);
        ck_assert_msg(built.rows_q == (int64_t)cJSON_GetObjectItem(rows, "q")->valuedouble,
                      "%s: rows_q %lld", name, (long long)built.rows_q);
        ck_assert(built.rows_v == (int64_t)cJSON_GetObjectItem(rows, "v")->valuedouble);
        ck_assert(built.rows_mlp == (int64_t)cJSON_GetObjectItem(rows, "mlp")->valuedouble);
        replay(e, cs, &hit); /* finds it built */
        ck_assert_int_eq(hit.cached_prompt_tokens, hit.slot_prefix_tokens);
        ck_assert(hit.rows_q == built.rows_q - (int64_t)build);
        ck_assert(hit.rows_mlp == built.rows_mlp - (int64_t)build);
        dllm_engine_free(e);
        n++;
    }
    ck_assert_int_ge(n, 8);
    cJSON_Delete(doc);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("slots");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, pool_lru_and_refs);
    tcase_add_test(tc, pool_pinning);
    tcase_add_test(tc, pool_bad_config);
    suite_add_tcase(s, tc);
    tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, engine_reuse_bit_identical);
    tcase_add_test(tc, engine_isolation_and_optouts);
    tcase_add_test(tc, engine_busy_and_scheduler);
    tcase_add_test(tc, reference_traces);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
