/* codec.c -- GenerateRequest decoding/validation and GenerateResponse encoding (codec.h).
 *
 * DESIGN
 * ------
 * - protobuf-c unpacks into its own tree; everything kept is copied into dllm_gen_request, so
 *   the tree is freed before returning and callers never see protobuf-c types.
 * - Validation order: envelope (request_id, reply_topic, metadata) first so an error reply
 *   can be addressed, then model, prompt, parameters, length.
 * - Numbers are range-checked before they reach dllm_gen_params (int32 fields arrive as
 *   int32 already; floats must be finite).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dllm/v1/generate.pb-c.h"

#define MAX_ID_BYTES 256
#define MAX_META 64
#define MAX_META_KEY 256
#define MAX_META_VALUE 4096
#define MAX_SALT 256

const char *dllm_errc_name(dllm_errc c)
{
    switch (c) {
    case DLLM_ERRC_NONE: return "NONE";
    case DLLM_ERRC_MALFORMED: return "MALFORMED";
    case DLLM_ERRC_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case DLLM_ERRC_PROMPT_TOO_LONG: return "PROMPT_TOO_LONG";
    case DLLM_ERRC_UNKNOWN_MODEL: return "UNKNOWN_MODEL";
    case DLLM_ERRC_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case DLLM_ERRC_INTERNAL: return "INTERNAL";
    case DLLM_ERRC_UNAVAILABLE: return "UNAVAILABLE";
    }
    return "UNSPECIFIED";
}

int dllm_errc_is_poison(dllm_errc c)
{
    return c == DLLM_ERRC_MALFORMED || c == DLLM_ERRC_INVALID_ARGUMENT ||
           c == DLLM_ERRC_PROMPT_TOO_LONG || c == DLLM_ERRC_UNKNOWN_MODEL;
}

void dllm_codec_limits_init(dllm_codec_limits *l)
{
    memset(l, 0, sizeof *l);
    l->max_request_bytes = 4u << 20;
    l->max_text_bytes = 1u << 20;
    l->max_prompt_ids = 1u << 20;
    l->max_gen_length = 1 << 16;
    l->mask_id = -1;
}

int dllm_topic_name_valid(const char *s)
{
    size_t n;
    if (s == NULL) return 0;
    n = strlen(s);
    if (n == 0 || n > 249 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void dllm_gen_request_deinit(dllm_gen_request *r)
{
    if (r == NULL) return;
    free(r->request_id);
    free(r->reply_topic);
    free(r->text);
    free(r->system);
    free(r->prompt_ids);
    free(r->model);
    free(r->cache_salt);
    for (size_t i = 0; i < r->n_meta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].value);
    }
    free(r->meta);
    memset(r, 0, sizeof *r);
}

/* ---- helpers ---- */

static void set_msg(char *msg, size_t msgn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msgn, const char *fmt, ...)
{
    va_list ap;
    if (msg == NULL || msgn == 0) return;
    va_start(ap, fmt);
    vsnprintf(msg, msgn, fmt, ap);
    va_end(ap);
}

/* strdup that reports failure through *ok (left untouched on success). */
static char *dup_str(const char *s, int *ok)
{
    char *d;
    if (s == NULL) return NULL;
    d = strdup(s);
    if (d == NULL) *ok = 0;
    return d;
}

