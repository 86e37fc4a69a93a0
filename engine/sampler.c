/* sampler.c -- see sampler.h.
 *
 * The selection is a partial selection sort over at most a block's worth of candidates
 * (tens of rows), which keeps it obviously correct and allocation-free; a block of
 * thousands of rows would want a heap, which is not needed at LLaDA's block sizes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "sampler.h"

int32_t dllm_sched_transfer_count(int32_t m, int32_t spb, int32_t i)
{
    if (spb <= 0 || m <= 0 || i < 0 || i >= spb) return 0;
    return m / spb + (i < m % spb ? 1 : 0);
}

/* a beats b: higher confidence, or equal confidence and lower position */
static int beats(const double *conf, const int32_t *pos, size_t a, size_t b)
{
    if (conf[a] != conf[b]) return conf[a] > conf[b];
    return pos[a] < pos[b];
}

size_t dllm_select_topk(const double *conf, const int32_t *pos, size_t n, size_t k,
                        size_t *order, size_t *sel)
{
    if (k > n) k = n;
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < n; j++)
            if (beats(conf, pos, order[j], order[best])) best = j;
        size_t tmp = order[i];
        order[i] = order[best];
        order[best] = tmp;
        sel[i] = order[i];
    }
    return k;
}

size_t dllm_select_threshold(const double *conf, const int32_t *pos, size_t n, double tau,
                             size_t *order, size_t *sel)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (conf[i] > tau) sel[k++] = i;
    if (k == 0 && n > 0) k = dllm_select_topk(conf, pos, n, 1, order, sel);
    return k;
}

size_t dllm_select_factor(const double *conf, const int32_t *pos, size_t n, double f,
                          size_t *order, size_t *sel)
{
    size_t k, best = 1;
    if (n == 0) return 0;
    k = dllm_select_topk(conf, pos, n, n, order, sel); /* all, sorted */
    for (size_t m = 1; m <= k; m++)
        if ((double)(m + 1) * (1.0 - conf[sel[m - 1]]) < f) best = m;
    return best; /* sel[0..best) are the best `best` candidates */
}
