#!/usr/bin/env bash
# test.sh: installs what is missing, builds, and runs the whole test suite:
#   1. the release build (gcc, hardened) and every test in it (ctest);
#   2. the .debs and the container image from that tree, run for real with a
#      private dockerd: server, agent and workload containers, the .debs in a
#      fresh container, systemd-analyze verify (scripts/image-test.sh; root);
#   3. the same suite again under AddressSanitizer and UndefinedBehaviorSanitizer
#      in a clang build with -Wthread-safety (scripts/sanitize.sh address);
#   4. every libFuzzer target for 30 s (scripts/fuzz.sh 30), from that tree.
# Each stage prints the tests ctest skipped; under CI=true a skip fails the run
# (scripts/check-skips.sh). Set SIGNET_TEST_QUICK=1 to run step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 300 2>&1 | tee build/ctest.log
bash scripts/check-skips.sh build/ctest.log
echo "test.sh: release suite passed ($((SECONDS - start)) s)" >&2
if [ "${SIGNET_TEST_QUICK:-0}" = 1 ]; then exit 0; fi
bash scripts/image-test.sh build
echo "test.sh: image and package test passed ($((SECONDS - start)) s)" >&2
bash scripts/sanitize.sh address
echo "test.sh: sanitized suite passed ($((SECONDS - start)) s)" >&2
bash scripts/fuzz.sh 30
echo "test.sh: all passed ($((SECONDS - start)) s)" >&2
