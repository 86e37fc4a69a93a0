#!/usr/bin/env bash
# tests/run_fuzz.sh BIN_DIR SECONDS -- runs every libFuzzer target in BIN_DIR for SECONDS
# each, seeded from tests/fuzz/corpus/<target>/ (read-only: new inputs go to a temp dir).
# A crash, leak or sanitizer report fails the run and leaves the reproducer in the temp dir.
set -euo pipefail
bin="${1:?usage: tests/run_fuzz.sh BIN_DIR SECONDS}"
secs="${2:-20}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
status=0
for f in "$bin"/fuzz_*; do
  [[ -x "$f" ]] || continue
  name=$(basename "$f")
  mkdir -p "$work/$name"
  seeds=()
  [[ -d "$here/fuzz/corpus/$name" ]] && seeds+=("$here/fuzz/corpus/$name")
  echo "fuzz: $name for ${secs}s"
  if ! (cd "$work/$name" && "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
          -print_final_stats=1 "$work/$name" "${seeds[@]}" > "$work/$name.log" 2>&1); then
    echo "fuzz: $name FAILED; log and reproducer in $work/$name" >&2
    tail -40 "$work/$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$work/$name.log" | tail -2
  fi
done
[[ $status -eq 0 ]] && rm -rf "$work"
exit $status
