#!/usr/bin/env bash
# ops/gpu/fetch_deps.sh -- run on the BUILD machine (Debian 12, network to Debian's
# mirrors): downloads the Debian packages the engine and its tests need into .gpudeps/,
# so that a GPU machine without a package manager can unpack them (ops/gpu/env.sh).
#
# The GPU machines have CUDA, CMake, ninja and a compiler but no OpenBLAS, PCRE2, cJSON,
# Check or pkg-config. These are the engine's own dependencies with the worker off
# (-DDLLM_WORKER=OFF): the worker's Kafka/Redis libraries never travel.
#
# Usage: ops/gpu/fetch_deps.sh [DIR]   (default DIR = .gpudeps, ignored by git)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.gpudeps}
mkdir -p "$dir"
pkgs=(
  libopenblas0-pthread libopenblas-pthread-dev libopenblas-dev libgfortran5 libquadmath0
  libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 libpcre2-dev
  libcjson1 libcjson-dev
  check libsubunit0 libsubunit-dev
  pkgconf pkgconf-bin libpkgconf3
  libgomp1
)
(cd "$dir" && apt-get download "${pkgs[@]}")
grep -qx '/.gpudeps/' .git/info/exclude 2>/dev/null || echo '/.gpudeps/' >>.git/info/exclude
ls -1 "$dir"
