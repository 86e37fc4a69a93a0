/* test_safetensors.c -- Check suite for engine/safetensors.{h,c}.
 *
 * Every case writes real files into a fresh temporary directory (or builds an in-memory
 * image) with the small safetensors writer below, then asserts both the status and that
 * the message names the file, the tensor and the problem. Good files: F32/F16/BF16,
 * padding, metadata, empty and zero-sized tensors, a sharded set with its index.
 * Corrupt files: every rule listed above dllm_st_parse, the index rules and the set's
 * cross-file rules.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "testutil.h"

/* ---- fixture: one temporary directory per test ---- */

static char g_dir[512]; /* short enough that g_dir + "/" + a file name fits PATH_MAX */

static void tmpdir_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/dllm-st-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void tmpdir_teardown(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[PATH_MAX + 256];

    if (d == NULL) return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        if (unlink(p) != 0) rmdir(p);
    }
    closedir(d);
    rmdir(g_dir);
}

static const char *path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", g_dir, name);
    return buf;
}

/* ---- a tiny safetensors writer ---- */

static void write_bytes(const char *path, const void *a, size_t an, const void *b, size_t bn)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (an) ck_assert_uint_eq(fwrite(a, 1, an, f), an);
    if (bn) ck_assert_uint_eq(fwrite(b, 1, bn, f), bn);
    ck_assert_int_eq(fclose(f), 0);
}

/* A file image: u64 LE header length, the header text padded with spaces to a multiple of 8
 * (pad = 1) or as is, then `data`. The caller frees the result. */
static unsigned char *image(const char *hdr, int pad, const void *data, size_t dlen, size_t *len)
{
    size_t h = strlen(hdr), hp = pad ? (h + 7) / 8 * 8 : h, i;
    unsigned char *buf = malloc(8 + hp + dlen + 1);
    ck_assert_ptr_nonnull(buf);
    for (i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(buf + 8, hdr, h);
    memset(buf + 8 + h, ' ', hp - h);
    if (dlen) memcpy(buf + 8 + hp, data, dlen);
    *len = 8 + hp + dlen;
    return buf;
}

static void write_st(const char *path, const char *hdr, const void *data, size_t dlen)
{
    size_t len;
    unsigned char *img = image(hdr, 1, data, dlen, &len);
    write_bytes(path, img, len, NULL, 0);
    free(img);
}

typedef struct tw_tensor {
    const char *name;
    const char *dtype; /* "F32", "F16", "BF16" */
    int ndim;
    int64_t shape[4];
} tw_tensor;

static uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16); /* exact for the values used here */
}

static uint16_t f32_to_f16(float f) /* exact for small dyadic values */
{
    uint32_t u, sign, exp, man;
    memcpy(&u, &f, 4);
    sign = (u >> 16) & 0x8000u;
    if ((u & 0x7FFFFFFFu) == 0) return (uint16_t)sign;
    exp = ((u >> 23) & 0xFFu) - 127 + 15;
    man = (u >> 13) & 0x3FFu;
    return (uint16_t)(sign | (exp << 10) | man);
}

/* Value of element i of tensor k, exactly representable in bf16 and f16. */
static float tw_value(int k, int64_t i)
{
    return (float)((k + 1) * 8 + (int)(i % 13) - 6) * 0.25f;
}

/* Writes a well-formed file with the tensors in `ts` (data laid out in array order) and an
 * optional raw metadata JSON object text. */
