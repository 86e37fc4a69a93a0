"""PyTorch speed baseline for the CUDA engine: dLLM-Cache and no cache on a GPU, bf16, SDPA.

Design
------
The engine's GPU speed target is stated against PyTorch on the same GPU (issue 9: at least
5x faster at batch 1). This script is that PyTorch implementation, written the way a
careful PyTorch user would: weights in bf16 on the device, torch's fused
scaled_dot_product_attention, the dLLM-Cache step logic of dllm_cache.py (cases A-D of
algorithms.md section 1: prompt refresh every K_p forwards, response refresh every K_r,
V-verify of the rho * R least similar response rows otherwise, layer-0 rule), the V-verify
selection on the GPU (cosine + topk), the LM head on the current block only (as the
engine does; the Hugging Face code runs it on every row, which would only slow PyTorch
down), greedy decoding with low-confidence remasking. It measures speed, not tokens: the
weights are random (seeded) in LLaDA-8B's shape, as `dllm bench --synthetic llada-8b` uses.

dllm_cache.py stays the exactness reference (fp32, CPU, traces); this file reuses its
step logic but not its diagnostics, which synchronise with the host at every layer.

Usage (on the GPU machine; python3 there has torch with CUDA):
    python3 ops/reference/bench_torch.py [--prompt-len 893] [--gen-length 256]
        [--steps 256] [--block-length 8] [--kp 100] [--kr 7] [--rho 0.25] [--policies none,dllm]
Prints one line per policy: seconds, ms per step, tokens/s.
"""

import argparse
import math
import time

import torch
import torch.nn.functional as F

SHAPE_8B = dict(C=4096, L=32, H=32, Fh=12288, V=126464)
MASK_ID = 126336


class Weights:
    def __init__(self, C, L, H, Fh, V, dev, seed=1):
        g = torch.Generator(device=dev).manual_seed(seed)

        def mat(r, c):
            a = math.sqrt(3.0 / c)
            return ((torch.rand(r, c, generator=g, device=dev) * 2 - 1) * a).to(torch.bfloat16)

        self.C, self.L, self.H, self.hd, self.Fh, self.V = C, L, H, C // H, Fh, V
        self.wte = ((torch.rand(V, C, generator=g, device=dev) * 2 - 1)).to(torch.bfloat16)
        self.blocks = []
        for _ in range(L):
            self.blocks.append(dict(
                an=torch.ones(C, device=dev, dtype=torch.bfloat16),
                wq=mat(C, C), wk=mat(C, C), wv=mat(C, C), wo=mat(C, C),
                fn=torch.ones(C, device=dev, dtype=torch.bfloat16),
                wg=mat(Fh, C), wu=mat(Fh, C), wd=mat(C, Fh)))
        self.lnf = torch.ones(C, device=dev, dtype=torch.bfloat16)
        self.head = mat(V, C)


def rms(x, w, eps=1e-5):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


