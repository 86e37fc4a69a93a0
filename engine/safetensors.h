/* safetensors.h -- read-only, fully validated access to safetensors files and to the
 * set of tensors of a Hugging Face checkpoint directory (one file or an index + shards).
 *
 * A safetensors file is
 *
 *   +----------------+---------------------------+------------------------------+
 *   | N (u64 LE, 8B) | header: N bytes UTF-8 JSON | data region (file size-8-N)  |
 *   +----------------+---------------------------+------------------------------+
 *
 * and the header maps each tensor name to {"dtype", "shape", "data_offsets": [b, e]}
 * (offsets relative to the start of the data region), plus an optional "__metadata__"
 * string map. dllm_st_file is one such file, mmapped read-only, with its tensor table;
 * dllm_st_set is every tensor of a checkpoint directory, found through
 * model.safetensors or model.safetensors.index.json.
 *
 * DESIGN
 * ------
 * - Nothing in a file is trusted: every header entry is checked against the file before
 *   a dllm_st_tensor exists for it (the rules are listed above dllm_st_parse). A tensor
 *   view handed out is therefore always inside the mapping.
 * - Tensor data pointers are NOT aligned in general (the format only promises that the
 *   data region starts after the header; offsets are arbitrary). Read them with memcpy
 *   or dllm_convert_to_f32, never by casting to float * / uint16_t *.
 * - Everything is immutable after open; concurrent readers need no locking.
 * - Not handled: a file truncated by another process while mapped (the kernel then
 *   delivers SIGBUS on access); big-endian hosts (the format is little-endian).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_SAFETENSORS_H
#define DLLM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"
#include "dtype.h"

#define DLLM_ST_MAX_DIMS 8
/* Upper bound on the JSON header (the reference implementation uses the same 100 MB). */
#define DLLM_ST_MAX_HEADER ((uint64_t)100000000)
/* Upper bound on model.safetensors.index.json and on config.json sized reads. */
#define DLLM_ST_MAX_INDEX ((size_t)64 << 20)

/* One tensor of a checkpoint: a read-only view into a mapped file. Strings are owned by
 * the dllm_st_file that holds the tensor and live as long as it does. */
typedef struct dllm_st_tensor {
    const char *name;                /* "model.transformer.wte.weight" */
    dllm_dtype dtype;                /* F32, F16 or BF16 */
    int ndim;                        /* 0..DLLM_ST_MAX_DIMS (0 = scalar, one element) */
    int64_t shape[DLLM_ST_MAX_DIMS]; /* row-major; entries past ndim are 0 */
    int64_t numel;                   /* product of shape (1 for a scalar) */
    const void *data;                /* (numel) elements of dtype; NOT aligned in general */
    size_t nbytes;                   /* numel * dllm_dtype_size(dtype) */
    uint64_t offset;                 /* byte offset of data from the start of the file */
    const char *file;                /* display name of the file ("model-00001-of-00006...") */
} dllm_st_tensor;

/* One safetensors file (or in-memory image) and its validated tensor table. */
typedef struct dllm_st_file dllm_st_file;

/* One checkpoint's tensors across all of its files. */
typedef struct dllm_st_set dllm_st_set;

/* ---- single file ---- */

/* Parses and validates a complete safetensors image (header and data) held in memory.
 * `buf` (len bytes) is borrowed: the tensors' data pointers point into it, so it must
 * outlive the returned file. `name` is the display name used in messages and in each
 * tensor's `file` (copied). On success *out owns a new file (free with
 * dllm_st_file_free); on failure *out is NULL and err holds a message naming the file,
 * the tensor and the problem.
 *
 * The rules (all checked, in this order):
 *   - len >= 8; header length N (u64 little-endian) satisfies 2 <= N <= DLLM_ST_MAX_HEADER
 *     and N <= len - 8;
 *   - the header is valid UTF-8 without control bytes other than JSON whitespace, starts
 *     with '{', is one JSON object, and may be followed only by whitespace (padding);
 *   - "__metadata__", if present, is an object whose values are all strings;
 *   - every other key is a tensor: an object with exactly the keys "dtype", "shape",
 *     "data_offsets". dtype F32/F16/BF16 is accepted; any other dtype of the safetensors
 *     format (BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F64, F8_*, ...) gives
 *     DLLM_E_UNSUPPORTED, an unknown string DLLM_E_FORMAT. shape is an array of at most
 *     DLLM_ST_MAX_DIMS (more: DLLM_E_UNSUPPORTED) non-negative integers below 2^53;
 *     data_offsets is [begin, end] of such integers with begin <= end;
 *   - the element count and the byte size are computed without overflow and
 *     end - begin == numel * dtype size; end <= data size (len - 8 - N);
 *   - tensor names are unique;
 *   - sorted by offset, the tensors cover the data region exactly: the first begins at 0,
 *     each begins where the previous ends (no overlap, no gap) and the last ends at the
 *     data size (no trailing bytes). The format requires this and the reference
 *     implementation enforces it; it also makes truncation and corruption visible.
 * Errors: DLLM_E_FORMAT (any rule), DLLM_E_UNSUPPORTED (dtype, rank), DLLM_E_NOMEM. */
dllm_status dllm_st_parse(const void *buf, size_t len, const char *name, dllm_st_file **out,
                          char *err, size_t errn);

