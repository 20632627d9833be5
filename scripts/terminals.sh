#!/usr/bin/env bash
# Opens the demo set-up in tmux for typing into the REPLs yourself:
# window "servers": central and three peer-servers (alice, bob, carol);
# window "clients": a peer-client REPL for each. Uses config/*.json and the
# sample folders under data/ (made if missing), central on 127.0.0.1:8080.
#
#   scripts/terminals.sh        start (or re-attach to) the session
#   scripts/terminals.sh stop   stop everything (peers log out on Ctrl-C too)
set -euo pipefail
cd "$(dirname "$0")/.."
SESSION=p2pshare

if [ "${1:-}" = stop ]; then
  tmux kill-session -t "$SESSION" 2>/dev/null && echo "stopped" || echo "not running"
  exit 0
fi
if ! command -v tmux >/dev/null; then
  echo "installing tmux"
  ${SUDO:-$( [ "$(id -u)" -ne 0 ] && echo sudo )} apt-get install -y -qq tmux >/dev/null
fi
scripts/install-deps.sh
[ -x build/pclient/peer-client ] || { echo "building"; scripts/build.sh >/dev/null; }
scripts/make-samples.sh data >/dev/null

if ! tmux has-session -t "$SESSION" 2>/dev/null; then
  tmux new-session -d -s "$SESSION" -n servers -x 200 -y 50 \
    "build/central/central --config config/central.json; read -rp 'central ended; Enter closes'"
  for i in 1 2 3; do
    tmux split-window -t "$SESSION:servers" \
      "sleep 1; build/pserver/peer-server --config config/peer$i.json; read -rp 'peer-server ended; Enter closes'"
    tmux select-layout -t "$SESSION:servers" tiled >/dev/null
  done
  tmux new-window -t "$SESSION" -n clients "sleep 2; build/pclient/peer-client --config config/peer1.json"
  for i in 2 3; do
    tmux split-window -t "$SESSION:clients" "sleep 2; build/pclient/peer-client --config config/peer$i.json"
    tmux select-layout -t "$SESSION:clients" even-horizontal >/dev/null
  done
fi
if [ -t 1 ]; then
  exec tmux attach -t "$SESSION"
fi
echo "tmux session '$SESSION' is running: 'tmux attach -t $SESSION' (Ctrl-b n switches windows);"
echo "'scripts/terminals.sh stop' ends it."
