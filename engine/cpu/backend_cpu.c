/* backend_cpu.c -- the reference CPU backend: fp32, OpenBLAS for GEMMs, OpenMP loops.
 *
 * This backend is the oracle the others are compared against, so every op is written
 * to be read: a plain loop over rows with the maths of backend.h (OpenMP pragmas only
 * across independent rows, never inside a reduction, so results do not depend on the
 * thread count). The threads go to OpenBLAS, where the time is.
 *
 * DESIGN
 * ------
 * - Memory is host memory (malloc, 64-byte aligned); upload/download are memcpy.
 * - Weights are converted to fp32 at upload (bf16/f16 checkpoints are widened once).
 * - gemm: cblas_sgemm(RowMajor, N, T): y = x . w^T with w stored (out, in) as in the
 *   checkpoint.
 * - attention runs per head as two GEMMs (S = Q K^T / sqrt(hs), O = softmax(S) V) over
 *   one (t, t) score matrix; it and V-verify's cosines are sized by reserve() when a
 *   sequence is admitted, so steps never allocate. A query row's result depends only on
 *   its own sequence's rows, so attention stays batch invariant.
 * - sample: float64 Gumbel-max and softmax exactly as ops/reference specifies; argmax
 *   ties go to the lowest token id.
 * - Not handled: tensor parallelism (no allreduce slot), fp16/bf16 activations.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cpu/backend_cpu.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "rng.h"
#include "util.h"

/* Loops with less work than this (multiply-adds) run on one thread: forking a team costs
 * microseconds, and on a loaded machine a barrier can cost milliseconds. */
#define PAR_MIN_WORK 65536

/* Batch invariance: OpenBLAS sends small products (m*n*k below a shape-dependent bound,
 * and m = 1) through other kernels whose sums round differently, so a row's result would
 * depend on how many rows share its GEMM. Measured on OpenBLAS 0.3.21: calls of 64 or
 * more rows all take the blocked path, where a row's result is bit-identical whatever
 * the other rows are. So a GEMM runs its multiple-of-64 part as one call and the rest as
 * one zero-padded 64-row call (test_backend_ops checks the invariance). */
#define GEMM_MIN_ROWS 64

typedef struct cpu_ctx {
    int n_threads;      /* OpenMP threads for row-parallel loops (1: see dllm_backend_cpu_new) */
    float *pad_x;       /* (GEMM_MIN_ROWS, pad_cols) zero-padded GEMM input */
    float *pad_y;       /* (GEMM_MIN_ROWS, pad_rows) GEMM output of a padded call */
    int64_t pad_cols, pad_rows; /* largest weight seen (sized at weight upload) */
    double *verify_cos;     /* (verify_cap) cosines of one V-verify */
    uint8_t *verify_taken;  /* (verify_cap) selection marks */
    int64_t verify_cap;
    float *scratch;     /* (scratch_cols, scratch_cols) attention scores of one head */
    int64_t scratch_cols;
    double *qsum;       /* (qsum_cap) query-row sums of attention_keystat (model width) */
    int64_t qsum_cap;
} cpu_ctx;

static void cpu_free_ctx(void *vctx)
{
    cpu_ctx *ctx = vctx;
    if (ctx == NULL) return;
    free(ctx->scratch);
    free(ctx->pad_x);
    free(ctx->pad_y);
    free(ctx->verify_cos);
    free(ctx->verify_taken);
    free(ctx->qsum);
    free(ctx);
}

static dllm_status cpu_alloc(void *vctx, size_t bytes, void **out)
{
    void *p = NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    (void)vctx;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0) return DLLM_E_NOMEM;
    *out = p;
    return DLLM_OK;
}

static void cpu_dealloc(void *vctx, void *p)
{
    (void)vctx;
    free(p);
}

static dllm_status cpu_copy(void *vctx, void *dst, const void *src, size_t bytes)
{
    (void)vctx;
    memmove(dst, src, bytes);
    return DLLM_OK;
}

