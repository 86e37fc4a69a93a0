/* tokenizer_impl.h -- internals of the tokenizer.json tokenizer, shared by its modules.
 *
 * The tokenizer is split into:
 *   tokenizer.c         loading and validating tokenizer.json, encode/decode/chat driver
 *   tokenizer_map.c     open-addressing hash maps (token string -> id, id pair -> merge)
 *   tokenizer_text.c    UTF-8 validation, lossy UTF-8 repair, the byte-level alphabet,
 *                       growable buffers, the string arena
 *   tokenizer_pretok.c  pre-tokenizer pipeline (Split / ByteLevel over PCRE2) and the
 *                       added-token trie matcher
 *   tokenizer_bpe.c     the BPE merge loop of one pre-tokenized word
 * Nothing here is included from worker/ code; the public contract is dllm/tokenizer.h.
 *
 * DESIGN
 * ------
 * - A loaded tokenizer is immutable. All per-call state (piece lists, symbol arrays, the
 *   merge heap, PCRE2 match data and JIT stack) lives in a dllm_tok_scratch owned by the
 *   call, so concurrent encodes on one handle are safe and nothing is cached globally.
 * - Strings of the vocabulary and the added tokens live in one arena (stable pointers,
 *   NUL-terminated, lengths kept alongside); maps borrow them.
 * - Ids are int32 in [0, DLLM_TOK_MAX_ID]; the id -> string tables are dense arrays of
 *   that size with NULL holes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_TOKENIZER_IMPL_H
#define DLLM_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"
#include "dllm/tokenizer.h"

/* Largest id accepted in a file: bounds the dense id tables (16M ids, 128 MiB of pointers
 * at most; real vocabularies are < 300k). */
#define DLLM_TOK_MAX_ID ((int32_t)((1 << 24) - 1))

/* ---- growable buffers and arena (tokenizer_text.c) ---- */

typedef struct dllm_tok_bytes { /* growable byte buffer */
    char *p;
    size_t n, cap;
} dllm_tok_bytes;

typedef struct dllm_tok_ivec { /* growable int32 vector */
    int32_t *p;
    size_t n, cap;
} dllm_tok_ivec;

typedef struct dllm_tok_arena_block {
    struct dllm_tok_arena_block *next;
    size_t used, cap;
    char data[];
} dllm_tok_arena_block;

typedef struct dllm_tok_arena { /* bump allocator for strings; freed all at once */
    dllm_tok_arena_block *head;
} dllm_tok_arena;

dllm_status dllm_tok_bytes_reserve(dllm_tok_bytes *b, size_t extra);
dllm_status dllm_tok_bytes_append(dllm_tok_bytes *b, const void *src, size_t n);
void dllm_tok_bytes_deinit(dllm_tok_bytes *b);
dllm_status dllm_tok_ivec_push(dllm_tok_ivec *v, int32_t x);
void dllm_tok_ivec_deinit(dllm_tok_ivec *v);
/* Copies s[0..n) into the arena with a NUL terminator; NULL when out of memory. */
const char *dllm_tok_arena_strdup(dllm_tok_arena *a, const char *s, size_t n);
void dllm_tok_arena_deinit(dllm_tok_arena *a);

/* ---- UTF-8 (tokenizer_text.c) ---- */

/* Returns the length (1..4) of the valid UTF-8 character at s[i] (i < n), or 0 if the bytes
 * there do not start a valid character (overlong, surrogate, > U+10FFFF, truncated, stray
 * continuation byte). Same acceptance as Rust's str. */
size_t dllm_tok_utf8_valid_len(const unsigned char *s, size_t n, size_t i);

/* Length of the character whose lead byte is b, for text already validated. */
size_t dllm_tok_utf8_lead_len(unsigned char b);

/* Decodes the character at s (valid UTF-8) into its code point. */
uint32_t dllm_tok_utf8_decode(const unsigned char *s, size_t len);

/* Writes code point cp as UTF-8 into out (>= 4 bytes); returns the length. */
size_t dllm_tok_utf8_encode(uint32_t cp, unsigned char *out);

/* Checks that s[0..n) is valid UTF-8. On failure stores the offset of the first invalid
 * byte in *bad_off and returns 0. */
int dllm_tok_utf8_check(const char *s, size_t n, size_t *bad_off);

/* Appends s[0..n) to out, replacing each maximal invalid subpart with U+FFFD
 * (String::from_utf8_lossy). */
dllm_status dllm_tok_utf8_lossy_append(dllm_tok_bytes *out, const unsigned char *s, size_t n);

/* Byte-level alphabet (GPT-2 bytes_to_unicode): byte b <-> code point. */
typedef struct dllm_tok_bytelevel {
    unsigned char utf8[256][2]; /* UTF-8 of the code point of each byte */
    unsigned char len[256];     /* 1 or 2 */
    int16_t byte_of_cp[324];    /* inverse: code point (< 324) -> byte, -1 if none */
} dllm_tok_bytelevel;

void dllm_tok_bytelevel_init(dllm_tok_bytelevel *bl);

