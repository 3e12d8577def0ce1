#!/usr/bin/env bash
# check-skips.sh LOG: lists the tests that ctest reported as skipped in LOG
# (ctest counts a skip as a pass). Under CI=true any skip is an error: CI runs
# as root on a machine with every package the tests need, so a skipped test is
# a check that silently did not happen.
set -euo pipefail
log=$1
skipped=$(grep -E '^[[:space:]]*[0-9]+ - .* \(Skipped\)$' "$log" | sed -E 's/^[[:space:]]*[0-9]+ - (.*) \(Skipped\)$/\1/' | sort -u || true)
if [ -z "$skipped" ]; then
  echo "check-skips: no test skipped ($log)" >&2
  exit 0
fi
count=$(printf '%s\n' "$skipped" | wc -l)
echo "check-skips: $count test(s) skipped ($log):" >&2
printf '  %s\n' $skipped >&2
if [ "${CI:-}" = true ]; then
  echo "check-skips: CI=true and tests were skipped; a skip under CI hides a missing check" >&2
  exit 1
fi
