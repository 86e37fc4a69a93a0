/* engine.c -- the public engine API (dllm.h): model lifetime, sequences, stepping.
 *
 * DESIGN
 * ------
 * - dllm_engine owns: the backend, the mmapped checkpoint (kept open for inspection and
 *   for backends that stream from it), the uploaded weights, the tokenizer, the forward
 *   workspace and the host scratch of the sampler. One thread uses it at a time.
 * - dllm_seq holds a request: the canvas [prompt | gen_length x MASK] (host), an
 *   unconditional canvas for CFG (prompt replaced by MASK), and the schedule state
 *   (block b, step i within the block, global step counter s used by the RNG).
 * - dllm_engine_step() runs one denoising step for a batch:
 *     1. plan: each unfinished sequence contributes its canvas (and the CFG canvas) with
 *        head rows = the current block;
 *     2. forward over all packed rows (forward.c);
 *     3. per sequence: CFG mix of its head logits, then the backend's sample reduction
 *        (token + confidence per block row), then the host commit: the scheduled number
 *        of masked block positions with the highest confidence (sampler.c).
 *   A failure before the commit leaves every canvas unchanged.
 * - Workspace is reserved at dllm_seq_new() for the largest single sequence seen (and
 *   grown when a batch needs more at the start of a step, before any state changes), so
 *   a step of sequences already admitted allocates nothing.
 * - Tensor parallelism (config tp > 1, docs/tensor-parallel.md): rank 0 is this engine's
 *   own backend, weights (its shard), forward and pool, and each sequence's own stores;
 *   ranks 1..tp-1 live in e->rk[r] and s->tp_fs / s->tp_res. The caller's thread plans
 *   the step (rank 0 schedules), every rank runs the forward and its vocabulary slice of
 *   the sampler on its thread (tp.h), rank 0 commits. At tp = 1 none of it exists.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "dllm/dllm.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cache/d2.h"
#include "cache/feature_store.h"
#include "cache/policy.h"
#include "cache/slots.h"
#include "checkpoint.h"
#include "forward.h"
#include "model.h"
#include "sampler.h"
#include "shard.h"
#include "tp.h"
#include "util.h"

/* State of tensor-parallel rank r >= 1 (rank 0 is the engine's own be, w, fwd, pool) and
 * every rank's step scratch (host). */
typedef struct tp_rank {
    dllm_backend *be;
    dllm_model_weights w;
    dllm_forward fwd;
    dllm_pool pool;
    dllm_fwd_seq *plan;          /* (cap_plan) the step's plan with this rank's stores */
    size_t cap_plan;
    float *lg;                   /* (cap_lg) host: one sequence's block logits slice */
    size_t cap_lg;
    dllm_tp_sample_part *part;   /* (cap_part) this rank's records */
    dllm_tp_sample_part *all;    /* (tp, cap_part) everyone's (all-gather) */
    size_t cap_part;
} tp_rank;

struct dllm_engine {
    dllm_backend *be;
    dllm_checkpoint *ck;
    dllm_tokenizer *tok;
    dllm_model_weights w;
    dllm_forward fwd;
    dllm_pool pool;      /* sequences' features (size 0: none, direct allocations) */
    dllm_slots slots;    /* prompt slots (n 0: off) */
    char *model_id, *model_revision; /* prefix-key identity */
    uint8_t tok_sha256[32];          /* SHA-256 of tokenizer.json */
    char *model_dir;
    int32_t mask_id, eos_id, eot_id, bos_id;
    int64_t max_len;
    int64_t n_params;
    /* sampler scratch (host), capacity cap_sample rows */
    size_t cap_sample;
    dllm_sample_row *rows;
    int32_t *tok_buf;
    double *conf_buf;
    int32_t *cand_pos;
    size_t *order, *sel;
    /* batch plan scratch, capacity cap_plan sequences */
    size_t cap_plan;
    dllm_fwd_seq *plan;
    /* tensor parallelism (tp > 1) */
    int tp;
    dllm_tp_group *grp;
    tp_rank *rk;                /* (tp) */
    dllm_sample_row *tp_rows;   /* (cap_tp) the step's sample rows, all sequences */
    int32_t *tp_tok;            /* (cap_tp) */
    double *tp_conf;            /* (cap_tp) */
    size_t cap_tp;
    char last_error[1024];
};

struct dllm_seq {
    dllm_engine *e;
    dllm_gen_params p;
    const dllm_policy *policy;
    int32_t P, R, T;
    int32_t *canvas;  /* (T) host */
    int32_t *uncond;  /* (T) host, CFG only: prompt masked */
    dllm_feature_store fs_cond, fs_uncond; /* features per branch */
    dllm_layer_plan *plan_cond, *plan_uncond; /* (L) plans of the current forward */
    int32_t t_cond, t_uncond;  /* forwards run per branch (the policies' step counters) */
    float *cfg_res;   /* (R, V) backend memory: cached cond - uncond (cfg_interval > 0) */
    int run_uncond;   /* this step runs the unconditional branch */
    dllm_row_counts counts;
    int64_t *count_buf; /* (3, L) backing of counts.q/v/mlp */
    int32_t nb, spb;  /* blocks, steps per block */
    int32_t block;    /* current block */
    int32_t i;        /* step within the block */
    int32_t s;        /* global step counter (RNG) */
    int32_t block_masked; /* masked count of the block at its start */
    int finished;
    int32_t forwards;
    double forward_ms;
    int is_d2;        /* cache policy d2: d2 holds its row selection state */
    dllm_d2_state d2;
    dllm_feature_store *tp_fs; /* tp > 1: (2 tp) [2r] cond, [2r + 1] uncond of rank r >= 1 */
    float **tp_res;            /* tp > 1: (tp) rank r >= 1's cfg_res (R, Vl) */
    int slot;               /* prompt slot held (-1: none) */
    int32_t slot_rows;      /* prompt rows [0, slot_rows) attached from it */
    int32_t cached_prompt;  /* slot_rows when the slot already existed, else 0 */
};

/* Rank r's parts (rank 0: the engine's and the sequence's own). */
static dllm_backend *rk_be(const dllm_engine *e, int r)
{
    return r ? e->rk[r].be : e->be;
}

static dllm_model_weights *rk_w(dllm_engine *e, int r)
{
    return r ? &e->rk[r].w : &e->w;
}

static dllm_forward *rk_fwd(dllm_engine *e, int r)
{
    return r ? &e->rk[r].fwd : &e->fwd;
}

static dllm_pool *rk_pool(dllm_engine *e, int r)
{
    dllm_pool *p = r ? &e->rk[r].pool : &e->pool;
    return p->size > 0 ? p : NULL;
}

static dllm_feature_store *seq_fs(dllm_seq *s, int r, int uncond)
{
    if (r == 0) return uncond ? &s->fs_uncond : &s->fs_cond;
    return &s->tp_fs[2 * r + uncond];
}

static float **seq_res(dllm_seq *s, int r)
{
    return r ? &s->tp_res[r] : &s->cfg_res;
}

/* Every rank's forward workspace. */
static dllm_status fwd_reserve(dllm_engine *e, int64_t rows, int64_t head)
{
    for (int r = 0; r < e->tp; r++) DLLM_TRY(dllm_forward_reserve(rk_fwd(e, r), rows, head));
    return DLLM_OK;
}

static dllm_status fwd_reserve_probs(dllm_engine *e, int64_t t)
{
    for (int r = 0; r < e->tp; r++) DLLM_TRY(dllm_forward_reserve_probs(rk_fwd(e, r), t));
    return DLLM_OK;
}

static dllm_status seterr(dllm_engine *e, dllm_status rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static dllm_status seterr(dllm_engine *e, dllm_status rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->last_error, sizeof e->last_error, fmt, ap);
    va_end(ap);
    return rc;
}

static dllm_status reserve_host(dllm_engine *e, size_t rows, size_t plan);
static dllm_status attach_slot(dllm_engine *e, dllm_seq *s);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- engine ---- */

void dllm_engine_config_init(dllm_engine_config *c)
{
    memset(c, 0, sizeof *c);
    c->backend = "cpu";
    c->tp = 1;
    c->slot_pin_share = 0.25;
    c->slot_pin_ttl_s = 1800.0;
}

void dllm_engine_free(dllm_engine *e)
{
    if (e == NULL) return;
    dllm_tp_group_free(e->grp); /* joins the rank threads first */
    for (int r = 0; e->rk != NULL && r < e->tp; r++) {
        tp_rank *k = &e->rk[r];
        if (r > 0) {
            dllm_forward_deinit(&k->fwd);
            dllm_pool_deinit(&k->pool);
            dllm_model_weights_deinit(&k->w, k->be);
            dllm_backend_free(k->be);
        }
        free(k->plan);
        free(k->lg);
        free(k->part);
        free(k->all);
    }
    free(e->rk);
    free(e->tp_rows);
    free(e->tp_tok);
    free(e->tp_conf);
    dllm_forward_deinit(&e->fwd);
    dllm_slots_deinit(&e->slots);
    dllm_pool_deinit(&e->pool);
    free(e->model_id);
    free(e->model_revision);
    dllm_model_weights_deinit(&e->w, e->be);
    dllm_backend_free(e->be);
    dllm_checkpoint_free(e->ck);
    dllm_tokenizer_free(e->tok);
    free(e->rows);
    free(e->tok_buf);
    free(e->conf_buf);
    free(e->cand_pos);
    free(e->order);
    free(e->sel);
    free(e->plan);
    free(e->model_dir);
    free(e);
}

