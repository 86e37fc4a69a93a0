/* dllm.h -- the public C API of the dllm engine.
 *
 * This is the only engine header the CLI, the worker and the tests need (with
 * status.h and tokenizer.h). It never mentions a backend's types.
 *
 * DESIGN
 * ------
 * - An engine (dllm_engine) owns one loaded model on one backend: weights, tokenizer and
 *   the forward workspace. It is used from one thread at a time.
 * - A sequence (dllm_seq) is one generation request: its canvas [prompt | masks], its
 *   sampling parameters and its progress through the LLaDA schedule. Sequences are
 *   created against an engine and must be freed before it.
 * - Batch-first stepping: dllm_engine_step() advances several sequences by one
 *   denoising step each, in one batched forward (their rows packed into one matrix per
 *   weight). Sequences in one call may differ in length and parameters. A finished
 *   sequence passed again is skipped. dllm_generate() is the blocking convenience
 *   built on it.
 * - Errors: every call returns a dllm_status; the message of the last failure is
 *   dllm_engine_last_error(). Creation takes an errbuf because there is no handle yet.
 *
 * Typical use:
 *     dllm_engine_config ec; dllm_engine_config_init(&ec); ec.model_dir = "models/x";
 *     dllm_engine *e; char err[512];
 *     if (dllm_engine_new(&ec, &e, err, sizeof err) != DLLM_OK) { puts(err); ... }
 *     dllm_gen_params p; dllm_gen_params_init(&p); p.gen_length = 64; ...
 *     dllm_seq *s; dllm_seq_new(e, ids, n, &p, &s);
 *     while (!dllm_seq_finished(s)) dllm_engine_step(e, &s, 1);
 *     dllm_seq_tokens(s, &n_out); ... dllm_seq_free(s); dllm_engine_free(e);
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_DLLM_H
#define DLLM_DLLM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dllm/prefix_key.h"
#include "dllm/status.h"
#include "dllm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLLM_VERSION_STRING "0.1.0"

typedef struct dllm_engine dllm_engine;
typedef struct dllm_seq dllm_seq;

/* ---- engine ---- */

typedef struct dllm_engine_config {
    const char *model_dir; /* checkpoint directory (config.json, safetensors, tokenizer.json) */
    const char *backend;   /* "cpu" (default) or "cuda" */
    int n_threads;         /* CPU threads; <= 0: OpenMP default */
    int device;            /* GPU ordinal for "cuda" */
    size_t pool_bytes;     /* memory pool for the sequences' feature caches, allocated at
                            * start; 0 = no pool (each sequence allocates its own) */
    const char *synthetic; /* instead of model_dir: a model shape ("llada-8b", or the small
                            * "llada-mini" for tests) with seeded random weights created on
                            * the backend, no tokenizer; for benchmarks */
    uint64_t synthetic_seed;
    int tp;                /* tensor parallelism: ranks sharing the model (default 1; 0 = 1);
                            * on the cpu backend the ranks are threads of this process
                            * (docs/tensor-parallel.md) */
    /* Prompt slots (docs/prompt-cache.md): features of shared system prompts, allocated at
     * start in backend memory; 0 slots = off. */
    size_t prompt_slots;        /* number of slots */
    int32_t slot_tokens;        /* rows per slot: the longest cacheable prefix (0 = 512) */
    double slot_pin_share;      /* at most this share of slots pinned, in [0, 1] (0.25) */
    double slot_pin_ttl_s;      /* a pin lapses this long after the slot's last use (1800) */
    const char *model_id;       /* prefix-key model id (NULL = model_dir's base name) */
    const char *model_revision; /* prefix-key model revision (NULL = "") */
    /* Optional: called after each tensor is uploaded while the model loads (done and total
     * bytes of the checkpoint's tensors), e.g. for a progress bar; runs on the calling
     * thread inside dllm_engine_new. */
    void (*load_progress)(void *user, uint64_t done_bytes, uint64_t total_bytes);
    void *load_progress_user;
} dllm_engine_config;

void dllm_engine_config_init(dllm_engine_config *c);

