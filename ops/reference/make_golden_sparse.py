"""Regenerate the Sparse-dLLM golden traces with one command:

    /usr/bin/python3 ops/reference/make_golden_sparse.py [--root DIR] [--quiet]

Design
------
The C engine must reproduce, token for token in fp32 on the CPU, the traces of
fastdllm.generate() (the LLaDA sampler with the threshold / factor / early-stop options)
driven by sparse_dllm.SparseForward. This script reads tests/data/tiny-llada-4l and writes
only tests/data/golden/traces_sparse.json, reusing make_golden_fastdllm.py's prompt
builder, runner and per-trace consistency check (every step commits only masks of the
current block, by the rule in force; early stop; final row = output).

Checks (AssertionError on any):
  * per-trace consistency (make_golden_fastdllm.check_trace);
  * forwards and row counters equal sparse_dllm.expected_rows() (from the block steps);
  * the full forwards (steps 0 and 1 of each block) give the plain model's block logits
    (to 1e-5); the kept-row selection is re-derived from the plain model's K/Q of the
    step-1 canvas (an independent float64 numpy computation of the scores, pooling and
    ranking) and must be the same rows;
  * MaskedReference, an independent float64 numpy formulation of the later steps (every
    row of every layer runs; before each layer the rows outside the block are reset to
    the step-1 forward's input residual of that layer, and the block's queries may only
    attend to the kept rows and the block, by a -inf score mask), fed the same canvases,
    gives block logits within 1e-4 of SparseForward's;
  * each case differs from the uncached trace with the same decoding options, and the
    threshold / factor cases commit > 1 token in some step, early-stop cases stop early;
  * robustness: minimum decision gaps (argmax, select, threshold, factor as in
    make_golden_fastdllm.py; keep = relative gap of the keep boundary score to its
    nearest distinct neighbour) >= 1e-4;
  * determinism: the grid is computed twice and the documents are identical.
"""

import argparse
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fastdllm  # noqa: E402
import llada_generate  # noqa: E402
import llada_model  # noqa: E402
import make_golden  # noqa: E402
import make_golden_fastdllm as mgf  # noqa: E402
import sparse_dllm  # noqa: E402

CKPT = "tiny-llada-4l"
MIN_GAP = 1e-4
GAP_KEYS = ("argmax", "select", "threshold", "factor")


def trace_cases():
    def P(gen, steps, block, temperature=0.0, cfg=0.0, seed=0, thr=0.0, fac=0.0, es=False,
          keep=0.5, kernel=3):
        return {"gen_length": gen, "steps": steps, "block_length": block,
                "temperature": temperature, "cfg_scale": cfg,
                "remasking": "low_confidence", "seed": seed, "logits_eos_inf": False,
                "confidence_eos_eot_inf": False,
                "cache": {"policy": "sparse", "keep_ratio": keep, "kernel": kernel},
                "decode": {"threshold": thr, "factor": fac, "early_stop": es}}

    story = ("text", "Once upon a time, in a land far away, there lived a")
    chat = ("chat", "What is the capital of France?")
    fox = ("text", "The quick brown fox jumps over the lazy dog.")
    R = lambda k, n: ("rand", k, n)  # noqa: E731
    D = {"differs": True}
    M = {"differs": True, "multi": True}
    S = {"differs": True, "stop": True}
    return [
        ("sparse_b4_g16_t0", story, P(16, 16, 4), D),
        ("sparse_b8_g32_t0.8", chat, P(32, 32, 8, 0.8, seed=1), D),
        ("sparse_b8_g32_keep0.25_k1", R(1105, 16), P(32, 16, 8, keep=0.25, kernel=1), D),
        ("sparse_b16_g32_keep0.75_k5", R(101, 30), P(32, 32, 16, keep=0.75, kernel=5), D),
        ("sparse_b8_g24_keep1_t0.8", R(1105, 16), P(24, 24, 8, 0.8, seed=2, keep=1.0), D),
        ("sparse_cfg1.0_b8_g24", R(1104, 44), P(24, 24, 8, cfg=1.0), D),
        ("thr0.9_sparse_cfg3", R(1262, 40), P(32, 32, 8, cfg=3.0, thr=0.9), M),
        ("thr0.5_sparse_cfg2_t0.8", R(1208, 14), P(32, 32, 8, 0.8, cfg=2.0, seed=5,
                                                  thr=0.5), M),
        ("fac2.0_sparse_cfg3", R(303, 20), P(32, 32, 8, cfg=3.0, fac=2.0), M),
        ("es_sparse_thr0.5_cfg2", R(1437, 30), P(32, 32, 8, cfg=2.0, thr=0.5, es=True),
         dict(S, multi=True)),
    ]


