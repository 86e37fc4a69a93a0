/* forward.c -- the LLaDA forward over a packed batch (see forward.h for the layout).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "forward.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void dllm_forward_init(dllm_forward *f, dllm_backend *be, const dllm_model_weights *w)
{
    memset(f, 0, sizeof *f);
    f->be = be;
    f->w = w;
}

static void release(dllm_forward *f)
{
    float **fl[] = {&f->x, &f->h, &f->q, &f->k, &f->v, &f->att, &f->gate, &f->up, &f->hx,
                    &f->logits};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        dllm_backend_dealloc(f->be, *fl[i]);
        *fl[i] = NULL;
    }
    dllm_backend_dealloc(f->be, f->ids_dev);
    dllm_backend_dealloc(f->be, f->pos_dev);
    dllm_backend_dealloc(f->be, f->head_dev);
    free(f->ids_host);
    free(f->pos_host);
    free(f->head_host);
    f->ids_dev = f->pos_dev = f->head_dev = NULL;
    f->ids_host = f->pos_host = f->head_host = NULL;
    f->cap_rows = f->cap_head = 0;
}

void dllm_forward_deinit(dllm_forward *f)
{
    if (f == NULL || f->be == NULL) return;
    release(f);
}

dllm_status dllm_forward_reserve(dllm_forward *f, int64_t rows, int64_t head_rows)
{
    const dllm_model_weights *w = f->w;
    dllm_status rc = DLLM_OK;
    size_t n, hn;

    if (rows <= f->cap_rows && head_rows <= f->cap_head) return DLLM_OK;
    if (rows < f->cap_rows) rows = f->cap_rows;
    if (head_rows < f->cap_head) head_rows = f->cap_head;
    if (head_rows < 1) head_rows = 1;
    if (rows < 1) rows = 1;
    release(f);
    n = (size_t)rows;
    hn = (size_t)head_rows;
#define ALLOC(ptr, count, type)                                                                \
    DLLM_TRY_GOTO(dllm_backend_alloc(f->be, (count) * sizeof(type), (void **)&(ptr)), rc, out)
    ALLOC(f->x, n * (size_t)w->C, float);
    ALLOC(f->h, n * (size_t)w->C, float);
    ALLOC(f->q, n * (size_t)w->C, float);
    ALLOC(f->k, n * (size_t)w->C, float);
    ALLOC(f->v, n * (size_t)w->C, float);
    ALLOC(f->att, n * (size_t)w->C, float);
    ALLOC(f->gate, n * (size_t)w->F, float);
    ALLOC(f->up, n * (size_t)w->F, float);
    ALLOC(f->hx, hn * (size_t)w->C, float);
    ALLOC(f->logits, hn * (size_t)w->V, float);
    ALLOC(f->ids_dev, n, int32_t);
    ALLOC(f->pos_dev, n, int32_t);
    ALLOC(f->head_dev, hn, int32_t);
#undef ALLOC
    f->ids_host = malloc(n * sizeof(int32_t));
    f->pos_host = malloc(n * sizeof(int32_t));
    f->head_host = malloc(hn * sizeof(int32_t));
    if (f->ids_host == NULL || f->pos_host == NULL || f->head_host == NULL) {
        rc = DLLM_E_NOMEM;
        goto out;
    }
    f->cap_rows = rows;
    f->cap_head = head_rows;
out:
    if (rc != DLLM_OK) release(f);
    return rc;
}

/* One transformer block over all N packed rows. */
static dllm_status layer_forward(dllm_forward *f, const dllm_layer_weights *lw,
                                 const dllm_fwd_seq *seqs, size_t n_seqs, int64_t N)
{
    const dllm_model_weights *w = f->w;
    dllm_backend *be = f->be;
    int64_t C = w->C;
    int64_t off = 0;

    /* attention sub-layer */
    DLLM_TRY(dllm_backend_rmsnorm(be, f->h, f->x, &lw->attn_norm, N, w->eps));
    DLLM_TRY(dllm_backend_gemm(be, f->q, f->h, &lw->wq, N));
    DLLM_TRY(dllm_backend_gemm(be, f->k, f->h, &lw->wk, N));
    DLLM_TRY(dllm_backend_gemm(be, f->v, f->h, &lw->wv, N));
    DLLM_TRY(dllm_backend_rope(be, f->q, f->pos_dev, N, w->NH, w->HS, w->theta));
    DLLM_TRY(dllm_backend_rope(be, f->k, f->pos_dev, N, w->NH, w->HS, w->theta));
    for (size_t s = 0; s < n_seqs; s++) {
        int64_t t = seqs[s].T;
        DLLM_TRY(dllm_backend_attention(be, f->att + off * C, f->q + off * C, f->k + off * C,
                                        f->v + off * C, t, t, w->NH, w->HS));
        off += t;
    }
    DLLM_TRY(dllm_backend_gemm(be, f->h, f->att, &lw->wo, N)); /* h = attn delta (N, C) */
    DLLM_TRY(dllm_backend_add(be, f->x, f->h, N * C));

    /* MLP sub-layer */
    DLLM_TRY(dllm_backend_rmsnorm(be, f->h, f->x, &lw->ff_norm, N, w->eps));
    DLLM_TRY(dllm_backend_gemm(be, f->gate, f->h, &lw->w_gate, N));
    DLLM_TRY(dllm_backend_gemm(be, f->up, f->h, &lw->w_up, N));
    DLLM_TRY(dllm_backend_swiglu(be, f->gate, f->gate, f->up, N * w->F));
    DLLM_TRY(dllm_backend_gemm(be, f->att, f->gate, &lw->w_down, N)); /* MLP delta (N, C) */
    DLLM_TRY(dllm_backend_add(be, f->x, f->att, N * C));
    return DLLM_OK;
}

