#!/usr/bin/env bash
# ops/test.sh -- the whole test suite, from a fresh Debian 12 machine.
#
# Installs what it needs (ops/deps.sh test), then:
#   1. release build with warnings as errors, the Kafka worker included (CUDA sources
#      compile when nvcc is present), and every CTest suite: engine, CLI, golden traces,
#      worker integration against dllm-devbroker/kcat/redis-server, Helm chart (GPU suites
#      exit 77 = skipped without a device);
#   2. the tokenizer parity test against the Hugging Face `tokenizers` library (npm);
#   3. the CPU suites again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   4. each libFuzzer target for FUZZ_SECONDS (default 20; longer on demand).
# Environment: JOBS (default: nproc), FUZZ_SECONDS, SKIP_ASAN=1, SKIP_FUZZ=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs="${JOBS:-$(nproc)}"
fuzz_seconds="${FUZZ_SECONDS:-20}"

ops/deps.sh test

echo "== npm ci (tokenizer parity oracle)"
if [[ -f tests/parity/package-lock.json ]]; then
  npm ci --prefix tests/parity --no-audit --no-fund --loglevel=error
fi

echo "== build (release, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLLM_TESTS=ON -DDLLM_WERROR=ON \
      -DDLLM_WORKER=ON >/dev/null
ninja -C build -j "$jobs"
echo "== ctest"
# one BLAS/OpenMP thread per test process: ctest already runs $jobs processes at once, and
# oversubscribed BLAS threads spin (see docs/benchmarks.md)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
ctest --test-dir build --output-on-failure -j "$jobs"

if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  echo "== build + ctest under ASan/UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDLLM_CUDA=OFF \
        -DDLLM_SANITIZE=ON -DDLLM_WERROR=ON -DDLLM_WORKER=ON >/dev/null
  ninja -C build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" \
      -E "tokenizer_parity|helm_chart|install_layout|worker_test_(load|faults|sigkill|rebalance)"
fi

if [[ "${SKIP_FUZZ:-0}" != 1 ]]; then
  echo "== fuzz (${fuzz_seconds}s per target)"
  CC=clang-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DDLLM_CUDA=OFF -DDLLM_FUZZ=ON -DDLLM_WORKER=ON >/dev/null
  ninja -C build-fuzz -j "$jobs" $(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
  tests/run_fuzz.sh "$root/build-fuzz/bin" "$fuzz_seconds"
fi
echo "== all tests passed"
