#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test under ctest, then
# builds the Debian package and checks it (scripts/package.sh --check).
# Exits non-zero on any failure. Extra arguments go to ctest
# (e.g. scripts/test.sh -L unit, or -R CentralTest).
#
#   scripts/test.sh --sanitize [address|thread] [ctest args]
# builds into build-address (ASan + UBSan) and build-thread (TSan), or just
# the one named, and runs the suite there; any sanitizer report fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

if [ "${1:-}" = "--sanitize" ]; then
  shift
  kinds=(address thread)
  if [ "${1:-}" = address ] || [ "${1:-}" = thread ]; then kinds=("$1"); shift; fi
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp"
  for kind in "${kinds[@]}"; do
    echo "== sanitizer: $kind"
    BUILD_DIR="build-$kind" scripts/build.sh -DP2P_SANITIZE="$kind"
    (cd "build-$kind" && ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@")
  done
  exit 0
fi

scripts/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)" --timeout 300 "$@")
# The whole suite also builds the Debian package from this tree and checks
# it installed into a temporary root (scripts/package.sh).
if [ $# -eq 0 ]; then
  BUILD_DIR=${BUILD_DIR:-build} BUILD_TYPE=RelWithDebInfo scripts/package.sh --check
fi
