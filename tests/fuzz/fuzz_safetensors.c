/* fuzz_safetensors.c -- libFuzzer target: arbitrary bytes as a safetensors file image
 * (dllm_st_parse) and as a model.safetensors.index.json (dllm_st_index_parse).
 *
 * Each input is also tried as a bare header: the image is then u64(size - 2) + the first
 * size - 2 bytes + a zeroed data region whose length is the last two bytes (little-endian),
 * so that mutations of valid header JSON reach the offset and layout checks instead of
 * dying at the length prefix.
 *
 * Neither parser may crash, leak or read outside the input, whatever the bytes. On
 * success every tensor view is touched at both ends, so ASan reports any view that
 * escapes the buffer, and the invariants the loader promises are asserted (abort() is
 * how a fuzz target reports a finding). The input is copied into an exactly-sized heap
 * buffer so that reads past the end are caught.
 *
 * Build: CC=clang-14 cmake -DDLLM_FUZZ=ON ...; run: build-fuzz-load/bin/fuzz_safetensors
 *        tests/fuzz/corpus/fuzz_safetensors
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_file(const dllm_st_file *f, const unsigned char *buf, size_t len)
{
    size_t i, n = dllm_st_file_count(f);
    uint64_t prev_end = 8 + dllm_st_file_header_len(f);
    volatile unsigned char sink = 0;

    for (i = 0; i < n; i++) {
        const dllm_st_tensor *t = dllm_st_file_tensor(f, i);
        const unsigned char *p = t->data;
        if (p < buf || (size_t)(p - buf) > len || t->nbytes > len - (size_t)(p - buf)) abort();
        if (t->offset != prev_end) abort(); /* contiguous, in file order */
        if (t->nbytes != (size_t)t->numel * dllm_dtype_size(t->dtype)) abort();
        if (dllm_st_file_find(f, t->name) != t) abort();
        if (t->nbytes > 0) sink ^= p[0] ^ p[t->nbytes - 1];
        prev_end = t->offset + t->nbytes;
    }
    if (prev_end != len) abort(); /* the tensors cover the data region */
    (void)sink;
}

static void parse_image(const unsigned char *buf, size_t len)
{
    dllm_st_file *f = NULL;
    char err[512];

    err[0] = '\0';
    if (dllm_st_parse(buf, len, "fuzz.safetensors", &f, err, sizeof err) == DLLM_OK) {
        check_file(f, buf, len);
        dllm_st_file_free(f);
    } else if (f != NULL || strlen(err) == 0) {
        abort(); /* failures leave *out NULL and always explain themselves */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = calloc(size ? size : 1, 1);
    dllm_st_index idx;
    char err[512];

    if (buf == NULL) return 0;
    if (size) memcpy(buf, data, size);
    parse_image(buf, size);
    if (size >= 2) { /* bare header + synthesized data region */
        size_t h = size - 2, dlen = (size_t)data[size - 2] | (size_t)data[size - 1] << 8, i;
        unsigned char *img = calloc(8 + h + dlen, 1);
        if (img != NULL) {
            for (i = 0; i < 8; i++)
                img[i] = (unsigned char)((uint64_t)h >> (8 * i));
            memcpy(img + 8, data, h);
            parse_image(img, 8 + h + dlen);
            free(img);
        }
    }
    if (dllm_st_index_parse((const char *)buf, size, "fuzz.index.json", &idx, err, sizeof err) ==
        DLLM_OK) {
        size_t i;
        if (idx.n_entries == 0 || idx.n_files == 0 || idx.n_files > idx.n_entries) abort();
        for (i = 0; i < idx.n_entries; i++)
            if (strchr(idx.entries[i].file, '/') != NULL) abort();
        dllm_st_index_deinit(&idx);
    }
    free(buf);
    return 0;
}
