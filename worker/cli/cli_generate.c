/* cli_generate.c -- `dllm generate`: one prompt through the engine, text or JSON out.
 *
 * The prompt is either text (wrapped in the LLaDA-Instruct chat template unless --raw,
 * with an optional --system message) or explicit token ids (--prompt-ids, used as is).
 * The output is the decoded generated region (special tokens skipped), or with --json an
 * object with token_ids, text, steps, forwards, usage and timing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dllm generate [options] (--prompt TEXT | --prompt-ids 1,2,3)\n\n"
               "  --prompt TEXT           user message; the chat template is applied\n"
               "  --system TEXT           system message for the chat template\n"
               "  --raw                   encode --prompt as plain text, without the template\n"
               "  --prompt-ids LIST       prompt token ids, used as they are\n");
    cli_gen_usage(f);
    fprintf(f, "  --json                  print a JSON object instead of the text\n"
               "  --trace                 with --json, include the generated region after every\n"
               "                          step\n"
               "  -h, --help              this help\n");
}

enum { OPT_PROMPT = CLI_OPT_FIRST_LOCAL, OPT_SYSTEM, OPT_RAW, OPT_IDS, OPT_JSON, OPT_TRACE };

static const struct option opts[] = {
    CLI_GEN_OPTIONS,
    {"prompt", required_argument, 0, OPT_PROMPT},
    {"system", required_argument, 0, OPT_SYSTEM},
    {"raw", no_argument, 0, OPT_RAW},
    {"prompt-ids", required_argument, 0, OPT_IDS},
    {"json", no_argument, 0, OPT_JSON},
    {"trace", no_argument, 0, OPT_TRACE},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static cJSON *ids_json(const int32_t *ids, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
    return a;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int cli_generate(int argc, char **argv)
{
    const char *model_flag = NULL, *prompt = NULL, *system = NULL, *ids_flag = NULL;
    dllm_engine_config ec;
    dllm_gen_params gp;
    unsigned cache_seen = 0;
    int raw = 0, json = 0, trace = 0, c, ret = CLI_FAIL;
    char model_dir[4096], err[1024];
    dllm_engine *e = NULL;
    dllm_seq *seq = NULL;
    int32_t *prompt_ids = NULL;
    size_t n_prompt = 0;
    char *text = NULL;
    cJSON *root = NULL, *trace_arr = NULL;
    dllm_status rc;

    cli_engine_config_init(&ec);
    dllm_gen_params_init(&gp);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int g = cli_gen_flag("generate", c, optarg, &ec, &gp, &model_flag, &cache_seen);
        if (g < 0) goto usage_err;
        if (g > 0) continue;
        switch (c) {
        case OPT_PROMPT: prompt = optarg; break;
        case OPT_SYSTEM: system = optarg; break;
        case OPT_RAW: raw = 1; break;
        case OPT_IDS: ids_flag = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_TRACE: trace = 1; break;
        case 'h': usage(stdout); ret = CLI_OK; goto out;
        default:
            fprintf(stderr, "dllm generate: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            goto usage_err;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dllm generate: unexpected argument '%s'\n", argv[optind]);
        goto usage_err;
    }
    if ((prompt == NULL) == (ids_flag == NULL)) {
        fprintf(stderr, "dllm generate: give exactly one of --prompt or --prompt-ids\n");
        goto usage_err;
    }
    if (ids_flag != NULL && (system != NULL || raw)) {
        fprintf(stderr, "dllm generate: --system and --raw apply to --prompt only\n");
        goto usage_err;
    }
    if (trace && !json) {
        fprintf(stderr, "dllm generate: --trace needs --json\n");
        goto usage_err;
    }
    if (cli_gen_check("generate", &gp, cache_seen)) goto usage_err;
    if (dllm_gen_params_validate(&gp, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm generate: %s\n", err);
        goto usage_err;
    }
    if (ids_flag != NULL && cli_parse_ids("generate", ids_flag, &prompt_ids, &n_prompt))
        goto usage_err;
    if (cli_resolve_model(model_flag, model_dir, sizeof model_dir)) goto out;
    ec.model_dir = model_dir;

    rc = dllm_engine_new(&ec, &e, err, sizeof err);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm generate: %s\n", err);
        goto out;
    }
    if (prompt != NULL) {
        const dllm_tokenizer *tk = dllm_engine_tokenizer(e);
        if (raw)
            rc = dllm_tokenizer_encode(tk, prompt, strlen(prompt), 0, &prompt_ids, &n_prompt, err,
                                       sizeof err);
        else
            rc = dllm_tokenizer_apply_chat(tk, system, prompt, &prompt_ids, &n_prompt, err,
                                           sizeof err);
        if (rc != DLLM_OK) {
            fprintf(stderr, "dllm generate: cannot encode the prompt: %s\n", err);
            goto out;
        }
    }

    double t0 = now_ms();
    rc = dllm_seq_new(e, prompt_ids, n_prompt, &gp, &seq);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm generate: %s\n", dllm_engine_last_error(e));
        goto out;
    }
    if (trace) trace_arr = cJSON_CreateArray();
    while (!dllm_seq_finished(seq)) {
        rc = dllm_engine_step(e, &seq, 1);
        if (rc != DLLM_OK) {
            fprintf(stderr, "dllm generate: %s\n", dllm_engine_last_error(e));
            goto out;
        }
        if (trace_arr) {
            size_t n;
            const int32_t *t = dllm_seq_tokens(seq, &n);
            cJSON_AddItemToArray(trace_arr, ids_json(t, n));
        }
    }
    double elapsed = now_ms() - t0;

    size_t n_out, text_len;
    const int32_t *out_ids = dllm_seq_tokens(seq, &n_out);
    rc = dllm_tokenizer_decode(dllm_engine_tokenizer(e), out_ids, n_out, 1, &text, &text_len, err,
                               sizeof err);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm generate: cannot decode the output: %s\n", err);
        goto out;
    }
    if (json) {
        dllm_seq_stats st;
        dllm_model_info mi;
        dllm_seq_stats_get(seq, &st);
        dllm_engine_model_info(e, &mi);
        root = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "token_ids", ids_json(out_ids, n_out));
        cJSON_AddStringToObject(root, "text", text);
        cJSON_AddNumberToObject(root, "steps", st.steps);
        cJSON_AddNumberToObject(root, "forwards", st.forwards);
        cJSON_AddNumberToObject(root, "prompt_tokens", (double)n_prompt);
        cJSON_AddNumberToObject(root, "gen_length", st.gen_length);
        cJSON_AddNumberToObject(root, "completion_tokens", st.completion_tokens);
        cJSON_AddItemToObject(root, "prompt_ids", ids_json(prompt_ids, n_prompt));
        cJSON_AddStringToObject(root, "cache", dllm_cache_policy_name(gp.cache));
        cli_stats_json(root, seq);
        cJSON_AddStringToObject(root, "model", mi.model_dir);
        cJSON_AddStringToObject(root, "backend", mi.backend);
        cJSON_AddNumberToObject(root, "elapsed_ms", elapsed);
        cJSON_AddNumberToObject(root, "tokens_per_s",
                                elapsed > 0 ? 1e3 * (double)n_out / elapsed : 0.0);
        if (trace_arr) {
            cJSON_AddItemToObject(root, "trace", trace_arr);
            trace_arr = NULL;
        }
        char *s = cJSON_PrintUnformatted(root);
        if (s == NULL) goto out;
        puts(s);
        free(s);
    } else {
        printf("%s\n", text);
    }
    ret = CLI_OK;
    goto out;
usage_err:
    fputc('\n', stderr);
    usage(stderr);
    ret = CLI_USAGE;
out:
    cJSON_Delete(root);
    cJSON_Delete(trace_arr);
    free(text);
    free(prompt_ids);
    dllm_seq_free(seq);
    dllm_engine_free(e);
    return ret;
}
