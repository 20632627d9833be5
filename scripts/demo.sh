#!/usr/bin/env bash
# p2pshare demo: installs what is missing, builds, starts central on a free
# port in a temp folder, and walks through the directory API step by step
# with curl, checking each answer. Exits non-zero when a step fails; stops
# everything it started, on Ctrl-C too.
#
# (peer-server and peer-client join this demo when they are built; today it
# shows central, the directory every peer talks to.)
#
# Environment: P2PSHARE_BIN_DIR=<dir with central/central> skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -z "${P2PSHARE_BIN_DIR:-}" ]; then
  scripts/install-deps.sh
  echo "== building (first time takes a few minutes)"
  scripts/build.sh >/dev/null
  P2PSHARE_BIN_DIR=$ROOT/build
fi
CENTRAL=$P2PSHARE_BIN_DIR/central/central

WORK=$(mktemp -d /tmp/p2pshare-demo-XXXXXX)
CENTRAL_PID=""
cleanup() {
  [ -n "$CENTRAL_PID" ] && kill "$CENTRAL_PID" 2>/dev/null && wait "$CENTRAL_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "demo interrupted"; exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "FAILED: $*" >&2; echo "--- central log:" >&2; cat "$WORK/central.log" >&2; exit 1; }

# call METHOD PATH [BODY] [TOKEN] -> sets STATUS and BODY_OUT, prints both
call() {
  local method=$1 path=$2 body=${3:-} token=${4:-}
  local args=(-s -o "$WORK/out" -w '%{http_code}' -X "$method" "$URL$path")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  [ -z "$body" ] && [ "$method" != GET ] && args+=(-H 'Content-Length: 0')
  STATUS=$(curl "${args[@]}")
  BODY_OUT=$(cat "$WORK/out")
  # tokens are secrets: show only their first 8 hex digits
  printf '  %s %s -> %s %s\n' "$method" "$path" "$STATUS" \
    "$(sed -E 's/("token":"[0-9a-f]{8})[0-9a-f]{56}/\1.../' <<<"$BODY_OUT")"
}
expect() {  # expect STATUS [substring...]
  [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS"
  shift
  for s in "$@"; do [[ "$BODY_OUT" == *"$s"* ]] || fail "expected the answer to contain $s"; done
}
json_field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" <<<"$BODY_OUT"; }

step "starting central (TTL 3 s so eviction shows quickly)"
"$CENTRAL" --listen 127.0.0.1:0 --db "$WORK/central.db" --heartbeat-interval-s 1 \
  --session-ttl-s 3 >"$WORK/central.log" 2>&1 &
CENTRAL_PID=$!
for _ in $(seq 100); do
  PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/central.log")
  [ -n "$PORT" ] && break
  kill -0 "$CENTRAL_PID" 2>/dev/null || fail "central exited"
  sleep 0.1
done
[ -n "$PORT" ] || fail "central did not start"
URL=http://127.0.0.1:$PORT
call GET /healthz; expect 200 '"ok"'

step "alice and bob register"
call POST /api/v1/register '{"username":"alice","password":"alice-demo-password"}'; expect 201
call POST /api/v1/register '{"username":"bob","password":"bob-demo-password"}'; expect 201
call POST /api/v1/register '{"username":"bob","password":"again-and-again"}'; expect 409 username_taken

step "they log in; central hands each a gRPC port"
call POST /api/v1/login '{"username":"alice","password":"alice-demo-password"}'; expect 200 token
ALICE=$(json_field token); ALICE_PORT=$(json_field port)
call POST /api/v1/login '{"username":"bob","password":"bob-demo-password"}'; expect 200 token
BOB=$(json_field token); BOB_PORT=$(json_field port)
[ "$ALICE_PORT" != "$BOB_PORT" ] || fail "two peers got one port"
echo "  alice serves on port $ALICE_PORT, bob on $BOB_PORT"
call POST /api/v1/login '{"username":"alice","password":"wrong-password"}'; expect 401 bad_credentials

step "alice shares three files of different sizes (made now, hashed with sha256sum)"
mkdir -p "$WORK/alice"
head -c 1200 /dev/urandom >"$WORK/alice/notes.txt"
head -c 300000 /dev/urandom >"$WORK/alice/photo.jpg"
head -c 3000000 /dev/urandom >"$WORK/alice/Help - The Beatles.mp3"
entries=""
for f in "$WORK"/alice/*; do
  name=$(basename "$f"); size=$(stat -c %s "$f"); hash=$(sha256sum "$f" | cut -d' ' -f1)
  entries+="${entries:+,}{\"name\":\"$name\",\"size\":$size,\"sha256\":\"$hash\"}"
done
call PUT /api/v1/index "{\"files\":[$entries]}" "$ALICE"; expect 200 '"count":3'
MP3_HASH=$(sha256sum "$WORK/alice/Help - The Beatles.mp3" | cut -d' ' -f1)
call PATCH /api/v1/index "{\"added\":[{\"name\":\"music/help.mp3\",\"size\":3000000,\"sha256\":\"$MP3_HASH\"}],\"removed\":[]}" "$BOB"
expect 200 '"count":1'

step "search: substring, case-insensitive, globs"
call GET "/api/v1/search?q=BEATLES"; expect 200 '"total":1' 'Help - The Beatles.mp3'
call GET "/api/v1/search?q=*.mp3"; expect 200 '"total":2'
call GET "/api/v1/files/$MP3_HASH"; expect 200 '"username":"alice"' '"username":"bob"'
echo "  the same song is held by alice and bob: a downloader can fetch from either"

step "peers, upload target and stats"
call GET /api/v1/peers; expect 200 '"username":"alice"' '"username":"bob"'
call POST /api/v1/heartbeat '{"free_bytes":1000000000,"active_transfers":0}' "$BOB"; expect 200
call POST /api/v1/upload-target '{"name":"video.mkv","size":5000000}' "$ALICE"; expect 200 '"username":"bob"'
call GET /api/v1/stats; expect 200 '"peers_online":2'

step "bad input gets clear errors"
call POST /api/v1/register '{"username": 5}'; expect 400 "username"
call PUT /api/v1/index '{"files":[{"name":"../../etc/passwd","size":1,"sha256":"'"$MP3_HASH"'"}]}' "$ALICE"
expect 400 "files[0].name"
call PUT /api/v1/index '{"files":[]}' "not-a-token"; expect 401 bad_token

step "bob logs out: his files vanish from search, his port is free"
call POST /api/v1/logout "" "$BOB"; expect 204
call GET "/api/v1/files/$MP3_HASH"; expect 200 '"username":"alice"'
[[ "$BODY_OUT" != *'"bob"'* ]] || fail "bob still listed after logout"

step "alice stops heartbeating: central evicts her after the 3 s TTL"
for _ in $(seq 60); do
  call GET "/api/v1/peers" >/dev/null
  [[ "$BODY_OUT" == '{"peers":[]}' ]] && break
  sleep 0.2
done
call GET /api/v1/peers; expect 200 '{"peers":[]}'
grep -q "evicted alice" "$WORK/central.log" || fail "no eviction logged"
grep "evicted alice" "$WORK/central.log" | sed 's/^/  central: /'
call POST /api/v1/heartbeat "" "$ALICE"; expect 401 session_expired

step "demo finished: every step behaved as specified"
