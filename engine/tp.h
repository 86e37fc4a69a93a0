/* tp.h -- running one step on every rank of a tensor-parallel group (design.md 4.6).
 *
 * A group is `n` ranks, one thread each, and a communicator (comm.h) joining them. Rank 0
 * is the calling thread: it schedules (plans the step on the host), then
 * dllm_tp_group_run() hands the same function and argument to ranks 1..n-1 (parked
 * worker threads) and runs rank 0's part itself. The plan lives in host memory that every
 * rank reads (one process), so "broadcasting the plan" is handing over its address; the
 * data-dependent decisions made inside a step go through the communicator.
 *
 * Failure: a rank whose function fails aborts the communicator, so the others leave their
 * collectives with DLLM_E_COMM instead of waiting; run() waits for every rank, resets the
 * communicator and returns the first real error in rank order (the originating failure,
 * not the DLLM_E_COMM it caused elsewhere). The step then failed on all ranks.
 *
 * The distributed sampler: each rank reduces its vocabulary slice of a row to one record
 * (best key and index, the slice's max logit and sum of exp), the records are all-gathered
 * (size * 40 bytes per row) and combined in rank order, which reproduces the single-rank
 * reduction's token exactly (same keys, ties to the lower index) and its confidence up to
 * float64 rounding (sum_r e^(m_r - M) s_r instead of one running sum).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_TP_H
#define DLLM_TP_H

#include "backend.h"
#include "comm.h"

typedef struct dllm_tp_group dllm_tp_group;
typedef dllm_status (*dllm_tp_fn)(int rank, void *arg);

/* n >= 2 ranks over the in-process communicator (timeout_ms per collective). */
dllm_status dllm_tp_group_new(int n, int timeout_ms, dllm_tp_group **out);
void dllm_tp_group_free(dllm_tp_group *g); /* NULL is a no-op; joins the threads */
int dllm_tp_group_size(const dllm_tp_group *g);
dllm_comm *dllm_tp_group_comm(dllm_tp_group *g, int rank);
/* Runs fn(r, arg) on every rank r concurrently (rank 0 on the caller's thread) and waits
 * for all; see above for the status. */
dllm_status dllm_tp_group_run(dllm_tp_group *g, dllm_tp_fn fn, void *arg);

/* One rank's reduction of one row's vocabulary slice. */
typedef struct dllm_tp_sample_part {
    double key;   /* the slice's best key: the logit (argmax) or the Gumbel-max score */
    double lbest; /* the logit of that token (after logits_eos_inf) */
    double mx;    /* the slice's max logit (-inf: none) */
    double sum;   /* sum over the slice of exp(logit - mx) */
    int64_t idx;  /* the best token's global id, -1 when the slice has no candidate */
} dllm_tp_sample_part;

/* Reduces l (vl) host logits of the global ids [v0, v0 + vl) for row r. */
void dllm_tp_sample_part_row(const float *l, int64_t vl, int64_t v0, const dllm_sample_row *r,
                             int32_t eos, dllm_tp_sample_part *out);
/* Combines one row's records parts[k * stride], k = 0..n-1 (rank order), into the token
 * and confidence dllm_backend_sample returns for the whole row. */
void dllm_tp_sample_combine(const dllm_tp_sample_part *parts, int n, size_t stride,
                            const dllm_sample_row *r, int32_t eos, int32_t eot, int32_t *tok,
                            double *conf);

#endif
