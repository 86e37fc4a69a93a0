/* kernels.h -- launchers of the CUDA backend's kernels (C interface to kernels.cu).
 *
 * Every launcher queues work on `stream` and returns the launch's cudaError_t (the last
 * error after the launch), so backend_cuda.c can check each one; none synchronises.
 * Pointers are device memory unless named host. Activations are fp32 row-major; matrix
 * weights are bf16 (`uint16_t` bit patterns here, so this header stays plain C).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_CUDA_KERNELS_H
#define DLLM_CUDA_KERNELS_H

#include <cuda_runtime.h>
#include <stdint.h>

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst (n) bf16 = src (n) fp32, round to nearest even */
cudaError_t dllm_cuda_f32_to_bf16(uint16_t *dst, const float *src, int64_t n, cudaStream_t st);
/* w (n) = bias + scale * (2 u - 1), u uniform from (seed, element index); bf16 or fp32 out */
cudaError_t dllm_cuda_fill_random_bf16(uint16_t *w, int64_t n, uint64_t seed, float scale,
                                       float bias, cudaStream_t st);
cudaError_t dllm_cuda_fill_random_f32(float *w, int64_t n, uint64_t seed, float scale, float bias,
                                      cudaStream_t st);
/* out (m, c) fp32 = table[ids[i]] (bf16 (rows, c)); ids outside [0, rows) give zero rows */
cudaError_t dllm_cuda_embed(float *out, const uint16_t *table, int64_t rows, const int32_t *ids,
                            int64_t m, int64_t c, cudaStream_t st);
/* out (m, c) = x * rsqrt(mean(x^2) + eps) * w (c, fp32); out may equal x */
cudaError_t dllm_cuda_rmsnorm(float *out, const float *x, const float *w, int64_t m, int64_t c,
                              float eps, cudaStream_t st);
/* in place on x (m, nh*hs): NeoX half-split rotary embedding at positions pos (m) */
cudaError_t dllm_cuda_rope(float *x, const int32_t *pos, int64_t m, int64_t nh, int64_t hs,
                           float theta, cudaStream_t st);
/* in place over s (rows, t): each row replaced by its softmax */
cudaError_t dllm_cuda_softmax_rows(float *s, int64_t rows, int64_t t, cudaStream_t st);
/* element-wise: out = silu(gate) * up; y += x; y = a + s b; y = a - b;
 * cond = uncond + (scale + 1)(cond - uncond) */
cudaError_t dllm_cuda_swiglu(float *out, const float *gate, const float *up, int64_t n,
                             cudaStream_t st);
cudaError_t dllm_cuda_add(float *y, const float *x, int64_t n, cudaStream_t st);
cudaError_t dllm_cuda_axpy(float *y, const float *a, const float *b, int64_t n, float s,
                           cudaStream_t st);
cudaError_t dllm_cuda_sub(float *y, const float *a, const float *b, int64_t n, cudaStream_t st);
cudaError_t dllm_cuda_cfg_mix(float *cond, const float *uncond, int64_t n, float scale,
                              cudaStream_t st);
/* dst (n, c) = src[idx[i]] ; dst[idx[i]] = src (n, c) (negative indices skipped) */
cudaError_t dllm_cuda_gather_rows(float *dst, const float *src, const int32_t *idx, int64_t n,
                                  int64_t c, cudaStream_t st);
cudaError_t dllm_cuda_scatter_rows(float *dst, const float *src, const int32_t *idx, int64_t n,
                                   int64_t c, cudaStream_t st);
/* V-verify: cos (r) float64 of rows of vnew/vold (r, c); then the k lowest (ties to the
 * lower j) written to sel (k) as base + j in increasing j. taken (r) is scratch. */
cudaError_t dllm_cuda_verify_select(int32_t *sel, const float *vnew, const float *vold, int64_t r,
                                    int64_t c, int64_t k, int32_t base, double *cos, uint8_t *taken,
                                    cudaStream_t st);
/* Sparse-dLLM key statistic: qsum (c) float64 = sum of q rows [s0, s1) (mq, c); then
 * stat (t) = qsum . k[j] * inv_sqrt_hs in float64, stored fp32. */
cudaError_t dllm_cuda_keystat(float *stat, const float *q, const float *k, int64_t s0, int64_t s1,
                              int64_t t, int64_t c, double inv_sqrt_hs, double *qsum,
                              cudaStream_t st);
/* d2Cache: probs (mq * t) = sum over nh heads of p (nh, mq * t), heads in order, / nh */
cudaError_t dllm_cuda_head_mean(float *probs, const float *p, int64_t nh, int64_t n,
                                cudaStream_t st);
/* The sampler reduction over logits (m, v): tok (m), conf (m) device arrays; rows (m)
 * device copy of the per-row parameters. */
cudaError_t dllm_cuda_sample(const float *logits, int64_t m, int64_t v, const dllm_sample_row *rows,
                             int32_t eos, int32_t eot, int32_t *tok, double *conf, cudaStream_t st);

#ifdef __cplusplus
}
#endif
#endif
