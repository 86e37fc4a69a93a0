/* cli_bench.c -- `dllm bench`: the cost of a generation setting, cached against uncached.
 *
 * Two modes:
 *   --dry-run  the analytic model (dllm_estimate_cost): FLOPs from the schedule alone, for
 *              any model shape, e.g. `--synthetic llada-8b` with no weights at all;
 *   default    real generations on a model through the engine, timed: none first, then
 *              the policy, on the same synthetic prompt (one token repeated, as the
 *              dLLM-Cache speed script does), reporting ms per step, tokens/s, measured
 *              FLOPs and the speedup.
 * Defaults are the paper's speed setting (algorithms.md 3.5): prompt 893, gen 256, steps
 * 256, block 8, dLLM-Cache K_p 100, K_r 7, rho 0.25.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* One generation stepped by hand: ms to the end of the first step (from dllm_seq_new,
 * where a slot miss builds the slot) and to the end; the sequence's stats in st. */
static int timed_generation(dllm_engine *e, const int32_t *prompt, size_t n,
                            const dllm_gen_params *p, double *first_ms, double *total_ms,
                            dllm_seq_stats *st)
{
    struct timespec ts;
    dllm_seq *s = NULL;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6, t = t0;
    if (dllm_seq_new(e, prompt, n, p, &s) != DLLM_OK) goto fail;
    *first_ms = -1;
    while (!dllm_seq_finished(s)) {
        if (dllm_engine_step(e, &s, 1) != DLLM_OK) goto fail;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
        if (*first_ms < 0) *first_ms = t - t0;
    }
    *total_ms = t - t0;
    dllm_seq_stats_get(s, st);
    dllm_seq_free(s);
    return 0;
fail:
    fprintf(stderr, "dllm bench: %s\n", dllm_engine_last_error(e));
    dllm_seq_free(s);
    return -1;
}

/* --system-len: the same request without a slot, building its slot, attaching it. */
static int slot_runs(dllm_engine *e, const int32_t *prompt, int64_t plen,
                     const dllm_gen_params *gp, int64_t syslen, int64_t repeat, cJSON *root,
                     int json)
{
    static const char *const names[3] = {"no_slot", "cold", "warm"};
    dllm_gen_params p = *gp;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "prompt_slot", o);
    cJSON_AddNumberToObject(o, "system_len", (double)syslen);
    if (syslen > plen) {
        fprintf(stderr, "dllm bench: --system-len %lld is longer than the prompt (%lld)\n",
                (long long)syslen, (long long)plen);
        return -1;
    }
    for (int k = 0; k < 3; k++) {
        double best_first = 1e30, best_total = 1e30, f, t;
        dllm_seq_stats st;
        p.prefix_len = k == 0 ? 0 : (int32_t)syslen;
        for (int64_t r = 0; r < (k == 1 ? 1 : repeat); r++) { /* one cold build */
            if (timed_generation(e, prompt, (size_t)plen, &p, &f, &t, &st)) return -1;
            if (f < best_first) best_first = f;
            if (t < best_total) best_total = t;
        }
        if (k > 0 && st.slot_prefix_tokens != syslen) {
            fprintf(stderr, "dllm bench: the %lld-token prefix got no slot (policy %s)\n",
                    (long long)syslen, dllm_cache_policy_name(p.cache));
            return -1;
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "first_step_ms", best_first);
        cJSON_AddNumberToObject(j, "total_ms", best_total);
        cJSON_AddNumberToObject(j, "tflops", st.flops / 1e12);
        cJSON_AddNumberToObject(j, "cached_prompt_tokens", st.cached_prompt_tokens);
        cJSON_AddItemToObject(o, names[k], j);
        if (!json)
            printf("prompt slot %-7s first step %9.2f ms  total %9.2f ms  %8.3f TFLOP\n",
                   names[k], best_first, best_total, st.flops / 1e12);
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dllm bench [options]\n\n"
               "  --synthetic NAME        model shape without weights: llada-8b (needs --dry-run\n"
               "                          on a build without the CUDA backend)\n"
               "  --dry-run               analytic FLOPs from the schedule, no forward runs\n"
               "  --prompt-len N          synthetic prompt length (default 893)\n"
               "  --repeat N              timed runs per policy (default 1)\n"
               "  --concurrency LIST      e.g. 1,2,4,8: throughput and latency through the\n"
               "                          scheduler at each concurrency (2 x N requests each)\n"
               "  --skip-none             time the policy only (no uncached baseline)\n"
               "  --system-len N          prompt slots: the first N prompt tokens are a shared\n"
               "                          system prefix; time the first step and the whole\n"
               "                          generation without a slot, building it (cold) and\n"
               "                          attaching it (warm) (docs/prompt-cache.md)\n");
    cli_gen_usage(f);
    fprintf(f, "  --json                  print one JSON object\n"
               "  -h, --help              this help\n"
               "\nDefaults: gen 256, steps 256, block 8, --cache dllm --kp 100 --kr 7 --rho 0.25\n"
               "(the dLLM-Cache paper's speed setting); the policy is compared with none.\n");
}