/* A synthetic model: the shape of a known model, weights drawn on the backend from a
 * seeded uniform distribution scaled so that activations keep unit size (matrices
 * +-sqrt(3 / fan_in), embeddings +-1, norms 1). Special token ids are the real model's. */
typedef struct synth_spec {
    const char *name;
    int64_t C, L, NH, F, V, max_len;
    int32_t mask, eos, eot, bos;
} synth_spec;

static const synth_spec synth_specs[] = {
    {"llada-8b", 4096, 32, 32, 12288, 126464, 4096, 126336, 126081, 126348, 126080},
    {"llada-mini", 128, 2, 4, 256, 1024, 1024, 1000, 1001, 1002, 1003},
};

static dllm_status synth_weight(dllm_backend *be, uint64_t seed, int64_t idx, int64_t rows,
                                int64_t cols, float scale, float bias, dllm_weight *w)
{
    return dllm_backend_weight_random(be, rows, cols, seed ^ ((uint64_t)(idx + 1) *
                                      0x9E3779B97F4A7C15ull), scale, bias, w);
}

/* Rank r's shard of a full synthetic model (tensor parallelism): the same slices as a
 * checkpoint's (shard.h), cut on the backend through the host. */
static dllm_status synth_shard(dllm_backend *be, dllm_model_weights *w, int tp, int r,
                               char *err, size_t errn)
{
    dllm_shard sh;
    DLLM_TRY(dllm_shard_plan(tp, r, w->C, w->NH, w->F, w->V, &sh, err, errn));
    for (int64_t l = 0; l < w->L; l++) {
        dllm_layer_weights *lw = &w->layers[l];
        DLLM_TRY(dllm_weight_slice(be, &lw->wq, sh.c0, sh.Cl, 0, w->C, 0));
        DLLM_TRY(dllm_weight_slice(be, &lw->wk, sh.c0, sh.Cl, 0, w->C, 0));
        DLLM_TRY(dllm_weight_slice(be, &lw->wv, sh.c0, sh.Cl, 0, w->C, 0));
        DLLM_TRY(dllm_weight_slice(be, &lw->wo, 0, w->C, sh.c0, sh.Cl, 0));
        DLLM_TRY(dllm_weight_slice(be, &lw->w_gate, sh.f0, sh.Fl, 0, w->C, 0));
        DLLM_TRY(dllm_weight_slice(be, &lw->w_up, sh.f0, sh.Fl, 0, w->C, 0));
        DLLM_TRY(dllm_weight_slice(be, &lw->w_down, 0, w->C, sh.f0, sh.Fl, 0));
    }
    DLLM_TRY(dllm_weight_slice(be, &w->wte, sh.v0, sh.Vl, 0, w->C, 1));
    DLLM_TRY(dllm_weight_slice(be, &w->head, sh.v0, sh.Vl, 0, w->C, 0));
    w->tp = tp;
    w->rank = r;
    w->NHl = sh.NHl;
    w->Cl = sh.Cl;
    w->Fl = sh.Fl;
    w->Vl = sh.Vl;
    w->v0 = sh.v0;
    return DLLM_OK;
}

static dllm_status synth_load(dllm_engine *e, const dllm_engine_config *c, dllm_backend *be,
                              dllm_model_weights *w, int rank, char *err, size_t errn)
{
    const synth_spec *sp = NULL;
    uint64_t seed = c->synthetic_seed;
    dllm_status rc = DLLM_OK;
    int64_t idx = 0;

    for (size_t i = 0; i < sizeof synth_specs / sizeof synth_specs[0]; i++)
        if (strcmp(c->synthetic, synth_specs[i].name) == 0) sp = &synth_specs[i];
    if (sp == NULL)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "unknown synthetic model '%s' (known: "
                         "llada-8b, llada-mini)", c->synthetic);
    memset(w, 0, sizeof *w);
    w->C = sp->C;
    w->L = sp->L;
    w->NH = sp->NH;
    w->HS = sp->C / sp->NH;
    w->F = sp->F;
    w->V = sp->V;
    w->eps = 1e-5f;
    w->theta = 500000.0f;
    w->layers = calloc((size_t)w->L, sizeof *w->layers);
    if (w->layers == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
    float sc = sqrtf(3.0f / (float)w->C), sf = sqrtf(3.0f / (float)w->F);
#define SW(r, cols, scale, bias, dst)                                                          \
    DLLM_TRY_GOTO(synth_weight(be, seed, idx++, (r), (cols), (scale), (bias), (dst)), rc, fail)
    SW(w->V, w->C, 1.0f, 0.0f, &w->wte);
    for (int64_t l = 0; l < w->L; l++) {
        dllm_layer_weights *lw = &w->layers[l];
        SW(1, w->C, 0.0f, 1.0f, &lw->attn_norm);
        SW(w->C, w->C, sc, 0.0f, &lw->wq);
        SW(w->C, w->C, sc, 0.0f, &lw->wk);
        SW(w->C, w->C, sc, 0.0f, &lw->wv);
        SW(w->C, w->C, sc, 0.0f, &lw->wo);
        SW(1, w->C, 0.0f, 1.0f, &lw->ff_norm);
        SW(w->F, w->C, sc, 0.0f, &lw->w_gate);
        SW(w->F, w->C, sc, 0.0f, &lw->w_up);
        SW(w->C, w->F, sf, 0.0f, &lw->w_down);
    }
    SW(1, w->C, 0.0f, 1.0f, &w->ln_f);
    SW(w->V, w->C, sc, 0.0f, &w->head);
#undef SW
    dllm_model_weights_set_full(w);
    if (e->tp > 1) DLLM_TRY_GOTO(synth_shard(be, w, e->tp, rank, err, errn), rc, fail);
    e->mask_id = sp->mask;
    e->eos_id = sp->eos;
    e->eot_id = sp->eot;
    e->bos_id = sp->bos;
    e->max_len = sp->max_len;
    e->n_params = 2 * w->V * w->C + w->C +
                  w->L * (4 * w->C * w->C + 3 * w->C * w->F + 2 * w->C);
    return DLLM_OK;
fail:
    dllm_model_weights_deinit(w, be);
    if (rc == DLLM_E_CONFIG) return rc; /* the shard plan's message */
    return dllm_errf(err, errn, rc, "cannot create the synthetic model '%s' on the %s backend: "
                     "%s", sp->name, dllm_backend_name(be), dllm_status_desc(rc));
}

/* CPU threads of one rank's backend: n_threads is the total, so tp ranks get a share each
 * (OpenBLAS workers of several ranks spinning on the same cores were 3x slower than one
 * thread per rank on a 2-core machine); tp = 1 keeps the configured value. */
static int rank_threads(const dllm_engine_config *c)
{
    long n;
    if (c->tp <= 1) return c->n_threads;
    n = c->n_threads > 0 ? c->n_threads : sysconf(_SC_NPROCESSORS_ONLN);
    n /= c->tp;
    return n < 1 ? 1 : (int)n;
}

/* The rank group of a tp > 1 engine (threads and communicator) and its rank table. */
static dllm_status tp_setup(dllm_engine *e, const dllm_engine_config *c, char *err, size_t errn)
{
    dllm_status rc;
    e->tp = c->tp > 1 ? c->tp : 1;
    e->rk = calloc((size_t)e->tp, sizeof *e->rk);
    if (e->rk == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
    if (e->tp == 1) return DLLM_OK;
    /* a collective waits at most 10 minutes for a rank (an 8B CPU layer takes seconds) */
    rc = dllm_tp_group_new(e->tp, 600 * 1000, &e->grp);
    if (rc != DLLM_OK)
        return dllm_errf(err, errn, rc, "cannot start %d tensor-parallel ranks: %s", e->tp,
                         dllm_status_desc(rc));
    return DLLM_OK;
}

dllm_status dllm_engine_new(const dllm_engine_config *c, dllm_engine **out, char *err,
                            size_t errn)
{
    dllm_engine *e = NULL;
    dllm_status rc = DLLM_OK;
    char path[4096];
    char sub[512];

    *out = NULL;
    if (c != NULL && (c->tp < 0 || c->tp > 64)) {
        rc = dllm_errf(err, errn, DLLM_E_CONFIG, "tensor parallelism %d is out of range [1, 64]",
                       c->tp);
        goto out;
    }
    if (c != NULL && c->tp > 1 && c->backend != NULL && strcmp(c->backend, "cpu") != 0) {
        rc = dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                       "--tp %d runs on the cpu backend (ranks over the in-process "
                       "communicator); on the %s backend the NCCL communicator "
                       "(engine/cuda/comm_nccl.c) is not wired to the engine yet; hint: use "
                       "--tp 1 on GPUs", c->tp, c->backend);
        goto out;
    }
    if (c != NULL && c->synthetic != NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL || (e->model_dir = strdup(c->synthetic)) == NULL) {
            rc = dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
            goto out;
        }
        DLLM_TRY_GOTO(tp_setup(e, c, err, errn), rc, out);
        for (int r = 0; r < e->tp; r++) {
            dllm_backend **be = r ? &e->rk[r].be : &e->be;
            DLLM_TRY_GOTO(dllm_backend_new(c->backend, rank_threads(c), c->device, be, err, errn),
                          rc, out);
            DLLM_TRY_GOTO(synth_load(e, c, *be, rk_w(e, r), r, err, errn), rc, out);
            dllm_forward_init(rk_fwd(e, r), *be, rk_w(e, r));
            if (e->tp > 1) dllm_forward_set_comm(rk_fwd(e, r), dllm_tp_group_comm(e->grp, r));
        }
        goto pool;
    }
    if (c == NULL || c->model_dir == NULL || c->model_dir[0] == '\0') {
        rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG, "no model directory given");
        goto out;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->model_dir = strdup(c->model_dir)) == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
        goto out;
    }
    DLLM_TRY_GOTO(dllm_checkpoint_open(c->model_dir, &e->ck, err, errn), rc, out);
    if (snprintf(path, sizeof path, "%s/tokenizer.json", c->model_dir) >= (int)sizeof path) {
        rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG, "model path too long");
        goto out;
    }
    rc = dllm_tokenizer_load(path, &e->tok, sub, sizeof sub);
    if (rc != DLLM_OK) {
        rc = dllm_errf(err, errn, rc, "%s", sub);
        goto out;
    }
    DLLM_TRY_GOTO(dllm_sha256_file(path, e->tok_sha256, err, errn), rc, out);
    DLLM_TRY_GOTO(tp_setup(e, c, err, errn), rc, out);
    for (int r = 0; r < e->tp; r++) {
        dllm_backend **be = r ? &e->rk[r].be : &e->be;
        DLLM_TRY_GOTO(dllm_backend_new(c->backend, rank_threads(c), c->device, be, err, errn),
                      rc, out);
        DLLM_TRY_GOTO(dllm_model_weights_load_tp(rk_w(e, r), *be, e->ck, e->tp, r,
                                                 r ? NULL : c->load_progress,
                                                 c->load_progress_user, err, errn),
                      rc, out);
        dllm_forward_init(rk_fwd(e, r), *be, rk_w(e, r));
        if (e->tp > 1) dllm_forward_set_comm(rk_fwd(e, r), dllm_tp_group_comm(e->grp, r));
    }
    e->mask_id = (int32_t)e->ck->cfg.mask_token_id;
    e->eos_id = (int32_t)e->ck->cfg.eos_token_id;
    e->eot_id = dllm_tokenizer_token_to_id(e->tok, "<|eot_id|>");
    e->bos_id = dllm_tokenizer_token_to_id(e->tok, "<|startoftext|>");
    e->max_len = e->ck->cfg.max_sequence_length;
    e->n_params = e->ck->n_params;
    if ((int64_t)dllm_tokenizer_vocab_size(e->tok) > e->w.V) {
        rc = dllm_errf(err, errn, DLLM_E_CONFIG,
                       "%s: the tokenizer has %zu ids but the model's embedding has %lld rows; "
                       "hint: tokenizer.json and the weights come from different models",
                       path, dllm_tokenizer_vocab_size(e->tok), (long long)e->w.V);
        goto out;
    }
