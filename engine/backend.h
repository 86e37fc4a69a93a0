/* backend.h -- the operations the forward pass is written against (engine-internal).
 *
 * A backend is a table of operations plus a context (the ggml pattern, design.md 4.2).
 * Engine code (forward.c, sampler.c, cache/) calls only the dllm_backend_* wrappers
 * below; they check arguments and dispatch through the vtable in backend_impl.h. Only
 * backend_registry.c knows which concrete backends exist.
 *
 * DESIGN
 * ------
 * - Memory: every pointer named "backend memory" below comes from dllm_backend_alloc
 *   and may be a device address; engine code never dereferences it. Host pointers are
 *   named as such. Activations are fp32 [rows, cols] row-major on every backend today;
 *   weights are stored in the backend's own format (fp32 on the CPU) behind dllm_weight.
 * - Ops are synchronous from the caller's point of view on the CPU; a GPU backend may
 *   queue them on its stream, so results reach the host only through download/sample.
 * - Rows are "packed": the rows of all sequences in a batch sit in one matrix, so one
 *   GEMM per weight serves the batch; attention is per sequence (q rows against that
 *   sequence's full K/V), which is what design.md 4.3 calls the row plan.
 * - Not handled here: tensor-parallel collectives (comm.h: the communicator is a separate
 *   object the forward calls between ops), dtypes other than fp32 activations.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_BACKEND_H
#define DLLM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "dllm/status.h"
#include "dtype.h"

typedef struct dllm_backend dllm_backend;

/* A weight matrix resident on a backend: (rows, cols) row-major, as in the checkpoint
 * ((out, in) for linear layers; (C) for norms with rows = 1). */
typedef struct dllm_weight {
    void *data;       /* backend memory, `dtype` elements */
    int64_t rows;     /* output features (or 1 for vectors) */
    int64_t cols;     /* input features */
    dllm_dtype dtype; /* storage type on the backend */
} dllm_weight;

/* Per-row sampling parameters (host memory): what the sampler needs to turn one row of
 * logits into a token and a confidence, reproducibly and independently of batching. */
typedef struct dllm_sample_row {
    uint64_t seed;            /* request seed */
    uint32_t step;            /* global denoising step index (RNG counter) */
    int32_t position;         /* absolute canvas position (RNG counter) */
    float temperature;        /* 0 = argmax; > 0 = Gumbel-max in float64 */
    uint8_t random_conf;      /* remasking "random": confidence is a uniform draw */
    uint8_t logits_eos_inf;   /* EOS logit set to -inf before everything */
    uint8_t conf_eos_eot_inf; /* confidence -inf where the token is EOS or EOT */
} dllm_sample_row;

/* Creates a backend by name ("cpu"; "cuda" when built with it). n_threads <= 0 picks the
 * backend default. Returns DLLM_E_UNSUPPORTED with a message for unknown names. */
dllm_status dllm_backend_new(const char *name, int n_threads, int device, dllm_backend **out,
                             char *err, size_t errn);
void dllm_backend_free(dllm_backend *be); /* NULL is a no-op */
const char *dllm_backend_name(const dllm_backend *be);

/* ---- memory ---- */
dllm_status dllm_backend_alloc(dllm_backend *be, size_t bytes, void **out);
void dllm_backend_dealloc(dllm_backend *be, void *p); /* NULL is a no-op */
/* Copies bytes host -> backend memory and backend -> host. */
dllm_status dllm_backend_upload(dllm_backend *be, void *dst, const void *src, size_t bytes);
dllm_status dllm_backend_download(dllm_backend *be, void *dst, const void *src, size_t bytes);
/* Uploads a (rows, cols) host matrix of type t (any alignment) in the backend's format. */
dllm_status dllm_backend_weight_upload(dllm_backend *be, const void *src, dllm_dtype t,
                                       int64_t rows, int64_t cols, dllm_weight *out);
/* Creates a (rows, cols) weight of seeded pseudo-random values directly on the backend
 * (synthetic models for benchmarks, no checkpoint): element i is
 *   bias + scale * (2 u - 1),  u = dllm_rng_uniform(seed, DLLM_RNG_WEIGHTS, 0, 0, i)
 * computed in fp32 and stored in the backend's format (so backends agree up to it). */
dllm_status dllm_backend_weight_random(dllm_backend *be, int64_t rows, int64_t cols,
                                       uint64_t seed, float scale, float bias, dllm_weight *out);
void dllm_backend_weight_free(dllm_backend *be, dllm_weight *w); /* zeroed is a no-op */

/* Pre-sizes the backend's internal scratch for sequences of up to t rows (attention,
 * V-verify), so that no op allocates during a step. Called at admission. */
dllm_status dllm_backend_reserve(dllm_backend *be, int64_t t);

/* ---- ops (all tensors backend memory, fp32, row-major) ---- */

/* y (m, w->rows) = x (m, w->cols) . w^T */
dllm_status dllm_backend_gemm(dllm_backend *be, float *y, const float *x, const dllm_weight *w,
                              int64_t m);
/* out (m, wte->cols) = wte[ids[i]] ; ids (m) int32 backend memory, each in [0, wte->rows) */
dllm_status dllm_backend_embed(dllm_backend *be, float *out, const dllm_weight *wte,
                               const int32_t *ids, int64_t m);
