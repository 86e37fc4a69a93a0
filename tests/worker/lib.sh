# lib.sh -- shared helpers of the worker integration tests (sourced, not run).
#
# Every test gets its own temporary directory, its own dllm-devbroker (a librdkafka mock
# cluster on loopback), its own consumer group and, when needed, its own redis-server on
# a unix socket. Everything started is registered and killed by pid on exit. Every wait
# is bounded.
#
# Environment (set by CTest, defaults for manual runs): DLLM_BIN_DIR (build/bin),
# DLLM_SOURCE_DIR (the repository).
#
# SPDX-License-Identifier: Apache-2.0

set -euo pipefail

: "${DLLM_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${DLLM_BIN_DIR:=$DLLM_SOURCE_DIR/build-worker/bin}"
BIN=$DLLM_BIN_DIR
T=$(mktemp -d "${TMPDIR:-/tmp}/dllm-worker-test.XXXXXX")
PIDS=()
GROUP="g-$$-$RANDOM"
# tiny generations keep the CPU work small
GEN=(--gen-length 8 --steps 8 --block-length 8)


cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        echo "---- test failed (rc=$rc); logs in $T ----"
        for f in "$T"/*.err; do [ -f "$f" ] && { echo "== $f"; tail -n 30 "$f"; }; done
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap cleanup EXIT

for tool in kcat protoc-c curl; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# a private copy of the shipped model (the trained one, else the random one the CLI falls
# back to): it may be rewritten (retrained) while tests run
for m in llada-tiny llada-tiny-random; do
    if [ -f "$DLLM_SOURCE_DIR/models/$m/config.json" ]; then
        cp -r "$DLLM_SOURCE_DIR/models/$m" "$T/model"
        break
    fi
done
[ -d "$T/model" ] || { echo "FAIL: no shipped model under $DLLM_SOURCE_DIR/models" >&2; exit 1; }

fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_until SECONDS CMD...: polls CMD every 0.2 s until it succeeds or time runs out.
wait_until() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.2
    done
}

# start_broker TOPICS [extra devbroker args]: sets BS (bootstrap) and BROKER_PID; the
# broker reads fault-injection commands from the fifo $T/broker.ctl (use broker_cmd).
start_broker() {
    mkfifo "$T/broker.ctl"
    "$BIN/dllm-devbroker" --topics "$1" "${@:2}" <"$T/broker.ctl" >"$T/broker.out" \
        2>"$T/broker.err" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    exec 9>"$T/broker.ctl" # keep the fifo open for writing
    wait_until 10 test -s "$T/broker.out" || fail "devbroker printed no bootstrap address"
    BS=$(head -n 1 "$T/broker.out")
}

broker_cmd() { echo "$*" >&9; }

# start_worker NAME [worker args]: starts dllm-worker (stderr in $T/NAME.err), waits
# until /readyz answers 200; sets WPID and WPORT.
start_worker() {
    local name=$1; shift
    "$BIN/dllm-worker" --bootstrap "$BS" --group "$GROUP" --http 127.0.0.1:0 \
        --model "$T/model" --model-id llada-tiny --kafka-prop session.timeout.ms=6000 --kafka-prop heartbeat.interval.ms=500 \
        --stats-interval 1000 "$@" >"$T/$name.out" 2>>"$T/$name.err" &
    WPID=$!
    PIDS+=("$WPID")
    wait_until 30 grep -qs 'listening on port' "$T/$name.err" || fail "$name: no http port"
    WPORT=$(grep -o 'listening on port [0-9]*' "$T/$name.err" | tail -n 1 | awk '{print $4}')
    wait_until 60 ready "$WPORT" || fail "$name: not ready within 60 s"
}

ready() { curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }

metric() { # metric PORT NAME_WITH_LABELS_PREFIX -> value (sum over matching series)
    curl -fs "http://127.0.0.1:$1/metrics" | awk -v n="$2" 'index($0, n) == 1 {s += $NF} END {print s + 0}'
}

# encode_request FILE TEXTPROTO: writes the binary GenerateRequest for a text-format message.
encode_request() {
    printf '%s\n' "$2" | protoc-c --encode=dllm.v1.GenerateRequest -I"$DLLM_SOURCE_DIR/proto" \
        dllm/v1/generate.proto >"$1"
}

# decode_response FILE: a binary GenerateResponse as protobuf text format.
decode_response() {
    protoc-c --decode=dllm.v1.GenerateResponse -I"$DLLM_SOURCE_DIR/proto" \
        dllm/v1/generate.proto <"$1"
}

# python client helpers need the generated Python module (protoc --python_out)
need_python() {
    PY=/usr/bin/python3
    "$PY" -c 'import confluent_kafka, google.protobuf' 2>/dev/null ||
        { echo "SKIP: python3-confluent-kafka / python3-protobuf missing"; exit 77; }
    command -v protoc >/dev/null || { echo "SKIP: protoc missing"; exit 77; }
    mkdir -p "$T/py"
    protoc -I"$DLLM_SOURCE_DIR/proto" --python_out="$T/py" dllm/v1/generate.proto
    export PYTHONPATH="$T/py:$DLLM_SOURCE_DIR/ops/clients/python${PYTHONPATH:+:$PYTHONPATH}"
}
