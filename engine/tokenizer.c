/* tokenizer.c -- loading tokenizer.json and the encode / decode / chat entry points.
 *
 * Loading parses the file with cJSON, validates every field it uses (wrong types, ids out
 * of range, merges naming unknown tokens, unsupported components: each a status plus a
 * message naming the JSON field) and builds the immutable structures of tokenizer_impl.h.
 * Encoding is: strict UTF-8 check -> added-token split -> pre-tokenizer pipeline per text
 * segment -> BPE per piece. Decoding maps ids back to strings, undoes the byte-level
 * alphabet and repairs invalid UTF-8 with U+FFFD.
 *
 * DESIGN
 * ------
 * - Fidelity target: the HF `tokenizers` library 0.23 (Rust), encode with
 *   add_special_tokens=False and decode. Where the file would make the library behave in
 *   a way that looks like a mistake (an added-token id that collides with a different
 *   vocab entry, an unk_token missing from the vocab, duplicate vocab ids or tokens), we
 *   reject the file with DLLM_E_FORMAT instead of silently following the library.
 * - Added token ids: the library ignores the "id" of each added token and assigns ids
 *   itself (the model vocab id if the content is in the vocab, otherwise the model vocab
 *   entry count, +1, ... in file order, only logging a warning when that differs from the
 *   file); we assign exactly the same ids. A file where such an id is also the id of a
 *   different model vocab entry is rejected (the library would make the id ambiguous).
 * - post_processor, truncation and padding are parsed for type only and ignored: the
 *   engine always encodes with add_special_tokens=False semantics and does its own length
 *   handling; dllm_tokenizer_apply_chat adds BOS explicitly.
 * - No global state: everything per call lives in a dllm_tok_scratch on the stack.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dllm/tokenizer.h"
#include "tokenizer_impl.h"
#include "util.h"

/* Largest tokenizer.json accepted (LLaDA's is ~10 MB). */
#define MAX_FILE_BYTES ((size_t)1 << 30)

/* GPT-2's pre-tokenizer regex, used by ByteLevel with use_regex = true. */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ---- small JSON helpers ---- */

/* Copies at most bufn - 4 bytes of s into buf for messages (cut at a character boundary,
 * "..." appended when cut). */
static const char *clip(const char *s, size_t n, char *buf, size_t bufn)
{
    size_t k = n < bufn - 4 ? n : bufn - 4;
    while (k > 0 && k < n && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    memcpy(buf, s, k);
    if (k < n) memcpy(buf + k, "...", 4);
    else buf[k] = '\0';
    return buf;
}

static int is_absent(const cJSON *j)
{
    return j == NULL || cJSON_IsNull(j);
}

/* Reads an optional boolean; absent/null keeps *out (the default). */
static dllm_status opt_bool(const cJSON *obj, const char *key, int *out, const char *path,
                            char *err, size_t errn)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (is_absent(j)) return DLLM_OK;
    if (!cJSON_IsBool(j))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s.%s: expected true or false", path, key);
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return DLLM_OK;
}

/* Reads an id: an integral number in [0, DLLM_TOK_MAX_ID]. */
static dllm_status json_id(const cJSON *j, int32_t *out, const char *what, char *err,
                           size_t errn)
{
    if (!cJSON_IsNumber(j))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: expected an integer id", what);
    double d = j->valuedouble;
    if (!(d >= 0.0 && d <= (double)DLLM_TOK_MAX_ID) || (double)(int32_t)d != d)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "%s: id %g is not an integer in [0, %d]", what, d, DLLM_TOK_MAX_ID);
    *out = (int32_t)d;
    return DLLM_OK;
}

static dllm_status check_utf8(const char *s, size_t n, const char *what, char *err, size_t errn)
{
    size_t bad;
    if (!dllm_tok_utf8_check(s, n, &bad))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: string is not valid UTF-8 (byte %zu)",
                         what, bad);
    return DLLM_OK;
}

/* Type string of a component object ("" when missing or not a string). */
static const char *type_of(const cJSON *obj)
{
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(ty) && ty->valuestring != NULL ? ty->valuestring : "";
}

/* ---- model ---- */

