/* kernels.cu -- the CUDA backend's kernels other than the GEMMs (kernels.h).
 *
 * DESIGN
 * ------
 * - One kernel per backend op, written for clarity first: row-wise ops (RMSNorm, softmax,
 *   the sampler, V-verify cosines) run one block per row with a block reduction; element-
 *   wise ops run grid-stride loops. The maths is the CPU backend's (the oracle), with fp32
 *   activations; reductions that the CPU does in float64 (sampler, V-verify) are float64
 *   here too, so decisions agree except where fp32 sums round differently.
 * - The sampler reduces each logits row on the device (argmax or Gumbel-max from the
 *   counter-based RNG of rng.h, float64 softmax confidence): only (token, confidence) per
 *   row leave the GPU, never the logits.
 * - V-verify selects its k rows on the device (rank by cosine, ties to the lower row), so
 *   the forward never waits for the host inside a layer.
 * - Launchers return cudaGetLastError() after the launch; they never synchronise.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#include "cuda/kernels.h"
#include "rng.h"

namespace
{

constexpr int kBlock = 256;

__device__ __forceinline__ float bf16_to_f32(uint16_t h)
{
    return __uint_as_float(static_cast<uint32_t>(h) << 16);
}

/* the counter-based draws of rng.h, compiled for the device */
__device__ __forceinline__ double rng_uniform(uint64_t seed, uint32_t stream, uint32_t step,
                                              uint64_t pos, uint64_t tok)
{
    return dllm_rng_uniform(seed, stream, step, pos, tok);
}

unsigned grid_for(int64_t n, int block = kBlock)
{
    int64_t g = (n + block - 1) / block;
    if (g > 65535LL * 16) g = 65535LL * 16; /* grid-stride loops cover the rest */
    if (g < 1) g = 1;
    return static_cast<unsigned>(g);
}

/* ---- block reductions (blockDim.x a multiple of 32, at most 1024) ---- */

template <typename T> __device__ T warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T> __device__ T warp_max(T v)
{
    for (int o = 16; o > 0; o >>= 1) {
        T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

template <typename T> __device__ T block_sum(T v, T *sh /* (32) */)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* sh may still be read by a previous reduction */
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : T(0);
    return warp_sum(v);
}

template <typename T> __device__ T block_max(T v, T *sh /* (32) */, T lowest)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : lowest;
    return warp_max(v);
}

/* argmax of (value, index) pairs: larger value wins, ties to the lower index; NaN never
 * wins (its comparisons are false). */
__device__ __forceinline__ void argmax_merge(double &v, int64_t &i, double ov, int64_t oi)
{
    if (oi >= 0 && (i < 0 || ov > v || (ov == v && oi < i))) {
        v = ov;
        i = oi;
    }
}

__device__ void block_argmax(double &v, int64_t &i, double *shv, int64_t *shi)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        double ov = __shfl_xor_sync(0xffffffffu, v, o);
        int64_t oi = __shfl_xor_sync(0xffffffffu, i, o);
        argmax_merge(v, i, ov, oi);
    }
    __syncthreads();
    if (lane == 0) {
        shv[wid] = v;
        shi[wid] = i;
    }
    __syncthreads();
    v = lane < nw ? shv[lane] : 0.0;
    i = lane < nw ? shi[lane] : -1;
    for (int o = 16; o > 0; o >>= 1) {
        double ov = __shfl_xor_sync(0xffffffffu, v, o);
        int64_t oi = __shfl_xor_sync(0xffffffffu, i, o);
        argmax_merge(v, i, ov, oi);
    }
}

/* ---- kernels ---- */

__global__ void f32_to_bf16_kernel(__nv_bfloat16 *dst, const float *src, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

__global__ void fill_random_bf16_kernel(__nv_bfloat16 *w, int64_t n, uint64_t seed, float scale,
                                        float bias)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        double u = rng_uniform(seed, DLLM_RNG_WEIGHTS, 0, 0, static_cast<uint64_t>(i));
        w[i] = __float2bfloat16_rn(bias + scale * static_cast<float>(2.0 * u - 1.0));
    }
}

__global__ void fill_random_f32_kernel(float *w, int64_t n, uint64_t seed, float scale, float bias)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        double u = rng_uniform(seed, DLLM_RNG_WEIGHTS, 0, 0, static_cast<uint64_t>(i));
        w[i] = bias + scale * static_cast<float>(2.0 * u - 1.0);
    }
}

