#!/usr/bin/env bash
# Train models/llada-tiny from scratch on the CPU (the recipe of the shipped weights).
#
#   bash ops/train/cpu_train.sh [--stage1-min 10] [--stage2-min 30] [--stage3-min 8]
#                               [--stage4-min 30] [--stage5-min 20] [--stage6-min 12]
#                               [--stage7-min 9] [--out DIR]
#
# Runs from the repository root with Debian's torch (/usr/bin/python3, or $PYTHON). Seven
# stages of ops/train/train.py, each cut by wall time, 119 min in all by default
# (ops/train/README.md "Why the first model did not learn", "What the later stages add"
# and "Word problems"):
#   1. no system prompt, copy + reverse only up to step 600 (a small masked diffusion model
#      forms positional copying only when a task forces it), then all seven tasks; lr 1e-3,
#      cosine over 2000 planned steps, 1 thread;
#   2. from stage 1, with the 149-token shared system prompt on every row, the tasks copy,
#      reverse, sort and lookup; lr 1e-3 decaying over the stage's time, 1 thread;
#   3. from stage 2, no system prompt, add and sub only: fixed-width arithmetic forms
#      within minutes when it is trained alone, and hardly at all when mixed with the other
#      tasks; batch 64, lr 1e-3 decaying over the stage's time, 2 threads;
#   4. from stage 3, no system prompt (rows ~5x cheaper), all seven tasks with the suite's
#      weights, batch 64, lr 1e-3 decaying over the stage's time, 2 threads;
#   5. from stage 4, the system prompt on every row again, all tasks, batch 32, lr 5e-4,
#      2 threads: carries the skills over to the prompt the evaluation and the engine use;
#   6. from stage 5, no system prompt, word problems 8x as often as each other task
#      (replay keeps the others), batch 64, lr 1e-3, 2 threads: word problems, which stall
#      at ~20% in the seven-task mix, form within minutes when they dominate the batches;
#   7. from stage 6, the system prompt again as in stage 5 (stage 6 forgets it).
# Stages 1-2 use one thread (they ran beside other jobs on the shared 2-core machine),
# 3-7 two. Because the stages stop on time, the steps reached (and the weights) depend on
# the machine's speed; the shipped run's steps are in models/llada-tiny/README.md. Writes
# the checkpoint into --out (default models/llada-tiny; README.md there is kept), the logs
# and summaries into build/llada-tiny-train/stage{1..7}/. Evaluate afterwards with
# ops/train/eval_ref.py.
set -euo pipefail

usage() {
    sed -n '2,6p' "$0" >&2
    exit 2
}

s1=10
s2=30
s3=8
s4=30
s5=20
s6=12
s7=9
out=models/llada-tiny
while [ $# -gt 0 ]; do
    case "$1" in
        --stage1-min) [ $# -ge 2 ] || usage; s1=$2; shift 2 ;;
        --stage2-min) [ $# -ge 2 ] || usage; s2=$2; shift 2 ;;
        --stage3-min) [ $# -ge 2 ] || usage; s3=$2; shift 2 ;;
        --stage4-min) [ $# -ge 2 ] || usage; s4=$2; shift 2 ;;
        --stage5-min) [ $# -ge 2 ] || usage; s5=$2; shift 2 ;;
        --stage6-min) [ $# -ge 2 ] || usage; s6=$2; shift 2 ;;
        --stage7-min) [ $# -ge 2 ] || usage; s7=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
        *) usage ;;
    esac
done
for v in "$s1" "$s2" "$s3" "$s4" "$s5" "$s6" "$s7"; do
    # digits with at most one dot, and above 0 (train.py reads --time-limit-min 0 as "no
    # limit", which would let a stage run for hours)
    case "$v" in
        ''|*[!0-9.]*|*.*.*|.) bad=1 ;;
        *) bad=$(awk -v m="$v" 'BEGIN { print (m + 0 > 0) ? 0 : 1 }') ;;
    esac
    if [ "$bad" != 0 ]; then
        echo "cpu_train.sh: stage minutes must be positive numbers, got '$v'" >&2
        exit 2
    fi
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
mkdir -p "$work"/stage{1,2,3,4,5,6,7}
cp "$tok" "$work/tokenizer.json"   # $out may be models/llada-tiny itself

last=7
# stage N MINUTES THREADS [train.py flags]: one time-limited train.py run; stage 1 starts
# from random weights, stage N > 1 from stage N-1's checkpoint; the last one writes --out
stage() {
    local n=$1 min=$2 threads=$3
    shift 3
    local dst=$work/stage$n/model from=()
    [ "$n" -eq "$last" ] && dst=$out
    [ "$n" -gt 1 ] && from=(--init-from "$work/stage$((n - 1))/model")
    "$py" ops/train/train.py --threads "$threads" --tokenizer "$work/tokenizer.json" \
        --work "$work/stage$n" --out "$dst" "${from[@]}" --time-limit-min "$min" \
        --skip-final-eval "$@"
}
nosys=(--drop-system-steps 100000000)   # no row has the system prompt

stage 1 "$s1" 1 "${nosys[@]}" --task-stages copy,reverse:600 \
    --batch 32 --lr 1e-3 --steps 2000 --eval-every 100000 --ckpt-every 200
stage 2 "$s2" 1 --tasks copy,reverse,sort,lookup \
    --batch 32 --lr 1e-3 --steps 20000 --eval-every 250 --ckpt-every 100 --time-schedule
stage 3 "$s3" 2 "${nosys[@]}" --tasks add,sub \
    --batch 64 --lr 1e-3 --steps 40000 --eval-every 1000000 --ckpt-every 250 --time-schedule
stage 4 "$s4" 2 "${nosys[@]}" \
    --batch 64 --lr 1e-3 --steps 40000 --eval-every 1000000 --ckpt-every 500 --time-schedule
stage 5 "$s5" 2 \
    --batch 32 --lr 5e-4 --steps 20000 --eval-every 500 --ckpt-every 100 --time-schedule
stage 6 "$s6" 2 "${nosys[@]}" --tasks word:8,add:1,sub:1,copy:1,reverse:1,sort:1,lookup:1 \
    --batch 64 --lr 1e-3 --steps 40000 --eval-every 1000000 --ckpt-every 250 --time-schedule
stage 7 "$s7" 2 \
    --batch 32 --lr 5e-4 --steps 20000 --eval-every 100000 --ckpt-every 100 --time-schedule