static void write_good(const char *path, const tw_tensor *ts, int n, const char *meta)
{
    char hdr[8192];
    size_t used = 0, off = 0, total = 0;
    unsigned char *data;
    int k, d;

    for (k = 0; k < n; k++) {
        int64_t numel = 1;
        for (d = 0; d < ts[k].ndim; d++)
            numel *= ts[k].shape[d];
        total += (size_t)numel * (strcmp(ts[k].dtype, "F32") == 0 ? 4 : 2);
    }
    data = malloc(total + 1);
    ck_assert_ptr_nonnull(data);
    used += (size_t)snprintf(hdr + used, sizeof hdr - used, "{");
    if (meta) used += (size_t)snprintf(hdr + used, sizeof hdr - used, "\"__metadata__\":%s", meta);
    for (k = 0; k < n; k++) {
        int64_t numel = 1, i;
        size_t es = strcmp(ts[k].dtype, "F32") == 0 ? 4 : 2, nb;
        for (d = 0; d < ts[k].ndim; d++)
            numel *= ts[k].shape[d];
        nb = (size_t)numel * es;
        used += (size_t)snprintf(hdr + used, sizeof hdr - used,
                                 "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", (meta || k) ? "," : "",
                                 ts[k].name, ts[k].dtype);
        for (d = 0; d < ts[k].ndim; d++)
            used += (size_t)snprintf(hdr + used, sizeof hdr - used, "%s%lld", d ? "," : "",
                                     (long long)ts[k].shape[d]);
        used += (size_t)snprintf(hdr + used, sizeof hdr - used, "],\"data_offsets\":[%zu,%zu]}",
                                 off, off + nb);
        for (i = 0; i < numel; i++) {
            float v = tw_value(k, i);
            if (es == 4) {
                memcpy(data + off + 4 * (size_t)i, &v, 4);
            } else {
                uint16_t h = strcmp(ts[k].dtype, "BF16") == 0 ? f32_to_bf16(v) : f32_to_f16(v);
                memcpy(data + off + 2 * (size_t)i, &h, 2);
            }
        }
        off += nb;
    }
    snprintf(hdr + used, sizeof hdr - used, "}");
    ck_assert_uint_lt(used + 2, sizeof hdr);
    write_st(path, hdr, data, total);
    free(data);
}

/* ---- assertions on errors ---- */

#define EXPECT_ERR(rc_expr, want, err, ...)                                                        \
    do {                                                                                           \
        dllm_status rc_ = (rc_expr);                                                               \
        const char *subs_[] = {__VA_ARGS__};                                                       \
        size_t s_;                                                                                 \
        ck_assert_msg(rc_ == (want), "status %s, want %s (message: %s)", dllm_status_str(rc_),     \
                      dllm_status_str(want), err);                                                 \
        for (s_ = 0; s_ < sizeof subs_ / sizeof subs_[0]; s_++)                                    \
            ck_assert_msg(strstr(err, subs_[s_]) != NULL, "message '%s' lacks '%s'", err,          \
                          subs_[s_]);                                                              \
    } while (0)

/* Parses `hdr` + `dlen` bytes of zeros as an in-memory image named "t.safetensors". */
static dllm_status parse_hdr(const char *hdr, size_t dlen, char *err, size_t errn)
{
    size_t len;
    unsigned char *zeros = calloc(dlen + 1, 1);
    unsigned char *img = image(hdr, 1, zeros, dlen, &len);
    dllm_st_file *f = NULL;
    dllm_status rc = dllm_st_parse(img, len, "t.safetensors", &f, err, errn);
    if (rc != DLLM_OK) ck_assert_ptr_null(f);
    dllm_st_file_free(f);
    free(img);
    free(zeros);
    return rc;
}

/* ---- good files ---- */

