"""Reference of Fast-dLLM v1 (training-free): prefix/dual KV cache and parallel decoding.

Design
------
Two independent pieces that compose with each other and with the existing references:

  * generate(): the LLaDA sampler of llada_generate.py (same canvas, RNG, Gumbel-max,
    float64 confidence, eos/eot flags, block-local candidates, ties to the lower
    position) extended with the Fast-dLLM decoding options: the threshold rule, the
    factor rule and early stop (docs/algorithms.md 8.2, 13.1). With none of the options
    it is step for step the sampler of llada_generate.py (make_golden_fastdllm.py checks
    that the traces are identical). It takes any forward callable ids -> fp32 logits,
    called once per step (twice with CFG: cond, then uncond with the prompt masked), so
    the plain model, dllm_cache.DllmCacheForward and FastCacheForward all plug in. A
    forward that has a method begin_step(block, first) is told, before each step's
    forward(s), which block the step belongs to and whether it is the block's first.

  * FastCacheForward: the block-wise approximate KV cache (docs/algorithms.md 8.1), a
    stateful forward with one K/V store per CFG branch and layer (K after RoPE, V; all L
    canvas rows). At the first step of every block it runs the whole canvas in every
    layer (the refresh fused into the block's first forward) and stores K/V of all rows.
    At the other steps of block b only the rows S run (queries, K, V, attention, MLP)
    and attend to the stored K/V of every other row, which are not updated:
        dual:   S = [P + b*BL, P + (b+1)*BL)     (the block)
        prefix: S = [P + b*BL, L)                (the block and everything after it)
    The fresh K/V of S are written into the store before the attention. The LM head runs
    only on the block rows; the other rows of the returned logits are NaN (the sampler
    never reads them). The layer maths uses the LLaDAModel's own modules and rope /
    attention helpers in the same tensor shapes as dllm_cache.py.

Decoding options (validated; threshold and factor are mutually exclusive):
  threshold tau in (0, 1] (0 = off): commit every candidate with conf > tau (strict); if
      none qualifies, the single best candidate (highest conf, lower position on ties).
  factor f > 0 (0 = off): confidences sorted descending c(1) >= c(2) >= ... (ties: lower
      position first); commit the n = largest n >= 1 with (n+1)(1 - c(n)) < f, computed
      in float64 (-inf conf never satisfies it); at least 1 (the best) if n = 1 fails.
  In both modes the schedule is not used: a block steps until it has no mask left, then
  the next block starts; `steps` is ignored (still validated as usual). The global step
  counter s (RNG key) counts every step.
  early_stop: after each step's commit, e = first position of the generated region
      holding eos or eot; if e exists and no position before it is a mask, generation
      ends: masks after e become eos, and that step's trace row is the final state (no
      extra row). completion_tokens = e.
  completion_tokens (every case) = index of the first eos/eot in the final output,
  gen_length if there is none (equals e on an early stop).

Counters: forwards (model forwards run, CFG branches included), rows q/v/mlp (rows whose
Q / V projection / MLP ran, summed over layers, forwards and branches): a block-first
forward counts n_layers * L each, another forward n_layers * |S|.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

try:
    from . import llada_generate
    from . import llada_model
    from . import rng as rng_mod
except ImportError:
    import llada_generate
    import llada_model
    import rng as rng_mod

POLICIES = ("none", "dllm", "prefix", "dual")


def validate_decode(threshold, factor, early_stop):
    for name, v in (("threshold", threshold), ("factor", factor)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError("%s must be a finite number, got %r" % (name, v))
    if not (0.0 <= threshold <= 1.0):
        raise ValueError("threshold must be in [0, 1] (0 = off), got %r" % (threshold,))
    if factor < 0:
        raise ValueError("factor must be >= 0 (0 = off), got %r" % (factor,))
    if threshold > 0 and factor > 0:
        raise ValueError("threshold and factor are mutually exclusive")
    if not isinstance(early_stop, bool):
        raise ValueError("early_stop must be a bool, got %r" % (early_stop,))


def _rel(a, ref):
    return abs(a - ref) / abs(ref)


def select_commits(conf, threshold, factor, k_sched):
    """conf: float64 [C] over the candidates (in position order). Returns (indices into
    the candidates to commit, decision diagnostics dict)."""
    order = np.argsort(-conf, kind="stable")          # desc, ties -> lower position
    C = len(conf)
    d = {"threshold": math.inf, "factor": math.inf}
    if threshold > 0:
        pick = [j for j in range(C) if conf[j] > threshold]
        for c in conf:
            if math.isfinite(c):
                d["threshold"] = min(d["threshold"], _rel(float(c), threshold))
        if not pick:
            pick = [int(order[0])]
        k = len(pick)
        pick = order[:k]                               # same set, in conf order
    elif factor > 0:
        k = 0
        for n in range(1, C + 1):
            c = float(conf[order[n - 1]])
            v = (n + 1) * (1.0 - c)
            if math.isfinite(v):
                d["factor"] = min(d["factor"], _rel(v, factor))
            if v < factor:
                k = n
            else:
                break                                  # non-decreasing in n
        k = max(k, 1)
        pick = order[:k]
    else:
        k = k_sched
        pick = order[:k]
    return np.asarray(pick, dtype=np.int64), order, k, d


def first_stop(gen, eos_id, eot_id):
    for i, t in enumerate(gen):
        if t == eos_id or (eot_id is not None and t == eot_id):
            return i
    return None


def generate(forward, prompt_ids, *, gen_length, steps, block_length, mask_id, eos_id,
             eot_id, vocab_size, temperature=0.0, cfg_scale=0.0,
             remasking="low_confidence", seed=0, logits_eos_inf=False,
             confidence_eos_eot_inf=False, threshold=0.0, factor=0.0, early_stop=False,
             diagnostics=False):
    """Run the sampler. Returns {"token_ids", "steps", "forwards" (forward calls),
    "trace", "block_steps" (steps run per block), "completion_tokens",
    "stopped_early"}; with diagnostics also "gaps": per step {"argmax": min top-1/top-2
    gap over all candidates (log units), "argmax_committed": the same over committed
    ones, "select": log(min committed conf / max uncommitted conf), "threshold": min
    |conf - tau| / tau, "factor": min |(n+1)(1-c(n)) - f| / f over the evaluated n},
    inf when exact / not applicable, and "decisions": per step (cand positions, x0,
    conf) for trace checks."""
    prompt_ids = [int(t) for t in prompt_ids]
    llada_generate.validate_params(prompt_ids, gen_length, steps, block_length,
                                   temperature, cfg_scale, remasking, seed, mask_id,
                                   vocab_size)
    validate_decode(threshold, factor, early_stop)
    adaptive = threshold > 0 or factor > 0
    P = len(prompt_ids)
    x = np.array(prompt_ids + [mask_id] * gen_length, dtype=np.int64)
    nb = gen_length // block_length
    spb = steps // nb
    w = np.float32(float(cfg_scale) + 1.0)
    vocab = np.arange(vocab_size, dtype=np.int64)
    s = 0
    calls = 0
    trace, gaps, decisions, block_steps = [], [], [], []
    stopped = False
    for b in range(nb):
        lo = P + b * block_length
        hi = lo + block_length
        m = int((x[lo:hi] == mask_id).sum())
        n_transfer = [m // spb + (1 if i < m % spb else 0) for i in range(spb)]
        i = 0
        while True:
            if adaptive:
                if not (x[lo:hi] == mask_id).any():
                    break
            elif i >= spb:
                break
            if hasattr(forward, "begin_step"):
                forward.begin_step(b, i == 0)
            logits = np.asarray(forward(x), dtype=np.float32)
            calls += 1
            if logits.shape != (len(x), vocab_size):
                raise ValueError("model returned logits of shape %s" % (logits.shape,))
            if cfg_scale > 0:
                ux = x.copy()
                ux[:P] = mask_id
                un = np.asarray(forward(ux), dtype=np.float32)
                calls += 1
                with np.errstate(invalid="ignore"):
                    logits = (un + w * (logits - un)).astype(np.float32)
            cand = lo + np.nonzero(x[lo:hi] == mask_id)[0]
            lc = logits[cand].copy()
            if not np.isfinite(lc).all():
                raise ValueError("non-finite logits at step %d" % s)
            if logits_eos_inf:
                lc[:, eos_id] = -np.inf
            l64 = lc.astype(np.float64)
            if temperature == 0:
                score = l64
            else:
                u = rng_mod.rng_uniform_np(seed, rng_mod.STREAM_GUMBEL, s,
                                           cand[:, None], vocab[None, :])
                with np.errstate(divide="ignore"):
                    score = np.exp(l64) / np.power(-np.log(u), float(temperature))
            x0 = np.argmax(score, axis=1)
            if remasking == "low_confidence":
                mx = l64.max(axis=1, keepdims=True)
                e = np.exp(l64 - mx)
                conf = e[np.arange(len(cand)), x0] / e.sum(axis=1)
            else:
                conf = rng_mod.rng_uniform_np(seed, rng_mod.STREAM_REMASK, s, cand, 0)
            if confidence_eos_eot_inf:
                bad = (x0 == eos_id)
                if eot_id is not None:
                    bad |= (x0 == eot_id)
                conf = np.where(bad, -np.inf, conf)
            pick, order, k, dd = select_commits(conf, threshold, factor,
                                                None if adaptive else n_transfer[i])
            x[cand[pick]] = x0[pick]
            if early_stop:
                gen = x[P:]
                e_pos = first_stop(gen, eos_id, eot_id)
                if e_pos is not None and not (gen[:e_pos] == mask_id).any():
                    tail = np.arange(e_pos + 1, gen_length)
                    tail = tail[gen[tail] == mask_id]
                    x[P + tail] = eos_id
                    stopped = True
            trace.append([int(t) for t in x[P:]])
            if diagnostics:
                decisions.append((cand.copy(), x0.copy(), conf.copy()))
                ga_all = ga_com = math.inf
                picked = set(int(j) for j in pick)
                for j in range(len(cand)):
                    row = score[j]
                    top = int(x0[j])
                    second = float(np.delete(row, top).max())
                    first = float(row[top])
                    if temperature == 0:
                        g = first - second if second != -math.inf else math.inf
                    else:
                        g = llada_generate._log_gap(first, second)
                    ga_all = min(ga_all, g)
                    if j in picked:
                        ga_com = min(ga_com, g)
                g_sel = math.inf
                if 0 < k < len(cand) and remasking == "low_confidence":
                    a = float(conf[order[k - 1]])
                    c = float(conf[order[k]])
                    g_sel = llada_generate._log_gap(a, c) if a != -math.inf else math.inf
                if remasking != "low_confidence":       # RNG confidences: exact
                    dd = {"threshold": math.inf, "factor": math.inf}
                gaps.append({"argmax": ga_all, "argmax_committed": ga_com,
                             "select": g_sel, "threshold": dd["threshold"],
                             "factor": dd["factor"]})
            s += 1
            i += 1
            if stopped:
                break
        block_steps.append(i)
        if stopped:
            break
    out = {"token_ids": [int(t) for t in x[P:]], "steps": s, "forwards": calls,
           "trace": trace, "block_steps": block_steps, "stopped_early": stopped}
    e_pos = first_stop(out["token_ids"], eos_id, eot_id)
    out["completion_tokens"] = gen_length if e_pos is None else e_pos
    if diagnostics:
        out["gaps"] = gaps
        out["decisions"] = decisions
    return out


# ----------------------------------------------------------------------------- cache

class FastCacheForward:
    """Stateful ids -> fp32 logits callable with the Fast-dLLM prefix/dual KV cache, for
    generate() above (which calls begin_step(block, first) before each step). With CFG
    the calls of a step are cond then uncond; each branch has its own K/V store."""

    def __init__(self, model, prompt_len, gen_length, block_length, mask_id, cfg_scale=0.0,
                 policy="dual"):
        if policy not in ("prefix", "dual"):
            raise ValueError("FastCacheForward policy must be prefix or dual, got %r"
                             % (policy,))
        self.model = model
        self.cfg = model.config
        self.P, self.R, self.BL = int(prompt_len), int(gen_length), int(block_length)
        self.L = self.P + self.R
        self.mask_id = int(mask_id)
        self.cfg_scale = float(cfg_scale)
        self.policy = policy
        nl, d = self.cfg.n_layers, self.cfg.d_model
        self.store = {br: {"K": [torch.zeros(self.L, d) for _ in range(nl)],
                           "V": [torch.zeros(self.L, d) for _ in range(nl)],
                           "block": None}
                      for br in ("cond", "uncond")}
        self.cos, self.sin = llada_model.rope_cos_sin(torch.arange(self.L),
                                                      self.cfg.head_dim,
                                                      self.cfg.rope_theta)
        self.block = None
        self.first = None
        self.calls_in_step = 0
        self.prompt = None
        self.forwards = 0
        self.rows_q = self.rows_v = self.rows_mlp = 0
        self.full_forwards = 0

    def begin_step(self, block, first):
        self.block = int(block)
        self.first = bool(first)
        self.calls_in_step = 0

    def rows_of(self, block, first):
        lo = self.P + block * self.BL
        if first:
            return 0, self.L
        return lo, (lo + self.BL if self.policy == "dual" else self.L)

    # pieces: same shapes as dllm_cache.py / LLaDABlock
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
            raise AssertionError("FastCacheForward needs begin_step() before each step")
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
        if not self.first and st["block"] != self.block:
            raise AssertionError("cache of block %r used for block %d" % (st["block"],
                                                                          self.block))
        st["block"] = self.block
        r0, r1 = self.rows_of(self.block, self.first)
        rows = torch.arange(r0, r1)
        n = r1 - r0
        self.forwards += 1
        self.full_forwards += int(self.first)
        tr = self.model.transformer
        lo = self.P + self.block * self.BL
        with torch.no_grad():
            x = tr.wte(torch.as_tensor(ids[r0:r1])).float()
            for li, blk in enumerate(tr.blocks):
                K, V = st["K"][li], st["V"][li]
                h = blk.attn_norm(x)
                q = self._rope_rows(blk.q_proj(h), rows)
                K[r0:r1] = self._rope_rows(blk.k_proj(h), rows)
                V[r0:r1] = blk.v_proj(h)
                x = x + self._attend(blk, q, K, V)
                z = blk.ff_norm(x)
                x = x + blk.ff_out(F.silu(blk.ff_proj(z)) * blk.up_proj(z))
                self.rows_q += n
                self.rows_v += n
                self.rows_mlp += n
            xb = x[lo - r0:lo - r0 + self.BL]
            lb = tr.ff_out(tr.ln_f(xb)).float().numpy()
        out = np.full((self.L, self.cfg.vocab_size), np.nan, dtype=np.float32)
        out[lo:lo + self.BL] = lb
        return out


class CountingForward:
    """The plain model as a forward (policy none), with the same counters."""

    def __init__(self, model, L):
        self.fwd = llada_generate.torch_forward(model)
        self.nl = model.config.n_layers
        self.L = L
        self.forwards = self.rows_q = self.rows_v = self.rows_mlp = 0

    def __call__(self, ids):
        self.forwards += 1
        n = self.nl * self.L
        self.rows_q += n
        self.rows_v += n
        self.rows_mlp += n
        return self.fwd(ids)


def make_forward(model, prompt_len, gen_length, block_length, mask_id, cfg_scale, cache):
    """cache: {"policy", and for dllm "kp", "kr", "rho", "layer0_refresh",
    "cfg_interval"} -> a forward with .forwards, .rows_q, .rows_v, .rows_mlp."""
    pol = cache["policy"]
    if pol not in POLICIES:
        raise ValueError("cache policy must be one of %s, got %r" % (POLICIES, pol))
    if pol == "none":
        return CountingForward(model, prompt_len + gen_length)
    if pol == "dllm":
        try:
            from . import dllm_cache
        except ImportError:
            import dllm_cache
        return dllm_cache.DllmCacheForward(
            model, prompt_len, gen_length, mask_id, cfg_scale=cfg_scale, policy="dllm",
            kp=cache["kp"], kr=cache["kr"], rho=cache["rho"],
            layer0_refresh=cache["layer0_refresh"], cfg_interval=cache["cfg_interval"])
    return FastCacheForward(model, prompt_len, gen_length, block_length, mask_id,
                            cfg_scale=cfg_scale, policy=pol)


def generate_cached(model, prompt_ids, *, cache, gen_length, block_length, mask_id,
                    cfg_scale=0.0, diagnostics=False, **kw):
    """generate() driven by the forward of cache policy `cache`. Adds "forwards" = model
    forwards actually run and "rows" {"q", "v", "mlp"}; for dllm "cos_gap" (the V-verify
    (cos, angle) gap with the smallest angle, (inf, inf) when none)."""
    fwd = make_forward(model, len(prompt_ids), gen_length, block_length, mask_id,
                       cfg_scale, cache)
    out = generate(fwd, prompt_ids, gen_length=gen_length, block_length=block_length,
                   mask_id=mask_id, cfg_scale=cfg_scale, diagnostics=diagnostics, **kw)
    out["forward_calls"] = out["forwards"]
    out["forwards"] = fwd.forwards
    out["rows"] = {"q": fwd.rows_q, "v": fwd.rows_v, "mlp": fwd.rows_mlp}
    if cache["policy"] == "dllm":
        out["cos_gap"] = fwd.min_cos_gap
    return out


def expected_rows(policy, n_layers, P, gen_length, block_length, block_steps, cfg_scale):
    """Forwards and rows of prefix / dual / none from the per-block step counts alone."""
    L = P + gen_length
    br = 2 if cfg_scale > 0 else 1
    fw = rows = 0
    for b, n in enumerate(block_steps):
        if n == 0:
            continue
        fw += n * br
        if policy == "none":
            rows += n * br * n_layers * L
            continue
        lo = b * block_length
        S = block_length if policy == "dual" else gen_length - lo
        rows += br * n_layers * (L + (n - 1) * S)
    return {"forwards": fw, "q": rows, "v": rows, "mlp": rows}