/* out (m, c) = x * rsqrt(mean(x^2) + eps) * w ; w is (1, c); out may equal x */
dllm_status dllm_backend_rmsnorm(dllm_backend *be, float *out, const float *x,
                                 const dllm_weight *w, int64_t m, float eps);
/* In place on x (m, nh*hs): NeoX half-split rotary embedding at positions pos (m) int32. */
dllm_status dllm_backend_rope(dllm_backend *be, float *x, const int32_t *pos, int64_t m,
                              int64_t nh, int64_t hs, float theta);
/* Bidirectional attention, no mask, one sequence:
 * out (mq, nh*hs) = softmax(q k^T / sqrt(hs)) v per head; q (mq, nh*hs); k, v (t, nh*hs). */
dllm_status dllm_backend_attention(dllm_backend *be, float *out, const float *q, const float *k,
                                   const float *v, int64_t mq, int64_t t, int64_t nh, int64_t hs);
/* Attention with key statistics (Sparse-dLLM's saliency): the same output as
 * dllm_backend_attention, and stat (t) receives, for every key j, the sum over heads h and
 * over the query rows i in [s0, s1) of the scaled score q_i,h . k_j,h / sqrt(hs), computed
 * in float64 (as sum_h (sum_i q_i,h) . k_j,h / sqrt(hs)) and stored as fp32. 0 <= s0 <=
 * s1 <= mq; s0 == s1 gives zeros. stat is backend memory. A backend without the op (slot
 * NULL) returns DLLM_E_UNSUPPORTED. */
/* 1 when the backend implements dllm_backend_attention_keystat (checked at admission). */
int dllm_backend_has_attention_keystat(const dllm_backend *be);
dllm_status dllm_backend_attention_keystat(dllm_backend *be, float *out, float *stat,
                                           const float *q, const float *k, const float *v,
                                           int64_t mq, int64_t t, int64_t nh, int64_t hs,
                                           int64_t s0, int64_t s1);
/* Attention with its probabilities (d2Cache's attention rollout): the same output as
 * dllm_backend_attention, and probs (mq, t) = the softmax probabilities averaged over the
 * heads (fp32, heads summed in order then divided by nh). probs is backend memory. A
 * backend without the op (slot NULL) returns DLLM_E_UNSUPPORTED. */
int dllm_backend_has_attention_probs(const dllm_backend *be);
dllm_status dllm_backend_attention_probs(dllm_backend *be, float *out, float *probs,
                                         const float *q, const float *k, const float *v,
                                         int64_t mq, int64_t t, int64_t nh, int64_t hs);
/* out (n) = silu(gate) * up ; out may equal gate */
dllm_status dllm_backend_swiglu(dllm_backend *be, float *out, const float *gate, const float *up,
                                int64_t n);
/* y (n) += x (n) */
dllm_status dllm_backend_add(dllm_backend *be, float *y, const float *x, int64_t n);
/* dst (n, c) = src[idx[i]] ; idx (n) int32 backend memory */
dllm_status dllm_backend_gather_rows(dllm_backend *be, float *dst, const float *src,
                                     const int32_t *idx, int64_t n, int64_t c);
/* dst[idx[i]] = src (n, c) */
dllm_status dllm_backend_scatter_rows(dllm_backend *be, float *dst, const float *src,
                                      const int32_t *idx, int64_t n, int64_t c);
/* V-verify selection for one sequence (dLLM-Cache): cos_j = cosine of vnew[j] and vold[j]
 * (rows of c floats) computed in float64 as dot / max(|a| |b|, 1e-12), j in [0, r); the k
 * rows with the LOWEST cosine (ties to the lower j) are written to sel (k) as base + j, in
 * increasing j order. vnew, vold (r, c) and sel are backend memory. */
dllm_status dllm_backend_verify_select(dllm_backend *be, int32_t *sel, const float *vnew,
                                       const float *vold, int64_t r, int64_t c, int64_t k,
                                       int32_t base);
/* Classifier-free guidance: cond (n) = uncond + (scale + 1) * (cond - uncond) */
dllm_status dllm_backend_cfg_mix(dllm_backend *be, float *cond, const float *uncond, int64_t n,
                                 float scale);
/* y (n) = a (n) + s * b (n)  (CFG reuse: cond + scale * cached residual) */
dllm_status dllm_backend_axpy(dllm_backend *be, float *y, const float *a, const float *b,
                              int64_t n, float s);
/* y (n) = a (n) - b (n) */
dllm_status dllm_backend_sub(dllm_backend *be, float *y, const float *a, const float *b,
                             int64_t n);
/* The sampler's reduction over m rows of logits (m, v) (backend memory): per row the
 * token x0 (argmax, or Gumbel-max at temperature > 0) and its confidence (softmax
 * probability in float64, or a uniform draw for random remasking), written to host
 * arrays tok (m) and conf (m). rows (m) host. eot < 0 means the model has no EOT. */
dllm_status dllm_backend_sample(dllm_backend *be, const float *logits, int64_t m, int64_t v,
                                const dllm_sample_row *rows, int32_t eos, int32_t eot,
                                int32_t *tok, double *conf);
/* Waits until every queued op has finished (no-op on synchronous backends). */
dllm_status dllm_backend_synchronize(dllm_backend *be);

#endif
