"""Shared pieces of the small-model trainer and its evaluation.

Design
------
* Chat format: exactly LLaDA-Instruct's template (the one built into the C engine):
      <|startoftext|><|start_header_id|>system<|end_header_id|>\\n\\n{system}<|eot_id|>
      <|start_header_id|>user<|end_header_id|>\\n\\n{user}<|eot_id|>
      <|start_header_id|>assistant<|end_header_id|>\\n\\n
  The prompt and the answer are tokenized separately (the engine tokenizes the prompt
  and generates the answer ids), and the response region is
      answer ids, <|eot_id|>, <|endoftext|> ... up to gen_length
  as in LLaDA's SFT (the model learns to emit EOT then EOS padding).
* hidden_states(): the forward pass of ops/reference/llada_model.LLaDAModel up to the
  final norm, so that the trainer can apply the LM head only to the masked positions
  (the head over every prompt position would be wasted work).
* ref_sampler(): ops/reference/llada_generate.generate (the repository's reference
  sampler) row by row; evaluate() uses it by default.
* generate(): a batched torch restatement of LLaDA's reference sampler (a faster
  alternative for experiments) (docs/algorithms.md section 4 / 13.1) at
  temperature 0 with low-confidence remasking: canvas [prompt | MASK * gen_length],
  gen_length split into blocks, steps spread evenly over blocks, the masked count of a
  block spread over its steps (remainder to the first steps), each step argmax + softmax
  confidence, positions after the current block get -inf, top-k commit. Rows of a batch
  must have the same prompt length (no padding, so the result equals batch size 1).
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "ops", "reference"))
sys.path.insert(0, os.path.join(ROOT, "ops", "tasks"))
sys.path.insert(0, HERE)

import llada_model as lm  # noqa: E402
import tasks  # noqa: E402
from tok import Tokenizer  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|startoftext|>", "<|mdm_mask|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

DEFAULT_GEN_LENGTH = 8
DEFAULT_BLOCK_LENGTH = 8
DEFAULT_STEPS = 8


def chat_prompt(system, user):
    """The LLaDA-Instruct chat prompt; system None = no system turn (the trainer's
    curriculum drops the shared system prompt early in training)."""
    head = "<|startoftext|>"
    if system is not None:
        head += "<|start_header_id|>system<|end_header_id|>\n\n" + system + "<|eot_id|>"
    return (head + "<|start_header_id|>user<|end_header_id|>\n\n" + user +
            "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")


class Codec:
    """Tokenizer + the LLaDA special ids + item encoding."""

    def __init__(self, tokenizer_path):
        self.tok = Tokenizer(tokenizer_path)
        self.eos = self.tok.token_id("<|endoftext|>")
        self.bos = self.tok.token_id("<|startoftext|>")
        self.mask = self.tok.token_id("<|mdm_mask|>")
        self.eot = self.tok.token_id("<|eot_id|>")
        self.vocab_size = max(self.tok.id_to_token) + 1
        self._prompt_cache = {}

    def prompt_ids(self, item, with_system=True):
        key = (item["system"] if with_system else None, item["user"])
        ids = self._prompt_cache.get(key)
        if ids is None:
            ids = self.tok.encode(chat_prompt(key[0], item["user"]))
            if len(self._prompt_cache) < 100000:
                self._prompt_cache[key] = ids
        return ids

    def response_ids(self, answer, gen_length):
        ids = self.tok.encode(answer) + [self.eot]
        if len(ids) > gen_length:
            raise ValueError("answer %r needs %d tokens > gen_length %d"
                             % (answer, len(ids), gen_length))
        return ids + [self.eos] * (gen_length - len(ids))

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=True)


_SDPA = getattr(torch.nn.functional, "scaled_dot_product_attention", None)  # torch >= 2


def _block(blk, x, cos, sin, keep):
    """LLaDABlock.forward (ops/reference/llada_model.py) with an optional key mask.
    x: (B, T, D); keep: None or bool (B, 1, 1, T), False = padding key nobody attends to.
    Uses torch's fused attention where it exists (torch >= 2, e.g. on the GPU)."""
    B, T, D = x.shape
    H, hd = blk.n_heads, blk.head_dim
    h = blk.attn_norm(x)                                          # (B, T, D)
    q = blk.q_proj(h).view(B, T, H, hd).transpose(1, 2)           # (B, H, T, hd)
    k = blk.k_proj(h).view(B, T, H, hd).transpose(1, 2)
    v = blk.v_proj(h).view(B, T, H, hd).transpose(1, 2)
    q = lm.apply_rope(q, cos, sin)
    k = lm.apply_rope(k, cos, sin)
    if _SDPA is not None and x.is_cuda:   # v is bf16 under autocast: all in v's dtype
        a = _SDPA(q.to(v.dtype), k.to(v.dtype), v, attn_mask=keep)   # (B, H, T, hd)
    elif keep is None:
        a = lm.attention(q, k, v)
    else:
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / hd ** 0.5)   # (B, H, T, T)
        scores = scores.float().masked_fill(~keep, float("-inf"))
        a = torch.matmul(torch.softmax(scores, dim=-1).to(v.dtype), v)
    x = x + blk.attn_out(a.transpose(1, 2).reshape(B, T, D))
    z = blk.ff_norm(x)
    return x + blk.ff_out(torch.nn.functional.silu(blk.ff_proj(z)) * blk.up_proj(z))


