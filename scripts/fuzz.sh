#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...]: builds the libFuzzer targets of fuzz/ with
# clang (-fsanitize=fuzzer-no-link,address,undefined on the whole tree) in
# build-fuzz, then runs each target (default: all) for SECONDS (default 30)
# on a copy of its seed corpus (fuzz/corpus/<target>/). Crash reproducers go
# to fuzz/crashes/<target>/; exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
build_dir=build-fuzz

bash scripts/install-deps.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIGNET_BUILD_TESTS=OFF -DSIGNET_FUZZ=ON \
    -DSIGNET_SANITIZE=fuzzer-no-link,address,undefined \
    -DCMAKE_C_FLAGS=-fno-sanitize-recover=undefined \
    -DCMAKE_CXX_FLAGS=-fno-sanitize-recover=undefined >/dev/null
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in fuzz/*.cc; do targets+=("$(basename "$src" .cc)"); done
fi
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  work="$build_dir/fuzz-work/$t"
  crashes="fuzz/crashes/$t"
  rm -rf "$work"
  mkdir -p "$work" "$crashes"
  if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$work/"; fi
  echo "fuzz.sh: $t for ${seconds}s" >&2
  if ! "$build_dir/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
      "$work" >"$build_dir/fuzz-work/$t.log" 2>&1; then
    echo "fuzz.sh: $t FAILED (log: $build_dir/fuzz-work/$t.log, artifacts: $crashes/)" >&2
    tail -40 "$build_dir/fuzz-work/$t.log" >&2
    failed+=("$t")
  else
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$build_dir/fuzz-work/$t.log" |
      tr '\n' ' ' >&2
    echo >&2
  fi
  rmdir "$crashes" 2>/dev/null || true
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: crashed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds}s without a crash" >&2
