#!/usr/bin/env bash
# test_python_client.sh -- the Python client example (ops/clients/python/dllm_client.py,
# confluent-kafka + protobuf) against dllm-devbroker and a worker: one request from the
# command line, then the library with explicit zeros, metadata and a batch of requests.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
need_python
CLIENT=$DLLM_SOURCE_DIR/ops/clients/python/dllm_client.py

start_broker dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1
start_worker w1
timeout 90 "$PY" "$CLIENT" --bootstrap "$BS" --prompt "What is 2+2?" --gen-length 8 \
    --steps 8 --block-length 8 --temperature 0 --seed 0 >"$T/cli.json" || fail "client exit $?"
grep -q '"status": "ok"' "$T/cli.json" || fail "$(cat "$T/cli.json")"
timeout 120 "$PY" - "$BS" <<'PYEOF' || fail "library use failed"
import sys
from dllm_client import DllmClient, response_to_dict
with DllmClient(sys.argv[1]) as c:
    r = response_to_dict(c.generate("Hi", gen_length=8, steps=8, block_length=8,
                                    temperature=0.0, seed=0, metadata={"k": "v"}))
    assert r["status"] == "ok" and r["metadata"] == {"k": "v"}, r
    ids = [c.send(prompt="q%d" % i, gen_length=8, steps=8, block_length=8) for i in range(5)]
    got = c.wait(ids, timeout=90)
    assert set(got) == set(ids), (len(got), ids)
    bad = response_to_dict(c.generate("Hi", gen_length=8, steps=0, block_length=8))
    assert bad["status"] == "error" and bad["error"]["code"] == "ERROR_CODE_INVALID_ARGUMENT", bad
print("library ok")
PYEOF
echo "PASS test_python_client"
