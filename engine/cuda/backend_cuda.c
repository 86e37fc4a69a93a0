/* backend_cuda.c -- the CUDA backend: context, memory, cuBLASLt GEMMs and the vtable.
 *
 * DESIGN
 * ------
 * - One context per GPU: the device ordinal, one stream on which every op is queued in
 *   order, a cuBLASLt handle (projections), a cuBLAS handle (attention), a 32 MiB GEMM
 *   workspace, and scratch buffers that only grow (reserve() sizes them at admission, so
 *   steps do not allocate once the largest sequence has been seen).
 * - Weights: matrices live on the device in bf16 (checkpoint bf16 is copied as is; f32 and
 *   f16 are rounded to bf16 on the host), uploaded through a pinned staging buffer;
 *   vectors (norm weights) stay fp32. Activations are fp32 (backend.h), so a GEMM first
 *   rounds its input rows to bf16 (x is small next to the weight it multiplies), then runs
 *   cuBLASLt with bf16 operands, fp32 accumulation and fp32 output.
 * - GEMM plans: per (m, n, k, output alignment) the heuristic's candidates (up to 8) are
 *   timed once on the real operands and the fastest is cached with its descriptors in a
 *   small open-addressed table, so a step's repeated shapes cost no query or tuning.
 * - Attention for one sequence: S = scale Q K^T for all heads in one strided-batched cuBLAS
 *   call (fp32 data on the TF32 tensor cores), a row softmax kernel, O = P V in a second
 *   batched call; heads are column slices of the (rows, C) matrices (leading dimension C),
 *   as on the CPU.
 * - Nothing in a step waits for the host except sample() (which returns tokens and
 *   confidences to host arrays) and download(). V-verify selects its rows on the device.
 * - Errors: every CUDA, cuBLAS and cuBLASLt call is checked. Allocation failures are
 *   DLLM_E_NOMEM (the caller fails the request, the device stays usable); errors that
 *   poison the context (illegal address, launch failure, ...) set a sticky flag and every
 *   later call returns DLLM_E_DEVICE_LOST, so a worker knows it must restart.
 * - DLLM_CUDA_TRACE=1 records an event pair around every op and prints GPU time per op
 *   class at exit (how docs/benchmarks.md found where a step's time goes).
 * - Sparse-dLLM's key statistic and d2Cache's head-mean probabilities come from the same
 *   attention (its softmax output stays in the scores buffer) plus one small kernel each.
 * - Not handled yet: CUDA graphs, fused kernels (norm + residual, V-verify with the V
 *   projection), flash-style attention, tensor parallelism.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cuda/backend_cuda.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "cuda/kernels.h"
#include "util.h"

#define WORKSPACE_BYTES ((size_t)32 << 20)
#define STAGING_BYTES ((size_t)64 << 20)
#define PLAN_SLOTS 512
#define RING_BYTES ((size_t)16 << 20)
#define TRACE_PAIRS 4096

/* Op classes of the trace (DLLM_CUDA_TRACE=1): GPU time per class, printed at exit. */
enum {
    TR_GEMM,
    TR_ATTN,
    TR_NORM,
    TR_ROPE,
    TR_EMBED,
    TR_SWIGLU,
    TR_ADD,
    TR_GATHER,
    TR_SCATTER,
    TR_VERIFY,
    TR_SAMPLE,
    TR_COPY,
    TR_OTHER,
    TR_N
};
static const char *const tr_names[TR_N] = {"gemm",   "attention", "rmsnorm", "rope",    "embed",
                                           "swiglu", "add",       "gather",  "scatter", "verify",
                                           "sample", "upload",    "other"};

/* The trace: an event before and after every op; the elapsed times are read back (and
 * summed per class) whenever the backend synchronises anyway, so tracing adds event
 * records but no extra waits until its buffer fills. */
typedef struct cuda_trace {
    int on;
    cudaEvent_t ev[2 * TRACE_PAIRS];
    int cls[TRACE_PAIRS];
    int n;
    double ms[TR_N];
    int64_t calls[TR_N];
    double span_ms; /* sum over flush windows of first begin -> last end */
} cuda_trace;

typedef struct gemm_plan {
    int64_t m, n, k;
    int align; /* alignment in bytes of the output pointer the plan was chosen for */
    int used;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

typedef struct cuda_ctx {
    int device;
    int lost; /* sticky device error seen: every call fails */
    cudaStream_t stream;
    cublasLtHandle_t lt;
    cublasHandle_t blas;
    void *workspace; /* (WORKSPACE_BYTES) cuBLASLt workspace */
    uint16_t *xb;    /* (xb_cap) bf16 copy of a GEMM's input rows */
    int64_t xb_cap;
    float *scores; /* (scores_cap) attention scores, all heads */
    int64_t scores_cap;
    double *qsum; /* (qsum_cap) Sparse-dLLM's summed query rows */
    int64_t qsum_cap;
    double *vcos;    /* (verify_cap) V-verify cosines */
    uint8_t *vtaken; /* (verify_cap) V-verify marks */
    int64_t verify_cap;
    dllm_sample_row *d_rows; /* (sample_cap) sampler parameters, device copy */
    int32_t *d_tok;          /* (sample_cap) */
    double *d_conf;          /* (sample_cap) */
    void *h_pinned;          /* pinned host: rows in, tokens and confidences out */
    int64_t sample_cap;
    void *staging;    /* (STAGING_BYTES) pinned host buffer for weight uploads */
    char *ring;       /* (RING_BYTES) pinned host ring for small uploads */
    size_t ring_used; /* bytes handed out since the stream was last synchronised */
    gemm_plan plans[PLAN_SLOTS];
    cuda_trace *tr;                   /* NULL unless DLLM_CUDA_TRACE=1 */
    cublasComputeType_t attn_compute; /* TF32 tensor cores, or fp32 (DLLM_CUDA_ATTN_FP32=1) */
} cuda_ctx;

/* ---- error handling ---- */

static int is_sticky(cudaError_t ce)
{
    switch (ce) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
    case cudaErrorDevicesUnavailable:
        return 1;
    default:
        return 0;
    }
}

