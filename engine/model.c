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

dllm_status dllm_model_weights_load(dllm_model_weights *w, dllm_backend *be,
                                    const dllm_checkpoint *ck,
                                    void (*progress)(void *, uint64_t, uint64_t), void *user,
                                    char *err, size_t errn)
{
    const dllm_model_config *cfg = &ck->cfg;
    dllm_status rc = DLLM_OK;
    load_progress lp = {progress, user, 0, 0};

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
    w->layers = calloc((size_t)w->L, sizeof *w->layers);
    if (w->layers == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "out of memory for %lld layers",
                       (long long)w->L);
        goto out;
    }
    DLLM_TRY_GOTO(upload(be, ck->wte, &w->wte, &lp, err, errn), rc, out);
    for (int64_t i = 0; i < w->L; i++) {
        const dllm_layer_tensors *t = &ck->layers[i];
        dllm_layer_weights *l = &w->layers[i];
        DLLM_TRY_GOTO(upload(be, t->attn_norm, &l->attn_norm, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->q_proj, &l->wq, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->k_proj, &l->wk, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->v_proj, &l->wv, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->attn_out, &l->wo, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->ff_norm, &l->ff_norm, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->ff_proj, &l->w_gate, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->up_proj, &l->w_up, &lp, err, errn), rc, out);
        DLLM_TRY_GOTO(upload(be, t->ff_out, &l->w_down, &lp, err, errn), rc, out);
    }
    DLLM_TRY_GOTO(upload(be, ck->ln_f, &w->ln_f, &lp, err, errn), rc, out);
    DLLM_TRY_GOTO(upload(be, ck->lm_head, &w->head, &lp, err, errn), rc, out);
out:
    if (rc != DLLM_OK) dllm_model_weights_deinit(w, be);
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
