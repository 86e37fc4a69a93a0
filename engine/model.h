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
    dllm_weight wq;        /* (Cl, C) q_proj (Cl = C at tp 1) */
    dllm_weight wk;        /* (Cl, C) k_proj */
    dllm_weight wv;        /* (Cl, C) v_proj */
    dllm_weight wo;        /* (C, Cl) attn_out */
    dllm_weight ff_norm;   /* (C) */
    dllm_weight w_gate;    /* (Fl, C) ff_proj (Fl = F at tp 1) */
    dllm_weight w_up;      /* (Fl, C) up_proj */
    dllm_weight w_down;    /* (C, Fl) ff_out */
} dllm_layer_weights;

typedef struct dllm_model_weights {
    int64_t C, L, NH, HS, F, V;
    /* tensor parallelism (shard.h): this rank's part; tp = 1: Cl = C, Fl = F, Vl = V */
    int tp, rank;
    int64_t NHl, Cl, Fl, Vl, v0;
    float eps;   /* RMSNorm epsilon */
    float theta; /* RoPE base */
    dllm_weight wte;            /* (V, C) token embeddings; tp > 1: (Vl + 1, C), last row 0 */
    dllm_layer_weights *layers; /* (L) */
    dllm_weight ln_f;           /* (C) final norm */
    dllm_weight head;           /* (Vl, C) LM head (model.transformer.ff_out) */
} dllm_model_weights;

/* Uploads every tensor of ck to be. On failure nothing stays allocated. progress (may be
 * NULL) is called after each tensor with the bytes done and the total. */
dllm_status dllm_model_weights_load(dllm_model_weights *w, dllm_backend *be,
                                    const dllm_checkpoint *ck,
                                    void (*progress)(void *, uint64_t, uint64_t), void *user,
                                    char *err, size_t errn);
/* The same for rank `rank` of a tensor-parallel group of tp: only its shard (shard.h) is
 * uploaded (progress still counts the checkpoint's tensors). DLLM_E_CONFIG when tp does
 * not divide the model. tp = 1 is the plain load. */
dllm_status dllm_model_weights_load_tp(dllm_model_weights *w, dllm_backend *be,
                                       const dllm_checkpoint *ck, int tp, int rank,
                                       void (*progress)(void *, uint64_t, uint64_t), void *user,
                                       char *err, size_t errn);
/* Sets the shard fields of a fully built tp = 1 model (the synthetic models). */
void dllm_model_weights_set_full(dllm_model_weights *w);
/* Replaces the full weight *wt (rows, cols) on be by rows [r0, r0 + nr) and columns
 * [c0, c0 + nc) of it, with `zero_rows` zero rows appended (a round trip through the host;
 * the synthetic models' sharding). */
dllm_status dllm_weight_slice(dllm_backend *be, dllm_weight *wt, int64_t r0, int64_t nr,
                              int64_t c0, int64_t nc, int64_t zero_rows);
void dllm_model_weights_deinit(dllm_model_weights *w, dllm_backend *be);

#endif
