/* common.c -- strict flag-value parsing and model resolution for the CLI (cli.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_parse_i64(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                  int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (s[0] == '\0' || end == s || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: not an integer\n", cmd, s, flag);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: must be in [%lld, %lld]\n", cmd, s,
                flag, (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    if (s[0] == '-' || s[0] == '\0') goto bad;
    v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "dllm %s: invalid value '%s' for %s: not a non-negative 64-bit integer\n",
            cmd, s, flag);
    return -1;
}

int cli_parse_f32(const char *cmd, const char *flag, const char *s, double lo, double hi,
                  float *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (s[0] == '\0' || end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: not a finite number\n", cmd, s,
                flag);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "dllm %s: invalid value '%s' for %s: must be in [%g, %g]\n", cmd, s,
                flag, lo, hi);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_parse_ids(const char *cmd, const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 16, cnt = 0;
    int32_t *v = malloc(cap * sizeof *v);
    const char *p = s;

    if (v == NULL) return -1;
    while (*p) {
        char *end = NULL;
        long long x;
        errno = 0;
        if (*p == ' ' || *p == '-' || *p == '+') goto bad;
        x = strtoll(p, &end, 10);
        if (end == p || errno == ERANGE || x < 0 || x > INT32_MAX) goto bad;
        if (cnt == cap) {
            int32_t *nv = realloc(v, 2 * cap * sizeof *nv);
            if (nv == NULL) goto bad;
            v = nv;
            cap *= 2;
        }
        v[cnt++] = (int32_t)x;
        p = end;
        if (*p == ',') {
            p++;
            if (*p == '\0') goto bad;
        } else if (*p != '\0') {
            goto bad;
        }
    }
    if (cnt == 0) goto bad;
    *ids = v;
    *n = cnt;
    return 0;
bad:
    fprintf(stderr,
            "dllm %s: invalid value '%s' for --prompt-ids: expected comma-separated "
            "non-negative integers like 1,2,3\n",
            cmd, s);
    free(v);
    return -1;
}

static int is_dir_with_config(const char *dir)
{
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_resolve_model(const char *flag, char *buf, size_t n)
{
    static const char *const shipped[] = {"llada-tiny", "llada-tiny-random"};
    static const char *const roots[] = {"../../models", "../share/dllm/models"};
    char exe[4096];
    ssize_t len;
    const char *env = getenv("DLLM_MODEL");

    if (flag != NULL) {
        snprintf(buf, n, "%s", flag);
        return 0;
    }
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, n, "%s", env);
        return 0;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++)
            for (size_t m = 0; m < sizeof shipped / sizeof shipped[0]; m++) {
                if (snprintf(buf, n, "%s/%s/%s", exe, roots[r], shipped[m]) >= (int)n) continue;
                if (is_dir_with_config(buf)) return 0;
            }
    }
    fprintf(stderr, "dllm: no model found; hint: pass --model DIR (a LLaDA checkpoint "
                    "directory) or set DLLM_MODEL\n");
    return -1;
}
