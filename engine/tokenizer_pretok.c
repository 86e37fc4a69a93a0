/* tokenizer_pretok.c -- the pre-tokenizer pipeline (Split, ByteLevel) over PCRE2, and the
 * added-token matcher.
 *
 * Text flows through the tokenizer as:
 *
 *   input --split_added--> segments: [text][added][text]...   (added -> its id directly)
 *   text segment --step 1..k--> pieces --BPE each--> ids
 *
 * DESIGN
 * ------
 * - Regex engine: the HF library runs Split/ByteLevel regexes with Oniguruma. We use PCRE2
 *   (UTF + UCP, JIT when available) and translate the escapes whose Unicode meaning
 *   differs: Oniguruma's \s is the White_Space property (it includes U+0085, PCRE2's does
 *   not), its \w is Alphabetic|M|Nd|Pc plus, outside classes, a few Latin-1 numbers
 *   (PCRE2 10.42: L|N|_), \b and \B follow that \w (so they become lookarounds), its \h
 *   is a hex digit. \p{L}, \p{N}, \d, (?i:...) and lookarounds behave the same. All this
 *   was measured against the library: every code point assigned in Unicode 14 classifies
 *   identically (tests/parity, tokenizer_parity_unicode).
 * - Unicode versions: Debian 12's PCRE2 10.42 has Unicode 14 tables, the library's
 *   Oniguruma has Unicode 16; characters assigned after 14.0 may split differently.
 * - Matches are iterated like the onig crate's find_iter (an empty match right after the
 *   previous match is skipped by advancing one character).
 * - Not handled: Oniguruma-only syntax (nested classes `[a&&b]`, \W or \H inside a class
 *   are rejected; anchors ^ $ follow PCRE2 semantics, untested against the library).
 * - Each text segment is pre-tokenized on its own (regexes never see neighbouring
 *   segments), as HF's PreTokenizedString does; empty pieces are dropped after every step.
 * - Split behaviors (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)
 *   and invert follow NormalizedString::split.
 * - ByteLevel: optional prefix space per piece (when it does not start with ' '), optional
 *   GPT-2 regex split, then every byte becomes its byte-level character.
 * - Added tokens: a byte trie; the leftmost-longest match is found by trying each start
 *   position (O(n * longest token)); a match discarded by single_word still consumes its
 *   span, and lstrip/rstrip use White_Space, single_word uses \w, all as
 *   AddedVocabulary::find_matches does.
 * - JIT stack: 32 KiB by default; on overflow a per-call stack is allocated and doubled up
 *   to 1 GiB. Match/depth limits are lifted: the Llama-3 and GPT-2 patterns run in linear
 *   time (every backtrack is bounded by the run the match then consumes), and a
 *   pathological user pattern costs time, not a failure.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"
#include "util.h"

/* Word characters as Rust's regex crate defines \w (used for added tokens' single_word). */
#define WORD_CLASS "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}"
/* Word characters as Oniguruma 6.9 classifies \w for UTF-8 (Split / ByteLevel regexes),
 * measured against the HF library. Inside a character class ([\w], [^\w...]) it is
 * Alphabetic | Mark | Decimal_Number | Connector_Punctuation (no Join_Control); a bare \w
 * (and \W, \b, \B) also takes, from its Latin-1 ctype table, the superscript digits and
 * vulgar fractions U+00B2 U+00B3 U+00B9 U+00BC..U+00BE. */
#define ONIG_WORD_IN_CLASS "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}"
#define ONIG_WORD ONIG_WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}"
#define ONIG_WB "(?:(?<=[" ONIG_WORD "])(?![" ONIG_WORD "])|(?<![" ONIG_WORD "])(?=[" ONIG_WORD "]))"
#define ONIG_NWB "(?:(?<=[" ONIG_WORD "])(?=[" ONIG_WORD "])|(?<![" ONIG_WORD "])(?![" ONIG_WORD "]))"

/* ---- scratch ---- */