/* Loads the model in c->model_dir onto the backend. On failure *out is NULL and err holds
 * a message naming the file and problem. */
dllm_status dllm_engine_new(const dllm_engine_config *c, dllm_engine **out, char *err,
                            size_t errn);
void dllm_engine_free(dllm_engine *e); /* NULL is a no-op */

/* Message of the last failed call on this engine ("" if none); valid until the next call. */
const char *dllm_engine_last_error(const dllm_engine *e);

/* The model's tokenizer (owned by the engine); NULL for a synthetic model. */
const dllm_tokenizer *dllm_engine_tokenizer(const dllm_engine *e);

typedef struct dllm_model_info {
    int64_t d_model, n_layers, n_heads, mlp_hidden_size;
    int64_t vocab_size;          /* rows of the LM head (embedding_size) */
    int64_t max_sequence_length; /* prompt + gen_length must fit */
    int64_t n_params;
    int32_t mask_id, eos_id;
    int32_t eot_id, bos_id; /* -1 when the tokenizer has no such token */
    const char *backend;
    const char *model_dir;
} dllm_model_info;

void dllm_engine_model_info(const dllm_engine *e, dllm_model_info *out);

/* Reserves the step workspace for batches of up to `rows` packed rows, `head_rows` LM-head
 * rows and `seqs` sequences, so that later steps within those bounds allocate nothing. */
dllm_status dllm_engine_reserve(dllm_engine *e, int64_t rows, int64_t head_rows, size_t seqs);

/* The two ceilings of the engine's backend, measured (benchmarks' roofline): memory
 * bandwidth from a large element-wise op (bytes read + written per second) and the
 * matmul rate from a large projection GEMM through the backend's own GEMM path. Takes
 * about a second on a GPU; allocates and frees its buffers. */
typedef struct dllm_calibration {
    double mem_bytes_per_s;
    double matmul_flops_per_s;
    double skinny_gemm_bytes_per_s; /* weight bytes per second of a 64-row projection GEMM
                                     * (batch-1 steps are made of these) */
    size_t weight_bytes; /* the model's weights as stored on the backend */
} dllm_calibration;

dllm_status dllm_engine_calibrate(dllm_engine *e, dllm_calibration *out);

/* Memory pool use (all 0 without a pool). */
typedef struct dllm_pool_stats {
    size_t size, used, peak, largest_free;
} dllm_pool_stats;

void dllm_engine_pool_stats(const dllm_engine *e, dllm_pool_stats *out);

/* Prompt-slot counters (token counters as vLLM's prefix_cache_queries/hits). */
typedef struct dllm_slot_stats {
    size_t slots, used, referenced, pinned; /* gauges: total, holding a prefix, in use by
                                             * a sequence, pinned now */
    uint64_t queries, hits;                 /* requests that asked for a slot / hit one */
    uint64_t query_tokens, hit_tokens;      /* prefix tokens asked for / served from slots */
    uint64_t builds, evictions;             /* slots filled / evicted to make room */
    uint64_t busy;                          /* no slot could be had: ran without one */
} dllm_slot_stats;

/* Engine thread only (or while no step runs). */
void dllm_engine_slot_stats(const dllm_engine *e, dllm_slot_stats *out);

/* One held slot (for the directory). */
typedef struct dllm_slot_info {
    uint8_t key[DLLM_PREFIX_KEY_BYTES];
    int32_t n_tokens, refs;
    int pinned;
} dllm_slot_info;

/* Writes up to cap READY slots to out; returns how many are held. Engine thread only. */
size_t dllm_engine_slot_list(const dllm_engine *e, dllm_slot_info *out, size_t cap);

/* ---- generation parameters ---- */

typedef enum dllm_remasking {
    DLLM_REMASK_LOW_CONFIDENCE = 0, /* commit the most confident predictions */
    DLLM_REMASK_RANDOM = 1,         /* commit uniformly random positions */
} dllm_remasking;