static int finite_in(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

/* Fills the generation parameters from the present fields; returns 0 or -1 (msg set). */
static int apply_params(const Dllm__V1__GenerateRequest *m, const dllm_codec_limits *lim,
                        dllm_gen_params *p, char *msg, size_t msgn)
{
    const Dllm__V1__GenerationParams *g = m->params;
    const Dllm__V1__CacheParams *c = m->cache;

    if (g != NULL) {
        if (g->has_gen_length) {
            if (g->gen_length < 1 || g->gen_length > lim->max_gen_length) {
                set_msg(msg, msgn, "params.gen_length = %d: must be in [1, %d]", (int)g->gen_length,
                        (int)lim->max_gen_length);
                return -1;
            }
            p->gen_length = g->gen_length;
        }
        if (g->has_steps) {
            if (g->steps < 1) {
                set_msg(msg, msgn, "params.steps = %d: must be >= 1", (int)g->steps);
                return -1;
            }
            p->steps = g->steps;
        }
        if (g->has_block_length) {
            if (g->block_length < 1) {
                set_msg(msg, msgn, "params.block_length = %d: must be >= 1", (int)g->block_length);
                return -1;
            }
            p->block_length = g->block_length;
        }
        if (g->has_temperature) {
            if (!finite_in(g->temperature, 0.0, 100.0)) {
                set_msg(msg, msgn, "params.temperature = %g: must be a finite number in [0, 100]",
                        (double)g->temperature);
                return -1;
            }
            p->temperature = g->temperature;
        }
        if (g->has_cfg_scale) {
            if (!finite_in(g->cfg_scale, 0.0, 100.0)) {
                set_msg(msg, msgn, "params.cfg_scale = %g: must be a finite number in [0, 100]",
                        (double)g->cfg_scale);
                return -1;
            }
            p->cfg_scale = g->cfg_scale;
        }
        if (g->has_remasking) {
            switch ((int)g->remasking) {
            case DLLM__V1__REMASKING__REMASKING_UNSPECIFIED: break;
            case DLLM__V1__REMASKING__REMASKING_LOW_CONFIDENCE:
                p->remasking = DLLM_REMASK_LOW_CONFIDENCE;
                break;
            case DLLM__V1__REMASKING__REMASKING_RANDOM: p->remasking = DLLM_REMASK_RANDOM; break;
            default:
                set_msg(msg, msgn, "params.remasking = %d: unknown value", (int)g->remasking);
                return -1;
            }
        }
        if (g->has_seed) p->seed = g->seed;
        if (g->has_logits_eos_inf) p->logits_eos_inf = g->logits_eos_inf ? 1 : 0;
        if (g->has_confidence_eos_eot_inf)
            p->confidence_eos_eot_inf = g->confidence_eos_eot_inf ? 1 : 0;
        if (g->has_threshold) {
            if (!finite_in(g->threshold, 0.0, 1.0)) {
                set_msg(msg, msgn, "params.threshold = %g: must be a finite number in [0, 1] "
                        "(0 = off)", (double)g->threshold);
                return -1;
            }
            p->threshold = g->threshold;
        }
        if (g->has_factor) {
            if (!finite_in(g->factor, 0.0, 1e6)) {
                set_msg(msg, msgn, "params.factor = %g: must be a finite number >= 0 (0 = off)",
                        (double)g->factor);
                return -1;
            }
            p->factor = g->factor;
        }
        if (g->has_early_stop) p->early_stop = g->early_stop ? 1 : 0;
    }
    if (c != NULL) {
        if (c->has_policy) {
            switch ((int)c->policy) {
            case DLLM__V1__CACHE_POLICY__CACHE_POLICY_UNSPECIFIED: break;
            case DLLM__V1__CACHE_POLICY__CACHE_POLICY_NONE: p->cache = DLLM_CACHE_NONE; break;
            case DLLM__V1__CACHE_POLICY__CACHE_POLICY_DLLM: p->cache = DLLM_CACHE_DLLM; break;
            case DLLM__V1__CACHE_POLICY__CACHE_POLICY_PREFIX: p->cache = DLLM_CACHE_PREFIX; break;
            case DLLM__V1__CACHE_POLICY__CACHE_POLICY_DUAL: p->cache = DLLM_CACHE_DUAL; break;
            case DLLM__V1__CACHE_POLICY__CACHE_POLICY_SPARSE: p->cache = DLLM_CACHE_SPARSE; break;
            case DLLM__V1__CACHE_POLICY__CACHE_POLICY_D2: p->cache = DLLM_CACHE_D2; break;
            default:
                set_msg(msg, msgn, "cache.policy = %d: unknown value", (int)c->policy);
                return -1;
            }
        }
        if (c->has_kp) {
            if (c->kp < 1) {
                set_msg(msg, msgn, "cache.kp = %d: must be >= 1", (int)c->kp);
                return -1;
            }
            p->cache_params.kp = c->kp;
        }
        if (c->has_kr) {
            if (c->kr < 1) {
                set_msg(msg, msgn, "cache.kr = %d: must be >= 1", (int)c->kr);
                return -1;
            }
            p->cache_params.kr = c->kr;
        }
        if (c->has_rho) {
            if (!finite_in(c->rho, 0.0, 1.0)) {
                set_msg(msg, msgn, "cache.rho = %g: must be a finite number in [0, 1]", c->rho);
                return -1;
            }
            p->cache_params.rho = c->rho;
        }
        if (c->has_layer0_refresh) p->cache_params.layer0_refresh = c->layer0_refresh ? 1 : 0;
        if (c->has_cfg_interval) {
            if (c->cfg_interval < 0) {
                set_msg(msg, msgn, "cache.cfg_interval = %d: must be >= 0", (int)c->cfg_interval);
                return -1;
            }
            p->cache_params.cfg_interval = c->cfg_interval;
        }
        /* policy parameters: ranges here, combinations in dllm_gen_params_validate */
        if (c->has_keep_ratio) {
            if (!finite_in(c->keep_ratio, 0.0, 1.0) || c->keep_ratio <= 0.0) {
                set_msg(msg, msgn, "cache.keep_ratio = %g: must be in (0, 1]", c->keep_ratio);
                return -1;
            }
            p->cache_params.keep_ratio = c->keep_ratio;
        }
        if (c->has_kernel) {
            if (c->kernel < 1 || c->kernel % 2 == 0) {
                set_msg(msg, msgn, "cache.kernel = %d: must be odd and >= 1", (int)c->kernel);
                return -1;
            }
            p->cache_params.kernel = c->kernel;
        }
        if (c->has_d2_k) {
            if (c->d2_k < 1) {
                set_msg(msg, msgn, "cache.d2_k = %d: must be >= 1", (int)c->d2_k);
                return -1;
            }
            p->cache_params.d2_k = c->d2_k;
        }
        if (c->has_d2_p) {
            if (!finite_in(c->d2_p, 0.0, 1.0)) {
                set_msg(msg, msgn, "cache.d2_p = %g: must be in [0, 1]", c->d2_p);
                return -1;
            }
            p->cache_params.d2_p = c->d2_p;
        }
        if (c->has_d2_sigma) {
            if (!finite_in(c->d2_sigma, 0.0, 1e6) || c->d2_sigma <= 0.0) {
                set_msg(msg, msgn, "cache.d2_sigma = %g: must be a finite number > 0",
                        c->d2_sigma);
                return -1;
            }
            p->cache_params.d2_sigma = c->d2_sigma;
        }
        if (c->has_d2_inflate) {
            if (c->d2_inflate < 0) {
                set_msg(msg, msgn, "cache.d2_inflate = %d: must be >= 0", (int)c->d2_inflate);
                return -1;
            }
            p->cache_params.d2_inflate = c->d2_inflate;
        }
        if (c->has_d2_prior) p->cache_params.d2_prior = c->d2_prior ? 1 : 0;
        if (c->has_prefix_tokens && c->prefix_tokens != 0) {
            if (c->prefix_tokens < 0) {
                set_msg(msg, msgn, "cache.prefix_tokens = %d: must be >= 1 (0 or absent = "
                        "the system turn)", (int)c->prefix_tokens);
                return -1;
            }
            if (!(c->has_use_prompt_slot && c->use_prompt_slot)) {
                set_msg(msg, msgn, "cache.prefix_tokens = %d needs cache.use_prompt_slot",
                        (int)c->prefix_tokens);
                return -1;
            }
        }
        if (c->cache_salt != NULL && strlen(c->cache_salt) > MAX_SALT) {
            set_msg(msg, msgn, "cache.cache_salt: longer than %d bytes", MAX_SALT);
            return -1;
        }
    }
    return 0;
}

/* Takes the prompt (text, token ids or messages); returns 0 or -1 (msg set), -2 on OOM. */
static int take_prompt(const Dllm__V1__GenerateRequest *m, const dllm_codec_limits *lim,
                       dllm_gen_request *r, char *msg, size_t msgn)
{
    int ok = 1;
    int has_prompt = m->prompt_case != DLLM__V1__GENERATE_REQUEST__PROMPT__NOT_SET;

    if (has_prompt == (m->n_messages > 0)) {
        set_msg(msg, msgn, "give exactly one of text, token_ids or messages");
        return -1;
    }
    if (m->system != NULL && strlen(m->system) > lim->max_text_bytes) {
        set_msg(msg, msgn, "system: longer than %zu bytes", lim->max_text_bytes);
        return -1;
    }
    if (m->prompt_case == DLLM__V1__GENERATE_REQUEST__PROMPT_TEXT) {
        if (strlen(m->text) > lim->max_text_bytes) {
            set_msg(msg, msgn, "text: longer than %zu bytes", lim->max_text_bytes);
            return -1;
        }
        if (m->raw && m->system != NULL) {
            set_msg(msg, msgn, "system: not allowed with raw (no chat template)");
            return -1;
        }
        r->text = dup_str(m->text, &ok);
        r->system = dup_str(m->system, &ok);
        r->raw = m->has_raw && m->raw;
        return ok ? 0 : -2;
    }
    if (m->prompt_case == DLLM__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS) {
        const Dllm__V1__TokenIds *t = m->token_ids;
        if (m->system != NULL || (m->has_raw && m->raw)) {
            set_msg(msg, msgn, "system and raw apply to a text prompt only");
            return -1;
        }
        if (t == NULL || t->n_ids == 0) {
            set_msg(msg, msgn, "token_ids: empty");
            return -1;
        }
        if (t->n_ids > lim->max_prompt_ids) {
            set_msg(msg, msgn, "token_ids: %zu ids, more than %zu", t->n_ids, lim->max_prompt_ids);
            return -1;
        }
        for (size_t i = 0; i < t->n_ids; i++) {
            int32_t id = t->ids[i];
            if (id < 0 || (lim->vocab_size > 0 && id >= lim->vocab_size)) {
                set_msg(msg, msgn, "token_ids[%zu] = %d: outside the vocabulary [0, %lld)", i,
                        (int)id, (long long)lim->vocab_size);
                return -1;
            }
            if (lim->mask_id >= 0 && id == lim->mask_id) {
                set_msg(msg, msgn, "token_ids[%zu] = %d: the mask token is not allowed", i,
                        (int)id);
                return -1;
            }
        }
        r->prompt_ids = malloc(t->n_ids * sizeof *r->prompt_ids);
        if (r->prompt_ids == NULL) return -2;
        memcpy(r->prompt_ids, t->ids, t->n_ids * sizeof *r->prompt_ids);
        r->n_prompt_ids = t->n_ids;
        return 0;
    }
    /* messages: [system,] user */
    if (m->system != NULL || (m->has_raw && m->raw)) {
        set_msg(msg, msgn, "system and raw do not combine with messages (use a system turn)");
        return -1;
    }
    if (m->n_messages > 2) {
        set_msg(msg, msgn, "messages: %zu turns; supported: [system,] user", m->n_messages);
        return -1;
    }
    for (size_t i = 0; i < m->n_messages; i++) {
        const Dllm__V1__ChatMessage *cm = m->messages[i];
        const char *want = (m->n_messages == 2 && i == 0) ? "system" : "user";
        if (cm->role == NULL || strcmp(cm->role, want) != 0) {
            set_msg(msg, msgn, "messages[%zu].role = '%s': expected '%s' (supported: [system,] "
                    "user)", i, cm->role ? cm->role : "", want);
            return -1;
        }
        if (cm->content == NULL) {
            set_msg(msg, msgn, "messages[%zu].content: missing", i);
            return -1;
        }
        if (strlen(cm->content) > lim->max_text_bytes) {
            set_msg(msg, msgn, "messages[%zu].content: longer than %zu bytes", i,
                    lim->max_text_bytes);
            return -1;
        }
    }
    if (m->n_messages == 2) r->system = dup_str(m->messages[0]->content, &ok);
    r->text = dup_str(m->messages[m->n_messages - 1]->content, &ok);
    return ok ? 0 : -2;
}

dllm_status dllm_gen_request_check_length(const dllm_gen_request *r, size_t n_prompt_tokens,
                                      const dllm_codec_limits *lim, dllm_errc *code,
                                      char *msg, size_t msgn)
{
    *code = DLLM_ERRC_NONE;
    if (lim->max_sequence_length > 0 &&
        (int64_t)n_prompt_tokens + r->params.gen_length > lim->max_sequence_length) {
        *code = DLLM_ERRC_PROMPT_TOO_LONG;
        set_msg(msg, msgn, "prompt of %zu tokens + gen_length %d exceeds the model's maximum "
                "sequence length %lld", n_prompt_tokens, (int)r->params.gen_length,
                (long long)lim->max_sequence_length);
        return DLLM_E_INVALID_ARG;
    }
    if (r->prefix_tokens > 0 && (size_t)r->prefix_tokens > n_prompt_tokens) {
        *code = DLLM_ERRC_INVALID_ARGUMENT;
        set_msg(msg, msgn, "cache.prefix_tokens = %d exceeds the prompt's %zu tokens (the "
                "prefix counts the encoded prompt, chat template included)",
                (int)r->prefix_tokens, n_prompt_tokens);
        return DLLM_E_INVALID_ARG;
    }
    return DLLM_OK;
}

dllm_status dllm_gen_request_decode(const void *buf, size_t len, const dllm_codec_limits *lim,
                                const dllm_gen_request_hints *hints, dllm_gen_request *out,
                                dllm_errc *code, char *msg, size_t msgn)
{
    dllm_status rc = DLLM_E_INVALID_ARG;
    Dllm__V1__GenerateRequest *m = NULL;
    dllm_errc ec = DLLM_ERRC_INVALID_ARGUMENT;
    const char *rid, *rto;
    int ok = 1, t;
    char perr[256];

    memset(out, 0, sizeof *out);
    dllm_gen_params_init(&out->params);
    set_msg(msg, msgn, "%s", "");
    if (len > lim->max_request_bytes) {
        set_msg(msg, msgn, "request of %zu bytes exceeds the limit of %zu", len,
                lim->max_request_bytes);
        goto out;
    }
    m = dllm__v1__generate_request__unpack(NULL, len, (const uint8_t *)buf);
    if (m == NULL) {
        ec = DLLM_ERRC_MALFORMED;
        rc = DLLM_E_FORMAT;
        set_msg(msg, msgn, "cannot decode %zu bytes as dllm.v1.GenerateRequest", len);
        /* the headers may still address an error reply */
        if (hints != NULL && hints->correlation_id != NULL && hints->correlation_id[0] != '\0' &&
            strlen(hints->correlation_id) <= MAX_ID_BYTES)
            out->request_id = dup_str(hints->correlation_id, &ok);
        if (hints != NULL && dllm_topic_name_valid(hints->reply_to))
            out->reply_topic = dup_str(hints->reply_to, &ok);
        goto out;
    }

    /* envelope first: what an error reply needs */
    rid = m->request_id != NULL && m->request_id[0] != '\0'
              ? m->request_id
              : (hints != NULL ? hints->correlation_id : NULL);
    if (rid != NULL && rid[0] != '\0' && strlen(rid) <= MAX_ID_BYTES)
        out->request_id = dup_str(rid, &ok);
    rto = m->reply_topic != NULL && m->reply_topic[0] != '\0'
              ? m->reply_topic
              : (hints != NULL ? hints->reply_to : NULL);
    if (dllm_topic_name_valid(rto)) out->reply_topic = dup_str(rto, &ok);
    if (m->n_metadata <= MAX_META) {
        out->meta = calloc(m->n_metadata ? m->n_metadata : 1, sizeof *out->meta);
        if (out->meta == NULL) ok = 0;
        for (size_t i = 0; ok && i < m->n_metadata; i++) {
            const char *k = m->metadata[i]->key ? m->metadata[i]->key : "";
            const char *v = m->metadata[i]->value ? m->metadata[i]->value : "";
            if (strlen(k) > MAX_META_KEY || strlen(v) > MAX_META_VALUE) continue;
            out->meta[out->n_meta].key = dup_str(k, &ok);
            out->meta[out->n_meta].value = dup_str(v, &ok);
            out->n_meta++;
        }
    }
    if (!ok) goto nomem;

    if (rid == NULL || rid[0] == '\0') {
        set_msg(msg, msgn, "request_id: missing (set the field or the correlation-id header)");
        goto out;
    }
    if (out->request_id == NULL) {
        set_msg(msg, msgn, "request_id: longer than %d bytes", MAX_ID_BYTES);
        goto out;
    }
    if (rto != NULL && rto[0] != '\0' && out->reply_topic == NULL) {
        set_msg(msg, msgn, "reply_topic '%.64s': not a valid Kafka topic name", rto);
        goto out;
    }
    if (m->n_metadata > MAX_META || out->n_meta != m->n_metadata) {
        set_msg(msg, msgn, "metadata: at most %d entries, keys <= %d and values <= %d bytes",
                MAX_META, MAX_META_KEY, MAX_META_VALUE);
        goto out;
    }
    if (m->model != NULL && m->model[0] != '\0') {
        out->model = dup_str(m->model, &ok);
        if (!ok) goto nomem;
        if (lim->model_id != NULL && strcmp(m->model, lim->model_id) != 0) {
            ec = DLLM_ERRC_UNKNOWN_MODEL;
            set_msg(msg, msgn, "model '%.128s': this worker serves '%.128s'", m->model,
                    lim->model_id);
            goto out;
        }
    }
    if (m->has_deadline_unix_ms) {
        if (m->deadline_unix_ms < 0) {
            set_msg(msg, msgn, "deadline_unix_ms = %lld: must be >= 0",
                    (long long)m->deadline_unix_ms);
            goto out;
        }
        out->deadline_unix_ms = m->deadline_unix_ms;
    } else if (hints != NULL && hints->deadline_unix_ms > 0) {
        out->deadline_unix_ms = hints->deadline_unix_ms;
    }

    t = take_prompt(m, lim, out, msg, msgn);
    if (t == -2) goto nomem;
    if (t < 0) goto out;
    if (apply_params(m, lim, &out->params, msg, msgn)) goto out;
    if (dllm_gen_params_validate(&out->params, perr, sizeof perr) != DLLM_OK) {
        set_msg(msg, msgn, "params: %s", perr);
        goto out;
    }
    if (m->cache != NULL) {
        out->use_prompt_slot = m->cache->has_use_prompt_slot && m->cache->use_prompt_slot;
        out->pin = m->cache->has_pin && m->cache->pin;
        out->prefix_tokens = m->cache->has_prefix_tokens ? m->cache->prefix_tokens : 0;
        out->cache_salt = dup_str(m->cache->cache_salt, &ok);
        if (!ok) goto nomem;
    }
    if (out->n_prompt_ids > 0) {
        rc = dllm_gen_request_check_length(out, out->n_prompt_ids, lim, &ec, msg, msgn);
        if (rc != DLLM_OK) goto out;
    }
    ec = DLLM_ERRC_NONE;
    rc = DLLM_OK;
    goto out;
nomem:
    ec = DLLM_ERRC_INTERNAL;
    rc = DLLM_E_NOMEM;
    set_msg(msg, msgn, "out of memory while decoding the request");
out:
    if (m != NULL) dllm__v1__generate_request__free_unpacked(m, NULL);
    *code = ec;
    return rc;
}

/* ---- responses ---- */

dllm_status dllm_response_encode(const dllm_response *r, uint8_t **buf, size_t *len)
{
    dllm_status rc = DLLM_E_NOMEM;
    Dllm__V1__GenerateResponse m = DLLM__V1__GENERATE_RESPONSE__INIT;
    Dllm__V1__Result res = DLLM__V1__RESULT__INIT;
    Dllm__V1__Error er = DLLM__V1__ERROR__INIT;
    Dllm__V1__TokenIds ids = DLLM__V1__TOKEN_IDS__INIT;
    Dllm__V1__Usage us = DLLM__V1__USAGE__INIT;
    Dllm__V1__Timings tm = DLLM__V1__TIMINGS__INIT;
    Dllm__V1__GenerateResponse__MetadataEntry *ent = NULL, **entp = NULL;
    uint8_t *b = NULL;
    size_t n;

    *buf = NULL;
    *len = 0;
    m.request_id = (char *)r->request_id;
    m.worker_id = (char *)r->worker_id;
    m.model_id = (char *)r->model_id;
    if (r->n_meta > 0) {
        ent = calloc(r->n_meta, sizeof *ent);
        entp = calloc(r->n_meta, sizeof *entp);
        if (ent == NULL || entp == NULL) goto out;
        for (size_t i = 0; i < r->n_meta; i++) {
            Dllm__V1__GenerateResponse__MetadataEntry e0 =
                DLLM__V1__GENERATE_RESPONSE__METADATA_ENTRY__INIT;
            ent[i] = e0;
            ent[i].key = r->meta[i].key;
            ent[i].value = r->meta[i].value;
            entp[i] = &ent[i];
        }
        m.n_metadata = r->n_meta;
        m.metadata = entp;
    }
    if (r->error != DLLM_ERRC_NONE) {
        er.has_code = 1;
        er.code = (Dllm__V1__ErrorCode)r->error;
        er.message = (char *)(r->error_message ? r->error_message : "");
        er.has_retryable = 1;
        er.retryable = r->retryable ? 1 : 0;
        m.outcome_case = DLLM__V1__GENERATE_RESPONSE__OUTCOME_ERROR;
        m.error = &er;
    } else {
        res.text = (char *)(r->text ? r->text : "");
        ids.n_ids = r->n_token_ids;
        ids.ids = (int32_t *)r->token_ids;
        res.token_ids = &ids;
        res.has_finish_reason = 1;
        res.finish_reason = (Dllm__V1__FinishReason)r->finish_reason;
        us.has_prompt_tokens = us.has_completion_tokens = us.has_cached_prompt_tokens = 1;
        us.prompt_tokens = r->prompt_tokens;
        us.completion_tokens = r->completion_tokens;
        us.cached_prompt_tokens = r->cached_prompt_tokens;
        res.usage = &us;
        tm.has_queue_ms = tm.has_first_step_ms = tm.has_total_ms = 1;
        tm.queue_ms = r->queue_ms;
        tm.first_step_ms = r->first_step_ms;
        tm.total_ms = r->total_ms;
        tm.has_worker_ms = tm.has_engine_ms = 1;
        tm.worker_ms = r->worker_ms;
        tm.engine_ms = r->engine_ms;
        res.timings = &tm;
        res.has_steps = res.has_forwards = 1;
        res.steps = r->steps;
        res.forwards = r->forwards;
        m.outcome_case = DLLM__V1__GENERATE_RESPONSE__OUTCOME_RESULT;
        m.result = &res;
    }
    n = dllm__v1__generate_response__get_packed_size(&m);
    b = malloc(n ? n : 1);
    if (b == NULL) goto out;
    if (dllm__v1__generate_response__pack(&m, b) != n) {
        rc = DLLM_E_INTERNAL;
        goto out;
    }
    *buf = b;
    *len = n;
    b = NULL;
    rc = DLLM_OK;
out:
    free(b);
    free(ent);
    free(entp);
    return rc;
}
