"""Regenerate the tiny checkpoints and all golden data with one command.

    /usr/bin/python3 ops/reference/make_golden.py [--root DIR] [--quiet]

Design
------
Everything the C/CUDA engine tests compare against is produced here, deterministically,
from fixed seeds, in fp32 on one CPU thread:

  tests/data/tiny-llada/          F32 random model (d 64, 2 layers, 4 heads, mlp 96)
  tests/data/tiny-llada-bf16/     the same weights rounded to BF16
  tests/data/tiny-llada-sharded/  the same F32 weights in 2 shards + index json
  models/llada-tiny-random/       BF16 random model (d 128, 4 layers, 4 heads, mlp 352)
                                  with a model card (README.md)
  tests/data/golden/logits.json   + logits_<name>.f32: one forward's fp32 logits [T, V]
  tests/data/golden/traces.json   sampler traces for a grid of settings

All checkpoints share the byte-level BPE tokenizer of byte_bpe.py. Random weights:
linear ~ N(0, 1/fan_in), embeddings ~ N(0, 1), norms ~ 1 + N(0, 0.1^2) (init_random_),
then the LM-head rows of <|endoftext|> and <|eot_id|> are multiplied by EOS_HEAD_SCALE
in the tests/data checkpoints, so that the random model predicts them sometimes
(otherwise the logits_eos_inf and confidence_eos_eot_inf cases would test nothing; the
script checks that each such flag changes its trace). models/llada-tiny-random is not
scaled.

Golden logits for the BF16 checkpoint are computed from the BF16 values upcast to fp32
(the checkpoint is read back from disk). Every sampler case records the closest
decision it made (in log units: the top-1/top-2 gap of each committed argmax and the
gap between the k-th and (k+1)-th confidence); the script fails if any case is closer
than MIN_GAP, so that fp32 rounding differences between implementations cannot flip a
decision. It also checks each trace (exact commit counts per step, no mask left, the
final row equals output_ids) and that the sharded and bf16 checkpoints read back as
intended. Output bytes are identical from run to run (checked by rerunning with
--root into a temporary directory and comparing).
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import byte_bpe  # noqa: E402
import llada_generate  # noqa: E402
import llada_model  # noqa: E402
import safetensors_io as stio  # noqa: E402

EOS_HEAD_SCALE = 3.0
MIN_GAP = 1e-4          # log units; fail below this
TINY_SEED = 1234
RANDOM_MODEL_SEED = 20240601


# ----------------------------------------------------------------------------- helpers

def dumps_compact(obj, indent=0):
    """JSON with lists of scalars on one line (readable diffs, small files)."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = ['%s  %s: %s' % (pad, json.dumps(k), dumps_compact(v, indent + 2))
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (list, dict)) for v in obj):
            return "[" + ", ".join(json.dumps(v) for v in obj) + "]"
        items = ["%s  %s" % (pad, dumps_compact(v, indent + 2)) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj)


def write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def specials():
    return {name: byte_bpe.special_id(name) for name in byte_bpe.SPECIALS}


def make_model(d_model, n_layers, n_heads, mlp, seed, max_seq, head_scale):
    sp = specials()
    cfg = llada_model.LLaDAConfig(
        d_model=d_model, n_layers=n_layers, n_heads=n_heads, mlp_hidden_size=mlp,
        vocab_size=byte_bpe.vocab_size(), max_sequence_length=max_seq,
        rope_theta=10000.0, rms_norm_eps=1e-5, mask_token_id=sp["<|mdm_mask|>"],
        eos_token_id=sp["<|endoftext|>"], pad_token_id=sp["<|endoftext|>"])
    model = llada_model.init_random_(llada_model.LLaDAModel(cfg), seed)
    with torch.no_grad():
        head = model.transformer.ff_out.weight
        head[sp["<|endoftext|>"]] *= head_scale
        head[sp["<|eot_id|>"]] *= head_scale
    return model.eval()


