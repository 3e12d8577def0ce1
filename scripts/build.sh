#!/usr/bin/env bash
# build.sh [BUILD_DIR] [extra cmake args...]: installs missing Debian packages,
# then configures and builds Signet (all binaries and tests) with ccache.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true

bash scripts/install-deps.sh

export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)"
