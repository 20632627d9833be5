#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test under ctest.
# Exits non-zero on any failure. Extra arguments go to ctest
# (e.g. scripts/test.sh -L unit, or -R CentralTest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 300 "$@"
