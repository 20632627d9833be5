#!/usr/bin/env bash
# The benchmarks: builds in Release (build-release/), starts what it needs
# on loopback, runs each measurement beside a reference measured in the
# same run, and prints one table: figure, ours, reference, ratio, target,
# held. Run by hand (never under ctest): absolute times on shared machines
# drift, ratios against the same-run reference are what to compare.
#
#   scripts/bench.sh [search] [directory] [transfer] [startup] [relay]   default: all
#   BENCH_BASE_CENTRAL=/path/to/central scripts/bench.sh compare
#   scripts/bench.sh realistic     the realistic-shares step of directory alone
#   BENCH_BASE_BIN=../base/build-release scripts/bench.sh realistic-compare
#                                  that step for two builds side by side
#
# Parts:
#   search     central's SearchIndex alone at 10k, 100k, 1M files of
#              realistic shares (bench/shares.h): the realistic mix and each
#              kind of query in it, computed afresh (no reply cache)
#   directory  a real central with 1M files from 10 000 peers: ingest over
#              HTTP, memory, wrk on search and heartbeat vs /healthz, over
#              plain HTTP and then over HTTPS (central's default) vs HTTPS
#              /healthz; then a fresh central with 1M files of realistic
#              shares from 400 peers: ingest, memory, and wrk replaying the
#              realistic query stream (all kinds mixed, then each kind
#              alone) vs /healthz
#   transfer   a 1 GiB file (BENCH_FILE_MIB) between two peers on loopback
#              (mutual TLS, as peers always talk) vs curl fetching it from
#              nginx over HTTPS (its own certificate; sendfile off, as TLS
#              needs) and over plain HTTP (sendfile on): download to disk,
#              verify-only, upload; then a 4 GiB file
#              (BENCH_MEMORY_MIB) each way for the peak memory of both
#              peer programs
#   compare    one central on SQLite before and after a change, side by side:
#              BENCH_BASE_CENTRAL names the other build's `central` binary
#              (its seed-accounts beside it, in ../bench); each binary on a
#              database of 1M files from 10 000 peers of its own (the schemas
#              may differ), in turn, twice (plain HTTP), gets the directory rows below
#              (heartbeat, searches, /stats, each vs its own /healthz)
#   relay      a 512 MiB file (BENCH_RELAY_MIB) verify-only from a peer
#              reached directly and from one nobody reaches, through
#              central's relay, side by side; central's CPU per GiB relayed
#   startup    a shared folder of 10 000 files / 2 GiB: the peer-server's
#              catalog with a cold and a warm hash cache vs sha256sum and
#              cat over the same files (and from disk, when the page cache
#              can be dropped); then a real peer-server start until
#              central lists all its files
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh  # free_port
PARTS=("$@")
[ ${#PARTS[@]} -gt 0 ] || PARTS=(search directory transfer startup relay)
RUNS=${BENCH_RUNS:-3}          # wrk runs per figure (median taken)
WRK_SECONDS=${BENCH_WRK_SECONDS:-5}

bash scripts/install-deps.sh wrk python3 nginx time openssl
# BENCH_BIN: the build folder of another tree (another commit's
# build-release), whose programs run instead, to set two builds side by side
# (e.g. BENCH_BIN=../base/build-release scripts/bench.sh transfer, then
# scripts/bench.sh transfer).
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$(cd "$BENCH_BIN" && pwd)
else
  BUILD_DIR=build-release BUILD_TYPE=Release scripts/build.sh >/dev/null
  BIN=$ROOT/build-release
fi

WORK=$(mktemp -d /tmp/p2pshare-bench-XXXXXX)
PIDS=()
cleanup() {
  # TERM first: nginx's master takes its workers with it (-9 would orphan them).
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
ROWS=$WORK/rows.tsv
: >"$ROWS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# row FIGURE OURS REFERENCE TARGET HELD(yes/no/-)
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }
# ratio A B: A/B with two decimals, or "-"
ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print('%.2f' % (float(a)/float(b)) if b not in ('-','0') else '-')" "$1" "$2"; }
held() { python3 -c "import sys; print('yes' if eval(sys.argv[1]) else 'NO')" "$1"; }
median() { python3 -c "import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
# elapsed_since T0: seconds since T0 (from `date +%s.%N`)
elapsed_since() { python3 -c "import sys, time; print(time.time() - float(sys.argv[1]))" "$1"; }

# wrk_run URL [lua]: prints "REQ_PER_S P99_MS"
wrk_run() {
  local out
  if [ -n "${2:-}" ]; then
    out=$(wrk -t2 -c64 -d"${WRK_SECONDS}s" --latency -s "$2" "$1")
  else
    out=$(wrk -t2 -c64 -d"${WRK_SECONDS}s" --latency "$1")
  fi
  if grep -q "Non-2xx" <<<"$out"; then echo "bench: wrk saw errors on $1" >&2; echo "$out" >&2; exit 1; fi
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
  echo "$rps $p99"
}

part_search() {
  echo "== search: SearchIndex alone at 10k, 100k, 1M files of realistic shares" >&2
  "$BIN/bench/search-bench" >"$WORK/search.jsonl"
  python3 - "$WORK/search.jsonl" >>"$ROWS" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    n = r["files"]
    label = f"{round(n / 1000)}k" if n < 1000000 else f"{n // 1000000}M"
    big = n >= 1000000
    u = r["mix"]
    print(f"search, realistic mix computed afresh, {label} files: p50 / p99 (ms)\t{u['p50_ms']:.3f} / {u['p99_ms']:.2f}\t-\t-\t-\t-")
    w = r["worst_kind_p99_ms"]
    print(f"  slowest kind's p99, afresh (ms)\t{w:.2f}\t-\t-\t{'< 20' if big else '-'}\t{('yes' if w < 20 else 'NO') if big else '-'}")
    if big:
        for kind, k in r["kinds"].items():
            print(f"    {kind}: p50 / p99 (ms), entries checked, matches counted\t{k['p50_ms']:.3f} / {k['p99_ms']:.2f}, {k['mean_examined']:.0f}, {k['mean_total']:.0f}\t-\t-\t-\t-")
    print(f"  index build, {label} files ({r['distinct']} distinct) in memory (s)\t{r['ingest_s']:.2f}\t-\t-\t-\t-")
    print(f"  index memory, {label} files (MiB)\t{r['index_mib']:.0f}\t-\t-\t-\t-")
EOF
}

# index_peers PORT DIR: 10 000 simulated peers with 100 files each log in
# to the plain-HTTP central at PORT and stay online; DIR/ingest.json has
# load-peers' figures, DIR/heartbeat.lua is wrk's heartbeat as peer 0.
index_peers() {
  local port=$1 d=$2
  "$BIN/tests/load-peers" --central "http://127.0.0.1:$port" --peers 10000 --files 100 \
    --seconds 1 --searchers 0 --setup-threads 16 --keep-online --token-out "$d/token" --json \
    >"$d/ingest.json"
  cat >"$d/heartbeat.lua" <<EOF
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $(cat "$d/token")"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"free_bytes": 1000000000, "active_transfers": 0}'
EOF
}

part_directory() {
  echo "== directory: 1M files from 10 000 peers on a real central" >&2
  local d=$WORK/directory port pid
  mkdir -p "$d"
  "$BIN/bench/seed-accounts" "$d/central.db" load 10000 >/dev/null
  port=$(free_port)
  # The 10 000 simulated peers all connect from 127.0.0.1 but stand for as
  # many hosts: the per-address connection bound is lifted.
  "$BIN/central/central" --listen "127.0.0.1:$port" --db "$d/central.db" --log-level warn --tls false \
    --session-ttl-s 3600 --max-connections 15000 --max-connections-per-address 1000000 \
    >"$d/central.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  disown "$pid"
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  index_peers "$port" "$d"
  local ingest rss
  ingest=$(python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))['index_phase_s'])" "$d/ingest.json")
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  row "ingest 1M files over HTTP, 10k PUTs (s)" "$ingest" "-" "-" "< 10" "$(held "$ingest < 10")"
  row "central RSS with 1M files (MiB)" "$rss" "-" "-" "< 512" "$(held "$rss < 512")"
  directory_rows "http://127.0.0.1:$port" "" "$d"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true

  # The same central over HTTPS (its default), restarted on the same
  # database: the peers' sessions and index are still there.
  "$BIN/central/central" --listen "127.0.0.1:$port" --db "$d/central.db" --log-level warn \
    --session-ttl-s 3600 --max-connections 15000 --max-connections-per-address 1000000 \
    >"$d/central-tls.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  disown "$pid"
  for _ in $(seq 1 400); do
    curl -fsS --cacert "$d/ca/ca.pem" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  directory_rows "https://127.0.0.1:$port" " over HTTPS" "$d"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  realistic_directory
}

# write_replay_lua FILE: wrk's script replaying a query file ("kind<TAB>query"
# a line) as GET /search?limit=20, each thread from its own place.
write_replay_lua() {
  cat >"$1" <<'EOF'
-- Replays a query file ("kind<TAB>query" a line), each thread from its own place.
local queries, at, threads = {}, 0, 0
local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
function setup(thread) thread:set("nth", threads); threads = threads + 1 end
function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t")
    queries[#queries + 1] = "/api/v1/search?limit=20&q=" .. enc(line:sub(tab + 1))
  end
  at = (tonumber(nth) or 0) * math.floor(#queries / 2)
end
function request()
  at = at % #queries + 1
  return wrk.format("GET", queries[at])
end
EOF
}

# A fresh central with 1M files of realistic shares (400 peers x 2 500 —
# a PUT of 2 500 realistic names stays under central's 1 MiB body limit —
# bench/shares.h, seed 1), and wrk replaying the realistic query stream.
realistic_directory() {
  echo "== directory: 1M files of realistic shares from 400 peers; the realistic query stream" >&2
  local d=$WORK/realistic port pid
  mkdir -p "$d"
  "$BIN/bench/seed-accounts" "$d/central.db" real 400 >/dev/null
  port=$(free_port)
  "$BIN/central/central" --listen "127.0.0.1:$port" --db "$d/central.db" --log-level warn --tls false \
    --session-ttl-s 3600 --max-connections-per-address 1000000 >"$d/central.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  disown "$pid"
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  "$BIN/tests/load-peers" --central "http://127.0.0.1:$port" --prefix real --peers 400 --files 2500 \
    --realistic-shares 1 --seconds 1 --searchers 0 --setup-threads 8 --keep-online --json \
    >"$d/ingest.json"
  local ingest rss
  ingest=$(python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))['index_phase_s'])" "$d/ingest.json")
  row "ingest 1M files of realistic shares, 400 PUTs (s)" "$ingest" "-" "-" "<= 10" "$(held "$ingest <= 10")"

  # The stream in segments of 100 000 queries: the first meets a cold
  # reply cache; each measured run then replays a fresh segment of the same
  # stream (never one already replayed), as a central that has been
  # answering for a while sees it.
  "$BIN/bench/search-queries" --seed 1 --count $((100000 * (RUNS + 1))) >"$d/stream.tsv"
  split -l 100000 -d -a 2 "$d/stream.tsv" "$d/segment-"
  # The kinds this build's stream has (an older build's may have fewer).
  local kinds k
  mapfile -t kinds < <(cut -f1 "$d/stream.tsv" | sort -u)
  for k in "${kinds[@]}"; do "$BIN/bench/search-queries" --seed 1 --count 5000 --kind "$k" >"$d/$k.tsv"; done
  write_replay_lua "$d/replay.lua"
  local base="http://127.0.0.1:$port" h=() m=() mp=() mb=() r p b cold i
  declare -A kp
  cold=$(wrk_replay "$base" "$d/replay.lua" "$d/segment-00")
  # Central's memory at work: the index, a reply cache filled by the first
  # 100 000 searches, and what the PUTs' JSON left freed (central gives that
  # back once index updates pause).
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  row "central RSS with them, after 100 000 searches (MiB)" "$rss" "-" "-" "< 512" "$(held "$rss < 512")"
  for i in $(seq 1 "$RUNS"); do  # alternate, so drift hits both alike
    read -r r p < <(wrk_run "$base/healthz"); h+=("$r")
    read -r r p b < <(wrk_replay "$base" "$d/replay.lua" "$d/segment-$(printf %02d "$i")"); m+=("$r"); mp+=("$p"); mb+=("$b")
  done
  for k in "${kinds[@]}"; do
    read -r r p b < <(wrk_replay "$base" "$d/replay.lua" "$d/$k.tsv")
    kp[$k]="$r $p $b"
  done
  local hm mm mpm
  hm=$(median "${h[@]}"); mm=$(median "${m[@]}"); mpm=$(median "${mp[@]}")
  local ref="$(printf %.0f "$hm") healthz"
  row "GET /healthz (req/s; the reference of the rows below)" "$(printf %.0f "$hm")" "-" "-" "-" "-"
  read -r r p b <<<"$cold"
  row "GET /search, realistic stream, cold reply cache: req/s, p99 (ms), busy" "$(printf %.0f "$r"), $p, $b" \
    "$ref" "$(ratio "$r" "$hm")" "-" "-"
  row "GET /search, realistic stream going on, 1M files (req/s)" "$(printf %.0f "$mm")" "$ref" \
    "$(ratio "$mm" "$hm")" ">= 0.5x" "$(held "$mm >= 0.5 * $hm")"
  row "  its p99 (ms)" "$mpm" "-" "-" "< 10" "$(held "$mpm < 10")"
  row "  told busy (503), all runs" "$(IFS=+; python3 -c "print(${mb[*]})")" "-" "-" "-" "-"
  for k in "${kinds[@]}"; do
    read -r r p b <<<"${kp[$k]}"
    row "  $k alone (5 000 of them, cycled): req/s, p99 (ms), busy" "$(printf %.0f "$r"), $p, $b" "$ref" \
      "$(ratio "$r" "$hm")" "p99 < 20" "$(held "$p < 20")"
  done
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}

# wrk_replay BASE LUA QUERIES: prints "REQ_PER_S P99_MS NON_2XX" (central
# may answer 503 "busy" to broad searches: counted, not fatal).
wrk_replay() {
  local out
  out=$(wrk -t2 -c64 -d"${WRK_SECONDS}s" --latency -s "$2" "$1" -- "$3")
  local rps p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps $p99 ${bad:-0}"
}

# directory_rows BASE_URL LABEL DIR: wrk on /healthz (the reference), two
# searches, heartbeats and /stats, alternated; one row each.
directory_rows() {
  local base=$1 label=$2 d=$3
  local h=() hp=() s=() sp=() c=() cp=() b=() bp=() st=() stp=() r p
  for _ in $(seq 1 "$RUNS"); do  # alternate, so drift hits all alike
    read -r r p < <(wrk_run "$base/healthz"); h+=("$r"); hp+=("$p")
    read -r r p < <(wrk_run "$base/api/v1/search?q=load4242/track-17.ogg"); s+=("$r"); sp+=("$p")
    read -r r p < <(wrk_run "$base/api/v1/search?q=track-17."); c+=("$r"); cp+=("$p")
    read -r r p < <(wrk_run "$base/api/v1/heartbeat" "$d/heartbeat.lua"); b+=("$r"); bp+=("$p")
    read -r r p < <(wrk_run "$base/api/v1/stats"); st+=("$r"); stp+=("$p")
  done
  local hm sm cm bm spm
  hm=$(median "${h[@]}"); sm=$(median "${s[@]}"); cm=$(median "${c[@]}"); bm=$(median "${b[@]}")
  spm=$(median "${sp[@]}")
  local ref="$(printf %.0f "$hm") healthz${label}"
  row "GET /healthz${label}, 64 connections (req/s)" "$(printf %.0f "$hm")" "-" "-" "-" "-"
  if [ -z "$label" ]; then
    row "GET /search, 1 hit of 1M (req/s)" "$(printf %.0f "$sm")" "$ref" \
      "$(ratio "$sm" "$hm")" ">= 0.5x and >= 20000" "$(held "$sm >= 0.5 * $hm and $sm >= 20000")"
  else
    row "GET /search${label}, 1 hit of 1M (req/s)" "$(printf %.0f "$sm")" "$ref" \
      "$(ratio "$sm" "$hm")" ">= 0.5x" "$(held "$sm >= 0.5 * $hm")"
  fi
  row "  its p99 (ms)" "$spm" "-" "-" "< 10" "$(held "$spm < 10")"
  row "GET /search${label}, 10k hits of 1M, page of 50 (req/s)" "$(printf %.0f "$cm")" "$ref" \
    "$(ratio "$cm" "$hm")" "-" "-"
  if [ -z "$label" ]; then
    row "POST /heartbeat (req/s)" "$(printf %.0f "$bm")" "$ref" \
      "$(ratio "$bm" "$hm")" ">= 20000" "$(held "$bm >= 20000")"
  else
    row "POST /heartbeat${label} (req/s)" "$(printf %.0f "$bm")" "$ref" \
      "$(ratio "$bm" "$hm")" ">= 0.5x" "$(held "$bm >= 0.5 * $hm")"
  fi
  local stm
  stm=$(median "${st[@]}")
  row "GET /stats${label}, 1M files (req/s; the dashboard's totals)" "$(printf %.0f "$stm")" \
    "$ref" "$(ratio "$stm" "$hm")" "-" "-"
}

json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
mb_per_s() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) / float(sys.argv[2]) / 1e6))" "$1" "$2"; }

