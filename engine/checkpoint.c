/* checkpoint.c -- see checkpoint.h.
 *
 * DESIGN
 * ------
 * - Binding walks the expected names in model order (wte, blocks 0..L-1, ln_f, head),
 *   looks each up in the set (bsearch), checks shape against the config and records the
 *   view; the bound views are then sorted by address so that every tensor of the set can
 *   be tested for "expected?" in O(log n), which finds the extra ones.
 * - Sizes: with the config's ranges (C <= 2^20, V < 2^31, F <= 2^24, L <= 4096) every
 *   product below fits int64 comfortably.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CK_NAME 160

typedef struct ck_binder {
    const dllm_st_set *st;
    const char *dir;
    const dllm_st_tensor **bound; /* (cap) views bound so far */
    size_t n_bound, cap;
    char *err;
    size_t errn;
} ck_binder;

static const char *ck_dims_why(const dllm_model_config *cfg, char *buf, size_t n)
{
    snprintf(buf, n, "d_model = %lld, mlp_hidden_size = %lld, embedding_size = %lld",
             (long long)cfg->d_model, (long long)cfg->mlp_hidden_size,
             (long long)cfg->embedding_size);
    return buf;
}

/* Binds `name` expecting shape (d0) when ndim == 1 or (d0, d1) when ndim == 2. */
static dllm_status ck_bind(ck_binder *b, const dllm_model_config *cfg, const char *name, int ndim,
                           int64_t d0, int64_t d1, const dllm_st_tensor **slot)
{
    const dllm_st_tensor *t = dllm_st_set_find(b->st, name);
    int64_t want[2] = {d0, d1};
    char ws[64], gs[160], why[160];
    int ok, i;

    dllm_st_shape_str(ws, sizeof ws, ndim, want);
    if (t == NULL)
        return dllm_errf(b->err, b->errn, DLLM_E_FORMAT,
                         "%s: tensor '%s' (expected shape %s) is missing from the checkpoint; "
                         "hint: the download is incomplete, or this is not a LLaDA checkpoint "
                         "matching its config.json",
                         b->dir, name, ws);
    ok = t->ndim == ndim;
    for (i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok)
        return dllm_errf(b->err, b->errn, DLLM_E_FORMAT,
                         "%s: tensor '%s': shape %s, expected %s from config.json (%s); hint: "
                         "config.json does not belong to these weights",
                         t->file, name, dllm_st_shape_str(gs, sizeof gs, t->ndim, t->shape), ws,
                         ck_dims_why(cfg, why, sizeof why));
    DLLM_ASSERT(b->n_bound < b->cap);
    b->bound[b->n_bound++] = t;
    *slot = t;
    return DLLM_OK;
}

static int ck_cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const dllm_st_tensor *const *)a;
    uintptr_t y = (uintptr_t) * (const dllm_st_tensor *const *)b;
    return x < y ? -1 : x > y;
}

static int ck_is_bound(const ck_binder *b, const dllm_st_tensor *t)
{
    return bsearch(&t, b->bound, b->n_bound, sizeof t, ck_cmp_ptr) != NULL;
}

/* Reports tensors of the set that no field took. */
static dllm_status ck_check_extra(const ck_binder *b, const dllm_model_config *cfg)
{
    size_t i, n = dllm_st_set_count(b->st), extra = 0;
    const dllm_st_tensor *first = NULL, *second = NULL;
    char q1[CK_NAME], q2[CK_NAME];

    for (i = 0; i < n; i++) {
        const dllm_st_tensor *t = dllm_st_set_tensor(b->st, i);
        if (ck_is_bound(b, t)) continue;
        if (extra == 0) first = t;
        if (extra == 1) second = t;
        extra++;
    }
    if (extra == 0) return DLLM_OK;
    if (cfg->weight_tying && strcmp(first->name, "model.transformer.ff_out.weight") == 0)
        return dllm_errf(b->err, b->errn, DLLM_E_FORMAT,
                         "%s: tensor 'model.transformer.ff_out.weight' (LM head) is present but "
                         "config.json has weight_tying = true (the head is wte); hint: "
                         "config.json does not belong to these weights",
                         first->file);
    return dllm_errf(b->err, b->errn, DLLM_E_FORMAT,
                     "%s: unexpected tensor '%s'%s%s%s (%zu unexpected in all); the engine maps "
                     "only LLaDA's tensors for this config (n_layers = %lld, no biases); hint: "
                     "this is a different architecture or config.json does not belong to these "
                     "weights",
                     first->file, dllm_st_quote(q1, sizeof q1, first->name),
                     second ? ", also '" : "",
                     second ? dllm_st_quote(q2, sizeof q2, second->name) : "", second ? "'" : "",
                     extra, (long long)cfg->n_layers);
}

