/* safetensors.c -- see safetensors.h.
 *
 * DESIGN
 * ------
 * - Parsing never reads outside [buf, buf + len): the header is first bounded by the
 *   length prefix and the buffer size, checked byte by byte (UTF-8, control bytes), then
 *   copied into a NUL-terminated heap buffer for cJSON, so that cJSON cannot run past it
 *   whatever the bytes are. Tensor views are created only after every rule has passed.
 * - JSON numbers arrive as doubles from cJSON. Shapes and offsets are accepted only when
 *   they are integral and below 2^53, where doubles are exact, so no value is silently
 *   rounded; a real file never needs more (2^53 bytes is 9 PB).
 * - A file owns one arena for its strings (display name, tensor names, metadata) and one
 *   tensor array sorted by data offset ("file order"); a second array of pointers sorted
 *   by name serves lookups (bsearch) and the duplicate check.
 * - A set owns its files; its arrays of pointers index the files' tensors in file order
 *   and by name. Nothing is modified after open.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define ST_MAX_EXACT ((double)9007199254740991.0) /* 2^53 - 1 */
#define ST_QUOTE 160                              /* bytes of a quoted name in messages */

/* Sizes and offsets are handled as 64-bit values and stored in size_t. */
_Static_assert(sizeof(size_t) >= sizeof(uint64_t), "dllm needs a 64-bit size_t");

struct dllm_st_file {
    char *name;                     /* display name (in arena) */
    void *map;                      /* mmap base, NULL for a caller's buffer */
    size_t map_len;                 /* bytes mapped */
    const unsigned char *base;      /* start of the file image */
    size_t len;                     /* bytes in the file image */
    uint64_t header_len;            /* N */
    dllm_st_tensor *tensors;        /* (n) sorted by data offset */
    const dllm_st_tensor **by_name; /* (n) sorted by name */
    size_t n;                       /* number of tensors */
    const char **meta;              /* (2 * n_meta) key, value, key, value ... */
    size_t n_meta;
    char *arena; /* every string above */
};

struct dllm_st_set {
    dllm_st_file **files; /* (n_files) sorted by name, owned */
    size_t n_files;
    const dllm_st_tensor **order;   /* (n) file order */
    const dllm_st_tensor **by_name; /* (n) sorted by name */
    size_t n;
    int sharded;
};

/* ---- small helpers ---- */

const char *dllm_st_quote(char *buf, size_t n, const char *s)
{
    size_t i, len, keep;

    if (buf == NULL || n == 0) return buf;
    if (s == NULL) s = "(null)";
    len = strlen(s);
    keep = len;
    if (len > n - 1) {
        keep = n > 4 ? n - 4 : 0;
        /* do not cut a UTF-8 sequence in half */
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
            keep--;
    }
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (keep < len && n > 4) {
        memcpy(buf + keep, "...", 3);
        keep += 3;
    }
    buf[keep] = '\0';
    return buf;
}

const char *dllm_st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int i, w;

    if (buf == NULL || n == 0) return buf;
    buf[0] = '\0';
    w = snprintf(buf, n, "[");
    if (w < 0) return buf;
    used = (size_t)w;
    for (i = 0; i < ndim && used < n; i++) {
        w = snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (w < 0) return buf;
        used += (size_t)w;
    }
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

static const struct {
    const char *name;
    int supported;
    dllm_dtype dtype;
} st_dtypes[] = {
    {"F32", 1, DLLM_DTYPE_F32},     {"F16", 1, DLLM_DTYPE_F16},     {"BF16", 1, DLLM_DTYPE_BF16},
    {"BOOL", 0, DLLM_DTYPE_F32},    {"U8", 0, DLLM_DTYPE_F32},      {"I8", 0, DLLM_DTYPE_F32},
    {"U16", 0, DLLM_DTYPE_F32},     {"I16", 0, DLLM_DTYPE_F32},     {"U32", 0, DLLM_DTYPE_F32},
    {"I32", 0, DLLM_DTYPE_F32},     {"U64", 0, DLLM_DTYPE_F32},     {"I64", 0, DLLM_DTYPE_F32},
    {"F64", 0, DLLM_DTYPE_F32},     {"C64", 0, DLLM_DTYPE_F32},     {"F8_E5M2", 0, DLLM_DTYPE_F32},
    {"F8_E4M3", 0, DLLM_DTYPE_F32}, {"F8_E8M0", 0, DLLM_DTYPE_F32}, {"F6_E2M3", 0, DLLM_DTYPE_F32},
    {"F6_E3M2", 0, DLLM_DTYPE_F32}, {"F4", 0, DLLM_DTYPE_F32},
};