dllm_status dllm_tok_scratch_init(dllm_tok_scratch *s, char *err, size_t errn)
{
    memset(s, 0, sizeof *s);
    s->err = err;
    s->errn = errn;
    s->md = pcre2_match_data_create(16, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    if (s->md == NULL || s->mctx == NULL) {
        dllm_tok_scratch_deinit(s);
        return dllm_errf(err, errn, DLLM_E_NOMEM, "tokenizer: out of memory");
    }
    pcre2_set_match_limit(s->mctx, UINT32_MAX);
    pcre2_set_depth_limit(s->mctx, UINT32_MAX);
    return DLLM_OK;
}

void dllm_tok_scratch_deinit(dllm_tok_scratch *s)
{
    dllm_tok_bytes_deinit(&s->pieces.own);
    dllm_tok_bytes_deinit(&s->pieces.own2);
    free(s->pieces.spans);
    free(s->pieces.spans2);
    free(s->segs);
    free(s->segs2);
    free(s->raw);
    free(s->syms);
    free(s->heap);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit);
    memset(s, 0, sizeof *s);
}

static dllm_status grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return DLLM_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / elem) return DLLM_E_NOMEM;
    void *q = realloc(*p, c * elem);
    if (q == NULL) return DLLM_E_NOMEM;
    *p = q;
    *cap = c;
    return DLLM_OK;
}

static dllm_status seg_push(dllm_tok_seg **v, size_t *n, size_t *cap, size_t start, size_t end,
                            int32_t added)
{
    dllm_status rc = grow((void **)v, cap, *n + 1, sizeof **v);
    if (rc != DLLM_OK) return rc;
    (*v)[(*n)++] = (dllm_tok_seg){start, end, added};
    return DLLM_OK;
}

/* ---- regex compilation ---- */

static dllm_status put(dllm_tok_bytes *b, const char *s)
{
    return dllm_tok_bytes_append(b, s, strlen(s));
}

/* Rewrites an Oniguruma pattern for PCRE2 (see DESIGN). */
static dllm_status translate(const char *p, size_t n, dllm_tok_bytes *out, const char *what,
                             char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    int in_class = 0;
    size_t class_start = 0; /* index just after '[' or '[^': a ']' there is literal */
    for (size_t i = 0; i < n && rc == DLLM_OK; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char e = p[i + 1];
            i++;
            switch (e) {
            case 's': rc = put(out, "\\p{White_Space}"); break;
            case 'S': rc = put(out, "\\P{White_Space}"); break;
            case 'w': rc = put(out, in_class ? ONIG_WORD_IN_CLASS : "[" ONIG_WORD "]"); break;
            case 'h': rc = put(out, in_class ? "0-9a-fA-F" : "[0-9a-fA-F]"); break;
            case 'b':
            case 'B':
                if (in_class) rc = dllm_tok_bytes_append(out, p + i - 1, 2); /* backspace */
                else rc = put(out, e == 'b' ? ONIG_WB : ONIG_NWB);
                break;
            case 'W':
            case 'H':
                if (in_class)
                    return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                                     "%s: '\\%c' inside a character class is not supported",
                                     what, e);
                rc = put(out, e == 'W' ? "[^" ONIG_WORD "]" : "[^0-9a-fA-F]");
                break;
            case 'Q': { /* literal span up to \E: copy verbatim */
                size_t j = i + 1;
                while (j + 1 < n && !(p[j] == '\\' && p[j + 1] == 'E')) j++;
                size_t end = (j + 1 < n) ? j + 2 : n;
                rc = dllm_tok_bytes_append(out, p + i - 1, end - (i - 1));
                i = end - 1;
                break;
            }
            default: rc = dllm_tok_bytes_append(out, p + i - 1, 2); break;
            }
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            class_start = i + 1;
            if (class_start < n && p[class_start] == '^') class_start++;
        } else if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') {
            /* POSIX class [:name:] inside a class: copy through ":]" */
            size_t j = i + 2;
            while (j + 1 < n && !(p[j] == ':' && p[j + 1] == ']')) j++;
            if (j + 1 < n) {
                rc = dllm_tok_bytes_append(out, p + i, j + 2 - i);
                i = j + 1;
                continue;
            }
        } else if (in_class && c == '[') {
            if (i + 1 < n && p[i + 1] != ':')
                return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                                 "%s: nested character classes are not supported", what);
        } else if (in_class && c == ']' && i != class_start) {
            in_class = 0;
        }
        rc = dllm_tok_bytes_append(out, &c, 1);
    }
    if (rc != DLLM_OK) return dllm_errf(err, errn, rc, "%s: out of memory", what);
    return DLLM_OK;
}

