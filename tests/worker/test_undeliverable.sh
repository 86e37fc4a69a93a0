#!/usr/bin/env bash
# test_undeliverable.sh -- a reply the cluster refuses for good is not lost silently and
# does not stall its partition: the worker runs with message.max.bytes=1000, a request
# whose reply is larger (a 512-token generation) gets its original bytes dead-lettered
# with dllm-error-class REPLY_UNDELIVERABLE (the request, not the reply: it can be
# replayed), dllm_kafka_undeliverable_total counts it, the request after it is answered
# and the partition's committed offset passes both (consumer lag 0).
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

start_broker dllm.requests:1,dllm.replies:1,dllm.requests.dlq:1
start_worker w1 --kafka-prop message.max.bytes=1000

encode_request "$T/big.bin" 'request_id: "ud-big" text: "hi" params { gen_length: 512 steps: 8 block_length: 512 logits_eos_inf: true }'
encode_request "$T/small.bin" 'request_id: "ud-small" text: "hi" params { gen_length: 2 steps: 2 block_length: 2 }'
kcat -b "$BS" -P -t dllm.requests -k ud-big "$T/big.bin"
kcat -b "$BS" -P -t dllm.requests -k ud-small "$T/small.bin"

# the small one is answered
wait_until 60 sh -c "kcat -b '$BS' -C -t dllm.replies -o beginning -e -q -f '%h\n' 2>/dev/null | grep -q 'correlation-id=ud-small'" ||
    fail "no reply for ud-small"
# the big one: its request bytes on the dead-letter topic, with the reason
wait_until 30 sh -c "kcat -b '$BS' -C -t dllm.requests.dlq -o beginning -e -q -f '%h\n' 2>/dev/null | grep -q REPLY_UNDELIVERABLE" ||
    fail "no REPLY_UNDELIVERABLE dead letter"
kcat -b "$BS" -C -t dllm.requests.dlq -o beginning -e -q -f '%h\n' >"$T/dlq.h"
grep -q 'correlation-id=ud-big' "$T/dlq.h" || fail "dead letter headers: $(cat "$T/dlq.h")"
grep -q 'dllm-dead-letter-content=request' "$T/dlq.h" || fail "dead letter content: $(cat "$T/dlq.h")"
grep -q 'dllm-reply-topic=dllm.replies' "$T/dlq.h" || fail "dead letter reply topic: $(cat "$T/dlq.h")"
kcat -b "$BS" -C -t dllm.requests.dlq -o beginning -e -q -D '' >"$T/dlq.bin"
cmp -s "$T/dlq.bin" "$T/big.bin" || fail "the dead letter is not the request's bytes"
if kcat -b "$BS" -C -t dllm.replies -o beginning -e -q -f '%h\n' | grep -q 'correlation-id=ud-big'; then
    fail "a reply for ud-big was delivered despite message.max.bytes"
fi
[ "$(metric "$WPORT" dllm_kafka_undeliverable_total)" -eq 1 ] ||
    fail "dllm_kafka_undeliverable_total = $(metric "$WPORT" dllm_kafka_undeliverable_total)"
# both offsets stored and committed: no lag left (statistics every second)
lag_zero() {
    curl -fs "http://127.0.0.1:$WPORT/metrics" | grep -q '^dllm_kafka_consumer_lag{.*partition="0"} 0$'
}
wait_until 30 lag_zero || fail "partition did not move on: $(curl -fs "http://127.0.0.1:$WPORT/metrics" | grep consumer_lag)"
echo "PASS test_undeliverable"