static dllm_status parse_vocab(dllm_tokenizer *t, const cJSON *vocab, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    char what[96], c1[64], c2[64];
    if (!cJSON_IsObject(vocab))
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "model.vocab: expected an object mapping token strings to ids");
    size_t count = 0;
    int32_t max_id = -1;
    for (const cJSON *e = vocab->child; e != NULL; e = e->next) {
        int32_t id = 0;
        snprintf(what, sizeof what, "model.vocab[\"%s\"]",
                 clip(e->string, strlen(e->string), c1, sizeof c1));
        DLLM_TRY(json_id(e, &id, what, err, errn));
        if (id > max_id) max_id = id;
        count++;
    }
    DLLM_TRY(dllm_tok_strmap_init(&t->vocab, count));
    t->model_n_ids = (size_t)(max_id + 1);
    t->vocab_str = calloc(t->model_n_ids ? t->model_n_ids : 1, sizeof *t->vocab_str);
    t->vocab_len = calloc(t->model_n_ids ? t->model_n_ids : 1, sizeof *t->vocab_len);
    if (t->vocab_str == NULL || t->vocab_len == NULL)
        return dllm_errf(err, errn, DLLM_E_NOMEM, "model.vocab: out of memory (%zu ids)",
                         t->model_n_ids);
    for (const cJSON *e = vocab->child; e != NULL; e = e->next) {
        size_t len = strlen(e->string);
        int32_t id = (int32_t)e->valuedouble; /* validated above */
        snprintf(what, sizeof what, "model.vocab[\"%s\"]", clip(e->string, len, c1, sizeof c1));
        DLLM_TRY(check_utf8(e->string, len, what, err, errn));
        if (t->vocab_str[id] != NULL)
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "model.vocab: id %d is used by both \"%s\" and \"%s\"", id,
                             clip(t->vocab_str[id], t->vocab_len[id], c1, sizeof c1),
                             clip(e->string, len, c2, sizeof c2));
        const char *s = dllm_tok_arena_strdup(&t->arena, e->string, len);
        if (s == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "model.vocab: out of memory");
        int present = 0;
        rc = dllm_tok_strmap_put(&t->vocab, s, len, id, &present, NULL);
        if (rc != DLLM_OK) return dllm_errf(err, errn, rc, "model.vocab: out of memory");
        if (present)
            return dllm_errf(err, errn, DLLM_E_FORMAT, "model.vocab: duplicate token \"%s\"",
                             clip(s, len, c1, sizeof c1));
        t->vocab_str[id] = s;
        t->vocab_len[id] = (uint32_t)len;
    }
    t->model_count = count;
    return DLLM_OK;
}

static dllm_status add_merge(dllm_tokenizer *t, size_t idx, uint32_t rank, const char *a,
                             size_t an, const char *b, size_t bn, dllm_tok_bytes *tmp,
                             char *err, size_t errn)
{
    char c1[64];
    int32_t ia = dllm_tok_strmap_get(&t->vocab, a, an);
    int32_t ib = dllm_tok_strmap_get(&t->vocab, b, bn);
    if (ia < 0 || ib < 0) {
        const char *miss = ia < 0 ? a : b;
        size_t mn = ia < 0 ? an : bn;
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "model.merges[%zu]: token \"%s\" is not in model.vocab", idx,
                         clip(miss, mn, c1, sizeof c1));
    }
    tmp->n = 0;
    dllm_status rc = dllm_tok_bytes_append(tmp, a, an);
    if (rc == DLLM_OK) rc = dllm_tok_bytes_append(tmp, b, bn);
    if (rc != DLLM_OK) return dllm_errf(err, errn, rc, "model.merges: out of memory");
    int32_t inew = dllm_tok_strmap_get(&t->vocab, tmp->p, tmp->n);
    if (inew < 0)
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "model.merges[%zu]: merged token \"%s\" is not in model.vocab", idx,
                         clip(tmp->p, tmp->n, c1, sizeof c1));
    rc = dllm_tok_pairmap_put(&t->merges, ia, ib, (dllm_tok_merge){rank, inew});
    if (rc != DLLM_OK) return dllm_errf(err, errn, rc, "model.merges: out of memory");
    return DLLM_OK;
}

static dllm_status parse_merges(dllm_tokenizer *t, const cJSON *merges, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_tok_bytes tmp = {0};
    char what[64];
    if (!cJSON_IsArray(merges))
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "model.merges: expected an array of \"a b\" strings or [a, b] pairs");
    int n = cJSON_GetArraySize(merges);
    DLLM_TRY(dllm_tok_pairmap_init(&t->merges, (size_t)n));
    int legacy = merges->child != NULL && cJSON_IsString(merges->child);
    uint32_t rank = 0;
    size_t idx = 0;
    for (const cJSON *e = merges->child; e != NULL; e = e->next, idx++) {
        snprintf(what, sizeof what, "model.merges[%zu]", idx);
        if (legacy) {
            if (!cJSON_IsString(e)) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                               "%s: expected a \"a b\" string like the other merges", what);
                goto out;
            }
            const char *s = e->valuestring;
            size_t len = strlen(s);
            if (strncmp(s, "#version", 8) == 0) continue; /* not counted in the ranks */
            DLLM_TRY_GOTO(check_utf8(s, len, what, err, errn), rc, out);
            const char *sp = memchr(s, ' ', len);
            if (sp == NULL || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)) != NULL) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                               "%s: \"%s\" must be two tokens separated by one space", what, s);
                goto out;
            }
            DLLM_TRY_GOTO(add_merge(t, idx, rank, s, (size_t)(sp - s), sp + 1,
                                    len - (size_t)(sp + 1 - s), &tmp, err, errn),
                          rc, out);
        } else {
            const cJSON *a = cJSON_IsArray(e) ? e->child : NULL;
            const cJSON *b = a != NULL ? a->next : NULL;
            if (a == NULL || b == NULL || b->next != NULL || !cJSON_IsString(a) ||
                !cJSON_IsString(b)) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                               "%s: expected a pair [\"a\", \"b\"] of token strings like the "
                               "other merges",
                               what);
                goto out;
            }
            size_t an = strlen(a->valuestring), bn = strlen(b->valuestring);
            DLLM_TRY_GOTO(check_utf8(a->valuestring, an, what, err, errn), rc, out);
            DLLM_TRY_GOTO(check_utf8(b->valuestring, bn, what, err, errn), rc, out);
            DLLM_TRY_GOTO(
                add_merge(t, idx, rank, a->valuestring, an, b->valuestring, bn, &tmp, err, errn),
                rc, out);
        }
        rank++;
    }