dllm_status dllm_tok_regex_compile(const char *pattern, size_t len, int literal,
                                   pcre2_code **out, const char *what, char *err,
                                   size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_tok_bytes tr = {0};
    *out = NULL;
    uint32_t opts = PCRE2_UTF;
    const char *src = pattern;
    size_t src_len = len;
    if (literal) {
        opts |= PCRE2_LITERAL; /* PCRE2 rejects UCP together with LITERAL (and needs none) */
    } else {
        opts |= PCRE2_UCP;
        DLLM_TRY_GOTO(translate(pattern, len, &tr, what, err, errn), rc, out);
        src = tr.p != NULL ? tr.p : "";
        src_len = tr.n;
    }
    int ecode = 0;
    PCRE2_SIZE eoff = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, src_len, opts, &ecode, &eoff, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                       "%s: regex does not compile: %s (at offset %zu of the translated "
                       "pattern)",
                       what, (const char *)msg, (size_t)eoff);
        goto out;
    }
    /* JIT is an optimization: if it is unavailable the interpreter runs the same pattern. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
out:
    dllm_tok_bytes_deinit(&tr);
    return rc;
}

dllm_status dllm_tok_helpers_compile(dllm_tokenizer *t, char *err, size_t errn)
{
    static const char space[] = "\\p{White_Space}";
    static const char word[] = "[" WORD_CLASS "]";
    /* Compiled directly (no translation): these are already PCRE2 syntax. */
    int ecode;
    PCRE2_SIZE eoff;
    t->re_space = pcre2_compile((PCRE2_SPTR)space, sizeof space - 1, PCRE2_UTF | PCRE2_UCP,
                                &ecode, &eoff, NULL);
    t->re_word = pcre2_compile((PCRE2_SPTR)word, sizeof word - 1, PCRE2_UTF | PCRE2_UCP,
                               &ecode, &eoff, NULL);
    if (t->re_space == NULL || t->re_word == NULL)
        return dllm_errf(err, errn, DLLM_E_INTERNAL,
                         "tokenizer: cannot compile the Unicode property classes; hint: "
                         "PCRE2 >= 10.40 with Unicode support is required");
    (void)pcre2_jit_compile(t->re_space, PCRE2_JIT_COMPLETE);
    (void)pcre2_jit_compile(t->re_word, PCRE2_JIT_COMPLETE);
    return DLLM_OK;
}

/* ---- regex matching ---- */

/* First match of re in subj[0..len) at or after `from`. *found = 0 when none. */
static dllm_status re_find(pcre2_code *re, const char *subj, size_t len, size_t from,
                           uint32_t opts, dllm_tok_scratch *s, size_t *ms, size_t *me,
                           int *found)
{
    for (;;) {
        int rc = pcre2_match(re, (PCRE2_SPTR)subj, len, from, opts | PCRE2_NO_UTF_CHECK, s->md,
                             s->mctx);
        if (rc >= 0) { /* 0: ovector too small for the groups; group 0 is still set */
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            *ms = ov[0];
            *me = ov[1];
            *found = 1;
            return DLLM_OK;
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            *found = 0;
            return DLLM_OK;
        }
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && s->jit_size < ((size_t)1 << 30)) {
            size_t size = s->jit_size ? s->jit_size * 2 : ((size_t)1 << 20);
            pcre2_jit_stack *js = pcre2_jit_stack_create(32 * 1024, size, NULL);
            if (js == NULL)
                return dllm_errf(s->err, s->errn, DLLM_E_NOMEM,
                                 "tokenizer: cannot allocate a %zu-byte regex JIT stack", size);
            pcre2_jit_stack_free(s->jit);
            s->jit = js;
            s->jit_size = size;
            pcre2_jit_stack_assign(s->mctx, NULL, js);
            continue;
        }
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return dllm_errf(s->err, s->errn, DLLM_E_INTERNAL,
                         "tokenizer: regex match failed on a %zu-byte piece: %s", len,
                         (const char *)msg);
    }
}

