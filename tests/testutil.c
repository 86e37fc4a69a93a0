/* testutil.c -- see testutil.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tu_data_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", DLLM_TEST_DATA, rel);
    return buf;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
        x[i] = lo + (float)u * (hi - lo);
    }
}

double tu_nmse(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

double tu_max_rel_err(const float *a, const float *b, size_t n)
{
    double maxd = 0, maxb = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > maxd) maxd = d;
        if (fabs((double)b[i]) > maxb) maxb = fabs((double)b[i]);
    }
    if (maxb == 0) return maxd == 0 ? 0 : INFINITY;
    return maxd / maxb;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long sz;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) goto out;
    buf = malloc((size_t)sz + 1);
    if (buf == NULL) goto out;
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[sz] = '\0';
    if (len) *len = (size_t)sz;
out:
    fclose(f);
    return buf;
}

cJSON *tu_load_json(const char *rel)
{
    char path[1024];
    size_t len;
    char *txt = tu_read_file(tu_data_path(path, sizeof path, rel), &len);
    ck_assert_msg(txt != NULL,
                  "missing %s; hint: regenerate with the ops/reference/make_golden*.py scripts",
                  path);
    cJSON *j = cJSON_ParseWithLength(txt, len);
    free(txt);
    ck_assert_msg(j != NULL, "%s is not JSON", path);
    return j;
}

int32_t *tu_json_ids(const cJSON *a, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(a);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < *n; i++) v[i] = (int32_t)cJSON_GetArrayItem(a, (int)i)->valuedouble;
    return v;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    ck_assert_msg(cJSON_IsNumber(v), "golden field '%s' missing", k);
    return v->valuedouble;
}

void tu_params_from_json(const cJSON *p, dllm_gen_params *gp)
{
    dllm_gen_params_init(gp);
    gp->gen_length = (int32_t)num(p, "gen_length");
    gp->steps = (int32_t)num(p, "steps");
    gp->block_length = (int32_t)num(p, "block_length");
    gp->temperature = (float)num(p, "temperature");
    gp->cfg_scale = (float)num(p, "cfg_scale");
    ck_assert_int_eq(dllm_remasking_parse(cJSON_GetObjectItem(p, "remasking")->valuestring,
                                          &gp->remasking),
                     DLLM_OK);
    gp->seed = (uint64_t)num(p, "seed");
    gp->logits_eos_inf = cJSON_IsTrue(cJSON_GetObjectItem(p, "logits_eos_inf"));
    gp->confidence_eos_eot_inf = cJSON_IsTrue(cJSON_GetObjectItem(p, "confidence_eos_eot_inf"));
    const cJSON *d = cJSON_GetObjectItem(p, "decode");
    if (d != NULL) {
        gp->threshold = (float)num(d, "threshold");
        gp->factor = (float)num(d, "factor");
        gp->early_stop = cJSON_IsTrue(cJSON_GetObjectItem(d, "early_stop"));
    }
    const cJSON *c = cJSON_GetObjectItem(p, "cache");
    if (c == NULL) return;
    ck_assert_int_eq(dllm_cache_policy_parse(cJSON_GetObjectItem(c, "policy")->valuestring,
                                             &gp->cache),
                     DLLM_OK);
    if (gp->cache == DLLM_CACHE_D2) {
        gp->cache_params.d2_k = (int32_t)num(c, "k");
        gp->cache_params.d2_p = num(c, "p");
        gp->cache_params.d2_sigma = num(c, "sigma");
        gp->cache_params.d2_inflate = (int32_t)num(c, "inflate");
        gp->cache_params.d2_prior = cJSON_IsTrue(cJSON_GetObjectItem(c, "prior"));
        return;
    }
    if (gp->cache == DLLM_CACHE_SPARSE) {
        gp->cache_params.keep_ratio = num(c, "keep_ratio");
        gp->cache_params.kernel = (int32_t)num(c, "kernel");
        return;
    }
    if (gp->cache != DLLM_CACHE_DLLM) return;
    gp->cache_params.kp = (int32_t)num(c, "kp");
    gp->cache_params.kr = (int32_t)num(c, "kr");
    gp->cache_params.rho = num(c, "rho");
    gp->cache_params.layer0_refresh = cJSON_IsTrue(cJSON_GetObjectItem(c, "layer0_refresh"));
    gp->cache_params.cfg_interval = (int32_t)num(c, "cfg_interval");
}

dllm_engine *tu_open_engine(const char *ckname)
{
    dllm_engine_config ec;
    dllm_engine *e = NULL;
    char dir[1024], err[512];
    dllm_engine_config_init(&ec);
    ec.model_dir = tu_data_path(dir, sizeof dir, ckname);
    ec.n_threads = 0; /* OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (ops/test.sh sets 1) */
    ck_assert_msg(dllm_engine_new(&ec, &e, err, sizeof err) == DLLM_OK, "%s", err);
    return e;
}