def _forward(model, p, params):
    sp = make_golden.specials()
    c = params["cache"]
    return sparse_dllm.SparseForward(model, len(p), params["gen_length"],
                                     params["block_length"], sp["<|mdm_mask|>"],
                                     cfg_scale=params["cfg_scale"],
                                     keep_ratio=c["keep_ratio"], kernel=c["kernel"])


def run(model, p, params, wrap=None, fwd=None):
    fwd = fwd or _forward(model, p, params)
    res = mgf.run(model, p, params, diagnostics=True, wrap=wrap or fwd)
    res["forwards"] = fwd.forwards
    res["rows"] = {"q": fwd.rows_q, "v": fwd.rows_v, "mlp": fwd.rows_mlp}
    res["keep_gap"] = fwd.min_keep_gap
    return res, fwd


class MaskedReference:
    """Independent float64 numpy formulation (see the module docstring)."""

    def __init__(self, model, P, R, BL, nkeep, kernel):
        self.cfg = model.config
        self.w = {k: v.double().numpy() for k, v in model.state_dict_hf().items()}
        self.P, self.R, self.BL, self.L = P, R, BL, P + R
        self.nkeep, self.kernel = nkeep, kernel
        hd = self.cfg.head_dim
        inv = 1.0 / (self.cfg.rope_theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
        ang = np.arange(self.L, dtype=np.float64)[:, None] * inv[None, :]
        self.cs, self.sn = np.cos(ang), np.sin(ang)
        self.snap, self.kept = {}, {}

    def _rms(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.cfg.rms_norm_eps) * w

    def _rope(self, x):
        H, hd = self.cfg.n_heads, self.cfg.head_dim
        y = x.reshape(self.L, H, hd)
        a, b = y[..., :hd // 2], y[..., hd // 2:]
        cs, sn = self.cs[:, None, :], self.sn[:, None, :]
        return np.concatenate([a * cs - b * sn, b * cs + a * sn], -1).reshape(self.L, -1)

    def _select(self, q, k, lo, hi):
        """float64 scores, pooled and ranked with numpy only."""
        hd = self.cfg.head_dim
        stat = (k @ q[lo:hi].sum(0)) / math.sqrt(hd)
        other = np.concatenate([np.arange(0, lo), np.arange(hi, self.L)])
        v = stat[other]
        r = self.kernel // 2
        pooled = np.array([v[max(0, m - r):m + r + 1].max() for m in range(len(v))])
        order = np.lexsort((np.arange(len(v)), -pooled))
        return sorted(int(other[m]) for m in order[:self.nkeep])

    def forward(self, ids, branch, block, i):
        w, cfg, L = self.w, self.cfg, self.L
        H, hd = cfg.n_heads, cfg.head_dim
        lo = self.P + block * self.BL
        hi = lo + self.BL
        inB = np.zeros(L, bool)
        inB[lo:hi] = True
        x = w["model.transformer.wte.weight"][np.asarray(ids)]
        if i == 1:
            self.snap[branch], self.kept[branch] = [], []
        for li in range(cfg.n_layers):
            pre = "model.transformer.blocks.%d." % li
            W = lambda n: w[pre + n + ".weight"]  # noqa: E731
            if i == 1:
                self.snap[branch].append(x.copy())
            elif i >= 2:
                x = np.where(inB[:, None], x, self.snap[branch][li])
            h = self._rms(x, W("attn_norm"))
            qf = self._rope(h @ W("q_proj").T)
            kf = self._rope(h @ W("k_proj").T)
            if i == 1:
                self.kept[branch].append(self._select(qf, kf, lo, hi))
            q = qf.reshape(L, H, hd).transpose(1, 0, 2)
            k = kf.reshape(L, H, hd).transpose(1, 0, 2)
            v = (h @ W("v_proj").T).reshape(L, H, hd).transpose(1, 0, 2)
            sc = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            if i >= 2:
                allowed = inB.copy()
                allowed[self.kept[branch][li]] = True
                sc = np.where(inB[None, :, None] & ~allowed[None, None, :], -np.inf, sc)
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            o = ((sc / sc.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(L, -1)
            x = x + o @ W("attn_out").T
            z = self._rms(x, W("ff_norm"))
            g = z @ W("ff_proj").T
            x = x + ((g / (1.0 + np.exp(-g))) * (z @ W("up_proj").T)) @ W("ff_out").T
        x = self._rms(x, w["model.transformer.ln_f.weight"])
        return x @ w["model.transformer.ff_out.weight"].T


def cross_check(model, p, params):
    """Drive the sampler with SparseForward and compare every forward with the plain
    model (full forwards) and MaskedReference (all), and the kept rows of every step-1
    selection with MaskedReference's. Returns (diff vs plain, diff vs masked, trace)."""
    P, BL = len(p), params["block_length"]
    fwd = _forward(model, p, params)
    ref = MaskedReference(model, P, params["gen_length"], BL, fwd.nkeep, fwd.kernel)
    plain = llada_generate.torch_forward(model)
    worst = [0.0, 0.0]

    class Wrap:
        def begin_step(self, b, first):
            fwd.begin_step(b, first)

        def __call__(self, ids):
            branch = "cond" if fwd.calls_in_step == 0 else "uncond"
            n_log = len(fwd.kept_log)
            out = fwd(ids)
            lo = P + fwd.block * BL
            sl = slice(lo, lo + BL)
            if fwd.i <= 1:
                worst[0] = max(worst[0], float(np.abs(plain(ids)[sl] - out[sl]).max()))
            lg = ref.forward(ids, branch, fwd.block, fwd.i)
            worst[1] = max(worst[1], float(np.abs(lg[sl] - out[sl]).max()))
            if fwd.i == 1:
                got = [e[3] for e in fwd.kept_log[n_log:]]
                if got != ref.kept[branch]:
                    raise AssertionError("kept rows differ from the float64 selection")
            return out

    res, _ = run(model, p, params, wrap=Wrap(), fwd=fwd)
    if worst[0] > 1e-5:
        raise AssertionError("full forward differs from the plain model by %.2e" % worst[0])
    if worst[1] > 1e-4:
        raise AssertionError("masked cross-check: logits differ by %.2e" % worst[1])
    return worst, res["trace"]


def _r6(g):
    return float("%.6g" % g) if math.isfinite(g) else None


def build_doc(model, full, stats):
    sp = make_golden.specials()
    mask, eos, eot = sp["<|mdm_mask|>"], sp["<|endoftext|>"], sp["<|eot_id|>"]
    nl = model.config.n_layers
    out = []
    for name, spec, params, req in trace_cases():
        p = mgf.prompt(spec)
        res, fwd = run(model, p, params)
        gaps = {k: min([g[k] for g in res["gaps"]] + [math.inf]) for k in GAP_KEYS}
        gaps["keep"] = res["keep_gap"]
        out.append({"name": name, "checkpoint": CKPT, "prompt_ids": p, "params": params,
                    "trace": res["trace"], "output_ids": res["token_ids"],
                    "steps": res["steps"], "block_steps": res["block_steps"],
                    "forwards": res["forwards"], "rows": res["rows"],
                    "completion_tokens": res["completion_tokens"],
                    "stopped_early": res["stopped_early"], "nkeep": fwd.nkeep,
                    "min_gap": {k: _r6(gaps[k]) for k in GAP_KEYS + ("keep",)}})
        if not full:
            continue
        mgf.check_trace(name, len(p), params, res, mask, eos, eot)
        want = sparse_dllm.expected_rows(nl, len(p), params["gen_length"],
                                         params["block_length"], res["block_steps"],
                                         params["cfg_scale"])
        if res["forwards"] != want["forwards"] or \
                any(res["rows"][k] != want[k] for k in ("q", "v", "mlp")):
            raise AssertionError("%s: counters %s / %d != %s" % (name, res["rows"],
                                                                 res["forwards"], want))
        plain = mgf.run(model, p, dict(params, cache={"policy": "none"}), diagnostics=False)
        differs = plain["trace"] != res["trace"]
        (dp, dm), tr2 = cross_check(model, p, params)
        if tr2 != res["trace"]:
            raise AssertionError("%s: cross-check run gives another trace" % name)
        stats["plain_diff"] = max(stats["plain_diff"], dp)
        stats["masked_diff"] = max(stats["masked_diff"], dm)
        multi = max(len([q for q in range(len(r)) if r[q] != pr[q]])
                    for r, pr in zip(res["trace"], [[mask] * params["gen_length"]]
                                     + res["trace"][:-1]))
        if req.get("multi") and multi < 2:
            raise AssertionError("%s: no step commits more than one token" % name)
        if req.get("stop") and not res["stopped_early"]:
            raise AssertionError("%s: does not stop early" % name)
        if req.get("differs") and not differs:
            raise AssertionError("%s: same trace as the uncached sampler" % name)
        for k in GAP_KEYS + ("keep",):
            if gaps[k] < stats[k][0]:
                stats[k] = (gaps[k], name)
        stats["stops"] += int(res["stopped_early"])
        stats["rows_txt"].append(
            "%-28s P %2d nkeep %3d steps %2d fw %3d q %6d comp %2d%s%s  %s"
            % (name, len(p), fwd.nkeep, res["steps"], res["forwards"], res["rows"]["q"],
               res["completion_tokens"], " STOP" if res["stopped_early"] else "     ",
               " diff" if differs else "     ",
               " ".join("%s %.1e" % (k[:3], gaps[k]) for k in GAP_KEYS + ("keep",)
                        if math.isfinite(gaps[k]))))
    return {"special_ids": {"mask_id": mask, "eos_id": eos, "eot_id": eot,
                            "bos_id": sp["<|startoftext|>"]},
            "min_gap_note": "as traces_fast.json; keep = relative gap between the keep "
                            "boundary's pooled score and its nearest distinct neighbour",
            "cases": out}


def main(argv=None):
    ap = argparse.ArgumentParser(description="regenerate the Sparse-dLLM golden traces")
    ap.add_argument("--root", default=os.path.abspath(os.path.join(HERE, "..", "..")),
                    help="repository root (default: this repository)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    src_root = os.path.abspath(os.path.join(HERE, "..", ".."))
    model, _ = llada_model.load_checkpoint(os.path.join(src_root, "tests", "data", CKPT))
    gdir = os.path.join(args.root, "tests", "data", "golden")
    os.makedirs(gdir, exist_ok=True)
    stats = {k: (math.inf, None) for k in GAP_KEYS + ("keep",)}
    stats.update({"plain_diff": 0.0, "masked_diff": 0.0, "rows_txt": [], "stops": 0})
    doc = build_doc(model, True, stats)
    text = make_golden.dumps_compact(doc) + "\n"
    text2 = make_golden.dumps_compact(build_doc(model, False, {})) + "\n"
    if text != text2:
        raise AssertionError("two runs of the grid differ: not deterministic")
    make_golden.write_text(os.path.join(gdir, "traces_sparse.json"), text)
    if not args.quiet:
        print("\n".join(stats["rows_txt"]))
        print("cases: %d, %d stop early" % (len(doc["cases"]), stats["stops"]))
        print("determinism: two runs identical; per-trace consistency and counters: ok")
        print("full forwards vs plain model: max diff %.2e" % stats["plain_diff"])
        print("vs float64 masked formulation: max diff %.2e (kept rows identical)"
              % stats["masked_diff"])
        for k in GAP_KEYS + ("keep",):
            print("minimum %-9s gap: %.3e (%s)" % (k, stats[k][0], stats[k][1]))
    for k in GAP_KEYS + ("keep",):
        if stats[k][0] < MIN_GAP:
            raise AssertionError("case %s: %s gap %.3e < %.0e: change its seed or prompt"
                                 % (stats[k][1], k, stats[k][0], MIN_GAP))
    return 0


if __name__ == "__main__":
    sys.exit(main())