/* Opens `path`, mmaps it read-only and validates it as dllm_st_parse does. The display
 * name is the path's last component. Errors: DLLM_E_IO (open/stat/mmap failed, not a
 * regular file), plus those of dllm_st_parse. */
dllm_status dllm_st_file_open(const char *path, dllm_st_file **out, char *err, size_t errn);

/* Unmaps and frees; NULL is a no-op. Every tensor view of the file dies with it. */
void dllm_st_file_free(dllm_st_file *f);

/* Display name (last path component, or the name given to dllm_st_parse). */
const char *dllm_st_file_name(const dllm_st_file *f);

/* Number of tensors and the i-th in file order (ascending data offset). */
size_t dllm_st_file_count(const dllm_st_file *f);
const dllm_st_tensor *dllm_st_file_tensor(const dllm_st_file *f, size_t i);

/* The tensor called `name`, or NULL (binary search). */
const dllm_st_tensor *dllm_st_file_find(const dllm_st_file *f, const char *name);

/* Value of a "__metadata__" key, or NULL. */
const char *dllm_st_file_metadata(const dllm_st_file *f, const char *key);

/* Header length N and total size in bytes of the file. */
uint64_t dllm_st_file_header_len(const dllm_st_file *f);
uint64_t dllm_st_file_size(const dllm_st_file *f);

/* ---- index (model.safetensors.index.json) ---- */

typedef struct dllm_st_index_entry {
    const char *tensor; /* tensor name */
    const char *file;   /* shard file name: a plain name, no directory part */
} dllm_st_index_entry;

typedef struct dllm_st_index {
    dllm_st_index_entry *entries; /* (n_entries) sorted by tensor name */
    size_t n_entries;
    const char **files; /* (n_files) distinct shard names, sorted */
    size_t n_files;
    double total_size; /* metadata.total_size, or -1 when absent (recorded, not checked) */
    char *arena;       /* owns every string above */
} dllm_st_index;

/* Parses an index JSON document from memory (`json`, len bytes, need not be
 * NUL-terminated; `name` is used in messages). Rules: a JSON object; "weight_map" is a
 * non-empty object of tensor name -> string; each file name is a plain file name (not
 * empty, not "." or "..", no '/' or '\\', no control characters, at most 255 bytes);
 * tensor names are unique; "metadata", if present, is an object and its "total_size", if
 * present, a non-negative number. Other top-level keys are ignored. On success fills
 * *idx (release with dllm_st_index_deinit). Errors: DLLM_E_FORMAT, DLLM_E_NOMEM. */
dllm_status dllm_st_index_parse(const char *json, size_t len, const char *name, dllm_st_index *idx,
                                char *err, size_t errn);

/* Frees what dllm_st_index_parse allocated; a zeroed struct is a no-op. */
void dllm_st_index_deinit(dllm_st_index *idx);

/* ---- checkpoint tensor set ---- */

/* Opens every tensor of the checkpoint directory `dir`:
 *   - if dir/model.safetensors exists it is the only file (as transformers prefers it);
 *   - else dir/model.safetensors.index.json is parsed (dllm_st_index_parse) and each
 *     shard it names is opened from dir (symbolic links are followed: the Hugging Face
 *     cache stores snapshots as links into blobs/; only the *name* must be plain);
 *   - else DLLM_E_IO naming both files.
 * With an index, every tensor it lists must exist in the shard it names, and every tensor
 * of a shard must be listed, with that shard. Tensor names must be unique across all
 * files. Errors: DLLM_E_IO, DLLM_E_FORMAT, DLLM_E_UNSUPPORTED, DLLM_E_NOMEM, each with a
 * message naming the file (and tensor). On success *out owns the set. */
dllm_status dllm_st_set_open_dir(const char *dir, dllm_st_set **out, char *err, size_t errn);

/* A set made of one safetensors file at `path` (no index). */
dllm_status dllm_st_set_open_file(const char *path, dllm_st_set **out, char *err, size_t errn);

/* Frees every file of the set; NULL is a no-op. */
void dllm_st_set_free(dllm_st_set *s);

/* Number of tensors and the i-th in file order: files in the order of their names, then
 * ascending data offset inside each file. */
size_t dllm_st_set_count(const dllm_st_set *s);
const dllm_st_tensor *dllm_st_set_tensor(const dllm_st_set *s, size_t i);

/* The tensor called `name`, or NULL (binary search over all files). */
const dllm_st_tensor *dllm_st_set_find(const dllm_st_set *s, const char *name);

/* Number of files and the i-th (sorted by name). */
size_t dllm_st_set_n_files(const dllm_st_set *s);
const dllm_st_file *dllm_st_set_file(const dllm_st_set *s, size_t i);

/* Whether the set came from model.safetensors.index.json. */
int dllm_st_set_is_sharded(const dllm_st_set *s);

/* ---- helpers ---- */

/* Maps a safetensors dtype string onto dllm_dtype. Returns DLLM_OK for F32/F16/BF16,
 * DLLM_E_UNSUPPORTED for the format's other dtypes, DLLM_E_FORMAT for unknown strings. */
dllm_status dllm_st_dtype_from_string(const char *s, dllm_dtype *out);

/* Writes a printable, length-limited copy of `s` into buf (control bytes become '?', long
 * strings end in "..."), for quoting untrusted names in messages. Returns buf. */
const char *dllm_st_quote(char *buf, size_t n, const char *s);

/* Formats "[d0, d1, ...]" into buf; returns buf. */
const char *dllm_st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

#endif
