"""CLI: run the reference LLaDA sampler on a checkpoint directory and print JSON.

Design
------
A thin command-line shell over llada_model.load_checkpoint and llada_generate.generate,
so that a developer can compare the C engine's output with the reference for any prompt
and flag set by hand:

    /usr/bin/python3 ops/reference/generate.py tests/data/tiny-llada \\
        --prompt-ids 269,72,101 --gen-length 16 --steps 16 --block-length 16

prints {"token_ids": [...gen region...], "steps": n, "forwards": n, "trace": [[...], ...]}.
mask/eos ids come from config.json; the eot id is the id of "<|eot_id|>" in
tokenizer.json (absent -> only EOS is affected by --confidence-eos-eot-inf).
Computation is single-threaded fp32 on the CPU (deterministic). Bad flags or files exit
with status 2 and a one-line error on stderr.
"""

import argparse
import json
import os
import sys

import torch

try:
    from . import llada_generate, llada_model
except ImportError:
    import llada_generate
    import llada_model


def find_token_id(ckpt_dir, content):
    """Id of a token string in tokenizer.json (added tokens first, then model.vocab)."""
    path = os.path.join(ckpt_dir, "tokenizer.json")
    try:
        with open(path, "r", encoding="utf-8") as f:
            tok = json.load(f)
    except OSError as e:
        raise ValueError("cannot read %s: %s" % (path, e))
    except json.JSONDecodeError as e:
        raise ValueError("%s: bad JSON: %s" % (path, e))
    if not isinstance(tok, dict):
        raise ValueError("%s: not a JSON object" % path)
    for t in tok.get("added_tokens") or []:
        if isinstance(t, dict) and t.get("content") == content:
            return int(t["id"])
    vocab = (tok.get("model") or {}).get("vocab") or {}
    if isinstance(vocab, dict) and content in vocab:
        return int(vocab[content])
    return None


def _parse_ids(s):
    try:
        ids = [int(p) for p in s.split(",") if p.strip() != ""]
    except ValueError:
        raise ValueError("--prompt-ids must be a comma-separated list of integers, got %r" % s)
    if not ids:
        raise ValueError("--prompt-ids is empty")
    return ids


def _bool(s):
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("expected a boolean, got %r" % s)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", help="checkpoint directory (config.json, *.safetensors)")
    ap.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    ap.add_argument("--gen-length", type=int, default=16)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--block-length", type=int, default=None,
                    help="default: gen length (pure diffusion)")
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--remasking", default="low_confidence",
                    choices=list(llada_generate.REMASKING))
    ap.add_argument("--cfg-scale", type=float, default=0.0)
    ap.add_argument("--logits-eos-inf", type=_bool, nargs="?", const=True, default=False)
    ap.add_argument("--confidence-eos-eot-inf", type=_bool, nargs="?", const=True,
                    default=False)
    ap.add_argument("--no-trace", action="store_true", help="omit the per-step trace")
    args = ap.parse_args(argv)
    try:
        torch.set_num_threads(1)
        ids = _parse_ids(args.prompt_ids)
        model, _ = llada_model.load_checkpoint(args.checkpoint)
        cfg = model.config
        eot = find_token_id(args.checkpoint, "<|eot_id|>")
        if eot is not None and not (0 <= eot < cfg.vocab_size):
            raise ValueError("<|eot_id|> id %d is outside the vocabulary" % eot)
        out = llada_generate.generate(
            llada_generate.torch_forward(model), ids,
            gen_length=args.gen_length, steps=args.steps,
            block_length=args.block_length if args.block_length is not None
            else args.gen_length,
            mask_id=cfg.mask_token_id, eos_id=cfg.eos_token_id, eot_id=eot,
            vocab_size=cfg.vocab_size, temperature=args.temperature,
            cfg_scale=args.cfg_scale, remasking=args.remasking, seed=args.seed,
            logits_eos_inf=args.logits_eos_inf,
            confidence_eos_eot_inf=args.confidence_eos_eot_inf)
    except (ValueError, OSError) as e:
        sys.stderr.write("generate.py: error: %s\n" % e)
        return 2
    if args.no_trace:
        del out["trace"]
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
