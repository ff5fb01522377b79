#!/usr/bin/env bash
# Fetches Debian's i386 libcrypto and GMP (the 32-bit x86 benchmark peers) and unpacks
# them under target/i386-peers without installing anything system-wide. Needs the i386
# architecture enabled in dpkg (`.ci/run` does that). Prints the library directory, which
# `benches/build.rs` finds there by default or through SSMAIL_I386_LIBDIR.
#
#   bash scripts/i386-peers.sh
#   RUSTC=/usr/bin/rustc cargo bench -p ssmail-benches --bench modexp \
#       --target i686-unknown-linux-gnu
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-target/i386-peers}
lib="$dest/root/usr/lib/i386-linux-gnu"
if [ -e "$lib/libcrypto.so.3" ] && [ -e "$lib/libgmp.so.10" ]; then
  echo "$lib"
  exit 0
fi
mkdir -p "$dest/debs"
(cd "$dest/debs" && apt-get download -q libssl3:i386 libssl-dev:i386 libgmp10:i386 libgmp-dev:i386 >&2)
for deb in "$dest"/debs/*.deb; do
  dpkg -x "$deb" "$dest/root"
done
echo "$lib"
