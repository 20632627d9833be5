#!/usr/bin/env bash
# Fuzzes with libFuzzer (clang, ASan + UBSan): builds build-fuzz/ and runs
# each target for SECONDS (default 60), one after another.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: http_api http_framing names config peer_service
#
# The working corpus grows in build-fuzz/corpus/<target>, seeded from
# tests/fuzz/corpus/<target>. A crash is saved in build-fuzz/crashes/<target>/
# and the script exits 1; copy the input into tests/fuzz/corpus/<target>/ once
# fixed, and the fuzz_replay_<target> ctest keeps it as a regression test.
# Prints, per target, the executions and the coverage (edges, features).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(http_api http_framing names config peer_service)

bash scripts/install-deps.sh clang libclang-rt-14-dev  # libFuzzer's runtime

BUILD=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2P_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]/#/fuzz_}"

status=0
for t in "${TARGETS[@]}"; do
  corpus="$BUILD/corpus/$t"
  crashes="$BUILD/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  log="$BUILD/fuzz-$t.log"
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s (log $log)"
  set +e
  "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
      -timeout=10 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$crashes/" \
      "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  units=$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  echo "fuzz: $t: ${execs} executions, coverage ${cov:-?} edges / ${ft:-?} features, corpus ${units:-?}"
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FOUND A CRASH (exit $rc); inputs in $crashes:" >&2
    ls -1 "$crashes" >&2
    grep -m5 -E 'ERROR|BUG|runtime error' "$log" >&2 || true
    status=1
  fi
done
exit $status