typedef enum dllm_cache_policy {
    DLLM_CACHE_NONE = 0, /* recompute everything every step (the reference sampler) */
    DLLM_CACHE_DLLM = 1, /* dLLM-Cache: long-interval prompt cache + V-verify updates */
    DLLM_CACHE_PREFIX = 2, /* Fast-dLLM prefix cache: refresh at block starts, then the block
                            * and everything after it */
    DLLM_CACHE_DUAL = 3,   /* Fast-dLLM dual cache: refresh at block starts, then the block */
    DLLM_CACHE_SPARSE = 4, /* Sparse-dLLM: dual-cache style over the most salient keep_ratio of
                            * the other rows' K/V, chosen at each block's second step */
    DLLM_CACHE_D2 = 5,     /* d2Cache: per step only the most certain masked rows, the rows
                            * just decoded and the most influential others are recomputed */
} dllm_cache_policy;

/* dLLM-Cache parameters (algorithms.md section 1). Defaults are the official script's for
 * LLaDA-8B-Instruct GSM8K: K_p 50, K_r 7, rho 0.25, layer-0 rule on, no CFG reuse. */
typedef struct dllm_cache_params {
    int32_t kp;           /* prompt refresh interval K_p (>= 1; 1 = every step) */
    int32_t kr;           /* response refresh interval K_r (>= 1) */
    double rho;           /* V-verify ratio in [0, 1]: floor(rho * gen_length) rows per
                           * layer between refreshes; 0 = pure interval reuse */
    int layer0_refresh;   /* recompute layer 0 fully every step (official code since 2025-07) */
    int32_t cfg_interval; /* with CFG: run the unconditional pass every cfg_interval
                           * conditional steps and reuse cond - uncond between (0 = off) */
    /* Sparse-dLLM (cache = DLLM_CACHE_SPARSE); defaults from the official LLaDA-8B-Instruct
     * evaluation: keep_ratio 0.5, kernel 3 */
    double keep_ratio;    /* (0, 1]: fraction of the non-block rows whose K/V stay cached */
    int32_t kernel;       /* odd >= 1: max-pool window over the saliency (1 = no pooling) */
    /* d2Cache (cache = DLLM_CACHE_D2); defaults from the official LLaDA-8B-Instruct settings
     * (configs/gen_args.py): k 32, p 0.1, sigma 10, inflate 0, certainty prior on */
    int32_t d2_k;         /* >= 1: masked rows recomputed per step (certainty density x conf) */
    double d2_p;          /* [0, 1]: nucleus of the other rows by attention-rollout influence */
    double d2_sigma;      /* > 0: Gaussian width of the certainty density */
    int32_t d2_inflate;   /* >= 0: also recompute gaps of at most this many rows (0 = off) */
    int d2_prior;         /* certainty-prior decoding: rank commits by conf x density
                           * (schedule decoding only) */
} dllm_cache_params;

typedef struct dllm_gen_params {
    int32_t gen_length;   /* tokens to generate (the masked region), >= 1 */
    int32_t steps;        /* denoising steps in total, a multiple of the block count */
    int32_t block_length; /* semi-autoregressive block; divides gen_length */
    float temperature;    /* 0 = greedy; > 0 = Gumbel-max sampling */
    float cfg_scale;      /* 0 = off; > 0 = classifier-free guidance (2 forwards per step) */
    dllm_remasking remasking;
    uint64_t seed; /* RNG seed for temperature > 0 and random remasking */
    int logits_eos_inf;         /* forbid EOS (its logit is -inf) */
    int confidence_eos_eot_inf; /* never prefer committing EOS/EOT (confidence -inf) */
    dllm_cache_policy cache;
    dllm_cache_params cache_params; /* used by cache = DLLM_CACHE_DLLM, _SPARSE and _D2 */
    /* Parallel decoding (Fast-dLLM), composing with every policy; at most one of the two.
     * With either, a block ends when it has no mask left and `steps` is not used. */
    float threshold;  /* (0, 1]: commit every block position with confidence > threshold
                       * (at least the best one); 0 = the LLaDA schedule */
    float factor;     /* > 0: commit the largest n with (n+1)(1 - c_n) < factor (at least 1) */
    int early_stop;   /* finish once EOS/EOT is committed with everything before it decoded;
                       * the masks after it become EOS */
    /* Prompt slots: serve prompt tokens [0, prefix_len) (the system turn) from a slot of
     * the engine (built from that prefix alone when missing); 0 = no slot. */
    int32_t prefix_len;
    int prefix_pin;      /* ask to pin the slot (capped share, TTL refreshed on use) */
    uint8_t cache_salt[DLLM_CACHE_SALT_MAX]; /* tenant isolation: part of the slot key */
    uint16_t cache_salt_len;
} dllm_gen_params;