/* grid (m), block kBlock: row i of out (m, c) from table row ids[i] */
__global__ void embed_kernel(float *out, const uint16_t *table, int64_t rows, const int32_t *ids,
                             int64_t c)
{
    int64_t i = blockIdx.x;
    int32_t id = ids[i];
    float *o = out + i * c;
    if (id < 0 || id >= rows) {
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
            o[j] = 0.0f;
        return;
    }
    const uint16_t *t = table + static_cast<int64_t>(id) * c;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
        o[j] = bf16_to_f32(t[j]);
}

/* grid (m), block kBlock */
__global__ void rmsnorm_kernel(float *out, const float *x, const float *w, int64_t c, float eps)
{
    __shared__ float sh[32];
    const float *xi = x + blockIdx.x * c;
    float *oi = out + blockIdx.x * c;
    float ss = 0.0f;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
        ss += xi[j] * xi[j];
    ss = block_sum(ss, sh);
    float inv = 1.0f / sqrtf(ss / static_cast<float>(c) + eps);
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
        oi[j] = xi[j] * inv * w[j];
}

/* one thread per (row, head, d < hs/2) */
__global__ void rope_kernel(float *x, const int32_t *pos, int64_t m, int64_t nh, int64_t hs,
                            float theta)
{
    int64_t half = hs / 2, n = m * nh * half;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t d = t % half, h = (t / half) % nh, i = t / (half * nh);
        float inv_freq = 1.0f / powf(theta, static_cast<float>(2 * d) / static_cast<float>(hs));
        float ang = static_cast<float>(pos[i]) * inv_freq;
        float cs = cosf(ang), sn = sinf(ang);
        float *xh = x + i * nh * hs + h * hs;
        float a = xh[d], b = xh[d + half];
        xh[d] = a * cs - b * sn;
        xh[d + half] = b * cs + a * sn;
    }
}

/* grid (rows), block kBlock, dynamic shared memory t floats: the row is read once and
 * written once (the plain kernel below reads it three times) */
__global__ void softmax_rows_smem_kernel(float *s, int64_t t)
{
    extern __shared__ float rs[];
    __shared__ float sh[32];
    float *row = s + blockIdx.x * t;
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < t; j += blockDim.x) {
        float v = row[j];
        rs[j] = v;
        mx = fmaxf(mx, v);
    }
    mx = block_max(mx, sh, -INFINITY);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < t; j += blockDim.x) { /* each thread its own j's */
        float e = expf(rs[j] - mx);
        rs[j] = e;
        sum += e;
    }
    sum = block_sum(sum, sh);
    float inv = 1.0f / sum;
    for (int64_t j = threadIdx.x; j < t; j += blockDim.x)
        row[j] = rs[j] * inv;
}

/* grid (rows), block kBlock */
__global__ void softmax_rows_kernel(float *s, int64_t t)
{
    __shared__ float sh[32];
    float *row = s + blockIdx.x * t;
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < t; j += blockDim.x)
        mx = fmaxf(mx, row[j]);
    mx = block_max(mx, sh, -INFINITY);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < t; j += blockDim.x) {
        float e = expf(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    sum = block_sum(sum, sh);
    float inv = 1.0f / sum;
    for (int64_t j = threadIdx.x; j < t; j += blockDim.x)
        row[j] *= inv;
}

__global__ void swiglu_kernel(float *out, const float *gate, const float *up, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

__global__ void add_kernel(float *y, const float *x, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

__global__ void axpy_kernel(float *y, const float *a, const float *b, int64_t n, float s)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] + s * b[i];
}

__global__ void sub_kernel(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] - b[i];
}

__global__ void cfg_mix_kernel(float *cond, const float *uncond, int64_t n, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        cond[i] = uncond[i] + (scale + 1.0f) * (cond[i] - uncond[i]);
}

/* Row copies, one thread per 4 floats of the whole (n, c) block (c % 4 == 0, 16-byte
 * aligned rows): a few rows still spread over every SM, so the copy is not latency-bound
 * the way one block per row was (13 us for 64 rows of 4096; measured). */
__global__ void copy_rows4_kernel(float4 *dst, const float4 *src, const int32_t *idx, int64_t n,
                                  int64_t c4, int scatter)
{
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n * c4;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = t / c4, j = t % c4;
        int32_t r = idx[i];
        if (r < 0) continue;
        if (scatter)
            dst[static_cast<int64_t>(r) * c4 + j] = src[i * c4 + j];
        else
            dst[i * c4 + j] = src[static_cast<int64_t>(r) * c4 + j];
    }
}