static dllm_status cuda_status(cuda_ctx *ctx, cudaError_t ce)
{
    if (ce == cudaSuccess) return DLLM_OK;
    if (is_sticky(ce)) ctx->lost = 1;
    (void)cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
    if (ctx->lost) return DLLM_E_DEVICE_LOST;
    if (ce == cudaErrorMemoryAllocation) return DLLM_E_NOMEM;
    return DLLM_E_DEVICE;
}

static dllm_status blas_status(cublasStatus_t bs)
{
    switch (bs) {
    case CUBLAS_STATUS_SUCCESS:
        return DLLM_OK;
    case CUBLAS_STATUS_ALLOC_FAILED:
        return DLLM_E_NOMEM;
    case CUBLAS_STATUS_NOT_SUPPORTED:
        return DLLM_E_UNSUPPORTED;
    case CUBLAS_STATUS_INVALID_VALUE:
        return DLLM_E_INVALID_ARG;
    default:
        return DLLM_E_DEVICE;
    }
}

#define CU(ctx, expr)                                                                              \
    do {                                                                                           \
        cudaError_t cu_ce_ = (expr);                                                               \
        if (cu_ce_ != cudaSuccess) return cuda_status((ctx), cu_ce_);                              \
    } while (0)

/* Runs one launch expression between the trace's events (when tracing). */
#define TRACED(ctx, cls, expr)                                                                     \
    do {                                                                                           \
        trace_begin((ctx), (cls));                                                                 \
        cudaError_t tr_ce_ = (expr);                                                               \
        trace_end(ctx);                                                                            \
        if (tr_ce_ != cudaSuccess) return cuda_status((ctx), tr_ce_);                              \
    } while (0)

#define LIVE(ctx)                                                                                  \
    do {                                                                                           \
        if ((ctx)->lost) return DLLM_E_DEVICE_LOST;                                                \
    } while (0)

/* ---- trace ---- */

static void trace_flush(cuda_ctx *ctx)
{
    cuda_trace *t = ctx->tr;
    float ms;
    if (t == NULL || t->n == 0) return;
    cudaEventSynchronize(t->ev[2 * t->n - 1]);
    for (int i = 0; i < t->n; i++) {
        if (cudaEventElapsedTime(&ms, t->ev[2 * i], t->ev[2 * i + 1]) == cudaSuccess) {
            t->ms[t->cls[i]] += ms;
            t->calls[t->cls[i]]++;
        }
    }
    /* a window runs from the first op after a synchronisation to the last before the next:
     * its GPU time not spent in ops is launch gaps and host work inside a step */
    if (cudaEventElapsedTime(&ms, t->ev[0], t->ev[2 * t->n - 1]) == cudaSuccess) t->span_ms += ms;
    t->n = 0;
}

static void trace_begin(cuda_ctx *ctx, int cls)
{
    cuda_trace *t = ctx->tr;
    if (t == NULL) return;
    if (t->n == TRACE_PAIRS) trace_flush(ctx);
    t->cls[t->n] = cls;
    cudaEventRecord(t->ev[2 * t->n], ctx->stream);
}

static void trace_end(cuda_ctx *ctx)
{
    cuda_trace *t = ctx->tr;
    if (t == NULL) return;
    cudaEventRecord(t->ev[2 * t->n + 1], ctx->stream);
    t->n++;
}

static void trace_report(cuda_ctx *ctx)
{
    cuda_trace *t = ctx->tr;
    double total = 0;
    if (t == NULL) return;
    trace_flush(ctx);
    for (int i = 0; i < TR_N; i++)
        total += t->ms[i];
    fprintf(stderr,
            "dllm cuda trace: GPU time in ops %.1f ms within %.1f ms of step windows "
            "(%.0f%% busy)\n",
            total, t->span_ms, t->span_ms > 0 ? 100 * total / t->span_ms : 0);
    for (int i = 0; i < TR_N; i++)
        if (t->calls[i])
            fprintf(stderr, "  %-10s %10.1f ms %5.1f%%  %9lld calls  %8.1f us/call\n", tr_names[i],
                    t->ms[i], total > 0 ? 100 * t->ms[i] / total : 0, (long long)t->calls[i],
                    1e3 * t->ms[i] / (double)t->calls[i]);
}