static dllm_status cpu_weight_upload(void *vctx, const void *src, dllm_dtype t, int64_t rows,
                                     int64_t cols, dllm_weight *out)
{
    cpu_ctx *ctx = vctx;
    size_t n = (size_t)rows * (size_t)cols;
    void *p = NULL;
    dllm_status rc;

    if ((size_t)cols != 0 && n / (size_t)cols != (size_t)rows) return DLLM_E_INVALID_ARG;
    if (cols > ctx->pad_cols || rows > ctx->pad_rows) { /* GEMM padding sized per weight */
        int64_t pc = cols > ctx->pad_cols ? cols : ctx->pad_cols;
        int64_t pr = rows > ctx->pad_rows ? rows : ctx->pad_rows;
        float *px = calloc((size_t)(GEMM_MIN_ROWS * pc), sizeof(float));
        float *py = calloc((size_t)(GEMM_MIN_ROWS * pr), sizeof(float));
        if (px == NULL || py == NULL) {
            free(px);
            free(py);
            return DLLM_E_NOMEM;
        }
        free(ctx->pad_x);
        free(ctx->pad_y);
        ctx->pad_x = px;
        ctx->pad_y = py;
        ctx->pad_cols = pc;
        ctx->pad_rows = pr;
    }
    if (cols > ctx->qsum_cap) { /* attention_keystat's query sums: a row of a weight's input */
        double *qs = realloc(ctx->qsum, (size_t)cols * sizeof(double));
        if (qs == NULL) return DLLM_E_NOMEM;
        ctx->qsum = qs;
        ctx->qsum_cap = cols;
    }
    rc = cpu_alloc(vctx, n * sizeof(float), &p);
    if (rc != DLLM_OK) return rc;
    dllm_convert_to_f32(p, src, t, n);
    out->data = p;
    out->rows = rows;
    out->cols = cols;
    out->dtype = DLLM_DTYPE_F32;
    return DLLM_OK;
}

static dllm_status cpu_weight_random(void *vctx, int64_t rows, int64_t cols, uint64_t seed,
                                     float scale, float bias, dllm_weight *out)
{
    size_t n = (size_t)rows * (size_t)cols;
    float *p = NULL;
    dllm_status rc = cpu_alloc(vctx, n * sizeof(float), (void **)&p);
    if (rc != DLLM_OK) return rc;
    for (size_t i = 0; i < n; i++)
        p[i] = bias + scale * (float)(2.0 * dllm_rng_uniform(seed, DLLM_RNG_WEIGHTS, 0, 0,
                                                             (uint64_t)i) - 1.0);
    /* a fresh weight may be larger than any seen: size the GEMM padding as upload does */
    if (cols > ((cpu_ctx *)vctx)->pad_cols || rows > ((cpu_ctx *)vctx)->pad_rows) {
        rc = cpu_weight_upload(vctx, p, DLLM_DTYPE_F32, rows, cols, out);
        free(p);
        return rc;
    }
    out->data = p;
    out->rows = rows;
    out->cols = cols;
    out->dtype = DLLM_DTYPE_F32;
    return DLLM_OK;
}

static void cpu_weight_free(void *vctx, dllm_weight *w)
{
    (void)vctx;
    free(w->data);
}