out:
    dllm_tok_bytes_deinit(&tmp);
    return rc;
}

static dllm_status parse_model(dllm_tokenizer *t, const cJSON *model, char *err, size_t errn)
{
    char c1[64];
    if (is_absent(model))
        return dllm_errf(err, errn, DLLM_E_FORMAT,
                         "model: missing; hint: a tokenizer.json needs a \"model\" object "
                         "with \"type\": \"BPE\"");
    if (!cJSON_IsObject(model))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "model: expected an object");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (ty != NULL && !cJSON_IsString(ty))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "model.type: expected a string");
    if (ty == NULL)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "model.type: missing (expected \"BPE\")");
    if (strcmp(ty->valuestring, "BPE") != 0)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "model.type \"%s\" is not supported; hint: only byte-level \"BPE\" "
                         "models are",
                         clip(ty->valuestring, strlen(ty->valuestring), c1, sizeof c1));

    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (!is_absent(dropout)) {
        if (!cJSON_IsNumber(dropout) || !(dropout->valuedouble >= 0.0) ||
            dropout->valuedouble > 1.0)
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "model.dropout: expected null or a number in [0, 1]");
        if (dropout->valuedouble > 0.0)
            return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                             "model.dropout %g is not supported (it makes encoding random); "
                             "hint: set it to null",
                             dropout->valuedouble);
    }
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
        if (is_absent(j)) continue;
        if (!cJSON_IsString(j))
            return dllm_errf(err, errn, DLLM_E_FORMAT, "model.%s: expected null or a string",
                             affixes[i]);
        if (j->valuestring[0] != '\0')
            return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                             "model.%s is not supported (byte-level BPE does not use it)",
                             affixes[i]);
    }
    t->fuse_unk = t->byte_fallback = t->ignore_merges = 0;
    DLLM_TRY(opt_bool(model, "fuse_unk", &t->fuse_unk, "model", err, errn));
    DLLM_TRY(opt_bool(model, "byte_fallback", &t->byte_fallback, "model", err, errn));
    DLLM_TRY(opt_bool(model, "ignore_merges", &t->ignore_merges, "model", err, errn));

    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (vocab == NULL || merges == NULL)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "model: missing \"%s\"",
                         vocab == NULL ? "vocab" : "merges");
    DLLM_TRY(parse_vocab(t, vocab, err, errn));
    DLLM_TRY(parse_merges(t, merges, err, errn));

    t->unk_id = -1;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (!is_absent(unk)) {
        if (!cJSON_IsString(unk))
            return dllm_errf(err, errn, DLLM_E_FORMAT, "model.unk_token: expected null or a string");
        size_t un = strlen(unk->valuestring);
        t->unk_id = dllm_tok_strmap_get(&t->vocab, unk->valuestring, un);
        if (t->unk_id < 0)
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "model.unk_token \"%s\" is not in model.vocab",
                             clip(unk->valuestring, un, c1, sizeof c1));
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_fallback_ids[b] = dllm_tok_strmap_get(&t->vocab, name, 6);
    }
    return DLLM_OK;
}

/* ---- added tokens ---- */

