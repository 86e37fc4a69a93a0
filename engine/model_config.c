/* model_config.c -- see model_config.h.
 *
 * DESIGN
 * ------
 * - Two stages: cfg_extract() reads keys with strict types into the struct (type errors,
 *   missing keys, keys that select unsupported features), then
 *   dllm_model_config_validate() checks ranges and cross-key invariants. The second stage
 *   is public so that configs built in code (--synthetic) pass the same checks.
 * - The JSON text is copied into a NUL-terminated buffer before cJSON sees it, so a
 *   buffer that is not terminated (fuzzing, mmapped files) is never over-read.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "model_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#define CFG_MAX_FILE ((size_t)16 << 20)
#define CFG_MAX_EXACT 9007199254740991.0 /* 2^53 - 1 */

typedef struct cfg_ctx {
    const cJSON *root;
    const char *name; /* file name for messages */
    char *err;
    size_t errn;
} cfg_ctx;

static const char *cfg_type_name(const cJSON *v)
{
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

/* The value of `key`, or NULL when absent or (if null_is_absent) JSON null. */
static const cJSON *cfg_get(const cfg_ctx *c, const char *key, bool null_is_absent)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (v != NULL && null_is_absent && cJSON_IsNull(v)) return NULL;
    return v;
}

static dllm_status cfg_missing(const cfg_ctx *c, const char *key)
{
    return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                     "%s: required key '%s' is missing; hint: use the config.json published "
                     "with the checkpoint",
                     c->name, key);
}

/* Integer key. *present tells whether it was there (NULL: the key is required). */
static dllm_status cfg_int(const cfg_ctx *c, const char *key, int64_t *out, bool *present)
{
    const cJSON *v = cfg_get(c, key, present != NULL);
    double d;

    if (present != NULL) *present = v != NULL;
    if (v == NULL) return present != NULL ? DLLM_OK : cfg_missing(c, key);
    if (!cJSON_IsNumber(v))
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG, "%s: key '%s' must be an integer, got %s",
                         c->name, key, cfg_type_name(v));
    d = v->valuedouble;
    if (!(d >= -CFG_MAX_EXACT && d <= CFG_MAX_EXACT) || d != floor(d))
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG, "%s: key '%s' must be an integer, got %g",
                         c->name, key, d);
    *out = (int64_t)d;
    return DLLM_OK;
}

/* Token id key: an integer that fits int32 (the range check is in validate). */
static dllm_status cfg_id(const cfg_ctx *c, const char *key, int32_t *out, bool *present)
{
    int64_t v = 0;
    DLLM_TRY(cfg_int(c, key, &v, present));
    if (present != NULL && !*present) return DLLM_OK;
    if (v < INT32_MIN || v > INT32_MAX)
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                         "%s: key '%s' = %lld does not fit a 32-bit token id", c->name, key,
                         (long long)v);
    *out = (int32_t)v;
    return DLLM_OK;
}

static dllm_status cfg_num(const cfg_ctx *c, const char *key, double *out, bool *present)
{
    const cJSON *v = cfg_get(c, key, present != NULL);

    if (present != NULL) *present = v != NULL;
    if (v == NULL) return present != NULL ? DLLM_OK : cfg_missing(c, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                         "%s: key '%s' must be a finite number, got %s", c->name, key,
                         cfg_type_name(v));
    *out = v->valuedouble;
    return DLLM_OK;
}

static dllm_status cfg_bool(const cfg_ctx *c, const char *key, bool *out, bool *present)
{
    const cJSON *v = cfg_get(c, key, present != NULL);

    if (present != NULL) *present = v != NULL;
    if (v == NULL) return present != NULL ? DLLM_OK : cfg_missing(c, key);
    if (!cJSON_IsBool(v))
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                         "%s: key '%s' must be true or false, got %s", c->name, key,
                         cfg_type_name(v));
    *out = cJSON_IsTrue(v);
    return DLLM_OK;
}