static void trace_free(cuda_ctx *ctx)
{
    if (ctx->tr == NULL) return;
    for (int i = 0; i < 2 * TRACE_PAIRS; i++)
        if (ctx->tr->ev[i]) cudaEventDestroy(ctx->tr->ev[i]);
    free(ctx->tr);
    ctx->tr = NULL;
}

/* Waits for the stream; everything queued before has finished, so the upload ring is
 * free again. */
static cudaError_t stream_sync(cuda_ctx *ctx)
{
    cudaError_t ce = cudaStreamSynchronize(ctx->stream);
    if (ce == cudaSuccess) ctx->ring_used = 0;
    return ce;
}

/* ---- memory ---- */

static dllm_status grow(cuda_ctx *ctx, void **p, int64_t *cap, int64_t want, size_t elem)
{
    void *q = NULL;
    if (*cap >= want) return DLLM_OK;
    CU(ctx, stream_sync(ctx)); /* the old buffer may still be in use */
    CU(ctx, cudaMalloc(&q, (size_t)want * elem));
    cudaFree(*p);
    *p = q;
    *cap = want;
    return DLLM_OK;
}

static void plan_destroy(gemm_plan *p)
{
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->d) cublasLtMatrixLayoutDestroy(p->d);
    if (p->op) cublasLtMatmulDescDestroy(p->op);
    memset(p, 0, sizeof *p);
}

static void cuda_free_ctx(void *vctx)
{
    cuda_ctx *ctx = vctx;
    if (ctx == NULL) return;
    cudaSetDevice(ctx->device);
    if (ctx->stream) cudaStreamSynchronize(ctx->stream);
    trace_report(ctx);
    trace_free(ctx);
    for (int i = 0; i < PLAN_SLOTS; i++)
        if (ctx->plans[i].used) plan_destroy(&ctx->plans[i]);
    if (ctx->lt) cublasLtDestroy(ctx->lt);
    if (ctx->blas) cublasDestroy(ctx->blas);
    cudaFree(ctx->workspace);
    cudaFree(ctx->xb);
    cudaFree(ctx->scores);
    cudaFree(ctx->vcos);
    cudaFree(ctx->qsum);
    cudaFree(ctx->vtaken);
    cudaFree(ctx->d_rows);
    cudaFree(ctx->d_tok);
    cudaFree(ctx->d_conf);
    cudaFreeHost(ctx->h_pinned);
    cudaFreeHost(ctx->staging);
    cudaFreeHost(ctx->ring);
    if (ctx->stream) cudaStreamDestroy(ctx->stream);
    free(ctx);
}

static dllm_status cuda_alloc(void *vctx, size_t bytes, void **out)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    CU(ctx, cudaMalloc(out, bytes ? bytes : 256));
    return DLLM_OK;
}

static void cuda_dealloc(void *vctx, void *p)
{
    cuda_ctx *ctx = vctx;
    if (ctx->lost) return;
    /* cudaFree waits for the device; queued ops that read p have finished after it */
    cudaFree(p);
}