MODEL_CARD = """\
# llada-tiny-random

**The weights of this model are random. It has not been trained and generates
meaningless text.** It exists so that the dllm CLI and engine have a small default
model in the LLaDA format (until a trained small model ships) and so that the CPU and
GPU code paths can be exercised end to end without downloading LLaDA-8B.

- Architecture: LLaDA / OLMo "llama" block, bidirectional attention, RoPE (theta
  10000), RMSNorm (eps 1e-5), SwiGLU MLP, untied LM head; `config.json` uses the
  LLaDA keys (`model_type` "llada").
- Size: d_model 128, 4 layers, 4 heads (head_dim 32), mlp_hidden_size 352, vocabulary
  %(vocab)d, max_sequence_length 1024; %(params)d parameters, stored as BF16 in
  `model.safetensors`.
- Tokenizer: a byte-level BPE (`tokenizer.json`) with the 256 byte symbols, %(merges)d
  merges and the LLaDA special tokens `<|endoftext|>` (eos/pad, id %(eos)d),
  `<|startoftext|>` (bos, id %(bos)d), `<|mdm_mask|>` (mask, id %(mask)d),
  `<|start_header_id|>`, `<|end_header_id|>`, `<|eot_id|>` (id %(eot)d).
- How the weights were made (`ops/reference/make_golden.py`, deterministic):
  `torch.manual_seed(%(seed)d)`, then in HF-name order linear weights ~ N(0, 1/fan_in),
  embeddings ~ N(0, 1), norm weights ~ 1 + N(0, 0.1^2); then everything is rounded to
  BF16 (round-to-nearest-even). Being random, it mostly emits byte tokens, many of them
  not valid UTF-8 on their own.
- Regenerate with `/usr/bin/python3 ops/reference/make_golden.py`.
"""


# ----------------------------------------------------------------------------- logits

def logits_of(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids], dtype=torch.long))[0].float().numpy()


def logits_cases(mask):
    """(name, ids) of the forward cases; deterministic."""
    rs = np.random.RandomState(7)
    n_plain = 256 + len(byte_bpe.MERGES)
    prompt = byte_bpe.encode(byte_bpe.chat_prompt("Hi"))  # 22 tokens, then 18 masks
    c1 = prompt + [mask] * (40 - len(prompt))
    c2 = list(c1)
    for p in range(len(prompt), 40, 3):  # partly decoded canvas
        c2[p] = int(rs.randint(0, n_plain))
    c3 = [byte_bpe.special_id("<|startoftext|>")]
    c4 = [int(v) for v in rs.randint(0, n_plain, size=70)] + [mask] * 61  # T = 131
    return [("prompt_masks", c1), ("partial", c2), ("single", c3), ("long_odd", c4)]


def make_logits(root, ckpts):
    gdir = os.path.join(root, "tests", "data", "golden")
    mask = specials()["<|mdm_mask|>"]
    cases = []
    for ck_name, model in ckpts:
        prefix = "f32" if ck_name == "tiny-llada" else "bf16"
        for name, ids in logits_cases(mask):
            full = "%s_%s" % (prefix, name)
            lg = logits_of(model, ids)
            fn = "logits_%s.f32" % full
            with open(os.path.join(gdir, fn), "wb") as f:
                f.write(lg.astype("<f4").tobytes())
            cases.append({"name": full, "checkpoint": ck_name, "ids": ids, "file": fn,
                          "rows": int(lg.shape[0]), "vocab": int(lg.shape[1]),
                          "max_abs": round(float(np.abs(lg).max()), 4)})
    doc = {"checkpoint": "tiny-llada",
           "format": "each file: raw little-endian float32 [rows, vocab], row-major; "
                     "logits of one forward over ids at every position (fp32 compute)",
           "cases": cases}
    write_text(os.path.join(gdir, "logits.json"), dumps_compact(doc) + "\n")
    return cases


# ----------------------------------------------------------------------------- traces

