/* backend.c -- argument checks and dispatch for the backend operations (backend.h).
 *
 * The wrappers are the one place where shapes are checked before an op runs, so a
 * backend can assume sane sizes. Programmer errors (NULL tensors, negative sizes) are
 * reported as DLLM_E_INVALID_ARG rather than asserted, because sizes ultimately come
 * from request parameters.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "backend_impl.h"

#include <stdlib.h>

#define BE_SLOT(be, slot)                                                                      \
    do {                                                                                       \
        if ((be) == NULL) return DLLM_E_INVALID_ARG;                                           \
        if ((be)->iface->slot == NULL) return DLLM_E_UNSUPPORTED;                              \
    } while (0)

void dllm_backend_free(dllm_backend *be)
{
    if (be == NULL) return;
    if (be->iface->free_ctx) be->iface->free_ctx(be->ctx);
    free(be);
}

const char *dllm_backend_name(const dllm_backend *be)
{
    return be ? be->name : "none";
}

dllm_status dllm_backend_alloc(dllm_backend *be, size_t bytes, void **out)
{
    BE_SLOT(be, alloc);
    if (out == NULL) return DLLM_E_INVALID_ARG;
    *out = NULL;
    return be->iface->alloc(be->ctx, bytes, out);
}

void dllm_backend_dealloc(dllm_backend *be, void *p)
{
    if (be == NULL || p == NULL || be->iface->dealloc == NULL) return;
    be->iface->dealloc(be->ctx, p);
}

dllm_status dllm_backend_upload(dllm_backend *be, void *dst, const void *src, size_t bytes)
{
    BE_SLOT(be, upload);
    if (bytes == 0) return DLLM_OK;
    if (dst == NULL || src == NULL) return DLLM_E_INVALID_ARG;
    return be->iface->upload(be->ctx, dst, src, bytes);
}

dllm_status dllm_backend_download(dllm_backend *be, void *dst, const void *src, size_t bytes)
{
    BE_SLOT(be, download);
    if (bytes == 0) return DLLM_OK;
    if (dst == NULL || src == NULL) return DLLM_E_INVALID_ARG;
    return be->iface->download(be->ctx, dst, src, bytes);
}

dllm_status dllm_backend_weight_upload(dllm_backend *be, const void *src, dllm_dtype t,
                                       int64_t rows, int64_t cols, dllm_weight *out)
{
    BE_SLOT(be, weight_upload);
    if (src == NULL || out == NULL || rows <= 0 || cols <= 0) return DLLM_E_INVALID_ARG;
    return be->iface->weight_upload(be->ctx, src, t, rows, cols, out);
}

dllm_status dllm_backend_weight_random(dllm_backend *be, int64_t rows, int64_t cols,
                                       uint64_t seed, float scale, float bias, dllm_weight *out)
{
    BE_SLOT(be, weight_random);
    if (out == NULL || rows <= 0 || cols <= 0 || rows > INT64_MAX / cols) return DLLM_E_INVALID_ARG;
    return be->iface->weight_random(be->ctx, rows, cols, seed, scale, bias, out);
}

void dllm_backend_weight_free(dllm_backend *be, dllm_weight *w)
{
    if (be == NULL || w == NULL || w->data == NULL) return;
    if (be->iface->weight_free) be->iface->weight_free(be->ctx, w);
    w->data = NULL;
}

dllm_status dllm_backend_reserve(dllm_backend *be, int64_t t)
{
    if (be == NULL || t < 0) return DLLM_E_INVALID_ARG;
    if (be->iface->reserve == NULL) return DLLM_OK;
    return be->iface->reserve(be->ctx, t);
}

dllm_status dllm_backend_gemm(dllm_backend *be, float *y, const float *x, const dllm_weight *w,
                              int64_t m)
{
    BE_SLOT(be, gemm);
    if (m == 0) return DLLM_OK;
    if (y == NULL || x == NULL || w == NULL || w->data == NULL || m < 0)
        return DLLM_E_INVALID_ARG;
    return be->iface->gemm(be->ctx, y, x, w, m);
}

dllm_status dllm_backend_embed(dllm_backend *be, float *out, const dllm_weight *wte,
                               const int32_t *ids, int64_t m)
{
    BE_SLOT(be, embed);
    if (m == 0) return DLLM_OK;
    if (out == NULL || wte == NULL || ids == NULL || m < 0) return DLLM_E_INVALID_ARG;
    return be->iface->embed(be->ctx, out, wte, ids, m);
}

dllm_status dllm_backend_rmsnorm(dllm_backend *be, float *out, const float *x,
                                 const dllm_weight *w, int64_t m, float eps)
{
    BE_SLOT(be, rmsnorm);
    if (m == 0) return DLLM_OK;
    if (out == NULL || x == NULL || w == NULL || m < 0 || !(eps > 0)) return DLLM_E_INVALID_ARG;
    return be->iface->rmsnorm(be->ctx, out, x, w, m, eps);
}

dllm_status dllm_backend_rope(dllm_backend *be, float *x, const int32_t *pos, int64_t m,
                              int64_t nh, int64_t hs, float theta)
{
    BE_SLOT(be, rope);
    if (m == 0) return DLLM_OK;
    if (x == NULL || pos == NULL || m < 0 || nh <= 0 || hs <= 0 || hs % 2 != 0 || !(theta > 0))
        return DLLM_E_INVALID_ARG;
    return be->iface->rope(be->ctx, x, pos, m, nh, hs, theta);
}

dllm_status dllm_backend_attention(dllm_backend *be, float *out, const float *q, const float *k,
                                   const float *v, int64_t mq, int64_t t, int64_t nh, int64_t hs)
{
    BE_SLOT(be, attention);
    if (mq == 0) return DLLM_OK;
    if (out == NULL || q == NULL || k == NULL || v == NULL || mq < 0 || t <= 0 || nh <= 0 ||
        hs <= 0)
        return DLLM_E_INVALID_ARG;
    return be->iface->attention(be->ctx, out, q, k, v, mq, t, nh, hs);
}

dllm_status dllm_backend_swiglu(dllm_backend *be, float *out, const float *gate, const float *up,
                                int64_t n)
{
    BE_SLOT(be, swiglu);
    if (n == 0) return DLLM_OK;
    if (out == NULL || gate == NULL || up == NULL || n < 0) return DLLM_E_INVALID_ARG;
    return be->iface->swiglu(be->ctx, out, gate, up, n);
}

dllm_status dllm_backend_add(dllm_backend *be, float *y, const float *x, int64_t n)
{
    BE_SLOT(be, add);
    if (n == 0) return DLLM_OK;
    if (y == NULL || x == NULL || n < 0) return DLLM_E_INVALID_ARG;
    return be->iface->add(be->ctx, y, x, n);
}

dllm_status dllm_backend_gather_rows(dllm_backend *be, float *dst, const float *src,
                                     const int32_t *idx, int64_t n, int64_t c)
{
    BE_SLOT(be, gather_rows);
    if (n == 0) return DLLM_OK;
    if (dst == NULL || src == NULL || idx == NULL || n < 0 || c <= 0) return DLLM_E_INVALID_ARG;
    return be->iface->gather_rows(be->ctx, dst, src, idx, n, c);
}

dllm_status dllm_backend_scatter_rows(dllm_backend *be, float *dst, const float *src,
                                      const int32_t *idx, int64_t n, int64_t c)
{
    BE_SLOT(be, scatter_rows);
    if (n == 0) return DLLM_OK;
    if (dst == NULL || src == NULL || idx == NULL || n < 0 || c <= 0) return DLLM_E_INVALID_ARG;
    return be->iface->scatter_rows(be->ctx, dst, src, idx, n, c);
}

dllm_status dllm_backend_verify_select(dllm_backend *be, int32_t *sel, const float *vnew,
                                       const float *vold, int64_t r, int64_t c, int64_t k,
                                       int32_t base)
{
    BE_SLOT(be, verify_select);
    if (k == 0) return DLLM_OK;
    if (sel == NULL || vnew == NULL || vold == NULL || r <= 0 || c <= 0 || k < 0 || k > r ||
        base < 0)
        return DLLM_E_INVALID_ARG;
    return be->iface->verify_select(be->ctx, sel, vnew, vold, r, c, k, base);
}

dllm_status dllm_backend_axpy(dllm_backend *be, float *y, const float *a, const float *b,
                              int64_t n, float s)
{
    BE_SLOT(be, axpy);
    if (n == 0) return DLLM_OK;
    if (y == NULL || a == NULL || b == NULL || n < 0) return DLLM_E_INVALID_ARG;
    return be->iface->axpy(be->ctx, y, a, b, n, s);
}

dllm_status dllm_backend_sub(dllm_backend *be, float *y, const float *a, const float *b,
                             int64_t n)
{
    BE_SLOT(be, sub);
    if (n == 0) return DLLM_OK;
    if (y == NULL || a == NULL || b == NULL || n < 0) return DLLM_E_INVALID_ARG;
    return be->iface->sub(be->ctx, y, a, b, n);
}

dllm_status dllm_backend_cfg_mix(dllm_backend *be, float *cond, const float *uncond, int64_t n,
                                 float scale)
{
    BE_SLOT(be, cfg_mix);
    if (n == 0) return DLLM_OK;
    if (cond == NULL || uncond == NULL || n < 0) return DLLM_E_INVALID_ARG;
    return be->iface->cfg_mix(be->ctx, cond, uncond, n, scale);
}

dllm_status dllm_backend_sample(dllm_backend *be, const float *logits, int64_t m, int64_t v,
                                const dllm_sample_row *rows, int32_t eos, int32_t eot,
                                int32_t *tok, double *conf)
{
    BE_SLOT(be, sample);
    if (m == 0) return DLLM_OK;
    if (logits == NULL || rows == NULL || tok == NULL || conf == NULL || m < 0 || v <= 0)
        return DLLM_E_INVALID_ARG;
    return be->iface->sample(be->ctx, logits, m, v, rows, eos, eot, tok, conf);
}

dllm_status dllm_backend_synchronize(dllm_backend *be)
{
    if (be == NULL) return DLLM_E_INVALID_ARG;
    if (be->iface->synchronize == NULL) return DLLM_OK;
    return be->iface->synchronize(be->ctx);
}