static dllm_status cuda_upload(void *vctx, void *dst, const void *src, size_t bytes)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    /* Small uploads (a step's token ids and row positions) go through a pinned ring: the
     * copy is then truly asynchronous, where a pageable copy stalls the host while the
     * driver stages it (112 us per call, measured). The ring is recycled whenever the
     * stream is synchronised (every step, in sample()), so no slot is reused while its
     * copy may still be pending. */
    size_t need = (bytes + 255) / 256 * 256;
    if (ctx->ring != NULL && need <= RING_BYTES - ctx->ring_used) {
        char *slot = ctx->ring + ctx->ring_used;
        memcpy(slot, src, bytes);
        ctx->ring_used += need;
        TRACED(ctx, TR_COPY,
               cudaMemcpyAsync(dst, slot, bytes, cudaMemcpyHostToDevice, ctx->stream));
        return DLLM_OK;
    }
    /* from pageable memory the call returns once src has been staged, so the caller may
     * reuse src at once; the copy stays ordered with the ops on the stream */
    TRACED(ctx, TR_COPY, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_download(void *vctx, void *dst, const void *src, size_t bytes)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    CU(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
    CU(ctx, stream_sync(ctx));
    return DLLM_OK;
}

static uint16_t f32_to_bf16_host(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

/* Copies n elements of src (type t) to dst on the device as bf16 (matrices) or fp32
 * (vectors), through the pinned staging buffer, one chunk at a time. */
static dllm_status upload_converted(cuda_ctx *ctx, void *dst, const void *src, dllm_dtype t,
                                    size_t n, int to_bf16)
{
    size_t out_elem = to_bf16 ? 2 : 4, in_elem = dllm_dtype_size(t);
    size_t chunk = STAGING_BYTES / out_elem;
    for (size_t off = 0; off < n; off += chunk) {
        size_t cnt = n - off < chunk ? n - off : chunk;
        const char *s = (const char *)src + off * in_elem;
        if (to_bf16 && t == DLLM_DTYPE_BF16) {
            memcpy(ctx->staging, s, cnt * 2);
        } else if (to_bf16) {
            uint16_t *o = ctx->staging;
            for (size_t i = 0; i < cnt; i++) {
                float f;
                if (t == DLLM_DTYPE_F32) {
                    memcpy(&f, s + i * 4, 4);
                } else {
                    uint16_t h;
                    memcpy(&h, s + i * 2, 2);
                    f = dllm_f16_to_f32(h);
                }
                o[i] = f32_to_bf16_host(f);
            }
        } else {
            dllm_convert_to_f32(ctx->staging, s, t, cnt);
        }
        CU(ctx, cudaMemcpyAsync((char *)dst + off * out_elem, ctx->staging, cnt * out_elem,
                                cudaMemcpyHostToDevice, ctx->stream));
        CU(ctx, stream_sync(ctx)); /* staging is reused by the next chunk */
    }
    return DLLM_OK;
}

static dllm_status cuda_weight_upload(void *vctx, const void *src, dllm_dtype t, int64_t rows,
                                      int64_t cols, dllm_weight *out)
{
    cuda_ctx *ctx = vctx;
    size_t n = (size_t)rows * (size_t)cols;
    int to_bf16 = rows > 1;
    void *p = NULL;
    dllm_status rc;

    LIVE(ctx);
    CU(ctx, cudaMalloc(&p, n * (to_bf16 ? 2 : 4)));
    rc = upload_converted(ctx, p, src, t, n, to_bf16);
    if (rc != DLLM_OK) {
        cudaFree(p);
        return rc;
    }
    out->data = p;
    out->rows = rows;
    out->cols = cols;
    out->dtype = to_bf16 ? DLLM_DTYPE_BF16 : DLLM_DTYPE_F32;
    return DLLM_OK;
}

static dllm_status cuda_weight_random(void *vctx, int64_t rows, int64_t cols, uint64_t seed,
                                      float scale, float bias, dllm_weight *out)
{
    cuda_ctx *ctx = vctx;
    int64_t n = rows * cols;
    int to_bf16 = rows > 1;
    void *p = NULL;
    cudaError_t ce;

    LIVE(ctx);
    CU(ctx, cudaMalloc(&p, (size_t)n * (to_bf16 ? 2 : 4)));
    ce = to_bf16 ? dllm_cuda_fill_random_bf16(p, n, seed, scale, bias, ctx->stream)
                 : dllm_cuda_fill_random_f32(p, n, seed, scale, bias, ctx->stream);
    if (ce != cudaSuccess) {
        cudaFree(p);
        return cuda_status(ctx, ce);
    }
    out->data = p;
    out->rows = rows;
    out->cols = cols;
    out->dtype = to_bf16 ? DLLM_DTYPE_BF16 : DLLM_DTYPE_F32;
    return DLLM_OK;
}

static void cuda_weight_free(void *vctx, dllm_weight *w)
{
    (void)vctx;
    cudaFree(w->data);
}

static dllm_status cuda_reserve(void *vctx, int64_t t)
{
    cuda_ctx *ctx = vctx;
    int64_t taken_cap = ctx->verify_cap; /* vtaken always has vcos's capacity */
    LIVE(ctx);
    if (t <= ctx->verify_cap) return DLLM_OK;
    DLLM_TRY(grow(ctx, (void **)&ctx->vtaken, &taken_cap, t, 1));
    DLLM_TRY(grow(ctx, (void **)&ctx->vcos, &ctx->verify_cap, t, sizeof(double)));
    return DLLM_OK;
}

/* ---- GEMM ---- */

static int ptr_align(const void *p)
{
    uintptr_t u = (uintptr_t)p;
    int a = 256;
    while (a > 4 && (u % (uintptr_t)a) != 0)
        a /= 2;
    return a;
}

/* Times algorithm `a` of plan p on the call's real operands: median-free best of 3 runs
 * after one warm-up, in ms (or a huge value when it fails). */
static float plan_time(cuda_ctx *ctx, gemm_plan *p, const cublasLtMatmulAlgo_t *a, const void *w,
                       float *y, cudaEvent_t e0, cudaEvent_t e1)
{
    const float one = 1.0f, zero = 0.0f;
    float best = 1e30f, ms;
    for (int r = 0; r < 4; r++) {
        if (cudaEventRecord(e0, ctx->stream) != cudaSuccess) return 1e30f;
        if (cublasLtMatmul(ctx->lt, p->op, &one, w, p->a, ctx->xb, p->b, &zero, y, p->d, y, p->d, a,
                           ctx->workspace, WORKSPACE_BYTES, ctx->stream) != CUBLAS_STATUS_SUCCESS)
            return 1e30f;
        if (cudaEventRecord(e1, ctx->stream) != cudaSuccess) return 1e30f;
        if (cudaEventSynchronize(e1) != cudaSuccess) return 1e30f;
        if (r > 0 && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms < best) best = ms;
    }
    return best;
}

/* Builds the plan for (m, n, k): descriptors, then the heuristic's candidates (up to 8),
 * each timed on the call's operands; the fastest is kept. Runs once per shape. */
static dllm_status plan_make(cuda_ctx *ctx, gemm_plan *p, int64_t m, int64_t n, int64_t k,
                             int align, const void *w, float *y)
{
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res[8];
    cudaEvent_t e0 = NULL, e1 = NULL;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    size_t ws = WORKSPACE_BYTES;
    uint32_t al = (uint32_t)align;
    int found = 0;
    dllm_status rc = DLLM_OK;

    memset(p, 0, sizeof *p);
    /* column-major view: y^T (n, m) = W (k, n)^T . x^T (k, m); W is (n, k) row-major */
#define LT(expr) DLLM_TRY_GOTO(blas_status(expr), rc, out)
    LT(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    LT(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, (uint64_t)k, (uint64_t)n, k));
    LT(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, (uint64_t)k, (uint64_t)m, k));
    LT(cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, (uint64_t)n, (uint64_t)m, n));
    LT(cublasLtMatmulPreferenceCreate(&pref));
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                            sizeof ws));
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al,
                                            sizeof al));
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al,
                                            sizeof al));
    LT(cublasLtMatmulAlgoGetHeuristic(ctx->lt, p->op, p->a, p->b, p->d, p->d, pref, 8, res,
                                      &found));