static dllm_status parse_added(dllm_tokenizer *t, const cJSON *arr, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    char what[64], c1[64], c2[64];
    int32_t max_id = t->model_n_ids > 0 ? (int32_t)t->model_n_ids - 1 : -1;
    if (is_absent(arr)) goto build;
    if (!cJSON_IsArray(arr))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "added_tokens: expected an array");
    size_t n = (size_t)cJSON_GetArraySize(arr);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (t->added == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "added_tokens: out of memory");
    DLLM_TRY(dllm_tok_strmap_init(&t->added_map, n));

    /* The library's id assignment: next id = model vocab size (entry count), see DESIGN. */
    int64_t next_id = (int64_t)t->model_count;
    size_t idx = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, idx++) {
        snprintf(what, sizeof what, "added_tokens[%zu]", idx);
        if (!cJSON_IsObject(e))
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: expected an object", what);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        const cJSON *jid = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (!cJSON_IsString(content))
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s.content: expected a string", what);
        if (jid == NULL)
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s.id: missing", what);
        int32_t file_id = 0;
        char idwhat[80];
        snprintf(idwhat, sizeof idwhat, "%s.id", what);
        DLLM_TRY(json_id(jid, &file_id, idwhat, err, errn));
        int special = 0, single_word = 0, lstrip = 0, rstrip = 0, normalized;
        DLLM_TRY(opt_bool(e, "special", &special, what, err, errn));
        normalized = !special;
        DLLM_TRY(opt_bool(e, "single_word", &single_word, what, err, errn));
        DLLM_TRY(opt_bool(e, "lstrip", &lstrip, what, err, errn));
        DLLM_TRY(opt_bool(e, "rstrip", &rstrip, what, err, errn));
        DLLM_TRY(opt_bool(e, "normalized", &normalized, what, err, errn));
        const char *cs = content->valuestring;
        size_t cn = strlen(cs);
        DLLM_TRY(check_utf8(cs, cn, what, err, errn));
        if (cn == 0) continue; /* the library ignores empty added tokens */

        int32_t slot = dllm_tok_strmap_get(&t->added_map, cs, cn);
        int64_t new_id;
        if (slot >= 0) new_id = t->added[slot].id;
        else {
            int32_t vid = dllm_tok_strmap_get(&t->vocab, cs, cn);
            new_id = vid >= 0 ? vid : next_id++;
        }
        /* The library uses new_id whatever the file says (it only logs a warning). */
        (void)file_id;
        if (new_id > DLLM_TOK_MAX_ID)
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: too many added tokens", what);
        int32_t id = (int32_t)new_id;
        if ((size_t)id < t->model_n_ids && t->vocab_str[id] != NULL &&
            (t->vocab_len[id] != cn || memcmp(t->vocab_str[id], cs, cn) != 0))
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "%s (\"%s\"): the tokenizers library assigns it id %d, which is the "
                             "model vocab id of \"%s\"; hint: the model vocab ids must be "
                             "0..N-1 without holes, or the added token must be in the vocab",
                             what, clip(cs, cn, c1, sizeof c1), id,
                             clip(t->vocab_str[id], t->vocab_len[id], c2, sizeof c2));
        if (slot < 0) {
            const char *s = dllm_tok_arena_strdup(&t->arena, cs, cn);
            if (s == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "added_tokens: out of memory");
            slot = (int32_t)t->n_added++;
            t->added[slot].content = s;
            t->added[slot].len = cn;
            t->added[slot].id = id;
            rc = dllm_tok_strmap_put(&t->added_map, s, cn, slot, NULL, NULL);
            if (rc != DLLM_OK) return dllm_errf(err, errn, rc, "added_tokens: out of memory");
        }
        dllm_tok_added *a = &t->added[slot]; /* a repeated content: the last flags win */
        a->special = (unsigned char)special;
        a->single_word = (unsigned char)single_word;
        a->lstrip = (unsigned char)lstrip;
        a->rstrip = (unsigned char)rstrip;
        a->normalized = (unsigned char)normalized;
        if (special) a->special_set = 1; /* the library never removes from its special set */
        if (id > max_id) max_id = id;
    }

build:
    t->n_ids = (size_t)(max_id + 1);
    t->added_of_id = malloc((t->n_ids ? t->n_ids : 1) * sizeof *t->added_of_id);
    if (t->added_of_id == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "added_tokens: out of memory");
    for (size_t i = 0; i < t->n_ids; i++) t->added_of_id[i] = -1;
    for (size_t i = 0; i < t->n_added; i++) {
        const dllm_tok_added *a = &t->added[i];
        t->added_of_id[a->id] = (int32_t)i;
        rc = dllm_tok_trie_insert(a->normalized ? &t->trie_norm : &t->trie_plain, a->content,
                                  a->len, (int32_t)i);
        if (rc != DLLM_OK) return dllm_errf(err, errn, rc, "added_tokens: out of memory");
    }
    return DLLM_OK;
}

/* ---- pre-tokenizer, normalizer, decoder, post-processor ---- */

static dllm_status push_step(dllm_tokenizer *t, dllm_tok_step st, size_t *cap)
{
    if (t->n_steps == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        dllm_tok_step *p = realloc(t->steps, c * sizeof *p);
        if (p == NULL) {
            pcre2_code_free(st.re);
            return DLLM_E_NOMEM;
        }
        t->steps = p;
        *cap = c;
    }
    t->steps[t->n_steps++] = st;
    return DLLM_OK;
}