part_transfer() {
  local mib=${BENCH_FILE_MIB:-1024}
  echo "== transfer: a ${mib} MiB file between two peers vs nginx + curl ($RUNS runs)" >&2
  local d=$WORK/transfer port
  mkdir -p "$d/alice" "$d/bob" "$d/www" "$d/dl" "$d/ref" "$d/nginx-tmp"
  head -c "$((mib * 1048576))" /dev/urandom >"$d/alice/big.bin"
  ln "$d/alice/big.bin" "$d/www/big.bin"  # one inode: the same page cache for both
  local sha bytes=$((mib * 1048576))
  sha=$(sha256sum "$d/alice/big.bin" | cut -d' ' -f1)

  port=$(free_port)
  "$BIN/central/central" --listen "127.0.0.1:$port" --db "$d/central.db" --log-level warn \
    >"$d/central.log" 2>&1 &
  PIDS+=("$!")
  disown "$!"
  local url="https://127.0.0.1:$port" ca="$d/ca/ca.pem"
  for _ in $(seq 1 100); do curl -fsS --cacert "$ca" "$url/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  P2PSHARE_PASSWORD=alice-bench-password "$BIN/pserver/peer-server" --username alice --central-url "$url" \
    --listen-host 127.0.0.1 \
    --central-ca "$ca" \
    --shared-dir "$d/alice" --download-dir "$d/alice/dl" --max-storage-bytes $((64 << 30)) \
    >"$d/alice.log" 2>&1 &
  local alice=$!
  PIDS+=("$alice")
  disown "$alice"
  for _ in $(seq 1 1200); do  # indexed, hash included
    curl -fsS --cacert "$ca" "$url/api/v1/files/$sha" >/dev/null 2>&1 && break; sleep 0.05
  done
  export P2PSHARE_PASSWORD=bob-bench-password  # the client's; never a flag (ps shows flags)
  local client=("$BIN/pclient/peer-client" --username bob
                --central-url "$url" --central-ca "$ca" --shared-dir "$d/bob" --download-dir "$d/dl")
  "${client[@]}" register >/dev/null

  # nginx: plain HTTP with sendfile, and HTTPS with a certificate of its
  # own (an EC P-256 key like the peers'; sendfile off, as TLS needs).
  local nport sport
  nport=$(free_port)
  sport=$(free_port)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$d/nginx.key" -out "$d/nginx.crt" 2>/dev/null
  printf '%s\n' "user root;" "worker_processes 1;" "daemon off;" "pid $d/nginx.pid;" \
    "error_log $d/nginx-error.log;" "events { worker_connections 64; }" \
    "http { access_log off; client_body_temp_path $d/nginx-tmp;" \
    "  server { listen 127.0.0.1:$nport; root $d/www; sendfile on; tcp_nopush on; }" \
    "  server { listen 127.0.0.1:$sport ssl; root $d/www; sendfile off;" \
    "    ssl_certificate $d/nginx.crt; ssl_certificate_key $d/nginx.key;" \
    "    ssl_protocols TLSv1.2 TLSv1.3; } }" >"$d/nginx.conf"
  nginx -c "$d/nginx.conf" -p "$d" >"$d/nginx.out" 2>&1 &
  PIDS+=("$!")
  disown "$!"
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null -r 0-0 "http://127.0.0.1:$nport/big.bin" 2>/dev/null && break; sleep 0.05
  done
  local https_ref=(curl -fsS --cacert "$d/nginx.crt")

  local ours=() ref=() sref=() fref=() hfref=() t0 vo=() vref=() svref=() hvref=() up=() crss=0 r
  # Alternated, so drift hits all alike. Each writer gets the page cache
  # just freed by the previous one: on this VM, writing into memory the
  # kernel has not used lately costs up to 1 s per GiB more (seen in perf as
  # copy_folio_from_iter_atomic), which would land on whoever comes first.
  for i in $(seq 1 "$RUNS"); do
    rm -f "$d/ref/big.bin"
    /usr/bin/time -f "%M" -o "$d/client-rss" "${client[@]}" --json download "$sha" >"$d/dl.json"
    ours+=("$(json_field "$d/dl.json" seconds)")
    r=$(cat "$d/client-rss"); [ "$r" -gt "$crss" ] && crss=$r
    [ "$(sha256sum "$d/dl/big.bin" | cut -d' ' -f1)" = "$sha" ] || { echo "bench: bad download" >&2; exit 1; }
    rm -f "$d/dl/big.bin"
    sref+=("$("${https_ref[@]}" -o "$d/ref/big.bin" -w '%{time_total}' "https://127.0.0.1:$sport/big.bin")")
    rm -f "$d/ref/big.bin"
    # The same, durable like ours: our time includes the fsync before the
    # rename, curl's ends in the page cache. `sync FILE` is its fsync.
    t0=$(date +%s.%N)
    "${https_ref[@]}" -o "$d/ref/big.bin" "https://127.0.0.1:$sport/big.bin"
    sync "$d/ref/big.bin"
    fref+=("$(elapsed_since "$t0")")
    rm -f "$d/ref/big.bin"
    # The same work by hand: fetched, checked against its SHA-256 and
    # durable, as ours: curl, then openssl over the file (from the page
    # cache), then its fsync. OpenSSL's SHA-256 is what ours verifies with;
    # coreutils' sha256sum has no SHA-NI and would flatter us many times over.
    t0=$(date +%s.%N)
    "${https_ref[@]}" -o "$d/ref/big.bin" "https://127.0.0.1:$sport/big.bin"
    [ "$(openssl dgst -sha256 -r "$d/ref/big.bin" | cut -d' ' -f1)" = "$sha" ] || { echo "bench: bad reference" >&2; exit 1; }
    sync "$d/ref/big.bin"
    hfref+=("$(elapsed_since "$t0")")
    rm -f "$d/ref/big.bin"
    ref+=("$(curl -fsS -o "$d/ref/big.bin" -w '%{time_total}' "http://127.0.0.1:$nport/big.bin")")
    "${client[@]}" --json download "$sha" --verify-only >"$d/vo.json"
    vo+=("$(json_field "$d/vo.json" seconds)")
    svref+=("$("${https_ref[@]}" -o /dev/null -w '%{time_total}' "https://127.0.0.1:$sport/big.bin")")
    t0=$(date +%s.%N)
    [ "$("${https_ref[@]}" "https://127.0.0.1:$sport/big.bin" | openssl dgst -sha256 -r | cut -d' ' -f1)" = "$sha" ] ||
      { echo "bench: bad reference" >&2; exit 1; }
    hvref+=("$(elapsed_since "$t0")")
    vref+=("$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$nport/big.bin")")
    rm -f "$d/ref/big.bin"
    ln -f "$d/alice/big.bin" "$d/up-$i.bin"
    /usr/bin/time -f "%M" -o "$d/client-rss" "${client[@]}" --json upload "$d/up-$i.bin" --to alice >"$d/up.json"
    up+=("$(json_field "$d/up.json" seconds)")
    r=$(cat "$d/client-rss"); [ "$r" -gt "$crss" ] && crss=$r
    rm -f "$d/alice/up-$i.bin" "$d/up-$i.bin"
  done
  # What this disk writes durably, copying the file from the page cache:
  # a ceiling for any download that ends with an fsync.
  local dds=()
  for i in $(seq 1 "$RUNS"); do
    t0=$(date +%s.%N)
    dd if="$d/alice/big.bin" of="$d/ref/big.bin" bs=1M conv=fsync status=none
    dds+=("$(elapsed_since "$t0")")
    rm -f "$d/ref/big.bin"
  done
  local orate rrate srate frate hfrate vrate vrrate svrate hvrate urate srss
  orate=$(mb_per_s "$bytes" "$(median "${ours[@]}")")
  rrate=$(mb_per_s "$bytes" "$(median "${ref[@]}")")
  srate=$(mb_per_s "$bytes" "$(median "${sref[@]}")")
  frate=$(mb_per_s "$bytes" "$(median "${fref[@]}")")
  hfrate=$(mb_per_s "$bytes" "$(median "${hfref[@]}")")
  hvrate=$(mb_per_s "$bytes" "$(median "${hvref[@]}")")
  vrate=$(mb_per_s "$bytes" "$(median "${vo[@]}")")
  vrrate=$(mb_per_s "$bytes" "$(median "${vref[@]}")")
  svrate=$(mb_per_s "$bytes" "$(median "${svref[@]}")")
  urate=$(mb_per_s "$bytes" "$(median "${up[@]}")")
  row "download ${mib} MiB to disk, mutual TLS, verified, fsynced (MB/s)" "$orate" \
    "$frate nginx HTTPS+curl+fsync" "$(ratio "$orate" "$frate")" ">= 0.8x" "$(held "$orate >= 0.8 * $frate")"
  row "  the same against the same work by hand: curl, openssl sha256, fsync (MB/s)" "$orate" \
    "$hfrate curl+sha256+fsync" "$(ratio "$orate" "$hfrate")" ">= 0.8x" "$(held "$orate >= 0.8 * $hfrate")"
  row "  this disk: dd of the file, fsynced (MB/s; a ceiling for the row above)" \
    "$(mb_per_s "$bytes" "$(median "${dds[@]}")")" "-" "-" "-" "-"
  row "  the same against curl without fsync (MB/s; curl ends in the page cache)" "$orate" \
    "$srate nginx HTTPS+curl" "$(ratio "$orate" "$srate")" "-" "-"
  row "  the same against plain HTTP (MB/s; the cost of TLS)" "$orate" "$rrate nginx+curl" \
    "$(ratio "$orate" "$rrate")" "-" "-"
  row "download verify-only, mutual TLS (MB/s)" "$vrate" "$svrate curl HTTPS to /dev/null" \
    "$(ratio "$vrate" "$svrate")" ">= 0.8x" "$(held "$vrate >= 0.8 * $svrate")"
  row "  the same against curl | openssl sha256 (MB/s; the same work by hand)" "$vrate" \
    "$hvrate curl HTTPS | sha256" "$(ratio "$vrate" "$hvrate")" ">= 0.8x" "$(held "$vrate >= 0.8 * $hvrate")"
  row "  the same against plain HTTP (MB/s)" "$vrate" "$vrrate curl to /dev/null" \
    "$(ratio "$vrate" "$vrrate")" ">= 800" "$(held "$vrate >= 800")"
  row "upload ${mib} MiB, hashed + verified (MB/s)" "$urate" "$orate our download" \
    "$(ratio "$urate" "$orate")" ">= 0.8x" "$(held "$urate >= 0.8 * $orate")"
  row "peer-client peak RSS, ${mib} MiB runs above (MiB)" "$((crss / 1024))" "-" "-" "< 64" "$(held "$crss < 65536")"

  # Swarm: the same file from three holders at once (dave and erin share
  # it too, one inode for all), then three holders capped at a rate each.
  start_holder() {  # name, folder, extra flags...
    local name=$1 dir=$2
    shift 2
    P2PSHARE_PASSWORD="$name-bench-password" "$BIN/pserver/peer-server" --username "$name" --central-url "$url" \
      --listen-host 127.0.0.1 --central-ca "$ca" --shared-dir "$dir" --download-dir "$dir/dl" \
      --max-storage-bytes $((64 << 30)) "$@" >"$d/$name.log" 2>&1 &
    PIDS+=("$!")
    disown "$!"
  }
  wait_holders() {  # sha, count
    for _ in $(seq 1 2400); do
      [ "$(curl -fsS --cacert "$ca" "$url/api/v1/files/$1" 2>/dev/null | python3 -c \
        "import json,sys; print(len(json.load(sys.stdin)['holders']))" 2>/dev/null || echo 0)" -ge "$2" ] && return
      sleep 0.05
    done
    echo "bench: fewer than $2 holders of $1" >&2; exit 1
  }
  mkdir -p "$d/dave" "$d/erin"
  ln -f "$d/alice/big.bin" "$d/dave/big.bin"
  ln -f "$d/alice/big.bin" "$d/erin/big.bin"
  start_holder dave "$d/dave"
  start_holder erin "$d/erin"
  wait_holders "$sha" 3
  local three=() srcs
  for i in $(seq 1 "$RUNS"); do
    rm -f "$d/dl/big.bin"
    /usr/bin/time -f "%M" -o "$d/client-rss" "${client[@]}" --json download "$sha" >"$d/dl.json"
    three+=("$(json_field "$d/dl.json" seconds)")
    srcs=$(json_field "$d/dl.json" sources)
    r=$(cat "$d/client-rss"); [ "$r" -gt "$crss" ] && crss=$r
    [ "$(sha256sum "$d/dl/big.bin" | cut -d' ' -f1)" = "$sha" ] || { echo "bench: bad download" >&2; exit 1; }
  done
  rm -f "$d/dl/big.bin"
  local trate
  trate=$(mb_per_s "$bytes" "$(median "${three[@]}")")
  row "download ${mib} MiB from three holders at once, loopback ($srcs sources; MB/s)" "$trate" \
    "$orate one holder" "$(ratio "$trate" "$orate")" "-" "-"
  # Capped holders: each sends at most CAP; one download should get nearly
  # their sum.
  local cap=${BENCH_CAP_MIB:-16} cmib=${BENCH_CAPPED_FILE_MIB:-256} csha capped=() crate sum
  mkdir -p "$d/r1" "$d/r2" "$d/r3"
  head -c "$((cmib * 1048576))" /dev/urandom >"$d/r1/capped.bin"
  ln -f "$d/r1/capped.bin" "$d/r2/capped.bin"
  ln -f "$d/r1/capped.bin" "$d/r3/capped.bin"
  csha=$(sha256sum "$d/r1/capped.bin" | cut -d' ' -f1)
  for n in r1 r2 r3; do start_holder "$n" "$d/$n" --max-upload-rate "${cap}M"; done
  wait_holders "$csha" 3
  for i in $(seq 1 "$RUNS"); do
    rm -f "$d/dl/capped.bin"
    "${client[@]}" --json download "$csha" >"$d/dl.json"
    capped+=("$(json_field "$d/dl.json" seconds)")
  done
  rm -f "$d/dl/capped.bin"
  crate=$(mb_per_s "$((cmib * 1048576))" "$(median "${capped[@]}")")
  sum=$(python3 -c "print('%.0f' % (3 * $cap * 1048576 / 1e6))")
  row "download ${cmib} MiB from three holders capped at ${cap} MiB/s each (MB/s)" "$crate" \
    "$sum their sum" "$(ratio "$crate" "$sum")" ">= 0.9x" "$(held "$crate >= 0.9 * $sum")"
  crss=$((crss / 1024))
  row "peer-client peak RSS, ${mib} MiB swarm runs above (MiB)" "$crss" "-" "-" "< 64" "$(held "$crss < 64")"

  # Memory while moving a big file: one download (from three holders) and one upload of it.
  local big=${BENCH_MEMORY_MIB:-4096} bsha
  rm -f "$d/dl/big.bin" "$d/ref/big.bin"
  echo "== transfer: memory while a ${big} MiB file goes each way" >&2
  head -c "$((big * 1048576))" /dev/urandom >"$d/alice/huge.bin"
  ln -f "$d/alice/huge.bin" "$d/dave/huge.bin"
  ln -f "$d/alice/huge.bin" "$d/erin/huge.bin"
  bsha=$(sha256sum "$d/alice/huge.bin" | cut -d' ' -f1)
  wait_holders "$bsha" 3
  /usr/bin/time -f "%M" -o "$d/client-rss" "${client[@]}" --json download "$bsha" >"$d/dl.json"
  local drss urss
  drss=$(($(cat "$d/client-rss") / 1024))
  mv "$d/dl/huge.bin" "$d/huge-up.bin"
  /usr/bin/time -f "%M" -o "$d/client-rss" "${client[@]}" --json upload "$d/huge-up.bin" --to alice >"$d/up.json"
  urss=$(($(cat "$d/client-rss") / 1024))
  [ "$(json_field "$d/up.json" sha256)" = "$bsha" ] || { echo "bench: bad upload" >&2; exit 1; }
  rm -f "$d/huge-up.bin" "$d/alice/huge-up.bin" "$d/alice/huge.bin" "$d/dave/huge.bin" "$d/erin/huge.bin"
  srss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$alice/status")
  row "peer-server peak RSS, all of the above (MiB)" "$srss" "-" "-" "< 64" "$(held "$srss < 64")"
  row "peer-client peak RSS, ${big} MiB download from three holders (MiB)" "$drss" "-" "-" "< 64" "$(held "$drss < 64")"
  row "peer-client peak RSS, ${big} MiB upload (MiB)" "$urss" "-" "-" "< 64" "$(held "$urss < 64")"
}

# CPU seconds a process has used (user + system), from /proc.
cpu_seconds() { python3 -c "import os,sys; f=open('/proc/%s/stat' % sys.argv[1]).read().rsplit(')',1)[1].split(); print((int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK'))" "$1"; }

# A file downloaded from a peer reached directly, and from one nobody
# reaches (hal, listed at 127.0.0.3, where nothing listens) twice: by bob,
# whom hal connects back to (reversal), and by rob, whose own peer-server
# cannot be reached either (listed at 127.0.0.4: through central's relay);
# verify-only, alternated; and the CPU central spends relaying.
part_relay() {
  local mib=${BENCH_RELAY_MIB:-512}
  echo "== relay: a ${mib} MiB file, direct vs reversed vs through central's relay ($RUNS runs)" >&2
  local d=$WORK/relay port
  mkdir -p "$d/alice" "$d/hal" "$d/bob" "$d/rob"
  head -c "$((mib * 1048576))" /dev/urandom >"$d/alice/direct.bin"
  head -c "$((mib * 1048576))" /dev/urandom >"$d/hal/relayed.bin"
  local dsha rsha bytes=$((mib * 1048576))
  dsha=$(sha256sum "$d/alice/direct.bin" | cut -d' ' -f1)
  rsha=$(sha256sum "$d/hal/relayed.bin" | cut -d' ' -f1)
  port=$(free_port)
  "$BIN/central/central" --listen "127.0.0.1:$port" --db "$d/central.db" --log-level warn \
    --relay-session-rate 0 --relay-total-rate 0 >"$d/central.log" 2>&1 &
  local central=$!
  PIDS+=("$central")
  disown "$central"
  local url="https://127.0.0.1:$port" ca="$d/ca/ca.pem"
  for _ in $(seq 1 100); do curl -fsS --cacert "$ca" "$url/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  for who in alice hal rob; do
    local advertise=127.0.0.1
    [ "$who" = hal ] && advertise=127.0.0.3
    [ "$who" = rob ] && advertise=127.0.0.4
    P2PSHARE_PASSWORD="$who-bench-password" "$BIN/pserver/peer-server" --username "$who" --central-url "$url" \
      --listen-host 127.0.0.1 --advertise-host "$advertise" --central-ca "$ca" --port-mapping false \
      --shared-dir "$d/$who" --download-dir "$d/$who/dl" >"$d/$who.log" 2>&1 &
    PIDS+=("$!")
    disown "$!"
  done
  for sha in "$dsha" "$rsha"; do
    for _ in $(seq 1 2400); do curl -fsS --cacert "$ca" "$url/api/v1/files/$sha" >/dev/null 2>&1 && break; sleep 0.05; done
  done
  for who in hal rob; do
    for _ in $(seq 1 400); do
      grep -q "channel from central open" "$d/$who.log" && grep -q "central tried" "$d/$who.log" && break
      sleep 0.05
    done
  done
  local client=("$BIN/pclient/peer-client" --username bob --central-url "$url" --central-ca "$ca"
                --shared-dir "$d/bob" --download-dir "$d/bob/dl")
  local rob=("$BIN/pclient/peer-client" --username rob --central-url "$url" --central-ca "$ca"
             --shared-dir "$d/rob" --download-dir "$d/rob/dl")
  P2PSHARE_PASSWORD=bob-bench-password "${client[@]}" register >/dev/null
  local direct=() reversed=() relayed=() cpu=() c0
  for i in $(seq 1 "$RUNS"); do
    P2PSHARE_PASSWORD=bob-bench-password "${client[@]}" --json download "$dsha" --verify-only >"$d/dl.json"
    direct+=("$(json_field "$d/dl.json" seconds)")
    P2PSHARE_PASSWORD=bob-bench-password "${client[@]}" --json download "$rsha" --verify-only >"$d/dl.json"
    reversed+=("$(json_field "$d/dl.json" seconds)")
    grep -q '"hal": "reversed"\|"hal":"reversed"' "$d/dl.json" || { echo "bench: hal did not connect back" >&2; exit 1; }
    c0=$(cpu_seconds "$central")
    P2PSHARE_PASSWORD=rob-bench-password "${rob[@]}" --json download "$rsha" --verify-only >"$d/dl.json"
    relayed+=("$(json_field "$d/dl.json" seconds)")
    cpu+=("$(python3 -c "print(($(cpu_seconds "$central") - $c0) * 1073741824 / $bytes)")")
    grep -q '"hal": "relayed"\|"hal":"relayed"' "$d/dl.json" || { echo "bench: hal was not relayed" >&2; exit 1; }
  done
  local drate vrate rrate
  drate=$(mb_per_s "$bytes" "$(median "${direct[@]}")")
  vrate=$(mb_per_s "$bytes" "$(median "${reversed[@]}")")
  rrate=$(mb_per_s "$bytes" "$(median "${relayed[@]}")")
  row "download ${mib} MiB verify-only, reversed (hal connects back), loopback (MB/s)" "$vrate" \
    "$drate direct" "$(ratio "$vrate" "$drate")" "-" "-"
  row "download ${mib} MiB verify-only through central's relay, loopback (MB/s)" "$rrate" \
    "$drate direct" "$(ratio "$rrate" "$drate")" "-" "-"
  row "  central's CPU per GiB relayed (s)" "$(python3 -c "print('%.2f' % $(median "${cpu[@]}"))")" "-" "-" "-" "-"
}

part_startup() {
  local d=$WORK/startup files=${BENCH_STARTUP_FILES:-10000} mib=${BENCH_STARTUP_MIB:-2048}
  echo "== startup: a shared folder of $files files / $mib MiB" >&2
  mkdir -p "$d"
  # Hash cache cold, files in the page cache (startup-bench writes them).
  "$BIN/bench/startup-bench" "$d/share" "$files" "$mib" "$RUNS" >"$d/startup.json"
  local bytes cold warm ref_s rrate crate
  bytes=$(json_field "$d/startup.json" bytes)
  cold=$(json_field "$d/startup.json" cold_s)
  warm=$(json_field "$d/startup.json" warm_s)
  ref_s=$( { /usr/bin/time -f "%e" bash -c "cd '$d/share' && find set-* -type f -print0 | xargs -0 sha256sum >/dev/null"; } 2>&1 )
  crate=$(mb_per_s "$bytes" "$cold"); rrate=$(mb_per_s "$bytes" "$ref_s")
  row "cold hash cache: index $files files (MB/s)" "$crate" "$rrate sha256sum" \
    "$(ratio "$crate" "$rrate")" ">= 1000" "$(held "$crate >= 1000")"
  row "warm hash cache: index $files files (s)" "$(printf %.3f "$warm")" "-" "-" "< 3" "$(held "$warm < 3")"
  if { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
    # From disk too: the reference is cat reading the same files.
    local cat_s disk_cold drate dcrate
    cat_s=$( { /usr/bin/time -f "%e" bash -c "cd '$d/share' && find set-* -type f -print0 | xargs -0 cat >/dev/null"; } 2>&1 )
    sync; echo 3 >/proc/sys/vm/drop_caches
    "$BIN/bench/startup-bench" "$d/share" "$files" "$mib" 1 >"$d/disk.json"
    disk_cold=$(json_field "$d/disk.json" cold_s)
    drate=$(mb_per_s "$bytes" "$disk_cold"); dcrate=$(mb_per_s "$bytes" "$cat_s")
    row "  the same, files not in the page cache (MB/s)" "$drate" "$dcrate cat (the disk)" \
      "$(ratio "$drate" "$dcrate")" "-" "-"
  fi

  # A real peer-server, warm cache: from its start until central lists every file.
  local port url pid t0 t1 n=0
  port=$(free_port)
  "$BIN/central/central" --listen "127.0.0.1:$port" --db "$d/central.db" --log-level warn --tls false \
    >"$d/central.log" 2>&1 &
  PIDS+=("$!")
  disown "$!"
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  t0=$(date +%s.%N)
  P2PSHARE_PASSWORD=carol-bench-password "$BIN/pserver/peer-server" --username carol --central-url "$url" \
    --listen-host 127.0.0.1 \
    --shared-dir "$d/share" --download-dir "$d/dl" --max-storage-bytes $((64 << 30)) \
    >"$d/carol.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  disown "$pid"
  for _ in $(seq 1 3000); do
    n=$(curl -fsS "$url/api/v1/peers" 2>/dev/null | python3 -c \
      "import json,sys; print(sum(p['files'] for p in json.load(sys.stdin)['peers']))" 2>/dev/null || echo 0)
    [ "$n" -ge "$files" ] && break
    sleep 0.02
  done
  t1=$(date +%s.%N)
  [ "$n" -ge "$files" ] || { echo "bench: central lists $n of $files files" >&2; exit 1; }
  local up
  up=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1")
  row "peer-server start until central lists $files files (s)" "$up" "-" "-" "< 3" "$(held "$up < 3")"
  kill -TERM "$pid"
}

part_compare() {
  local base=${BENCH_BASE_CENTRAL:?"set BENCH_BASE_CENTRAL to the other build's central binary"}
  echo "== compare: $base vs this build's central, each on its SQLite database of 1M files" >&2
  local d=$WORK/compare port pid which bin seed
  port=$(free_port)
  for which in this base this base; do
    bin=$BIN/central/central
    seed=$BIN/bench/seed-accounts
    if [ "$which" = base ]; then  # a database of its own: the schemas of two builds may differ
      bin=$base
      seed=$(dirname "$base")/../bench/seed-accounts
    fi
    mkdir -p "$d/$which"
    [ -e "$d/$which/central.db" ] || "$seed" "$d/$which/central.db" load 10000 >/dev/null
    "$bin" --listen "127.0.0.1:$port" --db "$d/$which/central.db" --log-level warn --tls false \
      --session-ttl-s 3600 --max-connections 15000 --max-connections-per-address 1000000 \
      >>"$d/central-$which.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    disown "$pid"
    for _ in $(seq 1 400); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
    # each first start indexes; the second finds it all in its database
    [ -e "$d/$which/token" ] || index_peers "$port" "$d/$which"
    directory_rows "http://127.0.0.1:$port" " [$which]" "$d/$which"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  done
}

# Two centrals side by side, each on 1M files of realistic shares of its
# own: BENCH_BASE_BIN names the other build's folder (its build-release).
# Rounds alternate: /healthz, the base's query stream on the base, the same
# stream on this build, and this build's own stream (new kinds included) on
# this build; each run replays a fresh segment.
part_realistic_compare() {
  local base_bin=${BENCH_BASE_BIN:?"set BENCH_BASE_BIN to the other build's build-release folder"}
  base_bin=$(cd "$base_bin" && pwd)
  echo "== realistic-compare: $base_bin vs $BIN, 1M realistic files each" >&2
  local d=$WORK/rcompare which bin port
  declare -A ports
  mkdir -p "$d"
  for which in base this; do
    bin=$BIN
    [ "$which" = base ] && bin=$base_bin
    mkdir -p "$d/$which"
    "$bin/bench/seed-accounts" "$d/$which/central.db" real 400 >/dev/null
    port=$(free_port)
    "$bin/central/central" --listen "127.0.0.1:$port" --db "$d/$which/central.db" --log-level warn --tls false \
      --session-ttl-s 3600 --max-connections-per-address 1000000 >"$d/$which/central.log" 2>&1 &
    PIDS+=("$!")
    disown "$!"
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
    "$bin/tests/load-peers" --central "http://127.0.0.1:$port" --prefix real --peers 400 --files 2500 \
      --realistic-shares 1 --seconds 1 --searchers 0 --setup-threads 8 --keep-online --json >"$d/$which/ingest.json"
    ports[$which]=$port
    row "ingest 1M realistic files [$which] (s)" \
      "$(python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))['index_phase_s'])" "$d/$which/ingest.json")" \
      "-" "-" "<= 10" "-"
  done
  "$base_bin/bench/search-queries" --seed 1 --count $((100000 * (RUNS + 1) * 2)) >"$d/old.tsv"
  "$BIN/bench/search-queries" --seed 1 --count $((100000 * (RUNS + 1))) >"$d/new.tsv"
  split -l 100000 -d -a 2 "$d/old.tsv" "$d/old-"
  split -l 100000 -d -a 2 "$d/new.tsv" "$d/new-"
  write_replay_lua "$d/replay.lua"
  local b="http://127.0.0.1:${ports[base]}" t="http://127.0.0.1:${ports[this]}" r p x i
  # a cold segment each, unmeasured: the reply caches fill as in use; the
  # memory is read then, when both have served the same
  wrk_replay "$b" "$d/replay.lua" "$d/old-00" >/dev/null
  wrk_replay "$t" "$d/replay.lua" "$d/old-00" >/dev/null
  local rss
  for which in base this; do
    rss=$(pgrep -f "central --listen 127.0.0.1:${ports[$which]}" | head -1 | xargs -I{} awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/{}/status)
    row "central RSS [$which], 1M files and 100 000 searches (MiB)" "$rss" "-" "-" "< 512" "$(held "$rss < 512")"
  done
  wrk_replay "$t" "$d/replay.lua" "$d/new-00" >/dev/null
  local hb=() ht=() ob=() obp=() ot=() otp=() nt=() ntp=()
  for i in $(seq 1 "$RUNS"); do
    read -r r p < <(wrk_run "$b/healthz"); hb+=("$r")
    read -r r p x < <(wrk_replay "$b" "$d/replay.lua" "$d/old-$(printf %02d $((2 * i)))"); ob+=("$r"); obp+=("$p")
    read -r r p < <(wrk_run "$t/healthz"); ht+=("$r")
    read -r r p x < <(wrk_replay "$t" "$d/replay.lua" "$d/old-$(printf %02d $((2 * i)))"); ot+=("$r"); otp+=("$p")
    read -r r p x < <(wrk_replay "$t" "$d/replay.lua" "$d/new-$(printf %02d "$i")"); nt+=("$r"); ntp+=("$p")
  done
  local hbm htm
  hbm=$(median "${hb[@]}"); htm=$(median "${ht[@]}")
  row "GET /healthz [base] / [this] (req/s)" "$(printf %.0f "$hbm") / $(printf %.0f "$htm")" "-" "-" "-" "-"
  row "realistic stream (base's kinds) on [base]: req/s, p99 (ms)" "$(printf %.0f "$(median "${ob[@]}")"), $(median "${obp[@]}")" \
    "healthz [base]" "$(ratio "$(median "${ob[@]}")" "$hbm")" "-" "-"
  row "the same stream on [this]: req/s, p99 (ms)" "$(printf %.0f "$(median "${ot[@]}")"), $(median "${otp[@]}")" \
    "healthz [this]" "$(ratio "$(median "${ot[@]}")" "$htm")" "-" "-"
  row "this build's stream (new kinds too) on [this]: req/s, p99 (ms)" "$(printf %.0f "$(median "${nt[@]}")"), $(median "${ntp[@]}")" \
    "healthz [this]" "$(ratio "$(median "${nt[@]}")" "$htm")" "-" "-"
}

for part in "${PARTS[@]}"; do
  case "$part" in
    compare) part_compare ;;
    search) part_search ;;
    directory) part_directory ;;
    realistic) realistic_directory ;;  # the last step of directory, alone
    realistic-compare) part_realistic_compare ;;
    transfer) part_transfer ;;
    startup) part_startup ;;
    relay) part_relay ;;
    *) echo "bench: unknown part '$part' (search, directory, compare, transfer, startup, relay)" >&2; exit 2 ;;
  esac
done

echo
printf 'figure\tours\treference\tratio\ttarget\theld\n' | cat - "$ROWS" | awk -F'\t' '
  { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } rows = NR }
  END { for (r = 1; r <= rows; r++) { line = ""; for (i = 1; i <= 6; i++) line = line sprintf("%-" w[i] "s  ", cell[r, i]); print line } }'
