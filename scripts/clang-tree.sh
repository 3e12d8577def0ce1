# clang-tree.sh (sourced by sanitize.sh and fuzz.sh): configures the clang
# tree "$build_dir" once. address mode: the whole project with AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage instrumentation
# (fuzzer-no-link), tests and fuzz targets both built, so one compile serves
# the sanitized test run and the fuzzers. thread mode: ThreadSanitizer, tests.
# -O1 with line tables keeps compiling fast and reports symbolized. The
# thread tree adds -fdebug-info-for-profiling: linkage names in the line
# tables, so inlined frames are reported with qualified names
# (grpc::internal::CallbackWithSuccessTag::Set, not Set), which is what
# scripts/tsan.supp matches.
configure_clang_tree() {  # configure_clang_tree BUILD_DIR SANITIZERS FUZZ(ON|OFF)
  local dir=$1 sanitize=$2 fuzz=$3
  local flags="-O1 -gline-tables-only -DNDEBUG"
  if [ "$sanitize" = thread ]; then flags="$flags -fdebug-info-for-profiling"; fi
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
  local generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$dir" "${generator[@]}" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
      -DSIGNET_SANITIZE="$sanitize" -DSIGNET_FUZZ="$fuzz" \
      -DCMAKE_C_FLAGS=-fno-sanitize-recover=undefined \
      -DCMAKE_CXX_FLAGS=-fno-sanitize-recover=undefined >/dev/null
  fi
}