pool:
    for (int r = 0; c->pool_bytes > 0 && r < e->tp; r++) {
        rc = dllm_pool_init(r ? &e->rk[r].pool : &e->pool, rk_be(e, r), c->pool_bytes);
        if (rc != DLLM_OK) {
            rc = dllm_errf(err, errn, rc, "cannot allocate a %zu-byte memory pool on the %s "
                           "backend: %s; hint: lower --pool-mb", c->pool_bytes,
                           dllm_backend_name(e->be), dllm_status_desc(rc));
            goto out;
        }
    }
    /* prompt-slot key identity (docs/prompt-cache.md); a synthetic model has no tokenizer:
     * its "tokenizer hash" is SHA-256 of "synthetic:<name>" */
    if (c->synthetic != NULL) {
        char tag[256];
        snprintf(tag, sizeof tag, "synthetic:%s", c->synthetic);
        DLLM_TRY_GOTO(dllm_sha256(tag, strlen(tag), e->tok_sha256), rc, out);
    }
    {
        /* default model id: the directory's (or synthetic model's) base name */
        const char *src = c->synthetic != NULL ? c->synthetic : c->model_dir;
        size_t end = strlen(src), beg;
        while (end > 1 && src[end - 1] == '/') end--;
        beg = end;
        while (beg > 0 && src[beg - 1] != '/') beg--;
        e->model_id = c->model_id ? strdup(c->model_id) : strndup(src + beg, end - beg);
        e->model_revision = strdup(c->model_revision ? c->model_revision : "");
        if (e->model_id == NULL || e->model_revision == NULL) {
            rc = dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory");
            goto out;
        }
    }
    if (c->prompt_slots > 0 && e->tp > 1) {
        rc = dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                       "prompt slots are not sharded across tensor-parallel ranks yet (a slot "
                       "holds full-width K/V); hint: --prompt-slots 0 with --tp %d", e->tp);
        goto out;
    }
    if (c->prompt_slots > 0) {
        int32_t st = c->slot_tokens > 0 ? c->slot_tokens : 512;
        double share = c->slot_pin_share, ttl = c->slot_pin_ttl_s;
        if (!(share >= 0.0 && share <= 1.0) || c->slot_tokens < 0 || !(ttl > 0.0)) {
            rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                           "prompt slots: slot_tokens must be >= 0, the pin share in [0, 1] and "
                           "the pin TTL > 0 (got %d, %g, %g)", (int)c->slot_tokens,
                           c->slot_pin_share, c->slot_pin_ttl_s);
            goto out;
        }
        rc = dllm_slots_init(&e->slots, e->be, c->prompt_slots, st, e->w.L, e->w.C, share,
                             ttl * 1e3);
        if (rc != DLLM_OK) {
            rc = dllm_errf(err, errn, rc, "cannot allocate %zu prompt slots of %d tokens (%zu "
                           "bytes each) on the %s backend: %s; hint: fewer --prompt-slots or "
                           "a lower --slot-tokens", c->prompt_slots, (int)st,
                           dllm_slots_slot_bytes(e->w.L, e->w.C, st), dllm_backend_name(e->be),
                           dllm_status_desc(rc));
            goto out;
        }
    }

    *out = e;
    e = NULL;
out:
    dllm_engine_free(e);
    return rc;
}

dllm_status dllm_engine_reserve(dllm_engine *e, int64_t rows, int64_t head_rows, size_t seqs)
{
    dllm_status rc = fwd_reserve(e, rows, head_rows);
    if (rc == DLLM_OK) rc = reserve_host(e, (size_t)head_rows * 2, 2 * seqs);
    if (rc != DLLM_OK)
        return seterr(e, rc, "cannot reserve a workspace of %lld rows: %s", (long long)rows,
                      dllm_status_desc(rc));
    return DLLM_OK;
}

static size_t weight_bytes(const dllm_weight *w)
{
    return w->data ? (size_t)(w->rows * w->cols) * dllm_dtype_size(w->dtype) : 0;
}

dllm_status dllm_engine_calibrate(dllm_engine *e, dllm_calibration *o)
{
    int gpu = strcmp(dllm_backend_name(e->be), "cpu") != 0;
    int64_t n = gpu ? (int64_t)1 << 26 : (int64_t)1 << 22;           /* add: n floats */
    int64_t m = gpu ? 8192 : 128, gn = gpu ? 12288 : 1024, gk = gpu ? 4096 : 1024; /* GEMM */
    int reps = gpu ? 20 : 3;
    float *a = NULL, *b = NULL, *x = NULL, *y = NULL, *host = NULL;
    dllm_weight w = {0};
    dllm_status rc = DLLM_OK;
    double t0, t1;

    memset(o, 0, sizeof *o);
    o->weight_bytes = weight_bytes(&e->w.wte) + weight_bytes(&e->w.ln_f) + weight_bytes(&e->w.head);
    for (int64_t l = 0; l < e->w.L; l++) {
        const dllm_layer_weights *lw = &e->w.layers[l];
        o->weight_bytes += weight_bytes(&lw->attn_norm) + weight_bytes(&lw->wq) +
                           weight_bytes(&lw->wk) + weight_bytes(&lw->wv) + weight_bytes(&lw->wo) +
                           weight_bytes(&lw->ff_norm) + weight_bytes(&lw->w_gate) +
                           weight_bytes(&lw->w_up) + weight_bytes(&lw->w_down);
    }
    /* random inputs, never zeros (zeros can run faster than real data) */
    host = malloc((size_t)(n > m * gk ? n : m * gk) * sizeof *host);
    if (host == NULL) {
        rc = DLLM_E_NOMEM;
        goto out;
    }
    for (int64_t i = 0; i < (n > m * gk ? n : m * gk); i++)
        host[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    DLLM_TRY_GOTO(dllm_backend_alloc(e->be, (size_t)n * sizeof(float), (void **)&a), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(e->be, (size_t)n * sizeof(float), (void **)&b), rc, out);
    DLLM_TRY_GOTO(dllm_backend_upload(e->be, a, host, (size_t)n * sizeof(float)), rc, out);
    DLLM_TRY_GOTO(dllm_backend_upload(e->be, b, host, (size_t)n * sizeof(float)), rc, out);
    DLLM_TRY_GOTO(dllm_backend_alloc(e->be, (size_t)(m * gk) * sizeof(float), (void **)&x), rc,
                  out);
    DLLM_TRY_GOTO(dllm_backend_alloc(e->be, (size_t)(m * gn) * sizeof(float), (void **)&y), rc,
                  out);
    DLLM_TRY_GOTO(dllm_backend_upload(e->be, x, host, (size_t)(m * gk) * sizeof(float)), rc, out);
    DLLM_TRY_GOTO(dllm_backend_weight_random(e->be, gn, gk, 99, 0.05f, 0.0f, &w), rc, out);
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up (plans, clocks) */
        int r = pass ? reps : 2;
        DLLM_TRY_GOTO(dllm_backend_synchronize(e->be), rc, out);
        t0 = now_ms();
        for (int i = 0; i < r; i++)
            DLLM_TRY_GOTO(dllm_backend_add(e->be, a, b, n), rc, out); /* reads 2, writes 1 */
        DLLM_TRY_GOTO(dllm_backend_synchronize(e->be), rc, out);
        t1 = now_ms();
        o->mem_bytes_per_s = 3.0 * 4.0 * (double)n * r / ((t1 - t0) / 1e3);
        t0 = now_ms();
        for (int i = 0; i < r; i++)
            DLLM_TRY_GOTO(dllm_backend_gemm(e->be, y, x, &w, m), rc, out);
        DLLM_TRY_GOTO(dllm_backend_synchronize(e->be), rc, out);
        t1 = now_ms();
        o->matmul_flops_per_s = 2.0 * (double)m * (double)gn * (double)gk * r / ((t1 - t0) / 1e3);
        t0 = now_ms();
        for (int i = 0; i < 5 * r; i++)
            DLLM_TRY_GOTO(dllm_backend_gemm(e->be, y, x, &w, 64), rc, out);
        DLLM_TRY_GOTO(dllm_backend_synchronize(e->be), rc, out);
        t1 = now_ms();
        o->skinny_gemm_bytes_per_s = (double)gn * (double)gk *
                                     (double)dllm_dtype_size(w.dtype) * 5 * r / ((t1 - t0) / 1e3);
    }
out:
    dllm_backend_weight_free(e->be, &w);
    dllm_backend_dealloc(e->be, a);
    dllm_backend_dealloc(e->be, b);
    dllm_backend_dealloc(e->be, x);
    dllm_backend_dealloc(e->be, y);
    free(host);
    if (rc != DLLM_OK)
        return seterr(e, rc, "calibration on the %s backend failed: %s", dllm_backend_name(e->be),
                      dllm_status_desc(rc));
    return DLLM_OK;
}

