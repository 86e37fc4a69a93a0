#!/usr/bin/env python3
"""prompt_cache.py -- prompt slots on the task suite: fidelity, rows, FLOPs and latency.

Runs `dllm eval` on a task file whose items share one system prompt (default
ops/tasks/eval_small.jsonl) once without prompt slots and once with them, per cache
policy, one item at a time (--batch 1, so per-item latencies are clean), and prints a
Markdown table: accuracy of both runs, token agreement and identical answers between them,
prompt/response rows through Q/K/V/attention (all layers and forwards), matmul FLOPs, and
the mean time from admission (dllm_seq_new, where a slot is built) to the end of the
first denoising step and to the end of the item, for slot hits (warm), the one build
(cold) and the no-slot run. Numbers in docs/prompt-cache.md come from this script.

Usage: python3 ops/bench/prompt_cache.py [--dllm build/bin/dllm] [--model models/llada-tiny]
           [--tasks FILE] [--threads 1] [--policies dllm,prefix,dual] [--gen-length 8 ...] [--kp N]

SPDX-License-Identifier: Apache-2.0
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def run(args, policy, slots, out):
    cmd = [args.dllm, "eval", "--model", args.model, "--threads", str(args.threads),
           "--tasks", args.tasks, "--gen-length", str(args.gen_length), "--steps",
           str(args.steps), "--block-length", str(args.block_length), "--cache", policy,
           "--batch", "1", "--prompt-slots", str(slots), "--json", "--out", out]
    if args.kp and policy == "dllm":
        cmd += ["--kp", str(args.kp)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr))
    items = [json.loads(line) for line in open(out, encoding="utf-8")]
    return json.loads(r.stdout), items


def agreement(a, b):
    tok = sum(sum(p == q for p, q in zip(x["token_ids"], y["token_ids"])) for x, y in zip(a, b))
    n = sum(len(x["token_ids"]) for x in a)
    same = sum(x["token_ids"] == y["token_ids"] for x, y in zip(a, b))
    return 100.0 * tok / n, same


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dllm", default="build/bin/dllm")
    ap.add_argument("--model", default="models/llada-tiny")
    ap.add_argument("--tasks", default="ops/tasks/eval_small.jsonl")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--policies", default="dllm,prefix,dual")
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--gen-length", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--block-length", type=int, default=8)
    ap.add_argument("--kp", type=int, default=0, help="dllm K_p (default: the engine's 50)")
    args = ap.parse_args()
    print("| policy | accuracy no slot / slot | token agreement | identical items | "
          "rows_q no slot -> slot | GFLOP no slot -> slot | first step ms: no slot / cold / warm "
          "| item ms: no slot / cold / warm |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as td:
        for pol in args.policies.split(","):
            s0, i0 = run(args, pol, 0, os.path.join(td, "a.jsonl"))
            s1, i1 = run(args, pol, args.slots, os.path.join(td, "b.jsonl"))
            agr, same = agreement(i0, i1)
            l0, l1 = s0["latency"], s1["latency"]
            cold = l1.get("slot_built", {"first_step_ms": float("nan"), "item_ms": float("nan")})
            warm = l1.get("slot_hit", {"first_step_ms": float("nan"), "item_ms": float("nan")})
            print("| %s | %.1f%% / %.1f%% | %.1f%% | %d/%d | %d -> %d (%.1f%% fewer) | %.2f -> %.2f "
                  "(%.1f%% fewer) | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f |" % (
                      pol, 100 * s0["accuracy"], 100 * s1["accuracy"], agr, same, len(i0),
                      s0["rows_q"], s1["rows_q"], 100 * (1 - s1["rows_q"] / s0["rows_q"]),
                      s0["flops"] / 1e9, s1["flops"] / 1e9, 100 * (1 - s1["flops"] / s0["flops"]),
                      l0["no_slot"]["first_step_ms"], cold["first_step_ms"],
                      warm["first_step_ms"], l0["no_slot"]["item_ms"], cold["item_ms"],
                      warm["item_ms"]))
            ps = s1.get("prompt_slots", {})
            print("<!-- %s: slots %s, hits %s, builds %s, prefix tokens asked %s, served %s -->" % (
                pol, ps.get("slots"), ps.get("hits"), ps.get("builds"), ps.get("query_tokens"),
                ps.get("hit_tokens")))


if __name__ == "__main__":
    main()
