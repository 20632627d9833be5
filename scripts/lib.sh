# Helpers the scripts share; sourced (`. scripts/lib.sh`), from the repository root.

# Sets P2PSHARE_BIN_DIR to the build to use: the one given (made absolute),
# else build/ after installing what is needed and building.
p2p_binaries() {
  if [ -n "${P2PSHARE_BIN_DIR:-}" ]; then
    P2PSHARE_BIN_DIR=$(cd "$P2PSHARE_BIN_DIR" && pwd)
    return
  fi
  scripts/install-deps.sh
  echo "== building (the first time takes a few minutes)" >&2
  scripts/build.sh >/dev/null
  P2PSHARE_BIN_DIR=$PWD/build
}

# A TCP port free on 127.0.0.1 now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# fails after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# A heading in the scripts' output.
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