static size_t next_char(const char *s, size_t n, size_t i)
{
    if (i >= n) return i + 1;
    size_t l = dllm_tok_utf8_lead_len((unsigned char)s[i]);
    return i + l > n ? n : i + l;
}

static size_t prev_char(const char *s, size_t i)
{
    /* i > 0; steps back over continuation bytes */
    i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

/* Appends the pieces of text[start..end) split by re with (behavior, invert) to spans2
 * (absolute offsets), dropping empty pieces. */
static dllm_status split_piece(pcre2_code *re, dllm_tok_behavior behavior, int invert,
                               const char *text, size_t start, size_t end, dllm_tok_scratch *s)
{
    dllm_status rc = DLLM_OK;
    dllm_tok_pieces *p = &s->pieces;
    const char *subj = text + start;
    size_t len = end - start;

    /* 1. matches -> (offsets, is_match), like Pattern::find_matches + Invert */
    s->n_raw = 0;
    size_t prev = 0, last_end = 0, last_match_end = 0;
    int have_last = 0;
    while (last_end <= len) {
        size_t ms, me;
        int found;
        rc = re_find(re, subj, len, last_end, 0, s, &ms, &me, &found);
        if (rc != DLLM_OK) return rc;
        if (!found) break;
        if (ms == me && have_last && last_match_end == me) {
            last_end = next_char(subj, len, last_end);
            continue;
        }
        last_end = me;
        last_match_end = me;
        have_last = 1;
        if (prev != ms) {
            rc = seg_push(&s->raw, &s->n_raw, &s->cap_raw, prev, ms, invert ? 1 : 0);
            if (rc != DLLM_OK) return rc;
        }
        rc = seg_push(&s->raw, &s->n_raw, &s->cap_raw, ms, me, invert ? 0 : 1);
        if (rc != DLLM_OK) return rc;
        prev = me;
    }
    if (prev != len) {
        rc = seg_push(&s->raw, &s->n_raw, &s->cap_raw, prev, len, invert ? 1 : 0);
        if (rc != DLLM_OK) return rc;
    }

    /* 2. behavior: fold into kept (offsets) in raw[0..k) reusing the array in place */
    dllm_tok_seg *r = s->raw;
    size_t k = 0;
    int previous_match = 0;
    switch (behavior) {
    case DLLM_TOK_ISOLATED:
        k = s->n_raw;
        break;
    case DLLM_TOK_REMOVED:
        for (size_t i = 0; i < s->n_raw; i++)
            if (!r[i].added) r[k++] = r[i];
        break;
    case DLLM_TOK_CONTIGUOUS:
        for (size_t i = 0; i < s->n_raw; i++) {
            int m = r[i].added != 0;
            if (m == previous_match && k > 0) r[k - 1].end = r[i].end;
            else r[k++] = r[i];
            previous_match = m;
        }
        break;
    case DLLM_TOK_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < s->n_raw; i++) {
            int m = r[i].added != 0;
            if (m && !previous_match && k > 0) r[k - 1].end = r[i].end;
            else r[k++] = r[i];
            previous_match = m;
        }
        break;
    case DLLM_TOK_MERGED_WITH_NEXT: {
        /* fold from the back: the kept list grows at the end of the array */
        size_t w = s->n_raw; /* kept entries live in r[w..n_raw), in forward order */
        for (size_t i = s->n_raw; i-- > 0;) {
            int m = r[i].added != 0;
            if (m && !previous_match && w < s->n_raw) r[w].start = r[i].start;
            else r[--w] = r[i];
            previous_match = m;
        }
        memmove(r, r + w, (s->n_raw - w) * sizeof *r);
        k = s->n_raw - w;
        break;
    }
    }

    /* 3. keep the non-empty pieces, as absolute offsets */
    rc = grow((void **)&p->spans2, &p->cap2, p->n2 + k, sizeof *p->spans2);
    if (rc != DLLM_OK) return rc;
    for (size_t i = 0; i < k; i++)
        if (r[i].end > r[i].start)
            p->spans2[p->n2++] = (dllm_tok_span){start + r[i].start, start + r[i].end};
    return DLLM_OK;
}

