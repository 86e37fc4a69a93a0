#!/usr/bin/env bash
# ops/demo.sh -- the README's main command: the whole request/reply path on one machine.
#
# Installs what it needs (ops/deps.sh build), builds dllm, then starts a loopback Kafka
# broker (dllm-devbroker, librdkafka's mock cluster), a redis-server on a unix socket and
# dllm-worker with the model shipped in models/; submits a few requests that share a
# system prompt with `dllm submit` (dLLM-Cache on), prints the replies and the worker's
# metrics, and stops everything it started.
#
# Usage: ops/demo.sh [extra `dllm submit` flags]
set -euo pipefail
cd "$(dirname "$0")/.."

ops/deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLLM_TESTS=OFF \
      -DDLLM_WORKER=ON >/dev/null
ninja -C build dllm dllm-worker dllm-devbroker

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== model"
{ build/bin/dllm inspect || true; } | head -6

echo "== dev broker, redis, worker"
build/bin/dllm-devbroker --topics dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1 \
  > "$work/broker.out" 2> "$work/broker.err" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/broker.out" ]] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")
echo "broker at $bootstrap"
redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no \
  --dir "$work" > "$work/redis.log" 2>&1 &
pids+=($!)
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
build/bin/dllm-worker --bootstrap "$bootstrap" --redis "unix://$work/redis.sock" \
  --http "127.0.0.1:$http_port" --group demo-$$ --prompt-slots 8 > "$work/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null || {
  echo "the worker did not become ready; its log:" >&2
  cat "$work/worker.log" >&2
  exit 1
}
echo "worker ready (http://127.0.0.1:$http_port)"

# the task suite's shared system prompt (149 tokens) and four tasks the shipped model
# solves (models/llada-tiny/README.md, held out: add, sub, reverse 100%, word problems
# 92.5%); the answers are 636, 465, 27 and "m a k d q"
system=$(python3 -c 'import json; print(json.loads(open("ops/tasks/eval_small.jsonl").readline())["system"])')
for prompt in "Compute 347 + 289." "Compute 812 - 347." \
              "Ann has 45 coins and gives 18 of them away. How many coins does Ann have left?" \
              "Reverse the list: q d k a m"; do
  echo "== dllm submit --system \"(task-suite system prompt)\" --prompt \"$prompt\" --cache dllm --use-prompt-slot"
  build/bin/dllm submit --bootstrap "$bootstrap" --timeout 120 --system "$system" \
    --prompt "$prompt" --gen-length 8 --steps 8 --block-length 8 --cache dllm \
    --use-prompt-slot "$@"
done

curl -sf "http://127.0.0.1:$http_port/metrics" > "$work/metrics" || true
echo "== worker metrics"
grep -E '^dllm_' "$work/metrics" | grep -vE '_bucket|} 0$|^dllm_(cache|flops|prefix_cache|slot)' \
  || true
echo "== cache use (dllm_cache_* and dllm_flops_*, by policy)"
grep -E '^dllm_(cache|flops)_' "$work/metrics" || true
echo "== shared system prompt (prompt slots: the first request builds it, the others reuse it)"
grep -E '^dllm_(prefix_cache|slot_builds|slots_used)' "$work/metrics" || true
awk '
/^dllm_cache_rows_computed_total/ { match($0, /policy="[^"]*"/); c[substr($0, RSTART + 8, RLENGTH - 9)] = $NF }
/^dllm_cache_rows_reused_total/   { match($0, /policy="[^"]*"/); r[substr($0, RSTART + 8, RLENGTH - 9)] = $NF }
/^dllm_flops_total/               { match($0, /policy="[^"]*"/); f[substr($0, RSTART + 8, RLENGTH - 9)] = $NF }
/^dllm_flops_saved_total/         { match($0, /policy="[^"]*"/); s[substr($0, RSTART + 8, RLENGTH - 9)] = $NF }
END {
  for (p in c)
    printf "policy %s: %.1f%% of layer rows reused from the cache, %.1f%% of matmul FLOPs saved\n",
           p, 100 * r[p] / (c[p] + r[p]), 100 * s[p] / (f[p] + s[p])
}' "$work/metrics"
