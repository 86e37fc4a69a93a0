/* forward.h -- one LLaDA forward over a packed batch of sequences, driven by row plans.
 *
 * The forward is written once against the backend operations (backend.h). A batch is a
 * list of sequences (each one CFG branch of a request). Their rows are packed into one
 * matrix so that each projection is one GEMM for the whole batch; attention runs per
 * sequence, bidirectional, with no mask (design.md 4.3). Which rows each layer
 * recomputes comes from the sequence's layer plans (cache/policy.h); everything else is
 * read from its feature store (cache/feature_store.h). The LM head runs only for each
 * sequence's head rows (the rows the sampler may commit).
 *
 * DESIGN
 * ------
 * Per layer, for every sequence s with T_s rows, plan (prompt, resp, verify, k):
 *   S_s = [0,P) if prompt ++ [P,T) if resp ++ k V-verify slots   rows recomputed fully
 *   V_s = [0,P) if prompt ++ [P,T) if resp or verify            rows whose V is computed
 *   1. h = RMSNorm(x) for the rows this layer reads (by segment: prompt, response)
 *   2. V over the packed V rows; V-verify picks the k response rows whose new V is least
 *      similar to the stored V and writes them into S_s's slots ON THE BACKEND (no host
 *      round trip: the count k is known on the host, the rows are not); then V is stored
 *   3. Q, K over the packed S rows, RoPE at absolute positions, K stored
 *   4. attention of S_s's queries against the sequence's whole stored K, V
 *   5. A[S] = W_o(att); x += A (cached deltas for the other rows), on every segment
 *      whose x is read later (this layer's MLP rows, later layers, the LM head)
 *   6. F[S] = MLP(RMSNorm(x[S])); x += F, likewise where x is read later
 * With every row recomputed this is exactly the plain LLaDA block.
 *
 * Row lists (d2Cache): a plan may also name any ascending rows to recompute fully; with
 * `probs` the attention runs through attention_probs and each layer's (rows, T) head-mean
 * probabilities are downloaded into the sequence's host buffer for the rollout.
 *
 * Compact stores (Sparse-dLLM, cache/policy.h): a keystat plan runs step 4 through the
 * backend's attention_keystat (the block queries' score of every key), then picks the
 * kept rows on the host (one (T) download per layer, at one step per block), uploads
 * [kept | block] row indices and gathers those rows of the scratch K/V into the layer's
 * compact K/V. A compact plan writes the block's K/V into the compact store's block slots
 * (wpos) and attends to the compact store only; the scratch A/F rows outside the block
 * are stale then, so those x rows are garbage, but no recomputed row reads them (x is
 * rebuilt from the embeddings every forward).
 *
 * Buffers (N = sum of T_s, all backend memory, reserved before stepping):
 *   x (N, C) residual; h (N, C) normed; g (N, C) gathered rows; q, kk, vv, att (N, C);
 *   gate, up (N, F); hx (H, C) head rows; logits (H, V);
 *   spos, vpos (L, N) int32 per-layer row positions (S and V rows, packed per sequence);
 *   wpos (L, N) int32 compact-store slots of compact plans' rows (at the S offsets);
 *   stat (N) float key statistics, kidx (N) int32 kept rows (one sequence and layer).
 *
 * Tensor parallelism (w->tp > 1, a communicator set): the weights are this rank's shard
 * (shard.h), so q, kk, vv, att and the stores' K/V are (rows, Cl) with the rank's NHl heads,
 * gate/up (rows, Fl), logits (H, Vl) for the rank's vocabulary slice. The forward is the
 * same code with these widths plus four kinds of collectives: the embedding (each row is
 * one rank's lookup, the others add exact zeros), W_o and W_down (row-parallel partial
 * sums: two all-reduces of (NS, C) per layer), and the data-dependent decisions that must
 * agree on every rank: V-verify's cosine (3 numbers per response row, float64), Sparse-
 * dLLM's key scores ((T) floats) and d2Cache's attention probabilities ((rows, T) floats,
 * rank 0 keeps them). At tp = 1 none of this runs and the widths are the full ones.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_FORWARD_H
#define DLLM_FORWARD_H

#include "cache/feature_store.h"
#include "cache/policy.h"
#include "comm.h"
#include "model.h"

/* Per-layer row accounting of one sequence (accumulated over forwards). */
typedef struct dllm_row_counts {
    int64_t *q;   /* (L) rows through Q/K/attention/W_o */
    int64_t *v;   /* (L) rows through V */
    int64_t *mlp; /* (L) rows through the MLP */
    int64_t head; /* rows through the LM head */
    int64_t all;  /* rows x layers that a full forward computes, per kind */
    double flops, flops_none;
} dllm_row_counts;

