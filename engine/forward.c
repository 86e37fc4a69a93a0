/* forward.c -- the row-plan LLaDA forward (see forward.h for the layout).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "forward.h"

#include "comm.h"
#include "cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A pooled key score being ranked (Sparse-dLLM keep selection). */
struct dllm_keyscore {
    float v;   /* pooled score (NaN ranked as -inf) */
    int32_t m; /* index among the non-block rows */
};

void dllm_forward_init(dllm_forward *f, dllm_backend *be, const dllm_model_weights *w)
{
    memset(f, 0, sizeof *f);
    f->be = be;
    f->w = w;
}

void dllm_forward_set_comm(dllm_forward *f, dllm_comm *comm)
{
    f->comm = comm;
}

static void release(dllm_forward *f)
{
    float **fl[] = {&f->x, &f->h, &f->g, &f->q, &f->kk, &f->vv, &f->att, &f->gate, &f->up,
                    &f->hx, &f->logits, &f->stat_dev};
    int32_t **il[] = {&f->ids_dev, &f->spos_dev, &f->vpos_dev, &f->head_dev, &f->wpos_dev,
                      &f->kidx_dev};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        dllm_backend_dealloc(f->be, *fl[i]);
        *fl[i] = NULL;
    }
    for (size_t i = 0; i < sizeof il / sizeof il[0]; i++) {
        dllm_backend_dealloc(f->be, *il[i]);
        *il[i] = NULL;
    }
    free(f->ids_host);
    free(f->spos_host);
    free(f->vpos_host);
    free(f->head_host);
    free(f->wpos_host);
    free(f->stat_host);
    free(f->kidx_host);
    free(f->rank);
    free(f->kept);
    free(f->vhost);
    free(f->vpart);
    free(f->vsel);
    f->vhost = NULL;
    f->vpart = NULL;
    f->vsel = NULL;
    f->ids_host = f->spos_host = f->vpos_host = f->head_host = f->wpos_host = NULL;
    f->kidx_host = NULL;
    f->stat_host = NULL;
    f->rank = NULL;
    f->kept = NULL;
    f->cap_rows = f->cap_head = 0;
}

void dllm_forward_deinit(dllm_forward *f)
{
    if (f == NULL || f->be == NULL) return;
    release(f);
    dllm_backend_dealloc(f->be, f->probs_dev); /* sized separately (reserve_probs) */
    f->probs_dev = NULL;
    f->cap_probs = 0;
}

dllm_status dllm_forward_reserve(dllm_forward *f, int64_t rows, int64_t head_rows)
{
    const dllm_model_weights *w = f->w;
    dllm_status rc = DLLM_OK;
    size_t n, hn, ln;

    if (rows <= f->cap_rows && head_rows <= f->cap_head) return DLLM_OK;
    if (rows < f->cap_rows) rows = f->cap_rows;
    if (head_rows < f->cap_head) head_rows = f->cap_head;
    if (head_rows < 1) head_rows = 1;
    if (rows < 1) rows = 1;
    release(f);
    n = (size_t)rows;
    hn = (size_t)head_rows;
    ln = (size_t)w->L * n;
#define ALLOC(ptr, count, type)                                                                \
    DLLM_TRY_GOTO(dllm_backend_alloc(f->be, (count) * sizeof(type), (void **)&(ptr)), rc, out)
    ALLOC(f->x, n * (size_t)w->C, float);
    ALLOC(f->h, n * (size_t)w->C, float);
    ALLOC(f->g, n * (size_t)w->C, float);
    ALLOC(f->q, n * (size_t)w->Cl, float);
    ALLOC(f->kk, n * (size_t)w->Cl, float);
    ALLOC(f->vv, n * (size_t)w->Cl, float);
    ALLOC(f->att, n * (size_t)w->Cl, float);
    ALLOC(f->gate, n * (size_t)w->Fl, float);
    ALLOC(f->up, n * (size_t)w->Fl, float);
    ALLOC(f->hx, hn * (size_t)w->C, float);
    ALLOC(f->logits, hn * (size_t)w->Vl, float);
    ALLOC(f->ids_dev, n, int32_t);
    ALLOC(f->spos_dev, ln, int32_t);
    ALLOC(f->vpos_dev, ln, int32_t);
    ALLOC(f->head_dev, hn, int32_t);
    ALLOC(f->wpos_dev, ln, int32_t);
    ALLOC(f->stat_dev, n, float);
    ALLOC(f->kidx_dev, n, int32_t);
#undef ALLOC
    f->ids_host = malloc(n * sizeof(int32_t));
    f->spos_host = malloc(ln * sizeof(int32_t));
    f->vpos_host = malloc(ln * sizeof(int32_t));
    f->head_host = malloc(hn * sizeof(int32_t));
    f->wpos_host = calloc(ln, sizeof(int32_t));
    f->stat_host = malloc(n * sizeof(float));
    f->kidx_host = malloc(n * sizeof(int32_t));
    f->rank = malloc(n * sizeof *f->rank);
    f->kept = malloc(n);
    if (!f->ids_host || !f->spos_host || !f->vpos_host || !f->head_host || !f->wpos_host ||
        !f->stat_host || !f->kidx_host || !f->rank || !f->kept) {
        rc = DLLM_E_NOMEM;
        goto out;
    }
    if (f->comm != NULL) { /* tensor parallelism: V-verify's host side */
        f->vhost = malloc(2 * n * (size_t)w->Cl * sizeof(float));
        f->vpart = malloc(4 * n * sizeof(double));
        f->vsel = malloc(n * sizeof(int32_t));
        if (!f->vhost || !f->vpart || !f->vsel) {
            rc = DLLM_E_NOMEM;
            goto out;
        }
    }
    DLLM_TRY_GOTO(dllm_backend_reserve(f->be, rows), rc, out);
    f->cap_rows = rows;
    f->cap_head = head_rows;
out:
    if (rc != DLLM_OK) release(f);
    return rc;
}


