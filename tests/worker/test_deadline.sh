#!/usr/bin/env bash
# test_deadline.sh -- deadlines: a request already expired on receipt is answered
# DEADLINE_EXCEEDED without running; a long request whose deadline passes while it runs
# is cancelled (answered long before it could have finished); the worker keeps serving.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

start_broker dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1
start_worker w1
set +e
"$BIN/dllm" submit --bootstrap "$BS" --prompt hi "${GEN[@]}" --deadline-ms 1 --json \
    --timeout 60 >"$T/expired.json"
rc=$?
set -e
[ $rc -eq 1 ] || fail "expired request: exit $rc"
grep -q 'ERROR_CODE_DEADLINE_EXCEEDED' "$T/expired.json" || fail "$(cat "$T/expired.json")"

# 512 steps take far longer than 1.5 s on this model; the deadline cancels it
start=$SECONDS
set +e
"$BIN/dllm" submit --bootstrap "$BS" --prompt hi --gen-length 512 --steps 512 \
    --block-length 32 --deadline-ms 1500 --json --timeout 120 >"$T/running.json"
rc=$?
set -e
took=$((SECONDS - start))
[ $rc -eq 1 ] || fail "running request: exit $rc $(cat "$T/running.json")"
grep -q 'ERROR_CODE_DEADLINE_EXCEEDED' "$T/running.json" || fail "$(cat "$T/running.json")"
grep -q 'cancelled' "$T/running.json" || fail "not cancelled while running: $(cat "$T/running.json")"
[ $took -lt 30 ] || fail "the cancelled request took $took s"
"$BIN/dllm" submit --bootstrap "$BS" --prompt hi "${GEN[@]}" --timeout 60 >/dev/null ||
    fail "worker stopped serving after a cancellation"
[ "$(metric "$WPORT" 'dllm_request_errors_total{model_name="llada-tiny",code="DEADLINE_EXCEEDED"}')" -eq 2 ] ||
    fail "deadline metric"
[ "$(metric "$WPORT" dllm_dlq_messages_total)" -eq 0 ] || fail "deadlines are not dead letters"
echo "PASS test_deadline"
