#!/usr/bin/env bash
# test_prompt_cache.sh -- prompt slots through the whole worker: two requests sharing a
# system prompt (the second is served from the slot: usage.cached_prompt_tokens, identical
# answer), the slot metrics, the Redis directory entry under the key `dllm submit
# --key-by-prefix` puts on the message, a request-named prefix boundary
# (cache.prefix_tokens) on token-id prompts, and a SIGKILLed worker's lease and entries
# expiring in Redis.
#
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    { echo "SKIP: redis-server/redis-cli not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
SOCK=$T/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T" \
    >>"$T/redis.log" 2>&1 &
PIDS+=("$!")
wait_until 10 redis-cli -s "$SOCK" ping >/dev/null 2>&1 || fail "redis-server did not start"

SYS="You are a careful assistant. Answer with one short sentence and nothing else."
submit() {
    "$BIN/dllm" submit --bootstrap "$BS" --system "$SYS" "${GEN[@]}" --cache dllm --kp 4 \
        --use-prompt-slot --key-by-prefix --tokenizer-model "$T/model" --model llada-tiny \
        --timeout 60 --json "$@"
}
field() { python3 -c 'import json,sys; o=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

start_broker dllm.requests:2,dllm.replies:1,dllm.requests.dlq:1
start_worker w1 --redis "unix://$SOCK" --worker-id w1 --prompt-slots 4 --directory-lease-ms 1000

r1=$(submit --prompt "What is two plus two?" --request-id pc-1) || fail "first request"
r2=$(submit --prompt "Name a colour." --request-id pc-2) || fail "second request"
r3=$(submit --prompt "What is two plus two?" --request-id pc-3) || fail "third request"
c1=$(field 'o["usage"]["cached_prompt_tokens"]' <<<"$r1")
c2=$(field 'o["usage"]["cached_prompt_tokens"]' <<<"$r2")
p2=$(field 'o["usage"]["prompt_tokens"]' <<<"$r2")
[ "$c1" -eq 0 ] || fail "the first request built the slot, cached_prompt_tokens=$c1"
[ "$c2" -gt 10 ] && [ "$c2" -lt "$p2" ] || fail "second request: cached $c2 of $p2 prompt tokens"
# the slot is a function of its key: a hit answers exactly as the build did
[ "$(field 'o["text"]' <<<"$r1")" = "$(field 'o["text"]' <<<"$r3")" ] ||
    fail "the same request answered differently on a slot hit"

m() { metric "$WPORT" "$1"; }
wait_until 10 bash -c "[ \"\$(curl -fs http://127.0.0.1:$WPORT/metrics | awk '/^dllm_prefix_cache_hits_total/ {print \$NF}')\" = $((2 * c2)) ]" ||
    fail "dllm_prefix_cache_hits_total != $((2 * c2))"
[ "$(m dllm_prefix_cache_queries_total)" -eq $((3 * c2)) ] || fail "queries != 3 prefixes"
[ "$(m dllm_slot_builds_total)" -eq 1 ] || fail "builds != 1"
[ "$(m dllm_slots_total)" -eq 4 ] || fail "slots_total != 4"
[ "$(m dllm_slots_used)" -eq 1 ] || fail "slots_used != 1"

# the directory: one entry for w1 under the key the producer used for the messages
wait_until 10 bash -c "[ -n \"\$(redis-cli -s '$SOCK' --scan --pattern 'dllm:pc:slot:*')\" ]" ||
    fail "no directory entry in Redis"
skey=$(redis-cli -s "$SOCK" --scan --pattern 'dllm:pc:slot:*' | head -n 1)
hex=${skey#dllm:pc:slot:}
[ "$(redis-cli -s "$SOCK" hexists "$skey" w1)" = 1 ] || fail "entry does not name w1"
[ "$(redis-cli -s "$SOCK" get dllm:pc:lease:w1)" = "$(redis-cli -s "$SOCK" hget "$skey" w1 | cut -d: -f1)" ] ||
    fail "the entry does not carry the lease nonce"
keys=$(kcat -C -b "$BS" -t dllm.requests -o beginning -e -q -f '%k\n' | sort -u)
[ "$keys" = "$hex" ] || fail "message keys ($keys) != the slot's prefix key ($hex)"
# ... and the independent Python implementation computes the same key from the token ids
ids=$("$BIN/dllm" tokenize --model "$T/model" --chat --system "$SYS" --text "Name a colour." --json)
pykey=$(python3 - "$ids" "$T/model/tokenizer.json" "$DLLM_SOURCE_DIR/ops/clients" <<'PY'
import hashlib, json, sys
sys.path.insert(0, sys.argv[3])
import prefix_key
ids = json.loads(sys.argv[1])["ids"]
tok = open(sys.argv[2], "rb").read()
eot = next(t["id"] for t in json.loads(tok)["added_tokens"] if t["content"] == "<|eot_id|>")
print(prefix_key.prefix_key(model_id="llada-tiny", model_revision="",
      tokenizer_sha256_hex=hashlib.sha256(tok).hexdigest(), dtype="f32", tp_size=1,
      policy="dllm", kp=4, kr=7, rho=0.25, layer0_refresh=1, cfg_interval=0, salt="",
      tokens=ids[:ids.index(eot) + 1]))
PY
)
[ "$pykey" = "$hex" ] || fail "Python prefix key $pykey != the worker's $hex"

# a request-named boundary (cache.prefix_tokens) on token-id prompts that share their first
# 24 ids: the second is served 24 rows from the slot the first built, and its message key
# is the prefix key of exactly those 24 ids (the Python implementation agrees)
base=$("$BIN/dllm" tokenize --model "$T/model" --text "$SYS Then say which colour the sky is." --json |
       python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
head24=$(cut -d, -f1-24 <<<"$base")
[ "$(tr , '\n' <<<"$base" | wc -l)" -gt 28 ] || fail "the test prompt is shorter than 29 tokens"
sid() {
    "$BIN/dllm" submit --bootstrap "$BS" "${GEN[@]}" --cache dllm --kp 4 --use-prompt-slot \
        --prefix-tokens 24 --key-by-prefix --tokenizer-model "$T/model" --model llada-tiny \
        --timeout 60 --json "$@"
}
r4=$(sid --prompt-ids "$base" --request-id pc-4) || fail "token-id request with a named prefix"
r5=$(sid --prompt-ids "$head24,$(cut -d, -f27- <<<"$base")" --request-id pc-5) ||
    fail "second token-id request with a named prefix"
[ "$(field 'o["usage"]["cached_prompt_tokens"]' <<<"$r4")" -eq 0 ] || fail "pc-4 did not build"
[ "$(field 'o["usage"]["cached_prompt_tokens"]' <<<"$r5")" -eq 24 ] ||
    fail "pc-5: cached $(field 'o["usage"]["cached_prompt_tokens"]' <<<"$r5") rows, want 24"
k24=$(kcat -C -b "$BS" -t dllm.requests -o beginning -e -q -f '%k\n' | sort -u | grep -v "^$hex\$")
[ "$(wc -l <<<"$k24")" -eq 1 ] || fail "the two named-prefix requests got different keys: $k24"
pykey24=$(python3 - "$head24" "$T/model/tokenizer.json" "$DLLM_SOURCE_DIR/ops/clients" <<'PY'
import hashlib, sys
sys.path.insert(0, sys.argv[3])
import prefix_key
print(prefix_key.prefix_key(model_id="llada-tiny", model_revision="",
      tokenizer_sha256_hex=hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest(),
      dtype="f32", tp_size=1, policy="dllm", kp=4, kr=7, rho=0.25, layer0_refresh=1,
      cfg_interval=0, salt="", tokens=[int(t) for t in sys.argv[1].split(",")]))
PY
)
[ "$pykey24" = "$k24" ] || fail "Python key of the 24-token prefix $pykey24 != message key $k24"
wait_until 10 bash -c "redis-cli -s '$SOCK' hexists 'dllm:pc:slot:$k24' w1 | grep -qx 1" ||
    fail "no directory entry for the named prefix"
# a named prefix longer than the prompt: an INVALID_ARGUMENT reply from the worker (no
# --key-by-prefix, which would refuse it before sending), and a usage error from submit
set +e
bad=$("$BIN/dllm" submit --bootstrap "$BS" "${GEN[@]}" --use-prompt-slot --prefix-tokens 4000 \
      --prompt "Name a colour." --request-id pc-6 --timeout 60 --json 2>&1)
rc=$?
"$BIN/dllm" submit --bootstrap "$BS" --prefix-tokens 4 --prompt x --timeout 5 2>"$T/usage.err"
urc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "INVALID_ARGUMENT" <<<"$bad" && grep -q "exceeds the prompt" <<<"$bad" ||
    fail "an over-long prefix_tokens: exit $rc, reply $bad"
[ "$urc" -eq 2 ] && grep -q "use-prompt-slot" "$T/usage.err" ||
    fail "--prefix-tokens without --use-prompt-slot: exit $urc"

# SIGKILL: nothing is deleted, everything expires with the lease (1 s)
kill -9 "$WPID"
wait_until 10 bash -c "[ \"\$(redis-cli -s '$SOCK' exists dllm:pc:lease:w1 '$skey')\" = 0 ]" ||
    fail "the killed worker's lease/entries did not expire"
echo "PASS test_prompt_cache"