#undef LT
    if (found < 1) {
        rc = DLLM_E_UNSUPPORTED;
        goto out;
    }
    p->algo = res[0].algo;
    if (found > 1 && cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess) {
        float best = 1e30f;
        for (int i = 0; i < found; i++) {
            float t = plan_time(ctx, p, &res[i].algo, w, y, e0, e1);
            if (t < best) {
                best = t;
                p->algo = res[i].algo;
            }
        }
        (void)cudaGetLastError(); /* a candidate that failed to launch is just skipped */
    }
    p->m = m;
    p->n = n;
    p->k = k;
    p->align = align;
    p->used = 1;
out:
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (rc != DLLM_OK) plan_destroy(p);
    return rc;
}

static dllm_status cuda_gemm(void *vctx, float *y, const float *x, const dllm_weight *w, int64_t m)
{
    cuda_ctx *ctx = vctx;
    int64_t n = w->rows, k = w->cols;
    int align = ptr_align(y);
    const float one = 1.0f, zero = 0.0f;
    gemm_plan tmp, *p = NULL;
    dllm_status rc = DLLM_OK;

    LIVE(ctx);
    if (w->dtype != DLLM_DTYPE_BF16) return DLLM_E_UNSUPPORTED;
    if (m == 0) return DLLM_OK;
    DLLM_TRY(grow(ctx, (void **)&ctx->xb, &ctx->xb_cap, m * k, sizeof(uint16_t)));
    trace_begin(ctx, TR_GEMM);
    cudaError_t ce = dllm_cuda_f32_to_bf16(ctx->xb, x, m * k, ctx->stream);
    if (ce != cudaSuccess) {
        trace_end(ctx);
        return cuda_status(ctx, ce);
    }

    uint64_t h = ((uint64_t)m * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)n * 0xBF58476D1CE4E5B9ull) ^
                 ((uint64_t)k * 0x94D049BB133111EBull) ^ (uint64_t)align;
    for (int probe = 0; probe < PLAN_SLOTS; probe++) {
        gemm_plan *c = &ctx->plans[(h + (uint64_t)probe) % PLAN_SLOTS];
        if (!c->used) {
            if (plan_make(ctx, c, m, n, k, align, w->data, y) == DLLM_OK) p = c;
            break;
        }
        if (c->m == m && c->n == n && c->k == k && c->align == align) {
            p = c;
            break;
        }
    }
    if (p == NULL && plan_make(ctx, &tmp, m, n, k, align, w->data, y) == DLLM_OK)
        p = &tmp; /* table full: a one-off plan */
    if (p == NULL) {
        trace_end(ctx);
        return DLLM_E_UNSUPPORTED;
    }
    rc = blas_status(cublasLtMatmul(ctx->lt, p->op, &one, w->data, p->a, ctx->xb, p->b, &zero, y,
                                    p->d, y, p->d, &p->algo, ctx->workspace, WORKSPACE_BYTES,
                                    ctx->stream));
    trace_end(ctx);
    if (p == &tmp) plan_destroy(&tmp);
    return rc;
}

/* ---- element-wise and row ops ---- */