START_TEST(test_good_all_dtypes)
{
    static const tw_tensor ts[] = {
        {"a.f32", "F32", 2, {3, 5}},
        {"b.f16", "F16", 1, {7}},
        {"c.bf16", "BF16", 3, {2, 3, 4}},
    };
    char p[PATH_MAX], err[512] = "";
    dllm_st_file *f = NULL;
    const dllm_st_tensor *t;
    float buf[64];
    int k;
    int64_t i;

    write_good(path_in(p, sizeof p, "model.safetensors"), ts, 3, "{\"format\":\"pt\"}");
    ck_assert_int_eq(dllm_st_file_open(p, &f, err, sizeof err), DLLM_OK);
    ck_assert_str_eq(dllm_st_file_name(f), "model.safetensors");
    ck_assert_uint_eq(dllm_st_file_count(f), 3);
    ck_assert_str_eq(dllm_st_file_metadata(f, "format"), "pt");
    ck_assert_ptr_null(dllm_st_file_metadata(f, "nope"));
    ck_assert_ptr_null(dllm_st_file_find(f, "nope"));
    for (k = 0; k < 3; k++) {
        t = dllm_st_file_find(f, ts[k].name);
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_eq(t, dllm_st_file_tensor(f, (size_t)k)); /* file order */
        ck_assert_str_eq(t->name, ts[k].name);
        ck_assert_str_eq(dllm_dtype_name(t->dtype), ts[k].dtype);
        ck_assert_str_eq(t->file, "model.safetensors");
        ck_assert_int_eq(t->ndim, ts[k].ndim);
        for (i = 0; i < t->ndim; i++)
            ck_assert_int_eq(t->shape[i], ts[k].shape[i]);
        ck_assert_uint_eq(t->nbytes, (size_t)t->numel * dllm_dtype_size(t->dtype));
        ck_assert_uint_le(t->offset + t->nbytes, dllm_st_file_size(f));
        dllm_convert_to_f32(buf, t->data, t->dtype, (size_t)t->numel);
        for (i = 0; i < t->numel; i++)
            ck_assert_float_eq(buf[i], tw_value(k, i));
    }
    ck_assert_uint_eq(dllm_st_file_header_len(f) % 8, 0);
    ck_assert_uint_eq(dllm_st_file_tensor(f, 0)->offset, 8 + dllm_st_file_header_len(f));
    ck_assert_ptr_null(dllm_st_file_tensor(f, 3));
    dllm_st_file_free(f);
}
END_TEST

START_TEST(test_good_file_order_is_offset_order)
{
    /* header lists b before a, but a's data comes first */
    const char *hdr = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t len;
    unsigned char data[12] = {0};
    unsigned char *img = image(hdr, 1, data, sizeof data, &len);
    dllm_st_file *f = NULL;
    char err[256] = "";

    ck_assert_int_eq(dllm_st_parse(img, len, "x", &f, err, sizeof err), DLLM_OK);
    ck_assert_str_eq(dllm_st_file_tensor(f, 0)->name, "a");
    ck_assert_str_eq(dllm_st_file_tensor(f, 1)->name, "b");
    ck_assert_ptr_eq(dllm_st_file_tensor(f, 0)->data, img + len - 12);
    dllm_st_file_free(f);
    free(img);
}
END_TEST

START_TEST(test_good_edge_shapes)
{
    char err[256] = "";
    float one = 0;
    /* empty header, unpadded */
    size_t len;
    unsigned char *img = image("{}", 0, NULL, 0, &len);
    dllm_st_file *f = NULL;
    ck_assert_int_eq(dllm_st_parse(img, len, "e", &f, err, sizeof err), DLLM_OK);
    ck_assert_uint_eq(dllm_st_file_count(f), 0);
    dllm_st_file_free(f);
    free(img);
    /* scalar (one element), zero-sized tensor, whitespace and escapes in JSON */
    img = image("{ \"s\" : {\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]},\n"
                "\"z\\u00e9\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[2,2]}}",
                1, "\x80\x3f", 2, &len);
    ck_assert_int_eq(dllm_st_parse(img, len, "e", &f, err, sizeof err), DLLM_OK);
    ck_assert_uint_eq(dllm_st_file_count(f), 2);
    ck_assert_int_eq(dllm_st_file_find(f, "s")->ndim, 0);
    ck_assert_int_eq(dllm_st_file_find(f, "s")->numel, 1);
    dllm_convert_to_f32(&one, dllm_st_file_find(f, "s")->data, DLLM_DTYPE_BF16, 1);
    ck_assert_float_eq(one, 1.0f);
    ck_assert_ptr_nonnull(dllm_st_file_find(f, "z\xc3\xa9"));
    ck_assert_int_eq(dllm_st_file_find(f, "z\xc3\xa9")->numel, 0);
    dllm_st_file_free(f);
    free(img);
}
END_TEST

/* ---- corrupt files: framing ---- */

START_TEST(test_file_too_small)
{
    char p[PATH_MAX], err[512] = "";
    dllm_st_file *f = NULL;
    write_bytes(path_in(p, sizeof p, "small.safetensors"), "abc", 3, NULL, 0);
    EXPECT_ERR(dllm_st_file_open(p, &f, err, sizeof err), DLLM_E_FORMAT, err, "small.safetensors",
               "too small");
    ck_assert_ptr_null(f);
    write_bytes(p, "", 0, NULL, 0);
    EXPECT_ERR(dllm_st_file_open(p, &f, err, sizeof err), DLLM_E_FORMAT, err, "small.safetensors",
               "0 bytes");
}
END_TEST

