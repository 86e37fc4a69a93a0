/* cli_eval.c -- `dllm eval`: accuracy of a model on a task file (ops/tasks), through the
 * engine, with the sampler and cache flags of `dllm generate`.
 *
 * DESIGN
 * ------
 * - Input: JSONL, one item per line: {"id", "task", "system", "user", "answer"} (the
 *   format ops/tasks/tasks.py writes). A malformed line is an error naming the line.
 * - Each item's prompt is the LLaDA-Instruct chat template over system + user; the
 *   prediction is the generated region decoded with special tokens skipped, stripped of
 *   surrounding whitespace; an item is correct when it equals the stripped answer
 *   (exact match, the same scorer as ops/tasks/tasks.py).
 * - --batch N steps up to N items together through dllm_engine_step (the engine's
 *   batched forward); results are identical to one at a time (batch invariance).
 * - tokens_per_s counts generated positions (gen_length per item) per second of engine
 *   time, the way the LLaDA papers count TPS; answer_tokens counts the decoded answer's
 *   tokens up to the first EOS/EOT.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dllm eval [options]\n\n"
               "  --tasks FILE            JSONL task items (default: ops/tasks/eval_split.jsonl\n"
               "                          of the source tree)\n"
               "  --limit N               only the first N items\n"
               "  --batch N               items stepped together (default 1)\n"
               "  --prompt-slots N        serve each item's system turn from N prompt slots\n"
               "                          (docs/prompt-cache.md; default 0 = off)\n");
    cli_gen_usage(f);
    fprintf(f, "  --out FILE              write one JSON line per item (id, task, prediction,\n"
               "                          correct)\n"
               "  --json                  print the summary as JSON\n"
               "  -h, --help              this help\n");
}

enum { OPT_TASKS = CLI_OPT_FIRST_LOCAL, OPT_LIMIT, OPT_BATCH, OPT_OUT, OPT_JSON, OPT_SLOTS };

static const struct option opts[] = {
    CLI_GEN_OPTIONS,
    {"tasks", required_argument, 0, OPT_TASKS},
    {"limit", required_argument, 0, OPT_LIMIT},
    {"batch", required_argument, 0, OPT_BATCH},
    {"out", required_argument, 0, OPT_OUT},
    {"json", no_argument, 0, OPT_JSON},
    {"prompt-slots", required_argument, 0, OPT_SLOTS},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

typedef struct item {
    char *id, *task, *system, *user, *answer;
    char *prediction;
    int32_t *tokens; /* (n_tokens) the generated region */
    size_t n_tokens;
    int correct;
    int answer_tokens;
    double first_ms; /* dllm_seq_new to the end of the first step */
} item;

typedef struct task_stat {
    char name[64];
    int items, correct;
} task_stat;

