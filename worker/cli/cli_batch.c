/* cli_batch.c -- `dllm batch`: offline generation, JSONL in, JSONL out, through the
 * continuous-batching scheduler.
 *
 * DESIGN
 * ------
 * - Input: one request per line, a JSON object: "id" (string or number; default
 *   "line-N"), the prompt as "prompt" (user text: the chat template is applied, with an
 *   optional "system") or "prompt_ids" (token ids, used as they are), and any generation
 *   parameter by its flag name with underscores ("gen_length", "steps", "block_length",
 *   "temperature", "seed", "remasking", "cfg_scale", "cache", "kp", "kr", "rho",
 *   "layer0_refresh", "cfg_interval", "logits_eos_inf", "confidence_eos_eot_inf");
 *   missing parameters take the command line's values.
 * - Output: one line per request, in completion order: {"id", "text", "token_ids",
 *   "finish_reason" ("eos" when the answer ended with EOS/EOT inside gen_length, else
 *   "length"), "usage" {prompt_tokens, completion_tokens (up to, excluding, the first
 *   EOS/EOT)}, "timings" {queue_ms, first_step_ms, total_ms}, "steps", "forwards"} or
 *   {"id", "error": {"code", "message"}} for that line alone (malformed JSON, bad
 *   parameters, a prompt over the limit...). Lines are flushed as they are written.
 * - Resumable: ids already present in the output file are skipped, and new lines are
 *   appended, so an interrupted run continues where it stopped.
 * - Progress on a terminal: a bar with requests done/total, generated tokens/s and ETA;
 *   otherwise a plain line every 10% (stderr).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dllm batch --in FILE --out FILE [options]\n\n"
               "  --in FILE               JSONL requests (see the README for the fields)\n"
               "  --out FILE              JSONL results; existing ids are skipped (resume)\n"
               "  --concurrency N         sequences stepped together (default 8)\n"
               "  --pool-mb N             memory pool for the feature caches (default: none)\n");
    cli_gen_usage(f);
    fprintf(f, "  -h, --help              this help\n");
}

enum { OPT_IN = CLI_OPT_FIRST_LOCAL, OPT_OUT, OPT_CONC, OPT_POOL };

static const struct option opts[] = {
    CLI_GEN_OPTIONS,
    {"in", required_argument, 0, OPT_IN},
    {"out", required_argument, 0, OPT_OUT},
    {"concurrency", required_argument, 0, OPT_CONC},
    {"pool-mb", required_argument, 0, OPT_POOL},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

typedef struct line_req {
    char *id;
    int32_t *ids;
    size_t n_ids;
    dllm_gen_params p;
} line_req;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads an integer field into *dst; returns -1 with a message on a wrong type. */
static int get_int(const cJSON *o, const char *k, int64_t lo, int64_t hi, int32_t *dst,
                   char *err, size_t n)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (v == NULL) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        snprintf(err, n, "\"%s\" must be an integer in [%lld, %lld]", k,
                 (long long)lo, (long long)hi);
        return -1;
    }
    *dst = (int32_t)v->valuedouble;
    return 0;
}

static int get_num(const cJSON *o, const char *k, double *dst, char *err, size_t n)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (v == NULL) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        snprintf(err, n, "\"%s\" must be a number", k);
        return -1;
    }
    *dst = v->valuedouble;
    return 0;
}

static int get_bool(const cJSON *o, const char *k, int *dst, char *err, size_t n)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (v == NULL) return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(err, n, "\"%s\" must be true or false", k);
        return -1;
    }
    *dst = cJSON_IsTrue(v);
    return 0;
}