START_TEST(test_header_len_beyond_file)
{
    char p[PATH_MAX], err[512] = "";
    dllm_st_file *f = NULL;
    unsigned char b[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes(path_in(p, sizeof p, "model-00002-of-00006.safetensors"), b, 10, NULL, 0);
    EXPECT_ERR(dllm_st_file_open(p, &f, err, sizeof err), DLLM_E_FORMAT, err,
               "model-00002-of-00006.safetensors", "header length 200 beyond file size 10",
               "truncated");
    /* absurd length: 2^63 */
    memset(b, 0, 8);
    b[7] = 0x80;
    write_bytes(p, b, 10, NULL, 0);
    EXPECT_ERR(dllm_st_file_open(p, &f, err, sizeof err), DLLM_E_FORMAT, err,
               "model-00002-of-00006.safetensors", "header length", "outside");
    /* just over the 100 MB bound, even though the buffer claims to be that big */
    {
        uint64_t n = DLLM_ST_MAX_HEADER + 1;
        int i;
        for (i = 0; i < 8; i++)
            b[i] = (unsigned char)(n >> (8 * i));
        EXPECT_ERR(dllm_st_parse(b, 10, "big", &f, err, sizeof err), DLLM_E_FORMAT, err, "big",
                   "100000001");
    }
}
END_TEST

START_TEST(test_header_not_json)
{
    char err[512] = "";
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",", 0, err, sizeof err), DLLM_E_FORMAT, err,
               "t.safetensors", "not valid JSON");
    EXPECT_ERR(parse_hdr("[1,2,3]", 0, err, sizeof err), DLLM_E_FORMAT, err, "t.safetensors",
               "'{'");
    EXPECT_ERR(parse_hdr("{} {}", 0, err, sizeof err), DLLM_E_FORMAT, err, "t.safetensors",
               "after the header");
    EXPECT_ERR(parse_hdr("{\"a\":\"\xff\"}", 0, err, sizeof err), DLLM_E_FORMAT, err,
               "t.safetensors", "UTF-8", "byte 6");
    EXPECT_ERR(parse_hdr("{\"a\":\"\xc0\xaf\"}", 0, err, sizeof err), DLLM_E_FORMAT, err,
               "UTF-8"); /* overlong '/' */
    EXPECT_ERR(parse_hdr("{\"a\":\"\xed\xa0\x80\"}", 0, err, sizeof err), DLLM_E_FORMAT, err,
               "UTF-8"); /* surrogate */
    EXPECT_ERR(parse_hdr("{\"a\x01\":1}", 0, err, sizeof err), DLLM_E_FORMAT, err, "UTF-8");
    EXPECT_ERR(parse_hdr("{\"a\":[1]}", 0, err, sizeof err), DLLM_E_FORMAT, err, "tensor 'a'",
               "not a JSON object");
    {
        /* a NUL byte inside the header */
        size_t len;
        dllm_st_file *f = NULL;
        unsigned char *img = image("{\"a\":{}}", 1, NULL, 0, &len);
        img[10] = '\0';
        EXPECT_ERR(dllm_st_parse(img, len, "nul", &f, err, sizeof err), DLLM_E_FORMAT, err, "nul",
                   "UTF-8");
        free(img);
    }
}
END_TEST

/* ---- corrupt files: tensor entries ---- */

START_TEST(test_truncated_data)
{
    static const tw_tensor ts[] = {
        {"model.transformer.wte.weight", "BF16", 2, {8, 4}},
        {"model.transformer.blocks.3.q_proj.weight", "BF16", 2, {4, 4}},
    };
    char p[PATH_MAX], err[512] = "";
    dllm_st_file *f = NULL;
    struct stat st;

    write_good(path_in(p, sizeof p, "model-00002-of-00006.safetensors"), ts, 2, NULL);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(truncate(p, st.st_size - 5), 0);
    EXPECT_ERR(dllm_st_file_open(p, &f, err, sizeof err), DLLM_E_FORMAT, err,
               "model-00002-of-00006.safetensors",
               "tensor 'model.transformer.blocks.3.q_proj.weight'",
               "data_offsets end 96 beyond data size 91", "truncated, re-download");
    ck_assert_ptr_null(f);
}
END_TEST

