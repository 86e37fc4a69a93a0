"""Reference LLaDA sampler (masked-diffusion generation), the semantics the engines copy.

Design
------
This is an independent re-statement of LLaDA's `generate.py` (docs/algorithms.md 4 and
13.1) for ONE sequence, with every choice that upstream leaves to torch made explicit so
that the C and CUDA engines can reproduce the token trace bit for bit:

  * randomness comes from the counter-based RNG in rng.py (not torch.rand), keyed by
    (seed, stream, global step, absolute position, token);
  * ties are broken deterministically (lowest token id in argmax, lowest position in
    the top-k selection);
  * confidences are computed in float64 from the fp32 logits;
  * only masked positions of the current block are candidates (upstream's -inf masking
    of other positions, made explicit).

Canvas x = prompt ++ [mask] * gen_length; P = len(prompt); positions are absolute.
nb = gen_length // block_length, spb = steps // nb. Global step counter s = 0, 1, ...
(not reset per block). For each block b, m = masked count of the block at block start,
n_transfer[i] = m // spb + (1 if i < m % spb else 0). Each step i of block b:

 1. logits = model(x) (fp32, whole canvas).  If cfg_scale > 0:
    un = model(x with positions < P set to mask); w = float32(cfg_scale + 1);
    logits = un + w * (logits - un), each operation rounded to fp32.
 2. if logits_eos_inf: logits[:, eos] = -inf.
 3. x0 per candidate position: temperature == 0 -> argmax of the fp32 logits (lowest id
    on ties); else Gumbel-max in float64:
    score_v = exp(float64(l_v)) / (-log(u_v)) ** temperature,
    u_v = rng_uniform(seed, 0, s, pos, v); x0 = argmax score (lowest id on ties).
 4. conf: low_confidence -> float64 softmax of the float64-cast logits (after 1-2):
    exp(l[x0] - max) / sum_v exp(l_v - max);  random -> rng_uniform(seed, 1, s, pos, 0).
 5. if confidence_eos_eot_inf: conf = -inf where x0 == eos or x0 == eot.
 6. candidates = masked positions in [P + b*block_length, P + (b+1)*block_length);
    take n_transfer[i] of them by conf descending, ties -> lower position (stable sort
    on -conf); write x0 there.
 7. trace.append(x[P:]); s += 1.

Upstream difference for step 5: upstream's line is
    logits_with_noise[:, :, eos] = logits[:, :, eot] = -inf
(after x0 is drawn), i.e. it sets the EOT *logit* to -inf before the softmax (so an EOT
pick gets confidence 0, and every other probability is renormalised without EOT) and
sets the EOS column of the already-used noisy logits, which has no effect; EOS picks keep
their confidence. This reference implements the documented intent instead: EOS and EOT
picks get confidence -inf, the softmax is unchanged.

The model is any callable ids (np.int64 [T]) -> fp32 logits (np.float32 [T, V]);
torch_forward(model) adapts an LLaDAModel.
"""

import math

import numpy as np

try:
    from . import rng as rng_mod
except ImportError:
    import rng as rng_mod

REMASKING = ("low_confidence", "random")


def torch_forward(model):
    """Wrap an LLaDAModel as ids [T] -> fp32 numpy logits [T, V]."""
    import torch

    def fwd(ids):
        with torch.no_grad():
            t = torch.as_tensor(np.asarray(ids, dtype=np.int64))[None, :]
            return model(t)[0].float().numpy()
    return fwd