dllm_status dllm_checkpoint_bind(const dllm_model_config *cfg, dllm_st_set *st, const char *dir,
                                 dllm_checkpoint **out, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_checkpoint *ck = NULL;
    ck_binder b;
    int64_t C, F, V, L, i;
    uint64_t per_dtype[3] = {0, 0, 0};
    size_t k;
    char name[CK_NAME];

    memset(&b, 0, sizeof b);
    *out = NULL;
    if (cfg == NULL || st == NULL)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "checkpoint bind: NULL config or set");
    ck = calloc(1, sizeof *ck);
    if (ck == NULL) goto nomem;
    ck->cfg = *cfg;
    DLLM_TRY_GOTO(dllm_model_config_validate(&ck->cfg, "config.json", err, errn), rc, out);
    C = ck->cfg.d_model;
    F = ck->cfg.mlp_hidden_size;
    V = ck->cfg.embedding_size;
    L = ck->cfg.n_layers;
    ck->dir = strdup(dir != NULL ? dir : "");
    ck->layers = calloc((size_t)L, sizeof *ck->layers);
    b.cap = (size_t)(9 * L + 3);
    b.bound = calloc(b.cap, sizeof *b.bound);
    if (ck->dir == NULL || ck->layers == NULL || b.bound == NULL) goto nomem;
    b.st = st;
    b.dir = dir != NULL ? dir : "checkpoint";
    b.err = err;
    b.errn = errn;

    DLLM_TRY_GOTO(ck_bind(&b, &ck->cfg, "model.transformer.wte.weight", 2, V, C, &ck->wte), rc,
                  out);
    for (i = 0; i < L; i++) {
        static const struct {
            const char *w;
            int ndim;
            char rows, cols; /* 'C', 'F' or 0 */
            size_t off;
        } spec[] = {
            {"attn_norm", 1, 'C', 0, offsetof(dllm_layer_tensors, attn_norm)},
            {"q_proj", 2, 'C', 'C', offsetof(dllm_layer_tensors, q_proj)},
            {"k_proj", 2, 'C', 'C', offsetof(dllm_layer_tensors, k_proj)},
            {"v_proj", 2, 'C', 'C', offsetof(dllm_layer_tensors, v_proj)},
            {"attn_out", 2, 'C', 'C', offsetof(dllm_layer_tensors, attn_out)},
            {"ff_norm", 1, 'C', 0, offsetof(dllm_layer_tensors, ff_norm)},
            {"ff_proj", 2, 'F', 'C', offsetof(dllm_layer_tensors, ff_proj)},
            {"up_proj", 2, 'F', 'C', offsetof(dllm_layer_tensors, up_proj)},
            {"ff_out", 2, 'C', 'F', offsetof(dllm_layer_tensors, ff_out)},
        };
        for (k = 0; k < sizeof spec / sizeof spec[0]; k++) {
            int64_t r = spec[k].rows == 'F' ? F : C;
            int64_t c = spec[k].cols == 'F' ? F : spec[k].cols == 'C' ? C : 0;
            const dllm_st_tensor **slot =
                (const dllm_st_tensor **)((char *)&ck->layers[i] + spec[k].off);
            snprintf(name, sizeof name, "model.transformer.blocks.%lld.%s.weight", (long long)i,
                     spec[k].w);
            DLLM_TRY_GOTO(ck_bind(&b, &ck->cfg, name, spec[k].ndim, r, c, slot), rc, out);
        }
    }
    DLLM_TRY_GOTO(ck_bind(&b, &ck->cfg, "model.transformer.ln_f.weight", 1, C, 0, &ck->ln_f), rc,
                  out);
    if (ck->cfg.weight_tying)
        ck->lm_head = ck->wte;
    else
        DLLM_TRY_GOTO(
            ck_bind(&b, &ck->cfg, "model.transformer.ff_out.weight", 2, V, C, &ck->lm_head), rc,
            out);
    qsort(b.bound, b.n_bound, sizeof *b.bound, ck_cmp_ptr);
    DLLM_TRY_GOTO(ck_check_extra(&b, &ck->cfg), rc, out);

    for (k = 0; k < b.n_bound; k++) {
        const dllm_st_tensor *t = b.bound[k];
        ck->n_params += t->numel;
        ck->n_bytes += t->nbytes;
        per_dtype[t->dtype] += t->nbytes;
        ck->dtype_mask |= 1u << t->dtype;
    }
    ck->dtype = DLLM_DTYPE_F32;
    for (k = 0; k < 3; k++)
        if (per_dtype[k] > per_dtype[ck->dtype]) ck->dtype = (dllm_dtype)k;
    ck->st = st; /* ownership moves in only on success */
    *out = ck;
    ck = NULL;
    goto out;