void dllm_engine_pool_stats(const dllm_engine *e, dllm_pool_stats *o)
{
    memset(o, 0, sizeof *o);
    if (e->pool.size == 0) return;
    o->size = e->pool.size;
    o->used = e->pool.used;
    o->peak = e->pool.peak;
    o->largest_free = dllm_pool_largest_free(&e->pool);
}

dllm_slots *dllm_engine_slots_internal(dllm_engine *e)
{
    return &e->slots;
}

void dllm_engine_slot_stats(const dllm_engine *e, dllm_slot_stats *out)
{
    memset(out, 0, sizeof *out);
    if (e->slots.n > 0) dllm_slots_stats(&e->slots, now_ms(), out);
}

size_t dllm_engine_slot_list(const dllm_engine *e, dllm_slot_info *out, size_t cap)
{
    size_t n = 0;
    double t = now_ms();
    for (size_t i = 0; i < e->slots.n; i++) {
        const dllm_slot *sl = &e->slots.slots[i];
        if (sl->state != DLLM_SLOT_READY) continue;
        if (n < cap) {
            memcpy(out[n].key, sl->key, sizeof out[n].key);
            out[n].n_tokens = sl->n_tokens;
            out[n].refs = sl->refs;
            out[n].pinned = sl->pinned && t < sl->pin_until_ms;
        }
        n++;
    }
    return n;
}

dllm_status dllm_engine_prefix_key(const dllm_engine *e, const int32_t *prefix, size_t n,
                                   const dllm_gen_params *p, uint8_t out[DLLM_PREFIX_KEY_BYTES])
{
    dllm_prefix_key_fields f;
    memset(&f, 0, sizeof f);
    f.model_id = e->model_id;
    f.model_revision = e->model_revision;
    memcpy(f.tokenizer_sha256, e->tok_sha256, 32);
    f.dtype = "f32"; /* every backend stores fp32 features */
    f.tp_size = 1;
    f.policy = dllm_cache_policy_name(p->cache);
    f.kp = p->cache_params.kp;
    f.kr = p->cache_params.kr;
    f.rho = p->cache_params.rho;
    f.layer0_refresh = p->cache_params.layer0_refresh ? 1u : 0u;
    f.cfg_interval = p->cache_params.cfg_interval;
    f.salt = p->cache_salt;
    f.salt_len = p->cache_salt_len;
    f.tokens = prefix;
    f.n_tokens = n;
    return dllm_prefix_key(&f, out);
}

size_t dllm_seq_bytes(const dllm_engine *e, size_t n_prompt, const dllm_gen_params *p)
{
    const dllm_policy *pol = dllm_policy_get(p->cache);
    int64_t T = (int64_t)n_prompt + p->gen_length;
    int cfg = p->cfg_scale > 0.0f;
    int reuse = cfg && p->cache == DLLM_CACHE_DLLM && p->cache_params.cfg_interval > 0;
    int64_t stored = pol && pol->keeps_features ? e->w.L : 1;
    /* per rank under tensor parallelism (rank 0's share: K/V of its heads, its vocab) */
    size_t b = dllm_feature_store_bytes_kv(stored, T, e->w.C, e->w.Cl) * (cfg ? 2 : 1);
    if (pol && pol->compact_kv && p->block_length <= T)
        b = dllm_feature_store_compact_bytes_kv(
                e->w.L, T, dllm_sparse_keep_count((int32_t)T, p->block_length,
                                                  p->cache_params.keep_ratio),
                p->block_length, e->w.C, e->w.Cl) * (cfg ? 2 : 1);
    if (reuse) b += dllm_pool_round((size_t)p->gen_length * (size_t)e->w.Vl * sizeof(float));
    return b;
}

const char *dllm_engine_last_error(const dllm_engine *e)
{
    return e ? e->last_error : "no engine";
}

const dllm_tokenizer *dllm_engine_tokenizer(const dllm_engine *e)
{
    return e->tok;
}

void dllm_engine_model_info(const dllm_engine *e, dllm_model_info *o)
{
    memset(o, 0, sizeof *o);
    o->d_model = e->w.C;
    o->n_layers = e->w.L;
    o->n_heads = e->w.NH;
    o->mlp_hidden_size = e->w.F;
    o->vocab_size = e->w.V;
    o->max_sequence_length = e->max_len;
    o->n_params = e->n_params;
    o->mask_id = e->mask_id;
    o->eos_id = e->eos_id;
    o->eot_id = e->eot_id;
    o->bos_id = e->bos_id;
    o->backend = dllm_backend_name(e->be);
    o->model_dir = e->model_dir;
}

/* ---- parameters ---- */

void dllm_gen_params_init(dllm_gen_params *p)
{
    memset(p, 0, sizeof *p);
    p->gen_length = 128;
    p->steps = 128;
    p->block_length = 32;
    p->temperature = 0.0f;
    p->cfg_scale = 0.0f;
    p->remasking = DLLM_REMASK_LOW_CONFIDENCE;
    p->seed = 0;
    p->cache = DLLM_CACHE_NONE;
    p->cache_params.kp = 50;
    p->cache_params.kr = 7;
    p->cache_params.rho = 0.25;
    p->cache_params.layer0_refresh = 1;
    p->cache_params.cfg_interval = 0;
    p->cache_params.keep_ratio = 0.5;
    p->cache_params.kernel = 3;
    p->cache_params.d2_k = 32;
    p->cache_params.d2_p = 0.1;
    p->cache_params.d2_sigma = 10.0;
    p->cache_params.d2_inflate = 0;
    p->cache_params.d2_prior = 1;
}

dllm_status dllm_gen_params_validate(const dllm_gen_params *p, char *err, size_t errn)
{
    if (p == NULL) return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "no parameters");
    if (p->gen_length < 1)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "gen_length must be >= 1 (got %d)",
                         (int)p->gen_length);
    if (p->block_length < 1 || p->block_length > p->gen_length)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "block_length must be in [1, gen_length=%d] (got %d)",
                         (int)p->gen_length, (int)p->block_length);
    if (p->gen_length % p->block_length != 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "gen_length %d is not a multiple of block_length %d; hint: use a "
                         "block_length that divides gen_length",
                         (int)p->gen_length, (int)p->block_length);
    int32_t nb = p->gen_length / p->block_length;
    int dynamic = p->threshold > 0.0f || p->factor > 0.0f; /* steps is not used */
    if (!dynamic && p->steps < 1)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "steps must be >= 1 (got %d)",
                         (int)p->steps);
    if (!dynamic && p->steps % nb != 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "steps %d is not a multiple of the number of blocks %d "
                         "(gen_length %d / block_length %d); hint: use steps = k * %d",
                         (int)p->steps, (int)nb, (int)p->gen_length, (int)p->block_length,
                         (int)nb);
    if (!isfinite(p->temperature) || p->temperature < 0.0f)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "temperature must be a finite number >= 0 (got %g)",
                         (double)p->temperature);
    if (!isfinite(p->cfg_scale) || p->cfg_scale < 0.0f)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "cfg_scale must be a finite number >= 0 (got %g)", (double)p->cfg_scale);
    if (p->remasking != DLLM_REMASK_LOW_CONFIDENCE && p->remasking != DLLM_REMASK_RANDOM)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "unknown remasking %d",
                         (int)p->remasking);
    if (p->prefix_len < 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "prefix_len (prompt-slot prefix) must be >= 0 (got %d)",
                         (int)p->prefix_len);
    if (p->cache_salt_len > DLLM_CACHE_SALT_MAX)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "cache salt of %u bytes is over the "
                         "limit of %d", (unsigned)p->cache_salt_len, DLLM_CACHE_SALT_MAX);
    return dllm_policy_validate(p, err, errn);
}

