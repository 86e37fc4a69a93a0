#!/usr/bin/env bash
# ops/loadgen/bench.sh -- the worker-overhead benchmark: a fresh dllm-devbroker, one
# dllm-worker with the shipped tiny model, and `dllm loadgen` with a tiny generation; prints
# the load generator's summary (throughput, client latency, the worker's own time and the
# engine time per request from the replies) and the worker's overhead histogram
# (dllm_worker_overhead_seconds, which also covers the delivery report and offset store).
#
#   ops/loadgen/bench.sh [--n N] [--rate R] [--gen G] [--prompt-ids LIST] [--bin DIR]
#                        [--model DIR] [-- worker args...]
#
# Defaults: --n 5000, --rate 0 (as fast as possible), --gen 1 (gen length = steps = block
# = 1), the loadgen's default text prompt (chat template: 16 tokens) unless --prompt-ids,
# worker --max-running 64 --max-queue 1024 --threads 1 --kafka-prop fetch.wait.max.ms=10;
# loadgen's 10 warm-up requests are left out of its figures (not of the histogram).
# Everything started is stopped on exit.
#
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/bin
model=$root/models/llada-tiny
n=5000
rate=0
gen=1
prompt=()
while [ $# -gt 0 ]; do
    case $1 in
    --n) n=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --gen) gen=$2; shift 2 ;;
    --prompt-ids) prompt=(--prompt-ids "$2"); shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--n N] [--rate R] [--gen G] [--prompt-ids LIST] [--bin DIR] [--model DIR] [-- worker args]" >&2
       exit 2 ;;
    esac
done
# fetch.wait.max.ms: the mock broker holds an empty fetch for the whole wait instead of
# answering when a message arrives (docs/worker.md), which would add up to 500 ms (the
# default) to every request's latency
worker_args=(--max-running 64 --max-queue 1024 --threads 1 --kafka-prop fetch.wait.max.ms=10 "$@")

T=$(mktemp -d "${TMPDIR:-/tmp}/dllm-bench.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

"$bin/dllm-devbroker" --topics dllm.requests:4,dllm.replies:1,dllm.requests.dlq:1 \
    >"$T/broker.out" 2>"$T/broker.err" &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/broker.out" ] && break; sleep 0.1; done
bs=$(head -n 1 "$T/broker.out")
[ -n "$bs" ] || { echo "bench: no bootstrap address from dllm-devbroker" >&2; exit 1; }

OPENBLAS_NUM_THREADS=1 "$bin/dllm-worker" --bootstrap "$bs" --group bench --http 127.0.0.1:0 \
    --model "$model" "${worker_args[@]}" >"$T/worker.out" 2>"$T/worker.err" &
pids+=($!)
port=
for _ in $(seq 300); do
    port=$(grep -o 'listening on port [0-9]*' "$T/worker.err" 2>/dev/null | awk '{print $4}' || true)
    [ -n "$port" ] && curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$T/worker.err" >&2; exit 1; }

echo "bench: worker ${worker_args[*]}; loadgen --n $n --rate $rate --gen-length $gen ${prompt[*]}"
rc=0
"$bin/dllm" loadgen --bootstrap "$bs" --n "$n" --rate "$rate" --gen-length "$gen" \
    --steps "$gen" --block-length "$gen" --timeout 120 "${prompt[@]}" || rc=$?
curl -fs "http://127.0.0.1:$port/metrics" >"$T/metrics"
# overhead histogram: mean, and the fraction of requests at or under each bucket bound
awk '
/^dllm_worker_overhead_seconds_bucket/ {
    match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); cum[le] = $NF; order[++k] = le
}
/^dllm_worker_overhead_seconds_sum/ { sum = $NF }
/^dllm_worker_overhead_seconds_count/ { cnt = $NF }
END {
    if (cnt == 0) { print "bench: no overhead samples"; exit }
    printf "bench: worker overhead (histogram, delivery report and offset store included): " \
           "%d requests, mean %.1f us\n", cnt, 1e6 * sum / cnt
    line = "bench: share of requests within:"
    for (i = 1; i <= k; i++) {
        if (order[i] == "+Inf") continue
        line = line sprintf(" %gms %.2f%%", 1e3 * order[i], 100 * cum[order[i]] / cnt)
    }
    print line
}' "$T/metrics"
exit $rc