/* Parses one input line into r (prompt encoded with tk). Returns 0, or -1 with err set. */
static int parse_line(const char *line, size_t len, long lineno, const dllm_tokenizer *tk,
                      const dllm_gen_params *defaults, line_req *r, char *err, size_t n)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    int ret = -1;
    double d;
    char idbuf[64];

    memset(r, 0, sizeof *r);
    r->p = *defaults;
    snprintf(idbuf, sizeof idbuf, "line-%ld", lineno);
    if (o == NULL || !cJSON_IsObject(o)) {
        snprintf(err, n, "line %ld is not a JSON object", lineno);
        r->id = strdup(idbuf);
        goto out;
    }
    const cJSON *id = cJSON_GetObjectItem(o, "id");
    if (cJSON_IsString(id))
        r->id = strdup(id->valuestring);
    else if (cJSON_IsNumber(id)) {
        snprintf(idbuf, sizeof idbuf, "%.17g", id->valuedouble);
        r->id = strdup(idbuf);
    } else
        r->id = strdup(idbuf);
    if (id != NULL && !cJSON_IsString(id) && !cJSON_IsNumber(id)) {
        snprintf(err, n, "\"id\" must be a string or a number");
        goto out;
    }
    if (get_int(o, "gen_length", 1, 1 << 20, &r->p.gen_length, err, n) ||
        get_int(o, "steps", 1, 1 << 20, &r->p.steps, err, n) ||
        get_int(o, "block_length", 1, 1 << 20, &r->p.block_length, err, n) ||
        get_int(o, "kp", 1, INT32_MAX, &r->p.cache_params.kp, err, n) ||
        get_int(o, "kr", 1, INT32_MAX, &r->p.cache_params.kr, err, n) ||
        get_int(o, "cfg_interval", 0, INT32_MAX, &r->p.cache_params.cfg_interval, err, n) ||
        get_bool(o, "logits_eos_inf", &r->p.logits_eos_inf, err, n) ||
        get_bool(o, "confidence_eos_eot_inf", &r->p.confidence_eos_eot_inf, err, n) ||
        get_bool(o, "layer0_refresh", &r->p.cache_params.layer0_refresh, err, n) ||
        get_bool(o, "early_stop", &r->p.early_stop, err, n))
        goto out;
    d = r->p.threshold;
    if (get_num(o, "threshold", &d, err, n)) goto out;
    r->p.threshold = (float)d;
    d = r->p.factor;
    if (get_num(o, "factor", &d, err, n)) goto out;
    r->p.factor = (float)d;
    d = r->p.temperature;
    if (get_num(o, "temperature", &d, err, n)) goto out;
    r->p.temperature = (float)d;
    d = r->p.cfg_scale;
    if (get_num(o, "cfg_scale", &d, err, n)) goto out;
    r->p.cfg_scale = (float)d;
    if (get_num(o, "rho", &r->p.cache_params.rho, err, n)) goto out;
    d = (double)r->p.seed;
    if (get_num(o, "seed", &d, err, n)) goto out;
    if (d < 0 || d != floor(d) || d >= 18446744073709551616.0) {
        snprintf(err, n, "\"seed\" must be a non-negative integer");
        goto out;
    }
    r->p.seed = (uint64_t)d;
    const cJSON *rm = cJSON_GetObjectItem(o, "remasking");
    if (rm && (!cJSON_IsString(rm) || dllm_remasking_parse(rm->valuestring, &r->p.remasking))) {
        snprintf(err, n, "\"remasking\" must be \"low_confidence\" or \"random\"");
        goto out;
    }
    const cJSON *ca = cJSON_GetObjectItem(o, "cache");
    if (ca && (!cJSON_IsString(ca) || dllm_cache_policy_parse(ca->valuestring, &r->p.cache))) {
        snprintf(err, n, "\"cache\" must be \"none\", \"dllm\", \"prefix\" or \"dual\"");
        goto out;
    }
    if (dllm_gen_params_validate(&r->p, err, n) != DLLM_OK) goto out;

    const cJSON *pr = cJSON_GetObjectItem(o, "prompt"), *pi = cJSON_GetObjectItem(o, "prompt_ids");
    const cJSON *sy = cJSON_GetObjectItem(o, "system");
    if ((pr == NULL) == (pi == NULL)) {
        snprintf(err, n, "give exactly one of \"prompt\" (text) or \"prompt_ids\"");
        goto out;
    }
    if (sy && !cJSON_IsString(sy)) {
        snprintf(err, n, "\"system\" must be a string");
        goto out;
    }
    if (pr) {
        if (!cJSON_IsString(pr)) {
            snprintf(err, n, "\"prompt\" must be a string");
            goto out;
        }
        if (dllm_tokenizer_apply_chat(tk, sy ? sy->valuestring : NULL, pr->valuestring, &r->ids,
                                      &r->n_ids, err, n) != DLLM_OK)
            goto out;
    } else {
        int cnt = cJSON_GetArraySize(pi);
        if (!cJSON_IsArray(pi) || cnt == 0) {
            snprintf(err, n, "\"prompt_ids\" must be a non-empty array of token ids");
            goto out;
        }
        r->ids = malloc((size_t)cnt * sizeof *r->ids);
        if (r->ids == NULL) goto out;
        for (int i = 0; i < cnt; i++) {
            const cJSON *v = cJSON_GetArrayItem(pi, i);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > INT32_MAX ||
                v->valuedouble != floor(v->valuedouble)) {
                snprintf(err, n, "\"prompt_ids\"[%d] is not a token id", i);
                goto out;
            }
            r->ids[i] = (int32_t)v->valuedouble;
        }
        r->n_ids = (size_t)cnt;
    }
    ret = 0;