/* ---- hash maps (tokenizer_map.c) ---- */

typedef struct dllm_tok_strmap_slot {
    const char *key; /* borrowed; NULL = empty slot */
    uint32_t len;
    uint32_t hash;
    int32_t val;
} dllm_tok_strmap_slot;

typedef struct dllm_tok_strmap { /* byte string -> int32 (>= 0), linear probing */
    dllm_tok_strmap_slot *slots;
    size_t cap; /* power of two, 0 when unallocated */
    size_t count;
} dllm_tok_strmap;

dllm_status dllm_tok_strmap_init(dllm_tok_strmap *m, size_t expected);
void dllm_tok_strmap_deinit(dllm_tok_strmap *m);
/* Inserts or overwrites key -> val; *was_present (may be NULL) says which, *old_val (may be
 * NULL) receives the previous value when there was one. The key memory is borrowed. */
dllm_status dllm_tok_strmap_put(dllm_tok_strmap *m, const char *key, size_t len, int32_t val,
                                int *was_present, int32_t *old_val);
/* Value of key, or -1. */
int32_t dllm_tok_strmap_get(const dllm_tok_strmap *m, const char *key, size_t len);

typedef struct dllm_tok_merge {
    uint32_t rank;  /* position in the merges list (lower merges first) */
    int32_t new_id; /* id of the concatenated token */
} dllm_tok_merge;

typedef struct dllm_tok_pairmap_slot {
    uint64_t key; /* (left id << 32) | right id; UINT64_MAX = empty */
    dllm_tok_merge m;
} dllm_tok_pairmap_slot;

typedef struct dllm_tok_pairmap { /* (id, id) -> merge, linear probing */
    dllm_tok_pairmap_slot *slots;
    size_t cap;
    size_t count;
} dllm_tok_pairmap;

dllm_status dllm_tok_pairmap_init(dllm_tok_pairmap *m, size_t expected);
void dllm_tok_pairmap_deinit(dllm_tok_pairmap *m);
/* Inserts or overwrites (a, b) -> merge (a later duplicate wins, as in HF). */
dllm_status dllm_tok_pairmap_put(dllm_tok_pairmap *m, int32_t a, int32_t b, dllm_tok_merge mg);
/* The merge of (a, b), or NULL. */
const dllm_tok_merge *dllm_tok_pairmap_get(const dllm_tok_pairmap *m, int32_t a, int32_t b);

/* ---- pre-tokenizer and added tokens (tokenizer_pretok.c) ---- */

typedef enum dllm_tok_behavior {
    DLLM_TOK_REMOVED = 0,
    DLLM_TOK_ISOLATED,
    DLLM_TOK_MERGED_WITH_PREVIOUS,
    DLLM_TOK_MERGED_WITH_NEXT,
    DLLM_TOK_CONTIGUOUS,
} dllm_tok_behavior;

typedef enum dllm_tok_step_kind {
    DLLM_TOK_STEP_SPLIT = 0,
    DLLM_TOK_STEP_BYTELEVEL,
} dllm_tok_step_kind;

typedef struct dllm_tok_step { /* one pre-tokenizer of the (flattened) pipeline */
    dllm_tok_step_kind kind;
    pcre2_code *re;             /* Split regex, or GPT-2 regex of ByteLevel use_regex; or NULL */
    dllm_tok_behavior behavior; /* Split */
    int invert;                 /* Split */
    int add_prefix_space;       /* ByteLevel */
} dllm_tok_step;

typedef struct dllm_tok_trie_node {
    int32_t first_child;  /* -1 = none */
    int32_t next_sibling; /* -1 = none */
    int32_t token;        /* index into dllm_tokenizer.added, -1 = no token ends here */
    unsigned char byte;
} dllm_tok_trie_node;

typedef struct dllm_tok_trie { /* byte trie of added-token contents; node 0 = root */
    dllm_tok_trie_node *nodes;
    size_t n, cap;
    int32_t root_child[256]; /* child of the root for each first byte, -1 = none */
} dllm_tok_trie;

typedef struct dllm_tok_added {
    const char *content; /* arena, NUL-terminated */
    size_t len;
    int32_t id;
    unsigned char special, single_word, lstrip, rstrip, normalized;
    unsigned char special_set; /* content is in HF's special_tokens_set (decode skip) */
} dllm_tok_added;

/* ---- the tokenizer ---- */

struct dllm_tokenizer {
    dllm_tok_arena arena;

    /* model (BPE) */
    dllm_tok_strmap vocab;   /* token string -> id */
    const char **vocab_str;  /* (model_n_ids) id -> string (arena) or NULL */
    uint32_t *vocab_len;     /* (model_n_ids) */
    size_t model_n_ids;      /* max model id + 1 */
    size_t model_count;      /* number of vocab entries (HF's model vocab size) */
    dllm_tok_pairmap merges; /* (left, right) -> (rank, new id) */
    int32_t unk_id;          /* -1 = no unk token */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_fallback_ids[256]; /* id of "<0xXX>" or -1 */

