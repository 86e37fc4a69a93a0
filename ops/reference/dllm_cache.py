"""Reference of dLLM-Cache (adaptive feature caching) for the LLaDA sampler.

Design
------
This file adds one thing to the existing reference: a model forward that keeps, per
sequence, per CFG branch and per layer, the dLLM-Cache feature cache (docs/algorithms.md
Part A 1-2 and 7) and recomputes only the rows the schedule asks for. Everything else is
borrowed so that the two references cannot drift:

  * the sampler is llada_generate.generate() itself, unchanged: generate() takes any
    callable ids -> logits, and DllmCacheForward is such a callable (stateful: it knows
    which CFG branch each call is, from the call order cond, uncond, cond, uncond, ...
    and checks it against the ids);
  * the maths uses the LLaDAModel's own parameter modules (q_proj, attn_norm, ...) and
    its rope/attention helpers with the same tensor shapes, so a full-refresh layer is
    the same computation as LLaDABlock.forward (the self-check confirms bit-identical
    logits for policy "none").

Semantics (fp32 on CPU; P = prompt length, R = gen_length, L = P + R; the response
segment is rows [P, L); positions are absolute canvas positions 0..L-1):

  cache, per branch and layer: K (post-RoPE), V, A (attention delta after W_o),
  F (MLP delta after W_down), each [L, d], prompt rows [0, P) and response rows [P, L).
  The residual stream is never cached: every layer does x += A_all; x += F_all.

  t = 1-based count of forwards of this branch since the start of the generation.
  rp = ((t-1) % kp == 0) or (layer0_refresh and layer == 0)
  rr = ((t-1) % kr == 0) or (layer0_refresh and layer == 0)
  transfer = 0 < rho <= 1;  policy "none" forces rp = rr = True (no cache use).
  With layer0_refresh off, layer 0 follows the same schedule as the others (V-verify
  included). t = 1 is case A in every layer, which fills the cache.

  case A (rp and rr): everything fresh (all L rows).
  case B (rr only):   response Q, K, V fresh; A_r = Attn(q_r, [K_p;K_r], [V_p;V_r]);
                      F_r = MLP(x_r); prompt K/V/A/F reused.
  case C (rp only):   prompt Q, K, V fresh; with transfer: V-verify selects I, query rows
                      = prompt rows + P+I, keys/values the full updated [K_p;K_r], [V_p;V_r];
                      A_p, A_r[I], then F_p, F_r[I] from the post-attention residual.
                      Without transfer: only the prompt rows (stale K_r, V_r as keys).
  case D (neither):   with transfer: V-verify, then A_r[I], F_r[I]; else pure reuse.

  V-verify: h = RMSNorm_attn(x[P:]) (all R rows), v_new = h W_v^T; cos_j in float64 from
  the fp32 vectors: dot(a, b) / max(|a| |b|, 1e-12) with a = v_new[j], b = V_r[j];
  k = floor(R * rho) in float64; I = the k lowest cos (stable sort: ties -> lower index).
  V_r = v_new (all rows); K_r[I] = rope(h[I] W_k^T); A_r[I], F_r[I] overwritten.

  CFG (cfg_scale > 0): the unconditional pass has its own cache and counter. With
  cfg_interval = ci > 0, on conditional steps with (t_cond - 1) % ci == 0 both passes
  run and r = cond - uncond (fp32) is stored for rows [P, L); on other steps only the
  conditional pass runs and the sampler receives uncond_est = cond - r (fp32) as the
  unconditional logits, i.e. final = uncond_est + w (cond - uncond_est), the sampler's
  usual formula (= cond + cfg_scale r up to fp32 rounding). ci = 0: both passes every
  step.

  Row counters over the whole generation (all layers, steps, branches): rows_q (Q
  projection rows), rows_v (V projection rows), rows_mlp (MLP rows); forwards = model
  forwards actually run. Policy "none": each is n_layers * L per forward.
"""

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F

try:
    from . import llada_generate
    from . import llada_model
except ImportError:
    import llada_generate
    import llada_model

POLICIES = ("none", "dllm")