out:
    cJSON_Delete(o);
    return ret;
}

static void write_line(FILE *out, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        fprintf(out, "%s\n", s);
        fflush(out);
    }
    free(s);
}

static void write_error(FILE *out, const char *id, const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddItemToObject(o, "error", e);
    write_line(out, o);
    cJSON_Delete(o);
}

/* Ids present in an existing output file (for resuming). */
static char **done_ids(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, **v = NULL;
    size_t cap = 0, cnt = 0, alloc = 0;
    ssize_t len;
    *n = 0;
    if (f == NULL) return NULL;
    while ((len = getline(&line, &cap, f)) != -1) {
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *id = o ? cJSON_GetObjectItem(o, "id") : NULL;
        if (cJSON_IsString(id)) {
            if (cnt == alloc) {
                alloc = alloc ? 2 * alloc : 64;
                char **nv = realloc(v, alloc * sizeof *nv);
                if (nv == NULL) {
                    cJSON_Delete(o);
                    break;
                }
                v = nv;
            }
            v[cnt++] = strdup(id->valuestring);
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    *n = cnt;
    return v;
}

static void progress(size_t done, size_t total, double tokens, double t0, int tty, int *last_pct)
{
    double el = now_s() - t0, tps = el > 0 ? tokens / el : 0;
    double eta = done > 0 ? el / (double)done * (double)(total - done) : 0;
    if (tty) {
        int w = 30, fill = total ? (int)(w * done / total) : w;
        fprintf(stderr, "\r[%.*s%*s] %zu/%zu  %.1f tok/s  ETA %.0fs ", fill,
                "##############################", w - fill, "", done, total, tps, eta);
        if (done == total) fputc('\n', stderr);
    } else {
        int pct = total ? (int)(100 * done / total) : 100;
        if (pct / 10 != *last_pct / 10 || done == total) {
            fprintf(stderr, "dllm batch: %zu/%zu requests (%d%%), %.1f tok/s, ETA %.0fs\n", done,
                    total, pct, tps, eta);
            *last_pct = pct;
        }
    }
}

int cli_batch(int argc, char **argv)
{
    const char *model_flag = NULL, *in_path = NULL, *out_path = NULL;
    dllm_engine_config ec;
    dllm_gen_params gp;
    unsigned cache_seen = 0;
    int c, ret = CLI_FAIL;
    int64_t conc = 8, pool_mb = 0;
    char model_dir[4096], err[1024];
    dllm_engine *e = NULL;
    dllm_sched *s = NULL;
    FILE *in = NULL, *out = NULL;
    line_req *reqs = NULL;
    size_t n_reqs = 0, alloc = 0, n_done_ids = 0;
    char **done = NULL, *line = NULL;

    cli_engine_config_init(&ec);
    dllm_gen_params_init(&gp);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int g = cli_gen_flag("batch", c, optarg, &ec, &gp, &model_flag, &cache_seen);
        if (g < 0) goto usage_err;
        if (g > 0) continue;
        switch (c) {
        case OPT_IN: in_path = optarg; break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_CONC:
            if (cli_parse_i64("batch", "--concurrency", optarg, 1, 4096, &conc)) goto usage_err;
            break;
        case OPT_POOL:
            if (cli_parse_i64("batch", "--pool-mb", optarg, 1, 1 << 24, &pool_mb)) goto usage_err;
            break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            fprintf(stderr, "dllm batch: unknown or incomplete option '%s'\n", argv[optind - 1]);
            goto usage_err;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dllm batch: unexpected argument '%s'\n", argv[optind]);
        goto usage_err;
    }
    if (in_path == NULL || out_path == NULL) {
        fprintf(stderr, "dllm batch: --in and --out are required\n");
        goto usage_err;
    }
    if (cli_gen_check("batch", &gp, cache_seen)) goto usage_err;
    if (dllm_gen_params_validate(&gp, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm batch: %s\n", err);
        goto usage_err;
    }
    if ((in = fopen(in_path, "r")) == NULL) {
        fprintf(stderr, "dllm batch: cannot open %s: %s\n", in_path, strerror(errno));
        goto out;
    }
    if (cli_resolve_model(model_flag, model_dir, sizeof model_dir)) goto out;
    ec.model_dir = model_dir;
    ec.pool_bytes = (size_t)pool_mb << 20;
    if (dllm_engine_new(&ec, &e, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm batch: %s\n", err);
        goto out;
    }
    done = done_ids(out_path, &n_done_ids);
    if ((out = fopen(out_path, "a")) == NULL) {
        fprintf(stderr, "dllm batch: cannot write %s: %s\n", out_path, strerror(errno));
        goto out;
    }
    dllm_sched_config sc;
    dllm_sched_config_init(&sc);
    sc.max_running = (size_t)conc;
    sc.max_queue = (size_t)conc * 2;
    if (dllm_sched_new(e, &sc, &s, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm batch: %s\n", err);
        goto out;
    }

    /* read and validate every line; malformed ones get their error line now */
    const dllm_tokenizer *tk = dllm_engine_tokenizer(e);
    size_t cap = 0, skipped = 0, bad = 0;
    ssize_t len;
    long lineno = 0;
    while ((len = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        line_req r;
        int ok = parse_line(line, (size_t)len, lineno, tk, &gp, &r, err, sizeof err) == 0;
        int seen = 0;
        for (size_t i = 0; r.id && i < n_done_ids; i++) seen |= strcmp(done[i], r.id) == 0;
        if (seen) {
            skipped++;
            free(r.id);
            free(r.ids);
            continue;
        }
        if (!ok) {
            write_error(out, r.id ? r.id : "?", "INVALID_ARGUMENT", err);
            bad++;
            free(r.id);
            free(r.ids);
            continue;
        }
        if (n_reqs == alloc) {
            alloc = alloc ? 2 * alloc : 64;
            line_req *nr = realloc(reqs, alloc * sizeof *nr);
            if (nr == NULL) goto out;
            reqs = nr;
        }
        reqs[n_reqs++] = r;
    }
    if (skipped) fprintf(stderr, "dllm batch: %zu requests already in %s, skipped\n", skipped,
                         out_path);

    dllm_model_info mi;
    dllm_engine_model_info(e, &mi);
    size_t next = 0, finished = 0;
    double t0 = now_s(), tokens = 0;
    int tty = isatty(STDERR_FILENO), last_pct = -10;
    while (finished < n_reqs) {
        while (next < n_reqs) { /* submit until the queue is full */
            dllm_request rq = {next, reqs[next].ids, reqs[next].n_ids, reqs[next].p};
            dllm_status rc = dllm_sched_submit(s, &rq, NULL, err, sizeof err);
            if (rc == DLLM_E_BUSY) break;
            if (rc != DLLM_OK) {
                write_error(out, reqs[next].id, "INVALID_ARGUMENT", err);
                finished++;
            }
            next++;
        }
        if (dllm_sched_step(s, NULL) != DLLM_OK)
            fprintf(stderr, "dllm batch: a step failed: %s\n", dllm_engine_last_error(e));
        dllm_result *r;
        while (dllm_sched_poll(s, &r)) {
            line_req *q = &reqs[r->tag];
            if (r->status != DLLM_OK) {
                write_error(out, q->id, dllm_status_str(r->status), r->error);
            } else {
                size_t at = 0, tl;
                char *text = NULL;
                while (at < r->n_tokens && r->tokens[at] != mi.eos_id && r->tokens[at] != mi.eot_id)
                    at++;
                if (dllm_tokenizer_decode(tk, r->tokens, r->n_tokens, 1, &text, &tl, err,
                                          sizeof err) != DLLM_OK) {
                    write_error(out, q->id, "INTERNAL", err);
                } else {
                    cJSON *o = cJSON_CreateObject(), *u = cJSON_CreateObject();
                    cJSON *t = cJSON_CreateObject(), *a = cJSON_CreateArray();
                    cJSON_AddStringToObject(o, "id", q->id);
                    cJSON_AddStringToObject(o, "text", text);
                    for (size_t i = 0; i < r->n_tokens; i++)
                        cJSON_AddItemToArray(a, cJSON_CreateNumber(r->tokens[i]));
                    cJSON_AddItemToObject(o, "token_ids", a);
                    cJSON_AddStringToObject(o, "finish_reason", at < r->n_tokens ? "eos" : "length");
                    cJSON_AddNumberToObject(u, "prompt_tokens", (double)q->n_ids);
                    cJSON_AddNumberToObject(u, "completion_tokens", (double)at);
                    cJSON_AddItemToObject(o, "usage", u);
                    cJSON_AddNumberToObject(t, "queue_ms", r->queue_ms);
                    cJSON_AddNumberToObject(t, "first_step_ms", r->first_step_ms);
                    cJSON_AddNumberToObject(t, "total_ms", r->total_ms);
                    cJSON_AddItemToObject(o, "timings", t);
                    cJSON_AddNumberToObject(o, "steps", r->stats.steps);
                    cJSON_AddNumberToObject(o, "forwards", r->stats.forwards);
                    write_line(out, o);
                    cJSON_Delete(o);
                    tokens += (double)r->n_tokens;
                }
                free(text);
            }
            finished++;
            dllm_result_free(r);
            progress(finished, n_reqs, tokens, t0, tty, &last_pct);
        }
    }
    fprintf(stderr, "dllm batch: %zu requests done, %zu invalid lines, %.2f s\n", n_reqs, bad,
            now_s() - t0);
    ret = CLI_OK;
    goto out;
usage_err:
    fputc('\n', stderr);
    usage(stderr);
    ret = CLI_USAGE;
out:
    free(line);
    if (in) fclose(in);
    if (out) fclose(out);
    for (size_t i = 0; i < n_reqs; i++) {
        free(reqs[i].id);
        free(reqs[i].ids);
    }
    free(reqs);
    for (size_t i = 0; i < n_done_ids; i++) free(done[i]);
    free(done);
    dllm_sched_free(s);
    dllm_engine_free(e);
    return ret;
}
