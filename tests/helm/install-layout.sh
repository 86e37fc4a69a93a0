#!/usr/bin/env bash
# tests/helm/install-layout.sh BUILD_DIR -- the install tree that deploy/Dockerfile copies
# into the image is the one the Helm chart expects (CTest: install_layout).
#   - `cmake --install BUILD_DIR --prefix TMP` installs bin/dllm, bin/dllm-worker when the
#     worker is built (DLLM_WORKER=ON), and every model of models/ under share/dllm/models;
#   - the installed CLI finds its bundled model by itself (bin/../share/dllm/models);
#   - the Dockerfile installs with --prefix P, and the chart's defaults use the same P:
#     worker.command = P/bin/dllm-worker, model.bundled.prefix = P, and the bundled model
#     name is one the install provides.
set -euo pipefail
build="${1:?usage: install-layout.sh BUILD_DIR}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
values="$root/deploy/helm/dllm-worker/values.yaml"
dockerfile="$root/deploy/Dockerfile"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

cmake --install "$build" --prefix "$tmp" >/dev/null
[[ -x "$tmp/bin/dllm" ]] || fail "bin/dllm not installed"
if [[ -x "$build/bin/dllm-worker" ]]; then
  [[ -x "$tmp/bin/dllm-worker" ]] || fail "bin/dllm-worker built but not installed"
fi
for m in "$root"/models/*/; do
  name="$(basename "$m")"
  [[ -f "$m/config.json" ]] || continue
  [[ -f "$tmp/share/dllm/models/$name/config.json" ]] || fail "model $name not installed under share/dllm/models"
done
if ! "$tmp/bin/dllm" inspect --json >"$tmp/inspect.json" 2>"$tmp/inspect.err"; then
  fail "installed dllm does not find its bundled model:"; cat "$tmp/inspect.err"
fi

prefix="$(sed -n 's/.*cmake --install build --prefix \([^ ]*\).*/\1/p' "$dockerfile" | head -n 1)"
[[ -n "$prefix" ]] || fail "deploy/Dockerfile: no 'cmake --install build --prefix P'"
grep -q "^COPY --from=build $prefix $prefix\$" "$dockerfile" || fail "deploy/Dockerfile does not copy $prefix into the runtime stage"
grep -q "^ENTRYPOINT \[\"$prefix/bin/dllm-worker\"\]" "$dockerfile" || fail "deploy/Dockerfile ENTRYPOINT is not $prefix/bin/dllm-worker"
grep -q "^  command: $prefix/bin/dllm-worker\$" "$values" || fail "values.yaml worker.command is not $prefix/bin/dllm-worker"
grep -q "^    prefix: $prefix\$" "$values" || fail "values.yaml model.bundled.prefix is not $prefix"
bundled="$(sed -n '/^  bundled:/,/^[^ ]/s/^    name: //p' "$values")"
[[ -n "$bundled" && -f "$tmp/share/dllm/models/$bundled/config.json" ]] \
  || fail "values.yaml model.bundled.name '$bundled' is not an installed model"

if ((fails)); then echo "install layout: $fails failure(s)"; exit 1; fi
echo "install layout: prefix $prefix, bundled model $bundled: ok"