dllm_status dllm_remasking_parse(const char *s, dllm_remasking *out)
{
    if (s && strcmp(s, "low_confidence") == 0) {
        *out = DLLM_REMASK_LOW_CONFIDENCE;
        return DLLM_OK;
    }
    if (s && strcmp(s, "random") == 0) {
        *out = DLLM_REMASK_RANDOM;
        return DLLM_OK;
    }
    return DLLM_E_INVALID_ARG;
}

const char *dllm_remasking_name(dllm_remasking r)
{
    return r == DLLM_REMASK_RANDOM ? "random" : "low_confidence";
}

dllm_status dllm_cache_policy_parse(const char *s, dllm_cache_policy *out)
{
    for (int id = 0; s != NULL; id++) {
        const dllm_policy *pol = dllm_policy_get((dllm_cache_policy)id);
        if (pol == NULL) break;
        if (strcmp(s, pol->name) == 0) {
            *out = (dllm_cache_policy)id;
            return DLLM_OK;
        }
    }
    return DLLM_E_INVALID_ARG;
}

const char *dllm_cache_policy_name(dllm_cache_policy c)
{
    const dllm_policy *pol = dllm_policy_get(c);
    return pol ? pol->name : "unknown";
}

/* ---- sequences ---- */

/* Host scratch of the sampler for up to rows head rows and plan entries. */
static dllm_status reserve_host(dllm_engine *e, size_t rows, size_t plan)
{
    if (rows > e->cap_sample) {
        dllm_sample_row *r = realloc(e->rows, rows * sizeof *r);
        if (r) e->rows = r;
        int32_t *t = realloc(e->tok_buf, rows * sizeof *t);
        if (t) e->tok_buf = t;
        double *c = realloc(e->conf_buf, rows * sizeof *c);
        if (c) e->conf_buf = c;
        int32_t *cp = realloc(e->cand_pos, rows * sizeof *cp);
        if (cp) e->cand_pos = cp;
        size_t *o = realloc(e->order, rows * sizeof *o);
        if (o) e->order = o;
        size_t *sl = realloc(e->sel, rows * sizeof *sl);
        if (sl) e->sel = sl;
        if (!r || !t || !c || !cp || !o || !sl) return DLLM_E_NOMEM;
        e->cap_sample = rows;
    }
    if (plan > e->cap_plan) {
        dllm_fwd_seq *p = realloc(e->plan, plan * sizeof *p);
        if (p == NULL) return DLLM_E_NOMEM;
        e->plan = p;
        e->cap_plan = plan;
    }
    return DLLM_OK;
}

void dllm_seq_free(dllm_seq *s)
{
    if (s == NULL) return;
    dllm_d2_free(&s->d2);
    if (s->slot >= 0) dllm_slots_release(&s->e->slots, s->slot);
    for (int r = 0; r < s->e->tp; r++) {
        dllm_engine *e = s->e;
        if (r > 0 && (s->tp_fs == NULL || s->tp_res == NULL)) break;
        dllm_feature_store_deinit(seq_fs(s, r, 0), rk_be(e, r));
        dllm_feature_store_deinit(seq_fs(s, r, 1), rk_be(e, r));
        if (rk_pool(e, r) != NULL)
            dllm_pool_free(rk_pool(e, r), *seq_res(s, r),
                           (size_t)s->R * (size_t)rk_w(e, r)->Vl * sizeof(float));
        else
            dllm_backend_dealloc(rk_be(e, r), *seq_res(s, r));
    }
    free(s->tp_fs);
    free(s->tp_res);
    free(s->plan_cond);
    free(s->plan_uncond);
    free(s->count_buf);
    free(s->canvas);
    free(s->uncond);
    free(s);
}

dllm_status dllm_seq_new(dllm_engine *e, const int32_t *prompt, size_t n_prompt,
                         const dllm_gen_params *p, dllm_seq **out)
{
    dllm_seq *s = NULL;
    dllm_status rc = DLLM_OK;
    int cfg;

    *out = NULL;
    e->last_error[0] = '\0';
    rc = dllm_gen_params_validate(p, e->last_error, sizeof e->last_error);
    if (rc != DLLM_OK) goto out;
    if (prompt == NULL || n_prompt == 0) {
        rc = seterr(e, DLLM_E_INVALID_ARG, "the prompt is empty; hint: give at least one "
                    "token (the chat template always yields several)");
        goto out;
    }
    if ((int64_t)n_prompt + p->gen_length > e->max_len) {
        rc = seterr(e, DLLM_E_INVALID_ARG,
                    "prompt (%zu tokens) + gen_length (%d) = %lld exceeds the model's "
                    "max_sequence_length %lld",
                    n_prompt, (int)p->gen_length, (long long)n_prompt + p->gen_length,
                    (long long)e->max_len);
        goto out;
    }
    for (size_t i = 0; i < n_prompt; i++) {
        if (prompt[i] < 0 || prompt[i] >= e->w.V) {
            rc = seterr(e, DLLM_E_INVALID_ARG,
                        "prompt token %zu has id %d, outside the vocabulary [0, %lld)", i,
                        (int)prompt[i], (long long)e->w.V);
            goto out;
        }
        if (prompt[i] == e->mask_id) {
            rc = seterr(e, DLLM_E_INVALID_ARG,
                        "prompt token %zu is the mask token (id %d); prompts may not contain "
                        "masks",
                        i, (int)e->mask_id);
            goto out;
        }
    }
    if (dllm_policy_get(p->cache)->compact_kv && !dllm_backend_has_attention_keystat(e->be)) {
        rc = seterr(e, DLLM_E_UNSUPPORTED,
                    "cache policy %s needs the attention_keystat operation, which the %s "
                    "backend does not implement yet; hint: use another cache policy (dual is "
                    "the closest) or the cpu backend", dllm_cache_policy_name(p->cache),
                    dllm_backend_name(e->be));
        goto out;
    }
    if (p->cache == DLLM_CACHE_D2 && !dllm_backend_has_attention_probs(e->be)) {
        rc = seterr(e, DLLM_E_UNSUPPORTED,
                    "cache policy d2 needs the attention_probs operation, which the %s backend "
                    "does not implement yet; hint: use another cache policy or the cpu backend",
                    dllm_backend_name(e->be));
        goto out;
    }
    cfg = p->cfg_scale > 0.0f;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        rc = seterr(e, DLLM_E_NOMEM, "out of memory");
        goto out;
    }
    s->e = e;
    s->slot = -1;
    s->p = *p;
    s->policy = dllm_policy_get(p->cache);
    s->P = (int32_t)n_prompt;
    s->R = p->gen_length;
    s->T = s->P + s->R;
    s->nb = p->gen_length / p->block_length;
    s->spb = p->steps / s->nb; /* unused with threshold/factor decoding */
    s->canvas = malloc((size_t)s->T * sizeof(int32_t));
    if (cfg) s->uncond = malloc((size_t)s->T * sizeof(int32_t));
    if (s->canvas == NULL || (cfg && s->uncond == NULL)) {
        rc = seterr(e, DLLM_E_NOMEM, "out of memory for a %d-token canvas", (int)s->T);
        goto out;
    }
    if (n_prompt > 0) memcpy(s->canvas, prompt, n_prompt * sizeof(int32_t));
    for (int32_t i = s->P; i < s->T; i++) s->canvas[i] = e->mask_id;
    if (cfg)
        for (int32_t i = 0; i < s->T; i++) s->uncond[i] = e->mask_id;

    /* features, plans and accounting */
    {
        int64_t L = e->w.L, stored = s->policy->keeps_features ? L : 1;
        int reuse = cfg && p->cache == DLLM_CACHE_DLLM && p->cache_params.cfg_interval > 0;
        s->plan_cond = calloc((size_t)L, sizeof *s->plan_cond);
        s->plan_uncond = calloc((size_t)L, sizeof *s->plan_uncond);
        s->count_buf = calloc(3 * (size_t)L, sizeof *s->count_buf);
        if (!s->plan_cond || !s->plan_uncond || !s->count_buf) {
            rc = seterr(e, DLLM_E_NOMEM, "out of memory");
            goto out;
        }
        s->counts.q = s->count_buf;
        s->counts.v = s->count_buf + L;
        s->counts.mlp = s->count_buf + 2 * L;
        dllm_pool *pool = e->pool.size > 0 ? &e->pool : NULL;
        if (e->tp > 1) {
            s->tp_fs = calloc(2 * (size_t)e->tp, sizeof *s->tp_fs);
            s->tp_res = calloc((size_t)e->tp, sizeof *s->tp_res);
            if (!s->tp_fs || !s->tp_res) {
                rc = seterr(e, DLLM_E_NOMEM, "out of memory");
                goto out;
            }
        }
        /* every rank's stores: K/V of its heads (Cl), A/F full width, cfg_res (R, Vl) */
        for (int r = 0; r < e->tp && rc == DLLM_OK; r++) {
            dllm_backend *be = rk_be(e, r);
            dllm_pool *rp = rk_pool(e, r);
            const dllm_model_weights *w = rk_w(e, r);
            size_t res_bytes = (size_t)s->R * (size_t)w->Vl * sizeof(float);
            if (s->policy->compact_kv) {
                int32_t nk = dllm_sparse_keep_count(s->T, p->block_length,
                                                    p->cache_params.keep_ratio);
                rc = dllm_feature_store_init_compact_kv(seq_fs(s, r, 0), be, rp, L, s->T, nk,
                                                        p->block_length, w->C, w->Cl);
                if (rc == DLLM_OK && cfg)
                    rc = dllm_feature_store_init_compact_kv(seq_fs(s, r, 1), be, rp, L, s->T, nk,
                                                            p->block_length, w->C, w->Cl);
            } else {
                rc = dllm_feature_store_init_kv(seq_fs(s, r, 0), be, rp, stored, s->T, w->C,
                                                w->Cl);
                if (rc == DLLM_OK && cfg)
                    rc = dllm_feature_store_init_kv(seq_fs(s, r, 1), be, rp, stored, s->T, w->C,
                                                    w->Cl);
            }
            if (rc == DLLM_OK && reuse)
                rc = rp ? dllm_pool_alloc(rp, res_bytes, (void **)seq_res(s, r))
                        : dllm_backend_alloc(be, res_bytes, (void **)seq_res(s, r));
        }
        if (rc != DLLM_OK) {
            seterr(e, rc, "cannot allocate the feature cache of a %d-token sequence (%zu "
                   "bytes)%s: %s", (int)s->T, dllm_seq_bytes(e, n_prompt, p),
                   pool ? " from the memory pool" : "", dllm_status_desc(rc));
            goto out;
        }
        if (p->cache == DLLM_CACHE_D2) {
            s->is_d2 = 1;
            rc = dllm_d2_init(&s->d2, (int32_t)L, s->P, s->R, p->cache_params.d2_sigma);
            if (rc == DLLM_OK) rc = fwd_reserve_probs(e, s->T);
            if (rc != DLLM_OK) {
                seterr(e, rc, "cannot allocate d2Cache's state for a %d-token sequence: %s",
                       (int)s->T, dllm_status_desc(rc));
                goto out;
            }
        }
        /* reserve the workspace a batch of this sequence alone needs; with CFG reuse the
         * refresh steps compute the head for the whole response on both branches */
        int64_t head = reuse ? 2 * (int64_t)s->R : (int64_t)p->block_length * (cfg ? 2 : 1);
        rc = fwd_reserve(e, (int64_t)s->T * (cfg ? 2 : 1), head);
        if (rc == DLLM_OK) rc = reserve_host(e, (size_t)p->block_length * 2, 2);
        if (rc != DLLM_OK) {
            seterr(e, rc, "cannot reserve the workspace for a %d-token sequence: %s",
                   (int)s->T, dllm_status_desc(rc));
            goto out;
        }
    }
    if (p->prefix_len > 0) {
        if ((size_t)p->prefix_len > n_prompt) {
            rc = seterr(e, DLLM_E_INVALID_ARG, "prefix_len %d is longer than the prompt (%zu "
                        "tokens)", (int)p->prefix_len, n_prompt);
            goto out;
        }
        rc = attach_slot(e, s);
        if (rc != DLLM_OK) goto out;
    }
    *out = s;
    s = NULL;