static dllm_status parse_pretok(dllm_tokenizer *t, const cJSON *pt, const char *path,
                                size_t *cap, char *err, size_t errn)
{
    char sub[160], c1[64];
    if (is_absent(pt)) return DLLM_OK;
    if (!cJSON_IsObject(pt))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: expected an object or null", path);
    const char *ty = type_of(pt);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        if (!cJSON_IsArray(list))
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s.pretokenizers: expected an array",
                             path);
        size_t i = 0;
        for (const cJSON *e = list->child; e != NULL; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
            DLLM_TRY(parse_pretok(t, e, sub, cap, err, errn));
        }
        return DLLM_OK;
    }
    dllm_tok_step st = {0};
    if (strcmp(ty, "ByteLevel") == 0) {
        int add_prefix_space = 1, use_regex = 1; /* the library's defaults */
        DLLM_TRY(opt_bool(pt, "add_prefix_space", &add_prefix_space, path, err, errn));
        DLLM_TRY(opt_bool(pt, "use_regex", &use_regex, path, err, errn));
        st.kind = DLLM_TOK_STEP_BYTELEVEL;
        st.add_prefix_space = add_prefix_space;
        if (use_regex) {
            snprintf(sub, sizeof sub, "%s (GPT-2 regex)", path);
            DLLM_TRY(dllm_tok_regex_compile(gpt2_regex, sizeof gpt2_regex - 1, 0, &st.re, sub,
                                            err, errn));
        }
    } else if (strcmp(ty, "Split") == 0) {
        static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                            "MergedWithNext", "Contiguous"};
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
        if (!cJSON_IsString(beh))
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "%s.behavior: expected one of Removed, Isolated, "
                             "MergedWithPrevious, MergedWithNext, Contiguous",
                             path);
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(beh->valuestring, names[i]) == 0) found = i;
        if (found < 0)
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "%s.behavior \"%s\" is not one of Removed, Isolated, "
                             "MergedWithPrevious, MergedWithNext, Contiguous",
                             path, clip(beh->valuestring, strlen(beh->valuestring), c1, sizeof c1));
        st.kind = DLLM_TOK_STEP_SPLIT;
        st.behavior = (dllm_tok_behavior)found;
        DLLM_TRY(opt_bool(pt, "invert", &st.invert, path, err, errn));
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pt, "pattern");
        const cJSON *rx = cJSON_IsObject(pat) ? cJSON_GetObjectItemCaseSensitive(pat, "Regex") : NULL;
        const cJSON *lit = cJSON_IsObject(pat) ? cJSON_GetObjectItemCaseSensitive(pat, "String") : NULL;
        const cJSON *src = rx != NULL ? rx : lit;
        if (!cJSON_IsString(src))
            return dllm_errf(err, errn, DLLM_E_FORMAT,
                             "%s.pattern: expected {\"Regex\": \"...\"} or {\"String\": \"...\"}",
                             path);
        size_t pn = strlen(src->valuestring);
        snprintf(sub, sizeof sub, "%s.pattern", path);
        DLLM_TRY(check_utf8(src->valuestring, pn, sub, err, errn));
        DLLM_TRY(dllm_tok_regex_compile(src->valuestring, pn, src == lit, &st.re, sub, err, errn));
    } else {
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: pre-tokenizer type \"%s\" is not supported; hint: supported are "
                         "ByteLevel, Split and Sequence",
                         path, clip(ty, strlen(ty), c1, sizeof c1));
    }
    if (push_step(t, st, cap) != DLLM_OK)
        return dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", path);
    return DLLM_OK;
}

static dllm_status parse_components(dllm_tokenizer *t, const cJSON *root, char *err, size_t errn)
{
    char c1[64];
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!is_absent(norm)) {
        if (!cJSON_IsObject(norm))
            return dllm_errf(err, errn, DLLM_E_FORMAT, "normalizer: expected an object or null");
        const char *ty = type_of(norm);
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "normalizer type \"%s\" is not supported; hint: only tokenizers "
                         "without a normalizer (\"normalizer\": null) are",
                         clip(ty, strlen(ty), c1, sizeof c1));
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (is_absent(dec))
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "decoder: null is not supported; hint: only the ByteLevel decoder is");
    if (!cJSON_IsObject(dec))
        return dllm_errf(err, errn, DLLM_E_FORMAT, "decoder: expected an object");
    if (strcmp(type_of(dec), "ByteLevel") != 0)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "decoder type \"%s\" is not supported; hint: only ByteLevel is",
                         clip(type_of(dec), strlen(type_of(dec)), c1, sizeof c1));
    static const char *const ignored[] = {"post_processor", "truncation", "padding"};
    for (int i = 0; i < 3; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, ignored[i]);
        if (!is_absent(j) && !cJSON_IsObject(j))
            return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: expected an object or null",
                             ignored[i]);
    }
    size_t cap = 0;
    return parse_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"),
                        "pre_tokenizer", &cap, err, errn);
}

/* ---- load / free ---- */

void dllm_tokenizer_free(dllm_tokenizer *t)
{
    if (t == NULL) return;
    dllm_tok_strmap_deinit(&t->vocab);
    free(t->vocab_str);
    free(t->vocab_len);
    dllm_tok_pairmap_deinit(&t->merges);
    free(t->added);
    dllm_tok_strmap_deinit(&t->added_map);
    free(t->added_of_id);
    dllm_tok_trie_deinit(&t->trie_plain);
    dllm_tok_trie_deinit(&t->trie_norm);
    for (size_t i = 0; i < t->n_steps; i++) pcre2_code_free(t->steps[i].re);
    free(t->steps);
    pcre2_code_free(t->re_space);
    pcre2_code_free(t->re_word);
    dllm_tok_arena_deinit(&t->arena);
    free(t);
}

dllm_status dllm_tokenizer_load_buffer(const char *json, size_t len, dllm_tokenizer **out,
                                       char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_tokenizer *t = NULL;
    cJSON *root = NULL;
    if (out == NULL || (json == NULL && len > 0))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "tokenizer_load_buffer: NULL argument");
    *out = NULL;
    if (len == 0 || json == NULL)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "tokenizer.json is empty");

    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root == NULL) {
        size_t off = (end != NULL && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        size_t line = 1;
        for (size_t i = 0; i < off; i++)
            if (json[i] == '\n') line++;
        rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                       "tokenizer.json is not valid JSON (error near byte %zu, line %zu)", off,
                       line);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT, "tokenizer.json: top level must be an object");
        goto out;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!is_absent(ver) && (!cJSON_IsString(ver) || strcmp(ver->valuestring, "1.0") != 0)) {
        rc = dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                       "version: unknown tokenizer.json version (expected \"1.0\")");
        goto out;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "tokenizer: out of memory");
        goto out;
    }
    t->unk_id = -1;
    dllm_tok_bytelevel_init(&t->bl);
    DLLM_TRY_GOTO(parse_model(t, cJSON_GetObjectItemCaseSensitive(root, "model"), err, errn), rc,
                  out);
    DLLM_TRY_GOTO(parse_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err,
                              errn),
                  rc, out);
    DLLM_TRY_GOTO(parse_components(t, root, err, errn), rc, out);
    DLLM_TRY_GOTO(dllm_tok_helpers_compile(t, err, errn), rc, out);
    *out = t;
    t = NULL;
