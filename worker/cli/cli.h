/* cli.h -- shared pieces of the `dllm` command-line tool.
 *
 * Each subcommand is one file (cli_<name>.c) exporting `int cli_<name>(int argc, char **argv)`
 * that returns the process exit status: 0 success, 1 a runtime failure (bad file, failed
 * generation), 2 a usage error (unknown flag, malformed value), which always prints the
 * subcommand's usage to stderr.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_CLI_H
#define DLLM_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <getopt.h>

#include "dllm/dllm.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cli_generate(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_bench(int argc, char **argv);
#ifdef DLLM_HAVE_WORKER
int cli_submit(int argc, char **argv); /* worker/cli/cli_submit.c (DLLM_WORKER builds) */
int cli_loadgen(int argc, char **argv); /* worker/cli/cli_loadgen.c (DLLM_WORKER builds) */

/* One GenerateRequest to build (borrowed strings). Exactly one of prompt and ids. */
typedef struct cli_request {
    const char *request_id, *prompt, *system;
    int raw;
    int32_t *ids;
    size_t n_ids;
    dllm_gen_params gp;       /* every parameter is sent explicitly */
    const char *model;        /* NULL: absent */
    const char *reply_topic;  /* NULL: absent */
    int64_t deadline_unix_ms; /* 0: none */
    char **meta;              /* "k=v" (temporarily split while packing) */
    size_t n_meta;
    int use_prompt_slot, pin; /* prompt-slot options (docs/prompt-cache.md) */
    int32_t prefix_tokens;    /* cache.prefix_tokens; 0: absent (the system turn) */
    const char *cache_salt;   /* NULL: absent */
} cli_request;

/* Packs r as a dllm.v1.GenerateRequest into a malloc'd buffer (*buf, *n; caller frees).
 * 0, or -1 when out of memory. */
int cli_pack_request(const cli_request *r, uint8_t **buf, size_t *n);

/* librdkafka helpers shared by submit and loadgen (messages printed; 0 or -1). */
struct rd_kafka_conf_s;
struct rd_kafka_s;
int cli_kafka_props(struct rd_kafka_conf_s *conf, char **props, size_t n); /* "k=v" */
/* Assigns every partition of topic at its current high watermark: no reply produced after
 * this call can be missed, and no group join is paid. */
int cli_kafka_assign_end(struct rd_kafka_s *cons, const char *topic);
#endif
int cli_batch(int argc, char **argv);

/* ---- flags shared by every command that generates (generate, eval, ...) ---- */

enum {
    CLI_OPT_MODEL = 256, CLI_OPT_BACKEND, CLI_OPT_THREADS, CLI_OPT_GEN, CLI_OPT_STEPS,
    CLI_OPT_BLOCK, CLI_OPT_TEMP, CLI_OPT_SEED, CLI_OPT_REMASK, CLI_OPT_CFG, CLI_OPT_EOS_INF,
    CLI_OPT_CONF_INF, CLI_OPT_CACHE, CLI_OPT_KP, CLI_OPT_KR, CLI_OPT_RHO, CLI_OPT_LAYER0,
    CLI_OPT_CFG_INTERVAL, CLI_OPT_THRESHOLD, CLI_OPT_FACTOR, CLI_OPT_EARLY_STOP,
    CLI_OPT_KEEP_RATIO, CLI_OPT_KERNEL, CLI_OPT_D2_K, CLI_OPT_D2_P, CLI_OPT_D2_SIGMA,
    CLI_OPT_D2_INFLATE, CLI_OPT_D2_PRIOR, CLI_OPT_TP,
    CLI_OPT_FIRST_LOCAL = 512 /* commands number their own options from here */
};