/* LLaDA generate.py defaults: gen_length 128, steps 128, block_length 32, greedy,
 * low-confidence remasking, no CFG, seed 0, cache none (with dLLM-Cache parameters at
 * their defaults, used when cache is switched to DLLM_CACHE_DLLM). */
void dllm_gen_params_init(dllm_gen_params *p);

/* Checks the parameters alone (ranges and the divisibility rules of the schedule);
 * DLLM_E_INVALID_ARG with a message naming the parameter. */
dllm_status dllm_gen_params_validate(const dllm_gen_params *p, char *err, size_t errn);

/* The prompt-slot key (docs/prompt-cache.md) of prefix under p with this engine's model
 * identity; out may be hex-encoded with dllm_prefix_key_hex. */
dllm_status dllm_engine_prefix_key(const dllm_engine *e, const int32_t *prefix, size_t n,
                                   const dllm_gen_params *p, uint8_t out[DLLM_PREFIX_KEY_BYTES]);

/* Parses "low_confidence"/"random" and "none"/"dllm"/"prefix"/"dual"/"sparse"/"d2";
 * DLLM_E_INVALID_ARG otherwise. */
dllm_status dllm_remasking_parse(const char *s, dllm_remasking *out);
const char *dllm_remasking_name(dllm_remasking r);
dllm_status dllm_cache_policy_parse(const char *s, dllm_cache_policy *out);
const char *dllm_cache_policy_name(dllm_cache_policy c);

/* ---- sequences and stepping ---- */

/* Creates a sequence for prompt ids (copied). Validates the parameters, the ids (within
 * the vocabulary, no mask token) and the length (prompt + gen_length within the model's
 * maximum), and reserves the workspace the sequence needs, so stepping it allocates
 * nothing new. */
dllm_status dllm_seq_new(dllm_engine *e, const int32_t *prompt, size_t n_prompt,
                         const dllm_gen_params *p, dllm_seq **out);
void dllm_seq_free(dllm_seq *s); /* NULL is a no-op */

/* Advances every unfinished sequence in seqs by one denoising step, in one batched
 * forward. On error no sequence has advanced past a partially applied step: the
 * canvases are unchanged. */
dllm_status dllm_engine_step(dllm_engine *e, dllm_seq *const *seqs, size_t n);

int dllm_seq_finished(const dllm_seq *s);

/* Pool bytes a sequence with this prompt length and these parameters needs (its feature
 * caches and CFG residual), whether or not the engine has a pool. */
size_t dllm_seq_bytes(const dllm_engine *e, size_t n_prompt, const dllm_gen_params *p);

/* The generated region (gen_length ids; the mask id where not yet decoded). Owned by s. */
const int32_t *dllm_seq_tokens(const dllm_seq *s, size_t *n);

/* What a sequence's forwards computed, for cost accounting. Row counts are summed over
 * layers, forwards and CFG branches; FLOPs count the matmuls (2 per multiply-add) of the
 * projections, attention (QK^T and PV) and the LM head. The *_none fields are what the
 * same forwards cost with every row recomputed (policy `none`) on the same head rows. */
