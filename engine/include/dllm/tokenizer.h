/* tokenizer.h -- Hugging Face tokenizer.json (byte-level BPE) tokenizer.
 *
 * Loads the `tokenizer.json` that ships with a checkpoint (LLaDA-8B-Instruct and models of
 * the same kind) and encodes text to exactly the ids the Hugging Face `tokenizers` library
 * produces for the same file and text with `add_special_tokens=False`, and decodes ids the
 * way its `decode()` does. It also builds the LLaDA-Instruct chat prompt.
 *
 * Supported file contents (anything else is rejected with DLLM_E_UNSUPPORTED naming the
 * type, or DLLM_E_FORMAT for malformed values; the message names the JSON field):
 *   model          "BPE": vocab, merges as "a b" strings or [a, b] pairs, ignore_merges,
 *                  unk_token/fuse_unk, byte_fallback; dropout null/0; no subword
 *                  prefix/suffix
 *   normalizer     null only
 *   pre_tokenizer  null, ByteLevel (add_prefix_space, use_regex), Split (Regex or String
 *                  pattern, every behavior, invert), or a Sequence of those
 *   added_tokens   special and non-special, with single_word / lstrip / rstrip / normalized;
 *                  their ids are assigned as the HF library does (the model vocab id when the
 *                  content is in the vocab, else consecutive ids from the vocab entry count
 *                  in file order), which equals the file's "id" fields in well-formed files
 *   decoder        ByteLevel
 *   post_processor parsed and ignored: encoding always has add_special_tokens=False
 *                  semantics (the chat helper adds BOS itself); truncation and padding are
 *                  ignored the same way (the engine applies its own length limits)
 *
 * Thread safety: a loaded tokenizer is immutable; every function below that takes a
 * `const dllm_tokenizer *` may run concurrently on the same handle from many threads.
 *
 * Error reporting: functions that take `char *err, size_t errn` write an actionable
 * one-line message there on failure (err may be NULL or errn 0 to skip it).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_TOKENIZER_H
#define DLLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dllm_tokenizer dllm_tokenizer;

/* Loads tokenizer.json from `path`. On success *out owns a new tokenizer (free it with
 * dllm_tokenizer_free); on failure *out is NULL. Errors: DLLM_E_IO (cannot read the file),
 * DLLM_E_FORMAT (not JSON, or a field has a wrong type/value; the message gives the file and
 * the field), DLLM_E_UNSUPPORTED (a valid but unsupported component), DLLM_E_NOMEM. */
dllm_status dllm_tokenizer_load(const char *path, dllm_tokenizer **out, char *err, size_t errn);

/* Same as dllm_tokenizer_load, from the `len` bytes at `json` (need not be NUL-terminated;
 * borrowed for the duration of the call only). */
dllm_status dllm_tokenizer_load_buffer(const char *json, size_t len, dllm_tokenizer **out,
                                       char *err, size_t errn);

/* Frees a tokenizer; NULL is a no-op. */
void dllm_tokenizer_free(dllm_tokenizer *t);

/* Encodes the UTF-8 text (`len` bytes; may contain NUL; text may be NULL when len is 0).
 *
 * parse_special != 0 matches the added tokens of the file (special and non-special) in the
 * text, as the HF library always does. parse_special == 0 treats the text as plain text: no
 * added token is matched (this is what the HF library does for the same file with an empty
 * `added_tokens` list; it is stricter than HF's `encode_special_tokens`, which still matches
 * non-special added tokens), so user text can never produce an added-token id.
 *
 * On success *ids is a malloc'd array (non-NULL, even when *n_ids is 0) that the caller
 * frees with free(). Errors: DLLM_E_INVALID_ARG (NULL arguments, or invalid UTF-8: the
 * message gives the byte offset), DLLM_E_NOMEM, DLLM_E_INTERNAL (regex engine failure). */
dllm_status dllm_tokenizer_encode(const dllm_tokenizer *t, const char *text, size_t len,
                                  int parse_special, int32_t **ids, size_t *n_ids, char *err,
                                  size_t errn);

/* Decodes ids to UTF-8 with the byte-level decoder, like HF `decode(ids, skip_special)`:
 * byte sequences that are not valid UTF-8 (partial characters from single tokens) become
 * U+FFFD, one per maximal invalid subpart, as Rust's String::from_utf8_lossy does.
 * skip_special != 0 drops special added tokens. On success *text is malloc'd and
 * NUL-terminated (the caller frees it) and *len is its length without the terminator (the
 * text may itself contain NUL bytes); len may be NULL. Errors: DLLM_E_INVALID_ARG (NULL
 * arguments, or an id that is not in the vocabulary: the message gives its position),
 * DLLM_E_NOMEM. */
dllm_status dllm_tokenizer_decode(const dllm_tokenizer *t, const int32_t *ids, size_t n,
                                  int skip_special, char **text, size_t *len, char *err,
                                  size_t errn);

/* Id of a token string (an added token's content or a model vocab entry, in that order of
 * precedence, like HF token_to_id); -1 if absent or if an argument is NULL. */
int32_t dllm_tokenizer_token_to_id(const dllm_tokenizer *t, const char *token);

/* String of an id (added token content or model vocab entry, in the file's byte-level
 * form, e.g. "Ġthe"); NULL if absent. The string is owned by the tokenizer and lives as
 * long as it does. */
const char *dllm_tokenizer_id_to_token(const dllm_tokenizer *t, int32_t id);

/* Max id + 1 over the model vocab and the added tokens (0 for NULL). */
size_t dllm_tokenizer_vocab_size(const dllm_tokenizer *t);

/* Builds the LLaDA-Instruct chat prompt (algorithms.md 13.6, Llama-3 style) and encodes it:
 *   <|startoftext|>[<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>]
 *   <|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n
 * The system part is present only when system != NULL. The special strings become their
 * ids; the texts between them (e.g. "\n\n{user}") are encoded as plain text with
 * parse_special = 0, so a user cannot inject added tokens. The result equals HF's encoding
 * of the rendered string when the messages contain no added-token strings (including the
 * lstrip/rstrip whitespace absorption of the template tokens). system and user are
 * NUL-terminated UTF-8. *ids is malloc'd as in dllm_tokenizer_encode.
 * Errors: DLLM_E_UNSUPPORTED naming the special token the tokenizer lacks,
 * DLLM_E_INVALID_ARG (NULL user, invalid UTF-8), DLLM_E_NOMEM. */
dllm_status dllm_tokenizer_apply_chat(const dllm_tokenizer *t, const char *system,
                                      const char *user, int32_t **ids, size_t *n_ids,
                                      char *err, size_t errn);

/* Ids of the LLaDA special tokens, -1 where the tokenizer lacks one. */
typedef struct dllm_tokenizer_specials {
    int32_t bos;           /* <|startoftext|> */
    int32_t eos;           /* <|endoftext|> */
    int32_t mask;          /* <|mdm_mask|> */
    int32_t start_header;  /* <|start_header_id|> */
    int32_t end_header;    /* <|end_header_id|> */
    int32_t eot;           /* <|eot_id|> */
} dllm_tokenizer_specials;

/* Fills *s with the ids of the LLaDA special tokens (-1 for missing ones). */
void dllm_tokenizer_get_specials(const dllm_tokenizer *t, dllm_tokenizer_specials *s);

/* Whether `id` is an added token marked special (what decode with skip_special drops). */
int dllm_tokenizer_is_special(const dllm_tokenizer *t, int32_t id);

#ifdef __cplusplus
}
#endif
#endif
