/* forward.h -- one LLaDA forward over a packed batch of sequences (a row plan).
 *
 * The forward is written once against the backend operations (backend.h). A batch is a
 * list of sequences; their rows are packed into one matrix so that every projection is
 * one GEMM for the whole batch, and attention runs per sequence, bidirectional, with no
 * mask (design.md 4.3). The LM head runs only for each sequence's "head rows": the rows
 * the sampler may commit (the current block), never the whole canvas.
 *
 * DESIGN
 * ------
 *   x    (N, C)   residual stream, N = sum of sequence lengths
 *   h    (N, C)   normalised input of the current sub-layer
 *   q,k,v(N, C)   projections (RoPE applied to q, k at absolute positions)
 *   att  (N, C)   attention output before W_o, then reused for the W_o / W_down deltas
 *   gate,up (N, F) MLP hidden
 *   hx   (H, C)   gathered head rows, H = sum of head counts
 *   logits (H, V) output, backend memory, in the order of the sequences
 * All buffers are sized by dllm_forward_reserve() before stepping (at admission), so
 * dllm_forward_run() allocates nothing.
 *
 * Every layer computes, for all rows: x += W_o attn(rope(W_q h), rope(W_k h), W_v h),
 * h = rmsnorm(x); x += W_down(silu(W_gate h) * W_up h). The residual deltas are formed
 * in a separate buffer and then added, the shape the feature cache of dLLM-Cache keeps
 * (attention output after W_o, MLP output after W_down).
 *
 * Not handled yet: partial row recomputation (cache policies), tensor parallelism.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_FORWARD_H
#define DLLM_FORWARD_H

#include "model.h"

/* One sequence's part of a batch. */
typedef struct dllm_fwd_seq {
    const int32_t *ids; /* (T) host: the canvas tokens */
    int32_t T;          /* rows of this sequence; positions are 0..T-1 */
    int32_t head_start; /* first row whose logits are wanted */
    int32_t head_count; /* number of such rows (0 allowed) */
} dllm_fwd_seq;

typedef struct dllm_forward {
    dllm_backend *be;               /* borrowed */
    const dllm_model_weights *w;    /* borrowed */
    int64_t cap_rows, cap_head;     /* reserved capacity: N and H */
    float *x, *h, *q, *k, *v, *att; /* (cap_rows, C) backend memory */
    float *gate, *up;               /* (cap_rows, F) backend memory */
    float *hx;                      /* (cap_head, C) backend memory */
    float *logits;                  /* (cap_head, V) backend memory */
    int32_t *ids_dev, *pos_dev;     /* (cap_rows) backend memory */
    int32_t *head_dev;              /* (cap_head) backend memory */
    int32_t *ids_host, *pos_host;   /* (cap_rows) host staging */
    int32_t *head_host;             /* (cap_head) host staging */
} dllm_forward;

void dllm_forward_init(dllm_forward *f, dllm_backend *be, const dllm_model_weights *w);
void dllm_forward_deinit(dllm_forward *f); /* zeroed is a no-op */

/* Ensures capacity for batches of up to rows packed rows and head_rows head rows. */
dllm_status dllm_forward_reserve(dllm_forward *f, int64_t rows, int64_t head_rows);

/* Runs the forward for seqs (n of them). On success f->logits holds (H, V) logits, the
 * head rows of seqs[0] first. DLLM_E_INVALID_ARG if the batch exceeds the reservation
 * or a token id is out of range. */
dllm_status dllm_forward_run(dllm_forward *f, const dllm_fwd_seq *seqs, size_t n);

#endif
