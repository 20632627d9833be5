#!/usr/bin/env bash
# The benchmarks: builds in Release (build-release/), starts what it needs
# on loopback, runs each measurement beside a reference measured in the
# same run, and prints one table: figure, ours, reference, ratio, target,
# held. Run by hand (never under ctest): absolute times on shared machines
# drift, ratios against the same-run reference are what to compare.
#
#   scripts/bench.sh [directory] [search]     default: all parts
#
# Parts:
#   search     central's SearchIndex alone at 10k, 100k, 1M files
#   directory  a real central with 1M files from 10 000 peers: ingest over
#              HTTP, memory, wrk on search and heartbeat vs /healthz
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PARTS=("$@")
[ ${#PARTS[@]} -gt 0 ] || PARTS=(search directory)
RUNS=${BENCH_RUNS:-3}          # wrk runs per figure (median taken)
WRK_SECONDS=${BENCH_WRK_SECONDS:-5}

bash scripts/install-deps.sh wrk python3
BUILD_DIR=build-release BUILD_TYPE=Release scripts/build.sh >/dev/null
BIN=$ROOT/build-release

WORK=$(mktemp -d /tmp/p2pshare-bench-XXXXXX)
PIDS=()
cleanup() {
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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

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
  echo "== search: SearchIndex alone at 10k, 100k, 1M files" >&2
  "$BIN/bench/search-bench" >"$WORK/search.jsonl"
  python3 - "$WORK/search.jsonl" >>"$ROWS" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    n = r["files"]
    label = f"{n // 1000}k" if n < 1000000 else f"{n // 1000000}M"
    target = "< 1 ms" if n == 1000000 else "-"
    ok = ("yes" if r["substring_p50_ms"] < 1 else "NO") if n == 1000000 else "-"
    print(f"search p50, substring mix, {label} files (ms)\t{r['substring_p50_ms']:.3f}\t-\t-\t{target}\t{ok}")
    print(f"  title / word / glob / miss p50 (ms)\t{r['title']['p50_ms']:.3f} / {r['word']['p50_ms']:.3f} / {r['glob']['p50_ms']:.3f} / {r['miss']['p50_ms']:.4f}\t-\t-\t-\t-")
    print(f"  first page of every file, {label} (ms)\t{r['broad']['p50_ms']:.1f}\t-\t-\t-\t-")
    print(f"  index build, {label} files in memory (s)\t{r['ingest_s']:.2f}\t-\t-\t-\t-")
EOF
}

part_directory() {
  echo "== directory: 1M files from 10 000 peers on a real central" >&2
  local d=$WORK/directory port pid
  mkdir -p "$d"
  "$BIN/bench/seed-accounts" "$d/central.db" load 10000 >/dev/null
  port=$(free_port)
  "$BIN/central/central" --listen "127.0.0.1:$port" --db "$d/central.db" --log-level warn \
    --session-ttl-s 3600 --max-connections 15000 >"$d/central.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  "$BIN/tests/load-peers" --central "http://127.0.0.1:$port" --peers 10000 --files 100 \
    --seconds 1 --searchers 0 --setup-threads 16 --keep-online --token-out "$d/token" --json \
    >"$d/ingest.json"
  local ingest rss
  ingest=$(python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))['index_phase_s'])" "$d/ingest.json")
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  row "ingest 1M files over HTTP, 10k PUTs (s)" "$ingest" "-" "-" "< 10" "$(held "$ingest < 10")"
  row "central RSS with 1M files (MiB)" "$rss" "-" "-" "< 512" "$(held "$rss < 512")"

  cat >"$d/heartbeat.lua" <<EOF
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $(cat "$d/token")"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"free_bytes": 1000000000, "active_transfers": 0}'
EOF
  local base="http://127.0.0.1:$port"
  local h=() hp=() s=() sp=() c=() cp=() b=() bp=()
  for _ in $(seq 1 "$RUNS"); do  # alternate, so drift hits all alike
    read -r r p < <(wrk_run "$base/healthz"); h+=("$r"); hp+=("$p")
    read -r r p < <(wrk_run "$base/api/v1/search?q=load4242/track-17.ogg"); s+=("$r"); sp+=("$p")
    read -r r p < <(wrk_run "$base/api/v1/search?q=track-17."); c+=("$r"); cp+=("$p")
    read -r r p < <(wrk_run "$base/api/v1/heartbeat" "$d/heartbeat.lua"); b+=("$r"); bp+=("$p")
  done
  local hm sm cm bm spm
  hm=$(median "${h[@]}"); sm=$(median "${s[@]}"); cm=$(median "${c[@]}"); bm=$(median "${b[@]}")
  spm=$(median "${sp[@]}")
  row "GET /healthz, 64 connections (req/s)" "$(printf %.0f "$hm")" "-" "-" "-" "-"
  row "GET /search, 1 hit of 1M (req/s)" "$(printf %.0f "$sm")" "$(printf %.0f "$hm") healthz" \
    "$(ratio "$sm" "$hm")" ">= 0.5x and >= 20000" "$(held "$sm >= 0.5 * $hm and $sm >= 20000")"
  row "  its p99 (ms)" "$spm" "-" "-" "< 10" "$(held "$spm < 10")"
  row "GET /search, 10k hits of 1M, page of 50 (req/s)" "$(printf %.0f "$cm")" "$(printf %.0f "$hm") healthz" \
    "$(ratio "$cm" "$hm")" "-" "-"
  row "POST /heartbeat (req/s)" "$(printf %.0f "$bm")" "$(printf %.0f "$hm") healthz" \
    "$(ratio "$bm" "$hm")" ">= 20000" "$(held "$bm >= 20000")"
  kill -TERM "$pid"; wait "$pid" || true
}

for part in "${PARTS[@]}"; do
  case "$part" in
    search) part_search ;;
    directory) part_directory ;;
    *) echo "bench: unknown part '$part' (search, directory)" >&2; exit 2 ;;
  esac
done

echo
printf 'figure\tours\treference\tratio\ttarget\theld\n' | cat - "$ROWS" | awk -F'\t' '
  { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } rows = NR }
  END { for (r = 1; r <= rows; r++) { line = ""; for (i = 1; i <= 6; i++) line = line sprintf("%-" w[i] "s  ", cell[r, i]); print line } }'