dllm_status dllm_forward_reserve_probs(dllm_forward *f, int64_t t)
{
    float *p = NULL;
    if (t * t <= f->cap_probs) return DLLM_OK;
    DLLM_TRY(dllm_backend_alloc(f->be, (size_t)(t * t) * sizeof(float), (void **)&p));
    dllm_backend_dealloc(f->be, f->probs_dev);
    f->probs_dev = p;
    f->cap_probs = t * t;
    return DLLM_OK;
}

/* Row counts of one sequence's layer plan. */
/* Rows of a plan's row range (only when neither segment is recomputed whole). */
static int32_t range_rows(const dllm_layer_plan *p)
{
    return (!p->prompt && !p->resp && p->hi > p->lo) ? p->hi - p->lo : 0;
}

/* Rows of a plan's row list (only when neither segment is recomputed whole). */
static int32_t list_rows(const dllm_layer_plan *p)
{
    return (!p->prompt && !p->resp && p->rows != NULL) ? p->n_rows : 0;
}

static int32_t s_rows(const dllm_fwd_seq *q, const dllm_layer_plan *p)
{
    int32_t R = q->T - q->P;
    return (p->prompt ? q->P : 0) + (p->resp ? R : 0) + (!p->resp && p->verify ? p->k : 0) +
           range_rows(p) + list_rows(p);
}

static int32_t v_rows(const dllm_fwd_seq *q, const dllm_layer_plan *p)
{
    int32_t R = q->T - q->P;
    return (p->prompt ? q->P : 0) + (p->resp || p->verify ? R : 0) + range_rows(p) +
           list_rows(p);
}

static int keyscore_cmp(const void *pa, const void *pb)
{
    const struct dllm_keyscore *a = pa, *b = pb;
    float va = isnan(a->v) ? -INFINITY : a->v, vb = isnan(b->v) ? -INFINITY : b->v;
    if (va != vb) return va > vb ? -1 : 1; /* higher score first */
    return (a->m > b->m) - (a->m < b->m);  /* ties: lower row first */
}

/* Sparse-dLLM keep selection of one sequence's layer l (after attention_keystat wrote the
 * keys' scores to f->stat_dev): the non-block rows' scores [0, lo) ++ [hi, T) are max-pooled
 * (window p->kernel, -inf padding), the fs->nkeep best (ties: lower row) are kept; the
 * layer's compact K/V become the scratch K/V rows [kept ascending | lo .. hi-1]. */