dllm_status dllm_st_dtype_from_string(const char *s, dllm_dtype *out)
{
    size_t i;

    for (i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (strcmp(s, st_dtypes[i].name) != 0) continue;
        if (!st_dtypes[i].supported) return DLLM_E_UNSUPPORTED;
        *out = st_dtypes[i].dtype;
        return DLLM_OK;
    }
    return DLLM_E_FORMAT;
}

/* Classifies a JSON value as an exact non-negative integer below 2^53. */
enum { ST_INT_OK, ST_INT_NOT_NUMBER, ST_INT_NEGATIVE, ST_INT_FRACTION, ST_INT_TOO_LARGE };

static int st_get_uint(const cJSON *v, uint64_t *out)
{
    double d;

    if (!cJSON_IsNumber(v)) return ST_INT_NOT_NUMBER;
    d = v->valuedouble;
    if (isnan(d)) return ST_INT_NOT_NUMBER;
    if (d < 0) return ST_INT_NEGATIVE;
    if (d > ST_MAX_EXACT) return ST_INT_TOO_LARGE;
    if (d != floor(d)) return ST_INT_FRACTION;
    *out = (uint64_t)d;
    return ST_INT_OK;
}

static const char *st_int_problem(int code)
{
    switch (code) {
    case ST_INT_NOT_NUMBER:
        return "is not a number";
    case ST_INT_NEGATIVE:
        return "is negative";
    case ST_INT_FRACTION:
        return "is not an integer";
    case ST_INT_TOO_LARGE:
        return "is too large (>= 2^53)";
    }
    return "is invalid";
}

/* Checks the header bytes: UTF-8 (no overlongs, surrogates or code points past U+10FFFF)
 * and no control bytes other than JSON whitespace. Returns the offset of the first bad
 * byte, or len when all are fine. */
static size_t st_check_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t need, k;
        uint32_t cp;

        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= need) return i;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return len;
}

