#!/usr/bin/env bash
# test.sh: installs what is missing, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 300