def validate_cache_params(policy, kp, kr, rho, layer0_refresh, cfg_interval):
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if policy not in POLICIES:
        raise ValueError("cache policy must be one of %s, got %r" % (POLICIES, policy))
    for name, v in (("kp", kp), ("kr", kr)):
        if not is_int(v) or v < 1:
            raise ValueError("%s must be an integer >= 1, got %r" % (name, v))
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not math.isfinite(rho) \
            or not (0.0 <= rho <= 1.0):
        raise ValueError("rho must be a number in [0, 1], got %r" % (rho,))
    if not isinstance(layer0_refresh, bool):
        raise ValueError("layer0_refresh must be a bool, got %r" % (layer0_refresh,))
    if not is_int(cfg_interval) or cfg_interval < 0:
        raise ValueError("cfg_interval must be an integer >= 0 (0 = off), got %r"
                         % (cfg_interval,))


def vverify_select(v_new, v_cached, rho):
    """cos per response row (float64), the selected indices (ascending) and the decision
    gaps between the k-th and (k+1)-th lowest cos: (cos gap, angle gap in radians), both
    inf when k == 0 or k == R. The angle gap is the robust measure: a relative
    perturbation eps of either vector moves its angle by at most ~eps, whereas cos moves
    by ~eps * sin(angle), which is tiny near cos = 1."""
    a = v_new.detach().numpy().astype(np.float64)
    b = v_cached.detach().numpy().astype(np.float64)
    R = a.shape[0]
    dot = (a * b).sum(axis=1)
    na = np.sqrt((a * a).sum(axis=1))
    nb = np.sqrt((b * b).sum(axis=1))
    cos = dot / np.maximum(na * nb, 1e-12)
    k = int(math.floor(float(R) * float(rho)))
    order = np.argsort(cos, kind="stable")
    sel = np.sort(order[:k])
    gap = gap_angle = math.inf
    if 0 < k < R:
        c_in, c_out = float(cos[order[k - 1]]), float(cos[order[k]])
        gap = c_out - c_in
        gap_angle = (math.acos(min(1.0, max(-1.0, c_in)))
                     - math.acos(min(1.0, max(-1.0, c_out))))
    return cos, sel, (gap, gap_angle)


class _Branch:
    """Feature cache and step counter of one CFG branch of one sequence."""

    def __init__(self, n_layers, L, d, dtype):
        self.t = 0
        self.K = [torch.zeros(L, d, dtype=dtype) for _ in range(n_layers)]
        self.V = [torch.zeros(L, d, dtype=dtype) for _ in range(n_layers)]
        self.A = [torch.zeros(L, d, dtype=dtype) for _ in range(n_layers)]
        self.F = [torch.zeros(L, d, dtype=dtype) for _ in range(n_layers)]


