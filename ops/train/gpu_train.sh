#!/usr/bin/env bash
# Train models/llada-tiny on a GPU within a wall-time budget (the lent H100 recipe).
#
#   OUT=/some/dir bash ops/train/gpu_train.sh [--time-limit-min 7.5] [--device cuda]
#                                             [any extra ops/train/train.py flags]
#
# Runs from the repository root with plain `python3` (PyTorch >= 1.13; CUDA for
# --device cuda, bf16 autocast there). Trains ops/train/train.py's best recipe (see
# ops/train/README.md "GPU recipe") with the shipped tokenizer
# (models/llada-tiny/tokenizer.json, so token ids and the tokenizer tests stay unchanged),
# a learning-rate schedule that follows the time used (--time-schedule) and a checkpoint
# every 500 steps, so a run cut off by the device's time limit still leaves a usable
# checkpoint. Writes exactly these files (6):
#   $OUT/llada-tiny/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json}
#   $OUT/llada-tiny/train.log      (the training log, loss every 10 steps, eval_small)
#   $OUT/llada-tiny/summary.json   (per-step loss history, steps done, seconds)
# Nothing else is written under $OUT (the resumable state lives in a temporary folder).
# Evaluate the result afterwards on the CPU with ops/train/eval_ref.py.
set -euo pipefail

usage() {
    sed -n '2,8p' "$0" >&2
    exit 2
}

device=cuda
limit=7.5
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time-limit-min) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
        --device) [ $# -ge 2 ] || usage; device=$2; shift 2 ;;
        -h|--help) usage ;;
        *) extra+=("$1"); shift ;;
    esac
done
if [ -z "${OUT:-}" ]; then
    echo "gpu_train.sh: set OUT to the folder that receives llada-tiny/" >&2
    exit 2
fi
if [ ! -f ops/train/train.py ]; then
    echo "gpu_train.sh: run from the repository root (ops/train/train.py not found)" >&2
    exit 2
fi
case "$limit" in
    ''|*[!0-9.]*) echo "gpu_train.sh: --time-limit-min must be a positive number" >&2; exit 2 ;;
esac

dst="$OUT/llada-tiny"
mkdir -p "$dst"
work=$(mktemp -d /tmp/llada-tiny-gpu.XXXXXX)
trap 'cp "$work/train.log" "$dst/train.log" 2>/dev/null || true;
      cp "$work/summary.json" "$dst/summary.json" 2>/dev/null || true;
      rm -rf "$work" "$dst.tmp"' EXIT

py=${PYTHON:-python3}   # PYTHON=/usr/bin/python3 for Debian's torch on the build machine
amp=()
workers=0
threads=2
if [ "${device%%:*}" = cuda ]; then
    amp=(--amp)
    workers=10
    threads=4
fi

"$py" -c 'import torch, sys; print("torch", torch.__version__, "cuda",
    torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available()
    else "-", "python", sys.version.split()[0])'

# The recipe (ops/train/README.md "GPU recipe"): d_model 256, 6 layers, 8 heads, SwiGLU
# 512, batch 128, lr 1e-3, a task curriculum (copy+reverse, then + sort+lookup, then all:
# a first run without it, lr 2e-3, learned "which letters" but not "where" in 11k steps)
# and a system-prompt curriculum over the first 3000 steps.
"$py" ops/train/train.py \
    --device "$device" ${amp[@]+"${amp[@]}"} --data-workers "$workers" --threads "$threads" \
    --tokenizer models/llada-tiny/tokenizer.json \
    --work "$work" --out "$dst" \
    --d-model 256 --n-layers 6 --n-heads 8 --mlp-hidden 512 \
    --batch 128 --lr 1e-3 --warmup 200 --drop-system-steps 3000 \
    --task-stages copy,reverse:1000/copy,reverse,sort,lookup:4000 \
    --steps 1000000 --time-limit-min "$limit" --time-schedule \
    --ckpt-every 500 --eval-every 1000 --skip-final-eval \
    ${extra[@]+"${extra[@]}"}