enum { OPT_SYNTH = CLI_OPT_FIRST_LOCAL, OPT_DRY, OPT_PLEN, OPT_REPEAT, OPT_JSON, OPT_CONC,
       OPT_SKIP_NONE, OPT_SYSLEN };

static const struct option opts[] = {
    CLI_GEN_OPTIONS,
    {"synthetic", required_argument, 0, OPT_SYNTH},
    {"dry-run", no_argument, 0, OPT_DRY},
    {"prompt-len", required_argument, 0, OPT_PLEN},
    {"repeat", required_argument, 0, OPT_REPEAT},
    {"concurrency", required_argument, 0, OPT_CONC},
    {"skip-none", no_argument, 0, OPT_SKIP_NONE},
    {"system-len", required_argument, 0, OPT_SYSLEN},
    {"json", no_argument, 0, OPT_JSON},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n requests of the same setting through the scheduler at concurrency c. */
static int run_concurrency(dllm_engine *e, const int32_t *prompt, size_t plen,
                           const dllm_gen_params *gp, int64_t c, cJSON *arr, int json,
                           const dllm_calibration *cal)
{
    dllm_sched_config sc;
    dllm_sched *s = NULL;
    char err[512];
    size_t n = (size_t)(2 * c), got = 0, next = 0;
    double *lat = calloc(n, sizeof *lat), flops = 0;
    int ret = -1;

    dllm_sched_config_init(&sc);
    sc.max_running = (size_t)c;
    sc.max_queue = n;
    if (lat == NULL) goto out;
    if (dllm_sched_new(e, &sc, &s, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm bench: %s\n", err);
        goto out;
    }
    double t0 = now_s();
    for (; next < n; next++) {
        dllm_request r = {next, prompt, plen, *gp};
        if (dllm_sched_submit(s, &r, NULL, err, sizeof err) != DLLM_OK) {
            fprintf(stderr, "dllm bench: %s\n", err);
            goto out;
        }
    }
    while (got < n) {
        if (dllm_sched_step(s, NULL) != DLLM_OK) {
            fprintf(stderr, "dllm bench: %s\n", dllm_engine_last_error(e));
            goto out;
        }
        dllm_result *r;
        while (dllm_sched_poll(s, &r)) {
            lat[got++] = r->total_ms;
            flops += r->stats.flops;
            dllm_result_free(r);
        }
    }
    double wall = now_s() - t0;
    dllm_sched_stats st;
    dllm_sched_stats_get(s, &st);
    qsort(lat, n, sizeof *lat, cmp_double);
    double p50 = lat[(n - 1) / 2], p99 = lat[(size_t)ceil(0.99 * (double)n) - 1];
    double tps = (double)n * gp->gen_length / wall;
    double ms_step = 1e3 * wall / (double)st.steps, rows = (double)st.rows / (double)st.steps;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "concurrency", (double)c);
    cJSON_AddNumberToObject(o, "requests", (double)n);
    cJSON_AddNumberToObject(o, "tokens_per_s", tps);
    cJSON_AddNumberToObject(o, "latency_p50_ms", p50);
    cJSON_AddNumberToObject(o, "latency_p99_ms", p99);
    cJSON_AddNumberToObject(o, "ms_per_step", ms_step);
    cJSON_AddNumberToObject(o, "rows_per_step", rows);
    /* model-FLOP utilisation: matmul FLOPs done over wall time, against the measured rate */
    double mfu = cal && cal->matmul_flops_per_s > 0 ? flops / wall / cal->matmul_flops_per_s : 0;
    cJSON_AddNumberToObject(o, "tflops_per_s", flops / wall / 1e12);
    cJSON_AddNumberToObject(o, "mfu", mfu);
    cJSON_AddItemToArray(arr, o);
    if (!json)
        printf("concurrency %3lld: %8.1f tok/s  p50 %9.1f ms  p99 %9.1f ms  %8.2f ms/step  "
               "%7.1f rows/step  %7.3g TFLOP/s  MFU %4.1f%%\n",
               (long long)c, tps, p50, p99, ms_step, rows, flops / wall / 1e12, 100 * mfu);
    ret = 0;
out:
    free(lat);
    dllm_sched_free(s);
    return ret;
}

static void add_cost(cJSON *o, const char *key, const dllm_cost *c, int32_t gen)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "forwards", c->forwards);
    cJSON_AddNumberToObject(j, "tflops", c->flops / 1e12);
    cJSON_AddNumberToObject(j, "tflops_per_token", c->flops / 1e12 / gen);
    cJSON_AddNumberToObject(j, "tflops_full_head", c->flops_full_head / 1e12);
    cJSON_AddNumberToObject(j, "tflops_per_token_full_head", c->flops_full_head / 1e12 / gen);
    cJSON_AddNumberToObject(j, "rows_q", (double)c->rows_q);
    cJSON_AddNumberToObject(j, "rows_v", (double)c->rows_v);
    cJSON_AddItemToObject(o, key, j);
}