static dllm_status select_kept(dllm_forward *f, const dllm_fwd_seq *q, const dllm_layer_plan *p,
                               int64_t l)
{
    dllm_feature_store *fs = q->fs;
    int64_t C = f->w->Cl, T = q->T, bl = p->hi - p->lo, n = T - bl, r = p->kernel / 2;
    float *kstore = dllm_fs_layer_kv(fs, fs->k, l), *vstore = dllm_fs_layer_kv(fs, fs->v, l);
    float *kc = fs->kc + l * fs->Tk * C, *vc = fs->vc + l * fs->Tk * C;
    const float *st = f->stat_host;
    int64_t o = 0;

    if (f->comm != NULL) /* the other heads' share of the scores: identical kept rows */
        DLLM_TRY(dllm_comm_allreduce_f32(f->comm, f->stat_dev, T));
    DLLM_TRY(dllm_backend_download(f->be, f->stat_host, f->stat_dev, (size_t)T * sizeof(float)));
    for (int64_t m = 0; m < n; m++) {
        float mx = -INFINITY;
        for (int64_t u = m - r; u <= m + r; u++) {
            if (u < 0 || u >= n) continue;
            float v = st[u < p->lo ? u : u + bl];
            if (v > mx) mx = v; /* NaN never wins */
        }
        f->rank[m] = (struct dllm_keyscore){mx, (int32_t)m};
    }
    qsort(f->rank, (size_t)n, sizeof *f->rank, keyscore_cmp);
    memset(f->kept, 0, (size_t)n);
    for (int64_t i = 0; i < fs->nkeep; i++) f->kept[f->rank[i].m] = 1;
    for (int64_t m = 0; m < n; m++)
        if (f->kept[m]) f->kidx_host[o++] = (int32_t)(m < p->lo ? m : m + bl);
    for (int32_t i = p->lo; i < p->hi; i++) f->kidx_host[o++] = i;
    DLLM_TRY(dllm_backend_upload(f->be, f->kidx_dev, f->kidx_host, (size_t)o * sizeof(int32_t)));
    DLLM_TRY(dllm_backend_gather_rows(f->be, kc, kstore, f->kidx_dev, o, C));
    DLLM_TRY(dllm_backend_gather_rows(f->be, vc, vstore, f->kidx_dev, o, C));
    if (l == f->w->L - 1) fs->kept_lo = p->lo;
    return DLLM_OK;
}

/* Liveness of the residual x by segment. A forward only reads x where some layer
 * gathers rows (its S and V rows) or where the LM head reads; every other row of x is
 * dead and need not be normalised or updated. At a segment granularity (prompt [0, P),
 * response [P, T)) that saves, in a typical dLLM-Cache step, the norm and the two
 * residual adds over the whole prompt in every layer after the first, which on a GPU was
 * 2.8 of 20 ms per LLaDA-8B step (docs/benchmarks.md). Rows computed are bit-identical. */
enum { SEG_P = 1u, SEG_R = 2u };

static unsigned segs_of_range(const dllm_fwd_seq *q, int32_t lo, int32_t n)
{
    unsigned m = 0;
    if (n <= 0) return 0;
    if (lo < q->P) m |= SEG_P;
    if (lo + n > q->P) m |= SEG_R;
    return m;
}

/* Segments whose x rows layer l reads (its S and V rows). */
static unsigned segs_read(const dllm_fwd_seq *q, const dllm_layer_plan *p)
{
    unsigned m = segs_of_range(q, p->lo, range_rows(p));
    int32_t nl = list_rows(p); /* d2Cache's ascending row list */
    if (nl > 0) m |= segs_of_range(q, p->rows[0], p->rows[nl - 1] - p->rows[0] + 1);
    if (p->prompt) m |= SEG_P;
    if (p->resp || p->verify) m |= SEG_R;
    return m & (q->P > 0 ? SEG_P | SEG_R : SEG_R);
}

/* Segments whose x rows are read after layer l (later layers or the LM head). */
static unsigned segs_live_after(const dllm_fwd_seq *q, int64_t l, int64_t L)
{
    unsigned m = segs_of_range(q, q->head_start, q->head_count);
    for (int64_t j = l + 1; j < L; j++) m |= segs_read(q, &q->plans[j]);
    return m;
}

/* The row range [*a, *b) of a sequence covered by segment mask m (segments are
 * contiguous, so any mask is one range); 0 when m is empty. */
