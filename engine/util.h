/* util.h -- small internal helpers shared by engine modules: error formatting into a
 * caller's buffer, the propagate-on-error macros of style.md C.9, and assertions for
 * programmer errors (never for input errors).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_UTIL_H
#define DLLM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "dllm/status.h"

#define DLLM_TRY(expr)                                                                         \
    do {                                                                                       \
        dllm_status dllm_try_rc_ = (expr);                                                     \
        if (dllm_try_rc_ != DLLM_OK) return dllm_try_rc_;                                      \
    } while (0)

#define DLLM_TRY_GOTO(expr, rc, label)                                                         \
    do {                                                                                       \
        (rc) = (expr);                                                                         \
        if ((rc) != DLLM_OK) goto label;                                                       \
    } while (0)

/* Always-on assertion for violated internal invariants (GGML_ASSERT). */
#define DLLM_ASSERT(cond)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "dllm: assertion failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#define DLLM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DLLM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Writes a printf-style message into err (if err != NULL and n > 0) and returns rc, so
 * that `return dllm_errf(err, n, DLLM_E_FORMAT, "...", ...)` reports and propagates. */
dllm_status dllm_errf(char *err, size_t n, dllm_status rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