static dllm_status cuda_embed(void *vctx, float *out, const dllm_weight *wte, const int32_t *ids,
                              int64_t m)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    if (wte->dtype != DLLM_DTYPE_BF16) return DLLM_E_UNSUPPORTED;
    TRACED(ctx, TR_EMBED,
           dllm_cuda_embed(out, wte->data, wte->rows, ids, m, wte->cols, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_rmsnorm(void *vctx, float *out, const float *x, const dllm_weight *w,
                                int64_t m, float eps)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    if (w->dtype != DLLM_DTYPE_F32) return DLLM_E_UNSUPPORTED;
    TRACED(ctx, TR_NORM,
           dllm_cuda_rmsnorm(out, x, w->data, m, w->rows * w->cols, eps, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_rope(void *vctx, float *x, const int32_t *pos, int64_t m, int64_t nh,
                             int64_t hs, float theta)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_ROPE, dllm_cuda_rope(x, pos, m, nh, hs, theta, ctx->stream));
    return DLLM_OK;
}

static dllm_status attention_run(cuda_ctx *ctx, float *out, const float *q, const float *k,
                                 const float *v, int64_t mq, int64_t t, int64_t nh, int64_t hs,
                                 float scale);

static dllm_status cuda_attention(void *vctx, float *out, const float *q, const float *k,
                                  const float *v, int64_t mq, int64_t t, int64_t nh, int64_t hs)
{
    cuda_ctx *ctx = vctx;
    int64_t c = nh * hs;
    float scale = 1.0f / sqrtf((float)hs);

    LIVE(ctx);
    if (mq == 0) return DLLM_OK;
    if (mq > INT32_MAX || t > INT32_MAX || c > INT32_MAX) return DLLM_E_INVALID_ARG;
    DLLM_TRY(grow(ctx, (void **)&ctx->scores, &ctx->scores_cap, nh * mq * t, sizeof(float)));
    trace_begin(ctx, TR_ATTN);
    dllm_status rc = attention_run(ctx, out, q, k, v, mq, t, nh, hs, scale);
    trace_end(ctx);
    return rc;
}

static dllm_status attention_run(cuda_ctx *ctx, float *out, const float *q, const float *k,
                                 const float *v, int64_t mq, int64_t t, int64_t nh, int64_t hs,
                                 float scale)
{
    int64_t c = nh * hs;
    const float one = 1.0f, zero = 0.0f;
    /* per head h (column-major view): S_h^T (t, mq) = K_h (hs, t)^T . Q_h (hs, mq), with
     * K_h and Q_h column slices of the row-major (rows, C) matrices (leading dimension C) */
    DLLM_TRY(blas_status(cublasGemmStridedBatchedEx(
        ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)t, (int)mq, (int)hs, &scale, k, CUDA_R_32F,
        (int)c, (long long)hs, q, CUDA_R_32F, (int)c, (long long)hs, &zero, ctx->scores, CUDA_R_32F,
        (int)t, (long long)(mq * t), (int)nh, ctx->attn_compute, CUBLAS_GEMM_DEFAULT)));
    CU(ctx, dllm_cuda_softmax_rows(ctx->scores, nh * mq, t, ctx->stream));
    /* O_h^T (hs, mq) = V_h (hs, t) . P_h^T (t, mq), written as column slices of out */
    DLLM_TRY(blas_status(cublasGemmStridedBatchedEx(
        ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)hs, (int)mq, (int)t, &one, v, CUDA_R_32F, (int)c,
        (long long)hs, ctx->scores, CUDA_R_32F, (int)t, (long long)(mq * t), &zero, out, CUDA_R_32F,
        (int)c, (long long)hs, (int)nh, ctx->attn_compute, CUBLAS_GEMM_DEFAULT)));
    return DLLM_OK;
}

/* Sparse-dLLM: attention, then the per-key score sums of the query rows [s0, s1)
 * (backend.h), queries summed first in float64 as on the CPU. */
static dllm_status cuda_attention_keystat(void *vctx, float *out, float *stat, const float *q,
                                          const float *k, const float *v, int64_t mq, int64_t t,
                                          int64_t nh, int64_t hs, int64_t s0, int64_t s1)
{
    cuda_ctx *ctx = vctx;
    int64_t c = nh * hs;
    DLLM_TRY(cuda_attention(vctx, out, q, k, v, mq, t, nh, hs));
    DLLM_TRY(grow(ctx, (void **)&ctx->qsum, &ctx->qsum_cap, c, sizeof(double)));
    TRACED(ctx, TR_ATTN,
           dllm_cuda_keystat(stat, q, k, s0, s1, t, c, 1.0 / sqrt((double)hs), ctx->qsum,
                             ctx->stream));
    return DLLM_OK;
}

/* d2Cache: attention, then the head-mean of the softmax probabilities, which attention
 * leaves in ctx->scores as (nh, mq, t). */
