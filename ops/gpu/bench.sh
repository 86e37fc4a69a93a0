#!/usr/bin/env bash
# ops/gpu/bench.sh BUILD_DIR -- the GPU benchmarks of docs/benchmarks.md, in one go:
#   1. the dLLM-Cache paper's speed setting on synthetic LLaDA-8B weights (prompt 893,
#      gen 256, steps 256, block 8, K_p 100, K_r 7, rho 0.25): none vs dllm at batch 1,
#      with the measured roofline, then the scheduler at concurrency 1, 4 and 16;
#   2. the shipped model's task suite on the GPU and the CPU (accuracy must agree).
# Figures are printed; JSON copies go to $OUT when it is set.
set -uo pipefail
B=${1:-build-gpu}
OUT=${OUT:-$B/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
date -u +"date: %F %T UTC"
set -x
$B/bin/dllm bench --backend cuda --synthetic llada-8b ${DLLM_BENCH_ARGS:-} \
  --concurrency ${DLLM_BENCH_CONC:-1,4,16}
{ set +x; } 2>/dev/null
if [ -z "${DLLM_BENCH_QUICK:-}" ]; then
  for cache in none dllm; do
    for be in cuda cpu; do
      printf '\neval %s on %s: ' "$cache" "$be"
      $B/bin/dllm eval --backend $be --cache $cache --json \
        --tasks ops/tasks/eval_small.jsonl 2>&1 | tail -1 | cut -c1-300
    done
  done
fi
