#!/usr/bin/env bash
# test_faults.sh -- broker errors injected through the mock cluster while requests flow:
# Produce errors (NOT_ENOUGH_REPLICAS, retried by the idempotent producer), Fetch errors,
# OffsetCommit errors and a broker taken down and brought back. Every request is
# answered.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
need_python
DRV="$PY $DLLM_SOURCE_DIR/tests/worker/kafka_driver.py"

start_broker dllm.requests:4,dllm.replies:2,dllm.requests.dlq:1 --brokers 3
start_worker w1 --max-running 8
$DRV produce --bootstrap "$BS" --topic dllm.requests --n 100 --prefix flt --gen 4 --steps 4 \
    --block 4 --ids "$T/ids" >/dev/null
broker_cmd inject 0 NOT_ENOUGH_REPLICAS 8
broker_cmd inject 1 NOT_LEADER_OR_FOLLOWER 4
broker_cmd inject 8 REQUEST_TIMED_OUT 4
sleep 2
broker_cmd down 2
sleep 3
broker_cmd up 2
broker_cmd inject 0 _TRANSPORT 3
$DRV collect --bootstrap "$BS" --topic dllm.replies --ids "$T/ids" --timeout 240 |
    tee "$T/summary.json"
grep -q 'ok inject 0 NOT_ENOUGH_REPLICAS 8' "$T/broker.err" || fail "injection not applied: $(cat "$T/broker.err")"
grep -q 'ok down 2' "$T/broker.err" || fail "broker 2 not taken down"
echo "PASS test_faults: $(cat "$T/summary.json")"