static int st_is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int st_cmp_tensor_name(const void *a, const void *b)
{
    const dllm_st_tensor *x = *(const dllm_st_tensor *const *)a;
    const dllm_st_tensor *y = *(const dllm_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

typedef struct st_span {
    uint64_t begin, end; /* relative to the data region */
    size_t idx;          /* header order, the tie-breaker that keeps the sort stable */
} st_span;

static int st_cmp_span(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static const dllm_st_tensor *st_bsearch(const dllm_st_tensor *const *by_name, size_t n,
                                        const char *name)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, by_name[mid]->name);
        if (c == 0) return by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- one tensor entry ---- */

/* Validates one header entry `e` (key e->string) and fills t (without data, name, file)
 * and its span. `data_size` is the size of the data region. */
static dllm_status st_parse_entry(const cJSON *e, const char *fname, uint64_t data_size,
                                  dllm_st_tensor *t, st_span *span, char *err, size_t errn)
{
    char q[ST_QUOTE], q2[ST_QUOTE];
    const cJSON *dt = NULL, *shape = NULL, *offs = NULL, *c;
    dllm_status rc;
    uint64_t numel = 1, nbytes, begin = 0, end = 0, dim = 0;
    size_t dsize;
    int i, code, nd;

    dllm_st_quote(q, sizeof q, e->string);
    if (!cJSON_IsObject(e))
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: tensor '%s': header entry is not a JSON object", fname, q);
    cJSON_ArrayForEach(c, e)
    {
        const cJSON **slot = NULL;
        if (strcmp(c->string, "dtype") == 0)
            slot = &dt;
        else if (strcmp(c->string, "shape") == 0)
            slot = &shape;
        else if (strcmp(c->string, "data_offsets") == 0)
            slot = &offs;
        if (slot == NULL)
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "%s: tensor '%s': unexpected key '%s' (a tensor entry has only "
                             "dtype, shape and data_offsets)",
                             fname, q, dllm_st_quote(q2, sizeof q2, c->string));
        if (*slot != NULL)
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': key '%s' appears twice",
                             fname, q, c->string);
        *slot = c;
    }
    if (dt == NULL || shape == NULL || offs == NULL)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': missing key '%s'", fname, q,
                         dt == NULL      ? "dtype"
                         : shape == NULL ? "shape"
                                         : "data_offsets");

    /* dtype */
    if (!cJSON_IsString(dt))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': dtype is not a string", fname,
                         q);
    rc = dllm_st_dtype_from_string(dt->valuestring, &t->dtype);
    if (rc == DLLM_E_UNSUPPORTED)
        return dllm_errf(err, errn, rc,
                         "%s: tensor '%s': dtype %s is not supported (F32, F16 and BF16 are); "
                         "hint: convert the checkpoint to bf16",
                         fname, q, dllm_st_quote(q2, sizeof q2, dt->valuestring));
    if (rc != DLLM_OK)
        return dllm_errf(err, errn, rc, "%s: tensor '%s': unknown dtype '%s'", fname, q,
                         dllm_st_quote(q2, sizeof q2, dt->valuestring));
    dsize = dllm_dtype_size(t->dtype);

    /* shape */
    if (!cJSON_IsArray(shape))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': shape is not an array", fname,
                         q);
    nd = cJSON_GetArraySize(shape);
    if (nd > DLLM_ST_MAX_DIMS)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: tensor '%s': shape has %d dimensions, at most %d are supported",
                         fname, q, nd, DLLM_ST_MAX_DIMS);
    t->ndim = nd;
    i = 0;
    cJSON_ArrayForEach(c, shape)
    {
        code = st_get_uint(c, &dim);
        if (code != ST_INT_OK)
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': shape[%d] %s", fname, q, i,
                             st_int_problem(code));
        t->shape[i] = (int64_t)dim;
        /* overflow-checked product; once zero it stays zero, but every dim is still checked */
        if (numel != 0 && dim != 0 && numel > UINT64_MAX / dim)
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "%s: tensor '%s': shape product overflows 64 bits at shape[%d]; "
                             "hint: the header is corrupt",
                             fname, q, i);
        numel *= dim;
        i++;
    }
    if (numel > (uint64_t)INT64_MAX || numel > UINT64_MAX / dsize)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: tensor '%s': shape product %llu is too large for dtype %s; hint: "
                         "the header is corrupt",
                         fname, q, (unsigned long long)numel, dllm_dtype_name(t->dtype));
    nbytes = numel * dsize;
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)nbytes;

    /* data_offsets */
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: tensor '%s': data_offsets is not an array [begin, end]", fname, q);
    code = st_get_uint(cJSON_GetArrayItem(offs, 0), &begin);
    if (code != ST_INT_OK)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': data_offsets begin %s", fname,
                         q, st_int_problem(code));
    code = st_get_uint(cJSON_GetArrayItem(offs, 1), &end);
    if (code != ST_INT_OK)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': data_offsets end %s", fname, q,
                         st_int_problem(code));
    if (begin > end)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: tensor '%s': data_offsets begin %llu > end %llu", fname, q,
                         (unsigned long long)begin, (unsigned long long)end);
    if (end - begin != nbytes) {
        char sh[128];
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: tensor '%s': data_offsets span %llu bytes but shape %s of %s "
                         "needs %llu",
                         fname, q, (unsigned long long)(end - begin),
                         dllm_st_shape_str(sh, sizeof sh, t->ndim, t->shape),
                         dllm_dtype_name(t->dtype), (unsigned long long)nbytes);
    }
    if (end > data_size)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: tensor '%s': data_offsets end %llu beyond data size %llu; hint: "
                         "the file is truncated, re-download it",
                         fname, q, (unsigned long long)end, (unsigned long long)data_size);
    span->begin = begin;
    span->end = end;
    return DLLM_OK;
}

/* ---- file ---- */

static char *st_arena_put(char **cursor, const char *s)
{
    size_t l = strlen(s) + 1;
    char *dst = *cursor;
    memcpy(dst, s, l);
    *cursor += l;
    return dst;
}

