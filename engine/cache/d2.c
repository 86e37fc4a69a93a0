/* d2.c -- d2Cache's row selection (see d2.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cache/d2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dllm_status dllm_d2_init(dllm_d2_state *st, int32_t L, int32_t P, int32_t G, double sigma)
{
    size_t T = (size_t)P + (size_t)G;
    memset(st, 0, sizeof *st);
    if (L <= 0 || P < 0 || G <= 0 || !(sigma > 0)) return DLLM_E_INVALID_ARG;
    st->L = L;
    st->P = P;
    st->G = G;
    st->T = (int32_t)T;
    st->probs = malloc((size_t)L * T * T * sizeof(float));
    st->imp = calloc(T, sizeof(double));
    st->u = malloc(T * sizeof(double));
    st->conf = malloc((size_t)G * sizeof(double));
    st->dens = malloc((size_t)G * sizeof(double));
    st->w = malloc((3 * (size_t)G + 1) * sizeof(double));
    st->rows = malloc(T * sizeof(int32_t));
    st->mark = calloc(T, 1);
    st->order = malloc(T * sizeof(int32_t));
    st->key = malloc(T * sizeof(double));
    st->known = malloc((size_t)G);
    st->committed = malloc(T * sizeof(int32_t));
    if (!st->probs || !st->imp || !st->u || !st->conf || !st->dens || !st->w || !st->rows ||
        !st->mark || !st->order || !st->key || !st->known || !st->committed) {
        dllm_d2_free(st);
        return DLLM_E_NOMEM;
    }
    for (int32_t g = 0; g < G; g++) st->conf[g] = 1.0;
    memset(st->mark, 1, T); /* the first forward runs every row */
    for (int32_t d = 0; d <= 3 * G; d++)
        st->w[d] = exp(-((double)d * (double)d) / (2.0 * sigma * sigma));
    st->z = 0.0;
    for (int32_t d = -3 * G; d < 3 * G; d++) st->z += st->w[abs(d)];
    return DLLM_OK;
}

void dllm_d2_free(dllm_d2_state *st)
{
    if (st == NULL) return;
    free(st->probs);
    free(st->imp);
    free(st->u);
    free(st->conf);
    free(st->dens);
    free(st->w);
    free(st->rows);
    free(st->mark);
    free(st->order);
    free(st->key);
    free(st->known);
    free(st->committed);
    memset(st, 0, sizeof *st);
}

void dllm_d2_density(dllm_d2_state *st, const uint8_t *known)
{
    int32_t G = st->G;
    double right = known[G - 1] ? 1.0 : 0.0;
    for (int32_t g = 0; g < G; g++) {
        double acc = 0.0;
        for (int32_t j = -G; j < 2 * G; j++) {
            double m = j < 0 ? 1.0 : (j < G ? (known[j] ? 1.0 : 0.0) : right);
            acc += st->w[abs(g - j)] * m;
        }
        st->dens[g] = acc / st->z;
    }
}

void dllm_d2_rollout(dllm_d2_state *st, const int32_t *rows, int32_t n)
{
    int32_t T = st->T;
    double *u = st->u, *v = st->imp;
    /* u = 1^T; for l = L-1 .. 0: u <- u A_l. Row i of A_l is e_i unless i is a query row:
     * (p_i + e_i) / (s_i + 1), s_i = sum_j p_i[j]. */
    for (int32_t j = 0; j < T; j++) u[j] = 1.0;
    for (int32_t l = st->L - 1; l >= 0; l--) {
        const float *pl = st->probs + (size_t)l * (size_t)T * (size_t)T;
        for (int32_t j = 0; j < T; j++) v[j] = u[j];
        for (int32_t a = 0; a < n; a++) v[rows ? rows[a] : a] = 0.0; /* not e_i rows */
        for (int32_t a = 0; a < n; a++) {
            const float *p = pl + (size_t)a * (size_t)T;
            int32_t i = rows ? rows[a] : a;
            double s = 0.0;
            for (int32_t j = 0; j < T; j++) s += (double)p[j];
            double f = u[i] / (s + 1.0);
            for (int32_t j = 0; j < T; j++) v[j] += f * (double)p[j];
            v[i] += f;
        }
        for (int32_t j = 0; j < T; j++) u[j] = v[j];
    }
    for (int32_t j = 0; j < T; j++) st->imp[j] = u[j];
}