static char *dup_field(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

/* Strips leading and trailing whitespace in place; returns s. */
static char *strip(char *s)
{
    size_t n = strlen(s), a = 0;
    while (a < n && isspace((unsigned char)s[a])) a++;
    while (n > a && isspace((unsigned char)s[n - 1])) n--;
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
    return s;
}

static int load_items(const char *path, long limit, item **out, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    ssize_t len;
    long lineno = 0;
    item *items = NULL;
    int ret = -1;

    if (f == NULL) {
        fprintf(stderr, "dllm eval: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        if (limit >= 0 && (long)n >= limit) break;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        item it = {0};
        if (o != NULL) {
            it.id = dup_field(o, "id");
            it.task = dup_field(o, "task");
            it.system = dup_field(o, "system");
            it.user = dup_field(o, "user");
            it.answer = dup_field(o, "answer");
        }
        cJSON_Delete(o);
        if (it.id == NULL || it.task == NULL || it.user == NULL || it.answer == NULL) {
            fprintf(stderr, "dllm eval: %s:%ld: not a task item (a JSON object with string "
                            "fields id, task, user, answer and optional system)\n", path, lineno);
            free(it.id);
            free(it.task);
            free(it.system);
            free(it.user);
            free(it.answer);
            goto out;
        }
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 64;
            item *ni = realloc(items, alloc * sizeof *ni);
            if (ni == NULL) goto out;
            items = ni;
        }
        items[n++] = it;
    }
    if (n == 0) {
        fprintf(stderr, "dllm eval: %s has no items\n", path);
        goto out;
    }
    ret = 0;
out:
    free(line);
    fclose(f);
    *out = items;
    *n_out = n;
    return ret;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int default_tasks(char *buf, size_t n)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    if (snprintf(buf, n, "%s/../../ops/tasks/eval_split.jsonl", exe) >= (int)n) return -1;
    return access(buf, R_OK) == 0 ? 0 : -1;
}

int cli_eval(int argc, char **argv)
{
    const char *model_flag = NULL, *tasks = NULL, *out_path = NULL;
    dllm_engine_config ec;
    dllm_gen_params gp;
    unsigned cache_seen = 0;
    int json = 0, c, ret = CLI_FAIL;
    int64_t limit = -1, batch = 1, n_slots = 0;
    double *t_start = NULL, first_hit = 0, first_miss = 0, first_none = 0, tot_hit = 0,
           tot_miss = 0, tot_none = 0;
    int *first_seen = NULL;
    long n_hit = 0, n_miss = 0, n_none = 0;
    double rows_q = 0, rows_mlp = 0, rows_all = 0, cached_tokens = 0;
    char model_dir[4096], tasks_buf[4200], err[1024];
    dllm_engine *e = NULL;
    item *items = NULL;
    size_t n_items = 0;
    dllm_seq **seqs = NULL;
    size_t *slot_item = NULL;
    task_stat stats[64];
    size_t n_stats = 0;
    FILE *out = NULL;

    cli_engine_config_init(&ec);
    dllm_gen_params_init(&gp);
    gp.gen_length = 32; /* the task suite's answers fit in 32 tokens */
    gp.steps = 32;
    gp.block_length = 8;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int g = cli_gen_flag("eval", c, optarg, &ec, &gp, &model_flag, &cache_seen);
        if (g < 0) goto usage_err;
        if (g > 0) continue;
        switch (c) {
        case OPT_TASKS: tasks = optarg; break;
        case OPT_LIMIT:
            if (cli_parse_i64("eval", "--limit", optarg, 1, INT32_MAX, &limit)) goto usage_err;
            break;
        case OPT_BATCH:
            if (cli_parse_i64("eval", "--batch", optarg, 1, 4096, &batch)) goto usage_err;
            break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_SLOTS:
            if (cli_parse_i64("eval", "--prompt-slots", optarg, 0, 65536, &n_slots))
                goto usage_err;
            ec.prompt_slots = (size_t)n_slots;
            break;
        case OPT_JSON: json = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            fprintf(stderr, "dllm eval: unknown or incomplete option '%s'\n", argv[optind - 1]);
            goto usage_err;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dllm eval: unexpected argument '%s'\n", argv[optind]);
        goto usage_err;
    }
    if (cli_gen_check("eval", &gp, cache_seen)) goto usage_err;
    if (dllm_gen_params_validate(&gp, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm eval: %s\n", err);
        goto usage_err;
    }
    if (tasks == NULL) {
        if (default_tasks(tasks_buf, sizeof tasks_buf)) {
            fprintf(stderr, "dllm eval: no task file found; hint: pass --tasks FILE\n");
            goto out;
        }
        tasks = tasks_buf;
    }
    if (load_items(tasks, (long)limit, &items, &n_items)) goto out;
    if (cli_resolve_model(model_flag, model_dir, sizeof model_dir)) goto out;
    ec.model_dir = model_dir;
    if (dllm_engine_new(&ec, &e, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm eval: %s\n", err);
        goto out;
    }
    if (out_path && (out = fopen(out_path, "w")) == NULL) {
        fprintf(stderr, "dllm eval: cannot write %s: %s\n", out_path, strerror(errno));
        goto out;
    }
    seqs = calloc((size_t)batch, sizeof *seqs);
    slot_item = calloc((size_t)batch, sizeof *slot_item);
    t_start = calloc((size_t)batch, sizeof *t_start);
    first_seen = calloc((size_t)batch, sizeof *first_seen);
    if (seqs == NULL || slot_item == NULL || t_start == NULL || first_seen == NULL) goto out;
    dllm_tokenizer_specials sp;
    dllm_tokenizer_get_specials(dllm_engine_tokenizer(e), &sp);

    const dllm_tokenizer *tk = dllm_engine_tokenizer(e);
    dllm_model_info mi;
    dllm_engine_model_info(e, &mi);
    size_t next = 0, done = 0;
    double flops = 0, flops_none = 0, forwards = 0, steps = 0, completion = 0;
    size_t feature_bytes = 0;
    double t0 = now_s();
    while (done < n_items) {
        /* fill free slots, then step all of them once */
        size_t active = 0;
        for (size_t s = 0; s < (size_t)batch; s++) {
            if (seqs[s] == NULL && next < n_items) {
                int32_t *ids = NULL;
                size_t n_ids = 0;
                item *it = &items[next];
                if (dllm_tokenizer_apply_chat(tk, it->system, it->user, &ids, &n_ids, err,
                                              sizeof err) != DLLM_OK) {
                    fprintf(stderr, "dllm eval: item %s: %s\n", it->id, err);
                    goto out;
                }
                size_t fb = dllm_seq_bytes(e, n_ids, &gp);
                if (fb > feature_bytes) feature_bytes = fb;
                dllm_gen_params ip = gp;
                /* the system turn (through its <|eot_id|>) is the slot's prefix */
                for (size_t q = 0; n_slots > 0 && it->system && sp.eot >= 0 && q < n_ids; q++)
                    if (ids[q] == sp.eot) {
                        ip.prefix_len = (int32_t)(q + 1);
                        break;
                    }
                t_start[s] = now_s(); /* the build (a slot miss) happens in dllm_seq_new */
                first_seen[s] = 0;
                dllm_status rc = dllm_seq_new(e, ids, n_ids, &ip, &seqs[s]);
                free(ids);
                if (rc != DLLM_OK) {
                    fprintf(stderr, "dllm eval: item %s: %s\n", it->id,
                            dllm_engine_last_error(e));
                    goto out;
                }
                slot_item[s] = next++;
            }
            if (seqs[s] != NULL) active++;
        }
        /* compact the active sequences for one batched step */
        dllm_seq *run[4096];
        size_t k = 0;
        for (size_t s = 0; s < (size_t)batch; s++)
            if (seqs[s]) run[k++] = seqs[s];
        if (dllm_engine_step(e, run, k) != DLLM_OK) {
            fprintf(stderr, "dllm eval: %s\n", dllm_engine_last_error(e));
            goto out;
        }
        (void)active;
        double t_step = now_s();
        for (size_t s = 0; s < (size_t)batch; s++) {
            if (seqs[s] != NULL && !first_seen[s]) {
                first_seen[s] = 1;
                items[slot_item[s]].first_ms = (t_step - t_start[s]) * 1e3;
            }
            if (seqs[s] == NULL || !dllm_seq_finished(seqs[s])) continue;
            item *it = &items[slot_item[s]];
            size_t n_out, tl;
            const int32_t *toks = dllm_seq_tokens(seqs[s], &n_out);
            int at = 0;
            while ((size_t)at < n_out && toks[at] != mi.eos_id && toks[at] != mi.eot_id) at++;
            it->answer_tokens = at;
            dllm_seq_stats st;
            dllm_seq_stats_get(seqs[s], &st);
            flops += st.flops;
            flops_none += st.flops_none;
            forwards += st.forwards;
            steps += st.steps;
            completion += st.completion_tokens;
            rows_q += (double)st.rows_q;
            rows_mlp += (double)st.rows_mlp;
            rows_all += (double)st.rows_all;
            cached_tokens += st.cached_prompt_tokens;
            {
                double ims = (now_s() - t_start[s]) * 1e3, fms = it->first_ms;
                if (st.cached_prompt_tokens > 0) {
                    n_hit++;
                    first_hit += fms;
                    tot_hit += ims;
                } else if (st.slot_prefix_tokens > 0) {
                    n_miss++;
                    first_miss += fms;
                    tot_miss += ims;
                } else {
                    n_none++;
                    first_none += fms;
                    tot_none += ims;
                }
            }
            it->tokens = malloc(n_out * sizeof *it->tokens);
            if (it->tokens == NULL) goto out;
            memcpy(it->tokens, toks, n_out * sizeof *it->tokens);
            it->n_tokens = n_out;
            if (dllm_tokenizer_decode(tk, toks, n_out, 1, &it->prediction, &tl, err,
                                      sizeof err) != DLLM_OK) {
                fprintf(stderr, "dllm eval: item %s: cannot decode: %s\n", it->id, err);
                goto out;
            }
            strip(it->prediction);
            char *ans = strdup(it->answer);
            if (ans == NULL) goto out;
            it->correct = strcmp(it->prediction, strip(ans)) == 0;
            free(ans);
            dllm_seq_free(seqs[s]);
            seqs[s] = NULL;
            done++;
            if (!json && isatty(STDERR_FILENO))
                fprintf(stderr, "\r%zu/%zu items", done, n_items);
        }
    }
    double elapsed = now_s() - t0;
    if (!json && isatty(STDERR_FILENO)) fputc('\n', stderr);

    /* per-task accuracy, in order of first appearance */
    int correct = 0;
    long answer_tokens = 0;
    for (size_t i = 0; i < n_items; i++) {
        size_t t;
        for (t = 0; t < n_stats; t++)
            if (strcmp(stats[t].name, items[i].task) == 0) break;
        if (t == n_stats && n_stats < sizeof stats / sizeof stats[0]) {
            snprintf(stats[n_stats].name, sizeof stats[n_stats].name, "%s", items[i].task);
            stats[n_stats].items = stats[n_stats].correct = 0;
            n_stats++;
        }
        if (t < n_stats) {
            stats[t].items++;
            stats[t].correct += items[i].correct;
        }
        correct += items[i].correct;
        answer_tokens += items[i].answer_tokens;
        if (out) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", items[i].id);
            cJSON_AddStringToObject(o, "task", items[i].task);
            cJSON_AddStringToObject(o, "prediction", items[i].prediction);
            cJSON_AddStringToObject(o, "answer", items[i].answer);
            cJSON_AddBoolToObject(o, "correct", items[i].correct);
            cJSON *ta = cJSON_CreateArray();
            for (size_t j = 0; j < items[i].n_tokens; j++)
                cJSON_AddItemToArray(ta, cJSON_CreateNumber(items[i].tokens[j]));
            cJSON_AddItemToObject(o, "token_ids", ta);
            char *s = cJSON_PrintUnformatted(o);
            if (s) fprintf(out, "%s\n", s);
            free(s);
            cJSON_Delete(o);
        }
    }
    double tps = elapsed > 0 ? (double)n_items * gp.gen_length / elapsed : 0;
    double acc = (double)correct / (double)n_items;
    if (json) {
        cJSON *root = cJSON_CreateObject(), *tj = cJSON_CreateObject(), *pj = cJSON_CreateObject();
        cJSON_AddNumberToObject(root, "accuracy", acc);
        cJSON_AddNumberToObject(root, "items", (double)n_items);
        cJSON_AddNumberToObject(root, "correct", correct);
        for (size_t t = 0; t < n_stats; t++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "items", stats[t].items);
            cJSON_AddNumberToObject(o, "correct", stats[t].correct);
            cJSON_AddNumberToObject(o, "accuracy", (double)stats[t].correct / stats[t].items);
            cJSON_AddItemToObject(tj, stats[t].name, o);
        }
        cJSON_AddItemToObject(root, "tasks", tj);
        cJSON_AddNumberToObject(root, "elapsed_s", elapsed);
        cJSON_AddNumberToObject(root, "tokens_per_s", tps);
        cJSON_AddNumberToObject(root, "answer_tokens", (double)answer_tokens);
        cJSON_AddNumberToObject(root, "flops", flops);
        cJSON_AddNumberToObject(root, "flops_none", flops_none);
        cJSON_AddNumberToObject(root, "flops_ratio", flops > 0 ? flops_none / flops : 0.0);
        cJSON_AddNumberToObject(root, "forwards", forwards);
        cJSON_AddNumberToObject(root, "steps", steps);
        cJSON_AddNumberToObject(root, "completion_tokens", completion);
        /* decoded positions per model forward (gen_length per item; with early stop the
         * EOS fill after the answer counts too) */
        cJSON_AddNumberToObject(root, "tokens_per_forward",
                                forwards > 0 ? (double)n_items * gp.gen_length / forwards : 0);
        cJSON_AddNumberToObject(root, "flops_per_output_token",
                                completion > 0 ? flops / completion : 0);
        cJSON_AddNumberToObject(root, "feature_bytes_per_seq", (double)feature_bytes);
        cJSON_AddNumberToObject(root, "rows_q", rows_q);
        cJSON_AddNumberToObject(root, "rows_mlp", rows_mlp);
        cJSON_AddNumberToObject(root, "rows_all", rows_all);
        {
            /* per-item latency from dllm_seq_new (where a slot is built) to the end of its
             * first step and to its end; meaningful with --batch 1 */
            cJSON *lj = cJSON_CreateObject();
            const struct { const char *name; long n; double first, total; } g[] = {
                {"slot_hit", n_hit, first_hit, tot_hit},
                {"slot_built", n_miss, first_miss, tot_miss},
                {"no_slot", n_none, first_none, tot_none}};
            for (size_t q = 0; q < 3; q++) {
                if (g[q].n == 0) continue;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "items", (double)g[q].n);
                cJSON_AddNumberToObject(o, "first_step_ms", g[q].first / (double)g[q].n);
                cJSON_AddNumberToObject(o, "item_ms", g[q].total / (double)g[q].n);
                cJSON_AddItemToObject(lj, g[q].name, o);
            }
            cJSON_AddItemToObject(root, "latency", lj);
        }
        if (n_slots > 0) {
            dllm_slot_stats ss;
            cJSON *sj = cJSON_CreateObject();
            dllm_engine_slot_stats(e, &ss);
            cJSON_AddNumberToObject(sj, "slots", (double)ss.slots);
            cJSON_AddNumberToObject(sj, "hits", (double)ss.hits);
            cJSON_AddNumberToObject(sj, "builds", (double)ss.builds);
            cJSON_AddNumberToObject(sj, "query_tokens", (double)ss.query_tokens);
            cJSON_AddNumberToObject(sj, "hit_tokens", (double)ss.hit_tokens);
            cJSON_AddNumberToObject(sj, "cached_prompt_tokens", cached_tokens);
            cJSON_AddItemToObject(root, "prompt_slots", sj);
        }
        cJSON_AddNumberToObject(pj, "gen_length", gp.gen_length);
        cJSON_AddNumberToObject(pj, "steps", gp.steps);
        cJSON_AddNumberToObject(pj, "block_length", gp.block_length);
        cJSON_AddNumberToObject(pj, "temperature", gp.temperature);
        cJSON_AddStringToObject(pj, "remasking", dllm_remasking_name(gp.remasking));
        cJSON_AddStringToObject(pj, "cache", dllm_cache_policy_name(gp.cache));
        cJSON_AddNumberToObject(pj, "threshold", gp.threshold);
        cJSON_AddNumberToObject(pj, "factor", gp.factor);
        cJSON_AddBoolToObject(pj, "early_stop", gp.early_stop);
        if (gp.cache == DLLM_CACHE_DLLM) {
            cJSON_AddNumberToObject(pj, "kp", gp.cache_params.kp);
            cJSON_AddNumberToObject(pj, "kr", gp.cache_params.kr);
            cJSON_AddNumberToObject(pj, "rho", gp.cache_params.rho);
            cJSON_AddBoolToObject(pj, "layer0_refresh", gp.cache_params.layer0_refresh);
        }
        cJSON_AddNumberToObject(pj, "batch", (double)batch);
        cJSON_AddItemToObject(root, "params", pj);
        cJSON_AddStringToObject(root, "model", model_dir);
        cJSON_AddStringToObject(root, "tasks_file", tasks);
        char *s = cJSON_PrintUnformatted(root);
        if (s) puts(s);
        free(s);
        cJSON_Delete(root);
    } else {
        printf("%-12s %6s %8s %9s\n", "task", "items", "correct", "accuracy");
        for (size_t t = 0; t < n_stats; t++)
            printf("%-12s %6d %8d %8.1f%%\n", stats[t].name, stats[t].items, stats[t].correct,
                   100.0 * stats[t].correct / stats[t].items);
        printf("%-12s %6zu %8d %8.1f%%\n", "overall", n_items, correct, 100.0 * acc);
        printf("elapsed %.2f s, %.1f generated tokens/s (gen_length %d, steps %d, block %d, "
               "batch %lld, cache %s), FLOPs %.3g (%.2fx fewer than without a cache)\n",
               elapsed, tps, (int)gp.gen_length, (int)gp.steps, (int)gp.block_length,
               (long long)batch, dllm_cache_policy_name(gp.cache), flops,
               flops > 0 ? flops_none / flops : 0.0);
    }
    ret = CLI_OK;
    goto out;
usage_err:
    fputc('\n', stderr);
    usage(stderr);
    ret = CLI_USAGE;
out:
    if (out) fclose(out);
    for (size_t s = 0; seqs && s < (size_t)batch; s++) dllm_seq_free(seqs[s]);
    free(seqs);
    free(slot_item);
    free(t_start);
    free(first_seen);
    for (size_t i = 0; i < n_items; i++) {
        free(items[i].id);
        free(items[i].task);
        free(items[i].system);
        free(items[i].user);
        free(items[i].answer);
        free(items[i].prediction);
        free(items[i].tokens);
    }
    free(items);
    dllm_engine_free(e);
    return ret;
}