void tu_replay_trace(dllm_engine *e, const cJSON *cs, dllm_seq_stats *st)
{
    const char *name = cJSON_GetObjectItem(cs, "name")->valuestring;
    const cJSON *trace = cJSON_GetObjectItem(cs, "trace");
    size_t n_prompt, n_out, n_got;
    int32_t *prompt = tu_json_ids(cJSON_GetObjectItem(cs, "prompt_ids"), &n_prompt);
    int32_t *want_out = tu_json_ids(cJSON_GetObjectItem(cs, "output_ids"), &n_out);
    dllm_gen_params gp;
    dllm_seq *s = NULL;
    int step = 0;

    tu_params_from_json(cJSON_GetObjectItem(cs, "params"), &gp);
    ck_assert_msg(dllm_seq_new(e, prompt, n_prompt, &gp, &s) == DLLM_OK, "%s: %s", name,
                  dllm_engine_last_error(e));
    while (!dllm_seq_finished(s)) {
        ck_assert_int_eq(dllm_engine_step(e, &s, 1), DLLM_OK);
        const cJSON *want_step = cJSON_GetArrayItem(trace, step);
        ck_assert_msg(want_step != NULL, "%s: more steps than the reference", name);
        size_t n_want;
        int32_t *ws = tu_json_ids(want_step, &n_want);
        const int32_t *gs = dllm_seq_tokens(s, &n_got);
        ck_assert_uint_eq(n_want, n_got);
        for (size_t i = 0; i < n_got; i++)
            ck_assert_msg(gs[i] == ws[i],
                          "%s: step %d, generated position %zu: engine %d, reference %d", name,
                          step + 1, i, (int)gs[i], (int)ws[i]);
        free(ws);
        step++;
    }
    ck_assert_int_eq(step, cJSON_GetArraySize(trace));
    dllm_seq_stats_get(s, st);
    ck_assert_int_eq(st->steps, (int)num(cs, "steps"));
    ck_assert_int_eq(st->forwards, (int)num(cs, "forwards"));
    const cJSON *rows = cJSON_GetObjectItem(cs, "rows");
    if (rows != NULL) {
        ck_assert_msg(st->rows_q == (int64_t)num(rows, "q"), "%s: rows_q %lld, reference %.0f",
                      name, (long long)st->rows_q, num(rows, "q"));
        ck_assert_msg(st->rows_v == (int64_t)num(rows, "v"), "%s: rows_v %lld, reference %.0f",
                      name, (long long)st->rows_v, num(rows, "v"));
        ck_assert_msg(st->rows_mlp == (int64_t)num(rows, "mlp"),
                      "%s: rows_mlp %lld, reference %.0f", name, (long long)st->rows_mlp,
                      num(rows, "mlp"));
    }
    if (cJSON_GetObjectItem(cs, "completion_tokens"))
        ck_assert_int_eq(st->completion_tokens, (int)num(cs, "completion_tokens"));
    const int32_t *got = dllm_seq_tokens(s, &n_got);
    ck_assert_uint_eq(n_got, n_out);
    ck_assert_mem_eq(got, want_out, n_out * sizeof(int32_t));
    dllm_seq_free(s);
    free(prompt);
    free(want_out);
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