static int seg_range(const dllm_fwd_seq *q, unsigned m, int32_t *a, int32_t *b)
{
    if (m == 0) return 0;
    *a = (m & SEG_P) ? 0 : q->P;
    *b = (m & SEG_R) ? q->T : q->P;
    return *b > *a;
}

/* V-verify's selection under tensor parallelism: each rank holds its heads' columns of V,
 * so the cosine's dot product and squared norms are summed per rank (float64, the CPU
 * op's order within the slice), all-reduced (3 r numbers, in rank order), and every rank
 * then makes the same selection as dllm_backend_verify_select on the full rows. */
static dllm_status verify_select_tp(dllm_forward *f, int32_t *sel, const float *vnew,
                                    const float *vold, int64_t r, int64_t c, int64_t k,
                                    int32_t base)
{
    float *a = f->vhost, *b = f->vhost + r * c; /* (r, c) each, host */
    double *pp = f->vpart, *cosv = f->vpart + 3 * r;
    uint8_t *taken = f->kept;

    DLLM_TRY(dllm_backend_download(f->be, a, vnew, (size_t)(r * c) * sizeof(float)));
    DLLM_TRY(dllm_backend_download(f->be, b, vold, (size_t)(r * c) * sizeof(float)));
    for (int64_t j = 0; j < r; j++) {
        const float *x = a + j * c, *y = b + j * c;
        double dot = 0, na = 0, nb = 0;
        for (int64_t d = 0; d < c; d++) {
            dot += (double)x[d] * y[d];
            na += (double)x[d] * x[d];
            nb += (double)y[d] * y[d];
        }
        pp[3 * j] = dot;
        pp[3 * j + 1] = na;
        pp[3 * j + 2] = nb;
    }
    DLLM_TRY(dllm_comm_allreduce_f64(f->comm, pp, 3 * r));
    for (int64_t j = 0; j < r; j++) {
        double den = sqrt(pp[3 * j + 1]) * sqrt(pp[3 * j + 2]);
        cosv[j] = pp[3 * j] / (den > 1e-12 ? den : 1e-12);
    }
    memset(taken, 0, (size_t)r);
    for (int64_t i = 0; i < k; i++) { /* the lowest not yet taken, ties to the lower row */
        int64_t best = -1;
        for (int64_t j = 0; j < r; j++)
            if (!taken[j] && (best < 0 || cosv[j] < cosv[best])) best = j;
        taken[best] = 1;
    }
    for (int64_t j = 0, o = 0; j < r; j++)
        if (taken[j]) f->vsel[o++] = base + (int32_t)j;
    return dllm_backend_upload(f->be, sel, f->vsel, (size_t)k * sizeof(int32_t));
}