dllm_status dllm_forward_run(dllm_forward *f, const dllm_fwd_seq *seqs, size_t n)
{
    const dllm_model_weights *w = f->w;
    int64_t N = 0, H = 0;

    for (size_t s = 0; s < n; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        if (q->T <= 0 || q->head_start < 0 || q->head_count < 0 ||
            (int64_t)q->head_start + q->head_count > q->T)
            return DLLM_E_INVALID_ARG;
        N += q->T;
        H += q->head_count;
    }
    if (N == 0) return DLLM_OK;
    if (N > f->cap_rows || H > f->cap_head) return DLLM_E_INVALID_ARG;

    /* stage ids, absolute positions and head-row indices */
    int64_t off = 0, hoff = 0;
    for (size_t s = 0; s < n; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        for (int32_t i = 0; i < q->T; i++) {
            if (q->ids[i] < 0 || q->ids[i] >= w->V) return DLLM_E_INVALID_ARG;
            f->ids_host[off + i] = q->ids[i];
            f->pos_host[off + i] = i;
        }
        for (int32_t i = 0; i < q->head_count; i++)
            f->head_host[hoff + i] = (int32_t)(off + q->head_start + i);
        off += q->T;
        hoff += q->head_count;
    }
    DLLM_TRY(dllm_backend_upload(f->be, f->ids_dev, f->ids_host, (size_t)N * sizeof(int32_t)));
    DLLM_TRY(dllm_backend_upload(f->be, f->pos_dev, f->pos_host, (size_t)N * sizeof(int32_t)));
    DLLM_TRY(dllm_backend_upload(f->be, f->head_dev, f->head_host, (size_t)H * sizeof(int32_t)));

    DLLM_TRY(dllm_backend_embed(f->be, f->x, &w->wte, f->ids_dev, N));
    for (int64_t l = 0; l < w->L; l++) DLLM_TRY(layer_forward(f, &w->layers[l], seqs, n, N));

    /* LM head only for the head rows */
    if (H == 0) return DLLM_OK;
    DLLM_TRY(dllm_backend_gather_rows(f->be, f->hx, f->x, f->head_dev, H, w->C));
    DLLM_TRY(dllm_backend_rmsnorm(f->be, f->hx, f->hx, &w->ln_f, H, w->eps));
    DLLM_TRY(dllm_backend_gemm(f->be, f->logits, f->hx, &w->head, H));
    return DLLM_OK;
}