out:
    dllm_seq_free(s);
    return rc;
}

/* The plan of a full forward over the prefix alone (the slot build), in s->plan_cond. */
static dllm_status build_slot(dllm_engine *e, dllm_seq *s, dllm_slot *sl)
{
    int64_t L = e->w.L;
    dllm_status rc;
    int64_t *rows = calloc(3 * (size_t)L, sizeof *rows);
    if (rows == NULL) return DLLM_E_NOMEM;
    dllm_row_counts bc = {rows, rows + L, rows + 2 * L, 0, 0, 0.0, 0.0};
    for (int64_t l = 0; l < L; l++) {
        memset(&s->plan_cond[l], 0, sizeof s->plan_cond[l]);
        s->plan_cond[l].prompt = 1;
        s->plan_cond[l].resp = 1;
    }
    dllm_fwd_seq q = {s->canvas, sl->n_tokens, sl->n_tokens, 0, 0, &sl->fs, s->plan_cond, &bc,
                      NULL};
    rc = dllm_forward_run(&e->fwd, &q, 1);
    if (rc == DLLM_OK) {
        /* the build is this sequence's cost: rows and FLOPs, but nothing `none` would run */
        for (int64_t l = 0; l < L; l++) {
            s->counts.q[l] += bc.q[l];
            s->counts.v[l] += bc.v[l];
            s->counts.mlp[l] += bc.mlp[l];
        }
        s->counts.flops += bc.flops;
    }
    free(rows);
    return rc;
}

/* Serves prompt rows [0, prefix_len) from a prompt slot: attaches an existing one, or
 * builds one from the prefix alone and attaches it. No slot (slots off, a policy that
 * keeps no features, a prefix longer than a slot, every slot busy) is not an error: the
 * sequence computes its prompt itself. */
static dllm_status attach_slot(dllm_engine *e, dllm_seq *s)
{
    int32_t S = s->p.prefix_len;
    uint8_t key[DLLM_PREFIX_KEY_BYTES];
    int idx = -1, fresh = 0;
    dllm_status rc;

    if (e->slots.n == 0) return DLLM_OK;
    e->slots.st.queries++;
    e->slots.st.query_tokens += (uint64_t)S;
    /* the policies whose first forward is a plain full refresh (others, e.g. ones that
     * gather attention statistics over every row, opt in once checked) */
    if (!s->policy->keeps_features || S > e->slots.max_tokens ||
        (s->p.cache != DLLM_CACHE_DLLM && s->p.cache != DLLM_CACHE_PREFIX &&
         s->p.cache != DLLM_CACHE_DUAL))
        return DLLM_OK;
    rc = dllm_engine_prefix_key(e, s->canvas, (size_t)S, &s->p, key);
    if (rc != DLLM_OK) return seterr(e, rc, "prompt slot: cannot compute the prefix key");
    rc = dllm_slots_acquire(&e->slots, key, S, s->p.prefix_pin, now_ms(), &idx, &fresh);
    if (rc == DLLM_E_BUSY) {
        e->slots.st.busy++;
        return DLLM_OK;
    }
    if (rc != DLLM_OK) return seterr(e, rc, "prompt slot: %s", dllm_status_desc(rc));
    s->slot = idx;
    if (fresh) {
        rc = build_slot(e, s, &e->slots.slots[idx]);
        if (rc != DLLM_OK)
            return seterr(e, rc, "prompt slot: building a %d-token prefix failed: %s", (int)S,
                          dllm_status_desc(rc));
        dllm_slots_commit(&e->slots, idx);
    } else {
        e->slots.st.hits++;
        e->slots.st.hit_tokens += (uint64_t)S;
        s->cached_prompt = S;
    }
    rc = dllm_slots_copy_to(&e->slots, idx, &s->fs_cond);
    if (rc != DLLM_OK)
        return seterr(e, rc, "prompt slot: attaching failed: %s", dllm_status_desc(rc));
    s->slot_rows = S;
    return DLLM_OK;
}

int dllm_seq_finished(const dllm_seq *s)
{
    return s->finished;
}

const int32_t *dllm_seq_tokens(const dllm_seq *s, size_t *n)
{
    if (n) *n = (size_t)s->R;
    return s->canvas + s->P;
}

void dllm_seq_stats_get(const dllm_seq *s, dllm_seq_stats *o)
{
    int64_t L = s->e->w.L;
    memset(o, 0, sizeof *o);
    o->prompt_tokens = s->P;
    o->gen_length = s->R;
    o->steps = s->s;
    o->forwards = s->forwards;
    o->forward_ms = s->forward_ms;
    o->completion_tokens = s->R;
    for (int32_t j = s->P; j < s->T; j++)
        if (s->canvas[j] == s->e->eos_id || (s->e->eot_id >= 0 && s->canvas[j] == s->e->eot_id)) {
            o->completion_tokens = j - s->P;
            break;
        }
    for (int64_t l = 0; l < L; l++) {
        o->rows_q += s->counts.q[l];
        o->rows_v += s->counts.v[l];
        o->rows_mlp += s->counts.mlp[l];
    }
    o->rows_head = s->counts.head;
    o->rows_all = s->counts.all;
    o->flops = s->counts.flops;
    o->flops_none = s->counts.flops_none;
    o->cached_prompt_tokens = s->cached_prompt;
    o->slot_prefix_tokens = s->slot_rows;
}

int64_t dllm_seq_layer_rows(const dllm_seq *s, int64_t *q, int64_t *v, int64_t *mlp,
                            int64_t n)
{
    int64_t L = s->e->w.L;
    for (int64_t l = 0; l < L && l < n; l++) {
        if (q) q[l] = s->counts.q[l];
        if (v) v[l] = s->counts.v[l];
        if (mlp) mlp[l] = s->counts.mlp[l];
    }
    return L;
}

/* ---- stepping ---- */

