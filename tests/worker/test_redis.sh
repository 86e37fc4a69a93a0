#!/usr/bin/env bash
# test_redis.sh -- duplicate detection through Redis (SET NX EX on delivery), and Redis
# loss: with redis-server stopped the worker keeps serving (LRU fallback, /readyz 503,
# dllm_redis_errors_total grows); restarted, it reconnects (readyz 200) and a request id
# answered before a worker restart is recognised from Redis alone.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    { echo "SKIP: redis-server/redis-cli not installed"; exit 77; }
SOCK=$T/redis.sock

start_redis() {
    redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T" \
        >>"$T/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_until 10 redis-cli -s "$SOCK" ping >/dev/null 2>&1 || fail "redis-server did not start"
}
submit() { "$BIN/dllm" submit --bootstrap "$BS" --prompt hi "${GEN[@]}" --timeout 60 "$@"; }

start_broker dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1
start_redis
start_worker w1 --redis "unix://$SOCK"
submit --request-id r-1 >/dev/null || fail "first request"
wait_until 10 bash -c "[ \"\$(redis-cli -s '$SOCK' exists dllm:answered:r-1)\" = 1 ]" ||
    fail "answered request not recorded in Redis"
ttl=$(redis-cli -s "$SOCK" ttl dllm:answered:r-1)
[ "$ttl" -gt 0 ] || fail "no TTL on the dedupe key ($ttl)"

# Redis goes away: the worker keeps serving and says so
kill "$REDIS_PID"
wait_until 10 bash -c "! kill -0 $REDIS_PID 2>/dev/null"
submit --request-id r-2 >/dev/null || fail "the worker stopped serving without Redis"
notready() { ! ready "$WPORT"; }
wait_until 10 notready || fail "/readyz still 200 with Redis down"
[ "$(metric "$WPORT" dllm_redis_errors_total)" -ge 1 ] || fail "no Redis errors counted"
[ "$(metric "$WPORT" dllm_redis_up)" -eq 0 ] || fail "dllm_redis_up should be 0"
submit --request-id r-3 >/dev/null || fail "second request without Redis"

# Redis is back: reconnect with backoff
start_redis
wait_until 30 ready "$WPORT" || fail "worker did not reconnect to Redis"
submit --request-id r-4 >/dev/null || fail "request after the reconnect"
wait_until 10 bash -c "[ \"\$(redis-cli -s '$SOCK' exists dllm:answered:r-4)\" = 1 ]" ||
    fail "r-4 not recorded after the reconnect"

# a new worker (empty LRU) recognises r-4 as answered from Redis: no second reply
kill -TERM "$WPID"
wait_until 30 bash -c "! kill -0 $WPID 2>/dev/null"
start_worker w2 --redis "unix://$SOCK"
encode_request "$T/dup.bin" 'request_id: "r-4" text: "hi" params { gen_length: 8 steps: 8 block_length: 8 }'
kcat -P -b "$BS" -t dllm.requests "$T/dup.bin"
dup() { [ "$(metric "$WPORT" dllm_requests_duplicate_total)" -ge 1 ]; }
wait_until 30 dup || fail "the redelivered r-4 was not recognised through Redis"
[ "$(metric "$WPORT" dllm_replies_total)" -eq 0 ] || fail "r-4 answered twice"
echo "PASS test_redis"