/* ---- pipeline ---- */

static void swap_spans(dllm_tok_pieces *p)
{
    dllm_tok_span *t = p->spans;
    p->spans = p->spans2;
    p->spans2 = t;
    size_t c = p->cap;
    p->cap = p->cap2;
    p->cap2 = c;
    p->n = p->n2;
    p->n2 = 0;
}

/* The owned buffer that the current text does not live in. */
static dllm_tok_bytes *spare_buffer(dllm_tok_pieces *p)
{
    return (p->own.p != NULL && p->text == p->own.p) ? &p->own2 : &p->own;
}

/* Rewrites every piece into a fresh buffer: optionally with a leading ' ' (prefix) and/or
 * mapped to the byte-level alphabet (bl != NULL). */
static dllm_status materialize(dllm_tok_pieces *p, int prefix_space,
                               const dllm_tok_bytelevel *bl)
{
    dllm_tok_bytes *dst = spare_buffer(p);
    dst->n = 0;
    dllm_status rc = grow((void **)&p->spans2, &p->cap2, p->n, sizeof *p->spans2);
    if (rc != DLLM_OK) return rc;
    p->n2 = 0;
    for (size_t i = 0; i < p->n; i++) {
        const unsigned char *src = (const unsigned char *)p->text + p->spans[i].start;
        size_t len = p->spans[i].end - p->spans[i].start;
        size_t begin = dst->n;
        int add_space = prefix_space && (len == 0 || src[0] != ' ');
        if (len > (SIZE_MAX - 2) / 2) return DLLM_E_NOMEM;
        rc = dllm_tok_bytes_reserve(dst, 2 + 2 * len);
        if (rc != DLLM_OK) return rc;
        if (add_space) {
            if (bl != NULL) {
                memcpy(dst->p + dst->n, bl->utf8[' '], bl->len[' ']);
                dst->n += bl->len[' '];
            } else {
                dst->p[dst->n++] = ' ';
            }
        }
        if (bl != NULL) {
            char *o = dst->p + dst->n;
            for (size_t k = 0; k < len; k++) {
                unsigned char b = src[k];
                *o++ = (char)bl->utf8[b][0];
                if (bl->len[b] == 2) *o++ = (char)bl->utf8[b][1];
            }
            dst->n = (size_t)(o - dst->p);
        } else {
            memcpy(dst->p + dst->n, src, len);
            dst->n += len;
        }
        p->spans2[p->n2++] = (dllm_tok_span){begin, dst->n};
    }
    p->text = dst->p;
    swap_spans(p);
    return DLLM_OK;
}

static dllm_status split_all(pcre2_code *re, dllm_tok_behavior behavior, int invert,
                             dllm_tok_scratch *s)
{
    dllm_tok_pieces *p = &s->pieces;
    p->n2 = 0;
    for (size_t i = 0; i < p->n; i++) {
        dllm_status rc =
            split_piece(re, behavior, invert, p->text, p->spans[i].start, p->spans[i].end, s);
        if (rc != DLLM_OK) return rc;
    }
    swap_spans(p);
    return DLLM_OK;
}