/* grid (n), block kBlock: the general case (any c, any alignment) */
__global__ void gather_rows_kernel(float *dst, const float *src, const int32_t *idx, int64_t c)
{
    int32_t r = idx[blockIdx.x];
    if (r < 0) return;
    const float *s = src + static_cast<int64_t>(r) * c;
    float *d = dst + blockIdx.x * c;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
        d[j] = s[j];
}

__global__ void scatter_rows_kernel(float *dst, const float *src, const int32_t *idx, int64_t c)
{
    int32_t r = idx[blockIdx.x];
    if (r < 0) return;
    const float *s = src + blockIdx.x * c;
    float *d = dst + static_cast<int64_t>(r) * c;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
        d[j] = s[j];
}

bool aligned16(const void *a, const void *b, int64_t c)
{
    return c % 4 == 0 && (reinterpret_cast<uintptr_t>(a) % 16) == 0 &&
           (reinterpret_cast<uintptr_t>(b) % 16) == 0;
}

/* grid (r), block kBlock: cos[j] in float64, as the CPU computes it */
__global__ void verify_cos_kernel(double *cos, const float *vnew, const float *vold, int64_t c)
{
    __shared__ double sh[32];
    const float *a = vnew + blockIdx.x * c, *b = vold + blockIdx.x * c;
    double dot = 0, na = 0, nb = 0;
    for (int64_t d = threadIdx.x; d < c; d += blockDim.x) {
        double x = a[d], y = b[d];
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    dot = block_sum(dot, sh);
    na = block_sum(na, sh);
    nb = block_sum(nb, sh);
    if (threadIdx.x == 0) {
        double den = sqrt(na) * sqrt(nb);
        cos[blockIdx.x] = dot / (den > 1e-12 ? den : 1e-12);
    }
}

/* one block: row j is taken when fewer than k rows rank before it (lower cosine, or equal
 * cosine and lower index); then each taken row's output slot is the count of taken rows
 * before it. */
__global__ void verify_pick_kernel(int32_t *sel, const double *cos, uint8_t *taken, int64_t r,
                                   int64_t k, int32_t base)
{
    for (int64_t j = threadIdx.x; j < r; j += blockDim.x) {
        double cj = cos[j];
        int64_t rank = 0;
        for (int64_t i = 0; i < r && rank < k; i++) {
            double ci = cos[i];
            rank += (ci < cj || (ci == cj && i < j)) ? 1 : 0;
        }
        taken[j] = rank < k ? 1 : 0;
    }
    __syncthreads();
    for (int64_t j = threadIdx.x; j < r; j += blockDim.x) {
        if (!taken[j]) continue;
        int64_t o = 0;
        for (int64_t i = 0; i < j; i++)
            o += taken[i];
        sel[o] = base + static_cast<int32_t>(j);
    }
}

/* one thread per column d: qsum[d] = sum_i q[i, d] over i in [s0, s1), float64 */
__global__ void qsum_kernel(double *qsum, const float *q, int64_t s0, int64_t s1, int64_t c)
{
    for (int64_t d = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; d < c;
         d += (int64_t)gridDim.x * blockDim.x) {
        double a = 0.0;
        for (int64_t i = s0; i < s1; i++)
            a += static_cast<double>(q[i * c + d]);
        qsum[d] = a;
    }
}

/* grid (t), block kBlock: stat[j] = qsum . k[j] * scale */
__global__ void keystat_kernel(float *stat, const double *qsum, const float *k, int64_t c,
                               double scale)
{
    __shared__ double sh[32];
    const float *kj = k + blockIdx.x * c;
    double a = 0.0;
    for (int64_t d = threadIdx.x; d < c; d += blockDim.x)
        a += qsum[d] * static_cast<double>(kj[d]);
    a = block_sum(a, sh);
    if (threadIdx.x == 0) stat[blockIdx.x] = static_cast<float>(a * scale);
}

__global__ void head_mean_kernel(float *probs, const float *p, int64_t nh, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float a = 0.0f;
        for (int64_t h = 0; h < nh; h++)
            a += p[h * n + i]; /* heads in order, as the CPU */
        probs[i] = a / static_cast<float>(nh);
    }
}