dllm_status dllm_st_parse(const void *buf, size_t len, const char *name, dllm_st_file **out,
                          char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    const unsigned char *b = buf;
    dllm_st_file *f = NULL;
    char *hdr = NULL, *cur;
    const char *end_ptr = NULL, *tail;
    cJSON *root = NULL, *e, *meta = NULL;
    dllm_st_tensor *tmp = NULL;
    st_span *spans = NULL;
    uint64_t n_hdr = 0, data_size, expect;
    size_t i, bad, n_tensors = 0, n_meta = 0, arena_bytes, k;
    char q[ST_QUOTE], q2[ST_QUOTE];
    const char *fname;

    *out = NULL;
    if (name == NULL) name = "(buffer)";
    fname = name;
    if (buf == NULL && len != 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "%s: NULL buffer", fname);
    if (len < 8)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: file is %zu bytes, too small for the 8-byte header length; hint: "
                         "the file is truncated or not a safetensors file",
                         fname, len);
    for (i = 0; i < 8; i++)
        n_hdr |= (uint64_t)b[i] << (8 * i);
    if (n_hdr < 2 || n_hdr > DLLM_ST_MAX_HEADER)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: header length %llu is outside [2, %llu]; hint: not a safetensors "
                         "file, or a corrupt one",
                         fname, (unsigned long long)n_hdr, (unsigned long long)DLLM_ST_MAX_HEADER);
    if (n_hdr > (uint64_t)len - 8)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: header length %llu beyond file size %zu - 8; hint: the file is "
                         "truncated, re-download it",
                         fname, (unsigned long long)n_hdr, len);
    data_size = (uint64_t)len - 8 - n_hdr;
    bad = st_check_utf8(b + 8, (size_t)n_hdr);
    if (bad != (size_t)n_hdr)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: header byte %zu (0x%02x) is not valid UTF-8 JSON text; hint: the "
                         "file is corrupt or not a safetensors file",
                         fname, bad, b[8 + bad]);
    if (b[8] != '{')
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: header does not start with '{'; hint: not a safetensors file", fname);

    hdr = malloc((size_t)n_hdr + 1);
    if (hdr == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory for a %llu-byte header", fname,
                       (unsigned long long)n_hdr);
        goto out;
    }
    memcpy(hdr, b + 8, (size_t)n_hdr);
    hdr[n_hdr] = '\0';
    root = cJSON_ParseWithOpts(hdr, &end_ptr, 0);
    if (root == NULL) {
        size_t at = end_ptr != NULL && end_ptr >= hdr ? (size_t)(end_ptr - hdr) : 0;
        rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                       "%s: header is not valid JSON (error near byte %zu); hint: the file is "
                       "corrupt or not a safetensors file",
                       fname, at);
        goto out;
    }
    for (tail = end_ptr; *tail != '\0'; tail++) {
        if (!st_is_json_space(*tail)) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                           "%s: unexpected bytes after the header JSON object at byte %zu", fname,
                           (size_t)(tail - hdr));
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: header is not a JSON object", fname);
        goto out;
    }

    /* first pass: count, find __metadata__, size the arena */
    arena_bytes = strlen(fname) + 1;
    cJSON_ArrayForEach(e, root)
    {
        if (strcmp(e->string, "__metadata__") == 0) {
            const cJSON *m;
            if (meta != NULL) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: '__metadata__' appears twice", fname);
                goto out;
            }
            meta = e;
            if (!cJSON_IsObject(meta)) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: '__metadata__' is not a JSON object",
                               fname);
                goto out;
            }
            cJSON_ArrayForEach(m, meta)
            {
                if (!cJSON_IsString(m)) {
                    rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                                   "%s: '__metadata__' value of key '%s' is not a string", fname,
                                   dllm_st_quote(q, sizeof q, m->string));
                    goto out;
                }
                arena_bytes += strlen(m->string) + strlen(m->valuestring) + 2;
                n_meta++;
            }
            continue;
        }
        arena_bytes += strlen(e->string) + 1;
        n_tensors++;
    }

    f = calloc(1, sizeof *f);
    if (f == NULL) goto nomem;
    f->arena = malloc(arena_bytes);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    f->by_name = calloc(n_tensors ? n_tensors : 1, sizeof *f->by_name);
    f->meta = calloc(n_meta ? 2 * n_meta : 1, sizeof *f->meta);
    tmp = calloc(n_tensors ? n_tensors : 1, sizeof *tmp);
    spans = calloc(n_tensors ? n_tensors : 1, sizeof *spans);
    if (f->arena == NULL || f->tensors == NULL || f->by_name == NULL || f->meta == NULL ||
        tmp == NULL || spans == NULL)
        goto nomem;
    cur = f->arena;
    f->name = st_arena_put(&cur, fname);
    fname = f->name;
    f->base = b;
    f->len = len;
    f->header_len = n_hdr;
    f->n = n_tensors;
    f->n_meta = n_meta;

    /* second pass: validate every tensor entry (header order) */
    k = 0;
    cJSON_ArrayForEach(e, root)
    {
        if (e == meta) continue;
        DLLM_TRY_GOTO(st_parse_entry(e, fname, data_size, &tmp[k], &spans[k], err, errn), rc, out);
        tmp[k].name = st_arena_put(&cur, e->string);
        tmp[k].file = fname;
        spans[k].idx = k;
        k++;
    }
    if (meta != NULL) {
        const cJSON *m;
        k = 0;
        cJSON_ArrayForEach(m, meta)
        {
            f->meta[2 * k] = st_arena_put(&cur, m->string);
            f->meta[2 * k + 1] = st_arena_put(&cur, m->valuestring);
            k++;
        }
    }

    /* unique names */
    for (i = 0; i < n_tensors; i++)
        f->by_name[i] = &tmp[i];
    qsort(f->by_name, n_tensors, sizeof *f->by_name, st_cmp_tensor_name);
    for (i = 1; i < n_tensors; i++) {
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s': appears twice in the header",
                           fname, dllm_st_quote(q, sizeof q, f->by_name[i]->name));
            goto out;
        }
    }

    /* contiguous, non-overlapping coverage of the data region, in offset order */
    qsort(spans, n_tensors, sizeof *spans, st_cmp_span);
    expect = 0;
    for (i = 0; i < n_tensors; i++) {
        const st_span *s = &spans[i];
        if (s->begin < expect) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' "
                           "(which ends at %llu); hint: the header is corrupt",
                           fname, dllm_st_quote(q, sizeof q, tmp[s->idx].name),
                           (unsigned long long)s->begin, (unsigned long long)s->end,
                           dllm_st_quote(q2, sizeof q2, tmp[spans[i - 1].idx].name),
                           (unsigned long long)expect);
            goto out;
        }
        if (s->begin > expect) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                           "%s: tensor '%s': data_offsets begin %llu leaves a gap after byte "
                           "%llu of the data region (tensors must be contiguous); hint: the "
                           "header is corrupt",
                           fname, dllm_st_quote(q, sizeof q, tmp[s->idx].name),
                           (unsigned long long)s->begin, (unsigned long long)expect);
            goto out;
        }
        expect = s->end;
    }
    if (expect != data_size) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                       "%s: %llu bytes after the last tensor (data region is %llu bytes, "
                       "tensors cover %llu); hint: the file is corrupt",
                       fname, (unsigned long long)(data_size - expect),
                       (unsigned long long)data_size, (unsigned long long)expect);
        goto out;
    }

    /* final table in file order, with data pointers */
    for (i = 0; i < n_tensors; i++) {
        dllm_st_tensor *t = &f->tensors[i];
        *t = tmp[spans[i].idx];
        t->offset = 8 + n_hdr + spans[i].begin;
        t->data = b + t->offset;
        f->by_name[i] = t;
    }
    qsort(f->by_name, n_tensors, sizeof *f->by_name, st_cmp_tensor_name);
    *out = f;
    f = NULL;
    goto out;