out:
    dllm_tokenizer_free(t);
    cJSON_Delete(root);
    return rc;
}

dllm_status dllm_tokenizer_load(const char *path, dllm_tokenizer **out, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    FILE *f = NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (path == NULL || out == NULL)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "tokenizer_load: NULL argument");
    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "cannot open tokenizer file '%s': %s", path,
                       strerror(errno));
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                               "tokenizer file '%s' is larger than %zu bytes", path,
                               MAX_FILE_BYTES);
                goto out;
            }
            size_t nc = cap ? cap * 2 : ((size_t)1 << 20);
            char *nb = realloc(buf, nc);
            if (nb == NULL) {
                rc = dllm_errf(err, errn, DLLM_E_NOMEM, "tokenizer file '%s': out of memory", path);
                goto out;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "cannot read tokenizer file '%s'", path);
        goto out;
    }
    rc = dllm_tokenizer_load_buffer(buf, n, out, err, errn);
    if (rc != DLLM_OK && err != NULL && errn > 0) {
        /* prefix the file name to the message */
        char *msg = strdup(err);
        if (msg != NULL) {
            snprintf(err, errn, "%s: %s", path, msg);
            free(msg);
        }
    }
out:
    if (f != NULL) fclose(f);
    free(buf);
    return rc;
}

/* ---- encode ---- */

/* Encodes text[0..n) (valid UTF-8) without added-token matching, appending to out. */
static dllm_status encode_plain(const dllm_tokenizer *t, const char *text, size_t n,
                                dllm_tok_ivec *out, dllm_tok_scratch *s)
{
    if (n == 0) return DLLM_OK;
    dllm_status rc = dllm_tok_pretokenize(t, text, n, s);
    if (rc != DLLM_OK) return rc;
    const dllm_tok_pieces *p = &s->pieces;
    for (size_t i = 0; i < p->n; i++) {
        rc = dllm_tok_bpe_word(t, p->text + p->spans[i].start,
                               p->spans[i].end - p->spans[i].start, out, s);
        if (rc != DLLM_OK) return rc;
    }
    return DLLM_OK;
}

static dllm_status check_text(const char *text, size_t len, const char *what, char *err,
                              size_t errn)
{
    size_t bad;
    if (!dllm_tok_utf8_check(text, len, &bad))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "%s is not valid UTF-8: byte 0x%02X at offset %zu does not start a "
                         "valid sequence",
                         what, (unsigned char)text[bad], bad);
    return DLLM_OK;
}

/* Hands the vector to the caller as a non-NULL malloc'd array. */
static dllm_status finish_ids(dllm_tok_ivec *v, int32_t **ids, size_t *n_ids, char *err,
                              size_t errn)
{
    if (v->p == NULL) {
        v->p = malloc(sizeof(int32_t));
        if (v->p == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "tokenizer: out of memory");
    }
    *ids = v->p;
    *n_ids = v->n;
    v->p = NULL;
    v->n = v->cap = 0;
    return DLLM_OK;
}

dllm_status dllm_tokenizer_encode(const dllm_tokenizer *t, const char *text, size_t len,
                                  int parse_special, int32_t **ids, size_t *n_ids, char *err,
                                  size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_tok_ivec out = {0};
    dllm_tok_scratch s;
    int have_scratch = 0;
    if (t == NULL || ids == NULL || n_ids == NULL || (text == NULL && len > 0))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "tokenizer_encode: NULL argument");
    *ids = NULL;
    *n_ids = 0;
    DLLM_TRY_GOTO(check_text(text, len, "text", err, errn), rc, out);
    DLLM_TRY_GOTO(dllm_tok_scratch_init(&s, err, errn), rc, out);
    have_scratch = 1;
    if (parse_special && t->n_added > 0) {
        DLLM_TRY_GOTO(dllm_tok_split_added(t, text, len, &s), rc, fail);
        /* segments are copied out: pretokenize reuses the scratch */
        for (size_t i = 0; i < s.n_segs; i++) {
            dllm_tok_seg g = s.segs[i];
            if (g.added >= 0) DLLM_TRY_GOTO(dllm_tok_ivec_push(&out, t->added[g.added].id), rc, fail);
            else DLLM_TRY_GOTO(encode_plain(t, text + g.start, g.end - g.start, &out, &s), rc, fail);
        }
    } else {
        DLLM_TRY_GOTO(encode_plain(t, text, len, &out, &s), rc, fail);
    }
    DLLM_TRY_GOTO(finish_ids(&out, ids, n_ids, err, errn), rc, out);
    goto out;