dllm_status dllm_tok_pretokenize(const dllm_tokenizer *t, const char *text, size_t n,
                                 dllm_tok_scratch *s)
{
    dllm_status rc = DLLM_OK;
    dllm_tok_pieces *p = &s->pieces;
    p->text = text;
    rc = grow((void **)&p->spans, &p->cap, 1, sizeof *p->spans);
    if (rc != DLLM_OK) return rc;
    p->spans[0] = (dllm_tok_span){0, n};
    p->n = n > 0 ? 1 : 0;
    for (size_t k = 0; k < t->n_steps && p->n > 0; k++) {
        const dllm_tok_step *st = &t->steps[k];
        if (st->kind == DLLM_TOK_STEP_SPLIT) {
            rc = split_all(st->re, st->behavior, st->invert, s);
        } else {
            if (st->add_prefix_space && st->re != NULL) {
                rc = materialize(p, 1, NULL);
                if (rc == DLLM_OK) rc = split_all(st->re, DLLM_TOK_ISOLATED, 0, s);
                if (rc == DLLM_OK) rc = materialize(p, 0, &t->bl);
            } else if (st->re != NULL) {
                rc = split_all(st->re, DLLM_TOK_ISOLATED, 0, s);
                if (rc == DLLM_OK) rc = materialize(p, 0, &t->bl);
            } else {
                rc = materialize(p, st->add_prefix_space, &t->bl);
            }
        }
        if (rc != DLLM_OK) return rc;
    }
    return DLLM_OK;
}

/* ---- added tokens ---- */

dllm_status dllm_tok_trie_insert(dllm_tok_trie *tr, const char *content, size_t len,
                                 int32_t token)
{
    dllm_status rc = DLLM_OK;
    if (tr->n == 0) {
        rc = grow((void **)&tr->nodes, &tr->cap, 1, sizeof *tr->nodes);
        if (rc != DLLM_OK) return rc;
        tr->nodes[0] = (dllm_tok_trie_node){-1, -1, -1, 0};
        tr->n = 1;
        for (int b = 0; b < 256; b++) tr->root_child[b] = -1;
    }
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)content[i];
        int32_t child = node == 0 ? tr->root_child[b] : tr->nodes[node].first_child;
        if (node != 0)
            while (child >= 0 && tr->nodes[child].byte != b) child = tr->nodes[child].next_sibling;
        if (child < 0) {
            if (tr->n >= (size_t)INT32_MAX) return DLLM_E_NOMEM;
            rc = grow((void **)&tr->nodes, &tr->cap, tr->n + 1, sizeof *tr->nodes);
            if (rc != DLLM_OK) return rc;
            child = (int32_t)tr->n++;
            tr->nodes[child] = (dllm_tok_trie_node){-1, tr->nodes[node].first_child, -1, b};
            tr->nodes[node].first_child = child;
            if (node == 0) tr->root_child[b] = child;
        }
        node = child;
    }
    tr->nodes[node].token = token;
    return DLLM_OK;
}

void dllm_tok_trie_deinit(dllm_tok_trie *tr)
{
    free(tr->nodes);
    tr->nodes = NULL;
    tr->n = tr->cap = 0;
}

/* Longest token that starts at text[i]: its index (or -1) and length. */
static int32_t trie_longest(const dllm_tok_trie *tr, const char *text, size_t n, size_t i,
                            size_t *mlen)
{
    int32_t best = -1;
    int32_t node = tr->root_child[(unsigned char)text[i]];
    size_t j = i + 1;
    while (node >= 0) {
        if (tr->nodes[node].token >= 0) {
            best = tr->nodes[node].token;
            *mlen = j - i;
        }
        if (j >= n) break;
        unsigned char b = (unsigned char)text[j++];
        int32_t c = tr->nodes[node].first_child;
        while (c >= 0 && tr->nodes[c].byte != b) c = tr->nodes[c].next_sibling;
        node = c;
    }
    return best;
}

static int class_at(pcre2_code *re, const char *text, size_t n, size_t i, dllm_tok_scratch *s)
{
    size_t l = next_char(text, n, i) - i;
    int rc = pcre2_match(re, (PCRE2_SPTR)(text + i), l, 0, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK,
                         s->md, s->mctx);
    return rc >= 0;
}