/* One transformer block over the batch (layer l). */
static dllm_status layer_forward(dllm_forward *f, int64_t l, const dllm_fwd_seq *seqs,
                                 size_t n_seqs, int64_t N)
{
    const dllm_model_weights *w = f->w;
    const dllm_layer_weights *lw = &w->layers[l];
    dllm_backend *be = f->be;
    int64_t C = w->C, CK = w->Cl; /* CK: this rank's heads' width (C at tp 1) */
    int32_t *spos = f->spos_dev + l * f->cap_rows, *vpos = f->vpos_dev + l * f->cap_rows;
    int32_t *wpos = f->wpos_dev + l * f->cap_rows;
    int64_t NS = 0, NV = 0, xoff;
    int32_t a, b;

    /* h = RMSNorm(x) on the rows this layer reads (all N when every sequence reads all) */
    int all_read = 1;
    for (size_t s = 0; s < n_seqs && all_read; s++) {
        unsigned every = seqs[s].P > 0 ? SEG_P | SEG_R : SEG_R;
        all_read = segs_read(&seqs[s], &seqs[s].plans[l]) == every;
    }
    if (all_read) {
        DLLM_TRY(dllm_backend_rmsnorm(be, f->h, f->x, &lw->attn_norm, N, w->eps));
    } else {
        xoff = 0;
        for (size_t s = 0; s < n_seqs; s++) {
            const dllm_fwd_seq *q = &seqs[s];
            if (seg_range(q, segs_read(q, &q->plans[l]), &a, &b))
                DLLM_TRY(dllm_backend_rmsnorm(be, f->h + (xoff + a) * C, f->x + (xoff + a) * C,
                                              &lw->attn_norm, b - a, w->eps));
            xoff += q->T;
        }
    }

    /* V rows: gather, project */
    xoff = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        int32_t nv = v_rows(q, &q->plans[l]);
        DLLM_TRY(dllm_backend_gather_rows(be, f->g + NV * C, f->h + xoff * C, vpos + NV, nv, C));
        NV += nv;
        xoff += q->T;
    }
    DLLM_TRY(dllm_backend_gemm(be, f->vv, f->g, &lw->wv, NV));

    /* V-verify selections into the S slots, then store V */
    NV = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        const dllm_layer_plan *p = &q->plans[l];
        int32_t nv = v_rows(q, p), ns = s_rows(q, p), R = q->T - q->P;
        float *vstore = dllm_fs_layer_kv(q->fs, q->fs->v, l);
        if (!p->resp && p->verify && p->k > 0) {
            int32_t np = p->prompt ? q->P : 0;
            if (f->comm != NULL)
                DLLM_TRY(verify_select_tp(f, spos + NS + np, f->vv + (NV + np) * CK,
                                          vstore + (int64_t)q->P * CK, R, CK, p->k, q->P));
            else
                DLLM_TRY(dllm_backend_verify_select(be, spos + NS + np, f->vv + (NV + np) * CK,
                                                    vstore + (int64_t)q->P * CK, R, CK, p->k,
                                                    q->P));
        }
        if (p->compact) /* the block's V into its compact slots (V rows == S rows) */
            DLLM_TRY(dllm_backend_scatter_rows(be, q->fs->vc + l * q->fs->Tk * CK,
                                               f->vv + NV * CK, wpos + NS, nv, CK));
        else
            DLLM_TRY(dllm_backend_scatter_rows(be, vstore, f->vv + NV * CK, vpos + NV, nv, CK));
        NV += nv;
        NS += ns;
    }

    /* Q, K over the S rows; RoPE at absolute positions; store K */
    NS = 0;
    xoff = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        int32_t ns = s_rows(q, &q->plans[l]);
        DLLM_TRY(dllm_backend_gather_rows(be, f->g + NS * C, f->h + xoff * C, spos + NS, ns, C));
        NS += ns;
        xoff += q->T;
    }
    DLLM_TRY(dllm_backend_gemm(be, f->q, f->g, &lw->wq, NS));
    DLLM_TRY(dllm_backend_gemm(be, f->kk, f->g, &lw->wk, NS));
    DLLM_TRY(dllm_backend_rope(be, f->q, spos, NS, w->NHl, w->HS, w->theta));
    DLLM_TRY(dllm_backend_rope(be, f->kk, spos, NS, w->NHl, w->HS, w->theta));

    /* attention of each sequence's S queries against its stored K, V */
    NS = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        const dllm_layer_plan *p = &q->plans[l];
        int32_t ns = s_rows(q, p);
        float *kstore = dllm_fs_layer_kv(q->fs, q->fs->k, l);
        float *vstore = dllm_fs_layer_kv(q->fs, q->fs->v, l);
        if (p->compact) {
            float *kc = q->fs->kc + l * q->fs->Tk * CK, *vc = q->fs->vc + l * q->fs->Tk * CK;
            DLLM_TRY(dllm_backend_scatter_rows(be, kc, f->kk + NS * CK, wpos + NS, ns, CK));
            DLLM_TRY(dllm_backend_attention(be, f->att + NS * CK, f->q + NS * CK, kc, vc, ns,
                                            q->fs->Tk, w->NHl, w->HS));
        } else if (p->keystat) { /* S = all rows in position order: queries lo..hi-1 */
            DLLM_TRY(dllm_backend_scatter_rows(be, kstore, f->kk + NS * CK, spos + NS, ns, CK));
            DLLM_TRY(dllm_backend_attention_keystat(be, f->att + NS * CK, f->stat_dev,
                                                    f->q + NS * CK, kstore, vstore, ns, q->T,
                                                    w->NHl, w->HS, p->lo, p->hi));
            DLLM_TRY(select_kept(f, q, p, l));
        } else if (p->probs) { /* d2Cache: the queries' probabilities for the rollout */
            float *dst = q->probs + l * (int64_t)q->T * q->T;
            int64_t np = (int64_t)ns * q->T;
            DLLM_TRY(dllm_backend_scatter_rows(be, kstore, f->kk + NS * CK, spos + NS, ns, CK));
            DLLM_TRY(dllm_backend_attention_probs(be, f->att + NS * CK, f->probs_dev,
                                                  f->q + NS * CK, kstore, vstore, ns, q->T,
                                                  w->NHl, w->HS));
            /* tensor parallelism: the ranks' head means (NHl heads each) are summed in rank
             * order and divided by tp, so every rank's rollout sees the same numbers; only
             * rank 0 (the scheduler) keeps them */
            if (f->comm != NULL) DLLM_TRY(dllm_comm_allreduce_f32(f->comm, f->probs_dev, np));
            if (w->rank == 0) {
                DLLM_TRY(dllm_backend_download(be, dst, f->probs_dev,
                                               (size_t)np * sizeof(float)));
                if (w->tp > 1)
                    for (int64_t i = 0; i < np; i++) dst[i] /= (float)w->tp;
            }
        } else {
            DLLM_TRY(dllm_backend_scatter_rows(be, kstore, f->kk + NS * CK, spos + NS, ns, CK));
            DLLM_TRY(dllm_backend_attention(be, f->att + NS * CK, f->q + NS * CK, kstore, vstore,
                                            ns, q->T, w->NHl, w->HS));
        }
        NS += ns;
    }
    DLLM_TRY(dllm_backend_gemm(be, f->g, f->att, &lw->wo, NS)); /* attention deltas (NS, C) */
    if (f->comm != NULL) /* row-parallel W_o: the ranks' partial sums */
        DLLM_TRY(dllm_comm_allreduce_f32(f->comm, f->g, NS * C));

    /* store A[S], x += A for all rows; then the MLP input rows */
    NS = 0;
    xoff = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        int32_t ns = s_rows(q, &q->plans[l]);
        float *astore = dllm_fs_layer(q->fs, q->fs->a, l);
        DLLM_TRY(dllm_backend_scatter_rows(be, astore, f->g + NS * C, spos + NS, ns, C));
        /* x += A where x is read later: this layer's MLP rows or later layers */
        if (seg_range(q, segs_read(q, &q->plans[l]) | segs_live_after(q, l, w->L), &a, &b))
            DLLM_TRY(dllm_backend_add(be, f->x + (xoff + a) * C, astore + (int64_t)a * C,
                                      (int64_t)(b - a) * C));
        DLLM_TRY(dllm_backend_gather_rows(be, f->h + NS * C, f->x + xoff * C, spos + NS, ns, C));
        NS += ns;
        xoff += q->T;
    }

    /* MLP over the S rows: F[S] = W_down(silu(W_gate z) * W_up z), z = RMSNorm(x[S]) */
    DLLM_TRY(dllm_backend_rmsnorm(be, f->h, f->h, &lw->ff_norm, NS, w->eps));
    DLLM_TRY(dllm_backend_gemm(be, f->gate, f->h, &lw->w_gate, NS));
    DLLM_TRY(dllm_backend_gemm(be, f->up, f->h, &lw->w_up, NS));
    DLLM_TRY(dllm_backend_swiglu(be, f->gate, f->gate, f->up, NS * w->Fl));
    DLLM_TRY(dllm_backend_gemm(be, f->g, f->gate, &lw->w_down, NS));
    if (f->comm != NULL) /* row-parallel W_down: the ranks' partial sums */
        DLLM_TRY(dllm_comm_allreduce_f32(f->comm, f->g, NS * C));
    NS = 0;
    xoff = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        int32_t ns = s_rows(q, &q->plans[l]);
        float *fstore = dllm_fs_layer(q->fs, q->fs->f, l);
        DLLM_TRY(dllm_backend_scatter_rows(be, fstore, f->g + NS * C, spos + NS, ns, C));
        if (seg_range(q, segs_live_after(q, l, w->L), &a, &b))
            DLLM_TRY(dllm_backend_add(be, f->x + (xoff + a) * C, fstore + (int64_t)a * C,
                                      (int64_t)(b - a) * C));
        NS += ns;
        xoff += q->T;
    }
    return DLLM_OK;
}

