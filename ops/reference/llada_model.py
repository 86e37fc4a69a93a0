"""Independent PyTorch reference of the LLaDA (OLMo "llama" block) model.

Design
------
This file is the single source of truth for the model maths on the Python side. It is
written from the public description (docs/algorithms.md 1.1, 13.3, 13.4), not copied
from the upstream modeling file. It serves three users:

  * the sampler reference (llada_generate.py) and the golden data (make_golden.py),
    which need an exact fp32 forward;
  * the trainer of the small model that ships with the repo, which trains this very
    nn.Module (so it is a normal, batched, differentiable module with fp32 params);
  * the C/CUDA engine tests, which load the checkpoints written by write_checkpoint().

Model, all in fp32:
    x = wte[ids]                                   (no scaling, no positional embedding)
    per block:
        h = rmsnorm(x, attn_norm)
        q, k, v = h Wq^T, h Wk^T, h Wv^T           (no biases)
        q, k = rope(q), rope(k)                    (NeoX half-split, absolute positions)
        att = softmax(q k^T / sqrt(head_dim)) v    (bidirectional, NO mask, fp32 softmax)
        x = x + concat_heads(att) Wo^T             (Wo = attn_out)
        z = rmsnorm(x, ff_norm)
        x = x + (silu(z Wgate^T) * (z Wup^T)) Wdown^T    (ff_proj, up_proj, ff_out)
    logits = rmsnorm(x, ln_f) Whead^T              (head = transformer.ff_out, untied)

    rmsnorm(x, w) = x * rsqrt(mean(x^2, -1) + eps) * w
    rope: inv_freq[i] = 1 / theta^(2i/hd) for i < hd/2, computed in fp32 exactly as
          1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float) / hd));
          angle = pos * inv_freq (fp32); cos/sin in fp32;
          out[:h] = x[:h] cos - x[h:] sin ; out[h:] = x[h:] cos + x[:h] sin   (h = hd/2)

Parameter names: the module tree is `transformer.{wte, blocks.i.*, ln_f, ff_out}`, so
state_dict_hf() is state_dict() with a "model." prefix, i.e. exactly the HF names of
docs/algorithms.md 13.4.

Checkpoint directory layout (read by load_checkpoint, written by write_checkpoint):
    config.json, model.safetensors  or  model-0000i-of-0000n.safetensors +
    model.safetensors.index.json, tokenizer.json, tokenizer_config.json.
Only MHA (n_kv_heads == n_heads), no biases, no weight tying, rms norm, silu, rope,
llama block: anything else in config.json is rejected with a clear error.
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from . import safetensors_io as stio
except ImportError:  # run as a plain script directory
    import safetensors_io as stio


# ----------------------------------------------------------------------------- config

class LLaDAConfig:
    """The subset of the LLaDA config.json that defines the maths, validated."""

    def __init__(self, d_model, n_layers, n_heads, mlp_hidden_size, vocab_size,
                 max_sequence_length=4096, rope_theta=500000.0, rms_norm_eps=1e-5,
                 mask_token_id=126336, eos_token_id=126081, pad_token_id=126081,
                 n_kv_heads=None, embedding_size=None):
        self.d_model = int(d_model)
        self.n_layers = int(n_layers)
        self.n_heads = int(n_heads)
        self.n_kv_heads = int(n_kv_heads if n_kv_heads is not None else n_heads)
        self.mlp_hidden_size = int(mlp_hidden_size)
        self.vocab_size = int(vocab_size)
        self.embedding_size = int(embedding_size if embedding_size is not None else vocab_size)
        self.max_sequence_length = int(max_sequence_length)
        self.rope_theta = float(rope_theta)
        self.rms_norm_eps = float(rms_norm_eps)
        self.mask_token_id = int(mask_token_id)
        self.eos_token_id = int(eos_token_id)
        self.pad_token_id = int(pad_token_id)
        self.validate()

    def validate(self):
        for k in ("d_model", "n_layers", "n_heads", "mlp_hidden_size", "vocab_size",
                  "embedding_size", "max_sequence_length"):
            if getattr(self, k) <= 0:
                raise ValueError("config: %s must be positive, got %d" % (k, getattr(self, k)))
        if self.d_model % self.n_heads != 0:
            raise ValueError("config: d_model %d is not a multiple of n_heads %d"
                             % (self.d_model, self.n_heads))
        if (self.d_model // self.n_heads) % 2 != 0:
            raise ValueError("config: head_dim %d must be even for RoPE"
                             % (self.d_model // self.n_heads))
        if self.n_kv_heads != self.n_heads:
            raise ValueError("config: n_kv_heads %d != n_heads %d (GQA is not supported)"
                             % (self.n_kv_heads, self.n_heads))
        if self.embedding_size != self.vocab_size:
            raise ValueError("config: embedding_size %d != vocab_size %d is not supported"
                             % (self.embedding_size, self.vocab_size))
        if not (self.rope_theta > 0 and math.isfinite(self.rope_theta)):
            raise ValueError("config: rope_theta must be positive and finite")
        if not (self.rms_norm_eps > 0 and math.isfinite(self.rms_norm_eps)):
            raise ValueError("config: rms_norm_eps must be positive and finite")
        for k in ("mask_token_id", "eos_token_id", "pad_token_id"):
            v = getattr(self, k)
            if not (0 <= v < self.vocab_size):
                raise ValueError("config: %s %d is outside the vocabulary [0, %d)"
                                 % (k, v, self.vocab_size))

    @property
    def head_dim(self):
        return self.d_model // self.n_heads

    @classmethod
    def from_dict(cls, d):
        """Build from a LLaDA config.json dict; rejects features this model does not have."""
        if not isinstance(d, dict):
            raise ValueError("config: not a JSON object")

        def need(k):
            if k not in d:
                raise ValueError("config: missing key %r" % k)
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError("config: key %r must be a number, got %r" % (k, v))
            return v

        def need_int(k):
            v = need(k)
            if not isinstance(v, int):
                raise ValueError("config: key %r must be an integer, got %r" % (k, v))
            return v

        expect = {"weight_tying": False, "include_bias": False, "alibi": False,
                  "rope": True, "layer_norm_type": "rms", "activation_type": "silu",
                  "block_type": "llama"}
        for k, v in expect.items():
            if k in d and d[k] != v:
                raise ValueError("config: %s = %r is not supported (need %r)" % (k, d[k], v))
        if d.get("include_qkv_bias", False):
            raise ValueError("config: include_qkv_bias = true is not supported")
        d_model = need_int("d_model")
        if "mlp_hidden_size" in d and d["mlp_hidden_size"] is not None:
            mlp = need_int("mlp_hidden_size")
        else:
            mlp = int(need("mlp_ratio") * d_model)
        n_heads = need_int("n_heads")
        kv = d.get("n_kv_heads")
        if kv is not None and (isinstance(kv, bool) or not isinstance(kv, int)):
            raise ValueError("config: n_kv_heads must be an integer")
        emb = d.get("embedding_size")
        if emb is not None and (isinstance(emb, bool) or not isinstance(emb, int)):
            raise ValueError("config: embedding_size must be an integer")
        return cls(d_model=d_model, n_layers=need_int("n_layers"), n_heads=n_heads,
                   mlp_hidden_size=mlp, vocab_size=need_int("vocab_size"),
                   max_sequence_length=need_int("max_sequence_length"),
                   rope_theta=need("rope_theta"), rms_norm_eps=need("rms_norm_eps"),
                   mask_token_id=need_int("mask_token_id"),
                   eos_token_id=need_int("eos_token_id"),
                   pad_token_id=need_int("pad_token_id"),
                   n_kv_heads=kv, embedding_size=emb)

    def to_dict(self, torch_dtype="float32"):
        """The full LLaDA-style config.json content (docs/algorithms.md 13.3)."""
        return {
            "architectures": ["LLaDAModelLM"],
            "model_type": "llada",
            "d_model": self.d_model,
            "n_layers": self.n_layers,
            "n_heads": self.n_heads,
            "n_kv_heads": self.n_kv_heads,
            "mlp_hidden_size": self.mlp_hidden_size,
            "mlp_ratio": self.mlp_hidden_size // self.d_model
            if self.mlp_hidden_size % self.d_model == 0
            else round(self.mlp_hidden_size / self.d_model, 6),
            "vocab_size": self.vocab_size,
            "embedding_size": self.embedding_size,
            "max_sequence_length": self.max_sequence_length,
            "rope": True,
            "rope_theta": self.rope_theta,
            "rope_full_precision": True,
            "rms_norm_eps": self.rms_norm_eps,
            "layer_norm_type": "rms",
            "activation_type": "silu",
            "block_type": "llama",
            "weight_tying": False,
            "include_bias": False,
            "include_qkv_bias": False,
            "alibi": False,
            "flash_attention": False,
            "use_cache": False,
            "scale_logits": False,
            "attention_dropout": 0.0,
            "residual_dropout": 0.0,
            "embedding_dropout": 0.0,
            "mask_token_id": self.mask_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "torch_dtype": torch_dtype,
        }


# ----------------------------------------------------------------------------- layers

class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2, -1) + eps) * weight, in fp32 (torch 1.13 has no nn.RMSNorm)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, dtype=torch.float32))

    def forward(self, x):
        x = x.float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_inv_freq(head_dim, theta):
    """inv_freq[i] = 1 / theta^(2i/hd), fp32, computed the way torch-based references do."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))


