#!/usr/bin/env bash
# test_load.sh -- 1,000 messages: 850 valid requests, 50 redeliveries of them, 50
# undecodable messages and 50 invalid ones, shuffled, through one worker with a small
# admission queue (backpressure pauses the partitions). Every valid request is answered
# exactly once (duplicates recognised by request_id), every malformed/invalid one is on
# the dead-letter topic with its headers and gets an error reply when it has an id.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
need_python
DRV="$PY $DLLM_SOURCE_DIR/tests/worker/kafka_driver.py"

start_broker dllm.requests:4,dllm.replies:2,dllm.requests.dlq:1
$DRV produce --bootstrap "$BS" --topic dllm.requests --n 850 --dups 50 --malformed 50 \
    --invalid 50 --prefix load --gen 4 --steps 4 --block 4 --ids "$T/ids" >/dev/null
start_worker w1 --max-running 16 --max-queue 8
# 50 malformed (with correlation-id header) + 50 invalid (with request_id) -> 100 error replies
$DRV collect --bootstrap "$BS" --topic dllm.replies --ids "$T/ids" --timeout 240 \
    --expect-errors 100 --linger 2 --exactly-once | tee "$T/summary.json"
n_dlq=$($DRV count --bootstrap "$BS" --topic dllm.requests.dlq --timeout 10 --expect 100)
[ "$n_dlq" -eq 100 ] || fail "expected 100 dead letters, got $n_dlq"
n_mal=$($DRV count --bootstrap "$BS" --topic dllm.requests.dlq --timeout 10 --expect 50 \
    --header dllm-error-class=MALFORMED)
[ "$n_mal" -eq 50 ] || fail "expected 50 MALFORMED dead letters, got $n_mal"
kcat -C -b "$BS" -t dllm.requests.dlq -c 1 -e -q -f '%h\n' >"$T/dlq_headers"
for h in dllm-source-topic=dllm.requests dllm-source-partition= dllm-source-offset= \
    dllm-error-class= dllm-error-message= dllm-worker-id=; do
    grep -q "$h" "$T/dlq_headers" || fail "dead letter lacks header $h: $(cat "$T/dlq_headers")"
done
dup=$(metric "$WPORT" dllm_requests_duplicate_total)
[ "$dup" -ge 50 ] || fail "expected >= 50 duplicates recognised, metric says $dup"
pauses=$(metric "$WPORT" dllm_kafka_pauses_total)
[ "$pauses" -ge 1 ] || fail "the admission queue never filled (pauses $pauses)"
echo "PASS test_load: $(cat "$T/summary.json"), dlq $n_dlq, duplicates $dup, pauses $pauses"