/* Optional string key copied into out (DLLM_CONFIG_STR bytes); absent/null leaves `def`. */
static dllm_status cfg_str(const cfg_ctx *c, const char *key, char *out, const char *def)
{
    const cJSON *v = cfg_get(c, key, true);

    if (v == NULL) {
        snprintf(out, DLLM_CONFIG_STR, "%s", def);
        return DLLM_OK;
    }
    if (!cJSON_IsString(v))
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG, "%s: key '%s' must be a string, got %s",
                         c->name, key, cfg_type_name(v));
    if (strlen(v->valuestring) >= DLLM_CONFIG_STR)
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG, "%s: key '%s' is longer than %d bytes",
                         c->name, key, DLLM_CONFIG_STR - 1);
    snprintf(out, DLLM_CONFIG_STR, "%s", v->valuestring);
    return DLLM_OK;
}

/* A boolean (or null) key that must keep its harmless value `ok` (null counts as `ok`). */
static dllm_status cfg_flag_must_be(const cfg_ctx *c, const char *key, bool ok, const char *why)
{
    bool v = ok, present = false;
    DLLM_TRY(cfg_bool(c, key, &v, &present));
    if (present && v != ok)
        return dllm_errf(c->err, c->errn, DLLM_E_UNSUPPORTED,
                         "%s: key '%s' = %s is not supported (%s)", c->name, key,
                         v ? "true" : "false", why);
    return DLLM_OK;
}

static int cfg_cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static dllm_status cfg_no_duplicates(const cfg_ctx *c)
{
    dllm_status rc = DLLM_OK;
    const char **keys = NULL;
    const cJSON *e;
    size_t n = 0, i;

    cJSON_ArrayForEach(e, c->root) n++;
    if (n < 2) return DLLM_OK;
    keys = malloc(n * sizeof *keys);
    if (keys == NULL) return dllm_errf(c->err, c->errn, DLLM_E_NOMEM, "%s: out of memory", c->name);
    i = 0;
    cJSON_ArrayForEach(e, c->root) keys[i++] = e->string;
    qsort(keys, n, sizeof *keys, cfg_cmp_key);
    for (i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            char q[96];
            size_t k, l = strlen(keys[i]);
            for (k = 0; k < l && k < sizeof q - 1; k++)
                q[k] = ((unsigned char)keys[i][k] < 0x20) ? '?' : keys[i][k];
            q[k] = '\0';
            rc =
                dllm_errf(c->err, c->errn, DLLM_E_CONFIG, "%s: key '%s' appears twice", c->name, q);
            break;
        }
    }
    free(keys);
    return rc;
}

static dllm_status cfg_architectures(const cfg_ctx *c, char *out)
{
    const cJSON *v = cfg_get(c, "architectures", true), *e;
    size_t used = 0;

    out[0] = '\0';
    if (v == NULL) return DLLM_OK;
    if (!cJSON_IsArray(v))
        return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                         "%s: key 'architectures' must be an array of strings, got %s", c->name,
                         cfg_type_name(v));
    cJSON_ArrayForEach(e, v)
    {
        size_t l;
        if (!cJSON_IsString(e))
            return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                             "%s: key 'architectures' must be an array of strings, has %s", c->name,
                             cfg_type_name(e));
        l = strlen(e->valuestring);
        if (used + l + (used ? 1 : 0) >= DLLM_CONFIG_STR)
            return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                             "%s: key 'architectures' is longer than %d bytes", c->name,
                             DLLM_CONFIG_STR - 1);
        if (used) out[used++] = ',';
        memcpy(out + used, e->valuestring, l + 1);
        used += l;
    }
    return DLLM_OK;
}