/* One sequence's part of a batch. */
typedef struct dllm_fwd_seq {
    const int32_t *ids;            /* (T) host: the canvas tokens */
    int32_t T;                     /* rows; positions are 0..T-1 */
    int32_t P;                     /* prompt rows [0, P); response [P, T) */
    int32_t head_start;            /* first row whose logits are wanted */
    int32_t head_count;            /* number of such rows (0 allowed) */
    dllm_feature_store *fs;        /* this branch's features (n_layers 1 or L) */
    const dllm_layer_plan *plans;  /* (L) what each layer recomputes */
    dllm_row_counts *counts;       /* accounting, may be NULL */
    float *probs;                  /* host (L, T, T), for plans with probs: layer l's query
                                    * rows' head-mean attention probabilities at l T T */
} dllm_fwd_seq;

typedef struct dllm_forward {
    dllm_backend *be;               /* borrowed */
    const dllm_model_weights *w;    /* borrowed */
    int64_t cap_rows, cap_head;     /* reserved capacity: N and H */
    float *x, *h, *g, *q, *kk, *vv, *att; /* (cap_rows, C) backend memory */
    float *gate, *up;               /* (cap_rows, F) backend memory */
    float *hx;                      /* (cap_head, C) backend memory */
    float *logits;                  /* (cap_head, V) backend memory */
    int32_t *ids_dev;               /* (cap_rows) backend memory */
    int32_t *spos_dev, *vpos_dev;   /* (L, cap_rows) backend memory */
    int32_t *head_dev;              /* (cap_head) backend memory */
    int32_t *ids_host, *spos_host, *vpos_host, *head_host; /* host staging of the above */
    int32_t *wpos_dev, *wpos_host;  /* (L, cap_rows) compact-store slots */
    float *stat_dev;                /* (cap_rows) backend memory: key statistics */
    int32_t *kidx_dev;              /* (cap_rows) backend memory: [kept | block] rows */
    float *stat_host;               /* (cap_rows) host copy of stat */
    int32_t *kidx_host;             /* (cap_rows) host staging of kidx */
    struct dllm_keyscore *rank;     /* (cap_rows) host: pooled scores being ranked */
    uint8_t *kept;                  /* (cap_rows) host: kept-row marks */
    float *probs_dev;               /* (cap_probs) backend memory: attention probabilities */
    int64_t cap_probs;
    dllm_comm *comm;                /* borrowed; NULL at tp = 1 */
    float *vhost;                   /* tp > 1: (2, cap_rows, Cl) host: V-verify's rows */
    double *vpart;                  /* tp > 1: (4, cap_rows) host: partial dots, cosines */
    int32_t *vsel;                  /* tp > 1: (cap_rows) host: V-verify's selection */
} dllm_forward;

void dllm_forward_init(dllm_forward *f, dllm_backend *be, const dllm_model_weights *w);
void dllm_forward_deinit(dllm_forward *f); /* zeroed is a no-op */
/* Joins the forward to a tensor-parallel group (before the first reserve); w is then the
 * rank's shard. */
void dllm_forward_set_comm(dllm_forward *f, dllm_comm *comm);

/* Ensures capacity for batches of up to rows packed rows (and sequences of up to that
 * many rows) and head_rows head rows. */
dllm_status dllm_forward_reserve(dllm_forward *f, int64_t rows, int64_t head_rows);

/* Ensures the attention-probability buffer for plans with probs (d2Cache) covers
 * sequences of up to t rows ((t, t) floats); called at admission. */
dllm_status dllm_forward_reserve_probs(dllm_forward *f, int64_t t);

/* Runs the forward for seqs (n of them). On success f->logits holds (H, V) logits, the
 * head rows of seqs[0] first. DLLM_E_INVALID_ARG if the batch exceeds the reservation, a
 * plan is inconsistent with its store, or a token id is out of range. */
dllm_status dllm_forward_run(dllm_forward *f, const dllm_fwd_seq *seqs, size_t n);

#endif