nomem:
    rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", dir != NULL ? dir : "checkpoint");
out:
    free(b.bound);
    dllm_checkpoint_free(ck);
    return rc;
}

dllm_status dllm_checkpoint_open(const char *dir, dllm_checkpoint **out, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    dllm_model_config cfg;
    dllm_st_set *st = NULL;
    char *cfg_path = NULL;
    size_t l;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG,
                         "empty checkpoint directory; hint: --model <directory>");
    l = strlen(dir);
    cfg_path = malloc(l + sizeof "/config.json");
    if (cfg_path == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", dir);
    memcpy(cfg_path, dir, l);
    memcpy(cfg_path + l, "/config.json", sizeof "/config.json");
    DLLM_TRY_GOTO(dllm_model_config_load(cfg_path, &cfg, err, errn), rc, out);
    DLLM_TRY_GOTO(dllm_st_set_open_dir(dir, &st, err, errn), rc, out);
    DLLM_TRY_GOTO(dllm_checkpoint_bind(&cfg, st, dir, out, err, errn), rc, out);
    st = NULL; /* owned by the checkpoint */
out:
    dllm_st_set_free(st);
    free(cfg_path);
    return rc;
}

void dllm_checkpoint_free(dllm_checkpoint *ck)
{
    if (ck == NULL) return;
    dllm_st_set_free(ck->st);
    free(ck->layers);
    free(ck->dir);
    free(ck);
}

/* ---- printing ---- */

