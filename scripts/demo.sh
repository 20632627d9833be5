#!/usr/bin/env bash
# p2pshare demo: installs what is missing, builds, starts central and three
# peer-servers (alice, bob, carol) over sample files made on the fly, and
# walks through what the network does, checking every step. Exits non-zero
# when a step fails; stops everything it started, on Ctrl-C too.
#
# (peer-client, which moves the bytes between peers, joins this demo when it
# is built; here curl plays the client's part against central.)
#
# Environment: P2PSHARE_BIN_DIR=<build dir> skips the install and build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -z "${P2PSHARE_BIN_DIR:-}" ]; then
  scripts/install-deps.sh
  echo "== building (the first time takes a few minutes)"
  scripts/build.sh >/dev/null
  P2PSHARE_BIN_DIR=$ROOT/build
fi
CENTRAL=$P2PSHARE_BIN_DIR/central/central
PEER_SERVER=$P2PSHARE_BIN_DIR/pserver/peer-server

WORK=$(mktemp -d /tmp/p2pshare-demo-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "demo interrupted"; exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
  echo "FAILED: $*" >&2
  for log in "$WORK"/*.log; do echo "--- $(basename "$log"):" >&2; tail -n 20 "$log" >&2; done
  exit 1
}
# waits up to $1 seconds for the command after it to succeed
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# call METHOD PATH [BODY] [TOKEN] -> STATUS, BODY_OUT; prints both (tokens shortened)
call() {
  local method=$1 path=$2 body=${3:-} token=${4:-}
  local args=(-s -o "$WORK/out" -w '%{http_code}' -X "$method" "$URL$path")
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

step "starting central (heartbeats every 1 s, eviction after 3 s so it shows quickly)"
"$CENTRAL" --listen 127.0.0.1:0 --db "$WORK/central.db" --heartbeat-interval-s 1 \
  --session-ttl-s 3 >"$WORK/central.log" 2>&1 &
PIDS+=($!)
port_of_central() {
  PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/central.log")
  [ -n "$PORT" ]
}
wait_for 10 port_of_central || fail "central did not start"
URL=http://127.0.0.1:$PORT
echo "  central listens on $URL"
call GET /healthz; expect 200 '"ok"'

step "three peers share sample folders (made now by scripts/make-samples.sh)"
scripts/make-samples.sh "$WORK" | sed 's/^/  /'
declare -A PEER_PID
for i in 1 2 3; do
  name=$(sed -n 's/.*"username": "\(.*\)".*/\1/p' "config/peer$i.json")
  # the demo's folders and central, over the keys of config/peerN.json (flags beat the file)
  "$PEER_SERVER" --config "config/peer$i.json" --central-url "$URL" \
    --shared-dir "$WORK/peer$i/shared" --download-dir "$WORK/peer$i/downloads" \
    >"$WORK/$name.log" 2>&1 &
  PEER_PID[$name]=$!
  PIDS+=($!)
  wait_for 15 grep -qs "serving .* files on" "$WORK/$name.log" || fail "$name's peer-server did not start"
  grep -h "registered\|serving" "$WORK/$name.log" | sed "s/^/  $name: /"
done

step "central lists them, each on its own gRPC port"
call GET /api/v1/peers; expect 200 '"username":"alice"' '"username":"bob"' '"username":"carol"'

step "search: substring, any case, with globs; one result per (name, content)"
wait_for 5 search_has "*.mp3" '"total":2' || fail "the sample songs are not indexed"
call GET "/api/v1/search?q=beatles"; expect 200 '"total":1' 'Help - The Beatles.mp3'
call GET "/api/v1/search?q=*.mp3"; expect 200 '"total":2'
MP3_HASH=$(sha256sum "$WORK/peer1/shared/music/Help - The Beatles.mp3" | cut -d' ' -f1)
call GET "/api/v1/files/$MP3_HASH"; expect 200 '"username":"alice"' '"username":"bob"'
echo "  the song is held by alice and bob under two names: a download can use either"

step "a file dropped into carol's folder is searchable within 2 s"
echo "fresh from carol" >"$WORK/peer3/shared/dropped-in.txt"
start=$SECONDS
wait_for 2 search_has dropped-in '"username":"carol"' || fail "the new file did not reach the index in 2 s"
call GET "/api/v1/search?q=dropped"; expect 200 '"total":1'
rm "$WORK/peer3/shared/dropped-in.txt"
wait_for 2 search_lacks dropped-in dropped-in.txt || fail "the deleted file is still searchable"
echo "  and gone again within 2 s of its deletion"

step "alice's client logs in: it joins her peer (same port, a token of its own)"
call POST /api/v1/login '{"username":"alice","password":"wrong-password"}'; expect 401 bad_credentials
call POST /api/v1/login '{"username":"alice","password":"alice-demo-password"}'; expect 200 token
ALICE=$(json_field token)
call POST /api/v1/upload-target '{"name":"holiday.mkv","size":5000000}' "$ALICE"; expect 200
echo "  an upload of 5 MB from alice would go to $(json_field username), the least loaded peer with room"

step "bad input gets clear errors, and changes nothing"
call POST /api/v1/register '{"username": 5}'; expect 400 "username"
call PUT /api/v1/index '{"files":[{"name":"../../etc/passwd","size":1,"sha256":"'"$MP3_HASH"'"}]}' "$ALICE"
expect 400 "files[0].name"
call PUT /api/v1/index '{"files":[]}' "not-a-token"; expect 401 bad_token

step "alice's client logs out: her peer-server stops and her files vanish"
call POST /api/v1/logout "" "$ALICE"; expect 204
wait_for 10 bash -c "! kill -0 ${PEER_PID[alice]} 2>/dev/null" || fail "alice's peer-server is still running"
grep -h "logged out" "$WORK/alice.log" | sed 's/^/  alice: /'
call GET "/api/v1/files/$MP3_HASH"; expect 200 '"username":"bob"'
[[ "$BODY_OUT" != *'"alice"'* ]] || fail "alice still listed after her logout"

step "bob's peer-server is killed (kill -9): central evicts him after the TTL"
kill -9 "${PEER_PID[bob]}"
wait "${PEER_PID[bob]}" 2>/dev/null || true  # reap it quietly
wait_for 8 search_lacks "*.mp3" '"bob"' || fail "bob's files are still searchable"
grep "evicted bob" "$WORK/central.log" | sed 's/^/  central: /'
call GET /api/v1/peers; expect 200 '"username":"carol"'

step "carol's peer-server gets SIGTERM: it logs out and exits cleanly"
kill -TERM "${PEER_PID[carol]}"
wait_for 10 bash -c "! kill -0 ${PEER_PID[carol]} 2>/dev/null" || fail "carol's peer-server did not stop"
call GET /api/v1/peers; expect 200 '{"peers":[]}'

step "demo finished: every step behaved as specified"