/* Writes the static row positions of every layer's S and V lists (V-verify slots of S are
 * filled on the backend during the layer; they are zeroed here). */
static void stage_positions(dllm_forward *f, const dllm_fwd_seq *seqs, size_t n)
{
    const dllm_model_weights *w = f->w;
    for (int64_t l = 0; l < w->L; l++) {
        int32_t *sp = f->spos_host + l * f->cap_rows, *vp = f->vpos_host + l * f->cap_rows;
        int64_t ns = 0, nv = 0;
        for (size_t s = 0; s < n; s++) {
            const dllm_fwd_seq *q = &seqs[s];
            const dllm_layer_plan *p = &q->plans[l];
            if (p->prompt)
                for (int32_t i = 0; i < q->P; i++) sp[ns++] = vp[nv++] = i;
            if (p->resp)
                for (int32_t i = q->P; i < q->T; i++) sp[ns++] = i;
            if (p->resp || p->verify)
                for (int32_t i = q->P; i < q->T; i++) vp[nv++] = i;
            if (!p->resp && p->verify)
                for (int32_t i = 0; i < p->k; i++) sp[ns++] = 0;
            if (p->compact) /* block row i goes to compact slot nkeep + (i - lo) */
                for (int32_t i = 0; i < range_rows(p); i++)
                    f->wpos_host[l * f->cap_rows + ns + i] = (int32_t)q->fs->nkeep + i;
            for (int32_t i = p->lo; i < p->lo + range_rows(p); i++) sp[ns++] = vp[nv++] = i;
            for (int32_t i = 0; i < list_rows(p); i++) sp[ns++] = vp[nv++] = p->rows[i];
        }
    }
}