/* Commits the scheduled tokens of one sequence from its sampled block rows. */
static void commit(dllm_engine *e, dllm_seq *s, const int32_t *tok, const double *conf)
{
    int32_t bl = s->p.block_length;
    int32_t b0 = s->P + s->block * bl;
    size_t n = 0;

    if (s->i == 0) {
        int32_t m = 0;
        for (int32_t j = 0; j < bl; j++) m += s->canvas[b0 + j] == e->mask_id;
        s->block_masked = m;
    }
    double *cconf = e->conf_buf + e->cap_sample / 2; /* second half: candidate confidences */
    int32_t *ctok = e->tok_buf + e->cap_sample / 2;
    for (int32_t j = 0; j < bl; j++) {
        if (s->canvas[b0 + j] != e->mask_id) continue;
        if (s->is_d2 && !s->d2.mark[b0 + j]) continue; /* d2: only rows that ran */
        e->cand_pos[n] = b0 + j;
        cconf[n] = conf[j];
        ctok[n] = tok[j];
        n++;
    }
    const double *rank = cconf;
    if (s->is_d2 && s->p.cache_params.d2_prior) {
        /* certainty prior: rank by confidence x density of the decoded pattern */
        for (int32_t g = 0; g < s->R; g++) s->d2.known[g] = s->canvas[s->P + g] != e->mask_id;
        dllm_d2_density(&s->d2, s->d2.known);
        for (size_t c = 0; c < n; c++) {
            double v = cconf[c] * s->d2.dens[e->cand_pos[c] - s->P];
            s->d2.key[c] = isnan(v) ? -INFINITY : v;
        }
        rank = s->d2.key;
    }
    if (s->is_d2)
        for (size_t c = 0; c < n; c++) s->d2.conf[e->cand_pos[c] - s->P] = cconf[c];
    size_t chosen;
    if (s->p.threshold > 0.0f)
        chosen = dllm_select_threshold(cconf, e->cand_pos, n, (double)s->p.threshold, e->order,
                                       e->sel);
    else if (s->p.factor > 0.0f)
        chosen = dllm_select_factor(cconf, e->cand_pos, n, (double)s->p.factor, e->order,
                                    e->sel);
    else
        chosen = dllm_select_topk(rank, e->cand_pos, n,
                                  (size_t)dllm_sched_transfer_count(s->block_masked, s->spb, s->i),
                                  e->order, e->sel);
    for (size_t c = 0; c < chosen; c++) s->canvas[e->cand_pos[e->sel[c]]] = ctok[e->sel[c]];
    if (s->is_d2)
        for (size_t c = 0; c < chosen; c++) s->d2.committed[c] = e->cand_pos[e->sel[c]];

    s->i++;
    s->s++;
    int block_done;
    if (s->p.threshold > 0.0f || s->p.factor > 0.0f) { /* dynamic: until the block is full */
        block_done = 1;
        for (int32_t j = 0; j < bl; j++) block_done &= s->canvas[b0 + j] != e->mask_id;
    } else {
        block_done = s->i == s->spb;
    }
    if (block_done) {
        s->i = 0;
        s->block++;
        if (s->block == s->nb) s->finished = 1;
    }
    if (s->p.early_stop && !s->finished) {
        /* the answer is complete once EOS/EOT is decoded with nothing masked before it */
        for (int32_t j = s->P; j < s->T; j++) {
            int32_t t = s->canvas[j];
            if (t == e->mask_id) break;
            if (t == e->eos_id || (e->eot_id >= 0 && t == e->eot_id)) {
                for (int32_t r = j + 1; r < s->T; r++)
                    if (s->canvas[r] == e->mask_id) s->canvas[r] = e->eos_id;
                s->finished = 1;
                break;
            }
        }
    }
    if (s->is_d2 && !s->finished) /* d2Cache: the rows the next forward recomputes */
        dllm_d2_select(&s->d2, s->canvas, e->mask_id, s->d2.committed, (int32_t)chosen, bl,
                       &s->p.cache_params);
}

/* CFG on one sequence's head logits lg (rows of V columns: the vocabulary, or a rank's
 * slice of it) with its cached residual res (R, V): the cond rows of the current block
 * become the guided logits. */
static dllm_status cfg_logits(dllm_backend *be, dllm_seq *s, float *lg, int64_t V, float *res)
{
    int32_t bl = s->p.block_length;
    int reuse = res != NULL;
    int32_t hn = (reuse && s->run_uncond) ? s->R : bl; /* head rows per branch */
    dllm_status rc = DLLM_OK;

    if (reuse && s->run_uncond) {
        /* cache cond - uncond for the whole response; the block's rows are mixed below */
        rc = dllm_backend_sub(be, res, lg, lg + (int64_t)hn * V, (int64_t)hn * V);
        if (rc == DLLM_OK) {
            int64_t bo = (int64_t)s->block * bl; /* the block within the response */
            lg += bo * V;
            rc = dllm_backend_cfg_mix(be, lg, lg + (int64_t)hn * V, (int64_t)bl * V,
                                      s->p.cfg_scale);
        }
    } else if (reuse) {
        /* conditional pass only: cond + s * cached residual */
        rc = dllm_backend_axpy(be, lg, lg, res + (int64_t)s->block * bl * V, (int64_t)bl * V,
                               s->p.cfg_scale);
    } else if (s->uncond) {
        rc = dllm_backend_cfg_mix(be, lg, lg + (int64_t)bl * V, (int64_t)bl * V, s->p.cfg_scale);
    }
    return rc;
}

/* The block rows of a sequence after cfg_logits: where they start in lg. */
static int64_t cfg_block_offset(const dllm_seq *s, int reuse)
{
    return (reuse && s->run_uncond) ? (int64_t)s->block * s->p.block_length : 0;
}

/* The sampling parameters of a sequence's block rows (bl of them). */
static void fill_rows(const dllm_seq *s, dllm_sample_row *rows)
{
    int32_t bl = s->p.block_length;
    for (int32_t j = 0; j < bl; j++) {
        dllm_sample_row *r = &rows[j];
        r->seed = s->p.seed;
        r->step = (uint32_t)s->s;
        r->position = s->P + s->block * bl + j;
        r->temperature = s->p.temperature;
        r->random_conf = s->p.remasking == DLLM_REMASK_RANDOM;
        r->logits_eos_inf = s->p.logits_eos_inf != 0;
        r->conf_eos_eot_inf = s->p.confidence_eos_eot_inf != 0;
    }
}

/* The arguments of one tensor-parallel step (shared, read-only, by the rank threads). */
typedef struct tp_step_arg {
    dllm_engine *e;
    dllm_seq *const *seqs;
    size_t n, k;    /* sequences; plan entries */
    size_t hs;      /* sampled rows (sum of the block lengths) */
} tp_step_arg;

/* Rank r's part of a step: the forward on its shard and stores, CFG on its vocabulary
 * slice, the per-row records of its slice, the all-gather; rank 0 combines the records
 * into e->tp_tok / e->tp_conf. */
static dllm_status tp_rank_step(int r, void *varg)
{
    const tp_step_arg *a = varg;
    dllm_engine *e = a->e;
    tp_rank *k = &e->rk[r];
    dllm_backend *be = rk_be(e, r);
    dllm_forward *f = rk_fwd(e, r);
    const dllm_model_weights *w = rk_w(e, r);
    int64_t Vl = w->Vl, hoff = 0;
    size_t j = 0, toff = 0;

    for (size_t i = 0; i < a->n; i++) { /* e->plan with this rank's stores */
        dllm_seq *s = a->seqs[i];
        if (s->finished) continue;
        k->plan[j] = e->plan[j];
        k->plan[j].fs = seq_fs(s, r, 0);
        if (r > 0) k->plan[j].counts = NULL; /* rank 0 accounts */
        j++;
        if (s->run_uncond) {
            k->plan[j] = e->plan[j];
            k->plan[j].fs = seq_fs(s, r, 1);
            if (r > 0) k->plan[j].counts = NULL;
            j++;
        }
    }
    DLLM_TRY(dllm_forward_run(f, k->plan, a->k));
    for (size_t i = 0; i < a->n; i++) {
        dllm_seq *s = a->seqs[i];
        if (s->finished) continue;
        int32_t bl = s->p.block_length;
        float *res = *seq_res(s, r);
        int reuse = res != NULL;
        int32_t hn = (reuse && s->run_uncond) ? s->R : bl;
        float *lg = f->logits + hoff * Vl;
        DLLM_TRY(cfg_logits(be, s, lg, Vl, res));
        lg += cfg_block_offset(s, reuse) * Vl;
        DLLM_TRY(dllm_backend_download(be, k->lg, lg, (size_t)bl * (size_t)Vl * sizeof(float)));
        for (int32_t q = 0; q < bl; q++)
            dllm_tp_sample_part_row(k->lg + (int64_t)q * Vl, Vl, w->v0, &e->tp_rows[toff + q],
                                    e->eos_id, &k->part[toff + q]);
        toff += (size_t)bl;
        hoff += (int64_t)hn * (s->run_uncond ? 2 : 1);
    }
    DLLM_TRY(dllm_comm_allgather(dllm_tp_group_comm(e->grp, r), k->part, k->all,
                                 a->hs * sizeof *k->part));
    if (r == 0)
        for (size_t i = 0; i < a->hs; i++)
            dllm_tp_sample_combine(k->all + i, e->tp, a->hs, &e->tp_rows[i], e->eos_id,
                                   e->eot_id, &e->tp_tok[i], &e->tp_conf[i]);
    return DLLM_OK;
}

/* Grows a host array to n elements of size sz (before any state of the step changes). */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap) return 1;
    void *q = realloc(*p, n * sz);
    if (q == NULL) return 0;
    *p = q;
    *cap = n;
    return 1;
}

