/* common.c -- strict flag-value parsing and model resolution for the CLI (cli.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

int cli_parse_i64(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                  int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (s[0] == '\0' || end == s || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: not an integer\n", cmd, s, flag);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: must be in [%lld, %lld]\n", cmd, s,
                flag, (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    if (s[0] == '-' || s[0] == '\0') goto bad;
    v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "dllm %s: invalid value '%s' for %s: not a non-negative 64-bit integer\n",
            cmd, s, flag);
    return -1;
}

int cli_parse_f32(const char *cmd, const char *flag, const char *s, double lo, double hi,
                  float *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (s[0] == '\0' || end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: not a finite number\n", cmd, s,
                flag);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: must be in [%g, %g]\n", cmd, s,
                flag, lo, hi);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_parse_ids(const char *cmd, const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 16, cnt = 0;
    int32_t *v = malloc(cap * sizeof *v);
    const char *p = s;

    if (v == NULL) return -1;
    while (*p) {
        char *end = NULL;
        long long x;
        errno = 0;
        if (*p == ' ' || *p == '-' || *p == '+') goto bad;
        x = strtoll(p, &end, 10);
        if (end == p || errno == ERANGE || x < 0 || x > INT32_MAX) goto bad;
        if (cnt == cap) {
            int32_t *nv = realloc(v, 2 * cap * sizeof *nv);
            if (nv == NULL) goto bad;
            v = nv;
            cap *= 2;
        }
        v[cnt++] = (int32_t)x;
        p = end;
        if (*p == ',') {
            p++;
            if (*p == '\0') goto bad;
        } else if (*p != '\0') {
            goto bad;
        }
    }
    if (cnt == 0) goto bad;
    *ids = v;
    *n = cnt;
    return 0;
bad:
    fprintf(stderr,
            "dllm %s: invalid value '%s' for --prompt-ids: expected comma-separated "
            "non-negative integers like 1,2,3\n",
            cmd, s);
    free(v);
    return -1;
}

static int is_dir_with_config(const char *dir)
{
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_resolve_model(const char *flag, char *buf, size_t n)
{
    static const char *const shipped[] = {"llada-tiny", "llada-tiny-random"};
    static const char *const roots[] = {"../../models", "../share/dllm/models"};
    char exe[4096];
    ssize_t len;
    const char *env = getenv("DLLM_MODEL");

    if (flag != NULL) {
        snprintf(buf, n, "%s", flag);
        return 0;
    }
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, n, "%s", env);
        return 0;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++)
            for (size_t m = 0; m < sizeof shipped / sizeof shipped[0]; m++) {
                if (snprintf(buf, n, "%s/%s/%s", exe, roots[r], shipped[m]) >= (int)n) continue;
                if (is_dir_with_config(buf)) return 0;
            }
    }
    fprintf(stderr, "dllm: no model found; hint: pass --model DIR (a LLaDA checkpoint "
                    "directory) or set DLLM_MODEL\n");
    return -1;
}

void cli_gen_usage(FILE *f)
{
    fprintf(f,
            "  --model DIR             LLaDA checkpoint directory (default: $DLLM_MODEL or the\n"
            "                          model shipped with dllm)\n"
            "  --backend NAME          cpu (default) or cuda\n"
            "  --threads N             CPU threads (default: all cores)\n"
            "  --tp N                  tensor parallelism: N ranks share the model (default 1;\n"
            "                          cpu: N threads of this process; must divide the heads)\n"
            "  --gen-length N          tokens to generate (default 128)\n"
            "  --steps N               denoising steps, a multiple of the block count (128)\n"
            "  --block-length N        semi-autoregressive block length (32)\n"
            "  --temperature T         0 = greedy (default); > 0 samples (Gumbel-max)\n"
            "  --seed N                RNG seed (default 0)\n"
            "  --remasking MODE        low_confidence (default) or random\n"
            "  --cfg-scale S           classifier-free guidance scale (default 0 = off)\n"
            "  --logits-eos-inf        never predict EOS\n"
            "  --confidence-eos-eot-inf  commit EOS/EOT predictions last\n"
            "  --cache POLICY          feature cache policy: none (default), dllm (dLLM-Cache),\n"
            "                          prefix or dual (Fast-dLLM block-wise KV cache), sparse\n"
            "                          (Sparse-dLLM: dual style over the most salient rows), d2\n"
            "                          (d2Cache: per step only the rows that matter)\n"
            "  --kp N                  dllm: prompt refresh interval K_p (default 50)\n"
            "  --kr N                  dllm: response refresh interval K_r (default 7)\n"
            "  --rho R                 dllm: V-verify ratio in [0, 1] (default 0.25; 0 = pure\n"
            "                          interval reuse)\n"
            "  --layer0-refresh on|off dllm: recompute layer 0 every step (default on)\n"
            "  --cfg-interval N        dllm with --cfg-scale: unconditional pass every N steps,\n"
            "                          its residual reused between (default 0 = every step)\n"
            "  --keep-ratio R          sparse: fraction of the other rows whose K/V stay\n"
            "                          cached, in (0, 1] (default 0.5)\n"
            "  --kernel N              sparse: odd max-pool window over the saliency (default 3;\n"
            "                          1 = no pooling)\n"
            "  --d2-k N                d2: masked rows recomputed per step (default 32)\n"
            "  --d2-p P                d2: rollout nucleus of the other rows, in [0, 1] (0.1)\n"
            "  --d2-sigma S            d2: certainty-density width (default 10)\n"
            "  --d2-inflate N          d2: also recompute gaps of <= N rows (default 0 = off)\n"
            "  --d2-prior on|off       d2: certainty-prior decoding order (default on; off for\n"
            "                          --threshold/--factor)\n"
            "  --threshold T           parallel decoding: commit every block position with\n"
            "                          confidence > T (at least one); --steps is not used\n"
            "  --factor F              parallel decoding by Fast-dLLM's factor rule instead\n"
            "  --early-stop            finish once EOS/EOT is decoded with nothing masked before\n");
}

int cli_gen_flag(const char *cmd, int opt, const char *arg, dllm_engine_config *ec,
                 dllm_gen_params *gp, const char **model_flag, unsigned *cache_flags_seen)
{
    int64_t v;
    float f;

    switch (opt) {
    case CLI_OPT_MODEL: *model_flag = arg; return 1;
    case CLI_OPT_BACKEND: ec->backend = arg; return 1;
    case CLI_OPT_THREADS:
        if (cli_parse_i64(cmd, "--threads", arg, 1, 1024, &v)) return -1;
        ec->n_threads = (int)v;
        return 1;
    case CLI_OPT_TP:
        if (cli_parse_i64(cmd, "--tp", arg, 1, 64, &v)) return -1;
        ec->tp = (int)v;
        return 1;
    case CLI_OPT_GEN:
        if (cli_parse_i64(cmd, "--gen-length", arg, 1, 1 << 20, &v)) return -1;
        gp->gen_length = (int32_t)v;
        return 1;
    case CLI_OPT_STEPS:
        if (cli_parse_i64(cmd, "--steps", arg, 1, 1 << 20, &v)) return -1;
        gp->steps = (int32_t)v;
        return 1;
    case CLI_OPT_BLOCK:
        if (cli_parse_i64(cmd, "--block-length", arg, 1, 1 << 20, &v)) return -1;
        gp->block_length = (int32_t)v;
        return 1;
    case CLI_OPT_TEMP:
        return cli_parse_f32(cmd, "--temperature", arg, 0.0, 100.0, &gp->temperature) ? -1 : 1;
    case CLI_OPT_SEED: return cli_parse_u64(cmd, "--seed", arg, &gp->seed) ? -1 : 1;
    case CLI_OPT_REMASK:
        if (dllm_remasking_parse(arg, &gp->remasking) != DLLM_OK) {
            fprintf(stderr, "dllm %s: invalid value '%s' for --remasking: expected "
                            "low_confidence or random\n", cmd, arg);
            return -1;
        }
        return 1;
    case CLI_OPT_CFG:
        return cli_parse_f32(cmd, "--cfg-scale", arg, 0.0, 100.0, &gp->cfg_scale) ? -1 : 1;
    case CLI_OPT_EOS_INF: gp->logits_eos_inf = 1; return 1;
    case CLI_OPT_CONF_INF: gp->confidence_eos_eot_inf = 1; return 1;
    case CLI_OPT_CACHE:
        if (dllm_cache_policy_parse(arg, &gp->cache) != DLLM_OK) {
            fprintf(stderr, "dllm %s: invalid value '%s' for --cache: expected none, dllm, "
                            "prefix, dual, sparse or d2\n", cmd, arg);
            return -1;
        }
        return 1;
    case CLI_OPT_KP:
        if (cli_parse_i64(cmd, "--kp", arg, 1, INT32_MAX, &v)) return -1;
        gp->cache_params.kp = (int32_t)v;
        *cache_flags_seen |= 1;
        return 1;
    case CLI_OPT_KR:
        if (cli_parse_i64(cmd, "--kr", arg, 1, INT32_MAX, &v)) return -1;
        gp->cache_params.kr = (int32_t)v;
        *cache_flags_seen |= 1;
        return 1;
    case CLI_OPT_RHO:
        if (cli_parse_f32(cmd, "--rho", arg, 0.0, 1.0, &f)) return -1;
        gp->cache_params.rho = strtod(arg, NULL); /* full double precision */
        *cache_flags_seen |= 1;
        return 1;
    case CLI_OPT_LAYER0:
        if (strcmp(arg, "on") == 0)
            gp->cache_params.layer0_refresh = 1;
        else if (strcmp(arg, "off") == 0)
            gp->cache_params.layer0_refresh = 0;
        else {
            fprintf(stderr, "dllm %s: invalid value '%s' for --layer0-refresh: expected on or "
                            "off\n", cmd, arg);
            return -1;
        }
        *cache_flags_seen |= 1;
        return 1;
    case CLI_OPT_THRESHOLD:
        if (cli_parse_f32(cmd, "--threshold", arg, 1e-9, 1.0, &gp->threshold)) return -1;
        return 1;
    case CLI_OPT_FACTOR:
        if (cli_parse_f32(cmd, "--factor", arg, 1e-9, 1e6, &gp->factor)) return -1;
        return 1;
    case CLI_OPT_EARLY_STOP: gp->early_stop = 1; return 1;
    case CLI_OPT_D2_K:
        if (cli_parse_i64(cmd, "--d2-k", arg, 1, INT32_MAX, &v)) return -1;
        gp->cache_params.d2_k = (int32_t)v;
        *cache_flags_seen |= 4;
        return 1;
    case CLI_OPT_D2_P:
        if (cli_parse_f32(cmd, "--d2-p", arg, 0.0, 1.0, &f)) return -1;
        gp->cache_params.d2_p = strtod(arg, NULL);
        *cache_flags_seen |= 4;
        return 1;
    case CLI_OPT_D2_SIGMA:
        if (cli_parse_f32(cmd, "--d2-sigma", arg, 1e-6, 1e9, &f)) return -1;
        gp->cache_params.d2_sigma = strtod(arg, NULL);
        *cache_flags_seen |= 4;
        return 1;
    case CLI_OPT_D2_INFLATE:
        if (cli_parse_i64(cmd, "--d2-inflate", arg, 0, INT32_MAX, &v)) return -1;
        gp->cache_params.d2_inflate = (int32_t)v;
        *cache_flags_seen |= 4;
        return 1;
    case CLI_OPT_D2_PRIOR:
        if (strcmp(arg, "on") == 0)
            gp->cache_params.d2_prior = 1;
        else if (strcmp(arg, "off") == 0)
            gp->cache_params.d2_prior = 0;
        else {
            fprintf(stderr, "dllm %s: invalid value '%s' for --d2-prior: expected on or off\n",
                    cmd, arg);
            return -1;
        }
        *cache_flags_seen |= 4;
        return 1;
    case CLI_OPT_KEEP_RATIO:
        if (cli_parse_f32(cmd, "--keep-ratio", arg, 1e-9, 1.0, &f)) return -1;
        gp->cache_params.keep_ratio = strtod(arg, NULL); /* full double precision */
        *cache_flags_seen |= 2;
        return 1;
    case CLI_OPT_KERNEL:
        if (cli_parse_i64(cmd, "--kernel", arg, 1, 1023, &v)) return -1;
        if (v % 2 == 0) {
            fprintf(stderr, "dllm %s: invalid value '%s' for --kernel: the max-pool window "
                            "must be odd (1, 3, 5, ...)\n", cmd, arg);
            return -1;
        }
        gp->cache_params.kernel = (int32_t)v;
        *cache_flags_seen |= 2;
        return 1;
    case CLI_OPT_CFG_INTERVAL:
        if (cli_parse_i64(cmd, "--cfg-interval", arg, 0, INT32_MAX, &v)) return -1;
        gp->cache_params.cfg_interval = (int32_t)v;
        *cache_flags_seen |= 1;
        return 1;
    }
    return 0;
}

