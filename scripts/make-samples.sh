#!/usr/bin/env bash
# Makes sample shared folders for the three demo peers (config/peer1-3.json):
# <data>/peer1/shared (alice), peer2 (bob), peer3 (carol), with files of
# different sizes. Existing files are kept. Usage: scripts/make-samples.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-data}

make_file() {  # make_file PATH BYTES
  [ -e "$1" ] && return 0
  mkdir -p "$(dirname "$1")"
  head -c "$2" /dev/urandom >"$1"
}

mkdir -p "$DATA/peer1/shared" "$DATA/peer2/shared" "$DATA/peer3/shared"
cat >"$DATA/peer1/shared/notes.txt" <<'TXT'
p2pshare sample notes: central knows where files are; peers move the bytes.
TXT
make_file "$DATA/peer1/shared/photos/harbour.jpg" 350000
make_file "$DATA/peer1/shared/music/Help - The Beatles.mp3" 3000000
# bob holds an identical copy of the song under another name: two holders.
mkdir -p "$DATA/peer2/shared/albums"
[ -e "$DATA/peer2/shared/albums/help.mp3" ] ||
  cp "$DATA/peer1/shared/music/Help - The Beatles.mp3" "$DATA/peer2/shared/albums/help.mp3"
make_file "$DATA/peer2/shared/docs/manual.pdf" 1200000
make_file "$DATA/peer3/shared/video/clip.mkv" 20000000
echo "sample files in $DATA/peer1..3/shared"