int dllm_tok_is_space_at(const dllm_tokenizer *t, const char *text, size_t n, size_t i,
                         dllm_tok_scratch *s)
{
    unsigned char c = (unsigned char)text[i];
    if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
    return class_at(t->re_space, text, n, i, s);
}

static int is_word_at(const dllm_tokenizer *t, const char *text, size_t n, size_t i,
                      dllm_tok_scratch *s)
{
    unsigned char c = (unsigned char)text[i];
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    return class_at(t->re_word, text, n, i, s);
}

/* AddedVocabulary::find_matches over the sentence text[base..base+len); appends segments
 * with absolute offsets to (out, n_out). */
static dllm_status find_matches(const dllm_tokenizer *t, const dllm_tok_trie *tr,
                                const char *text, size_t base, size_t len, dllm_tok_seg **out,
                                size_t *n_out, size_t *cap_out, dllm_tok_scratch *s)
{
    dllm_status rc = DLLM_OK;
    const char *sent = text + base;
    size_t start_offset = 0, pos = 0;
    while (pos < len) {
        size_t mlen = 0, i;
        int32_t tok = -1;
        for (i = pos; i < len; i++) {
            tok = trie_longest(tr, sent, len, i, &mlen);
            if (tok >= 0) break;
        }
        if (tok < 0) break;
        size_t start = i, stop = i + mlen;
        pos = stop; /* the automaton resumes after the match, kept or not */
        const dllm_tok_added *a = &t->added[tok];
        if (a->single_word) {
            int start_space = start == 0 || !is_word_at(t, sent, len, prev_char(sent, start), s);
            int stop_space = stop == len || !is_word_at(t, sent, len, stop, s);
            if (!start_space || !stop_space) continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t pc = prev_char(sent, ns);
                if (!dllm_tok_is_space_at(t, sent, len, pc, s)) break;
                ns = pc;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) {
            while (stop < len && dllm_tok_is_space_at(t, sent, len, stop, s))
                stop = next_char(sent, len, stop);
        }
        if (start_offset < start) {
            rc = seg_push(out, n_out, cap_out, base + start_offset, base + start, -1);
            if (rc != DLLM_OK) return rc;
        }
        rc = seg_push(out, n_out, cap_out, base + start, base + stop, tok);
        if (rc != DLLM_OK) return rc;
        start_offset = stop;
    }
    if (start_offset < len) rc = seg_push(out, n_out, cap_out, base + start_offset, base + len, -1);
    return rc;
}

dllm_status dllm_tok_split_added(const dllm_tokenizer *t, const char *text, size_t n,
                                 dllm_tok_scratch *s)
{
    dllm_status rc = DLLM_OK;
    s->n_segs = 0;
    if (n == 0) return DLLM_OK;
    if (t->trie_plain.n > 0) {
        rc = find_matches(t, &t->trie_plain, text, 0, n, &s->segs, &s->n_segs, &s->cap_segs, s);
    } else {
        rc = seg_push(&s->segs, &s->n_segs, &s->cap_segs, 0, n, -1);
    }
    if (rc != DLLM_OK || t->trie_norm.n == 0) return rc;
    s->n_segs2 = 0;
    for (size_t i = 0; i < s->n_segs; i++) {
        dllm_tok_seg g = s->segs[i];
        if (g.added >= 0 || g.end <= g.start) {
            rc = seg_push(&s->segs2, &s->n_segs2, &s->cap_segs2, g.start, g.end, g.added);
        } else {
            rc = find_matches(t, &t->trie_norm, text, g.start, g.end - g.start, &s->segs2,
                              &s->n_segs2, &s->cap_segs2, s);
        }
        if (rc != DLLM_OK) return rc;
    }
    dllm_tok_seg *tmp = s->segs;
    s->segs = s->segs2;
    s->segs2 = tmp;
    size_t c = s->cap_segs;
    s->cap_segs = s->cap_segs2;
    s->cap_segs2 = c;
    s->n_segs = s->n_segs2;
    s->n_segs2 = 0;
    return DLLM_OK;
}
