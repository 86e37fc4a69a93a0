#!/usr/bin/env bash
# ops/deps.sh -- installs the Debian packages dllm needs to build and test, if missing.
#
# Usage: ops/deps.sh [build|test|reference]
#   build      compiler, CMake, libraries of the engine, CLI and Kafka worker, redis-server
#              (default)
#   test       build + Check, clang/libFuzzer, kcat and the Python Kafka client for the worker
#              tests, Node.js for the tokenizer parity and chart tests
#   reference  test + PyTorch for ops/reference (only to regenerate golden data)
# Runs apt-get only when a package is missing (so it is quick on a prepared machine);
# needs root for that (or sudo, used when present).
set -euo pipefail

what="${1:-build}"
pkgs=(build-essential cmake ninja-build pkg-config libpcre2-dev libcjson-dev libopenblas-dev python3
      libssl-dev librdkafka-dev libprotobuf-c-dev protobuf-c-compiler libhiredis-dev libmicrohttpd-dev
      redis-server curl)
case "$what" in
  build) ;;
  test) pkgs+=(check clang-14 libclang-rt-14-dev kcat python3-confluent-kafka python3-protobuf
              protobuf-compiler) ;;
  reference) pkgs+=(check clang-14 libclang-rt-14-dev python3-torch python3-numpy) ;;
  *) echo "usage: ops/deps.sh [build|test|reference]" >&2; exit 2 ;;
esac
if [[ "$what" != build ]] && ! command -v node >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ops/deps.sh: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
