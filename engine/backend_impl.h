/* backend_impl.h -- the vtable a backend implements (included by backend.c, the
 * registry and the backends themselves; never by forward/sampler code).
 *
 * Every slot is listed in each backend's static const table with designated
 * initializers; a NULL slot means "unsupported" and the wrapper in backend.c returns
 * DLLM_E_UNSUPPORTED (or does nothing, for synchronize).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_BACKEND_IMPL_H
#define DLLM_BACKEND_IMPL_H

#include "backend.h"

struct dllm_backend_i {
    void (*free_ctx)(void *ctx);
    dllm_status (*alloc)(void *ctx, size_t bytes, void **out);
    void (*dealloc)(void *ctx, void *p);
    dllm_status (*upload)(void *ctx, void *dst, const void *src, size_t bytes);
    dllm_status (*download)(void *ctx, void *dst, const void *src, size_t bytes);
    dllm_status (*weight_upload)(void *ctx, const void *src, dllm_dtype t, int64_t rows,
                                 int64_t cols, dllm_weight *out);
    dllm_status (*weight_random)(void *ctx, int64_t rows, int64_t cols, uint64_t seed,
                                 float scale, float bias, dllm_weight *out);
    void (*weight_free)(void *ctx, dllm_weight *w);
    dllm_status (*reserve)(void *ctx, int64_t t);
    dllm_status (*gemm)(void *ctx, float *y, const float *x, const dllm_weight *w, int64_t m);
    dllm_status (*embed)(void *ctx, float *out, const dllm_weight *wte, const int32_t *ids,
                         int64_t m);
    dllm_status (*rmsnorm)(void *ctx, float *out, const float *x, const dllm_weight *w,
                           int64_t m, float eps);
    dllm_status (*rope)(void *ctx, float *x, const int32_t *pos, int64_t m, int64_t nh,
                        int64_t hs, float theta);
    dllm_status (*attention)(void *ctx, float *out, const float *q, const float *k,
                             const float *v, int64_t mq, int64_t t, int64_t nh, int64_t hs);
    dllm_status (*swiglu)(void *ctx, float *out, const float *gate, const float *up, int64_t n);
    dllm_status (*add)(void *ctx, float *y, const float *x, int64_t n);
    dllm_status (*gather_rows)(void *ctx, float *dst, const float *src, const int32_t *idx,
                               int64_t n, int64_t c);
    dllm_status (*scatter_rows)(void *ctx, float *dst, const float *src, const int32_t *idx,
                                int64_t n, int64_t c);
    dllm_status (*verify_select)(void *ctx, int32_t *sel, const float *vnew, const float *vold,
                                 int64_t r, int64_t c, int64_t k, int32_t base);
    dllm_status (*cfg_mix)(void *ctx, float *cond, const float *uncond, int64_t n, float scale);
    dllm_status (*axpy)(void *ctx, float *y, const float *a, const float *b, int64_t n, float s);
    dllm_status (*sub)(void *ctx, float *y, const float *a, const float *b, int64_t n);
    dllm_status (*sample)(void *ctx, const float *logits, int64_t m, int64_t v,
                          const dllm_sample_row *rows, int32_t eos, int32_t eot, int32_t *tok,
                          double *conf);
    dllm_status (*synchronize)(void *ctx);
};

struct dllm_backend {
    const struct dllm_backend_i *iface;
    void *ctx;
    const char *name;
};

#endif
