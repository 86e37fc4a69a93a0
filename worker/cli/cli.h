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

#include "dllm/dllm.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cli_generate(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_inspect(int argc, char **argv);

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

#endif