def trace_cases():
    """The sampler grid. Each: name, checkpoint, prompt (ids), params."""
    sp = specials()
    enc = byte_bpe.encode
    bos = sp["<|startoftext|>"]
    rs = np.random.RandomState(11)
    n_plain = 256 + len(byte_bpe.MERGES)
    p_short = [bos] + enc("The cat sat")
    p_b = [bos] + enc("Once upon a time")
    p_chat = enc(byte_bpe.chat_prompt("What is the capital of France?"))
    p_len1 = [bos]
    p_60 = [bos] + enc("In the beginning there was a small model, and it was "
                       "random; nobody read it.")  # 62 tokens
    p_rand = [int(v) for v in rs.randint(0, n_plain, size=9)]

    def P(gen, steps, block, temperature=0.0, cfg=0.0, remasking="low_confidence",
          seed=0, eos_inf=False, conf_inf=False):
        return {"gen_length": gen, "steps": steps, "block_length": block,
                "temperature": temperature, "cfg_scale": cfg, "remasking": remasking,
                "seed": seed, "logits_eos_inf": eos_inf, "confidence_eos_eot_inf": conf_inf}

    T = "tiny-llada"
    cases = [
        ("pure_diffusion_steps_eq_gen", T, p_short, P(16, 16, 16)),
        ("semi_ar_g16_b4_s8", T, p_short, P(16, 8, 4)),
        ("uneven_schedule_g12_s5", T, p_b, P(12, 5, 12)),
        ("g24_b8_s12", T, p_b, P(24, 12, 8)),
        ("steps_lt_gen_g16_s4", T, p_rand, P(16, 4, 16)),
        ("steps_eq_gen_semi_ar_g16_b8", T, p_rand, P(16, 16, 8)),
        ("steps_gt_block_zero_transfer", T, p_short, P(4, 8, 4)),
        ("temp0.5_seed1", T, p_short, P(16, 8, 8, temperature=0.5, seed=1)),
        ("temp0.5_seed2", T, p_short, P(16, 8, 8, temperature=0.5, seed=2)),
        ("temp1.0_seed1", T, p_b, P(16, 16, 16, temperature=1.0, seed=1)),
        # 2^64 - 2^11: uses the high seed bits yet is exact as a JSON double (cJSON)
        ("temp1.0_seed_big", T, p_b, P(16, 16, 16, temperature=1.0,
                                       seed=18446744073709549568)),
        ("temp1.7_seed3", T, p_short, P(16, 8, 4, temperature=1.7, seed=3)),
        ("temp1.7_seed4", T, p_short, P(16, 8, 4, temperature=1.7, seed=4)),
        ("cfg0.5_t0", T, p_short, P(16, 8, 8, cfg=0.5)),
        ("cfg1.5_t0", T, p_b, P(16, 16, 16, cfg=1.5)),
        ("cfg1.5_t1.0", T, p_b, P(16, 8, 8, temperature=1.0, cfg=1.5, seed=5)),
        ("random_remask_seed6", T, p_short, P(16, 8, 8, remasking="random", seed=6)),
        ("random_remask_seed7_t0.7", T, p_b, P(16, 16, 4, temperature=0.7,
                                                 remasking="random", seed=7)),
        ("logits_eos_inf", T, p_rand, P(16, 16, 16, eos_inf=True)),
        ("logits_eos_inf_t1.0", T, p_rand, P(16, 8, 8, temperature=1.0, seed=15,
                                             eos_inf=True)),
        ("confidence_eos_eot_inf", T, p_chat, P(16, 16, 16, conf_inf=True)),
        ("chat_template_t0", T, p_chat, P(24, 12, 8)),
        ("prompt_len1", T, p_len1, P(16, 8, 16)),
        ("prompt_len60", T, p_60, P(16, 16, 8)),
        ("bf16_semi_ar", "tiny-llada-bf16", p_short, P(16, 8, 4)),
        ("bf16_temp1.0", "tiny-llada-bf16", p_b, P(12, 6, 6, temperature=1.0, seed=9)),
        ("sharded_t0", "tiny-llada-sharded", p_chat, P(16, 8, 8)),
    ]
    for name, ck, prompt, params in cases:
        if float(params["seed"]) != params["seed"]:
            raise AssertionError("case %s: seed is not exact as a double" % name)
        if sp["<|mdm_mask|>"] in prompt:
            raise AssertionError("case %s: prompt contains the mask id" % name)
    return cases