/* Reads every key into cfg (types only; ranges are validate's job). */
static dllm_status cfg_extract(const cfg_ctx *c, dllm_model_config *cfg)
{
    bool have = false, have2 = false;
    double ratio = 0;
    const cJSON *v;

    DLLM_TRY(cfg_no_duplicates(c));
    DLLM_TRY(cfg_str(c, "model_type", cfg->model_type, ""));
    if (cfg->model_type[0] != '\0' && strcmp(cfg->model_type, "llada") != 0)
        return dllm_errf(c->err, c->errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'model_type' = '%s' is not supported (only 'llada')", c->name,
                         cfg->model_type);
    DLLM_TRY(cfg_architectures(c, cfg->architectures));

    DLLM_TRY(cfg_int(c, "d_model", &cfg->d_model, NULL));
    DLLM_TRY(cfg_int(c, "n_layers", &cfg->n_layers, NULL));
    DLLM_TRY(cfg_int(c, "n_heads", &cfg->n_heads, NULL));
    DLLM_TRY(cfg_int(c, "n_kv_heads", &cfg->n_kv_heads, &have));
    if (!have) cfg->n_kv_heads = cfg->n_heads;
    DLLM_TRY(cfg_int(c, "mlp_hidden_size", &cfg->mlp_hidden_size, &have));
    DLLM_TRY(cfg_num(c, "mlp_ratio", &ratio, &have2)); /* may be fractional (2.75) */
    if (!have) {
        double h = ratio * (double)cfg->d_model;
        if (!have2)
            return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                             "%s: required key 'mlp_hidden_size' is missing (and no "
                             "'mlp_ratio' to derive it from)",
                             c->name);
        if (!(h >= 1 && h <= (double)(1 << 24)) || h != floor(h))
            return dllm_errf(c->err, c->errn, DLLM_E_CONFIG,
                             "%s: key 'mlp_ratio' = %g times d_model = %lld is not a valid "
                             "hidden size; hint: set 'mlp_hidden_size'",
                             c->name, ratio, (long long)cfg->d_model);
        cfg->mlp_hidden_size = (int64_t)h;
    }
    DLLM_TRY(cfg_int(c, "vocab_size", &cfg->vocab_size, NULL));
    DLLM_TRY(cfg_int(c, "embedding_size", &cfg->embedding_size, &have));
    if (!have) cfg->embedding_size = cfg->vocab_size;
    DLLM_TRY(cfg_int(c, "max_sequence_length", &cfg->max_sequence_length, NULL));
    DLLM_TRY(cfg_num(c, "rope_theta", &cfg->rope_theta, NULL));
    DLLM_TRY(cfg_num(c, "rms_norm_eps", &cfg->rms_norm_eps, &have));
    if (!have) {
        DLLM_TRY(cfg_num(c, "layer_norm_eps", &cfg->rms_norm_eps, &have2));
        if (!have2) cfg->rms_norm_eps = 1e-5;
    }
    DLLM_TRY(cfg_id(c, "mask_token_id", &cfg->mask_token_id, NULL));
    DLLM_TRY(cfg_id(c, "eos_token_id", &cfg->eos_token_id, NULL));
    DLLM_TRY(cfg_id(c, "pad_token_id", &cfg->pad_token_id, &have));
    if (!have) cfg->pad_token_id = cfg->eos_token_id;

    DLLM_TRY(cfg_bool(c, "weight_tying", &cfg->weight_tying, NULL));
    DLLM_TRY(cfg_bool(c, "include_bias", &cfg->include_bias, NULL));
    cfg->include_qkv_bias = false;
    DLLM_TRY(cfg_bool(c, "include_qkv_bias", &cfg->include_qkv_bias, &have));
    DLLM_TRY(cfg_bool(c, "rope", &cfg->rope, NULL));
    cfg->alibi = false;
    DLLM_TRY(cfg_bool(c, "alibi", &cfg->alibi, &have));

    DLLM_TRY(cfg_str(c, "layer_norm_type", cfg->layer_norm_type, "rms"));
    DLLM_TRY(cfg_str(c, "activation_type", cfg->activation_type, "silu"));
    DLLM_TRY(cfg_str(c, "block_type", cfg->block_type, "llama"));

    /* keys that would change the computation if set */
    DLLM_TRY(cfg_flag_must_be(c, "multi_query_attention", false,
                              "multi-query attention is grouped-query attention with one "
                              "KV head"));
    DLLM_TRY(cfg_flag_must_be(c, "attention_layer_norm", false, "no QK layer norm"));
    DLLM_TRY(cfg_flag_must_be(c, "input_emb_norm", false, "no embedding norm"));
    DLLM_TRY(cfg_flag_must_be(c, "scale_logits", false, "logits are not scaled"));
    DLLM_TRY(cfg_flag_must_be(c, "layer_norm_with_affine", true, "RMSNorm has a weight"));
    DLLM_TRY(cfg_flag_must_be(c, "bias_for_layer_norm", false, "norms have no bias"));
    v = cfg_get(c, "clip_qkv", true);
    if (v != NULL)
        return dllm_errf(c->err, c->errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'clip_qkv' is set (%s); QKV clipping is not supported", c->name,
                         cfg_type_name(v));
    return DLLM_OK;
}