nomem:
    rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory for the tensor table", fname);
out:
    dllm_st_file_free(f);
    free(tmp);
    free(spans);
    cJSON_Delete(root);
    free(hdr);
    return rc;
}

static const char *st_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL && s[1] != '\0' ? s + 1 : path;
}

dllm_status dllm_st_file_open(const char *path, dllm_st_file **out, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    int fd = -1;
    struct stat st;
    void *map = NULL;
    size_t len = 0;
    static const unsigned char empty[1] = {0};

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: not a regular file", path);
        goto out;
    }
    len = (size_t)st.st_size;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            rc = dllm_errf(err, errn, DLLM_E_IO, "%s: cannot mmap %zu bytes: %s", path, len,
                           strerror(errno));
            goto out;
        }
    }
    DLLM_TRY_GOTO(dllm_st_parse(map != NULL ? map : empty, len, st_basename(path), out, err, errn),
                  rc, out);
    (*out)->map = map;
    (*out)->map_len = len;
    map = NULL; /* owned by the file now */
out:
    if (map != NULL) munmap(map, len);
    if (fd >= 0) close(fd);
    return rc;
}

void dllm_st_file_free(dllm_st_file *f)
{
    if (f == NULL) return;
    if (f->map != NULL) munmap(f->map, f->map_len);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->arena);
    free(f);
}

const char *dllm_st_file_name(const dllm_st_file *f)
{
    return f->name;
}

size_t dllm_st_file_count(const dllm_st_file *f)
{
    return f->n;
}

const dllm_st_tensor *dllm_st_file_tensor(const dllm_st_file *f, size_t i)
{
    return i < f->n ? &f->tensors[i] : NULL;
}

const dllm_st_tensor *dllm_st_file_find(const dllm_st_file *f, const char *name)
{
    return st_bsearch(f->by_name, f->n, name);
}