class Runner:
    def __init__(self, w, P, R, policy, kp, kr, rho, dev):
        self.w, self.P, self.R, self.T = w, P, R, P + R
        self.policy, self.kp, self.kr, self.rho = policy, kp, kr, rho
        C, L, T = w.C, w.L, self.T
        bf = torch.bfloat16
        self.K = torch.zeros(L, T, C, device=dev, dtype=bf)
        self.Vc = torch.zeros(L, T, C, device=dev, dtype=bf)
        self.A = torch.zeros(L, T, C, device=dev, dtype=bf)
        self.Fm = torch.zeros(L, T, C, device=dev, dtype=bf)
        hd = w.hd
        inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, device=dev, dtype=torch.float32) / hd))
        ang = torch.arange(T, device=dev, dtype=torch.float32)[:, None] * inv[None, :]
        self.cos, self.sin = torch.cos(ang).to(bf), torch.sin(ang).to(bf)
        self.t = 0

    def rope(self, x, rows):
        n, H, hd = x.shape[0], self.w.H, self.w.hd
        y = x.view(n, H, hd)
        c, s = self.cos[rows][:, None, :], self.sin[rows][:, None, :]
        a, b = y[..., : hd // 2], y[..., hd // 2:]
        return torch.cat([a * c - b * s, b * c + a * s], -1).reshape(n, H * hd)

    def attend(self, blk, q, li):
        n, H, hd, T = q.shape[0], self.w.H, self.w.hd, self.T
        qh = q.view(1, n, H, hd).transpose(1, 2)
        kh = self.K[li].view(1, T, H, hd).transpose(1, 2)
        vh = self.Vc[li].view(1, T, H, hd).transpose(1, 2)
        o = F.scaled_dot_product_attention(qh, kh, vh)
        return o.transpose(1, 2).reshape(n, H * hd) @ blk["wo"].T

    def mlp(self, blk, x):
        z = rms(x, blk["fn"])
        return (F.silu(z @ blk["wg"].T) * (z @ blk["wu"].T)) @ blk["wd"].T

    def forward(self, ids, head_rows):
        self.t += 1
        t, P, T, R = self.t, self.P, self.T, self.R
        dev = ids.device
        allr = torch.arange(T, device=dev)
        resp = allr[P:]
        prom = allr[:P]
        k = int(math.floor(R * self.rho))
        x = self.w.wte[ids]
        for li, blk in enumerate(self.w.blocks):
            if self.policy == "none":
                rp = rr = True
            else:
                rp = (t - 1) % self.kp == 0 or li == 0
                rr = (t - 1) % self.kr == 0 or li == 0
            K, Vc, A, Fm = self.K[li], self.Vc[li], self.A[li], self.Fm[li]
            h = rms(x, blk["an"])
            I = None
            if rp and rr:
                q = self.rope(h @ blk["wq"].T, allr)
                K[:] = self.rope(h @ blk["wk"].T, allr)
                Vc[:] = h @ blk["wv"].T
                A[:] = self.attend(blk, q, li)
            elif rr:
                hr = h[P:]
                q = self.rope(hr @ blk["wq"].T, resp)
                K[P:] = self.rope(hr @ blk["wk"].T, resp)
                Vc[P:] = hr @ blk["wv"].T
                A[P:] = self.attend(blk, q, li)
            else:
                parts = []
                if rp:
                    hp = h[:P]
                    parts.append(self.rope(hp @ blk["wq"].T, prom))
                    K[:P] = self.rope(hp @ blk["wk"].T, prom)
                    Vc[:P] = hp @ blk["wv"].T
                if k > 0:  # V-verify on the GPU
                    hr = h[P:]
                    vnew = hr @ blk["wv"].T
                    cs = F.cosine_similarity(vnew.float(), Vc[P:].float(), dim=-1)
                    I = torch.topk(cs, k, largest=False).indices.sort().values
                    Vc[P:] = vnew
                    rows = P + I
                    hI = hr[I]
                    K[rows] = self.rope(hI @ blk["wk"].T, rows)
                    parts.append(self.rope(hI @ blk["wq"].T, rows))
                if parts:
                    o = self.attend(blk, torch.cat(parts, 0), li)
                    if rp:
                        A[:P] = o[:P]
                    if I is not None:
                        A[P + I] = o[-k:]
            x = x + A
            if rp and rr:
                Fm[:] = self.mlp(blk, x)
            elif rr:
                Fm[P:] = self.mlp(blk, x[P:])
            else:
                if rp:
                    Fm[:P] = self.mlp(blk, x[:P])
                if I is not None:
                    Fm[P + I] = self.mlp(blk, x[P + I])
            x = x + Fm
        hx = rms(x[head_rows], self.w.lnf)
        return (hx @ self.w.head.T).float()


def generate(w, P, gen, steps, block, policy, kp, kr, rho, dev):
    ids = torch.full((P + gen,), MASK_ID, device=dev, dtype=torch.long)
    ids[:P] = 42
    run = Runner(w, P, gen, policy, kp, kr, rho, dev)
    nb = gen // block
    spb = steps // nb
    for b in range(nb):
        lo, hi = P + b * block, P + (b + 1) * block
        head_rows = torch.arange(lo, hi, device=dev)
        n_mask = block
        for i in range(spb):
            logits = run.forward(ids, head_rows)
            x0 = logits.argmax(-1)
            conf = torch.softmax(logits.double(), -1).gather(-1, x0[:, None])[:, 0]
            masked = ids[lo:hi] == MASK_ID
            conf = torch.where(masked, conf, torch.full_like(conf, -math.inf))
            n = n_mask // (spb - i)
            n_mask -= n
            if n > 0:
                sel = torch.topk(conf, n).indices
                ids[lo + sel] = x0[sel]
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompt-len", type=int, default=893)
    ap.add_argument("--gen-length", type=int, default=256)
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--block-length", type=int, default=8)
    ap.add_argument("--kp", type=int, default=100)
    ap.add_argument("--kr", type=int, default=7)
    ap.add_argument("--rho", type=float, default=0.25)
    ap.add_argument("--policies", default="none,dllm")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_torch.py: no CUDA device")
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    w = Weights(dev=dev, **SHAPE_8B)
    print("torch %s on %s; LLaDA-8B shape, bf16, SDPA; prompt %d gen %d steps %d block %d"
          % (torch.__version__, torch.cuda.get_device_name(), a.prompt_len, a.gen_length,
             a.steps, a.block_length), flush=True)
    with torch.inference_mode():
        generate(w, a.prompt_len, a.block_length, 1, a.block_length, "dllm", a.kp, a.kr,
                 a.rho, dev)  # warm-up
        for pol in a.policies.split(","):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            generate(w, a.prompt_len, a.gen_length, a.steps, a.block_length, pol, a.kp, a.kr,
                     a.rho, dev)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            print("torch %-5s %8.3f s  %8.2f ms/step  %8.1f tok/s"
                  % (pol, dt, 1e3 * dt / a.steps, a.gen_length / dt), flush=True)


if __name__ == "__main__":
    main()
