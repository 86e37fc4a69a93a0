"""Reference of d2Cache (Dual aDaptive Cache, arXiv 2509.23094; official code
Kamichanw/d2Cache, src/cache/d2cache.py), written from the paper's description and the
official code's behaviour, on top of llada_model.py. It fixes the semantics the C engine
reproduces (docs/dllm-cache.md, "d2Cache").

Design
------
One sequence, no CFG. A per-layer K (after RoPE) / V store of all L canvas rows.

Forwards. The first forward runs every row (plain LLaDA) and fills the store. Every later
forward runs only the row set Q chosen after the previous step (ascending positions):
their Q/K/V, attention against the whole store (their fresh K/V written first), MLP;
the other rows' K/V are reused. The LM head is needed only for Q's rows.

Attention rollout. In every forward and layer l the queries' softmax probabilities,
averaged over heads (fp32), give A_l: row i = (p_i + e_i) / (sum_j p_i[j] + 1) for a
query row i, e_i otherwise (the identity: a row that did not run keeps its state). The
rollout is R = A_L ... A_1 (float64) and importance[j] = sum_i R[i, j] (column sums).

Certainty density of a known/unknown pattern over the G generated positions (float64):
    density[g] = sum_{j=-G}^{2G-1} w(g - j) m[j] / Z,  w(d) = exp(-d^2 / (2 sigma^2)),
    m[j] = 1 for j < 0 (the prompt side), known[j] inside, known[G-1] for j >= G,
    Z = sum_{d=-3G}^{3G-1} w(d)
(the official FFT formulation; make_golden_d2.py checks the two agree).

Step (block b = the lowest block with a mask, rows [lo, hi); candidates = masked rows of
the block that ran in this forward):
 1. sample x0 / conf for the candidates exactly as fastdllm.generate (temperature,
    Gumbel, float64 softmax, remasking, eos/eot flags);
 2. commit: threshold / factor rules as fastdllm on conf; otherwise the schedule's count,
    ranked by conf, or with the certainty prior (`prior`, default on) by
    conf * density(known before the commit); NaN ranks as -inf; ties -> lower position;
 3. early stop as fastdllm;
 4. conf_cache[g] = conf for every candidate g (positions never sampled count 1.0);
 5. unless finished, the next forward's Q (over all L rows) =
    a. masked selection: remaining = masked generated positions after the commit;
       e = the smallest generated index with >= k remaining at or before it (G-1 if
       none), rounded up to the end of its block; window = [start of the (new) current
       block, e]; among remaining positions in the window rank by (in the current block
       first, conf_cache * density(known after the commit) descending (NaN = -inf),
       lower position) and take min(k, G) (only remaining ones);
    b. the positions committed at this step;
    c. nucleus over the importance of the rows not yet in Q: ranked descending (ties:
       lower row), share = importance / (sum over those rows + 1e-9), taken while the
       running share sum stays <= p, and at least the first;
    d. inflate: a row not in Q whose previous and next Q rows are at most w apart joins.
Counters: forwards, rows q/v/mlp = rows run, summed over layers.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

try:
    from . import fastdllm
    from . import llada_generate
    from . import llada_model
    from . import rng as rng_mod
except ImportError:
    import fastdllm
    import llada_generate
    import llada_model
    import rng as rng_mod

# official LLaDA-8B-Instruct settings (configs/gen_args.py, case "d2cache")
DEFAULTS = {"k": 32, "p": 0.1, "sigma": 10.0, "inflate": 0, "prior": True}


def validate(k, p, sigma, inflate, prior):
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError("d2 k must be an int >= 1, got %r" % (k,))
    if not isinstance(p, (int, float)) or not (0.0 <= p <= 1.0):
        raise ValueError("d2 p must be in [0, 1], got %r" % (p,))
    if not isinstance(sigma, (int, float)) or not (sigma > 0) or not math.isfinite(sigma):
        raise ValueError("d2 sigma must be > 0, got %r" % (sigma,))
    if isinstance(inflate, bool) or not isinstance(inflate, int) or inflate < 0:
        raise ValueError("d2 inflate must be an int >= 0, got %r" % (inflate,))
    if not isinstance(prior, bool):
        raise ValueError("d2 prior must be a bool")


def density(known, sigma):
    """known: bool [G] -> float64 [G] (see the module docstring)."""
    G = len(known)
    m = np.concatenate([np.ones(G), known.astype(np.float64),
                        np.full(G, 1.0 if known[-1] else 0.0)])
    j = np.arange(-G, 2 * G)
    d = np.arange(-3 * G, 3 * G)
    Z = np.exp(-(d.astype(np.float64) ** 2) / (2.0 * sigma * sigma)).sum()
    out = np.empty(G)
    for g in range(G):
        w = np.exp(-((g - j).astype(np.float64) ** 2) / (2.0 * sigma * sigma))
        out[g] = (w * m).sum() / Z
    return out


def density_fft(known, sigma):
    """The official FFT formulation (float64 here), for the cross-check."""
    mask = torch.as_tensor(known)[None, :]
    B, L = mask.shape
    padded = F.pad(mask.double(), (L, L), "constant", 1.0)
    if not bool(mask[0, -1]):
        padded[0, 2 * L:] = 0.0
    ext = 3 * L
    n = 2 * ext
    dist = torch.cat((torch.arange(ext), torch.arange(-ext, 0))).double()
    kf = torch.fft.fft(torch.exp(-(dist ** 2) / (2 * sigma ** 2)), n=n)
    ws = torch.fft.ifft(torch.fft.fft(F.pad(padded, (0, ext)), n=n) * kf, n=n).real
    ks = torch.fft.ifft(torch.fft.fft(torch.ones(B, n, dtype=torch.float64), n=n) * kf,
                        n=n).real
    return (ws[..., L:2 * L] / ks[..., L:2 * L].clamp_min(1e-8))[0].numpy()


def _nan_low(v):
    return -math.inf if math.isnan(v) else v


def rollout_importance(probs, rows_per_layer, L):
    """probs: per layer fp32 [n, L] head-mean probabilities of the query rows
    rows_per_layer[l]. Full-matrix formulation: R = A_L ... A_1, column sums."""
    R = np.eye(L)
    for P_l, rows in zip(probs, rows_per_layer):
        A = np.eye(L)
        p = P_l.astype(np.float64)
        for a, i in enumerate(rows):
            A[i] = p[a]
            A[i, i] += 1.0
            A[i] /= p[a].sum() + 1.0
        R = A @ R
    return R.sum(axis=0)


def nucleus(imp, in_q, p):
    """Rows to add by the nucleus rule; gap = |share sum at the boundary - p| / p."""
    cand = [j for j in range(len(imp)) if not in_q[j]]
    if not cand:
        return [], math.inf
    total = sum(float(imp[j]) for j in cand)
    order = sorted(cand, key=lambda j: (-float(imp[j]), j))
    out, cum, gap = [], 0.0, math.inf
    for n, j in enumerate(order):
        cum += float(imp[j]) / (total + 1e-9)
        if p > 0:
            gap = min(gap, abs(cum - p) / p)
        if cum <= p or n == 0:
            out.append(j)
        else:
            break
    return out, gap


def select_rows(x, P, G, BL, mask_id, conf_cache, imp, committed, k, p, sigma, inflate):
    """The next forward's rows (sorted) and decision gaps {"rank", "nucleus"}."""
    L = P + G
    gen = x[P:]
    remaining = gen == mask_id
    in_q = np.zeros(L, bool)
    gaps = {"rank": math.inf, "nucleus": math.inf}
    if remaining.any():
        b = int(np.nonzero(remaining)[0][0]) // BL
        cum = np.cumsum(remaining)
        hit = np.nonzero(cum >= k)[0]
        e = int(hit[0]) if len(hit) else G - 1
        e = (e // BL + 1) * BL - 1
        dens = density(~remaining, sigma)
        win = [g for g in range(b * BL, e + 1) if remaining[g]]
        sc = {g: _nan_low(float(conf_cache[g]) * float(dens[g])) for g in win}
        order = sorted(win, key=lambda g: (0 if g // BL == b else 1, -sc[g], g))
        kk = min(k, G)
        for g in order[:kk]:
            in_q[P + g] = True
        if kk < len(order):   # the boundary decision within the same tier
            a, c = order[kk - 1], order[kk]
            if (a // BL == b) == (c // BL == b) and math.isfinite(sc[a]):
                gaps["rank"] = abs(sc[a] - sc[c]) / max(abs(sc[a]), 1e-300)
    for pos in committed:
        in_q[pos] = True
    add, gaps["nucleus"] = nucleus(imp, in_q, p)
    for j in add:
        in_q[j] = True
    if inflate > 0:
        sel = np.nonzero(in_q)[0]
        extra = np.zeros(L, bool)
        for a, c in zip(sel[:-1], sel[1:]):
            if 1 < c - a <= inflate:
                extra[a + 1:c] = True
        in_q |= extra
    return [int(i) for i in np.nonzero(in_q)[0]], gaps


class D2Forward:
    """Row-set forward with a K/V store; __call__(ids, rows) -> (block logits dict
    {row: fp32 logits} for the requested head rows, per-layer probs)."""

    def __init__(self, model, L):
        self.model = model
        self.cfg = model.config
        self.L = L
        nl, d = self.cfg.n_layers, self.cfg.d_model
        self.K = [torch.zeros(L, d) for _ in range(nl)]
        self.V = [torch.zeros(L, d) for _ in range(nl)]
        self.cos, self.sin = llada_model.rope_cos_sin(torch.arange(L), self.cfg.head_dim,
                                                      self.cfg.rope_theta)
        self.forwards = 0
        self.rows_q = 0

    def _rope_rows(self, x, rows):
        n = x.shape[0]
        H, hd = self.cfg.n_heads, self.cfg.head_dim
        y = x.view(1, n, H, hd).transpose(1, 2)
        y = llada_model.apply_rope(y, self.cos[rows], self.sin[rows])
        return y.transpose(1, 2).reshape(n, H * hd)

    def __call__(self, ids, rows):
        rows_t = torch.as_tensor(rows, dtype=torch.long)
        n = len(rows)
        H, hd = self.cfg.n_heads, self.cfg.head_dim
        tr = self.model.transformer
        probs = []
        self.forwards += 1
        with torch.no_grad():
            x = tr.wte(torch.as_tensor(np.asarray(ids)[rows])).float()
            for li, blk in enumerate(tr.blocks):
                h = blk.attn_norm(x)
                q = self._rope_rows(blk.q_proj(h), rows_t)
                self.K[li][rows_t] = self._rope_rows(blk.k_proj(h), rows_t)
                self.V[li][rows_t] = blk.v_proj(h)
                qh = q.view(1, n, H, hd).transpose(1, 2)
                kh = self.K[li].view(1, self.L, H, hd).transpose(1, 2)
                vh = self.V[li].view(1, self.L, H, hd).transpose(1, 2)
                sc = torch.matmul(qh, kh.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
                pr = torch.softmax(sc.float(), dim=-1)
                probs.append(pr[0].mean(dim=0).numpy().copy())
                o = torch.matmul(pr, vh)
                x = x + blk.attn_out(o.transpose(1, 2).reshape(1, n, H * hd))[0]
                z = blk.ff_norm(x)
                x = x + blk.ff_out(F.silu(blk.ff_proj(z)) * blk.up_proj(z))
                self.rows_q += n
            logits = tr.ff_out(tr.ln_f(x)).float().numpy()
        return {int(r): logits[a] for a, r in enumerate(rows)}, probs


def generate(model, prompt_ids, *, gen_length, steps, block_length, mask_id, eos_id, eot_id,
             vocab_size, temperature=0.0, remasking="low_confidence", seed=0,
             logits_eos_inf=False, confidence_eos_eot_inf=False, threshold=0.0, factor=0.0,
             early_stop=False, k=32, p=0.1, sigma=10.0, inflate=0, prior=True):
    prompt_ids = [int(t) for t in prompt_ids]
    llada_generate.validate_params(prompt_ids, gen_length, steps, block_length, temperature,
                                   0.0, remasking, seed, mask_id, vocab_size)
    fastdllm.validate_decode(threshold, factor, early_stop)
    validate(k, p, sigma, inflate, prior)
    adaptive = threshold > 0 or factor > 0
    if prior and adaptive:
        raise ValueError("the certainty prior ranks by conf * density: turn it off for "
                         "threshold / factor decoding")
    P, G, BL = len(prompt_ids), gen_length, block_length
    L = P + G
    x = np.array(prompt_ids + [mask_id] * G, dtype=np.int64)
    nb = G // BL
    spb = steps // nb
    if not adaptive and k < -(-BL // spb):
        raise ValueError("d2 k must be >= the per-step commit count")
    vocab = np.arange(vocab_size, dtype=np.int64)
    fwd = D2Forward(model, L)
    conf_cache = np.ones(G)
    rows = list(range(L))
    s = 0
    trace, block_steps, q_sizes = [], [], []
    gaps = {"argmax": math.inf, "select": math.inf, "threshold": math.inf,
            "factor": math.inf, "rank": math.inf, "nucleus": math.inf}
    stopped = False
    for b in range(nb):
        lo, hi = P + b * BL, P + (b + 1) * BL
        m = int((x[lo:hi] == mask_id).sum())
        n_transfer = [m // spb + (1 if i < m % spb else 0) for i in range(spb)]
        i = 0
        while True:
            if adaptive:
                if not (x[lo:hi] == mask_id).any():
                    break
            elif i >= spb:
                break
            q_sizes.append(len(rows))
            lg, probs = fwd(x, rows)
            imp = rollout_importance(probs, [rows] * len(probs), L)
            ran = set(rows)
            cand = np.array([c for c in range(lo, hi) if x[c] == mask_id and c in ran],
                            dtype=np.int64)
            if len(cand) == 0:
                raise AssertionError("no candidate ran at step %d" % s)
            lc = np.stack([lg[int(c)] for c in cand]).astype(np.float32)
            if logits_eos_inf:
                lc[:, eos_id] = -np.inf
            l64 = lc.astype(np.float64)
            if temperature == 0:
                score = l64
            else:
                u = rng_mod.rng_uniform_np(seed, rng_mod.STREAM_GUMBEL, s, cand[:, None],
                                           vocab[None, :])
                with np.errstate(divide="ignore"):
                    score = np.exp(l64) / np.power(-np.log(u), float(temperature))
            x0 = np.argmax(score, axis=1)
            if remasking == "low_confidence":
                mx = l64.max(axis=1, keepdims=True)
                ex = np.exp(l64 - mx)
                conf = ex[np.arange(len(cand)), x0] / ex.sum(axis=1)
            else:
                conf = rng_mod.rng_uniform_np(seed, rng_mod.STREAM_REMASK, s, cand, 0)
            if confidence_eos_eot_inf:
                bad = (x0 == eos_id) | (x0 == eot_id)
                conf = np.where(bad, -np.inf, conf)
            for j in range(len(cand)):   # argmax robustness
                row = score[j]
                top = int(x0[j])
                second = float(np.delete(row, top).max())
                if temperature == 0:
                    g = float(row[top]) - second
                else:
                    g = llada_generate._log_gap(float(row[top]), second)
                gaps["argmax"] = min(gaps["argmax"], g)
            rank = conf.copy()
            if prior and not adaptive:
                dn = density(x[P:] != mask_id, sigma)
                rank = np.array([_nan_low(float(c) * float(dn[int(q) - P]))
                                 for c, q in zip(conf, cand)])
            pick, order, kk, dd = fastdllm.select_commits(rank, threshold, factor,
                                                          None if adaptive else n_transfer[i])
            if not adaptive and 0 < kk < len(cand) and remasking == "low_confidence" and \
                    math.isfinite(rank[order[kk - 1]]):
                a, c = float(rank[order[kk - 1]]), float(rank[order[kk]])
                gaps["select"] = min(gaps["select"], abs(a - c) / max(abs(a), 1e-300))
            for key in ("threshold", "factor"):
                gaps[key] = min(gaps[key], dd[key])
            committed = [int(c) for c in cand[pick]]
            x[cand[pick]] = x0[pick]
            if early_stop:
                gen = x[P:]
                e_pos = fastdllm.first_stop(gen, eos_id, eot_id)
                if e_pos is not None and not (gen[:e_pos] == mask_id).any():
                    tail = np.arange(e_pos + 1, G)
                    tail = tail[gen[tail] == mask_id]
                    x[P + tail] = eos_id
                    stopped = True
            for c, cf in zip(cand, conf):
                conf_cache[int(c) - P] = cf
            trace.append([int(t) for t in x[P:]])
            s += 1
            i += 1
            if stopped:
                break
            if (x[P:] == mask_id).any():
                rows, sg = select_rows(x, P, G, BL, mask_id, conf_cache, imp, committed,
                                       k, p, sigma, inflate)
                for key in sg:
                    gaps[key] = min(gaps[key], sg[key])
        block_steps.append(i)
        if stopped:
            break
    out = {"token_ids": [int(t) for t in x[P:]], "steps": s, "forwards": fwd.forwards,
           "trace": trace, "block_steps": block_steps, "stopped_early": stopped,
           "rows": {"q": fwd.rows_q, "v": fwd.rows_q, "mlp": fwd.rows_q},
           "q_sizes": q_sizes, "gaps": gaps}
    e_pos = fastdllm.first_stop(out["token_ids"], eos_id, eot_id)
    out["completion_tokens"] = G if e_pos is None else e_pos
    return out
