#!/usr/bin/env bash
# Train models/llada-tiny from scratch on the CPU (the recipe of the shipped weights).
#
#   bash ops/train/cpu_train.sh [--stage1-min 10] [--stage2-min 30] [--out DIR]
#
# Runs from the repository root with Debian's torch (/usr/bin/python3, or $PYTHON), one
# thread (the build machine's 2 cores are shared). Two stages of ops/train/train.py
# (ops/train/README.md "Why the first model did not learn"):
#   1. no system prompt, copy + reverse only up to step 600 (a small masked diffusion model
#      forms positional copying only when a task forces it), then all seven tasks; lr 1e-3,
#      cosine over 2000 planned steps, stopped by --stage1-min (default 10 min);
#   2. from stage 1's weights, with the 149-token shared system prompt on every row, the
#      tasks copy, reverse, sort and lookup (arithmetic does not start in this budget),
#      lr 1e-3 decaying over --stage2-min (default 30 min).
# Both stages are cut by wall time, so the steps reached (and the weights) depend on the
# machine's speed; the shipped run's steps are in models/llada-tiny/README.md. Writes the
# checkpoint into --out (default models/llada-tiny; README.md there is kept), the logs and
# summaries into build/llada-tiny-train/{stage1,stage2}/. Evaluate afterwards with
# ops/train/eval_ref.py.
set -euo pipefail

usage() {
    sed -n '2,4p' "$0" >&2
    exit 2
}

s1=10
s2=30
out=models/llada-tiny
while [ $# -gt 0 ]; do
    case "$1" in
        --stage1-min) [ $# -ge 2 ] || usage; s1=$2; shift 2 ;;
        --stage2-min) [ $# -ge 2 ] || usage; s2=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
        *) usage ;;
    esac
done
for v in "$s1" "$s2"; do
    case "$v" in
        ''|*[!0-9.]*) echo "cpu_train.sh: stage minutes must be positive numbers" >&2; exit 2 ;;
    esac
done
if [ ! -f ops/train/train.py ]; then
    echo "cpu_train.sh: run from the repository root (ops/train/train.py not found)" >&2
    exit 2
fi
py=${PYTHON:-/usr/bin/python3}
work=build/llada-tiny-train
tok=models/llada-tiny/tokenizer.json
if [ ! -f "$tok" ]; then
    echo "cpu_train.sh: $tok (the shipped tokenizer, reused so ids never change) is missing" >&2
    exit 2
fi
mkdir -p "$work/stage1" "$work/stage2"
cp "$tok" "$work/tokenizer.json"   # $out may be models/llada-tiny itself

"$py" ops/train/train.py --threads 1 --tokenizer "$work/tokenizer.json" \
    --work "$work/stage1" --out "$work/stage1/model" \
    --drop-system-steps 100000000 --task-stages copy,reverse:600 \
    --batch 32 --lr 1e-3 --steps 2000 --eval-every 100000 --ckpt-every 200 \
    --time-limit-min "$s1" --skip-final-eval

"$py" ops/train/train.py --threads 1 --tokenizer "$work/tokenizer.json" \
    --work "$work/stage2" --out "$out" --init-from "$work/stage1/model" \
    --tasks copy,reverse,sort,lookup \
    --batch 32 --lr 1e-3 --warmup 50 --steps 20000 --eval-every 250 --ckpt-every 100 \
    --time-limit-min "$s2" --time-schedule --skip-final-eval