START_TEST(test_offsets_layout)
{
    char err[512] = "";
    /* overlap */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                         12, err, sizeof err),
               DLLM_E_FORMAT, err, "t.safetensors", "tensor 'b'", "overlap tensor 'a'");
    /* same range twice */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                         16, err, sizeof err),
               DLLM_E_FORMAT, err, "overlap");
    /* gap */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                         20, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'b'", "gap");
    /* not starting at 0 */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'a'", "gap");
    /* trailing bytes */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 11,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "t.safetensors", "3 bytes after the last tensor");
    /* past the end */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'a'", "end 16 beyond data size 8");
    /* begin > end */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, err,
                         sizeof err),
               DLLM_E_FORMAT, err, "tensor 'a'", "begin 8 > end 0");
    /* span does not match the shape */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", 8,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'a'", "span 8 bytes", "[2, 3]", "needs 12");
    /* offsets that are not exact integers */
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                         "\"data_offsets\":[0,1152921504606846976]}}",
                         8, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'a'", "data_offsets end", "too large");
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,7]}}", 8,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "data_offsets begin is negative");
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, err,
                         sizeof err),
               DLLM_E_FORMAT, err, "tensor 'a'", "[begin, end]");
    EXPECT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", 8,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "data_offsets end is not a number");
}
END_TEST

START_TEST(test_dtype_and_shape)
{
    char err[512] = "";
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, err,
                         sizeof err),
               DLLM_E_FORMAT, err, "t.safetensors", "tensor 'w'", "unknown dtype 'F33'");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, err,
                         sizeof err),
               DLLM_E_UNSUPPORTED, err, "t.safetensors", "tensor 'w'", "I64", "not supported");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                         err, sizeof err),
               DLLM_E_UNSUPPORTED, err, "tensor 'w'", "F8_E4M3");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, err,
                         sizeof err),
               DLLM_E_FORMAT, err, "unknown dtype 'f32'");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, err,
                         sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "dtype is not a string");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                         "\"data_offsets\":[0,4]}}",
                         4, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "overflows");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                         "\"data_offsets\":[0,4]}}",
                         4, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "too large");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,4]}}", 4,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "shape[1] is negative");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "shape[0] is not an integer");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4,
                         err, sizeof err),
               DLLM_E_FORMAT, err, "shape[0] is not a number");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4, err,
                         sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "shape is not an array");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                         "\"data_offsets\":[0,4]}}",
                         4, err, sizeof err),
               DLLM_E_UNSUPPORTED, err, "tensor 'w'", "9 dimensions");
    /* 8 dimensions are fine */
    ck_assert_int_eq(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2],"
                               "\"data_offsets\":[0,8]}}",
                               8, err, sizeof err),
                     DLLM_OK);
}
END_TEST

START_TEST(test_entry_keys)
{
    char err[512] = "";
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "missing key 'data_offsets'");
    EXPECT_ERR(parse_hdr("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "missing key 'dtype'");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, err, sizeof err),
               DLLM_E_FORMAT, err, "missing key 'shape'");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
                         "\"bias\":1}}",
                         4, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "unexpected key 'bias'");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],"
                         "\"data_offsets\":[0,4]}}",
                         4, err, sizeof err),
               DLLM_E_FORMAT, err, "key 'dtype' appears twice");
    EXPECT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                         8, err, sizeof err),
               DLLM_E_FORMAT, err, "tensor 'w'", "appears twice");
    EXPECT_ERR(parse_hdr("{\"__metadata__\":{\"format\":1}}", 0, err, sizeof err), DLLM_E_FORMAT,
               err, "__metadata__", "'format'", "not a string");
    EXPECT_ERR(parse_hdr("{\"__metadata__\":[]}", 0, err, sizeof err), DLLM_E_FORMAT, err,
               "__metadata__", "not a JSON object");
    EXPECT_ERR(parse_hdr("{\"__metadata__\":{},\"__metadata__\":{}}", 0, err, sizeof err),
               DLLM_E_FORMAT, err, "twice");
}
END_TEST