    /* added tokens */
    dllm_tok_added *added; /* (n_added) one per distinct id */
    size_t n_added;
    dllm_tok_strmap added_map;  /* content -> index into added */
    int32_t *added_of_id;       /* (n_ids) id -> index into added, -1 */
    dllm_tok_trie trie_plain;   /* normalized == false tokens, matched first */
    dllm_tok_trie trie_norm;    /* normalized == true tokens, matched in the gaps */

    size_t n_ids; /* max id + 1 over vocab and added tokens */

    /* pre-tokenizer pipeline */
    dllm_tok_step *steps;
    size_t n_steps;
    pcre2_code *re_space; /* one White_Space char (lstrip/rstrip) */
    pcre2_code *re_word;  /* one \w char as Rust's regex crate defines it (single_word) */

    dllm_tok_bytelevel bl;
};

/* Span [start, end) of a piece in a dllm_tok_pieces buffer. */
typedef struct dllm_tok_span {
    size_t start, end;
} dllm_tok_span;

/* Pieces of text during pre-tokenization: spans into `text` (which is either borrowed input
 * or `own`). Split steps rewrite spans only; ByteLevel rewrites the text too. */
typedef struct dllm_tok_pieces {
    const char *text;
    dllm_tok_bytes own, own2;
    dllm_tok_span *spans, *spans2; /* current pieces, next step's pieces */
    size_t n, cap, n2, cap2;
} dllm_tok_pieces;

/* Added-token split of a text: [start, end) with the added-token index, or -1 for text. */
typedef struct dllm_tok_seg {
    size_t start, end;
    int32_t added;
} dllm_tok_seg;

typedef struct dllm_tok_bpe_sym {
    int32_t id;
    int32_t prev, next; /* -1 = none */
    uint32_t len;       /* bytes covered; 0 = merged away */
} dllm_tok_bpe_sym;

typedef struct dllm_tok_heap_ent {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
} dllm_tok_heap_ent;

/* Per-call scratch (never shared between threads). */
typedef struct dllm_tok_scratch {
    dllm_tok_pieces pieces;
    dllm_tok_seg *segs, *segs2;
    size_t n_segs, cap_segs, n_segs2, cap_segs2;
    dllm_tok_seg *raw; /* regex split of one piece; `added` = is-match flag */
    size_t n_raw, cap_raw;
    dllm_tok_bpe_sym *syms;
    size_t cap_syms;
    dllm_tok_heap_ent *heap;
    size_t cap_heap;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit; /* created on the first JIT stack overflow */
    size_t jit_size;
    char *err;  /* the caller's error buffer */
    size_t errn;
} dllm_tok_scratch;

dllm_status dllm_tok_scratch_init(dllm_tok_scratch *s, char *err, size_t errn);
void dllm_tok_scratch_deinit(dllm_tok_scratch *s);

/* Compiles a Split/ByteLevel regex written for Oniguruma (the HF library's engine) with
 * PCRE2 (UTF + UCP), translating the escapes whose meaning differs (\s, \S, \w, \W, \h).
 * `what` names the JSON field for messages. */
dllm_status dllm_tok_regex_compile(const char *pattern, size_t len, int literal,
                                   pcre2_code **out, const char *what, char *err,
                                   size_t errn);

/* Compiles the tokenizer's fixed helper regexes (re_space, re_word). */
dllm_status dllm_tok_helpers_compile(dllm_tokenizer *t, char *err, size_t errn);

/* Runs the pre-tokenizer pipeline on text[0..n) (valid UTF-8, non-empty); the resulting
 * pieces are s->pieces. */
dllm_status dllm_tok_pretokenize(const dllm_tokenizer *t, const char *text, size_t n,
                                 dllm_tok_scratch *s);

/* Inserts content -> token index into a trie. */
dllm_status dllm_tok_trie_insert(dllm_tok_trie *tr, const char *content, size_t len,
                                 int32_t token);
void dllm_tok_trie_deinit(dllm_tok_trie *tr);

/* Splits text[0..n) on added tokens exactly as HF's AddedVocabulary::extract_and_normalize
 * (non-normalized tokens over the whole text first, then normalized tokens in the gaps,
 * leftmost-longest, with single_word / lstrip / rstrip). Result in s->segs / s->n_segs. */
dllm_status dllm_tok_split_added(const dllm_tokenizer *t, const char *text, size_t n,
                                 dllm_tok_scratch *s);

/* Whether the character at text[i] (valid UTF-8) is White_Space. */
int dllm_tok_is_space_at(const dllm_tokenizer *t, const char *text, size_t n, size_t i,
                         dllm_tok_scratch *s);

/* ---- BPE (tokenizer_bpe.c) ---- */

/* Tokenizes one pre-tokenized word w[0..n) (valid UTF-8, n > 0) with the BPE model and
 * appends the ids to out. */
dllm_status dllm_tok_bpe_word(const dllm_tokenizer *t, const char *w, size_t n,
                              dllm_tok_ivec *out, dllm_tok_scratch *s);

#endif