const char *dllm_st_file_metadata(const dllm_st_file *f, const char *key)
{
    size_t i;
    for (i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

uint64_t dllm_st_file_header_len(const dllm_st_file *f)
{
    return f->header_len;
}

uint64_t dllm_st_file_size(const dllm_st_file *f)
{
    return f->len;
}

/* ---- index ---- */

static int st_plain_file_name(const char *s)
{
    size_t i, l = strlen(s);

    if (l == 0 || l > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (i = 0; i < l; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7F) return 0;
    }
    return 1;
}

static int st_cmp_entry(const void *a, const void *b)
{
    const dllm_st_index_entry *x = a, *y = b;
    return strcmp(x->tensor, y->tensor);
}

static int st_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

dllm_status dllm_st_index_parse(const char *json, size_t len, const char *name, dllm_st_index *idx,
                                char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    char *text = NULL, *cur;
    const char *end_ptr = NULL;
    cJSON *root = NULL;
    const cJSON *wm, *meta, *e;
    size_t n = 0, arena_bytes = 0, i, nf;
    char q[ST_QUOTE], q2[ST_QUOTE];

    memset(idx, 0, sizeof *idx);
    idx->total_size = -1;
    if (name == NULL) name = "model.safetensors.index.json";
    if (json == NULL && len != 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "%s: NULL buffer", name);
    if (memchr(json, '\0', len) != NULL)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: contains a NUL byte; not a JSON file",
                         name);
    text = malloc(len + 1);
    if (text == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", name);
        goto out;
    }
    if (len) memcpy(text, json, len);
    text[len] = '\0';
    root = cJSON_ParseWithOpts(text, &end_ptr, 1);
    if (root == NULL) {
        size_t at = end_ptr != NULL && end_ptr >= text ? (size_t)(end_ptr - text) : 0;
        rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                       "%s: not valid JSON (error near byte %zu); hint: re-download the file", name,
                       at);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: not a JSON object", name);
        goto out;
    }
    meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (meta != NULL) {
        const cJSON *ts;
        if (!cJSON_IsObject(meta)) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: 'metadata' is not a JSON object", name);
            goto out;
        }
        ts = cJSON_GetObjectItemCaseSensitive(meta, "total_size");
        if (ts != NULL) {
            if (!cJSON_IsNumber(ts) || !(ts->valuedouble >= 0) || isinf(ts->valuedouble)) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                               "%s: 'metadata.total_size' is not a non-negative number", name);
                goto out;
            }
            idx->total_size = ts->valuedouble;
        }
    }
    wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (wm == NULL || !cJSON_IsObject(wm)) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                       "%s: 'weight_map' is %s; hint: the index is corrupt, re-download it", name,
                       wm == NULL ? "missing" : "not a JSON object");
        goto out;
    }
    cJSON_ArrayForEach(e, wm)
    {
        dllm_st_quote(q, sizeof q, e->string);
        if (!cJSON_IsString(e)) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                           "%s: weight_map entry for tensor '%s' is not a string", name, q);
            goto out;
        }
        if (!st_plain_file_name(e->valuestring)) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                           "%s: weight_map entry for tensor '%s' names file '%s', which is not "
                           "a plain file name in the checkpoint directory (no '/', '..' or "
                           "absolute paths)",
                           name, q, dllm_st_quote(q2, sizeof q2, e->valuestring));
            goto out;
        }
        arena_bytes += strlen(e->string) + strlen(e->valuestring) + 2;
        n++;
    }
    if (n == 0) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: 'weight_map' lists no tensors", name);
        goto out;
    }
    idx->arena = malloc(arena_bytes);
    idx->entries = calloc(n, sizeof *idx->entries);
    idx->files = calloc(n, sizeof *idx->files);
    if (idx->arena == NULL || idx->entries == NULL || idx->files == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", name);
        goto out;
    }
    cur = idx->arena;
    i = 0;
    cJSON_ArrayForEach(e, wm)
    {
        idx->entries[i].tensor = st_arena_put(&cur, e->string);
        idx->entries[i].file = st_arena_put(&cur, e->valuestring);
        i++;
    }
    idx->n_entries = n;
    qsort(idx->entries, n, sizeof *idx->entries, st_cmp_entry);
    for (i = 1; i < n; i++) {
        if (strcmp(idx->entries[i - 1].tensor, idx->entries[i].tensor) == 0) {
            rc =
                dllm_errf(err, errn, DLLM_E_FORMAT, "%s: tensor '%s' is listed twice in weight_map",
                          name, dllm_st_quote(q, sizeof q, idx->entries[i].tensor));
            goto out;
        }
    }
    for (i = 0; i < n; i++)
        idx->files[i] = idx->entries[i].file;
    qsort(idx->files, n, sizeof *idx->files, st_cmp_str);
    nf = 0;
    for (i = 0; i < n; i++)
        if (nf == 0 || strcmp(idx->files[nf - 1], idx->files[i]) != 0)
            idx->files[nf++] = idx->files[i];
    idx->n_files = nf;
