/* model.c -- upload of a validated checkpoint onto a backend (see model.h).
 *
 * Shapes were checked against the config by checkpoint.c; this module only moves the
 * bytes, so its errors are allocation or device failures.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "util.h"

typedef struct load_progress {
    void (*fn)(void *, uint64_t, uint64_t);
    void *user;
    uint64_t done, total;
} load_progress;

static uint64_t tensor_bytes(const dllm_st_tensor *t)
{
    uint64_t n = dllm_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
    return n;
}

static dllm_status upload(dllm_backend *be, const dllm_st_tensor *t, dllm_weight *out,
                          load_progress *lp, char *err, size_t errn)
{
    int64_t rows = t->ndim == 2 ? t->shape[0] : 1;
    int64_t cols = t->ndim == 2 ? t->shape[1] : t->shape[0];
    dllm_status rc = dllm_backend_weight_upload(be, t->data, t->dtype, rows, cols, out);
    if (rc != DLLM_OK)
        return dllm_errf(err, errn, rc, "uploading tensor '%s' (%lld x %lld) to the %s backend: %s",
                         t->name, (long long)rows, (long long)cols, dllm_backend_name(be),
                         dllm_status_desc(rc));
    lp->done += tensor_bytes(t);
    if (lp->fn) lp->fn(lp->user, lp->done, lp->total);
    return DLLM_OK;
}

/* Uploads rows [r0, r0 + nr) and columns [c0, c0 + nc) of the 2-D tensor t, plus
 * zero_rows zero rows: a pointer offset when whole rows are taken, else a host copy. */
static dllm_status upload_slice(dllm_backend *be, const dllm_st_tensor *t, int64_t r0, int64_t nr,
                                int64_t c0, int64_t nc, int64_t zero_rows, dllm_weight *out,
                                load_progress *lp, char *err, size_t errn)
{
    int64_t cols = t->shape[1];
    size_t es = dllm_dtype_size(t->dtype);
    const char *src = (const char *)t->data + (size_t)(r0 * cols) * es;
    char *host = NULL;
    dllm_status rc;

    if (c0 != 0 || nc != cols || zero_rows > 0) {
        host = calloc((size_t)((nr + zero_rows) * nc), es);
        if (host == NULL)
            return dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory slicing '%s'", t->name);
        for (int64_t i = 0; i < nr; i++)
            memcpy(host + (size_t)(i * nc) * es, src + (size_t)(i * cols + c0) * es,
                   (size_t)nc * es);
        src = host;
    }
    rc = dllm_backend_weight_upload(be, src, t->dtype, nr + zero_rows, nc, out);
    free(host);
    if (rc != DLLM_OK)
        return dllm_errf(err, errn, rc, "uploading rows %lld..%lld, columns %lld..%lld of "
                         "tensor '%s' to the %s backend: %s", (long long)r0,
                         (long long)(r0 + nr), (long long)c0, (long long)(c0 + nc), t->name,
                         dllm_backend_name(be), dllm_status_desc(rc));
    lp->done += tensor_bytes(t); /* progress counts the checkpoint's tensors */
    if (lp->fn) lp->fn(lp->user, lp->done, lp->total);
    return DLLM_OK;
}

void dllm_model_weights_set_full(dllm_model_weights *w)
{
    w->tp = 1;
    w->rank = 0;
    w->NHl = w->NH;
    w->Cl = w->C;
    w->Fl = w->F;
    w->Vl = w->V;
    w->v0 = 0;
}

dllm_status dllm_model_weights_load(dllm_model_weights *w, dllm_backend *be,
                                    const dllm_checkpoint *ck,
                                    void (*progress)(void *, uint64_t, uint64_t), void *user,
                                    char *err, size_t errn)
{
    return dllm_model_weights_load_tp(w, be, ck, 1, 0, progress, user, err, errn);
}