def rope_cos_sin(positions, head_dim, theta):
    """positions: int tensor [T] -> (cos, sin) each [T, head_dim/2] fp32."""
    inv = rope_inv_freq(head_dim, theta)
    ang = positions.to(torch.float32)[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """x: [B, H, T, hd]; cos/sin: [T, hd/2]. NeoX half-split rotation."""
    half = x.shape[-1] // 2
    x1 = x[..., :half]
    x2 = x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


def attention(q, k, v):
    """Bidirectional scaled dot-product attention, no mask, fp32 softmax. [B,H,T,hd]."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    probs = torch.softmax(scores.float(), dim=-1)
    return torch.matmul(probs, v)


class LLaDABlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, m = cfg.d_model, cfg.mlp_hidden_size
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.attn_norm = RMSNorm(d, cfg.rms_norm_eps)
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.attn_out = nn.Linear(d, d, bias=False)
        self.ff_norm = RMSNorm(d, cfg.rms_norm_eps)
        self.ff_proj = nn.Linear(d, m, bias=False)   # gate
        self.up_proj = nn.Linear(d, m, bias=False)   # up
        self.ff_out = nn.Linear(m, d, bias=False)    # down

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        H, hd = self.n_heads, self.head_dim
        h = self.attn_norm(x)
        q = self.q_proj(h).view(B, T, H, hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, H, hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, H, hd).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        a = attention(q, k, v).transpose(1, 2).reshape(B, T, D)
        x = x + self.attn_out(a)
        z = self.ff_norm(x)
        x = x + self.ff_out(F.silu(self.ff_proj(z)) * self.up_proj(z))
        return x


class _Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList([LLaDABlock(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = RMSNorm(cfg.d_model, cfg.rms_norm_eps)
        self.ff_out = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)  # LM head


class LLaDAModel(nn.Module):
    """Trainable LLaDA model. forward(ids [B,T] long) -> logits [B,T,V] fp32."""

    def __init__(self, cfg):
        super().__init__()
        if not isinstance(cfg, LLaDAConfig):
            raise ValueError("LLaDAModel needs an LLaDAConfig")
        self.config = cfg
        self.transformer = _Transformer(cfg)
        self.float()

    def forward(self, ids, positions=None):
        """ids: [B, T] (or [T]) integer ids; positions: optional [T] absolute positions
        (default 0..T-1, i.e. position 0 = the first prompt token of the canvas)."""
        if ids.dim() == 1:
            ids = ids[None, :]
        if ids.dim() != 2:
            raise ValueError("forward: ids must be [B, T], got shape %s" % (tuple(ids.shape),))
        B, T = ids.shape
        cfg = self.config
        if T < 1:
            raise ValueError("forward: empty sequence")
        if int(ids.min()) < 0 or int(ids.max()) >= cfg.vocab_size:
            raise ValueError("forward: token id outside [0, %d)" % cfg.vocab_size)
        if positions is None:
            positions = torch.arange(T, device=ids.device)
        elif positions.shape != (T,):
            raise ValueError("forward: positions must be [T]")
        cos, sin = rope_cos_sin(positions, cfg.head_dim, cfg.rope_theta)
        t = self.transformer
        x = t.wte(ids).float()
        for blk in t.blocks:
            x = blk(x, cos, sin)
        return t.ff_out(t.ln_f(x))

    # -- HF naming -------------------------------------------------------------------

    def hf_names(self):
        """Canonical HF tensor names in file order."""
        names = ["model.transformer.wte.weight"]
        for i in range(self.config.n_layers):
            p = "model.transformer.blocks.%d." % i
            names += [p + n + ".weight" for n in
                      ("attn_norm", "q_proj", "k_proj", "v_proj", "attn_out",
                       "ff_norm", "ff_proj", "up_proj", "ff_out")]
        names += ["model.transformer.ln_f.weight", "model.transformer.ff_out.weight"]
        return names

    def state_dict_hf(self):
        """Ordered dict HF name -> fp32 tensor (detached, CPU)."""
        sd = self.state_dict()
        out = {}
        for name in self.hf_names():
            key = name[len("model."):]
            out[name] = sd[key].detach().to("cpu", torch.float32).contiguous()
        return out

    def load_state_dict_hf(self, tensors):
        """Load from a dict HF name -> numpy array / tensor; shapes and names must match."""
        sd = self.state_dict()
        want = set(self.hf_names())
        have = set(tensors.keys())
        if want - have:
            raise ValueError("checkpoint is missing tensors: %s" % sorted(want - have)[:5])
        if have - want:
            raise ValueError("checkpoint has unexpected tensors: %s" % sorted(have - want)[:5])
        new = {}
        for name in want:
            key = name[len("model."):]
            t = torch.as_tensor(np.asarray(tensors[name], dtype=np.float32))
            if tuple(t.shape) != tuple(sd[key].shape):
                raise ValueError("tensor %s has shape %s, expected %s"
                                 % (name, tuple(t.shape), tuple(sd[key].shape)))
            new[key] = t
        self.load_state_dict(new, strict=True)


# ----------------------------------------------------------------------------- init

def init_random_(model, seed):
    """Random weights with useful spread (used for the test checkpoints):
    linear ~ N(0, 1/fan_in), embeddings ~ N(0, 1), norm weights ~ 1 + N(0, 0.1^2).
    Deterministic for a given seed and parameter order (torch.manual_seed)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name in model.hf_names():
            key = name[len("model."):]
            p = model.get_parameter(key)
            if name.endswith("wte.weight"):
                p.normal_(0.0, 1.0)
            elif "norm" in name or "ln_f" in name:
                p.normal_(0.0, 0.1).add_(1.0)
            else:
                fan_in = p.shape[1]
                p.normal_(0.0, 1.0 / math.sqrt(fan_in))
    return model


# ----------------------------------------------------------------------------- I/O

def _shard_names(n):
    return ["model-%05d-of-%05d.safetensors" % (i + 1, n) for i in range(n)]


def load_tensors(ckpt_dir):
    """Read model.safetensors or an index + shards. Returns (tensors, dtypes)."""
    single = os.path.join(ckpt_dir, "model.safetensors")
    index = os.path.join(ckpt_dir, "model.safetensors.index.json")
    if os.path.isfile(single):
        t, _, dt = stio.load(single)
        return t, dt
    if not os.path.isfile(index):
        raise ValueError("%s: neither model.safetensors nor model.safetensors.index.json"
                         % ckpt_dir)
    with open(index, "r", encoding="utf-8") as f:
        try:
            idx = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError("%s: bad JSON: %s" % (index, e))
    wm = idx.get("weight_map") if isinstance(idx, dict) else None
    if not isinstance(wm, dict) or not wm:
        raise ValueError("%s: missing or empty weight_map" % index)
    tensors, dtypes = {}, {}
    for fname in sorted(set(wm.values())):
        if not isinstance(fname, str) or "/" in fname or "\\" in fname or fname.startswith("."):
            raise ValueError("%s: bad shard file name %r" % (index, fname))
        t, _, dt = stio.load(os.path.join(ckpt_dir, fname))
        for name in t:
            if wm.get(name) != fname:
                raise ValueError("%s: tensor %s is in %s but the index says %r"
                                 % (index, name, fname, wm.get(name)))
            if name in tensors:
                raise ValueError("%s: tensor %s appears twice" % (index, name))
        tensors.update(t)
        dtypes.update(dt)
    missing = set(wm) - set(tensors)
    if missing:
        raise ValueError("%s: tensors listed but not found: %s" % (index, sorted(missing)[:5]))
    return tensors, dtypes


def load_config(ckpt_dir):
    path = os.path.join(ckpt_dir, "config.json")
    try:
        with open(path, "r", encoding="utf-8") as f:
            d = json.load(f)
    except OSError as e:
        raise ValueError("cannot read %s: %s" % (path, e))
    except json.JSONDecodeError as e:
        raise ValueError("%s: bad JSON: %s" % (path, e))
    return LLaDAConfig.from_dict(d), d


def load_checkpoint(ckpt_dir):
    """Load a checkpoint directory -> (LLaDAModel in eval mode, fp32, raw config dict).
    BF16 weights are upcast exactly to fp32."""
    cfg, raw = load_config(ckpt_dir)
    model = LLaDAModel(cfg)
    tensors, _ = load_tensors(ckpt_dir)
    model.load_state_dict_hf(tensors)
    model.eval()
    return model, raw


def _special_strings(tok, ids):
    """Map special ids to their strings from a tokenizer.json dict."""
    by_id = {}
    for t in tok.get("added_tokens", []):
        by_id[t["id"]] = t["content"]
    vocab = tok.get("model", {}).get("vocab", {})
    for s, i in vocab.items():
        by_id.setdefault(i, s)
    out = {}
    for k, i in ids.items():
        if i not in by_id:
            raise ValueError("tokenizer has no token with id %d (%s)" % (i, k))
        out[k] = by_id[i]
    return out


CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' "
    "+ message['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")