dllm_status dllm_model_config_validate(dllm_model_config *cfg, const char *name, char *err,
                                       size_t errn)
{
    const struct {
        const char *key;
        int64_t v, lo, hi;
    } r[] = {
        {"d_model", cfg->d_model, 1, 1 << 20},
        {"n_layers", cfg->n_layers, 1, 4096},
        {"n_heads", cfg->n_heads, 1, 1 << 16},
        {"n_kv_heads", cfg->n_kv_heads, 1, 1 << 16},
        {"mlp_hidden_size", cfg->mlp_hidden_size, 1, 1 << 24},
        {"vocab_size", cfg->vocab_size, 1, INT32_MAX},
        {"embedding_size", cfg->embedding_size, 1, INT32_MAX},
        {"max_sequence_length", cfg->max_sequence_length, 1, 1 << 24},
    };
    const struct {
        const char *key;
        int32_t v;
    } ids[] = {
        {"mask_token_id", cfg->mask_token_id},
        {"eos_token_id", cfg->eos_token_id},
        {"pad_token_id", cfg->pad_token_id},
    };
    size_t i;

    if (name == NULL) name = "config";
    for (i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi)
            return dllm_errf(err, errn, DLLM_E_CONFIG,
                             "%s: key '%s' = %lld is outside [%lld, %lld]", name, r[i].key,
                             (long long)r[i].v, (long long)r[i].lo, (long long)r[i].hi);
    if (cfg->embedding_size < cfg->vocab_size)
        return dllm_errf(err, errn, DLLM_E_CONFIG,
                         "%s: key 'embedding_size' = %lld is smaller than vocab_size = %lld", name,
                         (long long)cfg->embedding_size, (long long)cfg->vocab_size);
    if (cfg->d_model % cfg->n_heads != 0)
        return dllm_errf(err, errn, DLLM_E_CONFIG,
                         "%s: key 'n_heads' = %lld does not divide d_model = %lld", name,
                         (long long)cfg->n_heads, (long long)cfg->d_model);
    cfg->head_size = cfg->d_model / cfg->n_heads;
    if (cfg->head_size % 2 != 0)
        return dllm_errf(err, errn, DLLM_E_CONFIG,
                         "%s: head size d_model / n_heads = %lld is odd; RoPE rotates pairs of "
                         "dimensions (keys 'd_model', 'n_heads')",
                         name, (long long)cfg->head_size);
    if (cfg->n_kv_heads != cfg->n_heads) {
        if (cfg->n_kv_heads < cfg->n_heads && cfg->n_heads % cfg->n_kv_heads == 0)
            return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                             "%s: key 'n_kv_heads' = %lld with n_heads = %lld is grouped-query "
                             "attention, which is not supported (LLaDA uses n_kv_heads == "
                             "n_heads)",
                             name, (long long)cfg->n_kv_heads, (long long)cfg->n_heads);
        return dllm_errf(err, errn, DLLM_E_CONFIG,
                         "%s: key 'n_kv_heads' = %lld is invalid with n_heads = %lld", name,
                         (long long)cfg->n_kv_heads, (long long)cfg->n_heads);
    }
    if (!(cfg->rope_theta > 0) || !isfinite(cfg->rope_theta))
        return dllm_errf(err, errn, DLLM_E_CONFIG, "%s: key 'rope_theta' = %g must be > 0", name,
                         cfg->rope_theta);
    if (!(cfg->rms_norm_eps > 0 && cfg->rms_norm_eps < 1))
        return dllm_errf(err, errn, DLLM_E_CONFIG, "%s: key 'rms_norm_eps' = %g must be in (0, 1)",
                         name, cfg->rms_norm_eps);
    for (i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].v < 0 || ids[i].v >= cfg->embedding_size)
            return dllm_errf(err, errn, DLLM_E_CONFIG,
                             "%s: key '%s' = %d is outside [0, embedding_size = %lld)", name,
                             ids[i].key, (int)ids[i].v, (long long)cfg->embedding_size);
    if (cfg->include_bias)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'include_bias' = true is not supported (LLaDA has no biases)",
                         name);
    if (cfg->include_qkv_bias)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'include_qkv_bias' = true is not supported (LLaDA has no "
                         "biases)",
                         name);
    if (!cfg->rope)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'rope' = false is not supported (the engine implements RoPE "
                         "positions only)",
                         name);
    if (cfg->alibi)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'alibi' = true is not supported (RoPE only)", name);
    if (strcmp(cfg->layer_norm_type, "rms") != 0)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'layer_norm_type' = '%s' is not supported (only 'rms')", name,
                         cfg->layer_norm_type);
    if (strcmp(cfg->activation_type, "silu") != 0 && strcmp(cfg->activation_type, "swiglu") != 0)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'activation_type' = '%s' is not supported (only 'silu' or "
                         "'swiglu')",
                         name, cfg->activation_type);
    if (strcmp(cfg->block_type, "llama") != 0)
        return dllm_errf(err, errn, DLLM_E_UNSUPPORTED,
                         "%s: key 'block_type' = '%s' is not supported (only 'llama': separate "
                         "q/k/v and gate/up projections)",
                         name, cfg->block_type);
    return DLLM_OK;
}