def hidden_states(model, ids, lengths=None):
    """ids (B, T) -> final-normed hidden states (B, T, D) (LLaDAModel.forward minus head).
    lengths: None or LongTensor (B,): row b is ids[b, :lengths[b]], the rest is padding
    that no position attends to (so a padded row computes exactly what the row alone
    would; padding positions themselves are garbage and must be ignored)."""
    cfg = model.config
    T = ids.shape[1]
    cos, sin = lm.rope_cos_sin(torch.arange(T), cfg.head_dim, cfg.rope_theta)
    cos, sin = cos.to(ids.device), sin.to(ids.device)             # (T, hd/2)
    keep = None
    if lengths is not None:
        keep = (torch.arange(T, device=ids.device)[None, :] <
                lengths.to(ids.device)[:, None])[:, None, None, :]  # (B, 1, 1, T)
    t = model.transformer
    x = t.wte(ids).float()                                        # (B, T, D)
    for blk in t.blocks:
        x = _block(blk, x, cos, sin, keep)
    return t.ln_f(x)


@torch.no_grad()
def generate(model, prompt, gen_length, block_length, steps, mask_id, codec=None):
    """LLaDA reference sampler, temperature 0, low-confidence remasking.
    prompt: LongTensor [B,P] (same P for all rows). Returns [B, gen_length]."""
    if prompt.dim() != 2:
        raise ValueError("generate: prompt must be [B, P]")
    if gen_length <= 0 or block_length <= 0 or steps <= 0:
        raise ValueError("generate: gen_length, block_length and steps must be positive")
    if gen_length % block_length:
        raise ValueError("generate: gen_length must be a multiple of block_length")
    nb = gen_length // block_length
    if steps % nb:
        raise ValueError("generate: steps must be a multiple of the number of blocks")
    spb = steps // nb
    B, P = prompt.shape
    x = torch.full((B, P + gen_length), mask_id, dtype=torch.long, device=prompt.device)
    x[:, :P] = prompt
    for b in range(nb):
        s, e = P + b * block_length, P + (b + 1) * block_length
        m = (x[:, s:e] == mask_id).sum(1)
        base, rem = m // spb, m % spb
        for i in range(spb):
            n_tr = base + (i < rem).long()
            mask_index = x == mask_id
            logits = model.transformer.ff_out(hidden_states(model, x)).float()
            x0 = logits.argmax(-1)
            conf = torch.softmax(logits.double(), -1).gather(-1, x0[..., None])[..., 0]
            conf[:, e:] = float("-inf")
            x0 = torch.where(mask_index, x0, x)
            conf = torch.where(mask_index, conf, torch.full_like(conf, float("-inf")))
            for r in range(B):
                k = int(n_tr[r])
                if k > 0:
                    sel = torch.topk(conf[r], k).indices
                    x[r, sel] = x0[r, sel]
    return x[:, P:]


def ref_sampler(model, prompt, gen_length, block_length, steps, mask_id, codec=None):
    """The repository's reference sampler (ops/reference/llada_generate.py), one row at a
    time, temperature 0, low-confidence remasking, no CFG, no EOS/EOT tricks."""
    import llada_generate as lg
    fwd = lg.torch_forward(model)
    cfg = model.config
    out = []
    for r in range(prompt.shape[0]):
        res = lg.generate(fwd, prompt[r].tolist(), gen_length=gen_length, steps=steps,
                          block_length=block_length, mask_id=mask_id,
                          eos_id=cfg.eos_token_id, eot_id=codec.eot if codec else None,
                          vocab_size=cfg.vocab_size)
        out.append(res["token_ids"])
    return torch.tensor(out)


def evaluate(model, codec, items, gen_length=DEFAULT_GEN_LENGTH,
             block_length=DEFAULT_BLOCK_LENGTH, steps=DEFAULT_STEPS, max_batch=16,
             sampler=None, keep_predictions=False):
    """Run items through the sampler; returns dict with overall and per-task accuracy."""
    sampler = sampler or ref_sampler
    model.eval()
    groups = {}
    for idx, it in enumerate(items):
        groups.setdefault(len(codec.prompt_ids(it)), []).append(idx)
    preds = [None] * len(items)
    for plen in sorted(groups):
        idxs = groups[plen]
        for c in range(0, len(idxs), max_batch):
            chunk = idxs[c:c + max_batch]
            prompt = torch.tensor([codec.prompt_ids(items[i]) for i in chunk])
            if sampler is generate:   # the batched sampler runs where the model is
                prompt = prompt.to(next(model.parameters()).device)
            out = sampler(model, prompt, gen_length, block_length, steps, codec.mask, codec)
            for r, i in enumerate(chunk):
                preds[i] = codec.decode(out[r].cpu().tolist())
    per = {}
    for it, p in zip(items, preds):
        ok = tasks.score(it["task"], p, it["answer"])
        c = per.setdefault(it["task"], [0, 0])
        c[0] += ok
        c[1] += 1
    total = sum(v[0] for v in per.values())
    n = sum(v[1] for v in per.values())
    res = {"overall": total / n, "n": n,
           "per_task": {k: {"acc": v[0] / v[1], "correct": v[0], "n": v[1]}
                        for k, v in sorted(per.items())},
           "gen_length": gen_length, "block_length": block_length, "steps": steps}
    if keep_predictions:
        res["predictions"] = [{"id": it["id"], "task": it["task"], "answer": it["answer"],
                               "prediction": p} for it, p in zip(items, preds)]
    return res
