/* testutil.h -- helpers shared by the Check suites: paths to test data, seeded random
 * fills, error norms, and a main() macro that runs one suite.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_TESTUTIL_H
#define DLLM_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

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

/* Runs one suite and returns the process exit status (0 when all passed). */
int tu_run_suite(Suite *s);

#define TU_MAIN(suite_fn)                                                                      \
    int main(void)                                                                             \
    {                                                                                          \
        return tu_run_suite(suite_fn());                                                       \
    }

#endif
