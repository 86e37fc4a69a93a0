"""Evaluate a LLaDA checkpoint on the task suite with the PyTorch reference sampler.

Design
------
Loads the checkpoint directory exactly as published (ops/reference/llada_model.py
load_checkpoint: config.json, safetensors, bf16 upcast to fp32) and its tokenizer.json
(ops/train/tok.py), builds each item's LLaDA-Instruct chat prompt, runs the reference
sampler ops/reference/llada_generate.py (temperature 0, low-confidence remasking, no
cache) one item at a time, decodes with skip-special-tokens and scores exact match after
stripping whitespace (ops/tasks/tasks.py score). Prints overall and per-task accuracy;
--json writes the full result (with every prediction) to a file.

  /usr/bin/python3 ops/train/eval_ref.py --model models/llada-tiny \\
      --items ops/tasks/eval_split.jsonl [--gen-length 16 --block-length 16 --steps 16]
      [--sampler batched] [--no-system] [--limit N] [--json FILE]
"""

import argparse
import json
import os
import sys
import time

# On a shared machine OpenMP's default active spin-waiting makes every torch op wait for
# descheduled threads (measured: ~4x slower steps under load); must be set before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch

import common
from common import Codec, lm, tasks


def main(argv=None):
    ap = argparse.ArgumentParser(description="Exact-match accuracy with the reference sampler.")
    ap.add_argument("--model", default=os.path.join(common.ROOT, "models", "llada-tiny"))
    ap.add_argument("--items", default=os.path.join(common.ROOT, "ops", "tasks",
                                                    "eval_split.jsonl"))
    ap.add_argument("--gen-length", type=int, default=common.DEFAULT_GEN_LENGTH)
    ap.add_argument("--block-length", type=int, default=common.DEFAULT_BLOCK_LENGTH)
    ap.add_argument("--steps", type=int, default=common.DEFAULT_STEPS)
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N items")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sampler", choices=["reference", "batched"], default="reference",
                    help="reference = ops/reference/llada_generate.py (default); batched = "
                         "the torch restatement in ops/train/common.py")
    ap.add_argument("--no-system", action="store_true",
                    help="drop the system turn from every prompt (how the stages "
                         "trained without it are checked; the suite's score keeps it)")
    ap.add_argument("--json", help="write the full result (with predictions) here")
    a = ap.parse_args(argv)
    for k in ("gen_length", "block_length", "steps", "threads"):
        if getattr(a, k) <= 0:
            ap.error("--%s must be positive" % k.replace("_", "-"))
    if a.limit < 0:
        ap.error("--limit must be >= 0")
    if not os.path.isdir(a.model):
        ap.error("--model %s is not a directory" % a.model)
    torch.set_num_threads(a.threads)
    try:
        items = tasks.load_jsonl(a.items)
        codec = Codec(os.path.join(a.model, "tokenizer.json"))
        model, _ = lm.load_checkpoint(a.model)
    except ValueError as e:
        sys.stderr.write("eval_ref.py: error: %s\n" % e)
        return 2
    if model.config.mask_token_id != codec.mask:
        sys.stderr.write("eval_ref.py: error: config mask id %d != tokenizer mask id %d\n"
                         % (model.config.mask_token_id, codec.mask))
        return 2
    if a.limit:
        items = items[:a.limit]
    if a.no_system:
        items = [dict(it, system=None) for it in items]
    t0 = time.time()
    sampler = common.ref_sampler if a.sampler == "reference" else common.generate
    res = common.evaluate(model, codec, items, a.gen_length, a.block_length, a.steps,
                          sampler=sampler, keep_predictions=True)
    res["seconds"] = round(time.time() - t0, 1)
    res["model"] = a.model
    res["items"] = a.items
    res["sampler"] = a.sampler
    res["system_prompt"] = not a.no_system
    print("overall: %.4f (%d/%d)  gen_length %d block_length %d steps %d  %.1fs" % (
        res["overall"], sum(v["correct"] for v in res["per_task"].values()), res["n"],
        a.gen_length, a.block_length, a.steps, res["seconds"]))
    for k, v in res["per_task"].items():
        print("  %-8s %.3f (%d/%d)" % (k, v["acc"], v["correct"], v["n"]))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