/* Forward and sampling of a planned step (e->plan, k entries) on every rank. */
static dllm_status tp_forward_sample(dllm_engine *e, dllm_seq *const *seqs, size_t n, size_t k)
{
    size_t hs = 0, max_bl = 0, c;
    tp_step_arg a = {e, seqs, n, k, 0};

    for (size_t i = 0; i < n; i++)
        if (!seqs[i]->finished) {
            hs += (size_t)seqs[i]->p.block_length;
            if ((size_t)seqs[i]->p.block_length > max_bl) max_bl = (size_t)seqs[i]->p.block_length;
        }
    c = e->cap_tp;
    if (!grow((void **)&e->tp_rows, &c, hs, sizeof *e->tp_rows)) return DLLM_E_NOMEM;
    c = e->cap_tp;
    if (!grow((void **)&e->tp_tok, &c, hs, sizeof *e->tp_tok)) return DLLM_E_NOMEM;
    c = e->cap_tp;
    if (!grow((void **)&e->tp_conf, &c, hs, sizeof *e->tp_conf)) return DLLM_E_NOMEM;
    e->cap_tp = c;
    for (int r = 0; r < e->tp; r++) {
        tp_rank *rk = &e->rk[r];
        if (!grow((void **)&rk->plan, &rk->cap_plan, k, sizeof *rk->plan) ||
            !grow((void **)&rk->lg, &rk->cap_lg, max_bl * (size_t)rk_w(e, r)->Vl, sizeof(float)))
            return DLLM_E_NOMEM;
        if (hs > rk->cap_part) { /* part (hs) and all (tp, hs) */
            size_t cp = rk->cap_part, ca = rk->cap_part * (size_t)e->tp;
            if (!grow((void **)&rk->part, &cp, hs, sizeof *rk->part) ||
                !grow((void **)&rk->all, &ca, hs * (size_t)e->tp, sizeof *rk->all))
                return DLLM_E_NOMEM;
            rk->cap_part = hs;
        }
    }
    for (size_t i = 0, o = 0; i < n; i++)
        if (!seqs[i]->finished) {
            fill_rows(seqs[i], e->tp_rows + o);
            o += (size_t)seqs[i]->p.block_length;
        }
    a.hs = hs;
    return dllm_tp_group_run(e->grp, tp_rank_step, &a);
}

dllm_status dllm_engine_step(dllm_engine *e, dllm_seq *const *seqs, size_t n)
{
    size_t n_plan = 0;
    int64_t rows = 0, head = 0;
    size_t max_bl = 0;
    dllm_status rc;
    double t0;

    e->last_error[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        dllm_seq *s = seqs[i];
        if (s == NULL || s->e != e) return seterr(e, DLLM_E_INVALID_ARG, "sequence %zu does not "
                                                  "belong to this engine", i);
        if (s->finished) continue;
        int cfg = s->uncond != NULL;
        n_plan += cfg ? 2 : 1;
        rows += (int64_t)s->T * (cfg ? 2 : 1);
        head += s->cfg_res ? 2 * (int64_t)s->R : (int64_t)s->p.block_length * (cfg ? 2 : 1);
        if ((size_t)s->p.block_length > max_bl) max_bl = (size_t)s->p.block_length;
    }
    if (n_plan == 0) return DLLM_OK;
    /* Growth happens here, before any state changes, only when a batch is larger than any
     * before it (single-sequence sizes were reserved at admission). */
    rc = fwd_reserve(e, rows, head);
    if (rc == DLLM_OK) rc = reserve_host(e, 2 * max_bl, n_plan);
    if (rc != DLLM_OK)
        return seterr(e, rc, "cannot reserve workspace for a batch of %lld rows: %s",
                      (long long)rows, dllm_status_desc(rc));

    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        dllm_seq *s = seqs[i];
        if (s->finished) continue;
        int32_t b0 = s->P + s->block * s->p.block_length;
        int32_t bl = s->p.block_length;
        int reuse = s->cfg_res != NULL;
        int32_t tc = s->t_cond + 1;
        s->run_uncond = s->uncond != NULL &&
                        (!reuse || (tc - 1) % s->p.cache_params.cfg_interval == 0);
        /* with CFG reuse, refresh steps cache cond - uncond over the whole response */
        int32_t h0 = (reuse && s->run_uncond) ? s->P : b0;
        int32_t hn = (reuse && s->run_uncond) ? s->R : bl;
        dllm_plan_ctx pc = {tc, s->P, s->R, s->block, s->i, b0, bl,
                            s->is_d2 ? s->d2.rows : NULL, s->is_d2 ? s->d2.n_rows : 0};
        for (int64_t l = 0; l < e->w.L; l++) s->policy->plan(&s->p, &pc, l, &s->plan_cond[l]);
        if (s->slot_rows > 0 && tc == 1) /* first forward: the slot's rows are in the store */
            for (int64_t l = 0; l < e->w.L; l++) {
                dllm_layer_plan *lp = &s->plan_cond[l];
                if (!lp->prompt || !lp->resp) continue;
                memset(lp, 0, sizeof *lp);
                lp->lo = s->slot_rows;
                lp->hi = s->T;
            }
        e->plan[k++] = (dllm_fwd_seq){s->canvas, s->T, s->P, h0, hn, &s->fs_cond, s->plan_cond,
                                      &s->counts, s->is_d2 ? s->d2.probs : NULL};
        if (s->run_uncond) {
            memcpy(s->uncond + s->P, s->canvas + s->P, (size_t)s->R * sizeof(int32_t));
            dllm_plan_ctx pu = {s->t_uncond + 1, s->P, s->R, s->block, s->i, b0, bl, NULL, 0};
            for (int64_t l = 0; l < e->w.L; l++)
                s->policy->plan(&s->p, &pu, l, &s->plan_uncond[l]);
            e->plan[k++] = (dllm_fwd_seq){s->uncond, s->T, s->P, h0, hn, &s->fs_uncond,
                                          s->plan_uncond, &s->counts, NULL};
        }
    }
    t0 = now_ms();
    if (e->tp > 1) {
        rc = tp_forward_sample(e, seqs, n, k);
        if (rc != DLLM_OK)
            return seterr(e, rc, "tensor-parallel step (%d ranks) failed: %s", e->tp,
                          dllm_status_desc(rc));
    } else {
        rc = dllm_forward_run(&e->fwd, e->plan, k);
        if (rc != DLLM_OK) return seterr(e, rc, "forward failed: %s", dllm_status_desc(rc));
    }
    for (size_t i = 0; i < n; i++) /* d2Cache: the rollout of the forward that just ran */
        if (!seqs[i]->finished && seqs[i]->is_d2)
            dllm_d2_rollout(&seqs[i]->d2, seqs[i]->d2.n_rows ? seqs[i]->d2.rows : NULL,
                            seqs[i]->d2.n_rows ? seqs[i]->d2.n_rows : seqs[i]->T);

    /* per sequence: CFG mix, sample the block rows, commit (tp > 1: sampled above) */
    int64_t hoff = 0, toff = 0;
    int64_t V = e->w.V;
    for (size_t i = 0; i < n; i++) {
        dllm_seq *s = seqs[i];
        if (s->finished) continue;
        int32_t bl = s->p.block_length;
        int reuse = s->cfg_res != NULL;
        int32_t hn = (reuse && s->run_uncond) ? s->R : bl; /* head rows per branch */
        if (e->tp > 1) {
            commit(e, s, e->tp_tok + toff, e->tp_conf + toff);
            toff += bl;
        } else {
            float *lg = e->fwd.logits + hoff * V;
            rc = cfg_logits(e->be, s, lg, V, s->cfg_res);
            if (rc != DLLM_OK) return seterr(e, rc, "cfg mix failed: %s", dllm_status_desc(rc));
            lg += cfg_block_offset(s, reuse) * V;
            fill_rows(s, e->rows);
            rc = dllm_backend_sample(e->be, lg, bl, V, e->rows, e->eos_id, e->eot_id,
                                     e->tok_buf, e->conf_buf);
            if (rc != DLLM_OK) return seterr(e, rc, "sampling failed: %s", dllm_status_desc(rc));
            commit(e, s, e->tok_buf, e->conf_buf);
        }
        s->forwards += s->run_uncond ? 2 : 1;
        s->t_cond++;
        if (s->run_uncond) s->t_uncond++;
        hoff += (int64_t)hn * (s->run_uncond ? 2 : 1);
    }
    double dt = now_ms() - t0;
    for (size_t i = 0; i < n; i++) seqs[i]->forward_ms += dt;
    return DLLM_OK;
}

dllm_status dllm_generate(dllm_engine *e, const int32_t *prompt, size_t n_prompt,
                          const dllm_gen_params *p, int32_t **out_ids, size_t *n_out,
                          dllm_seq_stats *stats)
{
    dllm_seq *s = NULL;
    dllm_status rc;

    if (out_ids) *out_ids = NULL;
    if (n_out) *n_out = 0;
    DLLM_TRY_GOTO(dllm_seq_new(e, prompt, n_prompt, p, &s), rc, out);
    while (!dllm_seq_finished(s)) DLLM_TRY_GOTO(dllm_engine_step(e, &s, 1), rc, out);
    if (out_ids) {
        size_t n;
        const int32_t *t = dllm_seq_tokens(s, &n);
        *out_ids = malloc(n * sizeof(int32_t));
        if (*out_ids == NULL) {
            rc = seterr(e, DLLM_E_NOMEM, "out of memory");
            goto out;
        }
        memcpy(*out_ids, t, n * sizeof(int32_t));
        if (n_out) *n_out = n;
    }
    if (stats) dllm_seq_stats_get(s, stats);
out:
    dllm_seq_free(s);
    return rc;
}

/* ---- inspection ---- */

dllm_status dllm_inspect(const char *model_dir, int json, FILE *out, char *err, size_t errn)
{
    dllm_checkpoint *ck = NULL;
    dllm_status rc;

    DLLM_TRY_GOTO(dllm_checkpoint_open(model_dir, &ck, err, errn), rc, out);
    if (json)
        rc = dllm_checkpoint_print_json(ck, out);
    else
        dllm_checkpoint_print(ck, out);
out:
    dllm_checkpoint_free(ck);
    return rc;
}
