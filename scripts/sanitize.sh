#!/usr/bin/env bash
# sanitize.sh [address|thread] [ctest args...]: builds the whole tree with
# clang and sanitizers, then runs the tests under them.
#   address (default): AddressSanitizer + UndefinedBehaviorSanitizer into
#                      build-asan (shared with fuzz.sh), runs the whole
#                      ctest suite. CI runs this (scripts/test.sh).
#   thread:            -DSIGNET_SANITIZE=thread into build-tsan, runs the
#                      concurrent parts (the labels below), selected by
#                      test binary (ctest label, see test/CMakeLists.txt).
#                      Every process, the servers and agents the tests spawn
#                      included, writes its reports to build-tsan/tsan-reports;
#                      scripts/tsan.supp lists the suppressed library reports.
# Extra arguments go to ctest (e.g. -R regex to narrow the run). A selection
# that matches no test is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-address}
shift || true

case "$mode" in
  address)
    build_dir=build-asan
    sanitize=address,undefined,fuzzer-no-link
    fuzz=ON
    # Left out: the tests that bound a daemon's resident memory (RSS after a
    # flood, the JWT cache's bytes). ASan's allocator keeps freed memory in
    # quarantine and never hands it back (malloc_trim does nothing there), so
    # an RSS bound says nothing under it; the release suite runs them.
    default_filter=(-E '^(AgentFloodTest\.(MemoryReturnsAfterFlood|JwtCacheIsBoundedByBytes)|PreauthFloodTest\.FloodOfOversizedAttestsIsRefusedAndLeavesRssBounded)$')
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ;;
  thread)
    build_dir=build-tsan
    sanitize=thread
    fuzz=OFF
    # Test binaries (ctest labels) with concurrency: the unix socket server,
    # sync hub, datastore, work queue, CA and batch pool (parallel signing);
    # the Workload API handler and the client library's sources and
    # connection (many streams, watcher threads); and the end-to-end, fault,
    # CA rotation, hostile workload and client tests, which run the real
    # server, agent, helper and examples under TSan.
    labels=(common_peer_server server_sync_hub server_sqlite_datastore server_work_queue
      server_ca_test server_batch_pool agent_workload_handler client_x509_source
      client_jwt_source client_bundle_source client_workload_conn integration_agent_e2e
      integration_fault_ integration_server_rotation integration_hostile_workload
      integration_client_e2e)
    # Left out: ConnectionFloodLeavesNoDescriptors counts the agent's open
    # descriptors, and TSan keeps two pipes to llvm-symbolizer open from the
    # first report it symbolizes (suppressed ones included); the release and
    # ASan suites run it.
    default_filter=(-L "$(IFS='|'; echo "${labels[*]}")"
      -E '^HostileWorkloadTest\.ConnectionFloodLeavesNoDescriptors$')
    # Keep going after a report so one run lists everything; reports are
    # errors below. Test binaries hand the servers and agents they spawn
    # stderr files they delete, so every process logs its reports to
    # report_dir instead (world-writable: some children run as other uids).
    report_dir="$PWD/$build_dir/tsan-reports"
    rm -rf "$report_dir"
    mkdir -p "$report_dir"
    chmod 1777 "$report_dir"
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:report_signal_unsafe=0:suppressions=$PWD/scripts/tsan.supp:log_path=$report_dir/tsan}
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
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j"$(nproc)" --timeout 600 \
  "${args[@]}" 2>&1 | tee "$log" || status=$?
bash scripts/check-skips.sh "$log" || status=1
if [ "$mode" = thread ] && compgen -G "$report_dir/tsan.*" >/dev/null; then
  for f in "$report_dir"/tsan.*; do
    echo "== $f"
    cat "$f"
  done | tee -a "$log"
fi
if grep -qE '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer|SUMMARY: (Address|Undefined|Thread)Sanitizer)|runtime error:' "$log"; then
  echo "sanitize.sh: sanitizer reports in $log" >&2
  status=1
fi
exit $status
