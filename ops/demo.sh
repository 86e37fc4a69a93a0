#!/usr/bin/env bash
# ops/demo.sh -- the README's main command: installs what it needs, builds dllm, and
# generates with the model shipped in models/ (no download, no GPU needed).
#
# Usage: ops/demo.sh [extra `dllm generate` flags]
# The Kafka worker path (dev broker, worker, submit) joins this script when the worker
# lands; today it runs the engine through the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

ops/deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLLM_TESTS=OFF >/dev/null
ninja -C build dllm

system="You are a careful assistant. Answer with the result only."
prompt="What is 17 + 25?"
echo "== model"
{ build/bin/dllm inspect || true; } | head -12
for cache in none dllm; do
  echo "== dllm generate --cache $cache --system \"$system\" --prompt \"$prompt\""
  build/bin/dllm generate --system "$system" --prompt "$prompt" \
    --gen-length 32 --steps 32 --block-length 8 --cache "$cache" --json "$@" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); c=d["compute"]; print("answer: %r\n%d steps, %d forwards, %.1f ms, %.2fx fewer FLOPs than no cache" % (d["text"], d["steps"], d["forwards"], d["elapsed_ms"], c["flops_ratio"]))'
done