class DllmCacheForward:
    """Stateful ids -> fp32 logits callable for llada_generate.generate().

    One instance serves one generation of one prompt. When cfg_scale > 0 the calls must
    alternate cond, uncond (as generate() does); the uncond call may be answered from
    the cached CFG residual without running the model (cfg_interval).

    float64=True runs the same algorithm on a float64 copy of the weights (diagnostic
    only: a "shadow" run whose decisions must match the fp32 run if the fp32 decisions
    are robust to rounding); the logits handed to the sampler are still fp32."""

    def __init__(self, model, prompt_len, gen_length, mask_id, cfg_scale=0.0,
                 policy="dllm", kp=1, kr=1, rho=0.0, layer0_refresh=True, cfg_interval=0,
                 float64=False):
        validate_cache_params(policy, kp, kr, rho, layer0_refresh, cfg_interval)
        self.f64 = bool(float64)
        self.dtype = torch.float64 if self.f64 else torch.float32
        self.model = copy.deepcopy(model).double() if self.f64 else model
        self.cfg = model.config
        self.P = int(prompt_len)
        self.R = int(gen_length)
        self.L = self.P + self.R
        self.mask_id = int(mask_id)
        self.cfg_scale = float(cfg_scale)
        self.policy = policy
        self.kp, self.kr = int(kp), int(kr)
        self.rho = float(rho)
        self.transfer = 0.0 < self.rho <= 1.0
        self.layer0_refresh = layer0_refresh
        self.cfg_interval = int(cfg_interval) if self.cfg_scale > 0 else 0
        nl, d = self.cfg.n_layers, self.cfg.d_model
        self.branches = {"cond": _Branch(nl, self.L, d, self.dtype),
                         "uncond": _Branch(nl, self.L, d, self.dtype)}
        pos = torch.arange(self.L)
        if self.f64:
            hd = self.cfg.head_dim
            inv = 1.0 / (self.cfg.rope_theta
                         ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
            ang = pos.to(torch.float64)[:, None] * inv[None, :]
            self.cos, self.sin = torch.cos(ang), torch.sin(ang)
        else:
            self.cos, self.sin = llada_model.rope_cos_sin(pos, self.cfg.head_dim,
                                                          self.cfg.rope_theta)
        self.rows_q = self.rows_v = self.rows_mlp = 0
        self.forwards = 0
        self.calls = 0
        self.prompt = None
        self.last_cond = None
        self.cfg_refresh = True
        self.cfg_resid = None
        self.min_cos_gap = (math.inf, math.inf)   # (cos units, radians) at the min angle
        self.min_cos_where = None
        self.selections = []                      # (branch, t, layer, tuple(I))
        self.cos_log = []                         # float64 cos [R] of each V-verify
        self.cases = {"A": 0, "B": 0, "C": 0, "D": 0}

    # ------------------------------------------------------------------ pieces

    def _norm(self, mod, x):
        if not self.f64:
            return mod(x)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + mod.eps) * mod.weight

    def _rope_rows(self, x, rows):
        """x: [n, d] projections of the canvas rows `rows` (LongTensor [n]) -> rope'd."""
        n = x.shape[0]
        H, hd = self.cfg.n_heads, self.cfg.head_dim
        y = x.view(1, n, H, hd).transpose(1, 2)
        y = llada_model.apply_rope(y, self.cos[rows], self.sin[rows])
        return y.transpose(1, 2).reshape(n, H * hd)

    def _attend(self, blk, q, K, V):
        """q: [n, d] post-RoPE queries; K, V: [L, d] -> attention delta after W_o [n, d]."""
        n, L = q.shape[0], K.shape[0]
        H, hd = self.cfg.n_heads, self.cfg.head_dim
        qh = q.view(1, n, H, hd).transpose(1, 2)
        kh = K.view(1, L, H, hd).transpose(1, 2)
        vh = V.view(1, L, H, hd).transpose(1, 2)
        if self.f64:
            sc = torch.matmul(qh, kh.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
            o = torch.matmul(torch.softmax(sc, dim=-1), vh)
        else:
            o = llada_model.attention(qh, kh, vh)
        return blk.attn_out(o.transpose(1, 2).reshape(1, n, H * hd))[0]

    def _mlp(self, blk, x):
        z = self._norm(blk.ff_norm, x)
        return blk.ff_out(F.silu(blk.ff_proj(z)) * blk.up_proj(z))

    def _vverify(self, blk, h_r, c, li, name):
        """V-verify on the response rows; updates V_r (all) and K_r[I]; returns (I, q_I)."""
        P = self.P
        v_new = blk.v_proj(h_r)
        self.rows_v += self.R
        cos, sel, gaps = vverify_select(v_new, c.V[li][P:], self.rho)
        self.cos_log.append(cos)
        self.selections.append((name, c.t, li, tuple(int(i) for i in sel)))
        if gaps[1] < self.min_cos_gap[1]:
            self.min_cos_gap = gaps
            self.min_cos_where = {"branch": name, "t": c.t, "layer": li}
        c.V[li][P:] = v_new
        I = torch.as_tensor(sel, dtype=torch.long)
        if len(sel) == 0:
            return I, None
        rows = P + I
        hI = h_r[I]
        c.K[li][rows] = self._rope_rows(blk.k_proj(hI), rows)
        qI = self._rope_rows(blk.q_proj(hI), rows)
        self.rows_q += len(sel)
        return I, qI

    # ------------------------------------------------------------------ forward

    def _forward_branch(self, ids, name):
        """One model forward of branch `name` over the whole canvas -> fp32 logits [L, V]."""
        c = self.branches[name]
        c.t += 1
        t = c.t
        self.forwards += 1
        P, L, R = self.P, self.L, self.R
        tr = self.model.transformer
        allrows = torch.arange(L)
        resp = torch.arange(P, L)
        prom = torch.arange(0, P)
        with torch.no_grad():
            x = tr.wte(torch.as_tensor(np.asarray(ids, dtype=np.int64))).to(self.dtype)
            for li, blk in enumerate(tr.blocks):
                if self.policy == "none":
                    rp = rr = True
                else:
                    l0 = self.layer0_refresh and li == 0
                    rp = ((t - 1) % self.kp == 0) or l0
                    rr = ((t - 1) % self.kr == 0) or l0
                K, V, A, Fm = c.K[li], c.V[li], c.A[li], c.F[li]
                h = self._norm(blk.attn_norm, x)
                I = None                       # selected response rows (V-verify)
                # ---------------- attention part
                if rp and rr:                                  # case A: full
                    self.cases["A"] += 1
                    q = self._rope_rows(blk.q_proj(h), allrows)
                    K[:] = self._rope_rows(blk.k_proj(h), allrows)
                    V[:] = blk.v_proj(h)
                    A[:] = self._attend(blk, q, K, V)
                    self.rows_q += L
                    self.rows_v += L
                elif rr:                                       # case B: response refresh
                    self.cases["B"] += 1
                    hr = h[P:]
                    q = self._rope_rows(blk.q_proj(hr), resp)
                    K[P:] = self._rope_rows(blk.k_proj(hr), resp)
                    V[P:] = blk.v_proj(hr)
                    A[P:] = self._attend(blk, q, K, V)
                    self.rows_q += R
                    self.rows_v += R
                elif rp:                                       # case C: prompt refresh
                    self.cases["C"] += 1
                    hp = h[:P]
                    qp = self._rope_rows(blk.q_proj(hp), prom)
                    K[:P] = self._rope_rows(blk.k_proj(hp), prom)
                    V[:P] = blk.v_proj(hp)
                    self.rows_q += P
                    self.rows_v += P
                    qI = None
                    if self.transfer:
                        I, qI = self._vverify(blk, h[P:], c, li, name)
                    q = qp if qI is None else torch.cat([qp, qI], 0)
                    o = self._attend(blk, q, K, V)
                    A[:P] = o[:P]
                    if qI is not None:
                        A[P + I] = o[P:]
                else:                                          # case D: nothing scheduled
                    self.cases["D"] += 1
                    if self.transfer:
                        I, qI = self._vverify(blk, h[P:], c, li, name)
                        if qI is not None:
                            A[P + I] = self._attend(blk, qI, K, V)
                x = x + A
                # ---------------- MLP part, on the current post-attention residual
                if rp and rr:
                    Fm[:] = self._mlp(blk, x)
                    self.rows_mlp += L
                elif rr:
                    Fm[P:] = self._mlp(blk, x[P:])
                    self.rows_mlp += R
                elif rp:
                    if I is not None and len(I) > 0:
                        g = self._mlp(blk, torch.cat([x[:P], x[P + I]], 0))
                        Fm[:P] = g[:P]
                        Fm[P + I] = g[P:]
                        self.rows_mlp += P + len(I)
                    else:
                        Fm[:P] = self._mlp(blk, x[:P])
                        self.rows_mlp += P
                elif I is not None and len(I) > 0:
                    Fm[P + I] = self._mlp(blk, x[P + I])
                    self.rows_mlp += len(I)
                x = x + Fm
            return tr.ff_out(self._norm(tr.ln_f, x)).float().numpy()

    def __call__(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape != (self.L,):
            raise ValueError("canvas has %d positions, expected %d" % (len(ids), self.L))
        uncond = self.cfg_scale > 0 and self.calls % 2 == 1
        self.calls += 1
        if not uncond:
            if self.prompt is None:
                self.prompt = ids[:self.P].copy()
            if not np.array_equal(ids[:self.P], self.prompt):
                raise AssertionError("conditional call with a different prompt")
            logits = self._forward_branch(ids, "cond")
            if self.cfg_scale > 0:
                t = self.branches["cond"].t
                self.cfg_refresh = (self.cfg_interval == 0
                                    or (t - 1) % self.cfg_interval == 0)
                self.last_cond = logits
            return logits
        if not (ids[:self.P] == self.mask_id).all():
            raise AssertionError("unconditional call without a masked prompt")
        cond = self.last_cond
        if self.cfg_refresh:
            un = self._forward_branch(ids, "uncond")
            if self.cfg_interval > 0:
                self.cfg_resid = (cond[self.P:] - un[self.P:]).astype(np.float32)
            return un
        est = cond.copy()                 # rows < P are never read by the sampler
        est[self.P:] = (cond[self.P:] - self.cfg_resid).astype(np.float32)
        return est


def generate(model, prompt_ids, *, gen_length, steps, block_length, mask_id, eos_id,
             eot_id, vocab_size, temperature=0.0, cfg_scale=0.0,
             remasking="low_confidence", seed=0, logits_eos_inf=False,
             confidence_eos_eot_inf=False, policy="dllm", kp=1, kr=1, rho=0.0,
             layer0_refresh=True, cfg_interval=0, diagnostics=False, float64=False):
    """llada_generate.generate() with the dLLM-Cache forward. Returns its dict with
    "forwards" = model forwards actually run, plus "rows": {"q", "v", "mlp"} and
    "layer_cases" (how many layer passes took case A/B/C/D). With diagnostics also
    "gaps" (per step, from generate()), "cos_gap" = (cos gap, angle gap in radians) of
    the V-verify decision with the smallest angle gap ((inf, inf) when none), its
    "cos_gap_where", "selections" (branch, t, layer, selected indices) in order and
    "cos_values" (the float64 cos vector [R] of each V-verify, same order).
    float64=True: the float64 shadow run (diagnostic, see DllmCacheForward)."""
    validate_cache_params(policy, kp, kr, rho, layer0_refresh, cfg_interval)
    fwd = DllmCacheForward(model, len(prompt_ids), gen_length, mask_id, cfg_scale=cfg_scale,
                           policy=policy, kp=kp, kr=kr, rho=rho,
                           layer0_refresh=layer0_refresh, cfg_interval=cfg_interval,
                           float64=float64)
    out = llada_generate.generate(
        fwd, prompt_ids, gen_length=gen_length, steps=steps, block_length=block_length,
        mask_id=mask_id, eos_id=eos_id, eot_id=eot_id, vocab_size=vocab_size,
        temperature=temperature, cfg_scale=cfg_scale, remasking=remasking, seed=seed,
        logits_eos_inf=logits_eos_inf, confidence_eos_eot_inf=confidence_eos_eot_inf,
        diagnostics=diagnostics)
    out["forwards"] = fwd.forwards
    out["rows"] = {"q": fwd.rows_q, "v": fwd.rows_v, "mlp": fwd.rows_mlp}
    out["layer_cases"] = dict(fwd.cases)
    if diagnostics:
        out["cos_gap"] = fwd.min_cos_gap
        out["cos_gap_where"] = fwd.min_cos_where
        out["selections"] = fwd.selections
        out["cos_values"] = fwd.cos_log
    return out


def expected_counts(n_layers, P, gen_length, steps, cfg_scale, policy, kp, kr, rho,
                    layer0_refresh, cfg_interval):
    """Forwards and row totals derived from the schedule alone (no model): the numbers
    the C engine must report. Returns {"forwards", "q", "v", "mlp"}."""
    R = gen_length
    L = P + R
    k = int(math.floor(float(R) * float(rho)))
    transfer = 0.0 < rho <= 1.0
    ci = cfg_interval if cfg_scale > 0 else 0
    n_cond = steps
    if cfg_scale <= 0:
        n_uncond = 0
    elif ci == 0:
        n_uncond = steps
    else:
        n_uncond = sum(1 for t in range(1, steps + 1) if (t - 1) % ci == 0)
    tot = {"forwards": n_cond + n_uncond, "q": 0, "v": 0, "mlp": 0}
    for n_fw in (n_cond, n_uncond):
        for t in range(1, n_fw + 1):
            for li in range(n_layers):
                if policy == "none":
                    rp = rr = True
                else:
                    l0 = layer0_refresh and li == 0
                    rp = ((t - 1) % kp == 0) or l0
                    rr = ((t - 1) % kr == 0) or l0
                if rp and rr:
                    q = v = m = L
                elif rr:
                    q = v = m = R
                elif rp:
                    q = m = P + (k if transfer else 0)
                    v = P + (R if transfer else 0)
                else:
                    q = m = k if transfer else 0
                    v = R if transfer else 0
                tot["q"] += q
                tot["v"] += v
                tot["mlp"] += m
    return tot