static void ck_dtype_list(const dllm_checkpoint *ck, char *buf, size_t n)
{
    size_t used = 0;
    int k;

    buf[0] = '\0';
    for (k = 0; k < 3; k++) {
        if (!(ck->dtype_mask & (1u << k))) continue;
        int w =
            snprintf(buf + used, n - used, "%s%s", used ? "," : "", dllm_dtype_name((dllm_dtype)k));
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

/* "8.02 B" / "874.37 K" style count, and "14.93 GiB" / "1.67 MiB" style size. */
static const char *ck_human_count(char *buf, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(buf, n, "%.2f B", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.2f M", v / 1e6);
    else
        snprintf(buf, n, "%.2f K", v / 1e3);
    return buf;
}

static const char *ck_human_bytes(char *buf, size_t n, double v)
{
    if (v >= 1024.0 * 1024.0 * 1024.0)
        snprintf(buf, n, "%.2f GiB", v / (1024.0 * 1024.0 * 1024.0));
    else if (v >= 1024.0 * 1024.0)
        snprintf(buf, n, "%.2f MiB", v / (1024.0 * 1024.0));
    else
        snprintf(buf, n, "%.2f KiB", v / 1024.0);
    return buf;
}

void dllm_checkpoint_print(const dllm_checkpoint *ck, FILE *fp)
{
    size_t i, n = dllm_st_set_count(ck->st), nf = dllm_st_set_n_files(ck->st);
    char dts[32], sh[128], q[CK_NAME], hc[32], hb[32];

    fprintf(fp, "checkpoint: %s\n", ck->dir);
    dllm_model_config_print(&ck->cfg, fp);
    ck_dtype_list(ck, dts, sizeof dts);
    fprintf(fp, "parameters: %lld (%s), %llu bytes (%s), dtype %s (present: %s)\n",
            (long long)ck->n_params, ck_human_count(hc, sizeof hc, (double)ck->n_params),
            (unsigned long long)ck->n_bytes, ck_human_bytes(hb, sizeof hb, (double)ck->n_bytes),
            dllm_dtype_name(ck->dtype), dts);
    fprintf(fp, "files: %zu%s\n", nf, dllm_st_set_is_sharded(ck->st) ? " (sharded, index)" : "");
    for (i = 0; i < nf; i++) {
        const dllm_st_file *f = dllm_st_set_file(ck->st, i);
        fprintf(fp, "  %-40s %14llu bytes  %zu tensors\n", dllm_st_file_name(f),
                (unsigned long long)dllm_st_file_size(f), dllm_st_file_count(f));
    }
    fprintf(fp, "tensors: %zu\n", n);
    fprintf(fp, "  %-48s %-5s %-16s %14s  %s\n", "name", "dtype", "shape", "bytes", "file");
    for (i = 0; i < n; i++) {
        const dllm_st_tensor *t = dllm_st_set_tensor(ck->st, i);
        fprintf(fp, "  %-48s %-5s %-16s %14zu  %s\n", dllm_st_quote(q, sizeof q, t->name),
                dllm_dtype_name(t->dtype), dllm_st_shape_str(sh, sizeof sh, t->ndim, t->shape),
                t->nbytes, t->file);
    }
}

dllm_status dllm_checkpoint_to_json(const dllm_checkpoint *ck, struct cJSON **out)
{
    cJSON *o = NULL, *files, *tensors, *dtypes, *x;
    size_t i, n = dllm_st_set_count(ck->st), nf = dllm_st_set_n_files(ck->st);
    int k, ok;

    *out = NULL;
    o = cJSON_CreateObject();
    ok = o != NULL;
    ok = ok && cJSON_AddStringToObject(o, "dir", ck->dir) != NULL;
    x = ok ? dllm_model_config_to_json(&ck->cfg) : NULL;
    if (ok && x != NULL && !cJSON_AddItemToObject(o, "config", x)) cJSON_Delete(x);
    ok = ok && x != NULL && cJSON_GetObjectItemCaseSensitive(o, "config") == x;
    ok = ok && cJSON_AddBoolToObject(o, "sharded", dllm_st_set_is_sharded(ck->st)) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "n_params", (double)ck->n_params) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "n_bytes", (double)ck->n_bytes) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "dtype", dllm_dtype_name(ck->dtype)) != NULL;
    dtypes = ok ? cJSON_AddArrayToObject(o, "dtypes") : NULL;
    ok = ok && dtypes != NULL;
    for (k = 0; ok && k < 3; k++)
        if (ck->dtype_mask & (1u << k)) {
            x = cJSON_CreateString(dllm_dtype_name((dllm_dtype)k));
            ok = x != NULL && cJSON_AddItemToArray(dtypes, x);
        }
    files = ok ? cJSON_AddArrayToObject(o, "files") : NULL;
    ok = ok && files != NULL;
    for (i = 0; ok && i < nf; i++) {
        const dllm_st_file *f = dllm_st_set_file(ck->st, i);
        x = cJSON_CreateObject();
        ok = x != NULL && cJSON_AddItemToArray(files, x);
        ok = ok && cJSON_AddStringToObject(x, "name", dllm_st_file_name(f)) != NULL;
        ok = ok && cJSON_AddNumberToObject(x, "size", (double)dllm_st_file_size(f)) != NULL;
        ok = ok && cJSON_AddNumberToObject(x, "n_tensors", (double)dllm_st_file_count(f)) != NULL;
    }
    tensors = ok ? cJSON_AddArrayToObject(o, "tensors") : NULL;
    ok = ok && tensors != NULL;
    for (i = 0; ok && i < n; i++) {
        const dllm_st_tensor *t = dllm_st_set_tensor(ck->st, i);
        cJSON *shape;
        x = cJSON_CreateObject();
        ok = x != NULL && cJSON_AddItemToArray(tensors, x);
        ok = ok && cJSON_AddStringToObject(x, "name", t->name) != NULL;
        ok = ok && cJSON_AddStringToObject(x, "dtype", dllm_dtype_name(t->dtype)) != NULL;
        shape = ok ? cJSON_AddArrayToObject(x, "shape") : NULL;
        ok = ok && shape != NULL;
        for (k = 0; ok && k < t->ndim; k++) {
            cJSON *d = cJSON_CreateNumber((double)t->shape[k]);
            ok = d != NULL && cJSON_AddItemToArray(shape, d);
        }
        ok = ok && cJSON_AddNumberToObject(x, "nbytes", (double)t->nbytes) != NULL;
        ok = ok && cJSON_AddNumberToObject(x, "offset", (double)t->offset) != NULL;
        ok = ok && cJSON_AddStringToObject(x, "file", t->file) != NULL;
    }
    if (!ok) {
        cJSON_Delete(o);
        return DLLM_E_NOMEM;
    }
    *out = o;
    return DLLM_OK;
}

dllm_status dllm_checkpoint_print_json(const dllm_checkpoint *ck, FILE *fp)
{
    dllm_status rc;
    cJSON *o = NULL;
    char *s = NULL;

    DLLM_TRY(dllm_checkpoint_to_json(ck, &o));
    s = cJSON_Print(o);
    if (s == NULL) {
        rc = DLLM_E_NOMEM;
        goto out;
    }
    rc = (fputs(s, fp) < 0 || fputc('\n', fp) == EOF) ? DLLM_E_IO : DLLM_OK;
out:
    cJSON_free(s);
    cJSON_Delete(o);
    return rc;
}