/* getopt_long entries for the shared flags; spliced into each command's table. */
#define CLI_GEN_OPTIONS                                                                        \
    {"model", required_argument, 0, CLI_OPT_MODEL},                                            \
        {"backend", required_argument, 0, CLI_OPT_BACKEND},                                    \
        {"threads", required_argument, 0, CLI_OPT_THREADS},                                    \
        {"gen-length", required_argument, 0, CLI_OPT_GEN},                                     \
        {"steps", required_argument, 0, CLI_OPT_STEPS},                                        \
        {"block-length", required_argument, 0, CLI_OPT_BLOCK},                                 \
        {"temperature", required_argument, 0, CLI_OPT_TEMP},                                   \
        {"seed", required_argument, 0, CLI_OPT_SEED},                                          \
        {"remasking", required_argument, 0, CLI_OPT_REMASK},                                   \
        {"cfg-scale", required_argument, 0, CLI_OPT_CFG},                                      \
        {"logits-eos-inf", no_argument, 0, CLI_OPT_EOS_INF},                                   \
        {"confidence-eos-eot-inf", no_argument, 0, CLI_OPT_CONF_INF},                          \
        {"cache", required_argument, 0, CLI_OPT_CACHE},                                        \
        {"kp", required_argument, 0, CLI_OPT_KP},                                              \
        {"kr", required_argument, 0, CLI_OPT_KR},                                              \
        {"rho", required_argument, 0, CLI_OPT_RHO},                                            \
        {"layer0-refresh", required_argument, 0, CLI_OPT_LAYER0},                              \
        {"cfg-interval", required_argument, 0, CLI_OPT_CFG_INTERVAL},                          \
        {"threshold", required_argument, 0, CLI_OPT_THRESHOLD},                                \
        {"factor", required_argument, 0, CLI_OPT_FACTOR},                                      \
        {"early-stop", no_argument, 0, CLI_OPT_EARLY_STOP},                                    \
        {"keep-ratio", required_argument, 0, CLI_OPT_KEEP_RATIO},                              \
        {"kernel", required_argument, 0, CLI_OPT_KERNEL},                                      \
        {"d2-k", required_argument, 0, CLI_OPT_D2_K},                                          \
        {"d2-p", required_argument, 0, CLI_OPT_D2_P},                                          \
        {"d2-sigma", required_argument, 0, CLI_OPT_D2_SIGMA},                                  \
        {"d2-inflate", required_argument, 0, CLI_OPT_D2_INFLATE},                              \
        {"d2-prior", required_argument, 0, CLI_OPT_D2_PRIOR},                                  \
        {"tp", required_argument, 0, CLI_OPT_TP}

/* Help text of the shared flags (printed by each command's usage). */
void cli_gen_usage(FILE *f);

/* Checks combinations of the shared flags after parsing (cache flags without
 * --cache dllm); prints a message and returns -1 on a conflict. */
int cli_gen_check(const char *cmd, const dllm_gen_params *gp, unsigned cache_flags_seen);

/* Applies one shared flag. Returns 1 if opt was a shared flag and was applied, 0 if opt is
 * not a shared flag, -1 on a malformed value (message printed). model_flag receives
 * --model's value. */
int cli_gen_flag(const char *cmd, int opt, const char *arg, dllm_engine_config *ec,
                 dllm_gen_params *gp, const char **model_flag, unsigned *cache_flags_seen);

/* Adds the sequence's cost accounting (rows, FLOPs, per-layer rows) to a JSON object. */
struct cJSON;
void cli_stats_json(struct cJSON *obj, const dllm_seq *s);

/* Strict number parsing: the whole string must be a number within [lo, hi]. On failure
 * prints "dllm <cmd>: invalid value 'x' for --flag: <why>" and returns -1. */
int cli_parse_i64(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                  int64_t *out);
int cli_parse_f32(const char *cmd, const char *flag, const char *s, double lo, double hi,
                  float *out);
int cli_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out);

/* Parses "1,2,3" into a malloc'd array; -1 (with a message) on a malformed list. */
int cli_parse_ids(const char *cmd, const char *s, int32_t **ids, size_t *n);

/* Resolves the model directory: the flag if given, else $DLLM_MODEL, else the model
 * shipped with the repository or installed beside the binary. Writes into buf. Returns
 * -1 with a message when none is found. */
int cli_resolve_model(const char *flag, char *buf, size_t n);

/* dllm_engine_config_init, plus a weight-loading progress bar on stderr when stderr is a
 * terminal (shown for checkpoints of 256 MiB and more). */
void cli_engine_config_init(dllm_engine_config *ec);

#endif
