#!/usr/bin/env bash
# test_sigkill.sh -- at-least-once: 300 requests; the worker is SIGKILLed mid-stream
# (after some replies), restarted, SIGKILLed again while it rejoins the group, and
# restarted once more. Every request must be answered (duplicates allowed: a request
# whose reply was delivered but whose offset was not yet committed runs again).
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
need_python
DRV="$PY $DLLM_SOURCE_DIR/tests/worker/kafka_driver.py"

start_broker dllm.requests:4,dllm.replies:2,dllm.requests.dlq:1
$DRV produce --bootstrap "$BS" --topic dllm.requests --n 300 --prefix kill --gen 8 --steps 8 \
    --block 8 --ids "$T/ids" >/dev/null
start_worker w1 --max-running 4 --max-queue 4
replies_at_least() { [ "$(metric "$WPORT" dllm_replies_total)" -ge "$1" ]; }
wait_until 120 replies_at_least 40 || fail "no progress before the kill"
kill -9 "$WPID"
echo "killed w1 after $(grep -c . "$T/ids") queued, some answered"
start_worker w2 --max-running 4 --max-queue 4
sleep 1
kill -9 "$WPID"
start_worker w3 --max-running 4 --max-queue 4
$DRV collect --bootstrap "$BS" --topic dllm.replies --ids "$T/ids" --timeout 240 |
    tee "$T/summary.json"
echo "PASS test_sigkill: $(cat "$T/summary.json")"
