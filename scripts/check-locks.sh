#!/usr/bin/env bash
# Builds the product code (central/, common/, pserver/, pclient/ and the
# three programs) with clang and -Wthread-safety -Werror
# (-DP2P_THREAD_SAFETY=ON), into build-locks/: every GUARDED_BY, REQUIRES
# and EXCLUDES of common/thread_annotations.h is checked, and a broken one
# fails the build. Unoptimised, so it takes a few minutes; CI runs it
# (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-locks}
command -v clang++ >/dev/null || bash scripts/install-deps.sh clang
CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DP2P_THREAD_SAFETY=ON \
  -DCMAKE_CXX_FLAGS_DEBUG="-O0" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target central peer-server peer-client
echo "check-locks: clang -Wthread-safety -Werror: no lock misused"