def run_case(model, prompt, params, diagnostics):
    sp = specials()
    return llada_generate.generate(
        llada_generate.torch_forward(model), prompt, gen_length=params["gen_length"],
        steps=params["steps"], block_length=params["block_length"],
        mask_id=sp["<|mdm_mask|>"], eos_id=sp["<|endoftext|>"], eot_id=sp["<|eot_id|>"],
        vocab_size=byte_bpe.vocab_size(), temperature=params["temperature"],
        cfg_scale=params["cfg_scale"], remasking=params["remasking"], seed=params["seed"],
        logits_eos_inf=params["logits_eos_inf"],
        confidence_eos_eot_inf=params["confidence_eos_eot_inf"], diagnostics=diagnostics)


def check_trace(name, prompt, params, res, mask):
    """Internal consistency of one trace; raises AssertionError."""
    gen, steps, block = params["gen_length"], params["steps"], params["block_length"]
    nb = gen // block
    spb = steps // nb
    tr = res["trace"]
    if len(tr) != steps or res["steps"] != steps:
        raise AssertionError("%s: %d trace rows for %d steps" % (name, len(tr), steps))
    want_fw = steps * (2 if params["cfg_scale"] > 0 else 1)
    if res["forwards"] != want_fw:
        raise AssertionError("%s: forwards %d != %d" % (name, res["forwards"], want_fw))
    prev = [mask] * gen
    for s, row in enumerate(tr):
        b, i = divmod(s, spb)
        n = block // spb + (1 if i < block % spb else 0)
        changed = [p for p in range(gen) if row[p] != prev[p]]
        if len(changed) != n:
            raise AssertionError("%s: step %d committed %d tokens, scheduled %d"
                                 % (name, s, len(changed), n))
        for p in changed:
            if prev[p] != mask or not (b * block <= p < (b + 1) * block) or row[p] == mask:
                raise AssertionError("%s: step %d bad commit at %d" % (name, s, p))
        prev = row
    if mask in tr[-1] or tr[-1] != res["token_ids"]:
        raise AssertionError("%s: final row has masks or differs from output" % name)


def make_traces(root, models, quiet):
    gdir = os.path.join(root, "tests", "data", "golden")
    sp = specials()
    mask, eos, eot = sp["<|mdm_mask|>"], sp["<|endoftext|>"], sp["<|eot_id|>"]
    out = []
    worst = (math.inf, None)
    report = []
    for name, ck, prompt, params in trace_cases():
        res = run_case(models[ck], prompt, params, True)
        check_trace(name, prompt, params, res, mask)
        for flag in ("logits_eos_inf", "confidence_eos_eot_inf"):
            if params[flag]:  # the flag must change the outcome, or the case tests nothing
                alt = dict(params)
                alt[flag] = False
                r2 = run_case(models[ck], prompt, alt, False)
                if r2["trace"] == res["trace"]:
                    raise AssertionError("case %s: %s does not change the trace" % (name, flag))
        ga = min(g["argmax"] for g in res["gaps"])
        gs = min(g["select"] for g in res["gaps"])
        g = min(ga, gs)
        if g < worst[0]:
            worst = (g, name)
        n_eos = sum(1 for t in res["token_ids"] if t == eos)
        n_eot = sum(1 for t in res["token_ids"] if t == eot)
        report.append("%-32s argmax_gap %.3e  select_gap %.3e  eos %d eot %d"
                      % (name, ga, gs, n_eos, n_eot))
        out.append({"name": name, "checkpoint": ck, "prompt_ids": prompt, "params": params,
                    "trace": res["trace"], "output_ids": res["token_ids"],
                    "steps": res["steps"], "forwards": res["forwards"],
                    "min_gap": {"argmax": round(ga, 6) if math.isfinite(ga) else None,
                                "select": round(gs, 6) if math.isfinite(gs) else None}})
    doc = {"special_ids": {"mask_id": mask, "eos_id": eos, "eot_id": eot, "bos_id":
                           sp["<|startoftext|>"]},
           "min_gap_note": "closest decision in log units (top1-top2 logit or log-score gap "
                           "of committed argmaxes; log ratio of k-th to (k+1)-th "
                           "confidence); null = exact",
           "cases": out}
    write_text(os.path.join(gdir, "traces.json"), dumps_compact(doc) + "\n")
    if not quiet:
        print("\n".join(report))
        print("minimum decision gap: %.3e (%s)" % worst)
    if worst[0] < MIN_GAP:
        raise AssertionError("case %s has a decision gap %.3e < %.0e: change its seed or "
                             "prompt" % (worst[1], worst[0], MIN_GAP))
    return worst


