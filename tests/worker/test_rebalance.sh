#!/usr/bin/env bash
# test_rebalance.sh -- two workers in one group (cooperative-sticky): the second joins
# while the first is busy, partitions move, then the first leaves (SIGTERM) while the
# second continues. Nothing is lost; both workers answered some requests; the first saw
# the rebalances. A second batch is produced once the second worker owns partitions:
# the first batch alone may be used up on the moved partitions by then (the first worker
# is fast enough to finish a partition while the group rebalances), which left the
# second worker nothing to answer.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
need_python
DRV="$PY $DLLM_SOURCE_DIR/tests/worker/kafka_driver.py"

start_broker dllm.requests:4,dllm.replies:2,dllm.requests.dlq:1
$DRV produce --bootstrap "$BS" --topic dllm.requests --n 300 --prefix reb --gen 8 --steps 8 \
    --block 8 --ids "$T/ids" >/dev/null
start_worker w1 --max-running 4 --max-queue 4
P1=$WPORT
W1=$WPID
replies_at_least() { [ "$(metric "$1" dllm_replies_total)" -ge "$2" ]; }
wait_until 120 replies_at_least "$P1" 30 || fail "w1 made no progress"
start_worker w2 --max-running 4 --max-queue 4 --group-instance-id reb-w2
P2=$WPORT
owns_partitions() { [ "$(metric "$1" dllm_kafka_assigned_partitions)" -ge 1 ]; }
wait_until 120 owns_partitions "$P2" || fail "no partitions moved to w2"
$DRV produce --bootstrap "$BS" --topic dllm.requests --n 200 --prefix reb2 --gen 8 --steps 8 \
    --block 8 --ids "$T/ids2" >/dev/null
cat "$T/ids2" >>"$T/ids"
wait_until 120 replies_at_least "$P2" 10 || fail "w2 never answered"
reb=$(metric "$P1" dllm_kafka_rebalances)
assigned1=$(metric "$P1" dllm_kafka_assigned_partitions)
kill -TERM "$W1"
wait_until 60 bash -c "! kill -0 $W1 2>/dev/null" || fail "w1 did not drain and exit"
$DRV collect --bootstrap "$BS" --topic dllm.replies --ids "$T/ids" --timeout 240 |
    tee "$T/summary.json"
[ "$reb" -ge 2 ] || fail "w1 saw $reb rebalance(s), expected >= 2"
[ "$assigned1" -lt 4 ] || fail "w1 still had all 4 partitions after w2 joined"
echo "PASS test_rebalance: w1 rebalances $reb; $(cat "$T/summary.json")"