int cli_bench(int argc, char **argv)
{
    const char *model_flag = NULL, *synth = NULL;
    dllm_engine_config ec;
    dllm_gen_params gp, gn;
    unsigned cache_seen = 0;
    int json = 0, dry = 0, c, ret = CLI_FAIL, cache_given = 0, skip_none = 0;
    int64_t plen = 893, repeat = 1, syslen = 0;
    const char *conc = NULL;
    char model_dir[4096], err[1024];
    dllm_engine *e = NULL;
    int32_t *prompt = NULL;
    cJSON *root = NULL;

    cli_engine_config_init(&ec);
    dllm_gen_params_init(&gp);
    gp.gen_length = 256;
    gp.steps = 256;
    gp.block_length = 8;
    gp.cache = DLLM_CACHE_DLLM;
    gp.cache_params.kp = 100;
    gp.cache_params.kr = 7;
    gp.cache_params.rho = 0.25;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == CLI_OPT_CACHE) cache_given = 1;
        int g = cli_gen_flag("bench", c, optarg, &ec, &gp, &model_flag, &cache_seen);
        if (g < 0) goto usage_err;
        if (g > 0) continue;
        switch (c) {
        case OPT_SYNTH: synth = optarg; break;
        case OPT_DRY: dry = 1; break;
        case OPT_PLEN:
            if (cli_parse_i64("bench", "--prompt-len", optarg, 1, 1 << 20, &plen)) goto usage_err;
            break;
        case OPT_REPEAT:
            if (cli_parse_i64("bench", "--repeat", optarg, 1, 1000, &repeat)) goto usage_err;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_CONC: conc = optarg; break;
        case OPT_SKIP_NONE: skip_none = 1; break;
        case OPT_SYSLEN:
            if (cli_parse_i64("bench", "--system-len", optarg, 1, 1 << 20, &syslen))
                goto usage_err;
            ec.prompt_slots = 1;
            ec.slot_tokens = (int32_t)syslen;
            break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            fprintf(stderr, "dllm bench: unknown or incomplete option '%s'\n", argv[optind - 1]);
            goto usage_err;
        }
    }
    (void)cache_given;
    if (optind < argc) {
        fprintf(stderr, "dllm bench: unexpected argument '%s'\n", argv[optind]);
        goto usage_err;
    }
    if (cli_gen_check("bench", &gp, cache_seen)) goto usage_err;
    if (dllm_gen_params_validate(&gp, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm bench: %s\n", err);
        goto usage_err;
    }
    if (synth != NULL && strcmp(synth, "llada-8b") != 0 && strcmp(synth, "llada-mini") != 0) {
        fprintf(stderr, "dllm bench: unknown --synthetic '%s' (known: llada-8b, llada-mini)\n",
                synth);
        goto usage_err;
    }
    if (synth != NULL && model_flag != NULL) {
        fprintf(stderr, "dllm bench: give --synthetic or --model, not both\n");
        goto usage_err;
    }
    if (synth != NULL && !dry && strcmp(synth, "llada-8b") == 0 &&
        (ec.backend == NULL || strcmp(ec.backend, "cpu") == 0)) {
        fprintf(stderr, "dllm bench: synthetic llada-8b weights are meant for --backend cuda (on "
                        "the CPU they take 32 GB of fp32); hint: add --backend cuda, or --dry-run "
                        "for the analytic cost\n");
        goto out;
    }
    gn = gp;
    gn.cache = DLLM_CACHE_NONE;

    dllm_model_shape shape;
    if (synth != NULL && dry) {
        if (strcmp(synth, "llada-8b") != 0) {
            fprintf(stderr, "dllm bench: --dry-run knows the shape of llada-8b only\n");
            goto out;
        }
        dllm_model_shape_llada_8b(&shape);
    } else {
        if (synth != NULL) {
            ec.synthetic = synth;
            ec.synthetic_seed = 1;
        } else {
            if (cli_resolve_model(model_flag, model_dir, sizeof model_dir)) goto out;
            ec.model_dir = model_dir;
        }
        if (dllm_engine_new(&ec, &e, err, sizeof err) != DLLM_OK) {
            fprintf(stderr, "dllm bench: %s\n", err);
            goto out;
        }
        dllm_model_info mi;
        dllm_engine_model_info(e, &mi);
        shape.d_model = mi.d_model;
        shape.n_layers = mi.n_layers;
        shape.n_heads = mi.n_heads;
        shape.mlp_hidden_size = mi.mlp_hidden_size;
        shape.vocab_size = mi.vocab_size;
    }

    dllm_cost cp, cn;
    if (dllm_estimate_cost(&shape, (int32_t)plen, &gp, &cp, err, sizeof err) != DLLM_OK ||
        dllm_estimate_cost(&shape, (int32_t)plen, &gn, &cn, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm bench: %s\n", err);
        goto out;
    }
    root = cJSON_CreateObject();
    cJSON *set = cJSON_CreateObject();
    cJSON_AddStringToObject(set, "model", synth ? synth : model_dir);
    cJSON_AddNumberToObject(set, "prompt_len", (double)plen);
    cJSON_AddNumberToObject(set, "gen_length", gp.gen_length);
    cJSON_AddNumberToObject(set, "steps", gp.steps);
    cJSON_AddNumberToObject(set, "block_length", gp.block_length);
    cJSON_AddStringToObject(set, "cache", dllm_cache_policy_name(gp.cache));
    cJSON_AddNumberToObject(set, "kp", gp.cache_params.kp);
    cJSON_AddNumberToObject(set, "kr", gp.cache_params.kr);
    cJSON_AddNumberToObject(set, "rho", gp.cache_params.rho);
    cJSON_AddBoolToObject(set, "layer0_refresh", gp.cache_params.layer0_refresh);
    cJSON_AddItemToObject(root, "setting", set);
    add_cost(root, "analytic_none", &cn, gp.gen_length);
    add_cost(root, "analytic_policy", &cp, gp.gen_length);
    cJSON_AddNumberToObject(root, "flops_reduction", cn.flops / cp.flops);
    cJSON_AddNumberToObject(root, "flops_reduction_full_head",
                            cn.flops_full_head / cp.flops_full_head);

    double tn = 0, tp = 0;
    dllm_calibration cal;
    memset(&cal, 0, sizeof cal);
    if (!dry) {
        /* a synthetic prompt: one ordinary token repeated (the paper's speed script) */
        int32_t *one = NULL;
        size_t n1 = 0;
        if (dllm_engine_tokenizer(e) == NULL) { /* synthetic weights: no tokenizer */
            one = malloc(sizeof *one);
            if (one) one[0] = 42;
            n1 = one ? 1 : 0;
        }
        if (n1 == 0 && (dllm_tokenizer_encode(dllm_engine_tokenizer(e), "*", 1, 0, &one, &n1,
                                              err, sizeof err) != DLLM_OK || n1 == 0)) {
            fprintf(stderr, "dllm bench: cannot encode the synthetic prompt: %s\n", err);
            free(one);
            goto out;
        }
        prompt = malloc((size_t)plen * sizeof *prompt);
        if (prompt == NULL) {
            free(one);
            goto out;
        }
        for (int64_t i = 0; i < plen; i++) prompt[i] = one[0];
        free(one);
        if (dllm_engine_calibrate(e, &cal) != DLLM_OK) {
            fprintf(stderr, "dllm bench: %s\n", dllm_engine_last_error(e));
            goto out;
        }
        cJSON *cj = cJSON_CreateObject();
        cJSON_AddNumberToObject(cj, "mem_gb_per_s", cal.mem_bytes_per_s / 1e9);
        cJSON_AddNumberToObject(cj, "matmul_tflops", cal.matmul_flops_per_s / 1e12);
        cJSON_AddNumberToObject(cj, "skinny_gemm_gb_per_s", cal.skinny_gemm_bytes_per_s / 1e9);
        cJSON_AddNumberToObject(cj, "weight_bytes", (double)cal.weight_bytes);
        cJSON_AddItemToObject(root, "calibration", cj);
        {   /* warm-up: plans, allocations and clocks stay out of the timed runs */
            dllm_gen_params gw = gp;
            gw.gen_length = gp.block_length;
            gw.steps = 1;
            if (dllm_generate(e, prompt, (size_t)plen, &gw, NULL, NULL, NULL) != DLLM_OK) {
                fprintf(stderr, "dllm bench: %s\n", dllm_engine_last_error(e));
                goto out;
            }
        }
        for (int pass = skip_none; pass < 2; pass++) {
            const dllm_gen_params *pp = pass == 0 ? &gn : &gp;
            double best = 1e30;
            dllm_seq_stats st;
            for (int64_t r = 0; r < repeat; r++) {
                double t0 = now_s();
                if (dllm_generate(e, prompt, (size_t)plen, pp, NULL, NULL, &st) != DLLM_OK) {
                    fprintf(stderr, "dllm bench: %s\n", dllm_engine_last_error(e));
                    goto out;
                }
                double dt = now_s() - t0;
                if (dt < best) best = dt;
            }
            if (pass == 0)
                tn = best;
            else
                tp = best;
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "seconds", best);
            cJSON_AddNumberToObject(j, "ms_per_step", 1e3 * best / pp->steps);
            cJSON_AddNumberToObject(j, "tokens_per_s", pp->gen_length / best);
            cJSON_AddNumberToObject(j, "tflops_measured", st.flops / 1e12);
            cJSON_AddNumberToObject(j, "gflops_per_s", st.flops / best / 1e9);
            /* step roofline (batch 1): the weights and this sequence's feature store read
             * once per step at the measured bandwidth, the step's FLOPs at the measured
             * matmul rate; the larger of the two is the floor */
            double bytes = (double)cal.weight_bytes +
                           (double)dllm_seq_bytes(e, (size_t)plen, pp);
            double t_mem = bytes / cal.mem_bytes_per_s;
            double t_fl = st.flops / pp->steps / cal.matmul_flops_per_s;
            double floor_ms = 1e3 * (t_mem > t_fl ? t_mem : t_fl);
            cJSON_AddNumberToObject(j, "roofline_ms_per_step", floor_ms);
            cJSON_AddNumberToObject(j, "roofline_fraction", floor_ms / (1e3 * best / pp->steps));
            cJSON_AddNumberToObject(j, "feature_bytes_per_seq",
                                    (double)dllm_seq_bytes(e, (size_t)plen, pp));
            if (!json)
                printf("%-6s %8.3f s  %8.2f ms/step  %8.1f tok/s  roofline %.2f ms/step "
                       "(%s-bound)  achieved %.0f%% of it\n",
                       dllm_cache_policy_name(pp->cache), best, 1e3 * best / pp->steps,
                       pp->gen_length / best, floor_ms, t_mem > t_fl ? "memory" : "compute",
                       100 * floor_ms / (1e3 * best / pp->steps));
            cJSON_AddItemToObject(root, pass == 0 ? "measured_none" : "measured_policy", j);
        }
        if (!skip_none) cJSON_AddNumberToObject(root, "speedup", tn / tp);
        if (syslen > 0 && slot_runs(e, prompt, plen, &gp, syslen, repeat, root, json)) goto out;
        {
            size_t sb = dllm_seq_bytes(e, (size_t)plen, &gp);
            double fit = (80e9 - (double)cal.weight_bytes - 4e9) / (double)sb;
            cJSON_AddNumberToObject(root, "feature_bytes_per_seq", (double)sb);
            cJSON_AddNumberToObject(root, "max_concurrency_80gb", fit > 0 ? floor(fit) : 0);
        }
        if (conc != NULL) {
            int32_t *levels = NULL;
            size_t nl = 0;
            if (cli_parse_ids("bench", conc, &levels, &nl)) goto out;
            cJSON *arr = cJSON_CreateArray();
            cJSON_AddItemToObject(root, "concurrency", arr);
            if (!json) printf("scheduler, cache %s:\n", dllm_cache_policy_name(gp.cache));
            for (size_t i = 0; i < nl; i++) {
                if (levels[i] < 1 ||
                    run_concurrency(e, prompt, (size_t)plen, &gp, levels[i], arr, json, &cal)) {
                    free(levels);
                    goto out;
                }
            }
            free(levels);
        }
    }

    if (json) {
        char *s = cJSON_PrintUnformatted(root);
        if (s) puts(s);
        free(s);
    } else {
        printf("setting: %s, prompt %lld, gen %d, steps %d, block %d, cache %s (K_p %d, K_r %d, "
               "rho %g, layer-0 rule %s)\n",
               synth ? synth : model_dir, (long long)plen, (int)gp.gen_length, (int)gp.steps,
               (int)gp.block_length, dllm_cache_policy_name(gp.cache), (int)gp.cache_params.kp,
               (int)gp.cache_params.kr, gp.cache_params.rho,
               gp.cache_params.layer0_refresh ? "on" : "off");
        printf("%-34s %14s %14s %10s\n", "analytic (TFLOP per gen token)", "none",
               dllm_cache_policy_name(gp.cache), "reduction");
        printf("%-34s %14.4g %14.4g %9.2fx\n", "LM head on the current block", cn.flops / 1e12 / gp.gen_length,
               cp.flops / 1e12 / gp.gen_length, cn.flops / cp.flops);
        printf("%-34s %14.4g %14.4g %9.2fx\n", "LM head on every row (HF code)",
               cn.flops_full_head / 1e12 / gp.gen_length,
               cp.flops_full_head / 1e12 / gp.gen_length, cn.flops_full_head / cp.flops_full_head);
        if (ec.tp > 1) { /* docs/tensor-parallel.md: ring all-reduce on NVLink 4 */
            const double busbw = 450e9, alpha = 10e-6;
            double k = 2.0 * (ec.tp - 1) / ec.tp, st = (double)gp.steps;
            double ar = cp.tp_allreduce_bytes / st, arn = (double)cp.tp_allreduce_count / st;
            double sm = cp.tp_small_bytes / st, smn = (double)cp.tp_small_count / st;
            printf("tensor parallel traffic per step (tp %d, fp32 activations): %.1f "
                   "all-reduces, %.3f MB each rank; %.1f small collectives, %.1f KB\n", ec.tp,
                   arn, ar / 1e6, smn, sm / 1e3);
            printf("  on NVLink H100s (all-reduce bus bandwidth 450 GB/s, %.0f us per "
                   "collective): %.3f ms per step in collectives (%.3f bandwidth + %.3f "
                   "latency)\n", alpha * 1e6,
                   (ar * k / busbw + (arn + smn) * alpha) * 1e3, ar * k / busbw * 1e3,
                   (arn + smn) * alpha * 1e3);
        }
        if (!dry) {
            size_t sb = dllm_seq_bytes(e, (size_t)plen, &gp);
            dllm_model_info mi;
            dllm_engine_model_info(e, &mi);
            double fit = (80e9 - (double)cal.weight_bytes - 4e9) / (double)sb;
            if (!skip_none)
                printf("measured: none %.3f s (%.1f tok/s), %s %.3f s (%.1f tok/s), speedup "
                       "%.2fx\n", tn, gp.gen_length / tn, dllm_cache_policy_name(gp.cache), tp,
                       gp.gen_length / tp, tn / tp);
            printf("calibration (%s): memory %.0f GB/s (read + written), matmul %.1f TFLOP/s, "
                   "64-row GEMM %.0f GB/s of weights; weights %.2f GB\n", mi.backend,
                   cal.mem_bytes_per_s / 1e9, cal.matmul_flops_per_s / 1e12,
                   cal.skinny_gemm_bytes_per_s / 1e9, (double)cal.weight_bytes / 1e9);
            printf("feature store per sequence (%s): %.3f GB; sequences that fit beside the "
                   "weights on an 80 GB GPU (4 GB kept for workspace): %.0f\n",
                   dllm_cache_policy_name(gp.cache), (double)sb / 1e9, fit > 0 ? floor(fit) : 0);
        }
    }
    ret = CLI_OK;
    goto out;
usage_err:
    fputc('\n', stderr);
    usage(stderr);
    ret = CLI_USAGE;
out:
    cJSON_Delete(root);
    free(prompt);
    dllm_engine_free(e);
    return ret;
}