# ----------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description="regenerate the tiny checkpoints and golden data")
    ap.add_argument("--root", default=os.path.abspath(os.path.join(HERE, "..", "..")),
                    help="repository root to write into (default: this repository)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = args.root
    data = os.path.join(root, "tests", "data")
    gdir = os.path.join(data, "golden")
    tiny_dir = os.path.join(data, "tiny-llada")
    bf16_dir = os.path.join(data, "tiny-llada-bf16")
    shard_dir = os.path.join(data, "tiny-llada-sharded")
    rand_dir = os.path.join(root, "models", "llada-tiny-random")
    for d in (gdir, tiny_dir, bf16_dir, shard_dir, rand_dir):
        os.makedirs(d, exist_ok=True)
    for fn in os.listdir(gdir):
        if fn.startswith("logits_") and fn.endswith(".f32"):
            os.remove(os.path.join(gdir, fn))

    tok = byte_bpe.tokenizer_json()
    tiny = make_model(64, 2, 4, 96, TINY_SEED, 512, EOS_HEAD_SCALE)
    llada_model.write_checkpoint(tiny_dir, tiny, {}, tok, "F32")
    llada_model.write_checkpoint(bf16_dir, tiny, {}, tok, "BF16")
    llada_model.write_checkpoint(shard_dir, tiny, {}, tok, "F32", shards=2)

    rnd = make_model(128, 4, 4, 352, RANDOM_MODEL_SEED, 1024, 1.0)
    llada_model.write_checkpoint(rand_dir, rnd, {}, tok, "BF16")
    sp = specials()
    write_text(os.path.join(rand_dir, "README.md"), MODEL_CARD % {
        "vocab": byte_bpe.vocab_size(), "params": sum(p.numel() for p in rnd.parameters()),
        "merges": len(byte_bpe.MERGES), "eos": sp["<|endoftext|>"],
        "bos": sp["<|startoftext|>"], "mask": sp["<|mdm_mask|>"], "eot": sp["<|eot_id|>"],
        "seed": RANDOM_MODEL_SEED})

    # read everything back from disk: the golden data is computed from the files
    m_f32, _ = llada_model.load_checkpoint(tiny_dir)
    m_bf16, _ = llada_model.load_checkpoint(bf16_dir)
    m_sh, _ = llada_model.load_checkpoint(shard_dir)
    ref = tiny.state_dict_hf()
    for name, t in m_f32.state_dict_hf().items():
        if not torch.equal(t, ref[name]):
            raise AssertionError("F32 round trip differs for %s" % name)
    for name, t in m_sh.state_dict_hf().items():
        if not torch.equal(t, ref[name]):
            raise AssertionError("sharded round trip differs for %s" % name)
    for name, t in m_bf16.state_dict_hf().items():
        want = torch.from_numpy(stio.round_to_bf16(ref[name].numpy()))
        if not torch.equal(t, want):
            raise AssertionError("bf16 round trip differs for %s" % name)
    m_rnd, _ = llada_model.load_checkpoint(rand_dir)

    make_logits(root, [("tiny-llada", m_f32), ("tiny-llada-bf16", m_bf16)])
    make_traces(root, {"tiny-llada": m_f32, "tiny-llada-bf16": m_bf16,
                       "tiny-llada-sharded": m_sh}, args.quiet)
    # smoke: the shipped random model generates without error
    res = llada_generate.generate(
        llada_generate.torch_forward(m_rnd), byte_bpe.encode(byte_bpe.chat_prompt("Hi")),
        gen_length=8, steps=8, block_length=8, mask_id=m_rnd.config.mask_token_id,
        eos_id=m_rnd.config.eos_token_id, eot_id=sp["<|eot_id|>"],
        vocab_size=m_rnd.config.vocab_size)
    if not args.quiet:
        print("llada-tiny-random smoke output:", res["token_ids"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