static dllm_status cpu_gemm(void *vctx, float *y, const float *x, const dllm_weight *w, int64_t m)
{
    cpu_ctx *ctx = vctx;
    if (w->dtype != DLLM_DTYPE_F32) return DLLM_E_UNSUPPORTED;
    if (m > INT32_MAX || w->rows > INT32_MAX || w->cols > INT32_MAX) return DLLM_E_INVALID_ARG;
    int64_t full = m / GEMM_MIN_ROWS * GEMM_MIN_ROWS, rest = m - full;
    if (rest > 0) { /* the tail, padded to GEMM_MIN_ROWS rows */
        if (w->cols > ctx->pad_cols || w->rows > ctx->pad_rows) return DLLM_E_INTERNAL;
        memcpy(ctx->pad_x, x + full * w->cols, (size_t)(rest * w->cols) * sizeof(float));
        memset(ctx->pad_x + rest * w->cols, 0,
               (size_t)((GEMM_MIN_ROWS - rest) * w->cols) * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, GEMM_MIN_ROWS, (blasint)w->rows,
                    (blasint)w->cols, 1.0f, ctx->pad_x, (blasint)w->cols,
                    (const float *)w->data, (blasint)w->cols, 0.0f, ctx->pad_y,
                    (blasint)w->rows);
        memcpy(y + full * w->rows, ctx->pad_y, (size_t)(rest * w->rows) * sizeof(float));
    }
    if (full == 0) return DLLM_OK;
    m = full;
    /* y (m, n) = x (m, k) . w (n, k)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)w->rows,
                (blasint)w->cols, 1.0f, x, (blasint)w->cols, (const float *)w->data,
                (blasint)w->cols, 0.0f, y, (blasint)w->rows);
    return DLLM_OK;
}

static dllm_status cpu_embed(void *vctx, float *out, const dllm_weight *wte, const int32_t *ids,
                             int64_t m)
{
    const float *table = wte->data;
    int64_t c = wte->cols;
    (void)vctx;
    for (int64_t i = 0; i < m; i++)
        if (ids[i] < 0 || ids[i] >= wte->rows) return DLLM_E_INVALID_ARG;
    for (int64_t i = 0; i < m; i++)
        memcpy(out + i * c, table + (int64_t)ids[i] * c, (size_t)c * sizeof(float));
    return DLLM_OK;
}

static dllm_status cpu_rmsnorm(void *vctx, float *out, const float *x, const dllm_weight *w,
                               int64_t m, float eps)
{
    cpu_ctx *ctx = vctx;
    const float *wt = w->data;
    int64_t c = w->rows * w->cols; /* a norm weight is a vector of c elements */

#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (m * c > PAR_MIN_WORK)
    for (int64_t i = 0; i < m; i++) {
        const float *xi = x + i * c;
        float *oi = out + i * c;
        float ss = 0.0f;
        for (int64_t j = 0; j < c; j++) ss += xi[j] * xi[j];
        float inv = 1.0f / sqrtf(ss / (float)c + eps);
        for (int64_t j = 0; j < c; j++) oi[j] = xi[j] * inv * wt[j];
    }
    return DLLM_OK;
}

static dllm_status cpu_rope(void *vctx, float *x, const int32_t *pos, int64_t m, int64_t nh,
                            int64_t hs, float theta)
{
    cpu_ctx *ctx = vctx;
    int64_t half = hs / 2;

#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (m * nh * hs > PAR_MIN_WORK)
    for (int64_t i = 0; i < m; i++) {
        float p = (float)pos[i];
        for (int64_t d = 0; d < half; d++) {
            /* inv_freq = 1 / theta^(2d/hs) in fp32, as the reference computes it */
            float inv_freq = 1.0f / powf(theta, (float)(2 * d) / (float)hs);
            float ang = p * inv_freq;
            float cs = cosf(ang), sn = sinf(ang);
            for (int64_t h = 0; h < nh; h++) {
                float *xh = x + i * nh * hs + h * hs;
                float a = xh[d], b = xh[d + half];
                xh[d] = a * cs - b * sn;
                xh[d + half] = b * cs + a * sn;
            }
        }
    }
    return DLLM_OK;
}

static dllm_status cpu_reserve(void *vctx, int64_t t)
{
    cpu_ctx *ctx = vctx;
    if (ctx->scratch_cols < t) { /* attention scores of one head: (t, t) */
        float *s = realloc(ctx->scratch, (size_t)t * (size_t)t * sizeof(float));
        if (s == NULL) return DLLM_E_NOMEM;
        ctx->scratch = s;
        ctx->scratch_cols = t;
    }
    if (ctx->verify_cap < t) {
        double *cv = realloc(ctx->verify_cos, (size_t)t * sizeof(double));
        if (cv == NULL) return DLLM_E_NOMEM;
        ctx->verify_cos = cv;
        uint8_t *tk = realloc(ctx->verify_taken, (size_t)t);
        if (tk == NULL) return DLLM_E_NOMEM;
        ctx->verify_taken = tk;
        ctx->verify_cap = t;
    }
    return DLLM_OK;
}

/* attention; when probs != NULL it also receives the head-mean probabilities (mq, t) */
static dllm_status attention_impl(cpu_ctx *ctx, float *out, float *probs, const float *q,
                                  const float *k, const float *v, int64_t mq, int64_t t,
                                  int64_t nh, int64_t hs);

static dllm_status cpu_attention(void *vctx, float *out, const float *q, const float *k,
                                 const float *v, int64_t mq, int64_t t, int64_t nh, int64_t hs)
{
    return attention_impl(vctx, out, NULL, q, k, v, mq, t, nh, hs);
}