def write_checkpoint(ckpt_dir, model, config_dict, tokenizer, dtype="F32", shards=1,
                     bos_token_id=None):
    """Write a checkpoint directory.

    model: LLaDAModel; config_dict: extra/override config keys (merged over
    model.config.to_dict(); must not contradict the model's shapes); tokenizer: a path
    to a tokenizer.json or the parsed dict; dtype: "F32" or "BF16"; shards: number of
    safetensors files (1 -> model.safetensors, >1 -> shards + index json).
    bos_token_id: id of the BOS token for tokenizer_config.json (default: the id of
    "<|startoftext|>" when the tokenizer has it).
    """
    if dtype not in ("F32", "BF16"):
        raise ValueError("write_checkpoint: dtype must be F32 or BF16, got %r" % (dtype,))
    if not isinstance(shards, int) or shards < 1:
        raise ValueError("write_checkpoint: shards must be a positive integer")
    cfg = model.config
    conf = cfg.to_dict(torch_dtype="float32" if dtype == "F32" else "bfloat16")
    for k, v in (config_dict or {}).items():
        conf[k] = v
    check = LLaDAConfig.from_dict(conf)
    for k in ("d_model", "n_layers", "n_heads", "mlp_hidden_size", "vocab_size"):
        if getattr(check, k) != getattr(cfg, k):
            raise ValueError("write_checkpoint: config %s=%r contradicts the model (%r)"
                             % (k, getattr(check, k), getattr(cfg, k)))
    if isinstance(tokenizer, (str, os.PathLike)):
        with open(tokenizer, "r", encoding="utf-8") as f:
            tok = json.load(f)
    elif isinstance(tokenizer, dict):
        tok = tokenizer
    else:
        raise ValueError("write_checkpoint: tokenizer must be a path or a dict")
    os.makedirs(ckpt_dir, exist_ok=True)
    for fn in os.listdir(ckpt_dir):  # remove stale weight files
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(ckpt_dir, fn))

    with open(os.path.join(ckpt_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(conf, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(ckpt_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if bos_token_id is None:
        for t in tok.get("added_tokens", []):
            if t["content"] == "<|startoftext|>":
                bos_token_id = t["id"]
    ids = {"eos_token": check.eos_token_id, "pad_token": check.pad_token_id,
           "mask_token": check.mask_token_id}
    if bos_token_id is not None:
        ids["bos_token"] = bos_token_id
    sp = _special_strings(tok, ids)
    tc = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": sp.get("bos_token"),
        "eos_token": sp["eos_token"],
        "pad_token": sp["pad_token"],
        "mask_token": sp["mask_token"],
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": check.max_sequence_length,
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(ckpt_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tc, f, ensure_ascii=False, indent=2)
        f.write("\n")

    sd = model.state_dict_hf()
    names = list(sd.keys())
    if shards == 1:
        stio.save(os.path.join(ckpt_dir, "model.safetensors"), sd, dtype=dtype,
                  metadata={"format": "pt"})
        return
    if shards > len(names):
        raise ValueError("write_checkpoint: more shards than tensors")
    # split by cumulative size into `shards` nearly equal parts, keeping order
    sizes = [sd[n].numel() for n in names]
    total = sum(sizes)
    files = _shard_names(shards)
    groups = [[] for _ in range(shards)]
    acc = 0
    for n, s in zip(names, sizes):
        g = min(shards - 1, (acc * shards) // total)
        groups[g].append(n)
        acc += s
    if any(not g for g in groups):
        raise ValueError("write_checkpoint: could not fill %d shards" % shards)
    weight_map = {}
    esize = 4 if dtype == "F32" else 2
    for fname, g in zip(files, groups):
        stio.save(os.path.join(ckpt_dir, fname), {n: sd[n] for n in g}, dtype=dtype,
                  metadata={"format": "pt"})
        for n in g:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total * esize}, "weight_map": weight_map}
    with open(os.path.join(ckpt_dir, "model.safetensors.index.json"), "w",
              encoding="utf-8") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")