/* grid (m), block 512: the sampler reduction of one logits row (backend.h) */
__global__ void sample_kernel(const float *logits, int64_t v, const dllm_sample_row *rows,
                              int32_t eos, int32_t eot, int32_t *tok, double *conf)
{
    __shared__ double shv[32];
    __shared__ int64_t shi[32];
    __shared__ double shm[32];
    const float *l = logits + blockIdx.x * v;
    const dllm_sample_row r = rows[blockIdx.x];
    const bool mask_eos = r.logits_eos_inf != 0;
    const double temp = static_cast<double>(r.temperature);
    double best_v = 0.0, mx = -INFINITY;
    int64_t best_i = -1;

    for (int64_t j = threadIdx.x; j < v; j += blockDim.x) {
        double lj = (mask_eos && j == eos) ? -INFINITY : static_cast<double>(l[j]);
        double key = lj;
        if (temp != 0.0) {
            double u = rng_uniform(r.seed, DLLM_RNG_GUMBEL, r.step,
                                   static_cast<uint64_t>(r.position), static_cast<uint64_t>(j));
            key = exp(lj) / pow(-log(u), temp);
        }
        argmax_merge(best_v, best_i, key, j);
        mx = lj > mx ? lj : mx;
    }
    block_argmax(best_v, best_i, shv, shi);
    mx = block_max(mx, shm, static_cast<double>(-INFINITY));
    if (best_i < 0) best_i = 0; /* every key NaN: the CPU also falls back to id 0 */

    double c;
    if (r.random_conf) {
        c = rng_uniform(r.seed, DLLM_RNG_REMASK, r.step, static_cast<uint64_t>(r.position), 0);
    } else {
        double sum = 0.0;
        for (int64_t j = threadIdx.x; j < v; j += blockDim.x) {
            double lj = (mask_eos && j == eos) ? -INFINITY : static_cast<double>(l[j]);
            sum += exp(lj - mx);
        }
        sum = block_sum(sum, shm);
        double lb = (mask_eos && best_i == eos) ? -INFINITY : static_cast<double>(l[best_i]);
        c = exp(lb - mx) / sum;
    }
    if (r.conf_eos_eot_inf && (best_i == eos || (eot >= 0 && best_i == eot))) c = -INFINITY;
    if (threadIdx.x == 0) {
        tok[blockIdx.x] = static_cast<int32_t>(best_i);
        conf[blockIdx.x] = c;
    }
}

} /* namespace */