typedef struct dllm_seq_stats {
    int32_t prompt_tokens;
    int32_t gen_length;
    int32_t steps;     /* denoising steps done */
    int32_t forwards;  /* model forwards done (2 per step with CFG, fewer with reuse) */
    int32_t completion_tokens; /* generated tokens before the first EOS/EOT (all if none) */
    double forward_ms; /* time spent in this sequence's steps (shared batch time) */
    int64_t rows_q;    /* rows through Q, K, W_o (the rows whose attention ran) */
    int64_t rows_v;    /* rows through the V projection (includes V-verify rows) */
    int64_t rows_mlp;  /* rows through the MLP */
    int64_t rows_head; /* rows through the LM head */
    int64_t rows_all;  /* rows x layers x forwards: what `none` computes for each kind */
    double flops;      /* matmul FLOPs spent */
    double flops_none; /* matmul FLOPs of the same forwards without a cache */
    int32_t cached_prompt_tokens; /* prompt rows attached from an existing prompt slot */
    int32_t slot_prefix_tokens;   /* prompt rows taken from a slot (hit or built here) */
} dllm_seq_stats;

/* Rows computed per layer (n_layers entries each; NULL entries are skipped): rows through
 * Q/K/attention/W_o, V, and the MLP, summed over forwards. Returns the layer count. */
int64_t dllm_seq_layer_rows(const dllm_seq *s, int64_t *q, int64_t *v, int64_t *mlp,
                            int64_t n);

void dllm_seq_stats_get(const dllm_seq *s, dllm_seq_stats *out);

/* Blocking generation: runs the sequence to completion. *out_ids (gen_length ids,
 * malloc'd, caller frees) and stats may be NULL if not wanted. */
dllm_status dllm_generate(dllm_engine *e, const int32_t *prompt, size_t n_prompt,
                          const dllm_gen_params *p, int32_t **out_ids, size_t *n_out,
                          dllm_seq_stats *stats);

/* ---- scheduler: continuous batching ----
 *
 * Requests are submitted at any time from any thread; the engine thread calls
 * dllm_sched_step() in a loop: it admits queued requests (FIFO) while the caps and the
 * memory pool allow, then advances every running sequence by one denoising step in one
 * batched forward. A sequence leaves the batch the moment it finishes and its result is
 * queued for dllm_sched_poll() while the others continue. Sequences in one batch may
 * differ in every parameter, policy and cache phase; their tokens are the same as alone.
 */

typedef struct dllm_sched dllm_sched;

typedef struct dllm_sched_config {
    size_t max_running; /* sequences per batch (default 16) */
    int64_t max_rows;   /* packed rows per step (default 4 x max_sequence_length) */
    size_t max_queue;   /* admission queue; dllm_sched_submit returns DLLM_E_BUSY when full
                         * (default 256) */
    int64_t max_head_rows; /* LM-head rows per step (default 512): the logits buffer */
} dllm_sched_config;

void dllm_sched_config_init(dllm_sched_config *c);

typedef struct dllm_request {
    uint64_t tag;          /* caller's cookie, echoed in the result */
    const int32_t *prompt; /* (n_prompt) copied at submit */
    size_t n_prompt;
    dllm_gen_params params;
} dllm_request;

typedef struct dllm_result {
    uint64_t id, tag;
    dllm_status status;  /* DLLM_OK, DLLM_E_CANCELLED, or the failure */
    char error[512];     /* message when status != DLLM_OK */
    int32_t *tokens;     /* (n_tokens) the generated region (NULL on failure) */
    size_t n_tokens;
    dllm_seq_stats stats;
    double queue_ms;      /* submit -> admitted */
    double first_step_ms; /* submit -> first step done */
    double total_ms;      /* submit -> finished */
} dllm_result;

void dllm_result_free(dllm_result *r); /* NULL is a no-op */

/* Creates a scheduler over e (borrowed; e must outlive it). Reserves the forward
 * workspace for max_rows rows at once, so steps allocate nothing. */
dllm_status dllm_sched_new(dllm_engine *e, const dllm_sched_config *c, dllm_sched **out,
                           char *err, size_t errn);
void dllm_sched_free(dllm_sched *s); /* running and queued requests are dropped */

/* Thread-safe. Validates and queues a request; *id identifies it. A request that can
 * never run (bad parameters, longer than the model allows, more rows than max_rows, more
 * memory than the whole pool) is rejected at once with DLLM_E_INVALID_ARG and a message in
 * err; DLLM_E_BUSY when the queue is full. */