dllm_status dllm_model_config_parse(const char *json, size_t len, const char *name,
                                    dllm_model_config *cfg, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    char *text = NULL;
    const char *end = NULL;
    cJSON *root = NULL;
    cfg_ctx c;
    dllm_model_config tmp;

    memset(cfg, 0, sizeof *cfg);
    memset(&tmp, 0, sizeof tmp);
    if (name == NULL) name = "config.json";
    if (json == NULL && len != 0)
        return dllm_errf(err, errn, DLLM_E_INVALID_ARG, "%s: NULL buffer", name);
    if (len != 0 && memchr(json, '\0', len) != NULL)
        return dllm_errf(err, errn, DLLM_E_FORMAT, "%s: contains a NUL byte; not a JSON file",
                         name);
    text = malloc(len + 1);
    if (text == NULL) return dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", name);
    if (len) memcpy(text, json, len);
    text[len] = '\0';
    root = cJSON_ParseWithOpts(text, &end, 1);
    if (root == NULL) {
        size_t at = end != NULL && end >= text ? (size_t)(end - text) : 0;
        rc = dllm_errf(err, errn, DLLM_E_FORMAT,
                       "%s: not valid JSON (error near byte %zu); hint: use the config.json "
                       "published with the checkpoint",
                       name, at);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: not a JSON object", name);
        goto out;
    }
    c.root = root;
    c.name = name;
    c.err = err;
    c.errn = errn;
    DLLM_TRY_GOTO(cfg_extract(&c, &tmp), rc, out);
    DLLM_TRY_GOTO(dllm_model_config_validate(&tmp, name, err, errn), rc, out);
    *cfg = tmp;
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

dllm_status dllm_model_config_load(const char *path, dllm_model_config *cfg, char *err, size_t errn)
{
    dllm_status rc = DLLM_OK;
    FILE *fp = NULL;
    char *buf = NULL;
    struct stat st;

    memset(cfg, 0, sizeof *cfg);
    fp = fopen(path, "rb");
    if (fp == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: not a readable regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > (uint64_t)CFG_MAX_FILE) {
        rc = dllm_errf(err, errn, DLLM_E_FORMAT, "%s: %lld bytes is too large for a config.json",
                       path, (long long)st.st_size);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = dllm_errf(err, errn, DLLM_E_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
        rc = dllm_errf(err, errn, DLLM_E_IO, "%s: short read", path);
        goto out;
    }
    rc = dllm_model_config_parse(buf, (size_t)st.st_size, path, cfg, err, errn);
out:
    free(buf);
    if (fp != NULL) fclose(fp);
    return rc;
}

void dllm_model_config_llada_8b(dllm_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->d_model = 4096;
    cfg->n_layers = 32;
    cfg->n_heads = 32;
    cfg->n_kv_heads = 32;
    cfg->head_size = 128;
    cfg->mlp_hidden_size = 12288;
    cfg->vocab_size = 126464;
    cfg->embedding_size = 126464;
    cfg->max_sequence_length = 4096;
    cfg->rope_theta = 500000.0;
    cfg->rms_norm_eps = 1e-5;
    cfg->mask_token_id = 126336;
    cfg->eos_token_id = 126081;
    cfg->pad_token_id = 126081;
    cfg->weight_tying = false;
    cfg->include_bias = false;
    cfg->include_qkv_bias = false;
    cfg->rope = true;
    cfg->alibi = false;
    snprintf(cfg->layer_norm_type, sizeof cfg->layer_norm_type, "rms");
    snprintf(cfg->activation_type, sizeof cfg->activation_type, "silu");
    snprintf(cfg->block_type, sizeof cfg->block_type, "llama");
    snprintf(cfg->model_type, sizeof cfg->model_type, "llada");
    snprintf(cfg->architectures, sizeof cfg->architectures, "LLaDAModelLM");
}

int64_t dllm_model_config_n_params(const dllm_model_config *cfg)
{
    int64_t C = cfg->d_model, F = cfg->mlp_hidden_size, V = cfg->embedding_size;
    int64_t per_layer = 2 * C + 4 * C * C + 3 * F * C;
    return V * C + cfg->n_layers * per_layer + C + (cfg->weight_tying ? 0 : V * C);
}

void dllm_model_config_print(const dllm_model_config *cfg, FILE *fp)
{
    fprintf(fp, "model: %s (%s), block %s, activation %s, norm %s\n",
            cfg->model_type[0] ? cfg->model_type : "?",
            cfg->architectures[0] ? cfg->architectures : "?", cfg->block_type, cfg->activation_type,
            cfg->layer_norm_type);
    fprintf(fp, "  d_model %lld  n_layers %lld  n_heads %lld  n_kv_heads %lld  head_size %lld\n",
            (long long)cfg->d_model, (long long)cfg->n_layers, (long long)cfg->n_heads,
            (long long)cfg->n_kv_heads, (long long)cfg->head_size);
    fprintf(fp,
            "  mlp_hidden_size %lld  vocab_size %lld  embedding_size %lld  "
            "max_sequence_length %lld\n",
            (long long)cfg->mlp_hidden_size, (long long)cfg->vocab_size,
            (long long)cfg->embedding_size, (long long)cfg->max_sequence_length);
    fprintf(fp, "  rope_theta %g  rms_norm_eps %g  weight_tying %s\n", cfg->rope_theta,
            cfg->rms_norm_eps, cfg->weight_tying ? "true" : "false");
    fprintf(fp, "  mask_token_id %d  eos_token_id %d  pad_token_id %d\n", (int)cfg->mask_token_id,
            (int)cfg->eos_token_id, (int)cfg->pad_token_id);
}

struct cJSON *dllm_model_config_to_json(const dllm_model_config *cfg)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;

#define CFG_JNUM(k, v) ok = ok && cJSON_AddNumberToObject(o, k, (double)(v)) != NULL
#define CFG_JBOOL(k, v) ok = ok && cJSON_AddBoolToObject(o, k, (v) ? 1 : 0) != NULL
#define CFG_JSTR(k, v) ok = ok && cJSON_AddStringToObject(o, k, v) != NULL
    CFG_JSTR("model_type", cfg->model_type);
    CFG_JSTR("architectures", cfg->architectures);
    CFG_JSTR("block_type", cfg->block_type);
    CFG_JSTR("activation_type", cfg->activation_type);
    CFG_JSTR("layer_norm_type", cfg->layer_norm_type);
    CFG_JNUM("d_model", cfg->d_model);
    CFG_JNUM("n_layers", cfg->n_layers);
    CFG_JNUM("n_heads", cfg->n_heads);
    CFG_JNUM("n_kv_heads", cfg->n_kv_heads);
    CFG_JNUM("head_size", cfg->head_size);
    CFG_JNUM("mlp_hidden_size", cfg->mlp_hidden_size);
    CFG_JNUM("vocab_size", cfg->vocab_size);
    CFG_JNUM("embedding_size", cfg->embedding_size);
    CFG_JNUM("max_sequence_length", cfg->max_sequence_length);
    CFG_JNUM("rope_theta", cfg->rope_theta);
    CFG_JNUM("rms_norm_eps", cfg->rms_norm_eps);
    CFG_JNUM("mask_token_id", cfg->mask_token_id);
    CFG_JNUM("eos_token_id", cfg->eos_token_id);
    CFG_JNUM("pad_token_id", cfg->pad_token_id);
    CFG_JBOOL("weight_tying", cfg->weight_tying);
    CFG_JBOOL("include_bias", cfg->include_bias);
    CFG_JBOOL("include_qkv_bias", cfg->include_qkv_bias);
    CFG_JBOOL("rope", cfg->rope);
    CFG_JBOOL("alibi", cfg->alibi);
#undef CFG_JNUM
#undef CFG_JBOOL
#undef CFG_JSTR
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
