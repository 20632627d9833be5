#!/usr/bin/env bash
# p2pshare as a cluster: a PostgreSQL server of its own, three central
# replicas on it, and HAProxy in front of them (round robin, active health
# checks on /healthz); then the demo's story (three peers: search,
# download, upload, logout, eviction) runs through HAProxy, and one replica
# is killed with -9 while the network keeps answering. The cluster keeps
# running afterwards, for peers of your own; `scripts/cluster.sh stop` ends it.
#
#   scripts/cluster.sh            start, run the story, leave it running
#   scripts/cluster.sh --check    start, run the story, stop (what ctest runs)
#   scripts/cluster.sh stop       stop what a previous start left running
#   [BENCH_PEERS=N BENCH_SECONDS=S] scripts/cluster.sh --bench [more load-peers args]
#                                 the cluster benchmark instead of the story:
#                                 10 000 simulated peers (tests/load/load_peers.cc)
#                                 heartbeating every 5 s through HAProxy with
#                                 searches beside them; reports their p50/p99,
#                                 evictions, and PostgreSQL's CPU and writes
#                                 per heartbeat; then stops
#
# Environment: P2PSHARE_BIN_DIR=<build dir> skips the install and build;
# P2PSHARE_CLUSTER_DIR (default /tmp/p2pshare-cluster) holds its state.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DIR=${P2PSHARE_CLUSTER_DIR:-/tmp/p2pshare-cluster}
MODE=${1:-start}
[ $# -gt 0 ] && shift

stop_cluster() {
  if [ -d "$DIR" ]; then
    for pidfile in "$DIR"/*.pid; do
      [ -f "$pidfile" ] || continue
      kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    scripts/pg-cluster.sh stop "$DIR/pg" 2>/dev/null || true
    rm -rf "$DIR"
  fi
}

case "$MODE" in
  stop) stop_cluster; echo "cluster stopped"; exit 0 ;;
  start|--check|--bench) ;;
  *) echo "usage: scripts/cluster.sh [--check|--bench [load-peers args]|stop]" >&2; exit 2 ;;
esac

p2p_binaries
CENTRAL=$P2PSHARE_BIN_DIR/central/central

stop_cluster
mkdir -p "$DIR"
chmod 755 "$DIR"
ok=0
on_exit() {
  if [ "$ok" != 1 ] || [ "$MODE" != start ]; then
    [ "$ok" = 1 ] || { for f in "$DIR"/*.log; do echo "--- $f"; tail -n 15 "$f"; done >&2; }
    stop_cluster
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM


step "PostgreSQL 15: a cluster of its own in $DIR/pg"
DB_URL=$(scripts/pg-cluster.sh start "$DIR/pg")
echo "  $DB_URL"

if [ "$MODE" = --bench ]; then
  # As deployed: heartbeats every 5 s, eviction after 15 s. The simulated
  # peers all come from 127.0.0.1 but stand for thousands of hosts: the
  # per-address bounds are lifted, and passwords are hashed with the
  # smallest allowed PBKDF2 count so 10 000 logins take seconds, not minutes.
  CENTRAL_ARGS=(--heartbeat-interval-s 5 --session-ttl-s 15 --max-connections-per-address 1000000
                --register-per-minute 0 --pbkdf2-iterations 10000 --port-range 1024 65535
                --max-peers-per-address 100000 --log-level warn)
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  step "three central replicas on it (heartbeats every 5 s, eviction after 15 s)"
else
  CENTRAL_ARGS=(--heartbeat-interval-s 1 --session-ttl-s 3)
  step "three central replicas on it (heartbeats every 1 s, eviction after 3 s)"
fi
PORTS=()
for i in 1 2 3; do
  port=$(free_port)
  PORTS+=("$port")
  "$CENTRAL" --listen "127.0.0.1:$port" --db "$DB_URL" --ca-dir "$DIR/ca" \
    --trusted-proxies 127.0.0.2 "${CENTRAL_ARGS[@]}" \
    >"$DIR/central$i.log" 2>&1 &
  echo $! >"$DIR/central$i.pid"
  wait_for 15 curl -sf --cacert "$DIR/ca/ca.pem" "https://127.0.0.1:$port/healthz" -o /dev/null || { echo "replica $i did not start" >&2; exit 1; }
  echo "  replica $i: https://127.0.0.1:$port (pid $(cat "$DIR/central$i.pid"))"
done
echo "  one network CA for all three: $(openssl x509 -noout -fingerprint -sha256 -in "$DIR/ca/ca.pem")"

step "HAProxy in front: round robin, /healthz checked every 500 ms"
HAPROXY_MAXCONN=$(( ($(ulimit -Hn) - 100) / 2 ))
LB_PORT=$(free_port)
{
  cat <<CFG
global
  # every peer keeps a connection open between its heartbeats: HAProxy
  # holds two file descriptors for each (it raises its own file limit up
  # to the hard limit)
  maxconn $HAPROXY_MAXCONN
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend central
  bind 127.0.0.1:$LB_PORT
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
CFG
  for i in 1 2 3; do
    # from 127.0.0.2, with a PROXY v2 header naming the client (the
    # replicas trust that address: --trusted-proxies)
    echo "  server replica$i 127.0.0.1:${PORTS[$((i - 1))]} source 127.0.0.2 send-proxy-v2 check check-ssl verify none inter 500ms fall 2 rise 2"
  done
} >"$DIR/haproxy.cfg"
haproxy -c -q -f "$DIR/haproxy.cfg"
haproxy -db -f "$DIR/haproxy.cfg" >"$DIR/haproxy.log" 2>&1 &
echo $! >"$DIR/haproxy.pid"
URL=https://127.0.0.1:$LB_PORT
healthy() { curl -sf --cacert "$DIR/ca/ca.pem" "$URL/healthz" >/dev/null; }
wait_for 10 healthy || { echo "HAProxy does not answer" >&2; exit 1; }
echo "  $URL"

if [ "$MODE" = --bench ]; then
  PEERS=${BENCH_PEERS:-10000} SECONDS_MEASURED=${BENCH_SECONDS:-60}
  step "$PEERS simulated peers through HAProxy for $SECONDS_MEASURED s (load-peers $*)"
  PSQL=(psql -qAtX "$DB_URL")
  pg_cpu() {  # CPU seconds of every PostgreSQL process so far
    local t=0 pid
    for pid in $(pgrep -u postgres -x postgres); do
      t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
  }
  pg_counts() {
    "${PSQL[@]}" -c "SELECT xact_commit, tup_updated + tup_inserted + tup_deleted,
      pg_current_wal_lsn() - '0/0' FROM pg_stat_database WHERE datname = current_database()"
  }
  SHARED=()
  if [ "$PEERS" -gt $((HAPROXY_MAXCONN - 64)) ]; then
    # Real peers each hold a connection; this machine's file limit cannot
    # give HAProxy that many, so the simulated peers share one per thread
    # (central's work per call is the same).
    SHARED=(--shared-connections)
    echo "  file limit $(ulimit -Hn): HAProxy holds at most $HAPROXY_MAXCONN connections, so the"
    echo "  simulated peers share one connection per sending thread"
  fi
  "$P2PSHARE_BIN_DIR/tests/load-peers" --central "$URL" --ca "$DIR/ca/ca.pem" --peers "$PEERS" \
    --files 10 --seconds "$SECONDS_MEASURED" --search-rate 50 --threads 64 --setup-threads 8 --json \
    --pg-mark "$DIR/pg-mark" "${SHARED[@]}" "$@" >"$DIR/load.json" &
  LOAD_PID=$!
  # load-peers creates $DIR/pg-mark when its heartbeat phase starts
  marked_or_gone() { [ -e "$DIR/pg-mark" ] || ! kill -0 "$LOAD_PID" 2>/dev/null; }
  wait_for 3600 marked_or_gone && [ -e "$DIR/pg-mark" ] || { echo "load-peers never got to its heartbeat phase" >&2; exit 1; }
  cpu0=$(pg_cpu); read -r tx0 tup0 wal0 < <(pg_counts | tr '|' ' ')
  # ... and $DIR/pg-mark.end when it ends, before its peers log out
  ended_or_gone() { [ -e "$DIR/pg-mark.end" ] || ! kill -0 "$LOAD_PID" 2>/dev/null; }
  wait_for $((SECONDS_MEASURED + 600)) ended_or_gone
  cpu1=$(pg_cpu); read -r tx1 tup1 wal1 < <(pg_counts | tr '|' ' ')
  load_rc=0
  wait "$LOAD_PID" || load_rc=$?
  [ -s "$DIR/load.json" ] || { echo "load-peers printed nothing (exit $load_rc)" >&2; exit 1; }
  python3 - "$DIR/load.json" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" "$((tx1 - tx0))" \
    "$((tup1 - tup0))" "$((wal1 - wal0))" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ticks, hz = int(sys.argv[2]), int(sys.argv[3])
tx, tup, wal = (int(x) for x in sys.argv[4:7])
hb = r["heartbeat"]["count"]; s = r["seconds"]
print(f"  peers {r['peers']} (online at the end: {r['online_at_end']}), evictions {r['evictions']};"
      f" peers load-peers itself left silent for over the TTL: {r['late_peers']}")
print(f"  set-up: logins {r['login_phase_s']:.0f} s, indexing {r['index_phase_s']:.0f} s")
for k in ("login", "index", "heartbeat_during_setup", "heartbeat", "search"):
    v = r[k]; print(f"  {k:22s} n={v['count']:7d}  p50 {v['p50_ms']:7.2f} ms  p99 {v['p99_ms']:7.2f} ms  errors {v['errors']}")
cpu = ticks / hz
print(f"  measured phase {s} s: {hb / s:.0f} heartbeats/s")
print(f"  PostgreSQL: {cpu:.1f} CPU-s ({100 * cpu / s:.0f}% of one core), {tx / s:.0f} commits/s,"
      f" {tup / s:.0f} rows written/s, {wal / s / 1024:.0f} KiB WAL/s")
if hb:
    print(f"  per heartbeat: {1e6 * cpu / hb:.0f} µs of PostgreSQL CPU, {wal / hb:.0f} B of WAL")
PY
  [ "$load_rc" -eq 0 ] || { echo "load-peers: FAILED (errors, or peers offline at the end)" >&2; exit 1; }
  ok=1
  exit 0
fi

step "the demo's story, through HAProxy"
P2PSHARE_BIN_DIR=$P2PSHARE_BIN_DIR P2PSHARE_CENTRAL_URL=$URL P2PSHARE_CENTRAL_CA=$DIR/ca/ca.pem \
  P2PSHARE_CENTRAL_LOGS="$DIR/central1.log $DIR/central2.log $DIR/central3.log" \
  bash scripts/demo.sh

step "replica 2 is killed with -9: HAProxy's checks take it out, every call still answers"
victim=$(cat "$DIR/central2.pid")
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
rm "$DIR/central2.pid"
for n in 1 2 3 4 5 6; do
  # one retry at most, as a client would
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca/ca.pem" "$URL/api/v1/stats" ||
         curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca/ca.pem" "$URL/api/v1/stats")
  [ "$code" = 200 ] || { echo "GET /api/v1/stats through HAProxy: $code" >&2; exit 1; }
done
echo "  6 calls through HAProxy: 200 each"

ok=1
if [ "$MODE" = --check ]; then
  step "cluster story finished; stopping"
else
  step "the cluster keeps running"
  cat <<MSG
  central (HAProxy):  $URL
  network CA:         $DIR/ca/ca.pem   (peers: --central-url $URL --central-ca $DIR/ca/ca.pem)
  replicas' logs:     $DIR/central{1,3}.log
  stop it with:       scripts/cluster.sh stop
MSG
fi
