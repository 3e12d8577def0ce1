#!/usr/bin/env bash
# sanitize.sh [address|thread] [ctest args...]: builds the whole tree with
# clang and sanitizers, then runs the tests under them.
#   address (default): AddressSanitizer + UndefinedBehaviorSanitizer into
#                      build-asan (shared with fuzz.sh), runs the whole
#                      ctest suite. CI runs this (scripts/test.sh).
#   thread:            -DSIGNET_SANITIZE=thread into build-tsan, runs the
#                      concurrent parts (peer_server, sync hub, datastore,
#                      agent end-to-end and the fault tests).
# Extra arguments go to ctest (e.g. -R regex to narrow the run).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-address}
shift || true

case "$mode" in
  address)
    build_dir=build-asan
    sanitize=address,undefined,fuzzer-no-link
    fuzz=ON
    default_filter=()
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ;;
  thread)
    build_dir=build-tsan
    sanitize=thread
    fuzz=OFF
    default_filter=(-R 'peer_server|sync_hub|sqlite_datastore|agent_e2e|fault_')
    # gRPC, protobuf and abseil from Debian are not instrumented: keep going
    # after a report so one run lists everything; reports are errors below.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:report_signal_unsafe=0}
    ;;
  *)
    echo "usage: $0 [address|thread] [ctest args...]" >&2
    exit 2
    ;;
esac

bash scripts/install-deps.sh
source scripts/clang-tree.sh
configure_clang_tree "$build_dir" "$sanitize" "$fuzz"
cmake --build "$build_dir" -j"$(nproc)"

args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=("${default_filter[@]}"); fi
log="$build_dir/sanitize.log"
status=0
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" --timeout 600 "${args[@]}" 2>&1 |
  tee "$log" || status=$?
if grep -qE '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer|SUMMARY: (Address|Undefined|Thread)Sanitizer)|runtime error:' "$log"; then
  echo "sanitize.sh: sanitizer reports in $log" >&2
  status=1
fi
exit $status