out:
    if (rc != DLLM_OK) dllm_st_index_deinit(idx);
    cJSON_Delete(root);
    free(text);
    return rc;
}

void dllm_st_index_deinit(dllm_st_index *idx)
{
    if (idx == NULL) return;
    free(idx->entries);
    free(idx->files);
    free(idx->arena);
    memset(idx, 0, sizeof *idx);
    idx->total_size = -1;
}

/* ---- set ---- */

static char *st_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p == NULL) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* Reads a whole (small) file into a NUL-terminated heap buffer. */
static dllm_status st_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
                                size_t errn)
{
    dllm_status rc = DLLM_OK;
    FILE *fp = NULL;
    char *buf = NULL;
    struct stat st;

    *out = NULL;
    fp = fopen(path, "rb");
    if (fp == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: not a readable regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: %lld bytes is larger than the %zu-byte limit",
                       path, (long long)st.st_size, max);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: short read", path);
        goto out;
    }
    buf[st.st_size] = '\0';
    *len = (size_t)st.st_size;
    *out = buf;
    buf = NULL;
out:
    free(buf);
    if (fp != NULL) fclose(fp);
    return rc;
}

/* Builds the set's file-order and by-name arrays from its files; checks that names are
 * unique across files. */
static dllm_status st_set_index(dllm_st_set *s, char *err, size_t errn)
{
    size_t total = 0, i, j, k = 0;
    char q[ST_QUOTE];

    for (i = 0; i < s->n_files; i++)
        total += s->files[i]->n;
    s->order = calloc(total ? total : 1, sizeof *s->order);
    s->by_name = calloc(total ? total : 1, sizeof *s->by_name);
    if (s->order == NULL || s->by_name == NULL)
        return dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory for %zu tensors", total);
    for (i = 0; i < s->n_files; i++)
        for (j = 0; j < s->files[i]->n; j++)
            s->order[k++] = &s->files[i]->tensors[j];
    s->n = total;
    memcpy(s->by_name, s->order, total * sizeof *s->order);
    qsort(s->by_name, total, sizeof *s->by_name, st_cmp_tensor_name);
    for (i = 1; i < total; i++) {
        if (strcmp(s->by_name[i - 1]->name, s->by_name[i]->name) == 0)
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "tensor '%s' is in both %s and %s; hint: the checkpoint mixes "
                             "files of different downloads",
                             dllm_st_quote(q, sizeof q, s->by_name[i]->name),
                             s->by_name[i - 1]->file, s->by_name[i]->file);
    }
    return DLLM_OK;
}

dllm_status dllm_st_set_open_file(const char *path, dllm_st_set **out, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_st_set *s = NULL;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL || (s->files = calloc(1, sizeof *s->files)) == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", path);
        goto out;
    }
    DLLM_TRY_GOTO(dllm_st_file_open(path, &s->files[0], err, errn), rc, out);
    s->n_files = 1;
    DLLM_TRY_GOTO(st_set_index(s, err, errn), rc, out);
    *out = s;
    s = NULL;
out:
    dllm_st_set_free(s);
    return rc;
}

static const dllm_st_index_entry *st_index_find(const dllm_st_index *idx, const char *tensor)
{
    dllm_st_index_entry key = {tensor, NULL};
    return bsearch(&key, idx->entries, idx->n_entries, sizeof key, st_cmp_entry);
}

