#!/usr/bin/env bash
# test_roundtrip.sh -- request/reply through dllm-devbroker with real clients:
# `dllm submit` (the answer equals `dllm generate`'s for the same prompt and parameters,
# metadata echoed, exit status), kcat + protoc-c (reply topic from the reply-to header,
# reply key = request key, correlation-id header echoed), poison messages (error reply
# with a structured code + dead letter), unknown model, and the HTTP endpoints.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

start_broker dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1,custom.replies:1
start_worker w1

# 1. dllm submit vs dllm generate (same private model copy, lib.sh): same tokens
"$BIN/dllm" submit --bootstrap "$BS" --prompt "What is 2+2?" "${GEN[@]}" --json \
    --metadata tenant=t1 --request-id rt-1 --timeout 60 >"$T/submit.json" ||
    fail "dllm submit exited $?"
"$BIN/dllm" generate --model "$T/model" --prompt "What is 2+2?" "${GEN[@]}" --json \
    >"$T/generate.json"
$PY - "$T/submit.json" "$T/generate.json" <<'PYEOF' || fail "submit/generate mismatch"
import json, sys
s = json.load(open(sys.argv[1])); g = json.load(open(sys.argv[2]))
assert s["status"] == "ok", s
assert s["request_id"] == "rt-1", s
assert s["token_ids"] == g["token_ids"], (s["token_ids"], g["token_ids"])
assert s["text"] == g["text"]
assert s["usage"]["prompt_tokens"] == g["prompt_tokens"], s["usage"]
assert s["steps"] == 8 and s["forwards"] == 8, s
assert s["metadata"] == {"tenant": "t1"}, s
assert s["model_id"] == "llada-tiny" and s["worker_id"], s
assert s["timings"]["total_ms"] >= s["timings"]["first_step_ms"] >= s["timings"]["queue_ms"] >= 0
PYEOF

# 1a. the Fast-dLLM flags travel too: prefix/dual cache, threshold decoding, early stop
for extra in "--cache prefix --threshold 0.9" "--cache dual --factor 1.5 --early-stop"; do
    # shellcheck disable=SC2086
    "$BIN/dllm" submit --bootstrap "$BS" --prompt "What is 2+2?" "${GEN[@]}" $extra --json \
        --timeout 60 >"$T/submit2.json" || fail "dllm submit $extra exited $?"
    # shellcheck disable=SC2086
    "$BIN/dllm" generate --model "$T/model" --prompt "What is 2+2?" "${GEN[@]}" $extra --json \
        >"$T/generate2.json"
    $PY - "$T/submit2.json" "$T/generate2.json" <<'PYEOF' || fail "submit/generate mismatch ($extra)"
import json, sys
s = json.load(open(sys.argv[1])); g = json.load(open(sys.argv[2]))
assert s["status"] == "ok", s
assert s["token_ids"] == g["token_ids"], (s["token_ids"], g["token_ids"])
assert s["forwards"] == g["forwards"], (s["forwards"], g["forwards"])
PYEOF
done
[ "$(metric "$WPORT" 'dllm_cache_requests_total{model_name="llada-tiny",policy="prefix"}')" -eq 1 ] ||
    fail "no prefix-policy request counted"

# 1b. JSONL: several requests, flags as defaults, per-line overrides
printf '%s\n' '{"prompt": "a", "request_id": "jl-1"}' '{"prompt": "b", "seed": 3, "temperature": 0.5}' \
    '{"prompt_ids": [5, 6, 7], "gen_length": 16, "steps": 16}' >"$T/in.jsonl"
"$BIN/dllm" submit --bootstrap "$BS" --jsonl "$T/in.jsonl" "${GEN[@]}" --json --timeout 60 \
    >"$T/jsonl.out" || fail "submit --jsonl exited $?"
[ "$(grep -c '"status":"ok"' "$T/jsonl.out")" -eq 3 ] || fail "jsonl: $(cat "$T/jsonl.out")"
grep -q '"request_id":"jl-1"' "$T/jsonl.out" || fail "jsonl request id"
grep -q '"steps":16' "$T/jsonl.out" || fail "jsonl per-line override: $(cat "$T/jsonl.out")"

# 2. kcat + protoc-c: reply-to header, key echoed
encode_request "$T/req.bin" 'request_id: "kc-1" token_ids { ids: [5, 6, 7] }
params { gen_length: 8 steps: 8 block_length: 8 temperature: 0 seed: 0 }'
kcat -P -b "$BS" -t dllm.requests -k key-kc-1 -H reply-to=custom.replies "$T/req.bin"
timeout 60 kcat -C -b "$BS" -t custom.replies -o beginning -c 1 -q -f '%s' >"$T/reply.bin" ||
    fail "no reply on custom.replies"
