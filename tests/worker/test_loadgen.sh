#!/usr/bin/env bash
# test_loadgen.sh -- `dllm loadgen` against dllm-devbroker + dllm-worker (shipped tiny
# model, 1-token generations): 200 requests, every one answered exactly once; the JSON
# summary parses and its figures are consistent (percentiles ordered, throughput > 0, the
# worker's own time below the client latency); the worker's overhead histogram counted
# every request; the cache-use counters account for every finished request. Then the
# failure path: with no worker, the run reports every reply lost and exits 1.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

start_broker dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1
start_worker w1 --max-running 16 --max-queue 64
G1=(--gen-length 1 --steps 1 --block-length 1)

"$BIN/dllm" loadgen --bootstrap "$BS" --n 200 "${G1[@]}" --json --linger-ms 1000 --warmup 0 \
    --timeout 120 >"$T/summary.json" 2>"$T/loadgen.err" ||
    fail "dllm loadgen exited $?: $(cat "$T/summary.json" "$T/loadgen.err")"
$PY - "$T/summary.json" <<'PYEOF' || fail "bad loadgen summary: $(cat "$T/summary.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["sent"] == 200 and s["answered"] == 200, s
assert s["lost"] == 0 and s["duplicates"] == 0 and s["errors"] == 0, s
assert s["not_delivered"] == 0, s
assert s["throughput_rps"] > 0 and s["elapsed_s"] > 0, s
for name in ("latency_ms", "worker_ms", "engine_ms"):
    d = s[name]
    assert d["n"] == 200, (name, d)
    assert 0 <= d["p50"] <= d["p90"] <= d["p99"] <= d["max"], (name, d)
assert s["worker_ms"]["p50"] < s["latency_ms"]["p50"], s
assert s["engine_ms"]["max"] < s["latency_ms"]["max"] + 1e-6, s
PYEOF
# the worker's own accounting: one overhead sample per answered request; cache counters
wait_until 10 test "$(metric "$WPORT" dllm_worker_overhead_seconds_count)" -ge 200 ||
    fail "overhead histogram: $(metric "$WPORT" dllm_worker_overhead_seconds_count) samples"
n_cache=$(metric "$WPORT" 'dllm_cache_requests_total{model_name="llada-tiny",policy="none"}')
[ "$n_cache" -eq 200 ] || fail "dllm_cache_requests_total{policy=none} = $n_cache, want 200"
rows=$(metric "$WPORT" 'dllm_cache_rows_computed_total{model_name="llada-tiny",policy="none"}')
reused=$(metric "$WPORT" 'dllm_cache_rows_reused_total{model_name="llada-tiny",policy="none"}')
total=$(metric "$WPORT" 'dllm_cache_rows_total{model_name="llada-tiny",policy="none"}')
$PY -c "import sys; r, u, t = map(float, sys.argv[1:]); sys.exit(0 if r > 0 and u == 0 and t == r else 1)" \
    "$rows" "$reused" "$total" || fail "policy none: rows computed $rows, reused $reused, total $total"
steps=$(metric "$WPORT" dllm_time_per_step_seconds_count)
[ "$steps" -ge 1 ] || fail "dllm_time_per_step_seconds counted no step"

# a dLLM-Cache request reuses rows: reused > 0 and FLOPs saved > 0 for policy dllm (after
# 2 warm-up requests, left out of the summary)
"$BIN/dllm" loadgen --bootstrap "$BS" --n 2 --warmup 2 --gen-length 8 --steps 8 --block-length 8 \
    --cache dllm --kp 4 --kr 2 --json --timeout 120 >"$T/dllm.json" 2>>"$T/loadgen.err" ||
    fail "loadgen --cache dllm exited $?"
$PY -c "import json, sys; s = json.load(open(sys.argv[1])); assert s['answered'] == 2 and s['sent'] == 2, s" \
    "$T/dllm.json" || fail "warm-up counted in the summary: $(cat "$T/dllm.json")"
wait_until 10 test "$(metric "$WPORT" 'dllm_cache_requests_total{model_name="llada-tiny",policy="dllm"}')" -ge 4 ||
    fail "no dllm-policy requests counted"
reused=$(metric "$WPORT" 'dllm_cache_rows_reused_total{model_name="llada-tiny",policy="dllm"}')
saved=$(metric "$WPORT" 'dllm_flops_saved_total{model_name="llada-tiny",policy="dllm"}')
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 and float(sys.argv[2]) > 0 else 1)" \
    "$reused" "$saved" || fail "policy dllm: rows reused $reused, FLOPs saved $saved"

# no worker: every reply is lost, exit status 1, and the summary says so
kill "$WPID"
wait_until 30 sh -c "! kill -0 $WPID 2>/dev/null" || fail "worker did not stop"
rc=0
"$BIN/dllm" loadgen --bootstrap "$BS" --n 5 "${G1[@]}" --json --timeout 2 --warmup 0 \
    >"$T/lost.json" 2>>"$T/loadgen.err" || rc=$?
[ $rc -eq 1 ] || fail "loadgen with no worker exited $rc, want 1"
$PY -c "import json, sys; s = json.load(open(sys.argv[1])); assert s['lost'] == 5, s" \
    "$T/lost.json" || fail "lost count: $(cat "$T/lost.json")"
echo "PASS test_loadgen: $(cat "$T/summary.json")"
