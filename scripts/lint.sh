#!/usr/bin/env bash
# Checks the product code (central/, common/, pserver/, pclient/) for
# functions over 80 lines with clang-tidy's readability-function-size, on
# the compile commands of build/ (scripts/build.sh writes them). Exits
# non-zero and lists the functions when there are any. Takes 1-3 minutes,
# so it is not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[ -f "$BUILD_DIR/compile_commands.json" ] || scripts/build.sh >/dev/null
command -v clang-tidy >/dev/null || scripts/install-deps.sh clang-tidy
config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 80}]}'
found=$(git ls-files 'central/*.cc' 'central/*.cpp' 'common/*.cc' 'pserver/*.cc' 'pserver/*.cpp' \
          'pclient/*.cc' 'pclient/*.cpp' |
        xargs -P "$(nproc)" -n 4 clang-tidy -p "$BUILD_DIR" --quiet \
          --checks='-*,readability-function-size' --config="$config" 2>/dev/null |
        grep -A3 'exceeds recommended size' |
        grep -oE "^[^ ]+:[0-9]+:[0-9]+: warning: function '[^']+'|[0-9]+ lines including" |
        paste -d' ' - - || true)
if [ -n "$found" ]; then
  echo "functions over 80 lines:"
  echo "$found"
  exit 1
fi
echo "lint: no function over 80 lines"
