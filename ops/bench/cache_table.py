#!/usr/bin/env python3
"""cache_table.py -- the quality/compute tables of the cache policies, in one command.

--table sweep (default): dLLM-Cache against no cache (issue: dLLM-Cache), see below.
--table policies: every policy (none, dllm, prefix, dual, sparse, and d2 when the engine
has it) alone and with threshold
parallel decoding (0.9, Fast-dLLM's default), with accuracy, decoded tokens per forward,
FLOPs per output token (answer tokens, up to EOS), CPU time and feature-cache bytes per
sequence.

Runs `dllm eval` on the shipped model's held-out task suite once without a cache and once
per cache configuration (the official dLLM-Cache defaults and a one-parameter-at-a-time
sweep of K_p, K_r, rho and the layer-0 rule), then prints a Markdown table with, per
configuration: exact-match accuracy, token agreement with the uncached run (the fraction
of generated positions whose token is identical), the matmul FLOPs reduction reported by
the engine's own accounting, and the CPU time ratio.

Usage:
    python3 ops/bench/cache_table.py [--dllm build/bin/dllm] [--model DIR]
        [--tasks ops/tasks/eval_split.jsonl] [--limit N] [--threads N] [--batch N]
        [--gen-length 32 --steps 32 --block-length 8] [--quick]

Only the standard library is needed. Timing is the engine's wall time for the whole eval
(--batch N steps N items together); run it on an otherwise idle machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

POLICIES = ["none", "dllm", "prefix", "dual", "sparse", "d2"]  # each at its paper's defaults
# d2Cache's certainty-prior order applies to the step schedule; its authors turn it off
# for parallel decoding, so the threshold row of d2 does too
THRESHOLD_EXTRA = {"d2": ["--d2-prior", "off"]}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_eval(args, extra):
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        out_path = f.name
    cmd = [args.dllm, "eval", "--json", "--tasks", args.tasks, "--out", out_path,
           "--gen-length", str(args.gen_length), "--steps", str(args.steps),
           "--block-length", str(args.block_length), "--batch", str(args.batch)]
    if args.model:
        cmd += ["--model", args.model]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    cmd += extra
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("cache_table: %s failed (%d):\n%s" % (" ".join(cmd), res.returncode, res.stderr))
    summary = json.loads(res.stdout)
    items = {}
    with open(out_path) as f:
        for line in f:
            o = json.loads(line)
            items[o["id"]] = o
    os.unlink(out_path)
    return summary, items


def agreement(a, b):
    same = total = 0
    for k, x in a.items():
        y = b[k]
        for t1, t2 in zip(x["token_ids"], y["token_ids"]):
            same += t1 == t2
            total += 1
    return same / total if total else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dllm", default=os.path.join(ROOT, "build", "bin", "dllm"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--tasks", default=os.path.join(ROOT, "ops", "tasks", "eval_split.jsonl"))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--gen-length", type=int, default=32)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--block-length", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="only none and the official defaults")
    ap.add_argument("--table", choices=["sweep", "policies"], default="sweep")
    args = ap.parse_args()
    if not os.access(args.dllm, os.X_OK):
        sys.exit("cache_table: %s is not built; hint: ops/demo.sh or ninja -C build dllm" % args.dllm)

    if args.table == "policies":
        return policies_table(args)
    configs = [("dllm defaults (K_p 50, K_r 7, rho 0.25)", [])]
    if not args.quick:
        configs += [
            ("K_p 10", ["--kp", "10"]), ("K_p 25", ["--kp", "25"]), ("K_p 100", ["--kp", "100"]),
            ("K_r 2", ["--kr", "2"]), ("K_r 4", ["--kr", "4"]), ("K_r 12", ["--kr", "12"]),
            ("rho 0 (pure interval reuse)", ["--rho", "0"]), ("rho 0.5", ["--rho", "0.5"]),
            ("rho 1.0", ["--rho", "1"]),
            ("layer-0 rule off", ["--layer0-refresh", "off"]),
        ]
    base, base_items = run_eval(args, ["--cache", "none"])
    rows = [("none", base, 1.0)]
    for name, extra in configs:
        s, items = run_eval(args, ["--cache", "dllm"] + extra)
        rows.append((name, s, agreement(base_items, items)))

    tasks = list(base["tasks"].keys())
    print("Model `%s`, tasks `%s` (%d items), gen %d, steps %d, block %d, batch %d.\n"
          % (base["model"], os.path.relpath(base["tasks_file"], ROOT), base["items"],
             args.gen_length, args.steps, args.block_length, args.batch))
    print("| cache | accuracy | " + " | ".join(tasks) +
          " | token agreement | FLOPs reduction | CPU time ratio |")
    print("|---|---|" + "---|" * len(tasks) + "---|---|---|")
    for name, s, agr in rows:
        per = " | ".join("%.0f%%" % (100 * s["tasks"][t]["accuracy"]) for t in tasks)
        print("| %s | %.1f%% | %s | %.1f%% | %.2fx | %.2fx |"
              % (name, 100 * s["accuracy"], per, 100 * agr, s["flops_ratio"],
                 base["elapsed_s"] / s["elapsed_s"]))


def policies_table(args):
    rows = []
    base = None
    for policy in POLICIES:
        thr = ["--threshold", "0.9"] + THRESHOLD_EXTRA.get(policy, [])
        tl = " + threshold 0.9" + (" (prior off)" if policy in THRESHOLD_EXTRA else "")
        for extra, label in [([], ""), (thr, tl)]:
            s, items = run_eval(args, ["--cache", policy] + extra)
            if base is None:
                base = (s, items)
            rows.append((policy + label, s, agreement(base[1], items)))
    b = base[0]
    print("Model `%s`, tasks `%s` (%d items), gen %d, block %d, steps %d (schedule) or "
          "threshold decoding, batch %d.\n"
          % (b["model"], os.path.relpath(b["tasks_file"], ROOT), b["items"], args.gen_length,
             args.block_length, args.steps, args.batch))
    print("| configuration | accuracy | token agreement | tokens/forward | MFLOP/output token "
          "| CPU time | feature cache/seq |")
    print("|---|---|---|---|---|---|---|")
    for name, s, agr in rows:
        print("| %s | %.1f%% | %.1f%% | %.2f | %.1f | %.2f s | %.0f KiB |"
              % (name, 100 * s["accuracy"], 100 * agr, s["tokens_per_forward"],
                 s["flops_per_output_token"] / 1e6, s["elapsed_s"],
                 s["feature_bytes_per_seq"] / 1024))


if __name__ == "__main__":
    main()
