#!/usr/bin/env bash
# Installs the Debian 12 packages p2pshare builds and tests with.
# Idempotent and quiet when everything is already there.
# Usage: scripts/install-deps.sh [EXTRA_PACKAGE...]
set -euo pipefail

PACKAGES=(
  g++ make cmake pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libgtest-dev libsqlite3-dev libpq-dev libutf8proc-dev libssl-dev libedit-dev prometheus-cpp-dev
  # port mapping on home routers: UPnP IGD and NAT-PMP clients
  libminiupnpc-dev libnatpmp-dev
  curl
  # 'stream' is tested as a player would read it: ffmpeg makes a media file, ffprobe opens it over HTTP
  ffmpeg
  # the dashboard's browser test: headless Chromium driven by Selenium
  chromium chromium-driver python3-selenium
  # the network tests: namespaces and veth (ip), NAT (nft), shaping (tc),
  # a real UPnP/NAT-PMP router (miniupnpd), captures on the wire (tcpdump)
  iproute2 nftables miniupnpd tcpdump
  # replicas: a throwaway PostgreSQL cluster per test run, HAProxy in front
  postgresql-15 haproxy
)
PACKAGES+=("$@")

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