static void account(const dllm_forward *f, const dllm_fwd_seq *q)
{
    const dllm_model_weights *w = f->w;
    dllm_row_counts *c = q->counts;
    if (c == NULL) return;
    for (int64_t l = 0; l < w->L; l++) {
        const dllm_layer_plan *p = &q->plans[l];
        int64_t ns = s_rows(q, p), nv = v_rows(q, p);
        c->q[l] += ns;
        c->v[l] += nv;
        c->mlp[l] += ns;
        c->flops += dllm_layer_flops(w->C, w->F, ns, nv, p->compact ? q->fs->Tk : q->T);
        if (p->keystat) c->flops += 2.0 * (double)q->T * (double)w->C; /* key scores */
        c->flops_none += dllm_layer_flops(w->C, w->F, q->T, q->T, q->T);
    }
    double head = dllm_head_flops(w->C, w->V, q->head_count);
    c->head += q->head_count;
    c->all += (int64_t)q->T * w->L;
    c->flops += head;
    c->flops_none += head;
}

dllm_status dllm_forward_run(dllm_forward *f, const dllm_fwd_seq *seqs, size_t n)
{
    const dllm_model_weights *w = f->w;
    int64_t N = 0, H = 0;
    int compact = 0;

    for (size_t s = 0; s < n; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        if (q->T <= 0 || q->P < 0 || q->P > q->T || q->head_start < 0 || q->head_count < 0 ||
            (int64_t)q->head_start + q->head_count > q->T || q->fs == NULL ||
            q->plans == NULL || q->fs->T != q->T || q->fs->C != w->C || q->fs->Ckv != w->Cl ||
            (q->fs->n_layers != 1 && q->fs->n_layers != w->L))
            return DLLM_E_INVALID_ARG;
        for (int64_t l = 0; l < w->L; l++) {
            const dllm_layer_plan *p = &q->plans[l];
            /* a one-layer store cannot serve partial recomputation (but a compact one serves
             * compact plans); compact and keystat plans need a compact store whose block
             * slots fit [lo, hi), compact plans one whose kept rows were chosen there */
            if (q->fs->n_layers == 1 && !(p->prompt && p->resp) && !p->compact)
                return DLLM_E_INVALID_ARG;
            if ((p->compact || p->keystat) &&
                (q->fs->kc == NULL || p->lo < q->P || p->hi > q->T ||
                 p->hi - p->lo != q->fs->Tk - q->fs->nkeep))
                return DLLM_E_INVALID_ARG;
            if (p->compact && (p->prompt || p->resp || p->verify || q->fs->kept_lo != p->lo))
                return DLLM_E_INVALID_ARG;
            if (p->keystat && (!p->prompt || !p->resp || p->kernel < 1 || p->kernel % 2 == 0))
                return DLLM_E_INVALID_ARG;
            compact |= p->compact;
            /* row lists: ascending, inside the canvas, alone (no range, no V-verify) */
            if (list_rows(p) > 0) {
                if (range_rows(p) > 0 || p->verify || p->compact || p->keystat)
                    return DLLM_E_INVALID_ARG;
                for (int32_t i = 0; i < p->n_rows; i++)
                    if (p->rows[i] < 0 || p->rows[i] >= q->T ||
                        (i > 0 && p->rows[i] <= p->rows[i - 1]))
                        return DLLM_E_INVALID_ARG;
            }
            if (p->n_rows < 0) return DLLM_E_INVALID_ARG;
            if (p->probs && (q->probs == NULL || (int64_t)q->T * q->T > f->cap_probs ||
                             p->compact || p->keystat))
                return DLLM_E_INVALID_ARG;
            if (p->k < 0 || p->k > q->T - q->P) return DLLM_E_INVALID_ARG;
            if (range_rows(p) > 0 && (p->lo < 0 || p->hi > q->T || (p->verify && p->k > 0)))
                return DLLM_E_INVALID_ARG;
        }
        N += q->T;
        H += q->head_count;
    }
    if (N == 0) return DLLM_OK;
    if (N > f->cap_rows || H > f->cap_head) return DLLM_E_INVALID_ARG;

    /* stage ids, the per-layer row positions and head-row indices */
    int64_t off = 0, hoff = 0;
    for (size_t s = 0; s < n; s++) {
        const dllm_fwd_seq *q = &seqs[s];
        for (int32_t i = 0; i < q->T; i++) {
            int32_t id = q->ids[i];
            if (id < 0 || id >= w->V) return DLLM_E_INVALID_ARG;
            if (w->tp > 1) /* vocab-parallel: ids of other ranks read the zero row Vl */
                id = (id >= w->v0 && id < w->v0 + w->Vl) ? (int32_t)(id - w->v0) : (int32_t)w->Vl;
            f->ids_host[off + i] = id;
        }
        for (int32_t i = 0; i < q->head_count; i++)
            f->head_host[hoff + i] = (int32_t)(off + q->head_start + i);
        off += q->T;
        hoff += q->head_count;
    }
    stage_positions(f, seqs, n);
    size_t lbytes = (size_t)w->L * (size_t)f->cap_rows * sizeof(int32_t);
    DLLM_TRY(dllm_backend_upload(f->be, f->ids_dev, f->ids_host, (size_t)N * sizeof(int32_t)));
    DLLM_TRY(dllm_backend_upload(f->be, f->spos_dev, f->spos_host, lbytes));
    DLLM_TRY(dllm_backend_upload(f->be, f->vpos_dev, f->vpos_host, lbytes));
    if (compact) DLLM_TRY(dllm_backend_upload(f->be, f->wpos_dev, f->wpos_host, lbytes));
    DLLM_TRY(dllm_backend_upload(f->be, f->head_dev, f->head_host, (size_t)H * sizeof(int32_t)));

    DLLM_TRY(dllm_backend_embed(f->be, f->x, &w->wte, f->ids_dev, N));
    if (f->comm != NULL) /* each row is one rank's embedding plus exact zeros */
        DLLM_TRY(dllm_comm_allreduce_f32(f->comm, f->x, N * w->C));
    for (int64_t l = 0; l < w->L; l++) DLLM_TRY(layer_forward(f, l, seqs, n, N));

    for (size_t s = 0; s < n; s++) account(f, &seqs[s]);

    /* LM head only for the head rows */
    if (H == 0) return DLLM_OK;
    DLLM_TRY(dllm_backend_gather_rows(f->be, f->hx, f->x, f->head_dev, H, w->C));
    DLLM_TRY(dllm_backend_rmsnorm(f->be, f->hx, f->hx, &w->ln_f, H, w->eps));
    DLLM_TRY(dllm_backend_gemm(f->be, f->logits, f->hx, &w->head, H));
    return DLLM_OK;
}
