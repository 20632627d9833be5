#!/usr/bin/env bash
# Builds the Debian package of p2pshare (CPack; CMakeLists.txt has what
# goes in it) and prints its path.
#
#   scripts/package.sh [--check]
#
# BUILD_DIR (default build-release) and BUILD_TYPE (default Release) name
# the tree it builds and packs, configured for /usr. --check then installs
# the package into a temporary root (dpkg-deb -x: no maintainer scripts run,
# nothing touches this machine), runs each program's --help from there and
# has systemd check the units against that root. scripts/test.sh runs the
# check on its own build.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && check=1
BUILD_DIR=${BUILD_DIR:-build-release}
export BUILD_DIR BUILD_TYPE=${BUILD_TYPE:-Release}
bash scripts/install-deps.sh dpkg-dev systemd
scripts/build.sh -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
out=$(cd "$BUILD_DIR" && cpack -G DEB -B "$PWD/package" 2>&1) || { echo "$out" >&2; exit 1; }
deb=$(ls -t "$BUILD_DIR"/package/p2pshare_*.deb | head -1)
echo "package: $deb"
[ "$check" = 1 ] || exit 0

root=$(mktemp -d /tmp/p2pshare-root-XXXXXX)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
for program in central peer-server peer-client; do
  "$root/usr/bin/$program" --help >/dev/null || { echo "package: $program --help failed" >&2; exit 1; }
done
for f in etc/p2pshare/central.json usr/lib/systemd/system/central.service \
         usr/lib/systemd/system/peer-server@.service usr/share/doc/p2pshare/examples/peer.json; do
  [ -f "$root/$f" ] || { echo "package: /$f is missing" >&2; exit 1; }
done
# The units, as systemd reads them, with the package's binaries (and this
# machine's standard units beside them: targets, slices, sockets).
cp -rn /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
units=$(cd "$root" && systemd-analyze verify --root="$root" \
  /usr/lib/systemd/system/central.service /usr/lib/systemd/system/peer-server@ann.service 2>&1) || {
  echo "package: the systemd units do not verify:" >&2; echo "$units" >&2; exit 1; }
echo "package: installed into a temporary root; central --help, units verified"
echo "package: depends on $(dpkg-deb -f "$deb" Depends)"
