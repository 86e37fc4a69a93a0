/* model.h -- LLaDA weights resident on a backend, and their loading from a checkpoint.
 *
 * The checkpoint (checkpoint.h) is an mmapped, validated view of the files; this module
 * uploads every tensor once, in the backend's compute format, into the struct below,
 * whose shape comments use the dimension vocabulary of style.md (C model dim, L layers,
 * NH heads, HS head size, F MLP hidden, V vocabulary rows).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_MODEL_H
#define DLLM_MODEL_H

#include "backend.h"
#include "checkpoint.h"

typedef struct dllm_layer_weights {
    dllm_weight attn_norm; /* (C) */
    dllm_weight wq;        /* (C, C) q_proj */
    dllm_weight wk;        /* (C, C) k_proj */
    dllm_weight wv;        /* (C, C) v_proj */
    dllm_weight wo;        /* (C, C) attn_out */
    dllm_weight ff_norm;   /* (C) */
    dllm_weight w_gate;    /* (F, C) ff_proj */
    dllm_weight w_up;      /* (F, C) up_proj */
    dllm_weight w_down;    /* (C, F) ff_out */
} dllm_layer_weights;

typedef struct dllm_model_weights {
    int64_t C, L, NH, HS, F, V;
    float eps;   /* RMSNorm epsilon */
    float theta; /* RoPE base */
    dllm_weight wte;            /* (V, C) token embeddings */
    dllm_layer_weights *layers; /* (L) */
    dllm_weight ln_f;           /* (C) final norm */
    dllm_weight head;           /* (V, C) LM head (model.transformer.ff_out) */
} dllm_model_weights;

/* Uploads every tensor of ck to be. On failure nothing stays allocated. progress (may be
 * NULL) is called after each tensor with the bytes done and the total. */
dllm_status dllm_model_weights_load(dllm_model_weights *w, dllm_backend *be,
                                    const dllm_checkpoint *ck,
                                    void (*progress)(void *, uint64_t, uint64_t), void *user,
                                    char *err, size_t errn);
void dllm_model_weights_deinit(dllm_model_weights *w, dllm_backend *be);

#endif