START_TEST(test_open_errors)
{
    char p[PATH_MAX], err[512] = "";
    dllm_st_file *f = NULL;
    EXPECT_ERR(dllm_st_file_open(path_in(p, sizeof p, "absent.safetensors"), &f, err, sizeof err),
               DLLM_E_IO, err, "absent.safetensors", "cannot open");
    EXPECT_ERR(dllm_st_file_open(g_dir, &f, err, sizeof err), DLLM_E_IO, err, g_dir,
               "not a regular file");
    ck_assert_ptr_null(f);
}
END_TEST

START_TEST(test_quote_and_shape_str)
{
    char b[16];
    int64_t sh[3] = {2, 0, 7};
    ck_assert_str_eq(dllm_st_quote(b, sizeof b, "a\nb"), "a?b");
    ck_assert_str_eq(dllm_st_quote(b, sizeof b, "0123456789abcdefghij"), "0123456789ab...");
    ck_assert_str_eq(dllm_st_shape_str(b, sizeof b, 3, sh), "[2, 0, 7]");
    ck_assert_str_eq(dllm_st_shape_str(b, sizeof b, 0, sh), "[]");
}
END_TEST

/* ---- index ---- */

START_TEST(test_index_parse)
{
    const char *good = "{\"metadata\":{\"total_size\":48},\"weight_map\":{"
                       "\"b\":\"model-00002-of-00002.safetensors\","
                       "\"a\":\"model-00001-of-00002.safetensors\","
                       "\"c\":\"model-00001-of-00002.safetensors\"}}";
    dllm_st_index idx;
    char err[512] = "";

    ck_assert_int_eq(dllm_st_index_parse(good, strlen(good), "i.json", &idx, err, sizeof err),
                     DLLM_OK);
    ck_assert_uint_eq(idx.n_entries, 3);
    ck_assert_str_eq(idx.entries[0].tensor, "a");
    ck_assert_str_eq(idx.entries[1].file, "model-00002-of-00002.safetensors");
    ck_assert_uint_eq(idx.n_files, 2);
    ck_assert_str_eq(idx.files[0], "model-00001-of-00002.safetensors");
    ck_assert_double_eq(idx.total_size, 48);
    dllm_st_index_deinit(&idx);
    dllm_st_index_deinit(&idx); /* zeroed: no-op */

#define BAD_INDEX(text, ...)                                                                       \
    EXPECT_ERR(dllm_st_index_parse(text, strlen(text), "i.json", &idx, err, sizeof err),           \
               DLLM_E_FORMAT, err, "i.json", __VA_ARGS__);                                         \
    ck_assert_ptr_null(idx.entries)
    BAD_INDEX("{\"weight_map\":{\"t.w\":\"../x\"}}", "tensor 't.w'", "'../x'", "plain file name");
    BAD_INDEX("{\"weight_map\":{\"t.w\":\"/etc/passwd\"}}", "'/etc/passwd'");
    BAD_INDEX("{\"weight_map\":{\"t.w\":\"..\"}}", "'..'");
    BAD_INDEX("{\"weight_map\":{\"t.w\":\"a\\\\b\"}}", "plain file name");
    BAD_INDEX("{\"weight_map\":{\"t.w\":\"\"}}", "plain file name");
    BAD_INDEX("{\"weight_map\":{\"t.w\":3}}", "tensor 't.w'", "not a string");
    BAD_INDEX("{\"weight_map\":{}}", "no tensors");
    BAD_INDEX("{\"weight_map\":[]}", "'weight_map' is not a JSON object");
    BAD_INDEX("{\"metadata\":{}}", "'weight_map' is missing");
    BAD_INDEX("{\"metadata\":3,\"weight_map\":{\"a\":\"f\"}}", "'metadata'");
    BAD_INDEX("{\"metadata\":{\"total_size\":-4},\"weight_map\":{\"a\":\"f\"}}", "total_size");
    BAD_INDEX("{\"weight_map\":{\"a\":\"f\",\"a\":\"g\"}}", "tensor 'a'", "listed twice");
    BAD_INDEX("[]", "not a JSON object");
    BAD_INDEX("{\"weight_map\":{\"a\":\"f\"}} x", "not valid JSON");
#undef BAD_INDEX
}
END_TEST