def validate_params(prompt_ids, gen_length, steps, block_length, temperature, cfg_scale,
                    remasking, seed, mask_id, vocab_size):
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    for name, v in (("gen_length", gen_length), ("steps", steps),
                    ("block_length", block_length)):
        if not is_int(v):
            raise ValueError("%s must be an integer, got %r" % (name, v))
    if gen_length < 1:
        raise ValueError("gen_length must be >= 1, got %d" % gen_length)
    if steps < 1:
        raise ValueError("steps must be >= 1, got %d" % steps)
    if block_length < 1:
        raise ValueError("block_length must be >= 1, got %d" % block_length)
    if gen_length % block_length != 0:
        raise ValueError("gen_length (%d) must be a multiple of block_length (%d)"
                         % (gen_length, block_length))
    nb = gen_length // block_length
    if steps % nb != 0:
        raise ValueError("steps (%d) must be a multiple of the number of blocks "
                         "gen_length/block_length (%d)" % (steps, nb))
    for name, v in (("temperature", temperature), ("cfg_scale", cfg_scale)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError("%s must be a finite number >= 0, got %r" % (name, v))
    if remasking not in REMASKING:
        raise ValueError("remasking must be one of %s, got %r" % (REMASKING, remasking))
    if not is_int(seed) or not (0 <= seed < (1 << 64)):
        raise ValueError("seed must be an integer in [0, 2^64), got %r" % (seed,))
    if len(prompt_ids) < 1:
        raise ValueError("the prompt must contain at least one token")
    for t in prompt_ids:
        if not is_int(t) or not (0 <= t < vocab_size):
            raise ValueError("prompt token %r is outside the vocabulary [0, %d)"
                             % (t, vocab_size))
        if t == mask_id:
            raise ValueError("the prompt contains the mask token id %d" % mask_id)


def _log_gap(a, b):
    """Gap between two positive-or--inf scores in log units (inf when exact)."""
    if a == b:
        return 0.0 if a != -math.inf else math.inf
    if b == -math.inf or b <= 0:
        return math.inf
    return math.log(a) - math.log(b)


def generate(forward, prompt_ids, *, gen_length, steps, block_length, mask_id, eos_id,
             eot_id, vocab_size, temperature=0.0, cfg_scale=0.0,
             remasking="low_confidence", seed=0, logits_eos_inf=False,
             confidence_eos_eot_inf=False, diagnostics=False):
    """Run the sampler. Returns {"token_ids", "steps", "forwards", "trace"} and, when
    diagnostics is true, "gaps": per step {"argmax": min top1-top2 gap over committed
    positions, "select": gap between the k-th and (k+1)-th confidence}, both in log
    units (a relative difference of scores), inf when the decision is exact."""
    prompt_ids = list(prompt_ids)
    validate_params(prompt_ids, gen_length, steps, block_length, temperature, cfg_scale,
                    remasking, seed, mask_id, vocab_size)
    for name, v in (("mask_id", mask_id), ("eos_id", eos_id)):
        if not (0 <= v < vocab_size):
            raise ValueError("%s %d outside the vocabulary" % (name, v))
    if eot_id is not None and not (0 <= eot_id < vocab_size):
        raise ValueError("eot_id %d outside the vocabulary" % eot_id)

    prompt_ids = [int(t) for t in prompt_ids]
    P = len(prompt_ids)
    x = np.array(prompt_ids + [mask_id] * gen_length, dtype=np.int64)
    nb = gen_length // block_length
    spb = steps // nb
    w = np.float32(float(cfg_scale) + 1.0)
    vocab = np.arange(vocab_size, dtype=np.int64)
    s = 0
    forwards = 0
    trace = []
    gaps = []
    for b in range(nb):
        lo = P + b * block_length
        hi = lo + block_length
        m = int((x[lo:hi] == mask_id).sum())
        n_transfer = [m // spb + (1 if i < m % spb else 0) for i in range(spb)]
        for i in range(spb):
            logits = np.asarray(forward(x), dtype=np.float32)
            forwards += 1
            if logits.shape != (len(x), vocab_size):
                raise ValueError("model returned logits of shape %s, expected %s"
                                 % (logits.shape, (len(x), vocab_size)))
            if cfg_scale > 0:
                ux = x.copy()
                ux[:P] = mask_id
                un = np.asarray(forward(ux), dtype=np.float32)
                forwards += 1
                logits = (un + w * (logits - un)).astype(np.float32)
            cand = lo + np.nonzero(x[lo:hi] == mask_id)[0]
            lc = logits[cand].copy()                       # fp32 [C, V]
            if not np.isfinite(lc).all():
                raise ValueError("non-finite logits at step %d" % s)
            if logits_eos_inf:
                lc[:, eos_id] = -np.inf
            l64 = lc.astype(np.float64)
            if temperature == 0:
                score = l64                                 # argmax over fp32 values
            else:
                u = rng_mod.rng_uniform_np(seed, rng_mod.STREAM_GUMBEL, s,
                                           cand[:, None], vocab[None, :])
                with np.errstate(divide="ignore"):
                    score = np.exp(l64) / np.power(-np.log(u), float(temperature))
            x0 = np.argmax(score, axis=1)                   # first max = lowest id
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
            k = n_transfer[i]
            order = np.argsort(-conf, kind="stable")
            pick = order[:k]
            x[cand[pick]] = x0[pick]
            trace.append([int(t) for t in x[P:]])
            if diagnostics:
                g_arg = math.inf
                for j in pick:
                    row = score[j]
                    top = int(x0[j])
                    rest = np.delete(row, top)
                    second = float(rest.max())
                    first = float(row[top])
                    if temperature == 0:
                        g = first - second if second != -math.inf else math.inf
                    else:
                        g = _log_gap(first, second)
                    g_arg = min(g_arg, g)
                g_sel = math.inf
                if 0 < k < len(cand) and remasking == "low_confidence":
                    # (random remasking: conf comes from the RNG, exact in every engine)
                    a = float(conf[order[k - 1]])
                    c = float(conf[order[k]])
                    g_sel = _log_gap(a, c) if a != -math.inf else math.inf
                gaps.append({"argmax": g_arg, "select": g_sel})
            s += 1
    out = {"token_ids": [int(t) for t in x[P:]], "steps": s, "forwards": forwards,
           "trace": trace}
    if diagnostics:
        out["gaps"] = gaps
    return out