static dllm_status cpu_attention_probs(void *vctx, float *out, float *probs, const float *q,
                                       const float *k, const float *v, int64_t mq, int64_t t,
                                       int64_t nh, int64_t hs)
{
    dllm_status rc = attention_impl(vctx, out, probs, q, k, v, mq, t, nh, hs);
    if (rc != DLLM_OK) return rc;
    for (int64_t i = 0; i < mq * t; i++) probs[i] /= (float)nh;
    return DLLM_OK;
}

static dllm_status attention_impl(cpu_ctx *ctx, float *out, float *probs, const float *q,
                                  const float *k, const float *v, int64_t mq, int64_t t,
                                  int64_t nh, int64_t hs)
{
    void *vctx = ctx;
    int64_t c = nh * hs;
    float scale = 1.0f / sqrtf((float)hs);

    if (ctx->scratch_cols < t || mq > t) { /* not reserved: grow (a direct caller) */
        dllm_status rc = cpu_reserve(vctx, mq > t ? mq : t);
        if (rc != DLLM_OK) return rc;
    }
    if (mq > INT32_MAX || t > INT32_MAX || c > INT32_MAX) return DLLM_E_INVALID_ARG;
    /* per head: S (mq, t) = scale * Q_h K_h^T ; softmax rows ; O_h = S V_h. The heads are
     * column slices of the (rows, c) matrices, hence the leading dimension c. */
    for (int64_t h = 0; h < nh; h++) {
        float *sc = ctx->scratch;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)mq, (blasint)t,
                    (blasint)hs, scale, q + h * hs, (blasint)c, k + h * hs, (blasint)c, 0.0f, sc,
                    (blasint)t);
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (mq * t > PAR_MIN_WORK)
        for (int64_t i = 0; i < mq; i++) {
            float *row = sc + i * t;
            float mx = -INFINITY, sum = 0.0f;
            for (int64_t j = 0; j < t; j++)
                if (row[j] > mx) mx = row[j];
            for (int64_t j = 0; j < t; j++) {
                row[j] = expf(row[j] - mx);
                sum += row[j];
            }
            float inv = 1.0f / sum;
            for (int64_t j = 0; j < t; j++) row[j] *= inv;
        }
        if (probs != NULL) /* head-mean probabilities: sum the heads in order */
            for (int64_t i = 0; i < mq * t; i++) probs[i] = (h == 0 ? 0.0f : probs[i]) + sc[i];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)mq, (blasint)hs,
                    (blasint)t, 1.0f, sc, (blasint)t, v + h * hs, (blasint)c, 0.0f, out + h * hs,
                    (blasint)c);
    }
    return DLLM_OK;
}

/* attention, then the per-key score sums of the query rows [s0, s1): the queries are
 * summed first (float64), so the statistic costs one (t, c) pass instead of (s1-s0) t c. */
static dllm_status cpu_attention_keystat(void *vctx, float *out, float *stat, const float *q,
                                         const float *k, const float *v, int64_t mq, int64_t t,
                                         int64_t nh, int64_t hs, int64_t s0, int64_t s1)
{
    cpu_ctx *ctx = vctx;
    int64_t c = nh * hs;
    double inv = 1.0 / sqrt((double)hs);
    dllm_status rc = cpu_attention(vctx, out, q, k, v, mq, t, nh, hs);

    if (rc != DLLM_OK) return rc;
    if (ctx->qsum_cap < c) { /* sized at weight upload; grown here only for a direct caller */
        double *qs = realloc(ctx->qsum, (size_t)c * sizeof(double));
        if (qs == NULL) return DLLM_E_NOMEM;
        ctx->qsum = qs;
        ctx->qsum_cap = c;
    }
    for (int64_t d = 0; d < c; d++) ctx->qsum[d] = 0.0;
    for (int64_t i = s0; i < s1; i++)
        for (int64_t d = 0; d < c; d++) ctx->qsum[d] += (double)q[i * c + d];
    for (int64_t j = 0; j < t; j++) {
        const float *kj = k + j * c;
        double acc = 0.0;
        for (int64_t d = 0; d < c; d++) acc += ctx->qsum[d] * (double)kj[d];
        stat[j] = (float)(acc * inv);
    }
    return DLLM_OK;
}