dllm_status dllm_sched_submit(dllm_sched *s, const dllm_request *r, uint64_t *id, char *err,
                              size_t errn);

/* Thread-safe. Cancels a queued or running request: its result (DLLM_E_CANCELLED) is
 * delivered by the next dllm_sched_step(). DLLM_E_INVALID_ARG if the id is unknown or done. */
dllm_status dllm_sched_cancel(dllm_sched *s, uint64_t id);

/* Engine thread. Admits, then runs one step for every running sequence. *n_active (may be
 * NULL) receives queued + running after the step. A step failure fails the sequences of
 * that batch (their results carry the error) and returns the status. */
dllm_status dllm_sched_step(dllm_sched *s, size_t *n_active);

/* Thread-safe. Takes the oldest finished result (the caller frees it): 1 if one was
 * taken, 0 if none is ready. */
int dllm_sched_poll(dllm_sched *s, dllm_result **out);

typedef struct dllm_sched_stats {
    size_t queued, running;
    uint64_t submitted, finished, rejected, cancelled;
    uint64_t steps;       /* batched steps run */
    uint64_t rows;        /* packed rows over those steps */
    dllm_slot_stats slots; /* prompt slots, as of the last step */
} dllm_sched_stats;

void dllm_sched_stats_get(dllm_sched *s, dllm_sched_stats *out); /* thread-safe */

/* Thread-safe. The engine's held prompt slots as of the last step (up to cap of them);
 * returns how many there were. */
size_t dllm_sched_slot_list(dllm_sched *s, dllm_slot_info *out, size_t cap);

/* ---- cost model (no weights needed) ---- */

/* The shape a cost estimate needs. */
typedef struct dllm_model_shape {
    int64_t d_model, n_layers, n_heads, mlp_hidden_size, vocab_size;
} dllm_model_shape;

/* LLaDA-8B's shape (algorithms.md 13.3): 4096, 32 layers, 32 heads, 12288, 126464. */
void dllm_model_shape_llada_8b(dllm_model_shape *out);

/* The matmul cost of a whole generation, simulated from the schedule alone: the same
 * policy plans the engine runs, the same FLOP formula as dllm_seq_stats (projections,
 * attention QK^T and PV, MLP, LM head; 2 FLOPs per multiply-add). Two LM-head variants:
 * the engine's (head rows = the current block) and the Hugging Face code's (every
 * canvas row), which is what papers' FLOP counts include. */
typedef struct dllm_cost {
    int32_t forwards;
    double flops;                 /* with the policy, block-only LM head */
    double flops_none;            /* everything recomputed, block-only LM head */
    double flops_full_head;       /* with the policy, LM head over every canvas row */
    double flops_none_full_head;  /* everything recomputed, LM head over every row */
    int64_t rows_q, rows_v, rows_mlp, rows_all;
    /* tensor parallelism (docs/tensor-parallel.md), the whole generation, fp32 activations:
     * the all-reduces of backend memory (embedding, W_o and W_down per layer, Sparse-dLLM's
     * key scores, d2Cache's probabilities) and the small host collectives (V-verify's
     * partial cosines, the sampler's all-gather); bytes = each rank's payload. The same for
     * every TP degree (the sampler's all-gather receives tp times its payload). */
    int64_t tp_allreduce_count, tp_small_count;
    double tp_allreduce_bytes, tp_small_bytes;
} dllm_cost;

dllm_status dllm_estimate_cost(const dllm_model_shape *m, int32_t prompt_len,
                               const dllm_gen_params *p, dllm_cost *out, char *err,
                               size_t errn);

/* ---- checkpoints (no backend needed) ---- */

/* Prints the config summary and tensor table of the checkpoint in model_dir to out, as
 * text or (json != 0) as one JSON object. */
dllm_status dllm_inspect(const char *model_dir, int json, FILE *out, char *err, size_t errn);

#ifdef __cplusplus
}
#endif
#endif