extern "C" {

cudaError_t dllm_cuda_f32_to_bf16(uint16_t *dst, const float *src, int64_t n, cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    f32_to_bf16_kernel<<<grid_for(n), kBlock, 0, st>>>(reinterpret_cast<__nv_bfloat16 *>(dst), src,
                                                       n);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_fill_random_bf16(uint16_t *w, int64_t n, uint64_t seed, float scale,
                                       float bias, cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    fill_random_bf16_kernel<<<grid_for(n), kBlock, 0, st>>>(reinterpret_cast<__nv_bfloat16 *>(w), n,
                                                            seed, scale, bias);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_fill_random_f32(float *w, int64_t n, uint64_t seed, float scale, float bias,
                                      cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    fill_random_f32_kernel<<<grid_for(n), kBlock, 0, st>>>(w, n, seed, scale, bias);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_embed(float *out, const uint16_t *table, int64_t rows, const int32_t *ids,
                            int64_t m, int64_t c, cudaStream_t st)
{
    if (m <= 0) return cudaSuccess;
    embed_kernel<<<static_cast<unsigned>(m), kBlock, 0, st>>>(out, table, rows, ids, c);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_rmsnorm(float *out, const float *x, const float *w, int64_t m, int64_t c,
                              float eps, cudaStream_t st)
{
    if (m <= 0) return cudaSuccess;
    rmsnorm_kernel<<<static_cast<unsigned>(m), kBlock, 0, st>>>(out, x, w, c, eps);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_rope(float *x, const int32_t *pos, int64_t m, int64_t nh, int64_t hs,
                           float theta, cudaStream_t st)
{
    int64_t n = m * nh * (hs / 2);
    if (n <= 0) return cudaSuccess;
    rope_kernel<<<grid_for(n), kBlock, 0, st>>>(x, pos, m, nh, hs, theta);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_softmax_rows(float *s, int64_t rows, int64_t t, cudaStream_t st)
{
    if (rows <= 0) return cudaSuccess;
    if (t * static_cast<int64_t>(sizeof(float)) <= 48 * 1024)
        softmax_rows_smem_kernel<<<static_cast<unsigned>(rows), kBlock, t * sizeof(float), st>>>(s,
                                                                                                 t);
    else
        softmax_rows_kernel<<<static_cast<unsigned>(rows), kBlock, 0, st>>>(s, t);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_swiglu(float *out, const float *gate, const float *up, int64_t n,
                             cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    swiglu_kernel<<<grid_for(n), kBlock, 0, st>>>(out, gate, up, n);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_add(float *y, const float *x, int64_t n, cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    add_kernel<<<grid_for(n), kBlock, 0, st>>>(y, x, n);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_axpy(float *y, const float *a, const float *b, int64_t n, float s,
                           cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    axpy_kernel<<<grid_for(n), kBlock, 0, st>>>(y, a, b, n, s);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_sub(float *y, const float *a, const float *b, int64_t n, cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    sub_kernel<<<grid_for(n), kBlock, 0, st>>>(y, a, b, n);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_cfg_mix(float *cond, const float *uncond, int64_t n, float scale,
                              cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    cfg_mix_kernel<<<grid_for(n), kBlock, 0, st>>>(cond, uncond, n, scale);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_gather_rows(float *dst, const float *src, const int32_t *idx, int64_t n,
                                  int64_t c, cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    if (aligned16(dst, src, c))
        copy_rows4_kernel<<<grid_for(n * c / 4), kBlock, 0, st>>>(
            reinterpret_cast<float4 *>(dst), reinterpret_cast<const float4 *>(src), idx, n, c / 4,
            0);
    else
        gather_rows_kernel<<<static_cast<unsigned>(n), kBlock, 0, st>>>(dst, src, idx, c);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_scatter_rows(float *dst, const float *src, const int32_t *idx, int64_t n,
                                   int64_t c, cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    if (aligned16(dst, src, c))
        copy_rows4_kernel<<<grid_for(n * c / 4), kBlock, 0, st>>>(
            reinterpret_cast<float4 *>(dst), reinterpret_cast<const float4 *>(src), idx, n, c / 4,
            1);
    else
        scatter_rows_kernel<<<static_cast<unsigned>(n), kBlock, 0, st>>>(dst, src, idx, c);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_verify_select(int32_t *sel, const float *vnew, const float *vold, int64_t r,
                                    int64_t c, int64_t k, int32_t base, double *cos, uint8_t *taken,
                                    cudaStream_t st)
{
    if (r <= 0 || k <= 0) return cudaSuccess;
    verify_cos_kernel<<<static_cast<unsigned>(r), kBlock, 0, st>>>(cos, vnew, vold, c);
    cudaError_t ce = cudaGetLastError();
    if (ce != cudaSuccess) return ce;
    verify_pick_kernel<<<1, 1024, 0, st>>>(sel, cos, taken, r, k, base);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_keystat(float *stat, const float *q, const float *k, int64_t s0, int64_t s1,
                              int64_t t, int64_t c, double inv_sqrt_hs, double *qsum,
                              cudaStream_t st)
{
    if (t <= 0) return cudaSuccess;
    qsum_kernel<<<grid_for(c), kBlock, 0, st>>>(qsum, q, s0, s1, c);
    cudaError_t ce = cudaGetLastError();
    if (ce != cudaSuccess) return ce;
    keystat_kernel<<<static_cast<unsigned>(t), kBlock, 0, st>>>(stat, qsum, k, c, inv_sqrt_hs);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_head_mean(float *probs, const float *p, int64_t nh, int64_t n,
                                cudaStream_t st)
{
    if (n <= 0) return cudaSuccess;
    head_mean_kernel<<<grid_for(n), kBlock, 0, st>>>(probs, p, nh, n);
    return cudaGetLastError();
}

cudaError_t dllm_cuda_sample(const float *logits, int64_t m, int64_t v, const dllm_sample_row *rows,
                             int32_t eos, int32_t eot, int32_t *tok, double *conf, cudaStream_t st)
{
    if (m <= 0) return cudaSuccess;
    sample_kernel<<<static_cast<unsigned>(m), 512, 0, st>>>(logits, v, rows, eos, eot, tok, conf);
    return cudaGetLastError();
}

} /* extern "C" */
