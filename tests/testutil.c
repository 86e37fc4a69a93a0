/* testutil.c -- see testutil.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *tu_data_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", DLLM_TEST_DATA, rel);
    return buf;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
        x[i] = lo + (float)u * (hi - lo);
    }
}

double tu_nmse(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

double tu_max_rel_err(const float *a, const float *b, size_t n)
{
    double maxd = 0, maxb = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > maxd) maxd = d;
        if (fabs((double)b[i]) > maxb) maxb = fabs((double)b[i]);
    }
    if (maxb == 0) return maxd == 0 ? 0 : INFINITY;
    return maxd / maxb;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long sz;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) goto out;
    buf = malloc((size_t)sz + 1);
    if (buf == NULL) goto out;
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[sz] = '\0';
    if (len) *len = (size_t)sz;
out:
    fclose(f);
    return buf;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
