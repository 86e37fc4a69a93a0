/* tokenizer_bpe.c -- BPE tokenization of one pre-tokenized word.
 *
 * A word (one piece from the pre-tokenizer, already in byte-level form) becomes one symbol
 * per character, then merges are applied lowest rank first, leftmost first among equal
 * ranks, until no adjacent pair has a merge. This is the HF library's Word::merge_all:
 *
 *   symbols  [ h ][ e ][ l ][ l ][ o ]      doubly linked through prev/next
 *   heap     (rank, pos, new_id) of every adjacent pair that has a merge
 *   pop min  -> if the entry is stale (left symbol merged away, no right neighbour, or the
 *               pair at pos no longer yields new_id) skip it; else merge right into left,
 *               tombstone the right (len 0), push the new pairs with both neighbours.
 *
 * DESIGN
 * ------
 * - O(k log k) for a word of k characters; the heap and symbols live in the per-call
 *   scratch, nothing is cached between calls (HF caches words; results are identical).
 * - ignore_merges: a word that is itself a vocab entry is emitted as that id directly.
 * - A character missing from the vocab: byte_fallback tokens "<0xXX>" if all exist, else
 *   the unk token (fused with a preceding unk when fuse_unk), else it is dropped -- the
 *   order of these cases, including that a byte-fallback character does not flush a
 *   pending unk first, follows BPE::merge_word.
 * - Continuing-subword prefixes, end-of-word suffixes and dropout are rejected at load.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

static int heap_less(const dllm_tok_heap_ent *a, const dllm_tok_heap_ent *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(dllm_tok_heap_ent *h, size_t *n, dllm_tok_heap_ent e)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&e, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
}

static dllm_tok_heap_ent heap_pop(dllm_tok_heap_ent *h, size_t *n)
{
    dllm_tok_heap_ent top = h[0];
    dllm_tok_heap_ent last = h[--(*n)];
    size_t i = 0, len = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len) break;
        if (c + 1 < len && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (len > 0) h[i] = last;
    return top;
}

static dllm_status ensure_capacity(dllm_tok_scratch *s, size_t n_syms)
{
    if (n_syms > s->cap_syms) {
        if (n_syms > SIZE_MAX / sizeof(dllm_tok_bpe_sym) / 4) return DLLM_E_NOMEM;
        dllm_tok_bpe_sym *p = realloc(s->syms, n_syms * sizeof *p);
        if (p == NULL) return DLLM_E_NOMEM;
        s->syms = p;
        s->cap_syms = n_syms;
    }
    /* Each merge removes one symbol and pushes at most two entries: the heap never holds
     * more than (n - 1) initial + 2 (n - 1) pushed entries. */
    size_t heap_need = 3 * n_syms + 1;
    if (heap_need > s->cap_heap) {
        dllm_tok_heap_ent *p = realloc(s->heap, heap_need * sizeof *p);
        if (p == NULL) return DLLM_E_NOMEM;
        s->heap = p;
        s->cap_heap = heap_need;
    }
    return DLLM_OK;
}

static void add_sym(dllm_tok_bpe_sym *syms, size_t *n, int32_t id, uint32_t len)
{
    size_t i = (*n)++;
    syms[i].id = id;
    syms[i].len = len;
    syms[i].prev = i > 0 ? (int32_t)(i - 1) : -1;
    syms[i].next = -1;
    if (i > 0) syms[i - 1].next = (int32_t)i;
}

dllm_status dllm_tok_bpe_word(const dllm_tokenizer *t, const char *w, size_t n,
                              dllm_tok_ivec *out, dllm_tok_scratch *s)
{
    dllm_status rc = DLLM_OK;
    if (t->ignore_merges) {
        int32_t id = dllm_tok_strmap_get(&t->vocab, w, n);
        if (id >= 0) return dllm_tok_ivec_push(out, id);
    }
    if (n > (size_t)INT32_MAX / 4) return DLLM_E_NOMEM; /* positions are int32 */
    /* Byte fallback can turn one character into up to 4 symbols: n symbols at most. */
    rc = ensure_capacity(s, n);
    if (rc != DLLM_OK) return rc;

    dllm_tok_bpe_sym *syms = s->syms;
    size_t n_syms = 0;
    int32_t unk = -1;      /* pending unk symbol */
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = dllm_tok_utf8_lead_len((unsigned char)w[i]);
        if (cl > n - i) cl = n - i; /* cannot happen for valid UTF-8; stay in bounds */
        int32_t id = dllm_tok_strmap_get(&t->vocab, w + i, cl);
        if (id >= 0) {
            if (unk >= 0) {
                add_sym(syms, &n_syms, unk, unk_len);
                unk = -1;
            }
            add_sym(syms, &n_syms, id, (uint32_t)cl);
            i += cl;
            continue;
        }
        if (t->byte_fallback) {
            int all = 1;
            for (size_t k = 0; k < cl; k++)
                if (t->byte_fallback_ids[(unsigned char)w[i + k]] < 0) all = 0;
            if (all) {
                for (size_t k = 0; k < cl; k++)
                    add_sym(syms, &n_syms, t->byte_fallback_ids[(unsigned char)w[i + k]], 1);
                i += cl;
                continue;
            }
        }
        if (t->unk_id >= 0) {
            if (unk >= 0 && t->fuse_unk) {
                unk_len += (uint32_t)cl;
            } else {
                if (unk >= 0) add_sym(syms, &n_syms, unk, unk_len);
                unk = t->unk_id;
                unk_len = (uint32_t)cl;
            }
        }
        i += cl;
    }
    if (unk >= 0) add_sym(syms, &n_syms, unk, unk_len);
    if (n_syms == 0) return DLLM_OK;

    /* ---- merge loop ---- */
    dllm_tok_heap_ent *heap = s->heap;
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n_syms; i++) {
        const dllm_tok_merge *m = dllm_tok_pairmap_get(&t->merges, syms[i].id, syms[i + 1].id);
        if (m != NULL)
            heap_push(heap, &hn, (dllm_tok_heap_ent){m->rank, (uint32_t)i, m->new_id});
    }
    while (hn > 0) {
        dllm_tok_heap_ent top = heap_pop(heap, &hn);
        dllm_tok_bpe_sym *left = &syms[top.pos];
        if (left->len == 0 || left->next < 0) continue;
        int32_t right_pos = left->next;
        dllm_tok_bpe_sym *right = &syms[right_pos];
        const dllm_tok_merge *m = dllm_tok_pairmap_get(&t->merges, left->id, right->id);
        if (m == NULL || m->new_id != top.new_id) continue; /* stale entry */

        left->id = top.new_id;
        left->len += right->len;
        left->next = right->next;
        right->len = 0;
        if (right->next >= 0) syms[right->next].prev = (int32_t)top.pos;

        if (left->prev >= 0) {
            const dllm_tok_merge *pm =
                dllm_tok_pairmap_get(&t->merges, syms[left->prev].id, left->id);
            if (pm != NULL)
                heap_push(heap, &hn,
                          (dllm_tok_heap_ent){pm->rank, (uint32_t)left->prev, pm->new_id});
        }
        if (left->next >= 0) {
            const dllm_tok_merge *nm =
                dllm_tok_pairmap_get(&t->merges, left->id, syms[left->next].id);
            if (nm != NULL)
                heap_push(heap, &hn, (dllm_tok_heap_ent){nm->rank, top.pos, nm->new_id});
        }
    }

    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        rc = dllm_tok_ivec_push(out, syms[i].id);
        if (rc != DLLM_OK) return rc;
    }
    return DLLM_OK;
}
