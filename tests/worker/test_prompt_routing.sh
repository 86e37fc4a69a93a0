#!/usr/bin/env bash
# test_prompt_routing.sh -- routing by prefix key across two workers sharing a Redis
# directory: requests keyed with `dllm submit --key-by-prefix` land on one partition, so
# one worker builds the system prompt's slot once and serves every later request from it
# while the other builds nothing; with --key-replicas R the keys are PREFIXKEY#k and each
# worker that receives a replica builds the prefix once. The directory lists the holders.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    { echo "SKIP: redis-server/redis-cli not installed"; exit 77; }
SOCK=$T/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T" \
    >>"$T/redis.log" 2>&1 &
PIDS+=("$!")
wait_until 10 redis-cli -s "$SOCK" ping >/dev/null 2>&1 || fail "redis-server did not start"

start_broker dllm.requests:4,dllm.replies:1,dllm.requests.dlq:1
start_worker w1 --redis "unix://$SOCK" --worker-id w1 --prompt-slots 4
P1=$WPORT
start_worker w2 --redis "unix://$SOCK" --worker-id w2 --prompt-slots 4
P2=$WPORT
both_assigned() {
    local a b
    a=$(metric "$P1" dllm_kafka_assigned_partitions)
    b=$(metric "$P2" dllm_kafka_assigned_partitions)
    [ "$a" -ge 1 ] && [ "$b" -ge 1 ] && [ $((a + b)) -eq 4 ]
}
wait_until 60 both_assigned || fail "the 4 partitions are not split between the workers"

lines() { # lines SYSTEM PREFIX N
    for i in $(seq 1 "$3"); do
        printf '{"request_id": "%s-%d", "system": "%s", "prompt": "question %d"}\n' "$2" "$i" "$1" "$i"
    done
}
submit() {
    "$BIN/dllm" submit --bootstrap "$BS" "${GEN[@]}" --cache dllm --use-prompt-slot \
        --key-by-prefix --tokenizer-model "$T/model" --model llada-tiny --timeout 90 \
        --jsonl - "$@" >/dev/null
}

# one system prompt, keyed by its prefix key: one partition, one worker, one build
lines "You are terse. Answer with one word." a 6 | submit || fail "keyed requests"
sum_of() { echo $(( $(metric "$P1" "$1") + $(metric "$P2" "$1") )); }
# metrics follow the engine within a Kafka-loop iteration of the last reply
all_counted() { [ "$(sum_of dllm_prefix_cache_queries_total)" -gt 0 ] &&
                [ "$(sum_of dllm_requests_received_total)" -eq 6 ]; }
wait_until 10 all_counted || fail "the 6 requests and their prefix queries are not counted"
b1=$(metric "$P1" dllm_slot_builds_total)
b2=$(metric "$P2" dllm_slot_builds_total)
r1=$(metric "$P1" dllm_requests_received_total)
r2=$(metric "$P2" dllm_requests_received_total)
[ $((b1 + b2)) -eq 1 ] || fail "builds w1=$b1 w2=$b2, expected exactly one in the fleet"
{ [ "$r1" -eq 6 ] && [ "$r2" -eq 0 ]; } || { [ "$r1" -eq 0 ] && [ "$r2" -eq 6 ]; } ||
    fail "requests split w1=$r1 w2=$r2: not routed by the prefix key"
h=$(sum_of dllm_prefix_cache_hits_total)
q=$(sum_of dllm_prefix_cache_queries_total)
[ "$h" -gt 0 ] && [ $((h * 6)) -eq $((q * 5)) ] || fail "hits $h of $q prefix tokens (expected 5/6)"

# a hot prompt over 4 replicas: keys PREFIXKEY#k; each receiving worker builds it once
lines "You are verbose. Explain every step." b 12 | submit --key-replicas 4 ||
    fail "replicated requests"
keys=$(kcat -C -b "$BS" -t dllm.requests -o beginning -e -q -f '%k\n' | sort -u)
nrep=$(grep -c '#' <<<"$keys" || true)
[ "$nrep" -ge 2 ] && [ "$nrep" -le 4 ] || fail "replica keys: $keys"
grep '#' <<<"$keys" | grep -qvE '^[0-9a-f]{64}#[0-3]$' && fail "malformed replica key in: $keys"
b1=$(( $(metric "$P1" dllm_slot_builds_total) - b1 ))
b2=$(( $(metric "$P2" dllm_slot_builds_total) - b2 ))
g1=$(( $(metric "$P1" dllm_requests_received_total) - r1 ))
g2=$(( $(metric "$P2" dllm_requests_received_total) - r2 ))
[ "$b1" -eq $((g1 > 0 ? 1 : 0)) ] && [ "$b2" -eq $((g2 > 0 ? 1 : 0)) ] ||
    fail "replicated prompt: w1 got $g1 and built $b1, w2 got $g2 and built $b2"

# the directory names every holder of the hot prompt
hex=$(grep '#' <<<"$keys" | head -n 1 | cut -d'#' -f1)
wait_until 10 bash -c "[ \"\$(redis-cli -s '$SOCK' hlen dllm:pc:slot:$hex)\" -eq $(( (g1 > 0) + (g2 > 0) )) ]" ||
    fail "directory holders of $hex: $(redis-cli -s "$SOCK" hkeys "dllm:pc:slot:$hex")"
echo "PASS test_prompt_routing (replicated prompt: w1 $g1 requests, w2 $g2)"