dllm_status dllm_model_weights_load_tp(dllm_model_weights *w, dllm_backend *be,
                                       const dllm_checkpoint *ck, int tp, int rank,
                                       void (*progress)(void *, uint64_t, uint64_t), void *user,
                                       char *err, size_t errn)
{
    const dllm_model_config *cfg = &ck->cfg;
    dllm_status rc = DLLM_OK;
    load_progress lp = {progress, user, 0, 0};
    dllm_shard sh;

    lp.total = tensor_bytes(ck->wte) + tensor_bytes(ck->ln_f) + tensor_bytes(ck->lm_head);
    for (int64_t i = 0; i < cfg->n_layers; i++) {
        const dllm_layer_tensors *t = &ck->layers[i];
        lp.total += tensor_bytes(t->attn_norm) + tensor_bytes(t->q_proj) + tensor_bytes(t->k_proj) +
                    tensor_bytes(t->v_proj) + tensor_bytes(t->attn_out) + tensor_bytes(t->ff_norm) +
                    tensor_bytes(t->ff_proj) + tensor_bytes(t->up_proj) + tensor_bytes(t->ff_out);
    }

    memset(w, 0, sizeof *w);
    w->C = cfg->d_model;
    w->L = cfg->n_layers;
    w->NH = cfg->n_heads;
    w->HS = cfg->d_model / cfg->n_heads;
    w->F = cfg->mlp_hidden_size;
    w->V = cfg->embedding_size;
    w->eps = (float)cfg->rms_norm_eps;
    w->theta = (float)cfg->rope_theta;
    rc = dllm_shard_plan(tp, rank, w->C, w->NH, w->F, w->V, &sh, err, errn);
    if (rc != DLLM_OK) return rc;
    w->tp = tp;
    w->rank = rank;
    w->NHl = sh.NHl;
    w->Cl = sh.Cl;
    w->Fl = sh.Fl;
    w->Vl = sh.Vl;
    w->v0 = sh.v0;
    w->layers = calloc((size_t)w->L, sizeof *w->layers);
    if (w->layers == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory for %lld layers",
                       (long long)w->L);
        goto out;
    }
    if (tp == 1)
        DLLM_TRY_GOTO(upload(be, ck->wte, &w->wte, &lp, err, errn), rc, out);
    else /* the rank's vocabulary rows and one zero row for the ids it does not own */
        DLLM_TRY_GOTO(upload_slice(be, ck->wte, sh.v0, sh.Vl, 0, w->C, 1, &w->wte, &lp, err,
                                   errn), rc, out);
    for (int64_t i = 0; i < w->L; i++) {
        const dllm_layer_tensors *t = &ck->layers[i];
        dllm_layer_weights *l = &w->layers[i];
        DLLM_TRY_GOTO(upload(be, t->attn_norm, &l->attn_norm, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->ff_norm, &l->ff_norm, &lp, err, errn), rc, out);
        if (tp == 1) {
            DLLM_TRY_GOTO(upload(be, t->q_proj, &l->wq, &lp, err, errn), rc, out);
            DLLM_TRY_GOTO(upload(be, t->k_proj, &l->wk, &lp, err, errn), rc, out);
            DLLM_TRY_GOTO(upload(be, t->v_proj, &l->wv, &lp, err, errn), rc, out);
            DLLM_TRY_GOTO(upload(be, t->attn_out, &l->wo, &lp, err, errn), rc, out);
            DLLM_TRY_GOTO(upload(be, t->ff_proj, &l->w_gate, &lp, err, errn), rc, out);
            DLLM_TRY_GOTO(upload(be, t->up_proj, &l->w_up, &lp, err, errn), rc, out);
            DLLM_TRY_GOTO(upload(be, t->ff_out, &l->w_down, &lp, err, errn), rc, out);
            continue;
        }
#define SLICE(src, r0, nr, c0, nc, dst)                                                         \
    DLLM_TRY_GOTO(upload_slice(be, (src), (r0), (nr), (c0), (nc), 0, (dst), &lp, err, errn), rc, \
                  out)
        SLICE(t->q_proj, sh.c0, sh.Cl, 0, w->C, &l->wq);      /* COL: the rank's heads */
        SLICE(t->k_proj, sh.c0, sh.Cl, 0, w->C, &l->wk);
        SLICE(t->v_proj, sh.c0, sh.Cl, 0, w->C, &l->wv);
        SLICE(t->attn_out, 0, w->C, sh.c0, sh.Cl, &l->wo);    /* ROW */
        SLICE(t->ff_proj, sh.f0, sh.Fl, 0, w->C, &l->w_gate); /* COL: the rank's units */
        SLICE(t->up_proj, sh.f0, sh.Fl, 0, w->C, &l->w_up);
        SLICE(t->ff_out, 0, w->C, sh.f0, sh.Fl, &l->w_down);  /* ROW */
#undef SLICE
    }
    DLLM_TRY_GOTO(upload(be, ck->ln_f, &w->ln_f, &lp, err, errn), rc, out);
    if (tp == 1)
        DLLM_TRY_GOTO(upload(be, ck->lm_head, &w->head, &lp, err, errn), rc, out);
    else /* VOCAB: the rank's rows of the LM head */
        DLLM_TRY_GOTO(upload_slice(be, ck->lm_head, sh.v0, sh.Vl, 0, w->C, 0, &w->head, &lp, err,
                                   errn), rc, out);
