#!/usr/bin/env bash
# The load run: starts a real central in a temp folder and runs load-peers
# against it (defaults: 500 peers x 100 files, 60 s of heartbeats while
# searches run). Extra arguments go to load-peers (e.g. --peers 100
# --seconds 10, the short form ctest runs). Prints load-peers' report and
# central's peak memory and CPU time; exits non-zero on any error.
#
# Environment: P2PSHARE_BIN_DIR=<build dir> skips the install and build.
set -euo pipefail
[ -n "${P2PSHARE_BIN_DIR:-}" ] && P2PSHARE_BIN_DIR=$(cd "$P2PSHARE_BIN_DIR" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
p2p_binaries
CENTRAL=$P2PSHARE_BIN_DIR/central/central
LOAD=$P2PSHARE_BIN_DIR/tests/load-peers

WORK=$(mktemp -d /tmp/p2pshare-load-XXXXXX)
CENTRAL_PID=""
cleanup() {
  [ -n "$CENTRAL_PID" ] && kill -9 "$CENTRAL_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Room for a connection per simulated peer, here and in central. The
# simulated peers all come from 127.0.0.1 but stand for hundreds of hosts:
# the per-address bounds on connections and new accounts are lifted.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$CENTRAL" --listen 127.0.0.1:0 --db "$WORK/central.db" \
  --heartbeat-interval-s 5 --session-ttl-s 15 \
  --max-connections-per-address 1000000 --register-per-minute 0 >"$WORK/central.log" 2>&1 &
CENTRAL_PID=$!
PORT=""
for _ in $(seq 1 400); do
  PORT=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/central.log")
  [ -n "$PORT" ] && break
  kill -0 "$CENTRAL_PID" 2>/dev/null || { cat "$WORK/central.log" >&2; exit 1; }
  sleep 0.05
done
[ -n "$PORT" ] || { echo "load: central did not come up" >&2; cat "$WORK/central.log" >&2; exit 1; }

set +e
"$LOAD" --central "https://127.0.0.1:$PORT" --ca "$WORK/ca/ca.pem" "$@"
rc=$?
set -e
ticks=$(getconf CLK_TCK)
read -r utime stime < <(awk '{print $14, $15}' "/proc/$CENTRAL_PID/stat")
echo "central: peak RSS $(awk '/VmHWM/ {print $2, $3}' "/proc/$CENTRAL_PID/status"), CPU $(( (utime + stime) / ticks )) s, threads $(awk '/Threads/ {print $2}' "/proc/$CENTRAL_PID/status")"
kill -TERM "$CENTRAL_PID"
wait "$CENTRAL_PID" || { echo "load: central exited with $?" >&2; rc=1; }
CENTRAL_PID=""
if grep -E " (error|critical) " "$WORK/central.log" >&2; then rc=1; fi
exit $rc
