"""Reference of prompt slots (docs/prompt-cache.md) on top of dllm_cache.py.

Design
------
A prompt slot holds, for the first S prompt tokens, every layer's K (post-RoPE), V,
attention delta A and MLP delta F computed by a forward over *the prefix alone* (S rows,
every row fresh: dLLM-Cache's case A on a canvas of S tokens). A sequence that attaches
the slot copies those rows into its own cache; its first conditional forward then
computes only rows [S, L) in every layer (queries S..L-1 against the keys/values of all
L rows; the residual stream of rows [0, S) adds the slot's A and F); every later forward
is dLLM-Cache unchanged (its prompt refreshes recompute rows [0, P) in the sequence's own
context, overwriting its copy). The unconditional CFG branch (prompt masked) never uses
a slot.

Everything is borrowed from dllm_cache.DllmCacheForward (its pieces: _rope_rows,
_attend, _mlp, _norm), so the only new maths is the row range of the first forward.
Row counters: the slot's build (S rows per layer, on the building request) plus the
first forward's L - S rows per layer; a request that finds the slot built does not pay
the build.
"""

import numpy as np
import torch

try:
    from . import dllm_cache
    from . import llada_generate
except ImportError:
    import dllm_cache
    import llada_generate


def build_slot(model, prefix_ids, mask_id):
    """The slot of a prefix: the cache of one full forward over the prefix alone."""
    f = dllm_cache.DllmCacheForward(model, len(prefix_ids), 0, mask_id, policy="none")
    f._forward_branch(np.asarray(prefix_ids, dtype=np.int64), "cond")
    b = f.branches["cond"]
    return {"S": len(prefix_ids), "K": [k.clone() for k in b.K], "V": [v.clone() for v in b.V],
            "A": [a.clone() for a in b.A], "F": [x.clone() for x in b.F],
            "rows": f.rows_q}


class PromptSlotForward(dllm_cache.DllmCacheForward):
    """DllmCacheForward whose first conditional forward starts from a prompt slot."""

    def __init__(self, model, prompt_len, gen_length, mask_id, slot, **kw):
        super().__init__(model, prompt_len, gen_length, mask_id, **kw)
        if self.f64:
            raise ValueError("the slot reference is fp32 only")
        self.slot = slot

    def _forward_branch(self, ids, name):
        c = self.branches[name]
        if name != "cond" or c.t != 0:
            return super()._forward_branch(ids, name)
        c.t += 1
        self.forwards += 1
        S, L = self.slot["S"], self.L
        tr = self.model.transformer
        rows = torch.arange(S, L)
        with torch.no_grad():
            x = tr.wte(torch.as_tensor(np.asarray(ids, dtype=np.int64)))
            for li, blk in enumerate(tr.blocks):
                K, V, A, Fm = c.K[li], c.V[li], c.A[li], c.F[li]
                K[:S] = self.slot["K"][li]
                V[:S] = self.slot["V"][li]
                A[:S] = self.slot["A"][li]
                Fm[:S] = self.slot["F"][li]
                h = self._norm(blk.attn_norm, x)[S:]
                q = self._rope_rows(blk.q_proj(h), rows)
                K[S:] = self._rope_rows(blk.k_proj(h), rows)
                V[S:] = blk.v_proj(h)
                A[S:] = self._attend(blk, q, K, V)
                x = x + A
                Fm[S:] = self._mlp(blk, x[S:])
                x = x + Fm
                self.rows_q += L - S
                self.rows_v += L - S
                self.rows_mlp += L - S
                self.cases["A"] += 1
            return tr.ff_out(self._norm(tr.ln_f, x)).float().numpy()


def generate(model, prompt_ids, slot_prefix, *, gen_length, steps, block_length, mask_id,
             eos_id, eot_id, vocab_size, temperature=0.0, cfg_scale=0.0,
             remasking="low_confidence", seed=0, logits_eos_inf=False,
             confidence_eos_eot_inf=False, kp=1, kr=1, rho=0.0, layer0_refresh=True,
             cfg_interval=0, diagnostics=False):
    """dllm_cache.generate() (policy dllm) for a request whose first slot_prefix prompt
    tokens are served from a slot built here. "rows" include the build."""
    slot = build_slot(model, prompt_ids[:slot_prefix], mask_id)
    fwd = PromptSlotForward(model, len(prompt_ids), gen_length, mask_id, slot,
                            cfg_scale=cfg_scale, policy="dllm", kp=kp, kr=kr, rho=rho,
                            layer0_refresh=layer0_refresh, cfg_interval=cfg_interval)
    out = llada_generate.generate(
        fwd, prompt_ids, gen_length=gen_length, steps=steps, block_length=block_length,
        mask_id=mask_id, eos_id=eos_id, eot_id=eot_id, vocab_size=vocab_size,
        temperature=temperature, cfg_scale=cfg_scale, remasking=remasking, seed=seed,
        logits_eos_inf=logits_eos_inf, confidence_eos_eot_inf=confidence_eos_eot_inf,
        diagnostics=diagnostics)
    out["forwards"] = fwd.forwards
    out["rows"] = {"q": fwd.rows_q + slot["rows"], "v": fwd.rows_v + slot["rows"],
                   "mlp": fwd.rows_mlp + slot["rows"]}
    out["build_rows"] = slot["rows"]
    if diagnostics:
        out["cos_gap"] = fwd.min_cos_gap
    return out
