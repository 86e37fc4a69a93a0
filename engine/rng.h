/* rng.h -- the counter-based random numbers of the sampler.
 *
 * A draw is a pure function of (seed, stream, step, position, token), so every backend
 * reproduces it for any row in any order and a request's tokens never depend on what
 * else is in its batch. The same function is specified and implemented in
 * ops/reference/rng.py; tests assert shared vectors.
 *
 *   mix64(z): z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
 *             z *= 0x94D049BB133111EB; z ^= z >> 31          (splitmix64 finaliser)
 *   h = mix64(seed ^ 0x9E3779B97F4A7C15)
 *   h = mix64(h ^ ((stream << 32) | step)); h = mix64(h ^ pos); h = mix64(h ^ tok)
 *   uniform = ((h >> 12) + 0.5) * 2^-52        in [2^-53, 1 - 2^-53], exact in float64
 *
 * Streams: DLLM_RNG_GUMBEL (tok = vocab id), DLLM_RNG_REMASK (tok = 0), DLLM_RNG_WEIGHTS
 * (synthetic weights: step = pos = 0, tok = element index).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_RNG_H
#define DLLM_RNG_H

#include <stdint.h>

/* The functions below compile for the host and, included from CUDA sources, for the
 * device too, so the GPU sampler draws exactly these numbers. */
#ifdef __CUDACC__
#define DLLM_RNG_FN static inline __host__ __device__
#else
#define DLLM_RNG_FN static inline
#endif

enum { DLLM_RNG_GUMBEL = 0, DLLM_RNG_REMASK = 1, DLLM_RNG_WEIGHTS = 2 };

DLLM_RNG_FN uint64_t dllm_mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z;
}

DLLM_RNG_FN uint64_t dllm_rng_u64(uint64_t seed, uint32_t stream, uint32_t step, uint64_t pos,
                                  uint64_t tok)
{
    uint64_t h = dllm_mix64(seed ^ 0x9E3779B97F4A7C15ull);
    h = dllm_mix64(h ^ (((uint64_t)stream << 32) | step));
    h = dllm_mix64(h ^ pos);
    return dllm_mix64(h ^ tok);
}

DLLM_RNG_FN double dllm_rng_uniform(uint64_t seed, uint32_t stream, uint32_t step, uint64_t pos,
                                    uint64_t tok)
{
    return ((double)(dllm_rng_u64(seed, stream, step, pos, tok) >> 12) + 0.5) * 0x1.0p-52;
}

#endif
