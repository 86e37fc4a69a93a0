#!/usr/bin/env bash
# test_drain.sh -- SIGTERM drain: the running sequences finish and are answered, the
# queued ones are left for redelivery (offsets not stored), the worker exits 0 within
# --drain-timeout; a restarted worker answers the rest. Then --drain-timeout 0: running
# requests are abandoned (no reply) and still answered after restart.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
need_python
DRV="$PY $DLLM_SOURCE_DIR/tests/worker/kafka_driver.py"

start_broker dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1
$DRV produce --bootstrap "$BS" --topic dllm.requests --n 10 --prefix drain --gen 64 \
    --steps 64 --block 32 --ids "$T/ids" >/dev/null
start_worker w1 --max-running 2 --max-queue 4 --drain-timeout 120
running() { [ "$(metric "$WPORT" dllm_num_requests_running)" -ge 1 ]; }
wait_until 60 running || fail "nothing running"
kill -TERM "$WPID"
wait_until 130 bash -c "! kill -0 $WPID 2>/dev/null" || fail "w1 did not exit"
wait "$WPID" || fail "w1 exit status $? after SIGTERM"
grep -q 'draining: admission stopped, [1-9]' "$T/w1.err" || fail "no running request at SIGTERM"
grep -q 'abandoned' "$T/w1.err" && fail "requests abandoned although the drain timeout is long"
answered=$($DRV count --bootstrap "$BS" --topic dllm.replies --timeout 5)
[ "$answered" -ge 1 ] || fail "the running requests were not answered during the drain"
[ "$answered" -lt 10 ] || fail "everything was answered before SIGTERM; the test proves nothing"

# restart with --drain-timeout 0: abandon whatever runs at SIGTERM
start_worker w2 --max-running 2 --max-queue 4 --drain-timeout 0
wait_until 60 running || fail "w2: nothing running"
kill -TERM "$WPID"
wait_until 30 bash -c "! kill -0 $WPID 2>/dev/null" || fail "w2 did not exit"
grep -q 'abandoned' "$T/w2.err" || fail "w2 abandoned nothing"

start_worker w3 --max-running 4
$DRV collect --bootstrap "$BS" --topic dllm.replies --ids "$T/ids" --timeout 240 |
    tee "$T/summary.json"
echo "PASS test_drain: $answered answered during the first drain; $(cat "$T/summary.json")"