out:
    if (rc != DLLM_OK) dllm_model_weights_deinit(w, be);
    return rc;
}

dllm_status dllm_weight_slice(dllm_backend *be, dllm_weight *wt, int64_t r0, int64_t nr,
                              int64_t c0, int64_t nc, int64_t zero_rows)
{
    size_t es = dllm_dtype_size(wt->dtype);
    char *full = NULL, *part = NULL;
    dllm_weight out = {0};
    dllm_status rc = DLLM_OK;

    if (r0 < 0 || nr < 0 || r0 + nr > wt->rows || c0 < 0 || nc < 1 || c0 + nc > wt->cols ||
        zero_rows < 0)
        return DLLM_E_INVALID_ARG;
    full = malloc((size_t)(wt->rows * wt->cols) * es);
    part = calloc((size_t)((nr + zero_rows) * nc), es);
    if (full == NULL || part == NULL) {
        rc = DLLM_E_NOMEM;
        goto out;
    }
    DLLM_TRY_GOTO(dllm_backend_download(be, full, wt->data, (size_t)(wt->rows * wt->cols) * es),
                  rc, out);
    for (int64_t i = 0; i < nr; i++)
        memcpy(part + (size_t)(i * nc) * es, full + (size_t)((r0 + i) * wt->cols + c0) * es,
               (size_t)nc * es);
    DLLM_TRY_GOTO(dllm_backend_weight_upload(be, part, wt->dtype, nr + zero_rows, nc, &out), rc,
                  out);
    dllm_backend_weight_free(be, wt);
    *wt = out;
out:
    free(full);
    free(part);
    return rc;
}

void dllm_model_weights_deinit(dllm_model_weights *w, dllm_backend *be)
{
    if (w == NULL) return;
    if (w->layers != NULL) {
        for (int64_t i = 0; i < w->L; i++) {
            dllm_layer_weights *l = &w->layers[i];
            dllm_backend_weight_free(be, &l->attn_norm);
            dllm_backend_weight_free(be, &l->wq);
            dllm_backend_weight_free(be, &l->wk);
            dllm_backend_weight_free(be, &l->wv);
            dllm_backend_weight_free(be, &l->wo);
            dllm_backend_weight_free(be, &l->ff_norm);
            dllm_backend_weight_free(be, &l->w_gate);
            dllm_backend_weight_free(be, &l->w_up);
            dllm_backend_weight_free(be, &l->w_down);
        }
    }
    dllm_backend_weight_free(be, &w->wte);
    dllm_backend_weight_free(be, &w->ln_f);
    dllm_backend_weight_free(be, &w->head);
    free(w->layers);
    memset(w, 0, sizeof *w);
}