static double nan_low(double x)
{
    return isnan(x) ? -INFINITY : x;
}

void dllm_d2_select(dllm_d2_state *st, const int32_t *canvas, int32_t mask_id,
                    const int32_t *committed, int32_t nc, int32_t bl,
                    const dllm_cache_params *c)
{
    int32_t P = st->P, G = st->G, T = st->T, first = -1;
    uint8_t *inq = st->mark; /* reused: the rows of the next forward */
    memset(inq, 0, (size_t)T);

    /* a. masked selection in the search window */
    for (int32_t g = 0; g < G; g++)
        if (canvas[P + g] == mask_id) {
            first = g;
            break;
        }
    if (first >= 0) {
        int32_t b = first / bl, cnt = 0, e = G - 1;
        uint8_t *known = st->known;
        for (int32_t g = 0; g < G; g++) {
            cnt += canvas[P + g] == mask_id;
            if (cnt >= c->d2_k) {
                e = g;
                break;
            }
        }
        e = (e / bl + 1) * bl - 1;
        if (e > G - 1) e = G - 1;
        for (int32_t g = 0; g < G; g++) known[g] = canvas[P + g] != mask_id;
        dllm_d2_density(st, known);
        for (int32_t g = 0; g < G; g++) st->key[g] = nan_low(st->conf[g] * st->dens[g]);
        int32_t want = c->d2_k < G ? c->d2_k : G;
        for (int32_t taken = 0; taken < want; taken++) {
            int32_t best = -1;
            for (int32_t g = b * bl; g <= e; g++) {
                if (canvas[P + g] != mask_id || inq[P + g]) continue;
                if (best < 0) {
                    best = g;
                    continue;
                }
                int tg = g / bl == b, tb = best / bl == b;
                if (tg != tb ? tg > tb : st->key[g] > st->key[best]) best = g;
            }
            if (best < 0) break;
            inq[P + best] = 1;
        }
    }
    /* b. the rows committed at this step */
    for (int32_t i = 0; i < nc; i++) inq[committed[i]] = 1;
    /* c. nucleus of the rest by importance: descending, ties to the lower row */
    {
        double total = 0.0, cum = 0.0;
        int32_t m = 0;
        for (int32_t j = 0; j < T; j++)
            if (!inq[j]) {
                total += st->imp[j];
                st->order[m++] = j;
            }
        for (int32_t r = 0; r < m; r++) {
            int32_t best = r;
            for (int32_t q = r + 1; q < m; q++) {
                double a = st->imp[st->order[q]], bb = st->imp[st->order[best]];
                if (a > bb || (a == bb && st->order[q] < st->order[best])) best = q;
            }
            int32_t tmp = st->order[r];
            st->order[r] = st->order[best];
            st->order[best] = tmp;
            cum += st->imp[st->order[r]] / (total + 1e-9);
            if (!(cum <= c->d2_p) && r > 0) break;
            inq[st->order[r]] = 1;
        }
    }
    st->n_rows = 0;
    for (int32_t j = 0; j < T; j++)
        if (inq[j]) st->rows[st->n_rows++] = j;
    /* d. inflate: fill the gaps of at most d2_inflate between consecutive selected rows */
    if (c->d2_inflate > 0 && st->n_rows > 1) {
        for (int32_t r = 0; r + 1 < st->n_rows; r++) {
            int32_t a = st->rows[r], z = st->rows[r + 1];
            if (z - a > 1 && z - a <= c->d2_inflate)
                for (int32_t q = a + 1; q < z; q++) inq[q] = 1;
        }
        st->n_rows = 0;
        for (int32_t j = 0; j < T; j++)
            if (inq[j]) st->rows[st->n_rows++] = j;
    }
}