static dllm_status cuda_attention_probs(void *vctx, float *out, float *probs, const float *q,
                                        const float *k, const float *v, int64_t mq, int64_t t,
                                        int64_t nh, int64_t hs)
{
    cuda_ctx *ctx = vctx;
    DLLM_TRY(cuda_attention(vctx, out, q, k, v, mq, t, nh, hs));
    if (mq == 0) return DLLM_OK;
    TRACED(ctx, TR_ATTN, dllm_cuda_head_mean(probs, ctx->scores, nh, mq * t, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_swiglu(void *vctx, float *out, const float *gate, const float *up,
                               int64_t n)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_SWIGLU, dllm_cuda_swiglu(out, gate, up, n, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_add(void *vctx, float *y, const float *x, int64_t n)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_ADD, dllm_cuda_add(y, x, n, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_gather_rows(void *vctx, float *dst, const float *src, const int32_t *idx,
                                    int64_t n, int64_t c)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_GATHER, dllm_cuda_gather_rows(dst, src, idx, n, c, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_scatter_rows(void *vctx, float *dst, const float *src, const int32_t *idx,
                                     int64_t n, int64_t c)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_SCATTER, dllm_cuda_scatter_rows(dst, src, idx, n, c, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_verify_select(void *vctx, int32_t *sel, const float *vnew,
                                      const float *vold, int64_t r, int64_t c, int64_t k,
                                      int32_t base)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    if (ctx->verify_cap < r) DLLM_TRY(cuda_reserve(vctx, r));
    TRACED(ctx, TR_VERIFY,
           dllm_cuda_verify_select(sel, vnew, vold, r, c, k, base, ctx->vcos, ctx->vtaken,
                                   ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_cfg_mix(void *vctx, float *cond, const float *uncond, int64_t n,
                                float scale)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_OTHER, dllm_cuda_cfg_mix(cond, uncond, n, scale, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_axpy(void *vctx, float *y, const float *a, const float *b, int64_t n,
                             float s)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_OTHER, dllm_cuda_axpy(y, a, b, n, s, ctx->stream));
    return DLLM_OK;
}

static dllm_status cuda_sub(void *vctx, float *y, const float *a, const float *b, int64_t n)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    TRACED(ctx, TR_OTHER, dllm_cuda_sub(y, a, b, n, ctx->stream));
    return DLLM_OK;
}

/* Pinned host layout for one sample call: rows (m) | tok (m) | conf (m). */
static size_t sample_host_bytes(int64_t m)
{
    return (size_t)m * (sizeof(dllm_sample_row) + sizeof(int32_t) + sizeof(double)) + 64;
}

static dllm_status cuda_sample(void *vctx, const float *logits, int64_t m, int64_t v,
                               const dllm_sample_row *rows, int32_t eos, int32_t eot, int32_t *tok,
                               double *conf)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    if (m == 0) return DLLM_OK;
    if (ctx->sample_cap < m) {
        int64_t cap = m < 64 ? 64 : m;
        CU(ctx, stream_sync(ctx));
        cudaFree(ctx->d_rows);
        cudaFree(ctx->d_tok);
        cudaFree(ctx->d_conf);
        cudaFreeHost(ctx->h_pinned);
        ctx->d_rows = NULL;
        ctx->d_tok = NULL;
        ctx->d_conf = NULL;
        ctx->h_pinned = NULL;
        ctx->sample_cap = 0;
        CU(ctx, cudaMalloc((void **)&ctx->d_rows, (size_t)cap * sizeof(dllm_sample_row)));
        CU(ctx, cudaMalloc((void **)&ctx->d_tok, (size_t)cap * sizeof(int32_t)));
        CU(ctx, cudaMalloc((void **)&ctx->d_conf, (size_t)cap * sizeof(double)));
        CU(ctx, cudaMallocHost(&ctx->h_pinned, sample_host_bytes(cap)));
        ctx->sample_cap = cap;
    }
    /* pinned layout: conf (cap doubles) | rows (cap) | tok (cap), each naturally aligned */
    double *h_conf = ctx->h_pinned;
    dllm_sample_row *h_rows = (dllm_sample_row *)(h_conf + ctx->sample_cap);
    int32_t *h_tok = (int32_t *)(h_rows + ctx->sample_cap);
    memcpy(h_rows, rows, (size_t)m * sizeof *rows);
    CU(ctx, cudaMemcpyAsync(ctx->d_rows, h_rows, (size_t)m * sizeof *rows, cudaMemcpyHostToDevice,
                            ctx->stream));
    TRACED(ctx, TR_SAMPLE,
           dllm_cuda_sample(logits, m, v, ctx->d_rows, eos, eot, ctx->d_tok, ctx->d_conf,
                            ctx->stream));
    CU(ctx, cudaMemcpyAsync(h_tok, ctx->d_tok, (size_t)m * sizeof(int32_t), cudaMemcpyDeviceToHost,
                            ctx->stream));
    CU(ctx, cudaMemcpyAsync(h_conf, ctx->d_conf, (size_t)m * sizeof(double), cudaMemcpyDeviceToHost,
                            ctx->stream));
    CU(ctx, stream_sync(ctx));
    trace_flush(ctx);
    memcpy(tok, h_tok, (size_t)m * sizeof(int32_t));
    memcpy(conf, h_conf, (size_t)m * sizeof(double));
    return DLLM_OK;
}

static dllm_status cuda_synchronize(void *vctx)
{
    cuda_ctx *ctx = vctx;
    LIVE(ctx);
    CU(ctx, stream_sync(ctx));
    return DLLM_OK;
}

static const struct dllm_backend_i cuda_iface = {
    .free_ctx = cuda_free_ctx,
    .alloc = cuda_alloc,
    .dealloc = cuda_dealloc,
    .upload = cuda_upload,
    .download = cuda_download,
    .weight_upload = cuda_weight_upload,
    .weight_random = cuda_weight_random,
    .weight_free = cuda_weight_free,
    .reserve = cuda_reserve,
    .gemm = cuda_gemm,
    .embed = cuda_embed,
    .rmsnorm = cuda_rmsnorm,
    .rope = cuda_rope,
    .attention = cuda_attention,
    .swiglu = cuda_swiglu,
    .add = cuda_add,
    .gather_rows = cuda_gather_rows,
    .scatter_rows = cuda_scatter_rows,
    .verify_select = cuda_verify_select,
    .cfg_mix = cuda_cfg_mix,
    .axpy = cuda_axpy,
    .sub = cuda_sub,
    .sample = cuda_sample,
    .synchronize = cuda_synchronize,
    .attention_keystat = cuda_attention_keystat,
    .attention_probs = cuda_attention_probs,
};

dllm_status dllm_backend_cuda_new(int device, dllm_backend **out, char *err, size_t errn)
{
    dllm_backend *be = NULL;
    cuda_ctx *ctx = NULL;
    struct cudaDeviceProp prop;
    int count = 0;
    cudaError_t ce;
    cublasStatus_t bs;
    dllm_status rc = DLLM_OK;

    *out = NULL;
    ce = cudaGetDeviceCount(&count);
    if (ce != cudaSuccess) {
        rc = dllm_errf(err, errn, DLLM_E_DEVICE,
                       "no usable CUDA device: %s; hint: use "
                       "--backend cpu",
                       cudaGetErrorString(ce));
        goto out;
    }
    if (device < 0 || device >= count) {
        rc = dllm_errf(err, errn, DLLM_E_INVALID_ARG, "CUDA device %d does not exist (%d found)",
                       device, count);
        goto out;
    }
    DLLM_TRY_GOTO(dllm_cuda_smoke(device, err, errn), rc, out);
    if ((ce = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) goto cuda_fail;
    if (prop.major < 8) {
        rc = dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                       "CUDA device %d (%s) has compute "
                       "capability %d.%d; the backend needs bf16 matrix units (8.0 or newer)",
                       device, prop.name, prop.major, prop.minor);
        goto out;
    }
    be = calloc(1, sizeof *be);
    ctx = calloc(1, sizeof *ctx);
    if (be == NULL || ctx == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "cuda backend: out of host memory");
        goto out;
    }
    ctx->device = device;
    if ((ce = cudaSetDevice(device)) != cudaSuccess) goto cuda_fail;
    if ((ce = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking)) != cudaSuccess)
        goto cuda_fail;
    if ((ce = cudaMalloc(&ctx->workspace, WORKSPACE_BYTES)) != cudaSuccess) goto cuda_fail;
    if ((ce = cudaMallocHost(&ctx->staging, STAGING_BYTES)) != cudaSuccess) goto cuda_fail;
    if ((ce = cudaMallocHost((void **)&ctx->ring, RING_BYTES)) != cudaSuccess) goto cuda_fail;
    if ((bs = cublasLtCreate(&ctx->lt)) != CUBLAS_STATUS_SUCCESS) goto blas_fail;
    if ((bs = cublasCreate(&ctx->blas)) != CUBLAS_STATUS_SUCCESS) goto blas_fail;
    if ((bs = cublasSetStream(ctx->blas, ctx->stream)) != CUBLAS_STATUS_SUCCESS) goto blas_fail;
    if ((bs = cublasSetMathMode(ctx->blas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS)
        goto blas_fail;
    /* attention's two products run on the TF32 tensor cores (10-bit mantissa operands,
     * fp32 accumulation: finer than the bf16 rounding of the projections' inputs);
     * DLLM_CUDA_ATTN_FP32=1 keeps them in plain fp32 for diagnosis */
    {
        const char *fp = getenv("DLLM_CUDA_ATTN_FP32");
        ctx->attn_compute = (fp != NULL && strcmp(fp, "1") == 0) ? CUBLAS_COMPUTE_32F
                                                                 : CUBLAS_COMPUTE_32F_FAST_TF32;
    }
    {
        const char *tv = getenv("DLLM_CUDA_TRACE"); /* diagnostics only (docs/benchmarks.md) */
        if (tv != NULL && strcmp(tv, "1") == 0) {
            ctx->tr = calloc(1, sizeof *ctx->tr);
            if (ctx->tr == NULL) {
                rc = dllm_errf(err, errn, DLLM_E_NOMEM, "cuda backend: out of host memory");
                goto out;
            }
            ctx->tr->on = 1;
            for (int i = 0; i < 2 * TRACE_PAIRS; i++)
                if ((ce = cudaEventCreate(&ctx->tr->ev[i])) != cudaSuccess) goto cuda_fail;
        }
    }
    be->iface = &cuda_iface;
    be->ctx = ctx;
    be->name = "cuda";
    *out = be;
    be = NULL;
    ctx = NULL;
    goto out;
cuda_fail:
    rc = dllm_errf(err, errn, ce == cudaErrorMemoryAllocation ? DLLM_E_NOMEM : DLLM_E_DEVICE,
                   "cuda device %d: %s (%s)", device, cudaGetErrorString(ce), cudaGetErrorName(ce));
    goto out;
blas_fail:
    rc = dllm_errf(err, errn, DLLM_E_DEVICE,
                   "cuda device %d: cuBLAS initialisation failed "
                   "(status %d)",
                   device, (int)bs);
out:
    free(be);
    cuda_free_ctx(ctx);
    return rc;
}
