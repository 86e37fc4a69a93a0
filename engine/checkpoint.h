/* checkpoint.h -- a LLaDA checkpoint directory opened, validated and mapped onto named
 * per-layer weight views.
 *
 * dllm_checkpoint_open() reads config.json (model_config.h) and every safetensors tensor
 * (safetensors.h), then binds the Hugging Face LLaDA names (algorithms.md 13.4) to the
 * fields below, checking each tensor's presence, shape and dtype against the config.
 *
 * DESIGN
 * ------
 * - The checkpoint owns the tensor set (mmapped files) and the layers array; the views
 *   point into the set and die with dllm_checkpoint_free().
 * - Names are exact: "model.transformer.wte.weight", "model.transformer.blocks.{i}.<w>",
 *   "model.transformer.ln_f.weight", "model.transformer.ff_out.weight".
 * - Unexpected extra tensors are an ERROR (DLLM_E_FORMAT, the message names the first few
 *   and the count): a tensor the engine would ignore usually means a different
 *   architecture (biases, QK norms, a fused projection) and computing without it would
 *   be silently wrong. With weight_tying the LM head tensor must be absent (it is wte).
 * - Dtypes may be mixed (e.g. fp32 norms with bf16 matrices); each view carries its own
 *   dtype, and `dtype` reports the one holding the most bytes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_CHECKPOINT_H
#define DLLM_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dllm/status.h"
#include "dtype.h"
#include "model_config.h"
#include "safetensors.h"

struct cJSON;

/* One transformer block's weights (C = d_model, F = mlp_hidden_size); weights are stored
 * (out, in) row-major, the PyTorch layout. */
typedef struct dllm_layer_tensors {
    const dllm_st_tensor *attn_norm; /* (C) RMSNorm weight before attention */
    const dllm_st_tensor *q_proj;    /* (C, C) */
    const dllm_st_tensor *k_proj;    /* (C, C) (n_kv_heads == n_heads) */
    const dllm_st_tensor *v_proj;    /* (C, C) */
    const dllm_st_tensor *attn_out;  /* (C, C) */
    const dllm_st_tensor *ff_norm;   /* (C) RMSNorm weight before the MLP */
    const dllm_st_tensor *ff_proj;   /* (F, C) gate: silu(ff_proj x) */
    const dllm_st_tensor *up_proj;   /* (F, C) up */
    const dllm_st_tensor *ff_out;    /* (C, F) down */
} dllm_layer_tensors;

typedef struct dllm_checkpoint {
    dllm_model_config cfg;         /* validated config.json */
    dllm_st_set *st;               /* every tensor, owned */
    const dllm_st_tensor *wte;     /* (V, C) token embedding, V = embedding_size */
    const dllm_st_tensor *ln_f;    /* (C) final RMSNorm weight */
    const dllm_st_tensor *lm_head; /* (V, C) model.transformer.ff_out.weight, or wte if tied */
    dllm_layer_tensors *layers;    /* (L) owned */
    int64_t n_params;              /* elements over all distinct tensors */
    uint64_t n_bytes;              /* bytes over all distinct tensors */
    dllm_dtype dtype;              /* dtype holding the most bytes */
    unsigned dtype_mask;           /* bit (1u << dllm_dtype) for every dtype present */
    char *dir;                     /* the directory as given, owned */
} dllm_checkpoint;

/* Opens the checkpoint directory `dir` (config.json + model.safetensors or
 * model.safetensors.index.json and its shards). On success *out owns a new checkpoint
 * (free with dllm_checkpoint_free). On failure *out is NULL and err holds a message
 * naming the file, tensor or key and the problem, with a hint.
 * Errors: DLLM_E_INVALID_ARG, DLLM_E_IO, DLLM_E_FORMAT (corrupt or inconsistent files,
 * missing/extra/mis-shaped tensors), DLLM_E_CONFIG, DLLM_E_UNSUPPORTED, DLLM_E_NOMEM. */
dllm_status dllm_checkpoint_open(const char *dir, dllm_checkpoint **out, char *err, size_t errn);

/* Binds an already-opened config and tensor set (takes ownership of `st` on success only;
 * the caller then sets its pointer to NULL). `dir` is recorded for printing (may be NULL).
 * Same checks and errors as dllm_checkpoint_open. */
dllm_status dllm_checkpoint_bind(const dllm_model_config *cfg, dllm_st_set *st, const char *dir,
                                 dllm_checkpoint **out, char *err, size_t errn);

/* Frees the checkpoint and unmaps its files; NULL is a no-op. */
void dllm_checkpoint_free(dllm_checkpoint *ck);

/* Writes a readable config summary and a table of every tensor (file order) to fp. */
void dllm_checkpoint_print(const dllm_checkpoint *ck, FILE *fp);

/* Builds the same information as a cJSON object:
 *   {"dir", "config": {...}, "files": [{"name", "size", "n_tensors"}], "sharded",
 *    "n_params", "n_bytes", "dtype", "dtypes": [...],
 *    "tensors": [{"name", "dtype", "shape": [...], "nbytes", "offset", "file"}]}
 * *out is owned by the caller (cJSON_Delete). Errors: DLLM_E_NOMEM. */
dllm_status dllm_checkpoint_to_json(const dllm_checkpoint *ck, struct cJSON **out);

/* Writes dllm_checkpoint_to_json's object to fp as formatted JSON plus a newline.
 * Errors: DLLM_E_NOMEM, DLLM_E_IO (write failed). */
dllm_status dllm_checkpoint_print_json(const dllm_checkpoint *ck, FILE *fp);

#endif
