"""Reference of Sparse-dLLM (dynamic cache eviction with delayed bidirectional sparse
caching, arXiv 2508.02558; official code OpenMOSS/Sparse-dLLM), written from the paper's
description and the behaviour of its LLaDA generate loop, on top of llada_model.py.

Design
------
SparseForward is a stateful ids -> fp32 logits callable for fastdllm.generate() (which
calls begin_step(block, first) before each step; the step index within the block is
counted here). One store per CFG branch and layer holds the K (after RoPE) and V of only
the kept rows and the block. Per block b with rows [lo, hi) = [P + b*BL, P + (b+1)*BL):

  step 0    the whole canvas runs in every layer (plain LLaDA); nothing is stored. This is
            the paper's one-step delay: the tokens committed at step 0 are part of the
            canvas the cache is built from.
  step 1    the whole canvas runs again; in every layer, after RoPE, the block's queries
            score every key:
                stat[j] = sum_h (sum_{i in [lo, hi)} q[i, h]) . k[j, h] / sqrt(hd)
            (float64, then rounded to fp32). This is the official importance (mean over
            heads of the mean block query's dot product with each key) up to a positive
            factor, which changes no ranking. The scores of the other rows, in position
            order with the block cut out (prefix ++ suffix as one sequence), are max-pooled
            (window `kernel`, stride 1, padding kernel // 2 with -inf, as F.max_pool1d),
            and the nkeep = floor((L - BL) * keep_ratio) highest (ties: the lower row)
            keep their K/V. The layer's store becomes [kept rows in ascending position |
            block rows].
  step >= 2 only the block rows run (embedding, every layer, LM head); their fresh K/V
            replace the block part of the store and their queries attend to the whole
            store (nkeep + BL keys, in that order). Other rows are not updated.

The LM head runs only on the block rows; other rows of the returned logits are NaN (the
sampler never reads them). Counters as in fastdllm.py: forwards, rows q/v/mlp (rows
whose Q / V / MLP ran, over layers, forwards and branches). min_keep_gap records the
closest ranking decision at the keep boundary (relative to the largest |score|), which
the golden generator requires to be far from rounding.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

try:
    from . import llada_model
except ImportError:
    import llada_model

DEFAULT_KEEP_RATIO = 0.5   # official LLaDA-8B-Instruct evaluation (kernel_size 3, keep 0.5)
DEFAULT_KERNEL = 3


def validate(keep_ratio, kernel):
    if isinstance(keep_ratio, bool) or not isinstance(keep_ratio, (int, float)) or \
            not (0.0 < keep_ratio <= 1.0):
        raise ValueError("keep_ratio must be in (0, 1], got %r" % (keep_ratio,))
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or \
            kernel % 2 == 0 or kernel > 1023:
        raise ValueError("kernel must be an odd int in [1, 1023], got %r" % (kernel,))


def keep_count(L, BL, keep_ratio):
    n = L - BL
    return max(0, min(n, int(math.floor(float(n) * float(keep_ratio)))))


def select_kept(stat, lo, hi, kernel, nkeep):
    """stat: fp32 numpy [L] key scores. Returns (kept absolute rows ascending, gap):
    gap = relative distance of the boundary score to its nearest distinct neighbours
    (inf when the decision does not depend on order)."""
    L = len(stat)
    other = np.concatenate([np.arange(0, lo), np.arange(hi, L)])
    v = torch.from_numpy(stat[other].astype(np.float32)).view(1, 1, -1)
    pooled = F.max_pool1d(v, kernel_size=kernel, stride=1, padding=kernel // 2)
    pooled = pooled.view(-1).numpy()
    n = len(other)
    order = sorted(range(n), key=lambda m: (-float(pooled[m]), m))
    kept = sorted(int(other[m]) for m in order[:nkeep])
    gap = math.inf
    if 0 < nkeep < n:
        b = float(pooled[order[nkeep - 1]])
        distinct = sorted(set(float(x) for x in pooled), reverse=True)
        i = distinct.index(b)
        scale = max(abs(float(x)) for x in pooled) or 1.0
        for j in (i - 1, i + 1):
            if 0 <= j < len(distinct):
                gap = min(gap, abs(distinct[j] - b) / scale)
    return kept, gap


class SparseForward:
    def __init__(self, model, prompt_len, gen_length, block_length, mask_id, cfg_scale=0.0,
                 keep_ratio=DEFAULT_KEEP_RATIO, kernel=DEFAULT_KERNEL):
        validate(keep_ratio, kernel)
        self.model = model
        self.cfg = model.config
        self.P, self.R, self.BL = int(prompt_len), int(gen_length), int(block_length)
        self.L = self.P + self.R
        self.mask_id = int(mask_id)
        self.cfg_scale = float(cfg_scale)
        self.kernel = int(kernel)
        self.nkeep = keep_count(self.L, self.BL, keep_ratio)
        self.store = {br: {"K": None, "V": None, "rows": None, "block": None}
                      for br in ("cond", "uncond")}
        self.cos, self.sin = llada_model.rope_cos_sin(torch.arange(self.L),
                                                      self.cfg.head_dim,
                                                      self.cfg.rope_theta)
        self.block = None
        self.i = -1
        self.calls_in_step = 0
        self.prompt = None
        self.forwards = 0
        self.rows_q = self.rows_v = self.rows_mlp = 0
        self.min_keep_gap = math.inf
        self.kept_log = []      # (branch, block, layer, kept rows) per selection

    def begin_step(self, block, first):
        self.i = 0 if first else self.i + 1
        self.block = int(block)
        self.calls_in_step = 0

    def _rope_rows(self, x, rows):
        n = x.shape[0]
        H, hd = self.cfg.n_heads, self.cfg.head_dim
        y = x.view(1, n, H, hd).transpose(1, 2)
        y = llada_model.apply_rope(y, self.cos[rows], self.sin[rows])
        return y.transpose(1, 2).reshape(n, H * hd)

    def _attend(self, blk, q, K, V):
        n, L = q.shape[0], K.shape[0]
        H, hd = self.cfg.n_heads, self.cfg.head_dim
        qh = q.view(1, n, H, hd).transpose(1, 2)
        kh = K.view(1, L, H, hd).transpose(1, 2)
        vh = V.view(1, L, H, hd).transpose(1, 2)
        o = llada_model.attention(qh, kh, vh)
        return blk.attn_out(o.transpose(1, 2).reshape(1, n, H * hd))[0]

    def __call__(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape != (self.L,):
            raise ValueError("canvas has %d positions, expected %d" % (len(ids), self.L))
        if self.block is None:
            raise AssertionError("SparseForward needs begin_step() before each step")
        n_calls = 2 if self.cfg_scale > 0 else 1
        if self.calls_in_step >= n_calls:
            raise AssertionError("too many forward calls in one step")
        name = "cond" if self.calls_in_step == 0 else "uncond"
        self.calls_in_step += 1
        if name == "cond":
            if self.prompt is None:
                self.prompt = ids[:self.P].copy()
            if not np.array_equal(ids[:self.P], self.prompt):
                raise AssertionError("conditional call with a different prompt")
        elif not (ids[:self.P] == self.mask_id).all():
            raise AssertionError("unconditional call without a masked prompt")
        st = self.store[name]
        lo = self.P + self.block * self.BL
        hi = lo + self.BL
        full = self.i <= 1
        if not full and st["block"] != self.block:
            raise AssertionError("kept K/V of block %r used for block %d"
                                 % (st["block"], self.block))
        r0, r1 = (0, self.L) if full else (lo, hi)
        rows = torch.arange(r0, r1)
        n = r1 - r0
        self.forwards += 1
        tr = self.model.transformer
        hd = self.cfg.head_dim
        nl = self.cfg.n_layers
        if self.i == 1:
            st["K"], st["V"], st["rows"] = [None] * nl, [None] * nl, [None] * nl
        with torch.no_grad():
            x = tr.wte(torch.as_tensor(ids[r0:r1])).float()
            for li, blk in enumerate(tr.blocks):
                h = blk.attn_norm(x)
                q = self._rope_rows(blk.q_proj(h), rows)
                k = self._rope_rows(blk.k_proj(h), rows)
                v = blk.v_proj(h)
                if full:
                    K, V = k, v
                    if self.i == 1:
                        qs = q[lo:hi].double().sum(0)
                        stat = ((k.double() @ qs) / math.sqrt(hd)).float().numpy()
                        kept, gap = select_kept(stat, lo, hi, self.kernel, self.nkeep)
                        self.min_keep_gap = min(self.min_keep_gap, gap)
                        self.kept_log.append((name, self.block, li, kept))
                        idx = torch.as_tensor(kept, dtype=torch.long)
                        st["K"][li] = k[idx].clone()
                        st["V"][li] = v[idx].clone()
                        st["rows"][li] = kept
                else:
                    K = torch.cat([st["K"][li], k], 0)
                    V = torch.cat([st["V"][li], v], 0)
                x = x + self._attend(blk, q, K, V)
                z = blk.ff_norm(x)
                x = x + blk.ff_out(F.silu(blk.ff_proj(z)) * blk.up_proj(z))
                self.rows_q += n
                self.rows_v += n
                self.rows_mlp += n
            xb = x[lo - r0:lo - r0 + self.BL]
            lb = tr.ff_out(tr.ln_f(xb)).float().numpy()
        if self.i == 1:
            st["block"] = self.block
        out = np.full((self.L, self.cfg.vocab_size), np.nan, dtype=np.float32)
        out[lo:lo + self.BL] = lb
        return out


def expected_rows(n_layers, P, gen_length, block_length, block_steps, cfg_scale):
    """Forwards and rows from the per-block step counts alone: steps 0 and 1 of a block
    run every row, the others the block."""
    L = P + gen_length
    br = 2 if cfg_scale > 0 else 1
    fw = rows = 0
    for n in block_steps:
        fw += n * br
        rows += br * n_layers * (min(n, 2) * L + max(n - 2, 0) * block_length)
    return {"forwards": fw, "q": rows, "v": rows, "mlp": rows}
