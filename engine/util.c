/* util.c -- see util.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "util.h"

dllm_status dllm_errf(char *err, size_t n, dllm_status rc, const char *fmt, ...)
{
    if (err != NULL && n > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return rc;
}