fail:
    if (rc == DLLM_E_NOMEM) dllm_errf(err, errn, rc, "tokenizer_encode: out of memory");
out:
    if (have_scratch) dllm_tok_scratch_deinit(&s);
    dllm_tok_ivec_deinit(&out);
    return rc;
}

/* ---- decode ---- */

static int is_special_str(const dllm_tokenizer *t, const char *s, size_t n)
{
    int32_t slot = dllm_tok_strmap_get(&t->added_map, s, n);
    return slot >= 0 && t->added[slot].special_set;
}

/* String of an id (added first, then model), or NULL. */
static const char *id_str(const dllm_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= t->n_ids) return NULL;
    int32_t slot = t->added_of_id[id];
    if (slot >= 0) {
        *len = t->added[slot].len;
        return t->added[slot].content;
    }
    if ((size_t)id < t->model_n_ids && t->vocab_str[id] != NULL) {
        *len = t->vocab_len[id];
        return t->vocab_str[id];
    }
    return NULL;
}

dllm_status dllm_tokenizer_decode(const dllm_tokenizer *t, const int32_t *ids, size_t n,
                                  int skip_special, char **text, size_t *len, char *err,
                                  size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_tok_bytes raw = {0}, res = {0};
    if (t == NULL || text == NULL || (ids == NULL && n > 0))
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "tokenizer_decode: NULL argument");
    *text = NULL;
    if (len != NULL) *len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t sn = 0;
        const char *s = id_str(t, ids[i], &sn);
        if (s == NULL) {
            rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                           "tokenizer_decode: id %d at position %zu is not in the vocabulary "
                           "(size %zu)",
                           ids[i], i, t->n_ids);
            goto out;
        }
        if (skip_special && is_special_str(t, s, sn)) continue;
        /* byte-level: every character must be in the alphabet, else the raw UTF-8 is kept */
        size_t start = raw.n;
        int all = 1;
        rc = dllm_tok_bytes_reserve(&raw, sn);
        if (rc != DLLM_OK) goto nomem;
        for (size_t k = 0; k < sn;) {
            size_t cl = dllm_tok_utf8_lead_len((unsigned char)s[k]);
            if (cl > sn - k) cl = sn - k;
            uint32_t cp = dllm_tok_utf8_decode((const unsigned char *)s + k, cl);
            if (cp >= 324 || t->bl.byte_of_cp[cp] < 0) {
                all = 0;
                break;
            }
            raw.p[raw.n++] = (char)t->bl.byte_of_cp[cp];
            k += cl;
        }
        if (!all) {
            raw.n = start;
            rc = dllm_tok_bytes_append(&raw, s, sn);
            if (rc != DLLM_OK) goto nomem;
        }
    }
    rc = dllm_tok_utf8_lossy_append(&res, (const unsigned char *)raw.p, raw.n);
    if (rc == DLLM_OK) rc = dllm_tok_bytes_reserve(&res, 0);
    if (rc != DLLM_OK) goto nomem;
    res.p[res.n] = '\0';
    *text = res.p;
    if (len != NULL) *len = res.n;
    res.p = NULL;
    goto out;
nomem:
    rc = dllm_errf(err, errn, DLLM_E_NOMEM, "tokenizer_decode: out of memory");
out:
    dllm_tok_bytes_deinit(&raw);
    dllm_tok_bytes_deinit(&res);
    return rc;
}

/* ---- lookups ---- */

int32_t dllm_tokenizer_token_to_id(const dllm_tokenizer *t, const char *token)
{
    if (t == NULL || token == NULL) return -1;
    size_t n = strlen(token);
    int32_t slot = dllm_tok_strmap_get(&t->added_map, token, n);
    if (slot >= 0) return t->added[slot].id;
    return dllm_tok_strmap_get(&t->vocab, token, n);
}

const char *dllm_tokenizer_id_to_token(const dllm_tokenizer *t, int32_t id)
{
    size_t n;
    return t == NULL ? NULL : id_str(t, id, &n);
}

size_t dllm_tokenizer_vocab_size(const dllm_tokenizer *t)
{
    return t == NULL ? 0 : t->n_ids;
}

int dllm_tokenizer_is_special(const dllm_tokenizer *t, int32_t id)
{
    size_t n;
    const char *s = t == NULL ? NULL : id_str(t, id, &n);
    return s != NULL && is_special_str(t, s, n);
}

void dllm_tokenizer_get_specials(const dllm_tokenizer *t, dllm_tokenizer_specials *s)
{
    s->bos = dllm_tokenizer_token_to_id(t, "<|startoftext|>");
    s->eos = dllm_tokenizer_token_to_id(t, "<|endoftext|>");
    s->mask = dllm_tokenizer_token_to_id(t, "<|mdm_mask|>");
    s->start_header = dllm_tokenizer_token_to_id(t, "<|start_header_id|>");
    s->end_header = dllm_tokenizer_token_to_id(t, "<|end_header_id|>");
    s->eot = dllm_tokenizer_token_to_id(t, "<|eot_id|>");
}

/* ---- chat template ---- */

/* One element of the rendered template: a special token name or a text (a, b joined). */
typedef struct chat_part {
    const char *special; /* token string, or NULL for text */
    const char *a, *b;   /* text = a followed by b (b may be NULL) */
} chat_part;