static dllm_status cpu_swiglu(void *vctx, float *out, const float *gate, const float *up,
                              int64_t n)
{
    cpu_ctx *ctx = vctx;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n > PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
    return DLLM_OK;
}

static dllm_status cpu_add(void *vctx, float *y, const float *x, int64_t n)
{
    cpu_ctx *ctx = vctx;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n > PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
    return DLLM_OK;
}

static dllm_status cpu_gather_rows(void *vctx, float *dst, const float *src, const int32_t *idx,
                                   int64_t n, int64_t c)
{
    (void)vctx;
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0) return DLLM_E_INVALID_ARG;
        memcpy(dst + i * c, src + (int64_t)idx[i] * c, (size_t)c * sizeof(float));
    }
    return DLLM_OK;
}

static dllm_status cpu_scatter_rows(void *vctx, float *dst, const float *src, const int32_t *idx,
                                    int64_t n, int64_t c)
{
    (void)vctx;
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0) return DLLM_E_INVALID_ARG;
        memcpy(dst + (int64_t)idx[i] * c, src + i * c, (size_t)c * sizeof(float));
    }
    return DLLM_OK;
}

static dllm_status cpu_cfg_mix(void *vctx, float *cond, const float *uncond, int64_t n,
                               float scale)
{
    cpu_ctx *ctx = vctx;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n > PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) cond[i] = uncond[i] + (scale + 1.0f) * (cond[i] - uncond[i]);
    return DLLM_OK;
}

static dllm_status cpu_verify_select(void *vctx, int32_t *sel, const float *vnew,
                                     const float *vold, int64_t r, int64_t c, int64_t k,
                                     int32_t base)
{
    cpu_ctx *ctx = vctx;
    double *cosv;
    uint8_t *taken;

    if (ctx->verify_cap < r) { /* not reserved: grow (a direct caller, e.g. a test) */
        dllm_status rc = cpu_reserve(vctx, r);
        if (rc != DLLM_OK) return rc;
    }
    cosv = ctx->verify_cos;
    taken = ctx->verify_taken;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (r * c > PAR_MIN_WORK)
    for (int64_t j = 0; j < r; j++) {
        const float *a = vnew + j * c, *b = vold + j * c;
        double dot = 0, na = 0, nb = 0;
        for (int64_t d = 0; d < c; d++) {
            dot += (double)a[d] * b[d];
            na += (double)a[d] * a[d];
            nb += (double)b[d] * b[d];
        }
        double den = sqrt(na) * sqrt(nb);
        cosv[j] = dot / (den > 1e-12 ? den : 1e-12);
    }
    /* k passes of "lowest not yet taken" (k is a fraction of a block-sized response) */
    memset(taken, 0, (size_t)r);
    for (int64_t i = 0; i < k; i++) {
        int64_t best = -1;
        for (int64_t j = 0; j < r; j++)
            if (!taken[j] && (best < 0 || cosv[j] < cosv[best])) best = j;
        taken[best] = 1;
    }
    for (int64_t j = 0, o = 0; j < r; j++)
        if (taken[j]) sel[o++] = base + (int32_t)j;
    return DLLM_OK;
}

static dllm_status cpu_axpy(void *vctx, float *y, const float *a, const float *b, int64_t n,
                            float s)
{
    cpu_ctx *ctx = vctx;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n > PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + s * b[i];
    return DLLM_OK;
}

static dllm_status cpu_sub(void *vctx, float *y, const float *a, const float *b, int64_t n)
{
    cpu_ctx *ctx = vctx;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n > PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] - b[i];
    return DLLM_OK;
}