static dllm_status st_set_open_index(const char *dir, const char *index_path, dllm_st_set **out,
                                     char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_st_set *s = NULL;
    dllm_st_index idx;
    char *text = NULL, *path = NULL;
    size_t len = 0, i, j;
    char q[ST_QUOTE], q2[ST_QUOTE];

    memset(&idx, 0, sizeof idx);
    *out = NULL;
    DLLM_TRY_GOTO(st_read_file(index_path, DLLM_ST_MAX_INDEX, &text, &len, err, errn), rc, out);
    DLLM_TRY_GOTO(dllm_st_index_parse(text, len, index_path, &idx, err, errn), rc, out);
    s = calloc(1, sizeof *s);
    if (s == NULL || (s->files = calloc(idx.n_files, sizeof *s->files)) == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", index_path);
        goto out;
    }
    s->sharded = 1;
    for (i = 0; i < idx.n_files; i++) {
        char sub[1024];
        free(path);
        path = st_join(dir, idx.files[i]);
        if (path == NULL) {
            rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", index_path);
            goto out;
        }
        rc = dllm_st_file_open(path, &s->files[i], sub, sizeof sub);
        if (rc != DLLM_OK) {
            if (rc == DLLM_E_IO)
                dllm_errf(err, errn, rc,
                          "%s: shard '%s' listed in the index cannot be read (%s); hint: the "
                          "download is incomplete, fetch the missing shard",
                          index_path, idx.files[i], sub);
            else
                dllm_errf(err, errn, rc, "%s", sub);
            goto out;
        }
        s->n_files++;
    }
    /* every listed tensor is in the shard that the index names */
    for (i = 0; i < idx.n_entries; i++) {
        const dllm_st_index_entry *en = &idx.entries[i];
        const dllm_st_file *sh = NULL;
        for (j = 0; j < s->n_files; j++)
            if (strcmp(s->files[j]->name, en->file) == 0) sh = s->files[j];
        DLLM_ASSERT(sh != NULL);
        if (dllm_st_file_find(sh, en->tensor) == NULL) {
            rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                           "%s: tensor '%s' is listed in shard %s, but %s does not contain it; "
                           "hint: the index and the shards come from different downloads",
                           index_path, dllm_st_quote(q, sizeof q, en->tensor), en->file, en->file);
            goto out;
        }
    }
    /* every tensor of every shard is listed, with that shard */
    for (j = 0; j < s->n_files; j++) {
        const dllm_st_file *sh = s->files[j];
        for (i = 0; i < sh->n; i++) {
            const dllm_st_index_entry *en = st_index_find(&idx, sh->tensors[i].name);
            dllm_st_quote(q, sizeof q, sh->tensors[i].name);
            if (en == NULL) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                               "%s: tensor '%s' is not listed in the index %s; hint: the index "
                               "and the shards come from different downloads",
                               sh->name, q, index_path);
                goto out;
            }
            if (strcmp(en->file, sh->name) != 0) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                               "tensor '%s' is in both %s and %s (the index lists it in %s); "
                               "hint: duplicate tensor across shards",
                               q, sh->name, dllm_st_quote(q2, sizeof q2, en->file), en->file);
                goto out;
            }
        }
    }
    DLLM_TRY_GOTO(st_set_index(s, err, errn), rc, out);
    *out = s;
    s = NULL;
out:
    dllm_st_set_free(s);
    dllm_st_index_deinit(&idx);
    free(text);
    free(path);
    return rc;
}

dllm_status dllm_st_set_open_dir(const char *dir, dllm_st_set **out, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    char *single = NULL, *index = NULL;
    struct stat st;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "empty checkpoint directory path");
    single = st_join(dir, "model.safetensors");
    index = st_join(dir, "model.safetensors.index.json");
    if (single == NULL || index == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    if (stat(single, &st) == 0) {
        rc = dllm_st_set_open_file(single, out, err, errn);
    } else if (errno != ENOENT) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: cannot stat: %s", single, strerror(errno));
    } else if (stat(index, &st) == 0) {
        rc = st_set_open_index(dir, index, out, err, errn);
    } else {
        rc = dllm_errf(err, errn, DLLM_E_IO,
                       "%s: neither model.safetensors nor model.safetensors.index.json is "
                       "there (%s); hint: point at a Hugging Face checkpoint directory",
                       dir, strerror(errno));
    }
out:
    free(single);
    free(index);
    return rc;
}

void dllm_st_set_free(dllm_st_set *s)
{
    size_t i;

    if (s == NULL) return;
    for (i = 0; i < s->n_files; i++)
        dllm_st_file_free(s->files[i]);
    free(s->files);
    free(s->order);
    free(s->by_name);
    free(s);
}

size_t dllm_st_set_count(const dllm_st_set *s)
{
    return s->n;
}

const dllm_st_tensor *dllm_st_set_tensor(const dllm_st_set *s, size_t i)
{
    return i < s->n ? s->order[i] : NULL;
}

const dllm_st_tensor *dllm_st_set_find(const dllm_st_set *s, const char *name)
{
    return st_bsearch(s->by_name, s->n, name);
}

size_t dllm_st_set_n_files(const dllm_st_set *s)
{
    return s->n_files;
}

const dllm_st_file *dllm_st_set_file(const dllm_st_set *s, size_t i)
{
    return i < s->n_files ? s->files[i] : NULL;
}

int dllm_st_set_is_sharded(const dllm_st_set *s)
{
    return s->sharded;
}