/* lstrip/rstrip flags of a template special (added token), 0 when it is a vocab entry. */
static void strip_flags(const dllm_tokenizer *t, const char *special, int *l, int *r)
{
    int32_t slot = dllm_tok_strmap_get(&t->added_map, special, strlen(special));
    *l = slot >= 0 ? t->added[slot].lstrip : 0;
    *r = slot >= 0 ? t->added[slot].rstrip : 0;
}

dllm_status dllm_tokenizer_apply_chat(const dllm_tokenizer *t, const char *system,
                                      const char *user, int32_t **ids, size_t *n_ids,
                                      char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_tok_ivec out = {0};
    dllm_tok_bytes text = {0};
    dllm_tok_scratch s;
    int have_scratch = 0;
    if (t == NULL || user == NULL || ids == NULL || n_ids == NULL)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "tokenizer_apply_chat: NULL argument");
    *ids = NULL;
    *n_ids = 0;
    static const char *const needed[] = {"<|startoftext|>", "<|start_header_id|>",
                                         "<|end_header_id|>", "<|eot_id|>"};
    for (int i = 0; i < 4; i++)
        if (dllm_tokenizer_token_to_id(t, needed[i]) < 0)
            return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                             "chat template: the tokenizer has no token \"%s\"; hint: this is "
                             "the LLaDA-Instruct (Llama-3 style) template",
                             needed[i]);
    if (system != NULL) DLLM_TRY(check_text(system, strlen(system), "system message", err, errn));
    DLLM_TRY(check_text(user, strlen(user), "user message", err, errn));

    chat_part parts[16];
    size_t np = 0;
    parts[np++] = (chat_part){"<|startoftext|>", NULL, NULL};
    if (system != NULL) {
        parts[np++] = (chat_part){"<|start_header_id|>", NULL, NULL};
        parts[np++] = (chat_part){NULL, "system", NULL};
        parts[np++] = (chat_part){"<|end_header_id|>", NULL, NULL};
        parts[np++] = (chat_part){NULL, "\n\n", system};
        parts[np++] = (chat_part){"<|eot_id|>", NULL, NULL};
    }
    parts[np++] = (chat_part){"<|start_header_id|>", NULL, NULL};
    parts[np++] = (chat_part){NULL, "user", NULL};
    parts[np++] = (chat_part){"<|end_header_id|>", NULL, NULL};
    parts[np++] = (chat_part){NULL, "\n\n", user};
    parts[np++] = (chat_part){"<|eot_id|>", NULL, NULL};
    parts[np++] = (chat_part){"<|start_header_id|>", NULL, NULL};
    parts[np++] = (chat_part){NULL, "assistant", NULL};
    parts[np++] = (chat_part){"<|end_header_id|>", NULL, NULL};
    parts[np++] = (chat_part){NULL, "\n\n", NULL};

    DLLM_TRY_GOTO(dllm_tok_scratch_init(&s, err, errn), rc, out);
    have_scratch = 1;
    for (size_t i = 0; i < np; i++) {
        if (parts[i].special != NULL) {
            rc = dllm_tok_ivec_push(&out, dllm_tokenizer_token_to_id(t, parts[i].special));
            if (rc != DLLM_OK) goto nomem;
            continue;
        }
        text.n = 0;
        rc = dllm_tok_bytes_append(&text, parts[i].a, strlen(parts[i].a));
        if (rc == DLLM_OK && parts[i].b != NULL)
            rc = dllm_tok_bytes_append(&text, parts[i].b, strlen(parts[i].b));
        if (rc != DLLM_OK) goto nomem;
        /* whitespace the neighbouring template tokens absorb (lstrip / rstrip) */
        size_t b = 0, e = text.n;
        int l, r;
        if (i > 0 && parts[i - 1].special != NULL) {
            strip_flags(t, parts[i - 1].special, &l, &r);
            if (r)
                while (b < e && dllm_tok_is_space_at(t, text.p, text.n, b, &s))
                    b += dllm_tok_utf8_lead_len((unsigned char)text.p[b]);
        }
        if (i + 1 < np && parts[i + 1].special != NULL) {
            strip_flags(t, parts[i + 1].special, &l, &r);
            if (l)
                while (e > b) {
                    size_t pc = e - 1;
                    while (pc > b && ((unsigned char)text.p[pc] & 0xC0) == 0x80) pc--;
                    if (!dllm_tok_is_space_at(t, text.p, text.n, pc, &s)) break;
                    e = pc;
                }
        }
        DLLM_TRY_GOTO(encode_plain(t, text.p + b, e - b, &out, &s), rc, fail);
    }
    DLLM_TRY_GOTO(finish_ids(&out, ids, n_ids, err, errn), rc, out);
    goto out;
nomem:
    rc = DLLM_E_NOMEM;
fail:
    if (rc == DLLM_E_NOMEM) dllm_errf(err, errn, rc, "tokenizer_apply_chat: out of memory");
out:
    if (have_scratch) dllm_tok_scratch_deinit(&s);
    dllm_tok_ivec_deinit(&out);
    dllm_tok_bytes_deinit(&text);
    return rc;
}
