#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...]: builds the libFuzzer targets of fuzz/ with
# clang (-fsanitize=fuzzer-no-link,address,undefined on the whole tree) in
# build-asan (the tree sanitize.sh tests in), then runs each target (default:
# all; as many at once as there are cores) for SECONDS (default 30) on a copy
# of its seed corpus (fuzz/corpus/<target>/), with a fixed seed so a run can
# be repeated. Crash reproducers go to fuzz/crashes/<target>/; exits non-zero
# if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
build_dir=build-asan

bash scripts/install-deps.sh
source scripts/clang-tree.sh
configure_clang_tree "$build_dir" address,undefined,fuzzer-no-link ON

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in fuzz/*.cc; do targets+=("$(basename "$src" .cc)"); done
fi
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_one() {  # run_one TARGET: exit status 0 when it ran without a crash
  local t=$1
  local work="$build_dir/fuzz-work/$t" crashes="fuzz/crashes/$t"
  rm -rf "$work"
  mkdir -p "$work" "$crashes"
  if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$work/"; fi
  local status=0
  "$build_dir/fuzz/fuzz_$t" -seed=1 -max_total_time="$seconds" -max_len=16384 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$work" >"$build_dir/fuzz-work/$t.log" 2>&1 || status=$?
  rmdir "$crashes" 2>/dev/null || true
  return $status
}

mkdir -p "$build_dir/fuzz-work"
echo "fuzz.sh: ${#targets[@]} targets for ${seconds}s each, $(nproc) at a time" >&2
declare -A pids=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  run_one "$t" &
  pids[$t]=$!
done
failed=()
for t in "${targets[@]}"; do
  if wait "${pids[$t]}"; then
    echo "fuzz.sh: $t ok: $(grep -E '^stat::(number_of_executed_units|new_units_added)' \
      "$build_dir/fuzz-work/$t.log" | tr '\n' ' ')" >&2
  else
    echo "fuzz.sh: $t FAILED (log: $build_dir/fuzz-work/$t.log, artifacts: fuzz/crashes/$t/)" >&2
    tail -40 "$build_dir/fuzz-work/$t.log" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: crashed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds}s without a crash" >&2