/* One row of the sampler reduction; see backend.h and ops/reference/README.md. */
static void cpu_sample_row(const float *l, int64_t v, const dllm_sample_row *r, int32_t eos,
                           int32_t eot, int32_t *tok, double *conf)
{
    int64_t best = 0;
    double mx = -INFINITY, sum = 0.0;

#define LOGIT(j) ((r->logits_eos_inf && (j) == eos) ? -INFINITY : (double)l[(j)])
    if (r->temperature == 0.0f) {
        float bestv = -INFINITY;
        int found = 0;
        for (int64_t j = 0; j < v; j++) {
            float lj = (r->logits_eos_inf && j == eos) ? -INFINITY : l[j];
            if (!found || lj > bestv) {
                bestv = lj;
                best = j;
                found = 1;
            }
        }
    } else {
        double bests = -1.0;
        double temp = (double)r->temperature;
        for (int64_t j = 0; j < v; j++) {
            double u = dllm_rng_uniform(r->seed, DLLM_RNG_GUMBEL, r->step, (uint64_t)r->position,
                                        (uint64_t)j);
            double s = exp(LOGIT(j)) / pow(-log(u), temp);
            if (s > bests) {
                bests = s;
                best = j;
            }
        }
    }
    *tok = (int32_t)best;

    if (r->random_conf) {
        *conf = dllm_rng_uniform(r->seed, DLLM_RNG_REMASK, r->step, (uint64_t)r->position, 0);
    } else {
        for (int64_t j = 0; j < v; j++)
            if (LOGIT(j) > mx) mx = LOGIT(j);
        for (int64_t j = 0; j < v; j++) sum += exp(LOGIT(j) - mx);
        *conf = exp(LOGIT(best) - mx) / sum;
    }
#undef LOGIT
    if (r->conf_eos_eot_inf && (best == eos || (eot >= 0 && best == eot))) *conf = -INFINITY;
}

static dllm_status cpu_sample(void *vctx, const float *logits, int64_t m, int64_t v,
                              const dllm_sample_row *rows, int32_t eos, int32_t eot, int32_t *tok,
                              double *conf)
{
    cpu_ctx *ctx = vctx;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (m * v > PAR_MIN_WORK)
    for (int64_t i = 0; i < m; i++) cpu_sample_row(logits + i * v, v, &rows[i], eos, eot, &tok[i],
                                                   &conf[i]);
    return DLLM_OK;
}

static const struct dllm_backend_i cpu_iface = {
    .free_ctx = cpu_free_ctx,
    .alloc = cpu_alloc,
    .dealloc = cpu_dealloc,
    .upload = cpu_copy,
    .download = cpu_copy,
    .weight_upload = cpu_weight_upload,
    .weight_random = cpu_weight_random,
    .weight_free = cpu_weight_free,
    .reserve = cpu_reserve,
    .gemm = cpu_gemm,
    .embed = cpu_embed,
    .rmsnorm = cpu_rmsnorm,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .swiglu = cpu_swiglu,
    .add = cpu_add,
    .gather_rows = cpu_gather_rows,
    .scatter_rows = cpu_scatter_rows,
    .verify_select = cpu_verify_select,
    .cfg_mix = cpu_cfg_mix,
    .axpy = cpu_axpy,
    .sub = cpu_sub,
    .sample = cpu_sample,
    .synchronize = NULL, /* every op is synchronous */
    .attention_keystat = cpu_attention_keystat,
    .attention_probs = cpu_attention_probs,
};

dllm_status dllm_backend_cpu_new(int n_threads, dllm_backend **out, char *err, size_t errn)
{
    dllm_backend *be = NULL;
    cpu_ctx *ctx = NULL;
    dllm_status rc = DLLM_OK;

    *out = NULL;
    be = calloc(1, sizeof *be);
    ctx = calloc(1, sizeof *ctx);
    if (be == NULL || ctx == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "cpu backend: out of memory");
        goto out;
    }
    /* The threads go to OpenBLAS (GEMMs and attention are where the time is); the
     * element-wise loops run on the calling thread. OpenBLAS's and OpenMP's workers both
     * spin between calls and fight for the same cores: with both at 2 threads a step was
     * 2.2x slower than with either alone (measured, docs/benchmarks.md). The OpenMP
     * pragmas stay, bounded by loop_threads, for builds that want to revisit this. */
    ctx->n_threads = 1;
    if (n_threads > 0) openblas_set_num_threads(n_threads);
    if (ctx->n_threads < 1) ctx->n_threads = 1;
    be->iface = &cpu_iface;
    be->ctx = ctx;
    be->name = "cpu";
    *out = be;
    be = NULL;
    ctx = NULL;
out:
    free(be);
    cpu_free_ctx(ctx);
    return rc;
}
