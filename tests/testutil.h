/* testutil.h -- helpers shared by the Check suites: paths to test data, seeded random
 * fills, error norms, and a main() macro that runs one suite.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_TESTUTIL_H
#define DLLM_TESTUTIL_H

#include <check.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dllm/dllm.h"

/* Absolute path of a file under tests/data (static buffer per call site is the caller's:
 * writes into buf and returns it). */
const char *tu_data_path(char *buf, size_t n, const char *rel);

/* Deterministic uniform floats in [lo, hi) from a 64-bit seed (splitmix64). */
void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);

/* Normalised mean squared error sum((a-b)^2) / sum(b^2); NaN or inf anywhere -> INFINITY. */
double tu_nmse(const float *a, const float *b, size_t n);

/* max|a-b| / max|b| (0 when b is all zero and a == b); NaN anywhere -> INFINITY. */
double tu_max_rel_err(const float *a, const float *b, size_t n);

/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL on error. */
char *tu_read_file(const char *path, size_t *len);

/* ---- golden data (tests/data/golden, written by ops/reference) ---- */

/* Parses tests/data/<rel> (fails the test, with the regenerate hint, when missing). */
cJSON *tu_load_json(const char *rel);

/* A JSON array of token ids as a malloc'd int32 array. */
int32_t *tu_json_ids(const cJSON *a, size_t *n);

/* A golden case's "params" (sampler fields, optional "cache" and "decode" objects) as
 * engine parameters. */
void tu_params_from_json(const cJSON *p, dllm_gen_params *gp);

/* Opens the checkpoint tests/data/<ckname> on the CPU backend. */
dllm_engine *tu_open_engine(const char *ckname);

/* Replays one golden trace case on e: the generated region must equal the reference's
 * after every step; steps, forwards, and (when the case has them) row counts and
 * completion tokens must match. Writes the sequence's stats to st. */
void tu_replay_trace(dllm_engine *e, const cJSON *cs, dllm_seq_stats *st);

/* Runs one suite and returns the process exit status (0 when all passed). */
int tu_run_suite(Suite *s);

#define TU_MAIN(suite_fn)                                                                      \
    int main(void)                                                                             \
    {                                                                                          \
        return tu_run_suite(suite_fn());                                                       \
    }

#endif
