#!/usr/bin/env bash
# ops/gpu/run.sh -- the whole GPU-machine run in one command: unpack the carried Debian
# libraries, build the engine (worker off) with the CUDA backend, run the GPU tests,
# compute-sanitizer, and the benchmarks. Logs and tables go to $OUT (the device tool
# brings that folder back) or to build-gpu/out.
#
# Usage (repository root, on the GPU machine, .gpudeps carried):
#   ops/gpu/run.sh [probe] [build] [test] [sanitize] [bench] [torch]   (default: all but probe)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build-gpu/out}
mkdir -p "$OUT"
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(build test sanitize bench torch)
. ops/gpu/env.sh
B=build-gpu
has() { local s; for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
log() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%T)"; }
rc=0

if has probe; then
  log probe
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nvcc --version | tail -2; gcc --version | head -1; cmake --version | head -1
  command -v pkg-config; pkg-config --modversion openblas libcjson libpcre2-8 check
  cat /etc/os-release | head -2; nproc
fi

if has build || has probe; then
  log build
  cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DDLLM_WORKER=OFF -DDLLM_TESTS=ON \
    -DDLLM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=${DLLM_CUDA_ARCH:-90} >"$OUT/cmake.log" 2>&1 \
    || { tail -40 "$OUT/cmake.log"; exit 1; }
  ninja -C $B >"$OUT/build.log" 2>&1 || { grep -E 'error|FAILED' -A3 "$OUT/build.log" | head -60; exit 1; }
  echo "build ok"
fi

if has probe; then
  log probe-tests
  ctest --test-dir $B -j8 -R 'test_(backend_ops|golden|sampler)$' --output-on-failure 2>&1 | tail -8
fi

if has test; then
  log gpu tests
  ctest --test-dir $B -L gpu --output-on-failure 2>&1 | tail -4
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
  $B/bin/test_backend_cuda 2>&1 | tee "$OUT/gpu-tests.log"   # every op's error, printed
fi

if has sanitize; then
  log compute-sanitizer
  for tool in memcheck racecheck; do
    # the op parity case (the end-to-end case repeats the same kernels for minutes)
    CK_RUN_CASE=ops compute-sanitizer --tool $tool --error-exitcode 9 $B/bin/test_backend_cuda \
      >"$OUT/sanitize-$tool.log" 2>&1
    echo "compute-sanitizer $tool: exit $? ($(grep -c 'ERROR SUMMARY: 0' "$OUT/sanitize-$tool.log") clean summaries)"
    tail -3 "$OUT/sanitize-$tool.log"
  done
fi

if has bench; then
  log bench
  bash ops/gpu/bench.sh "$B" 2>&1 | tee "$OUT/bench.log" | tail -60
fi

if has torch; then
  log torch reference
  python3 ops/reference/bench_torch.py 2>&1 | tee "$OUT/torch.log" | tail -20
fi
exit $rc
