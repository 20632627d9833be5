#!/usr/bin/env bash
# p2pshare demo: installs what is missing, builds, starts central and three
# peer-servers (alice, bob, carol) over sample files made on the fly, and
# walks through what the network does, checking every step. Exits non-zero
# when a step fails; stops everything it started, on Ctrl-C too.
#
# peer-client does the talking; a few raw REST calls show central's errors.
#
# Environment: P2PSHARE_BIN_DIR=<build dir> skips the install and build.
# P2PSHARE_CENTRAL_URL (with P2PSHARE_CENTRAL_CA, the network CA's file, and
# P2PSHARE_CENTRAL_LOGS, its logs) runs the story against a central already
# running — scripts/cluster.sh: three replicas behind HAProxy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

p2p_binaries
CENTRAL=$P2PSHARE_BIN_DIR/central/central
PEER_SERVER=$P2PSHARE_BIN_DIR/pserver/peer-server
PEER_CLIENT=$P2PSHARE_BIN_DIR/pclient/peer-client

WORK=$(mktemp -d /tmp/p2pshare-demo-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "demo interrupted"; exit 130' INT TERM

fail() {
  echo "FAILED: $*" >&2
  for log in "$WORK"/*.log; do echo "--- $(basename "$log"):" >&2; tail -n 20 "$log" >&2; done
  exit 1
}

# call METHOD PATH [BODY] [TOKEN] -> STATUS, BODY_OUT; prints both (tokens shortened)
call() {
  local method=$1 path=$2 body=${3:-} token=${4:-}
  local args=(-s --cacert "$CA" -o "$WORK/out" -w '%{http_code}' -X "$method" "$URL$path")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  [ -z "$body" ] && [ "$method" != GET ] && args+=(-H 'Content-Length: 0')
  STATUS=$(curl "${args[@]}")
  BODY_OUT=$(cat "$WORK/out")
  [ "${QUIET:-}" = 1 ] && return 0
  printf '  %s %s -> %s %s\n' "$method" "$path" "$STATUS" \
    "$(sed -E 's/("token":"[0-9a-f]{8})[0-9a-f]{56}/\1.../' <<<"$BODY_OUT")"
}
expect() {  # expect STATUS [substring...]
  [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS"
  shift
  for s in "$@"; do [[ "$BODY_OUT" == *"$s"* ]] || fail "expected the answer to contain $s"; done
}
json_field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" <<<"$BODY_OUT"; }
search_has() { QUIET=1 call GET "/api/v1/search?q=$1"; [[ "$BODY_OUT" == *"$2"* ]]; }
search_lacks() { QUIET=1 call GET "/api/v1/search?q=$1"; [[ "$BODY_OUT" != *"$2"* ]]; }

if [ -n "${P2PSHARE_CENTRAL_URL:-}" ]; then
  step "central: $P2PSHARE_CENTRAL_URL (already running)"
  URL=$P2PSHARE_CENTRAL_URL
  CA=${P2PSHARE_CENTRAL_CA:?P2PSHARE_CENTRAL_CA names the network CA file}
  read -r -a CENTRAL_LOGS <<<"${P2PSHARE_CENTRAL_LOGS:-}"
else
step "starting central (HTTPS; heartbeats every 1 s, eviction after 3 s so it shows quickly)"
"$CENTRAL" --listen 127.0.0.1:0 --db "$WORK/central.db" --heartbeat-interval-s 1 \
  --session-ttl-s 3 >"$WORK/central.log" 2>&1 &
PIDS+=($!)
port_of_central() {
  PORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/central.log")
  [ -n "$PORT" ]
}
wait_for 10 port_of_central || fail "central did not start"
URL=https://127.0.0.1:$PORT
CA=$WORK/ca/ca.pem
CENTRAL_LOGS=("$WORK/central.log")
echo "  central listens on $URL; it made the network's certificate authority in $WORK/ca"
echo "  (peers trust it through --central-ca; curl through --cacert)"
fi
call GET /healthz; expect 200 '"ok"'

step "three peers share sample folders (made now by scripts/make-samples.sh)"
scripts/make-samples.sh "$WORK" | sed 's/^/  /'
declare -A PEER_PID
for i in 1 2 3; do
  name=$(sed -n 's/.*"username": "\(.*\)".*/\1/p' "config/peer$i.json")
  # the demo's folders and central, over the keys of config/peerN.json (flags beat the file)
  "$PEER_SERVER" --config "config/peer$i.json" --central-url "$URL" --central-ca "$CA" \
    --shared-dir "$WORK/peer$i/shared" --download-dir "$WORK/peer$i/downloads" \
    >"$WORK/$name.log" 2>&1 &
  PEER_PID[$name]=$!
  PIDS+=($!)
  wait_for 15 grep -qs "serving .* files\? on" "$WORK/$name.log" || fail "$name's peer-server did not start"
  grep -h "registered\|serving" "$WORK/$name.log" | sed "s/^/  $name: /"
done

# as NAME COMMAND... : runs one peer-client command as that peer, shown as a prompt
as() {
  local name=$1 i; shift
  for i in 1 2 3; do grep -q "\"username\": \"$name\"" "config/peer$i.json" && break; done
  printf '  \033[36m%s>\033[0m %s\n' "$name" "$*"
  "$PEER_CLIENT" --config "config/peer$i.json" --central-url "$URL" --central-ca "$CA" \
    --shared-dir "$WORK/peer$i/shared" --download-dir "$WORK/peer$i/downloads" "$@" \
    >"$WORK/out" 2>&1 || { sed 's/^/    /' "$WORK/out"; fail "peer-client $name $*"; }
  sed 's/^/    /' "$WORK/out"
}

step "peer-client: alice looks at the network"
as alice peers
wait_for 5 search_has "*.mp3" '"total":2' || fail "the sample songs are not indexed"
as alice search mp3
grep -q "alice, bob\|bob" "$WORK/out" || fail "search did not list the song's holders"

step "carol downloads the song: straight from a holder, SHA-256 verified"
as carol download "Help - The Beatles.mp3"
want=$(sha256sum "$WORK/peer1/shared/music/Help - The Beatles.mp3" | cut -d' ' -f1)
got=$(sha256sum "$WORK/peer3/downloads/music/Help - The Beatles.mp3" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "the downloaded song differs from alice's"
echo "  sha256sum agrees: $got"
as carol download "Help - The Beatles.mp3"

step "carol uploads a file: central picks the least loaded peer with room"
head -c 2000000 /dev/urandom >"$WORK/holiday-video.mkv"
as carol upload "$WORK/holiday-video.mkv"
wait_for 3 search_has holiday-video '"total":1' || fail "the upload is not searchable"
as carol search holiday-video
grep -q "alice\|bob" "$WORK/out" || fail "the upload is not found at its new holder"

step "a file dropped into carol's folder is searchable within 2 s"
echo "fresh from carol" >"$WORK/peer3/shared/dropped-in.txt"
wait_for 2 search_has dropped-in '"username":"carol"' || fail "the new file did not reach the index in 2 s"
as alice search dropped
rm "$WORK/peer3/shared/dropped-in.txt"
wait_for 2 search_lacks dropped-in dropped-in.txt || fail "the deleted file is still searchable"
echo "  and gone again within 2 s of its deletion"

step "bad input gets clear errors, and changes nothing (REST, as any client would send it)"
call POST /api/v1/register '{"username": 5}'; expect 400 "username"
call POST /api/v1/login '{"username":"alice","password":"wrong-password"}'; expect 401 bad_credentials
call PUT /api/v1/index '{"files":[]}' "not-a-token"; expect 401 bad_token

step "bob logs out: his peer-server stops and his files vanish"
as bob logout
wait_for 10 bash -c "! kill -0 ${PEER_PID[bob]} 2>/dev/null" || fail "bob's peer-server is still running"
grep -h "logged out" "$WORK/bob.log" | sed 's/^/  bob: /'
as alice search mp3
grep -q '"bob"\|  bob' "$WORK/out" && fail "bob's files are still listed"
as alice peers

step "carol's peer-server is killed (kill -9): central evicts her after the TTL"
kill -9 "${PEER_PID[carol]}"
wait "${PEER_PID[carol]}" 2>/dev/null || true  # reap it quietly
wait_for 8 search_lacks "clip" '"carol"' || fail "carol's files are still searchable"
grep -h "evicted carol" "${CENTRAL_LOGS[@]}" | sed 's/^/  central: /'
call GET /api/v1/peers; expect 200 '"username":"alice"'

step "alice's peer-server gets SIGTERM (Ctrl-C): it logs out and exits cleanly"
kill -TERM "${PEER_PID[alice]}"
wait_for 10 bash -c "! kill -0 ${PEER_PID[alice]} 2>/dev/null" || fail "alice's peer-server did not stop"
call GET /api/v1/peers; expect 200 '{"peers":[]}'

step "demo finished: every step behaved as specified"