int cli_gen_check(const char *cmd, const dllm_gen_params *gp, unsigned cache_flags_seen)
{
    if ((cache_flags_seen & 4) && gp->cache != DLLM_CACHE_D2) {
        fprintf(stderr, "dllm %s: --d2-k, --d2-p, --d2-sigma, --d2-inflate and --d2-prior apply "
                        "to --cache d2\n", cmd);
        return -1;
    }
    if ((cache_flags_seen & 2) && gp->cache != DLLM_CACHE_SPARSE) {
        fprintf(stderr, "dllm %s: --keep-ratio and --kernel apply to --cache sparse\n", cmd);
        return -1;
    }
    if ((cache_flags_seen & 1) && gp->cache != DLLM_CACHE_DLLM) {
        fprintf(stderr, "dllm %s: --kp, --kr, --rho, --layer0-refresh and --cfg-interval apply "
                        "to --cache dllm\n", cmd);
        return -1;
    }
    return 0;
}

void cli_stats_json(cJSON *obj, const dllm_seq *s)
{
    dllm_seq_stats st;
    int64_t L = dllm_seq_layer_rows(s, NULL, NULL, NULL, 0);
    int64_t *q = calloc((size_t)L * 3, sizeof *q);
    cJSON *c = cJSON_CreateObject(), *pl = cJSON_CreateObject();
    dllm_seq_stats_get(s, &st);
    cJSON_AddNumberToObject(c, "rows_q", (double)st.rows_q);
    cJSON_AddNumberToObject(c, "rows_v", (double)st.rows_v);
    cJSON_AddNumberToObject(c, "rows_mlp", (double)st.rows_mlp);
    cJSON_AddNumberToObject(c, "rows_head", (double)st.rows_head);
    cJSON_AddNumberToObject(c, "rows_full", (double)st.rows_all);
    cJSON_AddNumberToObject(c, "flops", st.flops);
    cJSON_AddNumberToObject(c, "flops_none", st.flops_none);
    cJSON_AddNumberToObject(c, "flops_ratio", st.flops > 0 ? st.flops_none / st.flops : 0.0);
    if (q != NULL) {
        dllm_seq_layer_rows(s, q, q + L, q + 2 * L, L);
        const char *names[3] = {"q", "v", "mlp"};
        for (int k = 0; k < 3; k++) {
            cJSON *a = cJSON_CreateArray();
            for (int64_t l = 0; l < L; l++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber((double)q[k * L + l]));
            cJSON_AddItemToObject(pl, names[k], a);
        }
        cJSON_AddItemToObject(c, "per_layer", pl);
        pl = NULL;
    }
    cJSON_Delete(pl);
    free(q);
    cJSON_AddItemToObject(obj, "compute", c);
}

/* A one-line progress bar, redrawn after each tensor (LLaDA-8B has 291). */
static void load_progress_bar(void *user, uint64_t done, uint64_t total)
{
    (void)user;
    if (total < ((uint64_t)256 << 20)) return;
    fprintf(stderr, "\rloading weights %3d%%  %6.2f / %.2f GB", (int)(100 * done / total),
            (double)done / 1e9, (double)total / 1e9);
    if (done >= total) fputc('\n', stderr);
    fflush(stderr);
}

void cli_engine_config_init(dllm_engine_config *ec)
{
    dllm_engine_config_init(ec);
    if (isatty(STDERR_FILENO)) ec->load_progress = load_progress_bar;
}
