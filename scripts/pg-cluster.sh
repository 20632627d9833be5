#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster of its own, for tests and the cluster
# demo: initdb into a folder, a server on loopback only, trust auth for
# local connections (nothing listens beyond 127.0.0.1), removed by `stop`.
#
#   scripts/pg-cluster.sh start DIR [PORT]   prints the URL (postgresql://...)
#   scripts/pg-cluster.sh stop DIR           stops the server, removes DIR
#   scripts/pg-cluster.sh restart DIR        stops and starts the server, keeps the data
#
# As root the server runs as the `postgres` user (initdb refuses root).
# The URL is also written to DIR/url. A free port is chosen when none is given.
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start|stop|restart DIR [PORT]}
dir=${2:?usage: pg-cluster.sh start|stop|restart DIR [PORT]}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

. "$(dirname "$0")/lib.sh"  # free_port

case "$cmd" in
  start)
    port=${3:-$(free_port)}
    "$0" stop "$dir"  # what an interrupted run left
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_owner "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = on
synchronous_commit = on
shared_buffers = 128MB
log_min_messages = warning
EOF
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    url="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  restart)
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null
    ;;
  *)
    echo "pg-cluster.sh: unknown command '$cmd' (start, stop or restart)" >&2
    exit 2
    ;;
esac