/* ---- sets ---- */

static const tw_tensor shard1[] = {{"a", "F32", 1, {4}}, {"b", "BF16", 2, {2, 2}}};
static const tw_tensor shard2[] = {{"c", "F16", 1, {3}}};

static void write_index(const char *body)
{
    char p[PATH_MAX];
    write_bytes(path_in(p, sizeof p, "model.safetensors.index.json"), body, strlen(body), NULL, 0);
}

static void write_two_shards(void)
{
    char p[PATH_MAX];
    write_good(path_in(p, sizeof p, "model-00001-of-00002.safetensors"), shard1, 2, NULL);
    write_good(path_in(p, sizeof p, "model-00002-of-00002.safetensors"), shard2, 1, NULL);
}

#define GOOD_INDEX                                                                                 \
    "{\"metadata\":{\"total_size\":30},\"weight_map\":{"                                           \
    "\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","       \
    "\"c\":\"model-00002-of-00002.safetensors\"}}"

START_TEST(test_set_single_and_sharded)
{
    char p[PATH_MAX], err[512] = "";
    dllm_st_set *s = NULL;
    float v[4];

    /* sharded */
    write_two_shards();
    write_index(GOOD_INDEX);
    ck_assert_int_eq(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_OK);
    ck_assert_int_eq(dllm_st_set_is_sharded(s), 1);
    ck_assert_uint_eq(dllm_st_set_count(s), 3);
    ck_assert_uint_eq(dllm_st_set_n_files(s), 2);
    ck_assert_str_eq(dllm_st_file_name(dllm_st_set_file(s, 1)), "model-00002-of-00002.safetensors");
    ck_assert_str_eq(dllm_st_set_tensor(s, 0)->name, "a");
    ck_assert_str_eq(dllm_st_set_tensor(s, 2)->name, "c");
    ck_assert_ptr_null(dllm_st_set_tensor(s, 3));
    ck_assert_str_eq(dllm_st_set_find(s, "c")->file, "model-00002-of-00002.safetensors");
    dllm_convert_to_f32(v, dllm_st_set_find(s, "c")->data, DLLM_DTYPE_F16, 3);
    ck_assert_float_eq(v[2], tw_value(0, 2));
    ck_assert_ptr_null(dllm_st_set_find(s, "d"));
    dllm_st_set_free(s);
    s = NULL;

    /* a single model.safetensors wins over the index */
    write_good(path_in(p, sizeof p, "model.safetensors"), shard2, 1, NULL);
    ck_assert_int_eq(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_OK);
    ck_assert_int_eq(dllm_st_set_is_sharded(s), 0);
    ck_assert_uint_eq(dllm_st_set_count(s), 1);
    dllm_st_set_free(s);
    s = NULL;
    ck_assert_int_eq(dllm_st_set_open_file(p, &s, err, sizeof err), DLLM_OK);
    ck_assert_uint_eq(dllm_st_set_count(s), 1);
    dllm_st_set_free(s);
    dllm_st_set_free(NULL);
}
END_TEST