timeout 20 kcat -C -b "$BS" -t custom.replies -o beginning -c 1 -e -q -f '%k|%h\n' >"$T/reply.meta"
decode_response "$T/reply.bin" >"$T/reply.txt"
grep -q 'request_id: "kc-1"' "$T/reply.txt" || fail "reply: $(cat "$T/reply.txt")"
grep -q 'finish_reason:' "$T/reply.txt" || fail "no result in reply: $(cat "$T/reply.txt")"
grep -q '^key-kc-1|' "$T/reply.meta" || fail "reply key is not the request key: $(cat "$T/reply.meta")"
grep -q 'correlation-id=kc-1' "$T/reply.meta" || fail "no correlation-id header: $(cat "$T/reply.meta")"

# 3. poison: undecodable bytes with a correlation id -> MALFORMED reply + dead letter
printf '\xff\xff\xff\xff\x0f garbage' >"$T/junk.bin"
kcat -P -b "$BS" -t dllm.requests -k junk -H correlation-id=bad-1 "$T/junk.bin"
# invalid parameters -> INVALID_ARGUMENT, exit status 1
set +e
"$BIN/dllm" submit --bootstrap "$BS" --prompt hi --gen-length 8 --steps 8 --block-length 8 \
    --model gpt-unknown --json --request-id um-1 --timeout 60 >"$T/unknown.json"
rc=$?
set -e
[ $rc -eq 1 ] || fail "unknown model: exit status $rc, expected 1"
grep -q '"code":"ERROR_CODE_UNKNOWN_MODEL"' "$T/unknown.json" || fail "$(cat "$T/unknown.json")"
# prompt over the model's maximum sequence length (1024) -> PROMPT_TOO_LONG
ids=$(printf '5,%.0s' $(seq 1020))
set +e
"$BIN/dllm" submit --bootstrap "$BS" --prompt-ids "${ids%,}" "${GEN[@]}" --json \
    --request-id long-1 --timeout 60 >"$T/long.json"
rc=$?
set -e
[ $rc -eq 1 ] || fail "long prompt: exit status $rc"
grep -q '"code":"ERROR_CODE_PROMPT_TOO_LONG"' "$T/long.json" || fail "$(cat "$T/long.json")"
# three dead letters, in order, with their headers
timeout 30 kcat -C -b "$BS" -t dllm.requests.dlq -o beginning -c 3 -q -f '%k|%h\n' >"$T/dlq.txt"
[ "$(wc -l <"$T/dlq.txt")" -eq 3 ] || fail "dead letters: $(cat "$T/dlq.txt")"
grep -q 'dllm-error-class=PROMPT_TOO_LONG' "$T/dlq.txt" || fail "dlq: $(cat "$T/dlq.txt")"
grep -q '^junk|.*dllm-error-class=MALFORMED' "$T/dlq.txt" || fail "dlq: $(cat "$T/dlq.txt")"
grep -q 'dllm-error-class=UNKNOWN_MODEL' "$T/dlq.txt" || fail "dlq: $(cat "$T/dlq.txt")"
timeout 20 kcat -C -b "$BS" -t dllm.requests.dlq -o beginning -c 1 -e -q -f '%s' | cmp - "$T/junk.bin" ||
    fail "the dead letter is not the original bytes"
# the MALFORMED error reply on the default reply topic
timeout 30 kcat -C -b "$BS" -t dllm.replies -o beginning -e -q -f '%h\n' >"$T/replies.hdr" || true
grep -q 'dllm-error-code=MALFORMED' "$T/replies.hdr" ||
    fail "no MALFORMED error reply"

# 4. HTTP
curl -fs "http://127.0.0.1:$WPORT/healthz" | grep -q ok || fail "/healthz"
curl -fs "http://127.0.0.1:$WPORT/readyz" | grep -q ready || fail "/readyz"
curl -fs "http://127.0.0.1:$WPORT/metrics" >"$T/metrics.txt"
for m in dllm_requests_received_total dllm_request_success_total dllm_request_errors_total \
    dllm_dlq_messages_total dllm_e2e_request_latency_seconds_bucket \
    dllm_request_queue_time_seconds_count dllm_time_to_first_step_seconds_sum \
    dllm_num_requests_running dllm_num_requests_waiting dllm_prompt_tokens_total \
    dllm_generation_tokens_total dllm_kafka_rebalances dllm_kafka_consumer_lag \
    dllm_kafka_assigned_partitions dllm_redis_errors_total dllm_worker_info; do
    grep -q "^$m" "$T/metrics.txt" || fail "metric $m missing"
done
[ "$(metric "$WPORT" dllm_dlq_messages_total)" -eq 3 ] || fail "dlq metric"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WPORT/nope" | grep -q 404 || fail "404"

# 5. SIGTERM: clean exit
kill -TERM "$WPID"
wait_until 30 bash -c "! kill -0 $WPID 2>/dev/null" || fail "worker did not exit on SIGTERM"
wait "$WPID" || fail "worker exit status $? after SIGTERM"
echo "PASS test_roundtrip"