START_TEST(test_set_errors)
{
    char p[PATH_MAX], err[1024] = "";
    dllm_st_set *s = NULL;

    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_IO, err, g_dir,
               "neither model.safetensors nor model.safetensors.index.json");
    write_two_shards();

    /* index names a shard that is not there */
    write_index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                "\"b\":\"model-00001-of-00002.safetensors\","
                "\"c\":\"model-00003-of-00003.safetensors\"}}");
    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_IO, err,
               "model.safetensors.index.json", "shard 'model-00003-of-00003.safetensors'",
               "No such file");
    /* index entry escaping the directory */
    write_index("{\"weight_map\":{\"a\":\"../model-00001-of-00002.safetensors\"}}");
    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_FORMAT, err,
               "model.safetensors.index.json", "tensor 'a'", "../model-00001-of-00002");
    /* tensor listed in a shard that does not contain it */
    write_index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                "\"b\":\"model-00001-of-00002.safetensors\","
                "\"c\":\"model-00001-of-00002.safetensors\"}}");
    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_FORMAT, err, "tensor 'c'",
               "model-00001-of-00002.safetensors does not contain it");
    /* shard tensor not listed */
    write_index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                "\"c\":\"model-00002-of-00002.safetensors\"}}");
    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_FORMAT, err,
               "model-00001-of-00002.safetensors", "tensor 'b'", "not listed in the index");
    /* a shard the index does not name is never opened */
    write_index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                "\"b\":\"model-00001-of-00002.safetensors\"}}");
    ck_assert_int_eq(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_OK);
    ck_assert_uint_eq(dllm_st_set_n_files(s), 1);
    dllm_st_set_free(s);
    s = NULL;
    /* duplicate tensor across shards: shard 2 holds 'a' too */
    path_in(p, sizeof p, "model-00002-of-00002.safetensors");
    write_good(p, (const tw_tensor[]){{"a", "F32", 1, {4}}, {"x", "F32", 1, {1}}}, 2, NULL);
    write_index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                "\"b\":\"model-00001-of-00002.safetensors\","
                "\"x\":\"model-00002-of-00002.safetensors\"}}");
    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_FORMAT, err,
               "tensor 'a' is in both", "model-00002-of-00002.safetensors",
               "model-00001-of-00002.safetensors");
    /* a corrupt shard reports the shard's own message */
    write_bytes(p, "\x02\0\0\0\0\0\0\0[]", 10, NULL, 0);
    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_FORMAT, err,
               "model-00002-of-00002.safetensors", "'{'");
    /* corrupt index */
    write_index("{\"weight_map\":");
    EXPECT_ERR(dllm_st_set_open_dir(g_dir, &s, err, sizeof err), DLLM_E_FORMAT, err,
               "model.safetensors.index.json", "not valid JSON");
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- real checkpoints shipped with the repository ---- */

START_TEST(test_real_checkpoints)
{
    static const char *dirs[] = {"tiny-llada", "tiny-llada-bf16", "tiny-llada-sharded"};
    char p[PATH_MAX], err[1024] = "";
    size_t i, k, seen = 0;

    for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        dllm_st_set *s = NULL;
        struct stat st;
        tu_data_path(p, sizeof p, dirs[i]);
        if (stat(p, &st) != 0) {
            printf("note: %s not present yet, skipped\n", p);
            continue;
        }
        ck_assert_msg(dllm_st_set_open_dir(p, &s, err, sizeof err) == DLLM_OK, "%s: %s", p, err);
        ck_assert_uint_gt(dllm_st_set_count(s), 0);
        ck_assert_ptr_nonnull(dllm_st_set_find(s, "model.transformer.wte.weight"));
        for (k = 0; k < dllm_st_set_count(s); k++) {
            const dllm_st_tensor *t = dllm_st_set_tensor(s, k);
            ck_assert_ptr_eq(dllm_st_set_find(s, t->name), t);
        }
        dllm_st_set_free(s);
        seen++;
    }
    if (seen == 0) printf("note: no real checkpoint under tests/data yet\n");
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_good_all_dtypes);
    tcase_add_test(tc, test_good_file_order_is_offset_order);
    tcase_add_test(tc, test_good_edge_shapes);
    tcase_add_test(tc, test_file_too_small);
    tcase_add_test(tc, test_header_len_beyond_file);
    tcase_add_test(tc, test_header_not_json);
    tcase_add_test(tc, test_truncated_data);
    tcase_add_test(tc, test_offsets_layout);
    tcase_add_test(tc, test_dtype_and_shape);
    tcase_add_test(tc, test_entry_keys);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_quote_and_shape_str);
    suite_add_tcase(s, tc);

    tc = tcase_create("set");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_index_parse);
    tcase_add_test(tc, test_set_single_and_sharded);
    tcase_add_test(tc, test_set_errors);
    tcase_add_test(tc, test_real_checkpoints);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(safetensors_suite)
